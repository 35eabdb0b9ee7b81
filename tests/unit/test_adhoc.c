/*
 * test_adhoc.c - XEP-0050 ad-hoc commands (SPEC 9): the menu and who sees
 * it, each form's submission and the chat text it stands for, bad values,
 * the session rules; then the same through dispatch against an in-memory
 * store (what the user's row looks like afterwards), and through the
 * session layer's XML side, from IQ stanzas given as strings to the
 * stanzas answered.
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
#include <strophe.h>

#include "adhoc.h"
#include "commands.h"
#include "dispatch.h"
#include "pager.h"
#include "util.h"

static struct {
    struct bot bot;
    struct config cfg;
    char *admins[1];
    struct user alice, bob, admin;
    time_t now;
    struct buf notes; /* every b->reply, one per line */
    xmpp_ctx_t *ctx;  /* for reading answers */
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

static size_t op_room(void *ud)
{
    (void)ud;
    return 1000;
}

static int op_send(void *ud, const struct outmsg *m)
{
    (void)ud;
    (void)m;
    return 0;
}

static int op_barrier(void *ud, uint64_t *token)
{
    (void)ud;
    *token = 1;
    return 0;
}

static const struct delivery_ops ops = {op_room, op_send, op_barrier};

static int setup(void **state)
{
    (void)state;
    memset(&T, 0, sizeof(T));
    if (match_init() < 0)
        return -1;
    T.now = 100000;
    T.admins[0] = "admin@x";
    T.cfg.bot.admins = T.admins;
    T.cfg.bot.n_admins = 1;
    T.cfg.bot.post_max_chars = 500;
    T.cfg.bot.posts_per_minute = 10;
    T.cfg.bot.edit_minutes = 15;
    T.cfg.delivery.backlog_max = 20;
    T.bot.cfg = &T.cfg;
    T.bot.store = store_open(":memory:");
    T.bot.presence = presence_new();
    T.bot.budget = budget_new(BUDGET_PER_MINUTE, BUDGET_MUTE_SECONDS);
    T.bot.delivery = delivery_new(T.bot.store, T.bot.presence, &ops, NULL);
    T.bot.now = fake_now;
    T.bot.reply = fake_reply;
    T.bot.subscription = fake_subscription;
    T.bot.pager = pager_new(16);
    snprintf(T.bot.self, sizeof(T.bot.self), "bot@x");
    store_user_create(T.bot.store, "alice@x", "alice", false, false, 1,
                      &T.alice);
    store_user_create(T.bot.store, "bob@x", "bob", false, false, 1, &T.bob);
    store_user_create(T.bot.store, "admin@x", "admin", false, false, 1,
                      &T.admin);
    T.ctx = xmpp_ctx_new(NULL, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    delivery_free(T.bot.delivery);
    budget_free(T.bot.budget);
    presence_free(T.bot.presence);
    store_close(T.bot.store);
    pager_free(T.bot.pager);
    buf_free(&T.notes);
    xmpp_ctx_free(T.ctx);
    match_done();
    return 0;
}

/* The pure module ------------------------------------------------------ */

/* Values from "var=value|var=value" ('|' separates, '~' is a newline). */
static void values(struct adhoc_values *v, const char *spec)
{
    char *copy = xstrdup(spec), *save = NULL;

    memset(v, 0, sizeof(*v));
    for (char *kv = strtok_r(copy, "|", &save); kv != NULL;
         kv = strtok_r(NULL, "|", &save)) {
        char *eq = strchr(kv, '=');

        *eq = '\0';
        for (char *p = eq + 1; *p != '\0'; p++)
            if (*p == '~')
                *p = '\n';
        adhoc_values_set(v, kv, eq + 1);
    }
    free(copy);
}

/* The chat texts of submitting spec to node's form showing current,
 * joined with " ; ", or "ERROR: why". */
static char *texts_of(const struct adhoc_command *cmd, const char *spec,
                      const char *current)
{
    struct adhoc_values sub, cur;
    struct adhoc_texts t;
    struct buf out = {0}, why = {0};

    values(&sub, spec);
    values(&cur, current);
    if (adhoc_texts(cmd, &sub, &cur, &t, &why) < 0) {
        assert_int_equal(t.n, 0);
        buf_printf(&out, "ERROR: %s", buf_str(&why));
    }
    for (size_t i = 0; i < t.n; i++)
        buf_printf(&out, "%s%s", i > 0 ? " ; " : "", t.v[i]);
    adhoc_texts_free(&t);
    adhoc_values_free(&sub);
    adhoc_values_free(&cur);
    buf_free(&why);
    if (out.s == NULL)
        return xstrdup("");
    return out.s;
}

static void expect_texts(const char *node, const char *spec,
                         const char *current, const char *want)
{
    char *got = texts_of(adhoc_find(node), spec, current);

    assert_string_equal(got, want);
    free(got);
}

#define SETTINGS_NOW "deliver=1|away=0|nick=ann|bio="

static void test_menu_and_who_sees_it(void **state)
{
    const struct adhoc_command *list[16];
    const char *user[] = {"settings", "tracking", "export", "repeat", "mute",
                          "follow",   "remove",   "read",   "delete"};
    const char *admin[] = {"stats", "ban", "unban", "broadcast"};

    (void)state;
    assert_int_equal(adhoc_list(false, list, 16), 9);
    for (size_t i = 0; i < 9; i++) {
        assert_string_equal(list[i]->node, user[i]);
        assert_false(adhoc_find(user[i])->admin);
    }
    assert_int_equal(adhoc_list(true, list, 16), 13);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(list[9 + i]->node, admin[i]);
        assert_true(adhoc_find(admin[i])->admin);
    }
    assert_int_equal(adhoc_list(true, list, 3), 3);
    assert_null(adhoc_find("nope"));
    assert_null(adhoc_find(NULL));
    /* Every node is there once, every field labelled. */
    for (const struct adhoc_command *c = adhoc_table(); c->node != NULL; c++) {
        assert_ptr_equal(adhoc_find(c->node), c);
        assert_non_null(c->name);
        assert_true(c->fields != NULL || c->keyword != NULL);
    }
}

static void test_action_parse(void **state)
{
    (void)state;
    assert_int_equal(adhoc_action_parse(NULL), ADHOC_EXECUTE);
    assert_int_equal(adhoc_action_parse("execute"), ADHOC_EXECUTE);
    assert_int_equal(adhoc_action_parse("complete"), ADHOC_COMPLETE);
    assert_int_equal(adhoc_action_parse("next"), ADHOC_NEXT);
    assert_int_equal(adhoc_action_parse("prev"), ADHOC_PREV);
    assert_int_equal(adhoc_action_parse("cancel"), ADHOC_CANCEL);
    assert_int_equal(adhoc_action_parse("Execute"), ADHOC_MALFORMED);
    assert_int_equal(adhoc_action_parse(""), ADHOC_MALFORMED);
}

static void test_settings_become_chat_commands(void **state)
{
    (void)state;
    expect_texts("settings", "deliver=0", SETTINGS_NOW, "off");
    expect_texts("settings", "deliver=false", SETTINGS_NOW, "off");
    expect_texts("settings", "deliver=0", "deliver=0", "");
    expect_texts("settings", "deliver=true", "deliver=0", "on");
    expect_texts("settings", "away=1", SETTINGS_NOW, "away on");
    expect_texts("settings", "away=0", "away=1", "away off");
    expect_texts("settings", "nick=bob", SETTINGS_NOW, "nick bob");
    expect_texts("settings", "bio=I like birds", SETTINGS_NOW,
                 "bio I like birds");
    /* An emptied bio field clears the bio. */
    expect_texts("settings", "bio=", "deliver=1|away=0|nick=ann|bio=birds",
                 "bio -");
    /* Unchanged (after trimming), or not sent back: nothing runs. */
    expect_texts("settings", "deliver=1|away=0|nick= ann |bio=", SETTINGS_NOW,
                 "");
    expect_texts("settings", "", SETTINGS_NOW, "");
    /* Issue 15's settings: each one its chat command. */
    expect_texts("settings", "notices=0", "notices=1", "notices off");
    expect_texts("settings", "tz=Europe/Berlin", "tz=UTC", "tz Europe/Berlin");
    expect_texts("settings", "tz=", "tz=Europe/Berlin", "tz UTC");
    expect_texts("settings", "quiet=23:00-07:00",
                 "quiet=", "quiet 23:00-07:00");
    expect_texts("settings", "quiet=", "quiet=23:00-07:00", "quiet off");
    expect_texts("settings", "digest=6:30", "digest=08:00", "digest 6:30");
    /* Several changes run in the form's order. */
    expect_texts("settings", "bio=hi there|nick=bob|away=1|deliver=0",
                 SETTINGS_NOW, "off ; away on ; nick bob ; bio hi there");
}

static void test_bad_settings_run_nothing(void **state)
{
    (void)state;
    expect_texts("settings", "deliver=maybe|nick=bob", SETTINGS_NOW,
                 "ERROR: Deliver updates: \"maybe\" is neither on (1) nor "
                 "off (0).");
    expect_texts("settings", "deliver=0|nick=a b", SETTINGS_NOW,
                 "ERROR: Nick must be one word.");
    expect_texts("settings", "deliver=0|nick=", SETTINGS_NOW,
                 "ERROR: Nick is required.");
}

static void test_tracking_form_edits_the_list(void **state)
{
    (void)state;
    /* Dropped words first (room under the limit), then new ones. */
    expect_texts("tracking", "words=dogs~Birds, fish", "words=cats~dogs",
                 "untrack cats ; track birds ; track fish");
    expect_texts("tracking", "words=dogs~cats", "words=cats~dogs", "");
    expect_texts("tracking", "words=a a A", "words=", "track a");
    expect_texts("tracking", "words=", "words=cats~dogs",
                 "untrack cats ; untrack dogs");
    expect_texts("tracking", "", "words=cats", "");
}

static void test_too_many_words_run_nothing(void **state)
{
    struct buf spec = {0};
    char *got;

    (void)state;
    buf_append(&spec, "words=");
    for (int i = 0; i < ADHOC_TEXTS_MAX + 1; i++)
        buf_printf(&spec, "w%d~", i);
    got = texts_of(adhoc_find("tracking"), buf_str(&spec), "words=");
    assert_string_equal(got, "ERROR: Too many words (at most 48).");
    free(got);
    buf_free(&spec);
}

static void test_admin_forms_become_chat_commands(void **state)
{
    (void)state;
    expect_texts("stats", "", "", "stats");
    expect_texts("ban", "user=eve|reason=spam links", "", "ban eve spam links");
    expect_texts("ban", "user=@Eve", "", "ban @Eve");
    expect_texts("unban", "user=eve", "", "unban eve");
    expect_texts("broadcast", "text=Maintenance~at noon", "",
                 "broadcast Maintenance\nat noon");
    /* A reason can't sneak in through the nick, nor a nick go missing. */
    expect_texts("ban", "user=eve bob|reason=x", "",
                 "ERROR: Nick must be one word.");
    expect_texts("ban", "reason=x", "", "ERROR: Nick is required.");
    expect_texts("unban", "user=", "", "ERROR: Nick is required.");
    expect_texts("broadcast", "text=  ", "",
                 "ERROR: Announcement is required.");
}

/* Issue 15's forms: each submission is one chat command. */
static void test_issue15_forms_become_chat_commands(void **state)
{
    (void)state;
    expect_texts("repeat", "action=rt|post=12", "", "rt 12");
    expect_texts("repeat", "action=fav|post=#12", "", "fav #12");
    expect_texts("repeat", "action=unfav|post= 7 ", "", "unfav 7");
    expect_texts("mute", "action=mute|post=#3", "", "mute #3");
    expect_texts("mute", "action=unmute|post=3", "", "unmute 3");
    expect_texts("follow", "user=bob", "", "follow bob");
    expect_texts("follow", "user=bob|mode=live", "", "follow bob");
    expect_texts("follow", "user=bob|mode=digest", "", "follow bob digest");
    expect_texts("remove", "user=bob", "", "remove bob");
    expect_texts("read", "list=last", "", "last");
    expect_texts("read", "list=last|arg=bob", "", "last bob");
    expect_texts("read", "list=last|arg=#xmpp", "", "last #xmpp");
    expect_texts("read", "list=last|arg=bob 20", "", "last bob 20");
    expect_texts("read", "list=show|arg=#4", "", "show #4");
    expect_texts("read", "list=search|arg=xmpp bots", "", "search xmpp bots");
    expect_texts("read", "list=mentions|arg=", "", "mentions");
    expect_texts("read", "list=favs", "", "favs");
    expect_texts("read", "list=dms", "", "dms");
    expect_texts("read", "list=followers", "", "followers");
    expect_texts("read", "list=following", "", "following");
    expect_texts("read", "list=more", "", "more");
    expect_texts("delete", "", "", "delete me");
    expect_texts("delete", "code=", "", "delete me");
    expect_texts("delete", "code=123456", "", "delete me 123456");
    /* The form shows none of the settings' values. */
    for (const char *const *n =
             (const char *const[]){"repeat", "mute", "follow", "remove", "read",
                                   "delete", "ban", "unban", NULL};
         *n != NULL; n++)
        for (const struct adhoc_field *f = adhoc_find(*n)->fields;
             f->label != NULL; f++)
            assert_true(strcmp(f->var, "nick") != 0 &&
                        strcmp(f->var, "digest") != 0);
}

/* A bad value: refused by the form, or run so that the chat command's
 * parser gives its own answer (for a post number or a code: never a post),
 * and never another command. */
static void test_issue15_bad_values(void **state)
{
    (void)state;
    expect_texts("repeat", "post=12", "", "ERROR: What to do is required.");
    expect_texts("repeat", "action=delete|post=12", "",
                 "ERROR: What to do: \"delete\" is not one of the choices.");
    expect_texts("repeat", "action=rt", "",
                 "ERROR: Post number (12 or #12) is required.");
    /* The parser's usage, as in chat ("rt it" answers so). */
    expect_texts("repeat", "action=rt|post=it", "", "rt it");
    expect_texts("repeat", "action=fav|post=1 2", "", "fav 1 2");
    expect_texts("mute", "action=rt|post=1", "",
                 "ERROR: What to do: \"rt\" is not one of the choices.");
    expect_texts("follow", "user=bob digest", "",
                 "ERROR: Nick must be one word.");
    expect_texts("follow", "user=bob|mode=weekly", "",
                 "ERROR: Their posts reach me: \"weekly\" is not one of the "
                 "choices.");
    expect_texts("follow", "mode=digest", "", "ERROR: Nick is required.");
    expect_texts("remove", "user=", "", "ERROR: Nick is required.");
    expect_texts("remove", "user=a b", "", "ERROR: Nick must be one word.");
    expect_texts("read", "", "", "ERROR: Listing is required.");
    expect_texts("read", "list=post|arg=hello", "",
                 "ERROR: Listing: \"post\" is not one of the choices.");
    /* An argument a listing does not take would post: refused. */
    expect_texts("read", "list=followers|arg=bob", "",
                 "ERROR: Usage: followers");
    expect_texts("read", "list=more|arg=please", "", "ERROR: Usage: more");
    expect_texts("read", "list=last|arg=bob carol dave", "",
                 "ERROR: Usage: last [NICK|#tag] [N]");
    /* "delete me" with a malformed code is the chat command's usage. */
    expect_texts("delete", "code=12ab", "", "delete me 12ab");
    expect_texts("delete", "code=1 2", "", "delete me 1 2");
}

/* Whatever a form's table says, its text never reads as a post. */
static void test_a_text_that_would_post_runs_nothing(void **state)
{
    static const struct adhoc_field loose[] = {
        {.var = "who",
         .type = ADHOC_TEXT_SINGLE,
         .label = "Who",
         .map = ADHOC_ARG},
        {.var = "nick",
         .type = ADHOC_TEXT_SINGLE,
         .label = "Nick",
         .map = ADHOC_SET,
         .on = "nick"},
        {0},
    };
    static const struct adhoc_command follow = {"f",  "Follow", false,
                                                NULL, "follow", loose};
    char *got;

    (void)state;
    got = texts_of(&follow, "who=me on twitter", "");
    assert_string_equal(got, "ERROR: Usage: follow NICK [digest]");
    free(got);
    got = texts_of(&follow, "who=bob|nick=two words", "nick=ann");
    assert_string_equal(got, "ERROR: Usage: nick NEW");
    free(got);
    got = texts_of(&follow, "who=bob", "");
    assert_string_equal(got, "follow bob");
    free(got);
}

static void test_list_single_takes_only_its_options(void **state)
{
    static const struct adhoc_option onoff[] = {
        {"on", "Yes", NULL}, {"off", "No", NULL}, {NULL, NULL, NULL}};
    static const struct adhoc_field f[] = {
        {.var = "away",
         .type = ADHOC_LIST_SINGLE,
         .label = "Away",
         .map = ADHOC_SET,
         .on = "away",
         .options = onoff},
        {0},
    };
    static const struct adhoc_command c = {"a", "Away", false, NULL, NULL, f};
    char *got;

    (void)state;
    got = texts_of(&c, "away=on", "away=off");
    assert_string_equal(got, "away on");
    free(got);
    got = texts_of(&c, "away=maybe", "away=off");
    assert_string_equal(got,
                        "ERROR: Away: \"maybe\" is not one of the choices.");
    free(got);
}

/* adhoc_begin() on a request: the step, and resp. */
static enum adhoc_step begin(struct adhoc_sessions *s, const char *node,
                             enum adhoc_action action, const char *sessionid,
                             const char *bare, bool admin,
                             struct adhoc_response *resp)
{
    struct adhoc_request req = {
        .from = bare, .node = node, .action = action, .sessionid = sessionid};

    adhoc_response_free(resp);
    memset(resp, 0, sizeof(*resp));
    return adhoc_begin(s, &req, bare, admin, T.now, resp);
}

static void test_session_rules(void **state)
{
    static struct adhoc_sessions s;
    struct adhoc_response r = {0};
    char sid[ADHOC_SESSIONID_MAX];

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(begin(&s, "nope", ADHOC_EXECUTE, NULL, "a@x", true, &r),
                     ADHOC_STEP_DONE);
    assert_int_equal(r.status, ADHOC_FAILED);
    assert_int_equal(r.error, ADHOC_ERR_NOT_FOUND);
    /* Admin nodes are for admins, whatever the session says. */
    begin(&s, "ban", ADHOC_EXECUTE, NULL, "a@x", false, &r);
    assert_int_equal(r.error, ADHOC_ERR_FORBIDDEN);
    begin(&s, "ban", ADHOC_COMPLETE, "1-1", "a@x", false, &r);
    assert_int_equal(r.error, ADHOC_ERR_FORBIDDEN);
    begin(&s, "settings", (enum adhoc_action)ADHOC_MALFORMED, NULL, "a@x",
          false, &r);
    assert_int_equal(r.error, ADHOC_ERR_MALFORMED_ACTION);
    /* A command without a form runs at once, in a session of its own. */
    assert_int_equal(begin(&s, "stats", ADHOC_EXECUTE, NULL, "adm@x", true, &r),
                     ADHOC_STEP_RUN);
    assert_int_equal(r.status, ADHOC_COMPLETED);
    assert_string_not_equal(r.sessionid, "");
    /* Execute shows the form in a new session. */
    assert_int_equal(
        begin(&s, "settings", ADHOC_EXECUTE, NULL, "a@x", false, &r),
        ADHOC_STEP_FORM);
    assert_int_equal(r.status, ADHOC_EXECUTING);
    assert_ptr_equal(r.cmd, adhoc_find("settings"));
    memcpy(sid, r.sessionid, sizeof(sid));
    /* Only its requester, on its node, may continue it; only by
     * completing (one stage: no next, no prev). */
    begin(&s, "settings", ADHOC_COMPLETE, sid, "b@x", false, &r);
    assert_int_equal(r.error, ADHOC_ERR_BAD_SESSIONID);
    begin(&s, "tracking", ADHOC_COMPLETE, sid, "a@x", false, &r);
    assert_int_equal(r.error, ADHOC_ERR_BAD_SESSIONID);
    begin(&s, "settings", ADHOC_NEXT, sid, "a@x", false, &r);
    assert_int_equal(r.error, ADHOC_ERR_BAD_ACTION);
    begin(&s, "settings", ADHOC_COMPLETE, NULL, "a@x", false, &r);
    assert_int_equal(r.error, ADHOC_ERR_BAD_SESSIONID);
    assert_int_equal(
        begin(&s, "settings", ADHOC_COMPLETE, sid, "a@x", false, &r),
        ADHOC_STEP_RUN);
    assert_int_equal(r.status, ADHOC_COMPLETED);
    assert_string_equal(r.sessionid, sid);
    /* Completed: the session is over. */
    begin(&s, "settings", ADHOC_COMPLETE, sid, "a@x", false, &r);
    assert_int_equal(r.error, ADHOC_ERR_BAD_SESSIONID);
    /* Cancel ends one too. */
    begin(&s, "tracking", ADHOC_EXECUTE, NULL, "a@x", false, &r);
    memcpy(sid, r.sessionid, sizeof(sid));
    assert_int_equal(begin(&s, "tracking", ADHOC_CANCEL, sid, "a@x", false, &r),
                     ADHOC_STEP_DONE);
    assert_int_equal(r.status, ADHOC_CANCELED);
    begin(&s, "tracking", ADHOC_COMPLETE, sid, "a@x", false, &r);
    assert_int_equal(r.error, ADHOC_ERR_BAD_SESSIONID);
    /* A form left open too long has expired. */
    begin(&s, "tracking", ADHOC_EXECUTE, NULL, "a@x", false, &r);
    memcpy(sid, r.sessionid, sizeof(sid));
    T.now += ADHOC_SESSION_SECONDS + 1;
    begin(&s, "tracking", ADHOC_COMPLETE, sid, "a@x", false, &r);
    assert_int_equal(r.error, ADHOC_ERR_SESSION_EXPIRED);
    adhoc_response_free(&r);
}

static void test_sessions_are_bounded(void **state)
{
    static struct adhoc_sessions s;
    struct adhoc_response r = {0};
    char sid[ADHOC_SESSIONS_PER_JID + 1][ADHOC_SESSIONID_MAX], jid[32];
    size_t open = 0;

    (void)state;
    memset(&s, 0, sizeof(s));
    /* One requester: its oldest form goes when it opens one too many. */
    for (int i = 0; i <= ADHOC_SESSIONS_PER_JID; i++) {
        begin(&s, "settings", ADHOC_EXECUTE, NULL, "a@x", false, &r);
        memcpy(sid[i], r.sessionid, ADHOC_SESSIONID_MAX);
    }
    begin(&s, "settings", ADHOC_COMPLETE, sid[0], "a@x", false, &r);
    assert_int_equal(r.error, ADHOC_ERR_BAD_SESSIONID);
    for (int i = 1; i <= ADHOC_SESSIONS_PER_JID; i++)
        assert_int_equal(
            begin(&s, "settings", ADHOC_COMPLETE, sid[i], "a@x", false, &r),
            ADHOC_STEP_RUN);
    /* Many requesters: the table never grows, the newest forms work. */
    for (int i = 0; i < 3 * ADHOC_SESSIONS_MAX; i++) {
        snprintf(jid, sizeof(jid), "u%d@x", i);
        begin(&s, "settings", ADHOC_EXECUTE, NULL, jid, false, &r);
        T.now++;
    }
    for (size_t i = 0; i < ADHOC_SESSIONS_MAX; i++)
        open += s.s[i].at != 0;
    assert_int_equal(open, ADHOC_SESSIONS_MAX);
    memcpy(sid[0], r.sessionid, ADHOC_SESSIONID_MAX);
    assert_int_equal(
        begin(&s, "settings", ADHOC_COMPLETE, sid[0], jid, false, &r),
        ADHOC_STEP_RUN);
    adhoc_response_free(&r);
}

/* Through dispatch ----------------------------------------------------- */

static void request(const char *from, const char *node,
                    enum adhoc_action action, const char *sessionid,
                    const char *spec, struct adhoc_response *resp)
{
    struct adhoc_request req = {.from = from,
                                .node = node,
                                .action = action,
                                .sessionid = sessionid,
                                .submitted = spec != NULL};

    values(&req.fields, spec != NULL ? spec : "");
    adhoc_response_free(resp);
    memset(resp, 0, sizeof(*resp));
    dispatch_command(&T.bot, &req, resp);
    adhoc_values_free(&req.fields);
}

/* Open node's form as from, submit spec: the note. */
static char *submit(const char *from, const char *node, const char *spec)
{
    struct adhoc_response r = {0};
    char sid[ADHOC_SESSIONID_MAX], *note;

    request(from, node, ADHOC_EXECUTE, NULL, NULL, &r);
    assert_int_equal(r.status, ADHOC_EXECUTING);
    memcpy(sid, r.sessionid, sizeof(sid));
    request(from, node, ADHOC_COMPLETE, sid, spec, &r);
    assert_int_equal(r.status, ADHOC_COMPLETED);
    note = xstrdup(buf_str(&r.note));
    adhoc_response_free(&r);
    return note;
}

static void expect_note(const char *from, const char *node, const char *spec,
                        const char *want)
{
    char *got = submit(from, node, spec);

    assert_string_equal(got, want);
    free(got);
}

static void test_only_users_run_commands(void **state)
{
    struct adhoc_response r = {0};
    const struct adhoc_command *list[16];

    (void)state;
    request("eve@x/phone", "settings", ADHOC_EXECUTE, NULL, NULL, &r);
    assert_int_equal(r.status, ADHOC_FAILED);
    assert_int_equal(r.error, ADHOC_ERR_FORBIDDEN);
    assert_string_equal(r.error_text, "Add me (bot@x) to your contacts first.");
    assert_int_equal(dispatch_command_list(&T.bot, "eve@x/phone", list, 16), 0);
    /* Someone who left is no user either. */
    store_user_set_flag(T.bot.store, T.alice.id, USER_ACTIVE, false);
    request("alice@x/phone", "settings", ADHOC_EXECUTE, NULL, NULL, &r);
    assert_int_equal(r.error, ADHOC_ERR_FORBIDDEN);
    assert_int_equal(dispatch_command_list(&T.bot, "alice@x/phone", list, 16),
                     0);
    assert_int_equal(dispatch_command_list(&T.bot, "bob@x/phone", list, 16), 9);
    assert_int_equal(dispatch_command_list(&T.bot, "admin@x/pc", list, 16), 13);
    adhoc_response_free(&r);
}

static void test_settings_form_shows_the_user_row(void **state)
{
    struct adhoc_response r = {0};

    (void)state;
    store_user_set_bio(T.bot.store, T.alice.id, "birds");
    store_user_set_flag(T.bot.store, T.alice.id, USER_AWAY, true);
    store_track_add(T.bot.store, T.alice.id, "cats");
    store_track_add(T.bot.store, T.alice.id, "dogs");
    request("alice@x/phone", "settings", ADHOC_EXECUTE, NULL, NULL, &r);
    assert_int_equal(r.status, ADHOC_EXECUTING);
    assert_string_equal(adhoc_values_get(&r.values, "deliver"), "1");
    assert_string_equal(adhoc_values_get(&r.values, "away"), "1");
    assert_string_equal(adhoc_values_get(&r.values, "nick"), "alice");
    assert_string_equal(adhoc_values_get(&r.values, "bio"), "birds");
    assert_string_equal(adhoc_values_get(&r.values, "notices"), "1");
    assert_string_equal(adhoc_values_get(&r.values, "tz"), "UTC");
    assert_string_equal(adhoc_values_get(&r.values, "quiet"), "");
    assert_string_equal(adhoc_values_get(&r.values, "digest"), "08:00");
    {
        struct prefs p;

        store_prefs_get(T.bot.store, T.alice.id, &p);
        snprintf(p.tz, sizeof(p.tz), "Asia/Tokyo");
        p.quiet_start = 23 * 60;
        p.quiet_end = 7 * 60 + 30;
        p.digest_at = 6 * 60 + 5;
        p.notices = false;
        store_prefs_put(T.bot.store, T.alice.id, &p);
    }
    request("alice@x/phone", "settings", ADHOC_EXECUTE, NULL, NULL, &r);
    assert_string_equal(adhoc_values_get(&r.values, "notices"), "0");
    assert_string_equal(adhoc_values_get(&r.values, "tz"), "Asia/Tokyo");
    assert_string_equal(adhoc_values_get(&r.values, "quiet"), "23:00-07:30");
    assert_string_equal(adhoc_values_get(&r.values, "digest"), "06:05");
    request("alice@x/phone", "tracking", ADHOC_EXECUTE, NULL, NULL, &r);
    assert_string_equal(adhoc_values_get(&r.values, "words"), "cats\ndogs");
    adhoc_response_free(&r);
}

static void test_settings_do_what_the_chat_commands_do(void **state)
{
    struct user u;

    (void)state;
    expect_note("alice@x/phone", "settings",
                "deliver=0|away=1|nick=ann|bio=Birdwatcher",
                "Deliveries off: nothing will be sent or held until you say "
                "\"on\".\nUpdates will reach you while you are away.\nYou are "
                "now ann.\nBio updated.");
    assert_int_equal(store_user_by_jid(T.bot.store, "alice@x", &u), 1);
    assert_false(u.deliver);
    assert_true(u.away);
    assert_string_equal(u.nick, "ann");
    assert_string_equal(u.bio, "Birdwatcher");
    /* The chat command's refusal is the note; nothing changes. */
    expect_note("alice@x/phone", "settings", "nick=bob",
                "The nick bob is taken.");
    expect_note("alice@x/phone", "settings", "deliver=0|nick=ann",
                "Nothing changed.");
    expect_note("alice@x/phone", "settings", "deliver=1|nick=a b",
                "Nick must be one word.");
    assert_int_equal(store_user_by_jid(T.bot.store, "alice@x", &u), 1);
    assert_false(u.deliver);
    assert_string_equal(u.nick, "ann");
}

/* What u's chat message text answers (the command layer, as dispatch runs
 * a chat message). */
static char *chat(struct user *u, const char *text)
{
    static int n;
    struct buf reply = {0};
    char id[16], *copy = xstrdup(text);
    struct cmd_ctx ctx = {
        .bot = &T.bot, .user = u, .stanza_id = id, .reply = &reply};

    snprintf(id, sizeof(id), "m%d", ++n);
    cmd_handle(&ctx, copy);
    free(copy);
    if (reply.s == NULL)
        return xstrdup("");
    return reply.s;
}

/* The note of the form equals the chat command's answer to someone in the
 * same place. */
static void expect_same(const char *from, const char *node, const char *spec,
                        struct user *u, const char *text)
{
    char *want = chat(u, text);

    expect_note(from, node, spec, want);
    free(want);
}

static int64_t posts_in_store(void)
{
    struct store_stats n;

    store_stats(T.bot.store, &n);
    return n.posts;
}

static void test_issue15_forms_do_what_the_chat_commands_do(void **state)
{
    struct user carol, dave, erin, u;
    char *got, *code, *wrong;

    (void)state;
    store_user_create(T.bot.store, "carol@x", "carol", false, false, 1, &carol);
    store_user_create(T.bot.store, "dave@x", "dave", false, false, 1, &dave);
    free(chat(&carol, "follow bob"));
    free(chat(&dave, "follow bob"));
    got = chat(&T.alice, "read this");
    assert_string_equal(got, "Posted #1.");
    free(got);
    got = chat(&T.alice, "and this");
    free(got);
    /* Repeat and favourite: the chat command's answers. */
    expect_note("bob@x/phone", "repeat", "action=rt|post=#1",
                "Repeated #1 to your followers.");
    expect_note("bob@x/phone", "repeat", "action=rt|post=1",
                "You already repeated #1.");
    expect_note("bob@x/phone", "repeat", "action=fav|post=1", "Faved #1.");
    expect_same("bob@x/phone", "repeat", "action=fav|post=#1", &T.bob,
                "fav #1");
    expect_note("bob@x/phone", "repeat", "action=unfav|post=1", "Unfaved #1.");
    expect_same("bob@x/phone", "repeat", "action=unfav|post=1", &T.bob,
                "unfav #1");
    /* Bad numbers: the chat command's answer, and no post is made. */
    expect_same("bob@x/phone", "repeat", "action=fav|post=it", &T.bob,
                "fav it");
    expect_same("bob@x/phone", "repeat", "action=rt|post=#99", &T.bob,
                "rt #99");
    expect_same("bob@x/phone", "repeat", "action=rt|post=1 2", &T.bob,
                "rt 1 2");
    assert_int_equal(posts_in_store(), 2);
    /* (Each form costs what two chat messages cost: a new minute.) */
    T.now += 61;
    /* Mute. */
    got = submit("bob@x/phone", "mute", "action=mute|post=1");
    assert_non_null(strstr(got, "Muted the thread"));
    free(got);
    free(chat(&carol, "mute #1"));
    expect_same("bob@x/phone", "mute", "action=unmute|post=1", &carol,
                "unmute #1");
    /* Follow, in digest then live, as erin does in chat. */
    store_user_create(T.bot.store, "erin@x", "erin", false, false, 1, &erin);
    expect_same("alice@x/phone", "follow", "user=bob|mode=digest", &erin,
                "follow bob digest");
    expect_same("alice@x/phone", "follow", "user=bob|mode=live", &erin,
                "follow bob");
    expect_same("alice@x/phone", "follow", "user=bob", &erin, "follow bob");
    expect_same("alice@x/phone", "follow", "user=nobody", &erin,
                "follow nobody");
    assert_int_equal(store_is_following(T.bot.store, T.alice.id, T.bob.id), 1);
    /* Remove a follower: as in chat, without blocking them. */
    got = chat(&T.bob, "remove dave");
    assert_string_equal(got, "dave no longer follows you (and may follow you "
                             "again; \"block dave\" stops that).");
    free(got);
    expect_note("bob@x/phone", "remove", "user=alice",
                "alice no longer follows you (and may follow you again; "
                "\"block alice\" stops that).");
    assert_int_equal(store_is_following(T.bot.store, T.alice.id, T.bob.id), 0);
    expect_note("bob@x/phone", "remove", "user=alice",
                "alice doesn't follow you.");
    T.now += 61;
    /* Read: the listing is the note; "more" continues it. */
    expect_same("bob@x/phone", "read", "list=last|arg=alice 1", &T.bob,
                "last alice 1");
    got = submit("bob@x/phone", "read", "list=last|arg=alice 1");
    assert_int_equal(strncmp(got, "#2 alice ", 9), 0);
    assert_non_null(strstr(got, ": and this"));
    assert_null(strstr(got, "read this"));
    free(got);
    got = submit("bob@x/phone", "read", "list=more");
    assert_int_equal(strncmp(got, "#1 alice ", 9), 0);
    assert_non_null(strstr(got, ": read this"));
    free(got);
    free(chat(&T.bob, "fav #2"));
    got = submit("bob@x/phone", "read", "list=favs");
    assert_non_null(strstr(got, ": and this"));
    free(got);
    expect_same("bob@x/phone", "read", "list=followers", &T.bob, "followers");
    expect_same("bob@x/phone", "read", "list=mentions", &T.bob, "mentions");
    assert_int_equal(posts_in_store(), 2);
    /* Delete my account: a code first; a wrong one changes nothing. */
    got = submit("alice@x/phone", "delete", "code=");
    assert_non_null(strstr(got, "It cannot be undone."));
    code = got + strlen(got) - CMD_CODE_DIGITS;
    wrong =
        xasprintf("code=%c%s", code[0] == '9' ? '0' : code[0] + 1, code + 1);
    expect_note("alice@x/phone", "delete", wrong,
                "That code is wrong or has expired; send \"delete me\" for "
                "a new one.");
    free(wrong);
    expect_same("alice@x/phone", "delete", "code=12ab", &T.alice,
                "delete me 12ab");
    expect_same("alice@x/phone", "delete", "code=1 2", &T.alice,
                "delete me 1 2");
    assert_int_equal(store_user_by_jid(T.bot.store, "alice@x", &u), 1);
    wrong = xasprintf("code=%s", code);
    expect_note("alice@x/phone", "delete", wrong,
                "Your account is erased: 2 posts and everything else the "
                "service held about you.  Goodbye; to come back, add this "
                "contact again.");
    free(wrong);
    free(got);
    assert_int_equal(store_user_by_jid(T.bot.store, "alice@x", &u), 0);
    assert_int_equal(posts_in_store(), 0);
}

static int count_word(void *ud, const char *w)
{
    (void)w;
    ++*(int *)ud;
    return 0;
}

static void test_tracking_form_tracks(void **state)
{
    int n = 0;

    (void)state;
    store_track_add(T.bot.store, T.alice.id, "cats");
    expect_note("alice@x/phone", "tracking", "words=birds~c++",
                "No longer tracking cats.\nTracking birds: posts containing "
                "it will reach you.\nUsage: track WORD|#tag");
    store_tracking(T.bot.store, T.alice.id, count_word, &n);
    assert_int_equal(n, 1);
}

static void test_admin_forms_do_what_admins_do(void **state)
{
    struct adhoc_response r = {0};
    struct user u;

    (void)state;
    /* A non-admin gets forbidden, and nothing happens. */
    request("alice@x/phone", "ban", ADHOC_EXECUTE, NULL, NULL, &r);
    assert_int_equal(r.error, ADHOC_ERR_FORBIDDEN);
    request("alice@x/phone", "ban", ADHOC_COMPLETE, "1-1", "user=bob", &r);
    assert_int_equal(r.error, ADHOC_ERR_FORBIDDEN);
    store_user_by_jid(T.bot.store, "bob@x", &u);
    assert_false(u.banned);
    /* The admin's ban is the chat command's: bob is banned and told. */
    expect_note("admin@x/pc", "ban", "user=bob|reason=spam", "Banned bob.");
    store_user_by_jid(T.bot.store, "bob@x", &u);
    assert_true(u.banned);
    assert_string_equal(u.ban_reason, "spam");
    assert_non_null(
        strstr(buf_str(&T.notes),
               "bob@x <- You have been banned from posting: spam."));
    expect_note("admin@x/pc", "unban", "user=bob", "Unbanned bob.");
    expect_note("admin@x/pc", "unban", "user=nobody", "No user nobody.");
    expect_note("admin@x/pc", "broadcast", "text=Maintenance at noon",
                "Broadcast #1 sent.");
    /* Stats has no form: it completes at once. */
    request("admin@x/pc", "stats", ADHOC_EXECUTE, NULL, NULL, &r);
    assert_int_equal(r.status, ADHOC_COMPLETED);
    assert_non_null(
        strstr(buf_str(&r.note),
               "users 3, active 3, online 0, posts 0, follows 0, held 3, "
               "uptime "));
    adhoc_response_free(&r);
}

static void test_commands_cost_like_messages(void **state)
{
    struct adhoc_response r = {0};

    (void)state;
    for (int i = 0; i < BUDGET_PER_MINUTE; i++) {
        request("alice@x/phone", "settings", ADHOC_EXECUTE, NULL, NULL, &r);
        assert_int_equal(r.status, ADHOC_EXECUTING);
    }
    request("alice@x/phone", "settings", ADHOC_EXECUTE, NULL, NULL, &r);
    assert_int_equal(r.status, ADHOC_FAILED);
    assert_int_equal(r.error, ADHOC_ERR_BUSY);
    adhoc_response_free(&r);
}

/* Through the session layer's XML side --------------------------------- */

static void cb_command(void *ud, const struct adhoc_request *req,
                       struct adhoc_response *resp)
{
    dispatch_command(ud, req, resp);
}

static size_t cb_list(void *ud, const char *from,
                      const struct adhoc_command **out, size_t max)
{
    return dispatch_command_list(ud, from, out, max);
}

static const struct session_callbacks cbs = {.command = cb_command,
                                             .command_list = cb_list};

/* The answer to an IQ from from (the bot is bot@x/starling), parsed; NULL
 * if the session would not take it as a XEP-0050 one. */
static xmpp_stanza_t *ask(const char *from, const char *type,
                          const char *payload)
{
    char *xml = xasprintf("<iq xmlns='jabber:client' type='%s' id='q1' "
                          "from='%s' to='bot@x/starling'>%s</iq>",
                          type, from, payload);
    char *answer = session_test_iq(&cbs, &T.bot, xml);
    xmpp_stanza_t *st = NULL;

    free(xml);
    if (answer != NULL) {
        st = xmpp_stanza_new_from_string(T.ctx, answer);
        assert_non_null(st);
        free(answer);
    }
    return st;
}

static xmpp_stanza_t *sub(xmpp_stanza_t *st, const char *name)
{
    return st != NULL ? xmpp_stanza_get_child_by_name(st, name) : NULL;
}

static xmpp_stanza_t *field(xmpp_stanza_t *x, const char *var)
{
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(x); f != NULL;
         f = xmpp_stanza_get_next(f)) {
        const char *v = xmpp_stanza_get_attribute(f, "var");

        if (v != NULL && strcmp(v, var) == 0)
            return f;
    }
    return NULL;
}

/* Text of st's first child called name, copied into a static buffer. */
static const char *text_of(xmpp_stanza_t *st, const char *name)
{
    static char out[512];
    char *t;

    st = sub(st, name);
    assert_non_null(st);
    t = xmpp_stanza_get_text(st);
    snprintf(out, sizeof(out), "%s", t != NULL ? t : "");
    if (t != NULL)
        xmpp_free(T.ctx, t);
    return out;
}

/* The <value/>s of a field, joined with commas, in a static buffer. */
static const char *values_of(xmpp_stanza_t *f)
{
    static char out[512];
    size_t n = 0;

    out[0] = '\0';
    for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v != NULL;
         v = xmpp_stanza_get_next(v)) {
        char *t = xmpp_stanza_get_text(v);

        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "",
                              t != NULL ? t : "");
        if (t != NULL)
            xmpp_free(T.ctx, t);
    }
    return out;
}

static const char *attr(xmpp_stanza_t *st, const char *name)
{
    assert_non_null(st);
    return xmpp_stanza_get_attribute(st, name);
}

#define CMD(body)                                                              \
    "<command xmlns='http://jabber.org/protocol/commands' " body "</command>"
#define FORM(fields) "<x xmlns='jabber:x:data' type='submit'>" fields "</x>"

static void test_xml_form_then_completed(void **state)
{
    xmpp_stanza_t *a, *c, *x, *f;
    char *payload;

    (void)state;
    a = ask("alice@x/phone", "set", CMD("node='settings' action='execute'>"));
    assert_string_equal(xmpp_stanza_get_type(a), "result");
    assert_string_equal(attr(a, "to"), "alice@x/phone");
    assert_string_equal(xmpp_stanza_get_id(a), "q1");
    c = sub(a, "command");
    assert_string_equal(xmpp_stanza_get_ns(c),
                        "http://jabber.org/protocol/commands");
    assert_string_equal(attr(c, "node"), "settings");
    assert_string_equal(attr(c, "status"), "executing");
    assert_string_equal(attr(sub(c, "actions"), "execute"), "complete");
    assert_non_null(sub(sub(c, "actions"), "complete"));
    x = sub(c, "x");
    assert_string_equal(xmpp_stanza_get_ns(x), "jabber:x:data");
    assert_string_equal(xmpp_stanza_get_type(x), "form");
    assert_string_equal(text_of(x, "title"), "Settings");
    f = field(x, "deliver");
    assert_string_equal(xmpp_stanza_get_type(f), "boolean");
    assert_string_equal(attr(f, "label"), "Deliver updates");
    assert_string_equal(text_of(f, "value"), "1");
    f = field(x, "nick");
    assert_string_equal(xmpp_stanza_get_type(f), "text-single");
    assert_non_null(sub(f, "required"));
    assert_string_equal(text_of(f, "value"), "alice");
    assert_null(sub(field(x, "bio"), "value")); /* no bio yet */

    payload = xasprintf(CMD("node='settings' sessionid='%s'>" FORM(
                            "<field var='deliver'><value>0</value></field>"
                            "<field var='nick'><value>alice</value></field>")),
                        attr(c, "sessionid"));
    xmpp_stanza_release(a);
    a = ask("alice@x/phone", "set", payload);
    free(payload);
    c = sub(a, "command");
    assert_string_equal(attr(c, "status"), "completed");
    assert_null(sub(c, "x"));
    assert_string_equal(attr(sub(c, "note"), "type"), "info");
    assert_string_equal(text_of(c, "note"),
                        "Deliveries off: nothing will be sent or held until "
                        "you say \"on\".");
    xmpp_stanza_release(a);
}

static void test_xml_multi_values_and_cancel_form(void **state)
{
    xmpp_stanza_t *a, *f;
    char *payload;
    int n = 0;

    (void)state;
    a = ask("alice@x/phone", "set", CMD("node='tracking'>"));
    f = field(sub(sub(a, "command"), "x"), "words");
    assert_string_equal(xmpp_stanza_get_type(f), "text-multi");
    assert_null(sub(f, "value"));
    /* One word per <value/>; a form of type cancel counts as submitted. */
    payload = xasprintf(
        CMD("node='tracking' action='complete' sessionid='%s'>"
            "<x xmlns='jabber:x:data' type='cancel'><field var='words'>"
            "<value>cats</value><value>dogs</value></field></x>"),
        attr(sub(a, "command"), "sessionid"));
    xmpp_stanza_release(a);
    a = ask("alice@x/phone", "set", payload);
    free(payload);
    assert_string_equal(attr(sub(a, "command"), "status"), "completed");
    store_tracking(T.bot.store, T.alice.id, count_word, &n);
    assert_int_equal(n, 2);
    xmpp_stanza_release(a);
    /* The form shows each word as a value of its own. */
    a = ask("alice@x/phone", "set", CMD("node='tracking'>"));
    f = field(sub(sub(a, "command"), "x"), "words");
    assert_string_equal(values_of(f), "cats,dogs");
    xmpp_stanza_release(a);
}

static void test_xml_cancel(void **state)
{
    xmpp_stanza_t *a, *c;
    char *payload, sid[ADHOC_SESSIONID_MAX];

    (void)state;
    a = ask("alice@x/phone", "set", CMD("node='settings'>"));
    snprintf(sid, sizeof(sid), "%s", attr(sub(a, "command"), "sessionid"));
    xmpp_stanza_release(a);
    payload =
        xasprintf(CMD("node='settings' sessionid='%s' action='cancel'>"), sid);
    a = ask("alice@x/phone", "set", payload);
    free(payload);
    c = sub(a, "command");
    assert_string_equal(attr(c, "status"), "canceled");
    assert_string_equal(attr(c, "sessionid"), sid);
    assert_string_equal(attr(c, "node"), "settings");
    xmpp_stanza_release(a);
}

/* The error an answer carries: "type condition specific". */
static char *error_of(xmpp_stanza_t *a)
{
    xmpp_stanza_t *e = sub(a, "error");
    struct buf b = {0};

    assert_string_equal(xmpp_stanza_get_type(a), "error");
    buf_append(&b, xmpp_stanza_get_type(e));
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *ns = xmpp_stanza_get_ns(c);

        if (strcmp(xmpp_stanza_get_name(c), "text") == 0)
            continue;
        buf_printf(&b, " %s%s", xmpp_stanza_get_name(c),
                   strcmp(ns, "http://jabber.org/protocol/commands") == 0
                       ? "(cmd)"
                       : "");
    }
    xmpp_stanza_release(a);
    return b.s;
}

static void expect_error(const char *from, const char *payload,
                         const char *want)
{
    char *got = error_of(ask(from, "set", payload));

    assert_string_equal(got, want);
    free(got);
}

static void test_xml_errors(void **state)
{
    xmpp_stanza_t *a;
    struct user u;

    (void)state;
    expect_error("alice@x/phone", CMD("node='ban'>"), "cancel forbidden");
    expect_error("alice@x/phone",
                 CMD("node='ban' sessionid='1-1' action='complete'>" FORM(
                     "<field var='nick'><value>bob</value></field>")),
                 "cancel forbidden");
    store_user_by_jid(T.bot.store, "bob@x", &u);
    assert_false(u.banned);
    expect_error("eve@x/phone", CMD("node='settings'>"), "cancel forbidden");
    expect_error("alice@x/phone", CMD("node='nope'>"), "cancel item-not-found");
    expect_error("alice@x/phone", CMD(">"), "cancel item-not-found");
    expect_error("alice@x/phone", CMD("node='settings' action='jump'>"),
                 "modify bad-request malformed-action(cmd)");
    expect_error("alice@x/phone", CMD("node='settings' sessionid='9-9'>"),
                 "modify bad-request bad-sessionid(cmd)");
    a = ask("alice@x/phone", "set", CMD("node='settings'>"));
    {
        char *payload =
            xasprintf(CMD("node='settings' sessionid='%s' action='next'>"),
                      attr(sub(a, "command"), "sessionid"));

        expect_error("alice@x/phone", payload,
                     "modify bad-request bad-action(cmd)");
        free(payload);
    }
    xmpp_stanza_release(a);
    /* The reason is given as text. */
    a = ask("eve@x/phone", "set", CMD("node='settings'>"));
    assert_string_equal(text_of(sub(a, "error"), "text"),
                        "Add me (bot@x) to your contacts first.");
    xmpp_stanza_release(a);
}

static int items(xmpp_stanza_t *a, const char *want_jid)
{
    xmpp_stanza_t *q = sub(a, "query");
    int n = 0;

    assert_string_equal(xmpp_stanza_get_ns(q),
                        "http://jabber.org/protocol/disco#items");
    assert_string_equal(attr(q, "node"), "http://jabber.org/protocol/commands");
    for (xmpp_stanza_t *i = xmpp_stanza_get_children(q); i != NULL;
         i = xmpp_stanza_get_next(i), n++) {
        assert_string_equal(attr(i, "jid"), want_jid);
        assert_string_equal(attr(i, "name"), adhoc_find(attr(i, "node"))->name);
    }
    xmpp_stanza_release(a);
    return n;
}

#define ITEMS                                                                  \
    "<query xmlns='http://jabber.org/protocol/disco#items' "                   \
    "node='http://jabber.org/protocol/commands'/>"
#define INFO(node)                                                             \
    "<query xmlns='http://jabber.org/protocol/disco#info' node='" node "'/>"

static void test_xml_disco(void **state)
{
    xmpp_stanza_t *a, *q, *id;

    (void)state;
    assert_int_equal(
        items(ask("alice@x/phone", "get", ITEMS), "bot@x/starling"), 9);
    assert_int_equal(items(ask("admin@x/pc", "get", ITEMS), "bot@x/starling"),
                     13);
    assert_int_equal(items(ask("eve@x/pc", "get", ITEMS), "bot@x/starling"), 0);
    a = ask("alice@x/phone", "get", INFO("settings"));
    q = sub(a, "query");
    assert_string_equal(attr(q, "node"), "settings");
    id = sub(q, "identity");
    assert_string_equal(attr(id, "category"), "automation");
    assert_string_equal(attr(id, "type"), "command-node");
    assert_string_equal(attr(id, "name"), "Settings");
    assert_string_equal(attr(sub(q, "feature"), "var"),
                        "http://jabber.org/protocol/commands");
    assert_string_equal(attr(xmpp_stanza_get_next(sub(q, "feature")), "var"),
                        "jabber:x:data");
    xmpp_stanza_release(a);
    a = ask("alice@x/phone", "get",
            INFO("http://jabber.org/protocol/commands"));
    assert_string_equal(attr(sub(sub(a, "query"), "identity"), "type"),
                        "command-list");
    xmpp_stanza_release(a);
    /* A command the requester may not run is forbidden to look at. */
    a = ask("alice@x/phone", "get", INFO("ban"));
    assert_string_equal(xmpp_stanza_get_type(a), "error");
    assert_non_null(sub(sub(a, "error"), "forbidden"));
    xmpp_stanza_release(a);
    a = ask("admin@x/pc", "get", INFO("ban"));
    assert_string_equal(xmpp_stanza_get_type(a), "result");
    xmpp_stanza_release(a);
    /* Everything else is left to the rest of the session layer. */
    assert_null(ask("alice@x/phone", "get", INFO("caps#abc")));
    assert_null(ask("alice@x/phone", "get",
                    "<query xmlns='http://jabber.org/protocol/disco#info'/>"));
    assert_null(ask("alice@x/phone", "get",
                    "<query xmlns='http://jabber.org/protocol/disco#items'/>"));
    assert_null(ask("alice@x/phone", "get", CMD("node='settings'>")));
    assert_null(
        ask("alice@x/phone", "set", "<query xmlns='jabber:iq:roster'/>"));
}

/* What the session layer renders of fields the table has no use for yet:
 * fixed text and list options. */
static void cb_custom(void *ud, const struct adhoc_request *req,
                      struct adhoc_response *resp)
{
    static const struct adhoc_option opts[] = {
        {"on", "Yes", NULL}, {"off", "No", NULL}, {NULL, NULL, NULL}};
    static const struct adhoc_field f[] = {
        {.type = ADHOC_FIXED, .label = "Read this first."},
        {.var = "away",
         .type = ADHOC_LIST_SINGLE,
         .label = "Away",
         .options = opts},
        {0},
    };
    static const struct adhoc_command c = {"custom", "Custom", false,
                                           NULL,     NULL,     f};

    (void)ud;
    (void)req;
    resp->status = ADHOC_EXECUTING;
    resp->cmd = &c;
    snprintf(resp->sessionid, sizeof(resp->sessionid), "s1");
    adhoc_values_set(&resp->values, "away", "off");
    buf_append(&resp->note, "Careful.");
    resp->note_type = ADHOC_NOTE_ERROR;
}

static void test_xml_fixed_and_options(void **state)
{
    static const struct session_callbacks custom = {.command = cb_custom};
    char *answer;
    xmpp_stanza_t *a, *c, *fixed, *list, *opt;

    (void)state;
    answer = session_test_iq(
        &custom, NULL,
        "<iq type='set' id='q' from='a@x/r'>" CMD("node='custom'>") "</iq>");
    a = xmpp_stanza_new_from_string(T.ctx, answer);
    free(answer);
    c = sub(a, "command");
    assert_string_equal(attr(sub(c, "note"), "type"), "error");
    assert_string_equal(text_of(c, "note"), "Careful.");
    fixed = sub(sub(c, "x"), "field");
    assert_string_equal(xmpp_stanza_get_type(fixed), "fixed");
    assert_null(attr(fixed, "var"));
    assert_string_equal(text_of(fixed, "value"), "Read this first.");
    list = field(sub(c, "x"), "away");
    assert_string_equal(xmpp_stanza_get_type(list), "list-single");
    assert_string_equal(text_of(list, "value"), "off");
    opt = sub(list, "option");
    assert_string_equal(attr(opt, "label"), "Yes");
    assert_string_equal(text_of(opt, "value"), "on");
    xmpp_stanza_release(a);
}

#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T_(test_menu_and_who_sees_it),
        T_(test_action_parse),
        T_(test_settings_become_chat_commands),
        T_(test_bad_settings_run_nothing),
        T_(test_tracking_form_edits_the_list),
        T_(test_too_many_words_run_nothing),
        T_(test_admin_forms_become_chat_commands),
        T_(test_issue15_forms_become_chat_commands),
        T_(test_issue15_bad_values),
        T_(test_a_text_that_would_post_runs_nothing),
        T_(test_list_single_takes_only_its_options),
        T_(test_session_rules),
        T_(test_sessions_are_bounded),
        T_(test_only_users_run_commands),
        T_(test_settings_form_shows_the_user_row),
        T_(test_settings_do_what_the_chat_commands_do),
        T_(test_tracking_form_tracks),
        T_(test_issue15_forms_do_what_the_chat_commands_do),
        T_(test_admin_forms_do_what_admins_do),
        T_(test_commands_cost_like_messages),
        T_(test_xml_form_then_completed),
        T_(test_xml_multi_values_and_cancel_form),
        T_(test_xml_cancel),
        T_(test_xml_errors),
        T_(test_xml_disco),
        T_(test_xml_fixed_and_options),
    };

    return cmocka_run_group_tests_name("adhoc", tests, NULL, NULL);
}
