/*
 * test_cmd_user.c - the user command handlers run against an in-memory
 * store, a real presence table and delivery engine, and recorded sends:
 * what a user is told, and what reaches the others; "export" as a file
 * (bot->upload recorded) or in chat.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <unistd.h>

#include "commands.h"
#include "match.h"
#include "util.h"

static struct {
    struct bot bot;
    struct config cfg;
    struct user alice, bob;
    time_t now;
    struct buf out;   /* every update sent, one per line */
    struct buf notes; /* every b->reply, one per line */
    uint64_t tokens[256];
    size_t ntokens;
    bool admin;  /* the sender of act() is an admin */
    char db[64]; /* the store's file, or "" for one in memory */
    /* bot->upload: what it answers, and what it was given. */
    size_t upload_max;
    int upload_result;
    int uploads;
    char upload_to[64], upload_name[64], upload_type[32];
    struct buf uploaded;
} T;

static time_t fake_now(void)
{
    return T.now;
}

static void fake_reply(struct bot *b, const char *to, const char *text)
{
    (void)b;
    buf_printf(&T.notes, "%s <- %s\n", to, text);
}

static void fake_subscription(struct bot *b, const char *to, const char *type)
{
    (void)b;
    buf_printf(&T.notes, "%s <- presence %s\n", to, type);
}

static void fake_moved(struct bot *b, const char *bare, const char *old_nick,
                       const char *new_nick, const char *status)
{
    (void)b;
    buf_printf(&T.notes, "%s <- moved %s -> %s (%s)\n", bare, old_nick,
               new_nick, status);
}

static size_t fake_upload_max(struct bot *b)
{
    (void)b;
    return T.upload_max;
}

static int fake_upload(struct bot *b, const char *to, const char *filename,
                       const char *type, struct buf *doc)
{
    (void)b;
    T.uploads++;
    snprintf(T.upload_to, sizeof(T.upload_to), "%s", to);
    snprintf(T.upload_name, sizeof(T.upload_name), "%s", filename);
    snprintf(T.upload_type, sizeof(T.upload_type), "%s", type);
    if (T.upload_result < 0)
        return -1;
    buf_free(&T.uploaded);
    T.uploaded = *doc; /* taken */
    memset(doc, 0, sizeof(*doc));
    return 0;
}

static void fake_link(struct bot *b, const char *to, const char *url)
{
    (void)b;
    buf_printf(&T.notes, "%s <- link %s\n", to, url);
}

static size_t op_room(void *ud)
{
    (void)ud;
    return 1000;
}

static int op_send(void *ud, const struct outmsg *m)
{
    (void)ud;
    buf_printf(
        &T.out, "%s <- %s [%s%s%s%s%s]\n", m->to, m->body, m->id,
        m->replace_id ? " replaces " : "", m->replace_id ? m->replace_id : "",
        m->retract_id ? " retracts " : "", m->retract_id ? m->retract_id : "");
    return 0;
}

static int op_barrier(void *ud, uint64_t *token)
{
    (void)ud;
    *token = 1 + T.ntokens;
    T.tokens[T.ntokens++] = *token;
    return 0;
}

static const struct delivery_ops ops = {op_room, op_send, op_barrier};

static int setup_in(const char *path)
{
    memset(&T, 0, sizeof(T));
    snprintf(T.db, sizeof(T.db), "%s", path);
    T.now = 100000;
    T.cfg.bot.post_max_chars = 500;
    T.cfg.bot.posts_per_minute = 3;
    T.cfg.bot.edit_minutes = 15;
    T.cfg.delivery.backlog_max = 20;
    T.bot.cfg = &T.cfg;
    T.bot.store = store_open(T.db[0] != '\0' ? T.db : ":memory:");
    T.bot.presence = presence_new();
    T.bot.budget = budget_new(BUDGET_PER_MINUTE, BUDGET_MUTE_SECONDS);
    T.bot.delivery = delivery_new(T.bot.store, T.bot.presence, &ops, NULL);
    delivery_set_clock(T.bot.delivery, fake_now);
    T.bot.now = fake_now;
    T.bot.reply = fake_reply;
    T.bot.subscription = fake_subscription;
    T.bot.pager = pager_new(16);
    snprintf(T.bot.self, sizeof(T.bot.self), "bot@x");
    store_user_create(T.bot.store, "alice@x", "alice", false, false, 1,
                      &T.alice);
    store_user_create(T.bot.store, "bob@x", "bob", false, false, 1, &T.bob);
    store_follow(T.bot.store, T.bob.id, T.alice.id, 1);
    presence_update(T.bot.presence, "bob@x/phone", SHOW_AVAILABLE, 0);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return setup_in("");
}

/* The store in a file, for a test that reads it with its own queries. */
static int setup_file(void **state)
{
    char path[64];
    int fd;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/starling-cmd-XXXXXX");
    if ((fd = mkstemp(path)) < 0)
        return -1;
    close(fd);
    return setup_in(path);
}

static int teardown(void **state)
{
    (void)state;
    delivery_free(T.bot.delivery);
    budget_free(T.bot.budget);
    presence_free(T.bot.presence);
    store_close(T.bot.store);
    pager_free(T.bot.pager);
    if (T.db[0] != '\0') {
        char side[80];

        unlink(T.db);
        snprintf(side, sizeof(side), "%s-wal", T.db);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", T.db);
        unlink(side);
    }
    buf_free(&T.out);
    buf_free(&T.notes);
    buf_free(&T.uploaded);
    return 0;
}

enum gesture { PLAIN, CORRECT, RETRACT, REPLY, REACT };

/* Run one message from u with stanza id id, a gesture pointing at ref;
 * the reply, to be freed. */
static char *act(struct user *u, const char *id, enum gesture g,
                 const char *ref, const char *text)
{
    struct buf reply = {0};
    struct cmd_ctx c = {.bot = &T.bot,
                        .user = u,
                        .admin = T.admin,
                        .stanza_id = id,
                        .reply = &reply};
    char *msg = xstrdup(text);
    const char *emoji[1] = {text};

    switch (g) {
    case PLAIN:
        cmd_handle(&c, msg);
        break;
    case CORRECT:
        cmd_correct(&c, ref, msg);
        break;
    case RETRACT:
        cmd_retract(&c, ref);
        break;
    case REPLY:
        if (!cmd_reply_to_message(&c, ref, msg))
            cmd_handle(&c, msg);
        break;
    case REACT:
        cmd_react(&c, ref, emoji, 1);
        break;
    }
    delivery_pump(T.bot.delivery);
    /* The server takes everything at once. */
    for (size_t i = 0; i < T.ntokens; i++)
        delivery_barrier_done(T.bot.delivery, T.tokens[i]);
    T.ntokens = 0;
    free(msg);
    return reply.s != NULL ? reply.s : xstrdup("");
}

static char *say(struct user *u, const char *id, const char *text)
{
    return act(u, id, PLAIN, NULL, text);
}

static void expect_act(struct user *u, const char *id, enum gesture g,
                       const char *ref, const char *text, const char *reply)
{
    char *got = act(u, id, g, ref, text);

    assert_string_equal(got, reply);
    free(got);
}

static void expect(struct user *u, const char *id, const char *text,
                   const char *reply)
{
    char *got = say(u, id, text);

    assert_string_equal(got, reply);
    free(got);
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; p != NULL && (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Issue 12, item 4: stanza ids are unique within a stream only. */
static void test_reused_ids_are_new_messages(void **state)
{
    (void)state;
    expect(&T.alice, "1", "hello", "Posted #1.");
    /* A client that restarted its counter: same id, new text. */
    expect(&T.alice, "1", "a new day", "Posted #2.");
    /* A resend (stream resumption): same id and text, stored once. */
    expect(&T.alice, "1", "a new day", "Posted #2.");
    /* The same id and text much later is a new message. */
    T.now += POST_DEDUP_SECONDS + 1;
    expect(&T.alice, "1", "a new day", "Posted #3.");
    assert_int_equal(count_of(T.out.s, "a new day"), 2);
    /* A DM under a reused id is sent, not swallowed. */
    store_follow(T.bot.store, T.alice.id, T.bob.id, 1);
    presence_update(T.bot.presence, "alice@x/laptop", SHOW_AVAILABLE, 0);
    expect(&T.bob, "1", "d alice psst", "Sent to alice.");
    expect(&T.bob, "1", "d alice psst again", "Sent to alice.");
    assert_int_equal(count_of(T.out.s, "DM from bob"), 2);
}

/* Issue 12, item 4: the resend is recognised before the rate limit, so it
 * still gets its number. */
static void test_resend_at_the_rate_limit_gets_its_number(void **state)
{
    (void)state;
    expect(&T.alice, "a", "one", "Posted #1.");
    expect(&T.alice, "b", "two", "Posted #2.");
    expect(&T.alice, "c", "three", "Posted #3.");
    expect(&T.alice, "c", "three", "Posted #3.");
    expect(&T.alice, "d", "four",
           "You are posting too fast (at most 3 a minute); nothing was "
           "posted.");
    assert_int_equal(count_of(T.out.s, "bob@x <- "), 3);
}

/* A third user, carol, offline, following alice. */
static struct user carol(void)
{
    struct user u;

    store_user_create(T.bot.store, "carol@x", "carol", false, false, 1, &u);
    store_follow(T.bot.store, u.id, T.alice.id, 1);
    return u;
}

static bool has(const char *text)
{
    return T.out.s != NULL && strstr(T.out.s, text) != NULL;
}

/* XEP-0308: the corrected message edits its post, every copy delivered
 * is corrected in place, a held one goes out with the new text. */
static void test_correction_edits_the_post_and_every_copy(void **state)
{
    struct user c = carol();
    char *got;

    (void)state;
    expect(&T.alice, "m1", "helo world", "Posted #1.");
    assert_true(has("bob@x <- alice: helo world (#1) [starling-1-2]"));
    expect_act(&T.alice, "m2", CORRECT, "m1", "hello world", "Edited #1.");
    assert_true(has("bob@x <- alice: hello world (#1) [starling-1-2-e1 "
                    "replaces starling-1-2]"));
    /* Carol was offline: she gets the new text, not a correction. */
    presence_update(T.bot.presence, "carol@x/r", SHOW_AVAILABLE, 0);
    delivery_user_seen(T.bot.delivery, &c);
    delivery_pump(T.bot.delivery);
    assert_true(has("carol@x <- alice: hello world (#1) [starling-1-3]"));
    assert_false(has("starling-1-3-e"));
    got = say(&T.alice, "m3", "show #1");
    assert_non_null(strstr(got, "hello world"));
    free(got);
    /* Nothing new was posted. */
    expect(&T.alice, "m4", "next", "Posted #2.");
}

/* SPEC 9: an edit adds no recipients.  Someone who follows since the
 * post, a user the new text mentions and one tracking a word it adds get
 * neither the post nor its correction; who had a copy gets the correction
 * alone. */
static void test_an_edit_adds_no_recipients(void **state)
{
    struct user c = carol(), dave, erin;
    char *got;

    (void)state;
    store_unfollow(T.bot.store, c.id, T.alice.id);
    store_user_create(T.bot.store, "dave@x", "dave", false, false, 1, &dave);
    store_user_create(T.bot.store, "erin@x", "erin", false, false, 1, &erin);
    presence_update(T.bot.presence, "carol@x/r", SHOW_AVAILABLE, 0);
    presence_update(T.bot.presence, "dave@x/r", SHOW_AVAILABLE, 0);
    presence_update(T.bot.presence, "erin@x/r", SHOW_AVAILABLE, 0);
    got = say(&erin, "e1", "track teapot");
    free(got);
    expect(&T.alice, "m1", "helo world", "Posted #1.");
    assert_true(has("bob@x <- alice: helo world (#1) [starling-1-2]"));
    got = say(&c, "c1", "follow alice");
    free(got);
    expect_act(&T.alice, "m2", CORRECT, "m1", "hello world @dave teapot",
               "Edited #1.");
    assert_true(has("bob@x <- alice: hello world @dave teapot (#1) "
                    "[starling-1-2-e1 replaces starling-1-2]"));
    assert_false(has("carol@x <- alice"));
    assert_false(has("dave@x <- alice"));
    assert_false(has("erin@x <- alice"));
}

/* A correction re-reads the post: its tags follow the new text. */
static void test_correction_retags(void **state)
{
    char *got;

    (void)state;
    expect(&T.alice, "m1", "time for #tea", "Posted #1.");
    expect_act(&T.alice, "m2", CORRECT, "m1", "time for #coffee", "Edited #1.");
    got = say(&T.bob, "b1", "#coffee");
    assert_non_null(strstr(got, "time for #coffee"));
    free(got);
    got = say(&T.bob, "b2", "#tea");
    assert_null(strstr(got, "time for"));
    free(got);
}

static void test_late_or_unknown_correction_is_answered(void **state)
{
    (void)state;
    expect(&T.alice, "m1", "first", "Posted #1.");
    T.now += 15 * 60 + 1;
    expect_act(&T.alice, "m2", CORRECT, "m1", "changed",
               "Too late to correct #1: posts can be corrected for 15 "
               "minutes. Nothing was changed.");
    expect_act(&T.alice, "m3", CORRECT, "nope", "changed",
               "I can't find the message you corrected, so nothing was "
               "changed.");
    /* Someone else's message is not found either. */
    expect_act(&T.bob, "b1", CORRECT, "m1", "hijack",
               "I can't find the message you corrected, so nothing was "
               "changed.");
    assert_false(has("changed"));
    assert_false(has("hijack"));
    expect(&T.alice, "m4", "second", "Posted #2.");
}

static void test_correcting_a_command_runs_the_corrected_one(void **state)
{
    struct user c = carol();

    (void)state;
    (void)c;
    expect(&T.bob, "b1", "follow carl", "No user carl.");
    expect_act(&T.bob, "b2", CORRECT, "b1", "follow carol",
               "You now follow carol.");
    assert_int_equal(store_is_following(T.bot.store, T.bob.id, c.id), 1);
}

/* XEP-0424: retracting the message deletes the post; copies are
 * retracted, held ones dropped; nobody else can retract it. */
static void test_retraction_deletes_and_retracts_copies(void **state)
{
    struct user c = carol();
    int64_t n;

    (void)state;
    expect(&T.alice, "m1", "regrettable", "Posted #1.");
    expect_act(&T.bob, "b1", RETRACT, "starling-1-2", "",
               "That message was not a post of yours, so nothing was "
               "deleted.");
    expect_act(&T.alice, "m2", RETRACT, "m1", "", "Deleted #1.");
    assert_true(has("bob@x <- This person attempted to retract a previous "
                    "message, but it's unsupported by your client. "
                    "[starling-1-2-r retracts starling-1-2]"));
    assert_int_equal(store_outbox_count_user(T.bot.store, c.id, &n), 0);
    assert_int_equal(n, 0);
    expect(&T.alice, "m3", "show #1", "No post #1.");
}

/* XEP-0461 and quoting clients: a reply to a delivered update. */
static void test_replies_to_delivered_updates(void **state)
{
    (void)state;
    store_follow(T.bot.store, T.alice.id, T.bob.id, 1);
    presence_update(T.bot.presence, "alice@x/r", SHOW_AVAILABLE, 0);
    expect(&T.alice, "m1", "what do you think?", "Posted #1.");
    expect_act(&T.bob, "b1", REPLY, "starling-1-2", "I agree",
               "Replied to #1 as #2.");
    assert_true(has("alice@x <- bob (re #1): I agree (#2)"));
    expect(&T.bob, "b2", "> alice: what do you think? (#1)\nstill agree",
           "Replied to #1 as #3.");
    /* A reply to a post since deleted is not posted. */
    expect(&T.alice, "m2", "delete #1", "Deleted #1.");
    expect_act(&T.bob, "b3", REPLY, "starling-1-2", "too late",
               "No post #1. Nothing was posted.");
    assert_false(has("too late"));
    /* A reply to something that is not an update is a message. */
    expect_act(&T.bob, "b4", REPLY, "m-77", "just a post", "Posted #4.");
}

/* XEP-0444: the author hears of a reaction once per user and emoji. */
static void test_reactions_reach_the_author_once(void **state)
{
    char *got;

    (void)state;
    expect(&T.alice, "m1", "cake!", "Posted #1.");
    got = act(&T.bob, "b1", REACT, "starling-1-2", "\xf0\x9f\x91\x8d");
    assert_string_equal(got, "");
    free(got);
    free(act(&T.bob, "b2", REACT, "starling-1-2", "\xf0\x9f\x91\x8d"));
    free(act(&T.bob, "b3", REACT, "starling-1-2", "not an emoji at all"));
    assert_string_equal(T.notes.s,
                        "alice@x <- bob reacted \xf0\x9f\x91\x8d to #1\n");
}

/* Issue 15: a reply reaches everyone who took part in the thread, unless
 * they muted it. */
static void test_threads_reach_everyone_in_them(void **state)
{
    struct user c = carol(), dave;

    (void)state;
    store_user_create(T.bot.store, "dave@x", "dave", false, false, 1, &dave);
    presence_update(T.bot.presence, "alice@x/r", SHOW_AVAILABLE, 0);
    presence_update(T.bot.presence, "carol@x/r", SHOW_AVAILABLE, 0);
    presence_update(T.bot.presence, "dave@x/r", SHOW_AVAILABLE, 0);
    expect(&T.alice, "a1", "a question", "Posted #1.");
    expect(&c, "c1", "#1 carol answers", "Replied to #1 as #2.");
    /* dave follows nobody: a reply to carol's reply still reaches alice,
     * who started the thread, and carol. */
    expect(&dave, "d1", "#2 dave joins in", "Replied to #2 as #3.");
    assert_true(has("alice@x <- dave (re #2): dave joins in (#3)"));
    assert_true(has("carol@x <- dave (re #2): dave joins in (#3)"));
    expect(&c, "c2", "mute #3",
           "Muted the thread of #3: its replies no "
           "longer reach you.");
    expect(&T.alice, "a2", "#1 alice again", "Replied to #1 as #4.");
    assert_true(has("dave@x <- alice (re #1): alice again (#4)"));
    assert_false(has("carol@x <- alice (re #1)"));
    expect(&c, "c3", "unmute #1", "Unmuted the thread of #1.");
    expect(&dave, "d2", "#4 last word", "Replied to #4 as #5.");
    assert_true(has("carol@x <- dave (re #4): last word (#5)"));
    expect(&c, "c4", "mute #99", "No post #99.");
    /* show #N of the thread's first post shows all of it, replies to
     * replies too; of a reply, the replies to that reply. */
    expect(&dave, "d3", "show #1",
           "#1 alice \xc2\xb7 now: a question\n"
           "#2 carol (re #1) \xc2\xb7 now: carol answers\n"
           "#3 dave (re #2) \xc2\xb7 now: dave joins in\n"
           "#4 alice (re #1) \xc2\xb7 now: alice again\n"
           "#5 dave (re #4) \xc2\xb7 now: last word");
    expect(&dave, "d4", "show #2",
           "#2 carol (re #1) \xc2\xb7 now: carol answers\n"
           "#3 dave (re #2) \xc2\xb7 now: dave joins in");
}

/* Issue 15: rt #N passes a post on once, never to those who blocked its
 * author or got it already; the author is told; deleting it takes the
 * repeats along. */
static void test_repeat(void **state)
{
    struct user c = carol(), dave, erin;

    (void)state;
    store_user_create(T.bot.store, "dave@x", "dave", false, false, 1, &dave);
    store_user_create(T.bot.store, "erin@x", "erin", false, false, 1, &erin);
    presence_update(T.bot.presence, "carol@x/r", SHOW_AVAILABLE, 0);
    presence_update(T.bot.presence, "dave@x/r", SHOW_AVAILABLE, 0);
    presence_update(T.bot.presence, "erin@x/r", SHOW_AVAILABLE, 0);
    /* carol follows alice and bob; dave follows bob but blocks alice;
     * erin follows bob only. */
    store_follow(T.bot.store, c.id, T.bob.id, 1);
    store_follow(T.bot.store, dave.id, T.bob.id, 1);
    store_follow(T.bot.store, erin.id, T.bob.id, 1);
    store_block(T.bot.store, dave.id, T.alice.id);
    expect(&T.alice, "a1", "worth reading", "Posted #1.");
    expect(&T.bob, "b1", "rt #1", "Repeated #1 to your followers.");
    expect(&T.bob, "b2", "repeat #1", "You already repeated #1.");
    expect(&T.alice, "a2", "rt #1", "You can't repeat your own post.");
    store_block(T.bot.store, T.alice.id, erin.id);
    expect(&erin, "e1", "rt #1", "You can't repeat alice's posts.");
    store_unblock(T.bot.store, T.alice.id, erin.id);
    assert_true(has("erin@x <- bob repeated alice: worth reading (#1) "
                    "[starling-2-5]"));
    assert_int_equal(count_of(T.out.s, "carol@x <- "), 1); /* had it */
    assert_false(has("dave@x <- "));
    assert_string_equal(T.notes.s, "alice@x <- bob repeated your #1.\n");
    /* Deleting the post takes the repeat along, copies retracted. */
    expect(&T.alice, "a3", "delete #1", "Deleted #1.");
    assert_true(has("erin@x <- This person attempted to retract a previous "
                    "message, but it's unsupported by your client. "
                    "[starling-2-5-r retracts starling-2-5]"));
    expect(&T.bob, "b3", "rt #1", "No post #1.");
}

/* One integer from the store's file, by a query of its own (?1 = id,
 * ?2 = text). */
static int64_t db_count(const char *sql, int64_t id, const char *text)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = -1;

    assert_int_equal(sqlite3_open_v2(T.db, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The code of a "delete me" answer: its last six characters. */
static void code_in(const char *reply, char *code)
{
    size_t n = strlen(reply);

    assert_true(n > CMD_CODE_DIGITS);
    memcpy(code, reply + n - CMD_CODE_DIGITS, CMD_CODE_DIGITS + 1);
}

/* Issue 15: "delete me" asks for a code, then erases everything about
 * the user: nothing in any table names them or holds their words, the
 * copies others have are retracted, others' replies lose their link, the
 * counters agree with the tables, and one audit line without a name. */
static void test_delete_me_erases_everything(void **state)
{
    struct user c = carol(), dave, again;
    char code[CMD_CODE_DIGITS + 1], wrong[CMD_CODE_DIGITS + 1], *got;
    static const char *const about[] = {
        "SELECT count(*) FROM users WHERE id = ?1 OR jid LIKE '%' || ?2 || '%'",
        "SELECT count(*) FROM posts WHERE author = ?1 OR to_user = ?1",
        "SELECT count(*) FROM follows WHERE follower = ?1 OR followee = ?1",
        "SELECT count(*) FROM follow_digest WHERE follower = ?1 OR "
        "followee = ?1",
        "SELECT count(*) FROM blocks WHERE blocker = ?1 OR blocked = ?1",
        "SELECT count(*) FROM tracks WHERE user = ?1",
        "SELECT count(*) FROM mentions WHERE user = ?1",
        "SELECT count(*) FROM favs WHERE user = ?1",
        "SELECT count(*) FROM reactions WHERE user = ?1",
        "SELECT count(*) FROM mutes WHERE user = ?1",
        "SELECT count(*) FROM told WHERE actor = ?1 OR "
        "(kind = 2 AND object = ?1)",
        "SELECT count(*) FROM prefs WHERE user = ?1",
        "SELECT count(*) FROM outbox WHERE user = ?1",
        "SELECT count(*) FROM posts WHERE body LIKE '%marmalade%'",
        "SELECT count(*) FROM posts_fts WHERE posts_fts MATCH 'marmalade'",
        "SELECT count(*) FROM audit WHERE admin LIKE '%' || ?2 || '%' OR "
        "detail LIKE '%' || ?2 || '%'",
    };
    static const char *const counters[] = {
        "users",   "SELECT count(*) FROM users",
        "active",  "SELECT count(*) FROM users WHERE active = 1",
        "posts",   "SELECT count(*) FROM posts WHERE kind = 0",
        "follows", "SELECT count(*) FROM follows",
        "held",    "SELECT count(*) FROM outbox WHERE state = 0",
    };

    (void)state;
    store_user_create(T.bot.store, "dave@x", "dave", false, false, 1, &dave);
    store_block(T.bot.store, dave.id, T.alice.id);
    store_follow(T.bot.store, T.alice.id, T.bob.id, 1);
    presence_update(T.bot.presence, "alice@x/r", SHOW_AVAILABLE, 0);
    expect(&T.alice, "a1", "marmalade #jam for @bob", "Posted #1.");
    expect(&T.bob, "b1", "#1 lovely", "Replied to #1 as #2.");
    free(say(&T.bob, "b2", "d alice see you at 8"));
    free(say(&T.bob, "b3", "rt #1"));
    free(say(&T.alice, "a2", "fav #2"));
    free(say(&T.alice, "a3", "track marmalade"));
    free(say(&T.alice, "a4", "tz Europe/Berlin"));
    free(say(&T.alice, "a5", "mute #2"));
    free(say(&c, "c1", "fav #1"));
    assert_int_equal(db_count("SELECT count(*) FROM posts", 0, ""), 4);

    got = say(&T.alice, "a6", "delete me");
    assert_non_null(strstr(got, "your 1 post,"));
    assert_non_null(strstr(got, "It cannot be undone."));
    code_in(got, code);
    free(got);
    memcpy(wrong, code, sizeof(wrong));
    wrong[0] = code[0] == '9' ? '0' : (char)(code[0] + 1);
    got = xasprintf("delete me %s", wrong);
    expect(&T.alice, "a7", got,
           "That code is wrong or has expired; send \"delete me\" for a new "
           "one.");
    free(got);
    assert_int_equal(db_count(about[0], T.alice.id, "alice"), 1);

    got = xasprintf("delete me %s", code);
    expect(&T.alice, "a8", got,
           "Your account is erased: 1 post and everything else the service "
           "held about you.  Goodbye; to come back, add this contact again.");
    free(got);
    for (size_t i = 0; i < sizeof(about) / sizeof(about[0]); i++)
        if (db_count(about[i], T.alice.id, "alice") != 0)
            fail_msg("left behind: %s", about[i]);
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i += 2) {
        char *q = xasprintf("SELECT value FROM counters WHERE name = '%s'",
                            counters[i]);

        assert_int_equal(db_count(q, 0, ""), db_count(counters[i + 1], 0, ""));
        free(q);
    }
    assert_int_equal(db_count("SELECT count(*) FROM audit WHERE action = "
                              "'erase' AND detail = 'user #' || ?1 || ' at "
                              "their request'",
                              T.alice.id, ""),
                     1);
    /* bob's copy is retracted, and with the post went bob's repeat. */
    assert_int_equal(count_of(T.out.s, "retracts starling-1-"), 1);
    assert_int_equal(db_count("SELECT count(*) FROM posts", 0, ""), 1);
    got = say(&T.bob, "b4", "show #2");
    assert_non_null(strstr(got, "#2 bob"));
    assert_null(strstr(got, "re #1"));
    free(got);
    assert_non_null(strstr(T.notes.s, "alice@x <- presence unsubscribed\n"));
    assert_non_null(strstr(T.notes.s, "alice@x <- presence unsubscribe\n"));
    expect(&T.bob, "b5", "whois alice", "No user alice.");
    assert_int_equal(presence_best(T.bot.presence, "alice@x"), SHOW_OFFLINE);
    /* The nick is free again, and a newcomer inherits nothing. */
    assert_int_equal(store_user_create(T.bot.store, "alice@y", "alice", false,
                                       false, 1, &again),
                     0);
    assert_string_equal(again.nick, "alice");
    expect(&again, "n1", "favs",
           "No favourites yet: \"fav #N\" keeps post N here.");
}

/* Issue 15: a code expires; a banned user cannot erase (and so lift)
 * their ban; an admin erases someone with "erase NICK". */
static void test_erase_by_admin_and_expired_codes(void **state)
{
    struct user u;
    char code[CMD_CODE_DIGITS + 1], *got, *msg;

    (void)state;
    got = say(&T.alice, "a1", "delete me");
    code_in(got, code);
    free(got);
    T.now += 601;
    msg = xasprintf("delete me %s", code);
    expect(&T.alice, "a2", msg,
           "That code is wrong or has expired; send \"delete me\" for a new "
           "one.");
    free(msg);
    assert_int_equal(store_user_by_nick(T.bot.store, "alice", &u), 1);

    store_user_set_ban(T.bot.store, T.bob.id, true, "spam");
    T.bob.banned = true;
    expect(&T.bob, "b1", "delete me",
           "Your account is banned; ask an admin to erase it.");
    expect(&T.alice, "a4", "erase bob", "Not permitted.");
    T.admin = true;
    expect(&T.alice, "a5", "erase nobody", "No user nobody.");
    expect(&T.alice, "a6", "erase bob",
           "Erased bob: 0 posts and everything else the service held about "
           "them.");
    assert_int_equal(store_user_by_nick(T.bot.store, "bob", &u), 0);
    assert_non_null(strstr(T.notes.s, "bob@x <- presence unsubscribed\n"));
    /* alice's own code was never used; bob's erasure left her alone. */
    assert_int_equal(store_user_by_nick(T.bot.store, "alice", &u), 1);
}

/* Hand the server everything queued, and confirm it. */
static void flush(void)
{
    delivery_pump(T.bot.delivery);
    for (size_t i = 0; i < T.ntokens; i++)
        delivery_barrier_done(T.bot.delivery, T.tokens[i]);
    T.ntokens = 0;
}

static void tick(void)
{
    delivery_tick(T.bot.delivery, T.now);
    flush();
}

/* Issue 15: "follow NICK digest" gathers NICK's posts into one message a
 * day at the user's digest time; it waits for them if they are away
 * then, survives a restart, is sent once, and an empty day sends none. */
static void test_digest_once_a_day(void **state)
{
    char *got;

    (void)state;
    T.now = 1772445600; /* Monday 2026-03-02 10:00 UTC */
    expect(&T.bob, "b1", "follow alice digest",
           "alice's posts come in your daily digest at 08:00 (UTC).");
    expect(&T.alice, "a1", "first of the day", "Posted #1.");
    T.now += 3600;
    expect(&T.alice, "a2", "second, for @bob", "Posted #2.");
    expect(&T.alice, "a3", "#1 and a reply", "Replied to #1 as #3.");
    /* Only the mention came live. */
    assert_false(has("first of the day"));
    assert_true(has("bob@x <- alice: second, for @bob (#2)"));
    buf_reset(&T.out);
    T.now = 1772445600 + 22 * 3600 - 60; /* Tuesday 07:59 */
    tick();
    assert_null(T.out.s != NULL && T.out.len > 0 ? T.out.s : NULL);
    T.now += 90; /* 08:00:30 */
    tick();
    assert_string_equal(T.out.s, "bob@x <- Your daily digest: 3 posts.\n"
                                 "#1 alice \xc2\xb7 22h: first of the day\n"
                                 "#2 alice \xc2\xb7 21h: second, for @bob\n"
                                 "#3 alice (re #1) \xc2\xb7 21h: and a reply "
                                 "[starling-digest-2-3]\n");
    /* Once: not again at the next tick, nor after a restart. */
    buf_reset(&T.out);
    tick();
    delivery_free(T.bot.delivery);
    T.bot.delivery = delivery_new(T.bot.store, T.bot.presence, &ops, NULL);
    delivery_set_clock(T.bot.delivery, fake_now);
    tick();
    assert_true(T.out.len == 0);
    /* A day without posts sends nothing. */
    T.now += 86400;
    tick();
    assert_true(T.out.len == 0);
    /* Away (dnd) at digest time: it waits until bob is back. */
    expect(&T.alice, "a4", "while you sleep", "Posted #4.");
    presence_update(T.bot.presence, "bob@x/phone", SHOW_DND, 0);
    T.now += 86400;
    tick();
    assert_true(T.out.len == 0);
    presence_update(T.bot.presence, "bob@x/phone", SHOW_AVAILABLE, 0);
    delivery_user_changed(T.bot.delivery, T.bob.id);
    flush();
    assert_non_null(strstr(T.out.s, "Your daily digest: 1 post.\n#4 alice"));
    /* Live again: the next post comes at once. */
    buf_reset(&T.out);
    expect(&T.bob, "b2", "follow alice",
           "alice's posts come to you live again.");
    got = say(&T.alice, "a5", "hello live");
    free(got);
    assert_true(has("bob@x <- alice: hello live (#5)"));
}

/* The bot stops and starts again over the same database file: a new
 * store, presence table (empty until the server speaks) and delivery. */
static void restart(void)
{
    delivery_free(T.bot.delivery);
    presence_free(T.bot.presence);
    store_close(T.bot.store);
    T.bot.store = store_open(T.db);
    assert_non_null(T.bot.store);
    T.bot.presence = presence_new();
    T.bot.delivery = delivery_new(T.bot.store, T.bot.presence, &ops, NULL);
    delivery_set_clock(T.bot.delivery, fake_now);
}

/* bob's presence as the server announces it, handed to delivery as
 * dispatch does. */
static void bob_shows(enum show show)
{
    struct user u;

    presence_update(T.bot.presence, "bob@x/phone", show, 0);
    assert_int_equal(store_user_by_id(T.bot.store, T.bob.id, &u), 1);
    delivery_user_seen(T.bot.delivery, &u);
    flush();
}

/* Issue 15: a digest survives restarts like every held update.  It comes
 * due while bob is away; the bot restarts; when bob is back the digest
 * comes once, with the posts it covers, and neither a later tick nor
 * another restart sends it again. */
static void test_digest_survives_a_restart(void **state)
{
    (void)state;
    T.now = 1772445600; /* Monday 2026-03-02 10:00 UTC */
    expect(&T.bob, "b1", "follow alice digest",
           "alice's posts come in your daily digest at 08:00 (UTC).");
    expect(&T.alice, "a1", "before the restart", "Posted #1.");
    T.now += 3600;
    expect(&T.alice, "a2", "also before it", "Posted #2.");
    bob_shows(SHOW_DND);
    T.now = 1772445600 + 22 * 3600 + 30; /* Tuesday 08:00:30 */
    tick();
    assert_true(T.out.len == 0);
    restart();
    bob_shows(SHOW_DND);
    tick();
    assert_true(T.out.len == 0);
    T.now += 3600; /* 09:00:30: bob is back */
    bob_shows(SHOW_AVAILABLE);
    assert_non_null(T.out.s);
    assert_string_equal(T.out.s, "bob@x <- Your daily digest: 2 posts.\n"
                                 "#1 alice \xc2\xb7 23h: before the restart\n"
                                 "#2 alice \xc2\xb7 22h: also before it "
                                 "[starling-digest-2-2]\n");
    buf_reset(&T.out);
    tick();
    bob_shows(SHOW_AVAILABLE);
    restart();
    bob_shows(SHOW_AVAILABLE);
    tick();
    assert_true(T.out.len == 0);
}

/* A digest shows at most 20 posts and says whose were left out. */
static void test_digest_is_bounded(void **state)
{
    struct user c = carol();
    char text[32];

    (void)state;
    T.cfg.bot.posts_per_minute = 1000;
    T.now = 1772445600;
    expect(&T.bob, "b1", "follow alice digest",
           "alice's posts come in your daily digest at 08:00 (UTC).");
    expect(&T.bob, "b2", "follow carol digest",
           "You now follow carol. carol's posts come in your daily digest "
           "at 08:00 (UTC).");
    for (int i = 0; i < 15; i++) {
        snprintf(text, sizeof(text), "alice says %d", i);
        free(say(&T.alice, NULL, text));
        snprintf(text, sizeof(text), "carol says %d", i);
        free(say(&c, NULL, text));
    }
    buf_reset(&T.out);
    T.now += 86400;
    tick();
    assert_non_null(strstr(T.out.s, "Your daily digest: 30 posts.\n"));
    assert_int_equal(count_of(T.out.s, "\n#"), 20);
    assert_non_null(strstr(T.out.s, "\n...and 10 more (\"last NICK\" shows "
                                    "them: alice, carol)."));
}

/* SPEC 10: with per-user addresses, a new nick moves the address and
 * every follower is told; without them, nobody is. */
static void test_rename_moves_the_address(void **state)
{
    struct user c = carol();

    (void)state;
    store_user_set_bio(T.bot.store, T.alice.id, "gardener");
    store_user_by_id(T.bot.store, T.alice.id, &T.alice);
    expect(&T.alice, "a1", "nick ally", "You are now ally.");
    assert_null(T.notes.s);
    T.bot.address_moved = fake_moved;
    expect(&T.alice, "a2", "nick alicia", "You are now alicia.");
    assert_string_equal(T.notes.s,
                        "bob@x <- moved ally -> alicia (gardener)\n"
                        "carol@x <- moved ally -> alicia (gardener)\n");
    /* The same nick again, or a taken one: nothing moves. */
    buf_reset(&T.notes);
    expect(&T.alice, "a3", "nick alicia", "You are now alicia.");
    expect(&T.alice, "a4", "nick bob", "The nick bob is taken.");
    assert_true(T.notes.len == 0);
    (void)c;
}

/* Export (issue 15) ------------------------------------------------------ */

/* The upload path of "export": bot->upload wired to the recorder, which
 * says it takes files up to max bytes. */
static void with_upload(size_t max)
{
    T.bot.upload_max = fake_upload_max;
    T.bot.upload = fake_upload;
    T.bot.link = fake_link;
    T.upload_max = max;
}

/* Give alice n posts of 400 bytes (an export of about n * 450 bytes). */
static void many_posts(int n)
{
    char body[401];

    memset(body, 'x', 400);
    body[400] = '\0';
    for (int i = 0; i < n; i++) {
        struct post_new p = {.author = T.alice.id,
                             .body = body,
                             .created = T.now,
                             .kind = POST_PUBLIC};
        int64_t id;

        assert_int_equal(store_post_add(T.bot.store, &p, &id, NULL), 0);
    }
}

#define INTRO_PIECES "alice@x <- Your export: a JSON document of "
#define INTRO_FILE                                                             \
    " bytes, format \"starling-export\" version 1 (the link below)."

static void test_export_without_upload_comes_in_chat(void **state)
{
    (void)state;
    expect(&T.alice, "e1", "export", "");
    assert_non_null(strstr(T.notes.s, INTRO_PIECES));
    assert_non_null(strstr(T.notes.s, " bytes in the 1 message below;"));
    assert_non_null(strstr(T.notes.s, "\nalice@x <- {\"format\":"));
    /* A service that is not there (upload_max 0) is never asked. */
    buf_reset(&T.notes);
    with_upload(0);
    expect(&T.bob, "e2", "export", "");
    assert_int_equal(T.uploads, 0);
    assert_non_null(strstr(T.notes.s, "bob@x <- Your export: a JSON document "
                                      "of "));
    assert_non_null(strstr(T.notes.s, " in the 1 message below;"));
}

static void test_export_as_a_file(void **state)
{
    char *want;

    (void)state;
    with_upload(1 << 20);
    expect(&T.alice, "e1", "export", "");
    /* Nothing in chat yet: the document went to the upload. */
    assert_int_equal(T.uploads, 1);
    assert_null(T.notes.s);
    assert_string_equal(T.upload_to, "alice@x");
    assert_string_equal(T.upload_name, "starling-export-alice.json");
    assert_string_equal(T.upload_type, "application/json");
    assert_non_null(strstr(buf_str(&T.uploaded), "\"format\":"));
    /* Done: a line saying what it is, then the link. */
    cmd_export_done(&T.bot, "alice@x", &T.uploaded, "https://up/x.json");
    want = xasprintf(INTRO_PIECES "%zu" INTRO_FILE "\n"
                                  "alice@x <- link https://up/x.json\n",
                     T.uploaded.len);
    assert_string_equal(T.notes.s, want);
    free(want);
    /* Once an hour, as in chat. */
    expect(&T.alice, "e2", "export",
           "You can export once an hour; try again in 60 minutes.");
}

static void test_export_falls_back_to_chat(void **state)
{
    (void)state;
    /* The upload failed later: the document comes in chat. */
    with_upload(1 << 20);
    expect(&T.alice, "e1", "export", "");
    cmd_export_done(&T.bot, "alice@x", &T.uploaded, NULL);
    assert_non_null(strstr(T.notes.s, " bytes in the 1 message below;"));
    assert_null(strstr(T.notes.s, "link"));
    /* The upload could not start (busy): chat at once. */
    buf_reset(&T.notes);
    T.upload_result = -1;
    expect(&T.bob, "e2", "export", "");
    assert_int_equal(T.uploads, 2);
    assert_non_null(strstr(T.notes.s, "bob@x <- Your export: a JSON document "
                                      "of "));
    /* Larger than the service takes: never offered to it. */
    T.now += 3600;
    buf_reset(&T.notes);
    T.upload_result = 0;
    T.upload_max = 100;
    expect(&T.alice, "e3", "export", "");
    assert_int_equal(T.uploads, 2);
    assert_non_null(strstr(T.notes.s, " bytes in the 1 message below;"));
}

static void test_export_too_large_for_chat(void **state)
{
    (void)state;
    many_posts(700); /* about 320 KB */
    expect(&T.alice, "e1", "export",
           "Your data is more than 300 KB, too much to send as chat "
           "messages, and this server offers no file upload.");
    with_upload(100000);
    expect(&T.alice, "e2", "export",
           "Your data is more than 300 KB, too much to send as chat "
           "messages or as a file (this server takes files up to 100 KB).");
    assert_int_equal(T.uploads, 0);
    /* A service that takes it: a file. */
    T.upload_max = 1 << 20;
    expect(&T.alice, "e3", "export", "");
    assert_int_equal(T.uploads, 1);
    assert_true(T.uploaded.len > 300000);
    /* It failed: too large for chat, so nothing is sent, the user is told,
     * and may ask again at once. */
    cmd_export_done(&T.bot, "alice@x", &T.uploaded, NULL);
    assert_non_null(strstr(T.notes.s, "alice@x <- Sorry, your export (3"));
    assert_non_null(strstr(T.notes.s, " KB) could not be uploaded as a file, "
                                      "and it is too large for chat messages; "
                                      "nothing was sent. Please try again "
                                      "later.\n"));
    assert_int_equal(count_of(T.notes.s, "\n"), 1);
    expect(&T.alice, "e4", "export", "");
    assert_int_equal(T.uploads, 2);
}

#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T_(test_reused_ids_are_new_messages),
        T_(test_resend_at_the_rate_limit_gets_its_number),
        T_(test_correction_edits_the_post_and_every_copy),
        T_(test_an_edit_adds_no_recipients),
        T_(test_correction_retags),
        T_(test_late_or_unknown_correction_is_answered),
        T_(test_correcting_a_command_runs_the_corrected_one),
        T_(test_retraction_deletes_and_retracts_copies),
        T_(test_replies_to_delivered_updates),
        T_(test_reactions_reach_the_author_once),
        T_(test_threads_reach_everyone_in_them),
        T_(test_repeat),
        cmocka_unit_test_setup_teardown(test_delete_me_erases_everything,
                                        setup_file, teardown),
        T_(test_erase_by_admin_and_expired_codes),
        T_(test_digest_once_a_day),
        cmocka_unit_test_setup_teardown(test_digest_survives_a_restart,
                                        setup_file, teardown),
        T_(test_digest_is_bounded),
        T_(test_rename_moves_the_address),
        T_(test_export_without_upload_comes_in_chat),
        T_(test_export_as_a_file),
        T_(test_export_falls_back_to_chat),
        T_(test_export_too_large_for_chat),
    };

    if (match_init() < 0)
        return 1;
    return cmocka_run_group_tests_name("cmd_user", tests, NULL, NULL);
}
