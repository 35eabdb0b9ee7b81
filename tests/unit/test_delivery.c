/*
 * test_delivery.c - the delivery engine against an in-memory store, a
 * real presence table and recording send operations: every rule of
 * SPEC 6, the barrier that confirms rows, and re-sending after a drop.
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
#include <unistd.h>

#include "dbfile.h"
#include "delivery.h"
#include "util.h"

struct sent {
    char to[64], body[256], id[64], replace[64], retract[64];
    time_t stamp;
};

static struct {
    struct store *st;
    struct presence *pr;
    struct delivery *d;
    size_t room;
    struct sent sent[256];
    size_t nsent;
    uint64_t tokens[64];
    size_t ntokens;
    int64_t author, fan;
    time_t now;
} T;

static time_t fake_now(void)
{
    return T.now;
}

static size_t op_room(void *ud)
{
    (void)ud;
    return T.room;
}

static int op_send(void *ud, const struct outmsg *m)
{
    struct sent *s = &T.sent[T.nsent++ % 256]; /* the last 256 kept */

    (void)ud;
    snprintf(s->to, sizeof(s->to), "%s", m->to);
    snprintf(s->body, sizeof(s->body), "%s", m->body);
    snprintf(s->id, sizeof(s->id), "%s", m->id);
    snprintf(s->replace, sizeof(s->replace), "%s",
             m->replace_id ? m->replace_id : "");
    snprintf(s->retract, sizeof(s->retract), "%s",
             m->retract_id ? m->retract_id : "");
    s->stamp = m->stamp;
    return 0;
}

static int op_barrier(void *ud, uint64_t *token)
{
    (void)ud;
    *token = 1000 + T.ntokens;
    T.tokens[T.ntokens++] = *token;
    return 0;
}

static const struct delivery_ops ops = {op_room, op_send, op_barrier};

static int setup(void **state)
{
    struct user u;

    (void)state;
    memset(&T, 0, sizeof(T));
    T.room = 1000;
    T.st = store_open(":memory:");
    T.pr = presence_new();
    T.d = delivery_new(T.st, T.pr, &ops, NULL);
    delivery_set_backlog_max(T.d, 3);
    T.now = 1700000000; /* a Tuesday, 22:13 UTC */
    delivery_set_clock(T.d, fake_now);
    store_user_create(T.st, "author@x", "author", false, false, 1, &u);
    T.author = u.id;
    store_user_create(T.st, "fan@x", "fan", false, false, 1, &u);
    T.fan = u.id;
    store_follow(T.st, T.fan, T.author, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    delivery_free(T.d);
    presence_free(T.pr);
    store_close(T.st);
    return 0;
}

static int64_t post(const char *body, time_t when)
{
    struct post_new p = {.author = T.author, .body = body, .created = when};
    int64_t id;

    assert_int_equal(store_post_add(T.st, &p, &id, NULL), 0);
    delivery_post_committed(T.d, id);
    delivery_pump(T.d);
    return id;
}

static int64_t held(void)
{
    int64_t n;

    assert_int_equal(store_outbox_count_user(T.st, T.fan, &n), 0);
    return n;
}

static void confirm_all(void)
{
    for (size_t i = 0; i < T.ntokens; i++)
        delivery_barrier_done(T.d, T.tokens[i]);
    T.ntokens = 0;
}

static void fan_presence(const char *show)
{
    if (show == NULL)
        presence_remove(T.pr, "fan@x/r");
    else
        presence_update(T.pr, "fan@x/r", presence_show_parse(show), 0);
    delivery_user_changed(T.d, T.fan);
    delivery_pump(T.d);
}

static void test_available_now_and_confirmed_by_barrier(void **state)
{
    int64_t id;
    char want[64];

    (void)state;
    fan_presence("chat");
    id = post("hello", 100);
    assert_int_equal(T.nsent, 1);
    assert_string_equal(T.sent[0].to, "fan@x");
    snprintf(want, sizeof(want), "author: hello (#%lld)", (long long)id);
    assert_string_equal(T.sent[0].body, want);
    assert_int_equal(T.sent[0].stamp, 0);
    /* Sent but not confirmed: still in the outbox. */
    assert_int_equal(held(), 1);
    assert_int_equal(T.ntokens, 1);
    confirm_all();
    assert_int_equal(held(), 0);
    assert_int_equal(delivery_pending(T.d), 0);
}

static void test_dnd_and_offline_hold_then_deliver_oldest_first(void **state)
{
    (void)state;
    fan_presence("dnd");
    post("one", 100);
    post("two", 200);
    assert_int_equal(T.nsent, 0);
    fan_presence(NULL); /* offline */
    post("three", 300);
    assert_int_equal(T.nsent, 0);
    assert_int_equal(held(), 3);
    fan_presence("chat");
    assert_int_equal(T.nsent, 3);
    assert_non_null(strstr(T.sent[0].body, "one"));
    assert_non_null(strstr(T.sent[2].body, "three"));
    /* Each stamped with its original time (XEP-0203). */
    assert_int_equal(T.sent[0].stamp, 100);
    assert_int_equal(T.sent[2].stamp, 300);
    /* Telling the engine twice sends nothing twice. */
    delivery_user_changed(T.d, T.fan);
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 3);
    confirm_all();
    assert_int_equal(held(), 0);
}

static void test_away_rules(void **state)
{
    (void)state;
    fan_presence("away");
    post("while away", 100);
    assert_int_equal(T.nsent, 0);
    fan_presence("xa");
    assert_int_equal(T.nsent, 0);
    /* "away on" */
    store_user_set_flag(T.st, T.fan, USER_AWAY, true);
    delivery_user_changed(T.d, T.fan);
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 1);
    post("fresh while xa", 200);
    assert_int_equal(T.nsent, 2);
}

static void test_off_holds_nothing(void **state)
{
    (void)state;
    store_user_set_flag(T.st, T.fan, USER_DELIVER, false);
    fan_presence("chat");
    post("nobody hears", 100);
    assert_int_equal(T.nsent, 0);
    assert_int_equal(held(), 0);
}

static void test_backlog_exactly_max_has_no_summary(void **state)
{
    (void)state;
    fan_presence(NULL);
    for (int i = 0; i < 3; i++)
        post("p", 100 + i);
    fan_presence("chat");
    assert_int_equal(T.nsent, 3);
    for (size_t i = 0; i < 3; i++)
        assert_null(strstr(T.sent[i].body, "left out"));
}

static void test_backlog_over_max_summary_then_newest(void **state)
{
    char body[16];

    (void)state;
    fan_presence(NULL);
    for (int i = 1; i <= 4; i++) {
        snprintf(body, sizeof(body), "p%d", i);
        post(body, 100 + i);
    }
    fan_presence("chat");
    assert_int_equal(T.nsent, 4);
    assert_non_null(strstr(
        T.sent[0].body, "1 older update from people you follow was left out"));
    assert_non_null(strstr(T.sent[1].body, "p2"));
    assert_non_null(strstr(T.sent[3].body, "p4"));
    confirm_all();
    assert_int_equal(held(), 0);
}

/* Rows held from before the count was known (a restart with a smaller
 * backlog_max): trimmed when the user comes back, and only then. */
static void test_backlog_after_restart_with_smaller_max(void **state)
{
    char body[16];

    (void)state;
    delivery_set_backlog_max(T.d, 10);
    fan_presence(NULL);
    for (int i = 1; i <= 5; i++) {
        snprintf(body, sizeof(body), "p%d", i);
        post(body, 100 + i);
    }
    assert_int_equal(held(), 5);
    /* the bot restarts with backlog_max 3 */
    delivery_free(T.d);
    T.d = delivery_new(T.st, T.pr, &ops, NULL);
    delivery_set_backlog_max(T.d, 3);
    delivery_set_clock(T.d, fake_now);
    assert_int_equal(held(), 5);
    fan_presence("chat");
    assert_int_equal(T.nsent, 4);
    assert_non_null(strstr(T.sent[0].body, "2 older updates from people you "
                                           "follow were left out"));
    assert_non_null(strstr(T.sent[1].body, "p3"));
    assert_non_null(strstr(T.sent[3].body, "p5"));
    confirm_all();
    assert_int_equal(held(), 0);
}

static void test_drop_resends_with_same_id(void **state)
{
    char first[64];

    (void)state;
    fan_presence("chat");
    post("important", 100);
    assert_int_equal(T.nsent, 1);
    snprintf(first, sizeof(first), "%s", T.sent[0].id);
    /* The stream drops before the barrier is answered. */
    delivery_disconnected(T.d);
    presence_clear(T.pr);
    assert_int_equal(held(), 1);
    /* After reconnect the fan's presence is seen again. */
    fan_presence("chat");
    assert_int_equal(T.nsent, 2);
    assert_string_equal(T.sent[1].id, first);
    confirm_all();
    assert_int_equal(held(), 0);
}

static void test_dnd_between_queue_and_send(void **state)
{
    (void)state;
    fan_presence("chat");
    T.room = 0; /* the window is full */
    post("queued", 100);
    assert_int_equal(T.nsent, 0);
    presence_update(T.pr, "fan@x/r", SHOW_DND, 0);
    T.room = 1000;
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 0);
    assert_int_equal(held(), 1);
    fan_presence("chat");
    assert_int_equal(T.nsent, 1);
}

static void test_forget_post(void **state)
{
    int64_t id;

    (void)state;
    fan_presence("chat");
    T.room = 0;
    id = post("oops", 100);
    assert_int_equal(delivery_post_delete(T.d, id, 150), 0);
    T.room = 1000;
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 0);
}

static void test_deleted_in_flight_does_not_swallow_next(void **state)
{
    int64_t id;

    (void)state;
    fan_presence("chat");
    id = post("first", 100);
    assert_int_equal(T.nsent, 1);
    /* Deleted while its delivery waits for the barrier: the copy sent is
     * retracted... */
    assert_int_equal(delivery_post_delete(T.d, id, 150), 0);
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 2);
    assert_non_null(strstr(T.sent[1].retract, "starling-"));
    /* ...then a new post: its row must not take the old row's place. */
    post("second", 200);
    assert_int_equal(T.nsent, 3);
    assert_non_null(strstr(T.sent[2].body, "second"));
    assert_int_equal(held(), 2);
    delivery_barrier_done(T.d, T.tokens[0]); /* the old window */
    assert_int_equal(held(), 2); /* the retraction and "second" owed */
    confirm_all();
    assert_int_equal(held(), 0);
}

/* However large the fan-out, at most 256 updates are out unconfirmed
 * (what a dropped stream may send a second time); each barrier's answer
 * lets its window's worth more go. */
static void test_unconfirmed_updates_bounded(void **state)
{
    char jid[32], nick[16];
    struct user u;
    size_t before;

    (void)state;
    for (int i = 0; i < 600; i++) {
        snprintf(jid, sizeof(jid), "f%d@x", i);
        snprintf(nick, sizeof(nick), "f%d", i);
        assert_int_equal(
            store_user_create(T.st, jid, nick, false, false, 1, &u), 0);
        assert_int_equal(store_follow(T.st, u.id, T.author, 1), 0);
        snprintf(jid, sizeof(jid), "f%d@x/r", i);
        presence_update(T.pr, jid, SHOW_CHAT, 0);
    }
    post("to many", 100);
    assert_int_equal(T.nsent, 256);
    assert_int_equal(T.ntokens, 2);
    delivery_barrier_done(T.d, T.tokens[0]);
    delivery_pump(T.d);
    assert_true(T.nsent > 256 && T.nsent <= 256 + 128);
    while (T.nsent < 600) {
        before = T.nsent;
        confirm_all();
        delivery_pump(T.d);
        assert_true(T.nsent > before && T.nsent - before <= 256);
    }
    confirm_all();
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 600);
    assert_int_equal(delivery_pending(T.d), 0);
}

static void test_confirmed_rows_deleted_together(void **state)
{
    (void)state;
    fan_presence("chat");
    post("one", 100);
    post("two", 200);
    post("three", 300);
    assert_int_equal(T.nsent, 3);
    assert_int_equal(T.ntokens, 3); /* a window each, all in flight */
    delivery_barrier_done(T.d, T.tokens[0]);
    /* Confirmed, but deleted only when nothing is in flight... */
    assert_int_equal(held(), 3);
    /* ...and never queued again meanwhile. */
    fan_presence("away");
    fan_presence("chat");
    assert_int_equal(T.nsent, 3);
    delivery_barrier_done(T.d, T.tokens[1]);
    assert_int_equal(held(), 3);
    delivery_barrier_done(T.d, T.tokens[2]);
    assert_int_equal(held(), 0);
    assert_int_equal(delivery_pending(T.d), 0);
}

static void test_drop_keeps_what_was_confirmed(void **state)
{
    (void)state;
    fan_presence("chat");
    post("one", 100);
    post("two", 200);
    delivery_barrier_done(T.d, T.tokens[0]);
    delivery_disconnected(T.d);
    presence_clear(T.pr);
    /* "one" was accepted by the server: only "two" is owed. */
    assert_int_equal(held(), 1);
    fan_presence("chat");
    assert_int_equal(T.nsent, 3);
    assert_non_null(strstr(T.sent[2].body, "two"));
}

static void test_formats_and_ids(void **state)
{
    struct post p = {
        .id = 7, .author_nick = "ann", .body = "hi", .kind = POST_PUBLIC};
    char id1[64], id2[64];
    char *s;

    (void)state;
    s = delivery_format(&p);
    assert_string_equal(s, "ann: hi (#7)");
    free(s);
    p.reply_to = 3;
    s = delivery_format(&p);
    assert_string_equal(s, "ann (re #3): hi (#7)");
    free(s);
    p.kind = POST_DM;
    s = delivery_format(&p);
    assert_string_equal(s, "DM from ann: hi");
    free(s);
    p.kind = POST_BROADCAST;
    s = delivery_format(&p);
    assert_string_equal(s, "Announcement: hi");
    free(s);
    delivery_stanza_id(7, 9, id1, sizeof(id1));
    delivery_stanza_id(7, 9, id2, sizeof(id2));
    assert_string_equal(id1, id2);
    delivery_stanza_id(7, 10, id2, sizeof(id2));
    assert_string_not_equal(id1, id2);
}

/* Store one post of any kind by author and let the engine at it. */
static int64_t post_as(int64_t author, const char *body, enum post_kind kind,
                       int64_t to_user, int64_t reply_to, const char *mention)
{
    const char *m[1] = {mention};
    struct post_new p = {.author = author,
                         .body = body,
                         .created = 500,
                         .kind = kind,
                         .to_user = to_user,
                         .reply_to = reply_to,
                         .mentions = m,
                         .n_mentions = mention != NULL ? 1 : 0};
    int64_t id;

    assert_int_equal(store_post_add(T.st, &p, &id, NULL), 0);
    delivery_post_committed(T.d, id);
    delivery_pump(T.d);
    return id;
}

static bool sent_containing(const char *text)
{
    for (size_t i = 0; i < T.nsent; i++)
        if (strstr(T.sent[i].body, text) != NULL)
            return true;
    return false;
}

/* Issue 12, item 2: only ordinary updates from people one follows are
 * ever summarised away; DMs, broadcasts, mentions and replies to you are
 * always handed over. */
static void test_backlog_never_drops_dms_mentions_replies(void **state)
{
    struct user pal;
    int64_t mine;
    char body[16];

    (void)state;
    store_user_create(T.st, "pal@x", "pal", false, false, 1, &pal);
    store_follow(T.st, T.fan, pal.id, 1); /* pal may DM fan */
    fan_presence("chat");
    mine = post_as(T.fan, "my own post", POST_PUBLIC, 0, 0, NULL);
    fan_presence(NULL);
    for (int i = 1; i <= 4; i++) {
        snprintf(body, sizeof(body), "old%d", i);
        post(body, 100 + i);
    }
    post_as(pal.id, "a secret", POST_DM, T.fan, 0, NULL);
    post_as(T.author, "hey @fan", POST_PUBLIC, 0, 0, "fan");
    post_as(T.author, "answering you", POST_PUBLIC, 0, mine, NULL);
    post_as(T.author, "for everyone", POST_BROADCAST, 0, 0, NULL);
    for (int i = 1; i <= 3; i++) {
        snprintf(body, sizeof(body), "new%d", i);
        post(body, 200 + i);
    }
    T.nsent = 0;
    fan_presence("chat");
    assert_true(sent_containing("a secret"));
    assert_true(sent_containing("hey @fan"));
    assert_true(sent_containing("answering you"));
    assert_true(sent_containing("for everyone"));
    assert_true(sent_containing("new1"));
    assert_true(sent_containing("new3"));
    assert_false(sent_containing("old4"));
    /* The summary comes first and says what it counts. */
    assert_non_null(strstr(T.sent[0].body, "4 older updates from people you "
                                           "follow were left out"));
    assert_int_equal(T.nsent, 1 + 4 + 3);
    confirm_all();
    assert_int_equal(held(), 0);
}

/* Issue 12, item 3: what is held for one user is bounded when rows are
 * inserted, not when the user returns. */
static void test_held_bounded_while_away(void **state)
{
    (void)state;
    fan_presence(NULL);
    for (int i = 0; i < 50; i++)
        post("chatter", 100 + i);
    assert_true(held() <= 3);
    fan_presence("chat");
    assert_non_null(strstr(T.sent[0].body, "47 older updates from people "
                                           "you follow were left out"));
    assert_int_equal(T.nsent, 4);
}

/* Issue 12, item 10: "away off" and "block" also reach what is already
 * queued in memory, not only what is held in the store. */
static void test_away_off_and_block_reach_the_queue(void **state)
{
    (void)state;
    store_user_set_flag(T.st, T.fan, USER_AWAY, true);
    fan_presence("away");
    T.room = 0; /* the window is full: the update waits in memory */
    post("queued while away", 100);
    store_user_set_flag(T.st, T.fan, USER_AWAY, false);
    delivery_user_reset(T.d, T.fan);
    T.room = 1000;
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 0);
    assert_int_equal(held(), 1); /* held, handed over when back */
    fan_presence("chat");
    assert_int_equal(T.nsent, 1);
    confirm_all();

    T.room = 0;
    post("queued, then blocked", 200);
    assert_int_equal(store_block(T.st, T.fan, T.author), 0);
    delivery_user_reset(T.d, T.fan);
    T.room = 1000;
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 1);
    assert_int_equal(held(), 0);
}

/* Component mode, a cluster: one link of several drops.  What it carried
 * unconfirmed goes out again (same ids) over the others; what was
 * confirmed stays delivered. */
static void test_link_lost_resends_its_windows(void **state)
{
    char first[64];

    (void)state;
    fan_presence("chat");
    post("one", 100);
    assert_int_equal(T.nsent, 1);
    snprintf(first, sizeof(first), "%s", T.sent[0].id);
    delivery_barrier_done(T.d, T.tokens[0]); /* "one" confirmed */
    post("two", 200);
    assert_int_equal(T.nsent, 2);
    /* The link that carried "two" (its barrier T.tokens[1]) drops. */
    delivery_link_lost(T.d, &T.tokens[1], 1, false);
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 3);
    assert_non_null(strstr(T.sent[2].body, "two"));
    assert_string_equal(T.sent[2].id, T.sent[1].id);
    assert_string_not_equal(T.sent[2].id, first);
    /* Sent on the link that drops, not yet behind a barrier: current. */
    T.room = 1000;
    delivery_barrier_done(T.d, T.tokens[2]);
    assert_int_equal(held(), 0);
}

/* Issue 14: an update for a recipient who may have it at once is served
 * from memory and listed in its post's fan-out record, not written as a
 * row.  After a crash, what the server had not confirmed is owed (a held
 * row, sent again with the same id) and what it had confirmed is not sent
 * again. */
static void test_restart_owes_only_what_was_not_confirmed(void **state)
{
    char path[] = "/tmp/starling-fan-XXXXXX";
    int fd = mkstemp(path);
    struct store *st, *st2;
    struct presence *pr2;
    struct delivery *d, *d2;
    struct post_new p = {.created = 100};
    struct user a, f;
    int64_t id, n;
    char second[64];

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    st = store_open(path);
    assert_non_null(st);
    store_user_create(st, "a@y", "a", false, false, 1, &a);
    store_user_create(st, "f@y", "f", false, false, 1, &f);
    store_follow(st, f.id, a.id, 1);
    presence_update(T.pr, "f@y/r", SHOW_CHAT, 0);
    d = delivery_new(st, T.pr, &ops, NULL);
    p.author = a.id;
    p.body = "confirmed";
    assert_int_equal(store_post_add(st, &p, &id, NULL), 0);
    delivery_post_committed(d, id);
    delivery_pump(d);
    assert_int_equal(T.nsent, 1);
    /* No row: the record owes it until the server confirms it. */
    assert_int_equal(store_outbox_count_user(st, f.id, &n), 0);
    assert_int_equal(n, 1);
    for (size_t i = 0; i < T.ntokens; i++)
        delivery_barrier_done(d, T.tokens[i]);
    T.ntokens = 0;
    assert_int_equal(store_outbox_count_user(st, f.id, &n), 0);
    assert_int_equal(n, 0);
    p.body = "in flight";
    p.created = 200;
    assert_int_equal(store_post_add(st, &p, &id, NULL), 0);
    delivery_post_committed(d, id);
    delivery_pump(d);
    assert_int_equal(T.nsent, 2);
    snprintf(second, sizeof(second), "%s", T.sent[1].id);

    /* The bot dies here; the next one opens the same database. */
    st2 = store_open(path);
    assert_non_null(st2);
    pr2 = presence_new();
    d2 = delivery_new(st2, pr2, &ops, NULL);
    assert_int_equal(store_outbox_count_user(st2, f.id, &n), 0);
    assert_int_equal(n, 1);
    presence_update(pr2, "f@y/r", SHOW_CHAT, 0);
    delivery_user_changed(d2, f.id);
    delivery_pump(d2);
    assert_int_equal(T.nsent, 3);
    assert_string_equal(T.sent[2].id, second);
    assert_non_null(strstr(T.sent[2].body, "in flight"));
    for (size_t i = 0; i < T.ntokens; i++)
        delivery_barrier_done(d2, T.tokens[i]);
    assert_int_equal(store_outbox_count_user(st2, f.id, &n), 0);
    assert_int_equal(n, 0);

    delivery_free(d2);
    presence_free(pr2);
    store_close(st2);
    delivery_free(d);
    store_close(st);
    dbfile_remove(path);
}

/* A correction reaches an update served from memory: still queued, it
 * goes out with the new text; delivered, it is corrected. */
static void test_edit_reaches_what_memory_serves(void **state)
{
    struct post_new edit = {.created = 120};
    int64_t id;

    (void)state;
    fan_presence("chat");
    T.room = 0;
    id = post("frist", 100);
    edit.author = T.author;
    edit.body = "first";
    assert_int_equal(store_post_edit(T.st, id, &edit), 0);
    assert_int_equal(delivery_post_edited(T.d, id, 120), 0);
    T.room = 1000;
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 1);
    assert_non_null(strstr(T.sent[0].body, "author: first"));
    assert_string_equal(T.sent[0].replace, "");
    confirm_all();
    edit.body = "first!";
    assert_int_equal(store_post_edit(T.st, id, &edit), 0);
    assert_int_equal(delivery_post_edited(T.d, id, 130), 0);
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 2);
    assert_non_null(strstr(T.sent[1].body, "first!"));
    assert_string_equal(T.sent[1].replace, T.sent[0].id);
    /* Deleted: the copy is retracted. */
    confirm_all();
    assert_int_equal(delivery_post_delete(T.d, id, 140), 0);
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 3);
    assert_string_equal(T.sent[2].retract, T.sent[0].id);
}

/* Issue 15: during quiet hours updates are held as for dnd, and handed
 * over when they end even if the presence did not change. */
static void test_quiet_hours_hold_then_hand_over(void **state)
{
    struct prefs p;

    (void)state;
    fan_presence("chat");
    assert_int_equal(store_prefs_get(T.st, T.fan, &p), 0);
    p.quiet_start = 22 * 60; /* 22:00-07:00 UTC */
    p.quiet_end = 7 * 60;
    assert_int_equal(store_prefs_put(T.st, T.fan, &p), 0);
    delivery_user_changed(T.d, T.fan);
    post("at night", 100);
    assert_int_equal(T.nsent, 0);
    assert_int_equal(held(), 1);
    /* Still quiet an hour later: nothing. */
    T.now += 3600;
    delivery_tick(T.d, T.now);
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 0);
    /* 07:00: handed over, the presence never changed. */
    T.now = 1700000000 - 22 * 3600 - 13 * 60 + 86400 + 7 * 3600 + 30;
    delivery_tick(T.d, T.now);
    delivery_pump(T.d);
    assert_int_equal(T.nsent, 1);
    assert_non_null(strstr(T.sent[0].body, "at night"));
    /* Daytime: live. */
    post("by day", 200);
    assert_int_equal(T.nsent, 2);
}

#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T_(test_available_now_and_confirmed_by_barrier),
        T_(test_unconfirmed_updates_bounded),
        T_(test_confirmed_rows_deleted_together),
        T_(test_drop_keeps_what_was_confirmed),
        T_(test_dnd_and_offline_hold_then_deliver_oldest_first),
        T_(test_away_rules),
        T_(test_off_holds_nothing),
        T_(test_backlog_exactly_max_has_no_summary),
        T_(test_backlog_over_max_summary_then_newest),
        T_(test_backlog_after_restart_with_smaller_max),
        T_(test_drop_resends_with_same_id),
        T_(test_dnd_between_queue_and_send),
        T_(test_forget_post),
        T_(test_deleted_in_flight_does_not_swallow_next),
        T_(test_formats_and_ids),
        T_(test_backlog_never_drops_dms_mentions_replies),
        T_(test_held_bounded_while_away),
        T_(test_away_off_and_block_reach_the_queue),
        T_(test_link_lost_resends_its_windows),
        T_(test_quiet_hours_hold_then_hand_over),
        T_(test_restart_owes_only_what_was_not_confirmed),
        T_(test_edit_reaches_what_memory_serves),
    };

    return cmocka_run_group_tests_name("delivery", tests, NULL, NULL);
}
