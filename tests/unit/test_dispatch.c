/*
 * test_dispatch.c - which received messages the bot acts on (SPEC 7, 9),
 * the per-JID message budget that keeps it from being used as a flooder,
 * and what a handled message sends back: XEP-0184 receipts once it is
 * handled, the one notice about encryption, the answers to corrections,
 * retractions and reactions.  dispatch_message() runs against an
 * in-memory store with the bot's hooks recorded.  The subscription path
 * is in test_subscribe.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "budget.h"
#include "dispatch.h"
#include "queries.h"

static enum msg_class classify(const char *type, const char *body)
{
    struct inmsg m = {.type = type, .body = body};

    return dispatch_classify(&m);
}

static void test_ignored_types(void **state)
{
    (void)state;
    assert_int_equal(classify("error", "help"), MSG_IGNORE_TYPE);
    assert_int_equal(classify("groupchat", "help"), MSG_IGNORE_TYPE);
    assert_int_equal(classify("headline", "help"), MSG_IGNORE_TYPE);
}

static void test_handled_types(void **state)
{
    (void)state;
    assert_int_equal(classify("chat", "help"), MSG_HANDLE);
    assert_int_equal(classify("normal", "hello"), MSG_HANDLE);
    /* No type attribute means "normal" (RFC 6121). */
    assert_int_equal(classify(NULL, "hello"), MSG_HANDLE);
}

static void test_no_body(void **state)
{
    (void)state;
    assert_int_equal(classify("chat", NULL), MSG_IGNORE_NOBODY);
    assert_int_equal(classify("chat", ""), MSG_IGNORE_NOBODY);
    /* White space only is a body: an empty post, refused with a reply. */
    assert_int_equal(classify("chat", " \n\t "), MSG_HANDLE);
}

static void test_auto_replies(void **state)
{
    (void)state;
    assert_int_equal(classify("chat", "[Auto-reply] I am away"),
                     MSG_IGNORE_AUTO);
    assert_int_equal(classify("chat", "Auto-Response: on leave"),
                     MSG_IGNORE_AUTO);
    /* Mentioning the words later is an ordinary post. */
    assert_int_equal(classify("chat", "my [Auto-reply] is broken"), MSG_HANDLE);
}

/* Extensions decide before the body: it is a fallback or ciphertext. */
static void test_extensions_before_body(void **state)
{
    struct inmsg m = {.type = "chat", .body = "fallback text"};

    (void)state;
    m.crypto = CRYPTO_OMEMO;
    assert_int_equal(dispatch_classify(&m), MSG_ENCRYPTED);
    m.type = "groupchat";
    assert_int_equal(dispatch_classify(&m), MSG_IGNORE_TYPE);
    m.type = "chat";
    m.crypto = CRYPTO_NONE;
    m.retract_id = "x";
    assert_int_equal(dispatch_classify(&m), MSG_RETRACTION);
    m.retract_id = NULL;
    m.replace_id = "x";
    assert_int_equal(dispatch_classify(&m), MSG_CORRECTION);
    m.replace_id = NULL;
    m.body = NULL;
    m.reaction_id = "x";
    assert_int_equal(dispatch_classify(&m), MSG_REACTION);
    m.reaction_id = NULL;
    m.reply_id = "x";
    m.body = "my answer";
    assert_int_equal(dispatch_classify(&m), MSG_HANDLE);
}

/* dispatch_message() end to end --------------------------------------- */

#define ALICE "alice@x/phone"

static struct {
    struct bot bot;
    struct config cfg;
    time_t now;
    char log[64][160]; /* "reply TO: TEXT" or "receipt TO ID", in order */
    size_t n;
    int64_t alice;
} T;

static time_t fake_now(void)
{
    return T.now;
}

static void rec_reply(struct bot *b, const char *to, const char *text)
{
    (void)b;
    assert_true(T.n < 64);
    snprintf(T.log[T.n++], sizeof(T.log[0]), "reply %s: %s", to, text);
}

static void rec_receipt(struct bot *b, const char *to, const char *id)
{
    (void)b;
    assert_true(T.n < 64);
    snprintf(T.log[T.n++], sizeof(T.log[0]), "receipt %s %s", to, id);
}

static size_t op_room(void *ud)
{
    (void)ud;
    return 100;
}

static int op_send(void *ud, const struct outmsg *m)
{
    (void)ud, (void)m;
    return 0;
}

static int op_barrier(void *ud, uint64_t *token)
{
    (void)ud;
    *token = 1;
    return 0;
}

static const struct delivery_ops ops = {op_room, op_send, op_barrier};

static int bot_setup(void **state)
{
    struct user u;

    (void)state;
    memset(&T, 0, sizeof(T));
    T.now = 100000;
    T.cfg.bot.post_max_chars = 500;
    T.cfg.bot.posts_per_minute = 2;
    T.cfg.delivery.backlog_max = 20;
    T.bot.cfg = &T.cfg;
    T.bot.store = store_open(":memory:");
    T.bot.presence = presence_new();
    T.bot.budget = budget_new(BUDGET_PER_MINUTE, BUDGET_MUTE_SECONDS);
    T.bot.delivery = delivery_new(T.bot.store, T.bot.presence, &ops, NULL);
    snprintf(T.bot.self, sizeof(T.bot.self), "bot@x");
    T.bot.now = fake_now;
    T.bot.reply = rec_reply;
    T.bot.receipt = rec_receipt;
    if (T.bot.store == NULL ||
        store_user_create(T.bot.store, "alice@x", "alice", false, false, 1,
                          &u) < 0)
        return -1;
    T.alice = u.id;
    return 0;
}

static int bot_teardown(void **state)
{
    (void)state;
    delivery_free(T.bot.delivery);
    budget_free(T.bot.budget);
    presence_free(T.bot.presence);
    store_close(T.bot.store);
    return 0;
}

/* A chat message from alice's phone asking for a receipt. */
static struct inmsg msg(const char *id, const char *body)
{
    struct inmsg m = {.from = ALICE, .type = "chat", .id = id, .body = body};

    m.receipt_request = true;
    return m;
}

/* Dispatch msg(id, body) as it is. */
static void say(const char *id, const char *body)
{
    struct inmsg m = msg(id, body);

    dispatch_message(&T.bot, &m);
}

static void expect_log(size_t n, ...)
{
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);

        if (i >= T.n || strstr(T.log[i], want) == NULL)
            fail_msg("entry %zu: wanted \"%s\", got \"%s\"", i, want,
                     i < T.n ? T.log[i] : "(nothing)");
    }
    va_end(ap);
    if (T.n != n)
        fail_msg("%zu entries, wanted %zu; last: %s", T.n, n,
                 T.n > 0 ? T.log[T.n - 1] : "(nothing)");
    T.n = 0;
}

static int64_t posts(void)
{
    int64_t n = -1;

    assert_int_equal(store_posts_since(T.bot.store, T.alice, 0, &n), 0);
    return n;
}

/* The receipt follows the answer, for a post, a refused post and a
 * command alike: each was handled. */
static void test_receipts_for_handled_messages(void **state)
{
    struct inmsg m;

    (void)state;
    say("m1", "hello world");
    expect_log(2, "reply alice@x: Posted #1.", "receipt " ALICE " m1");
    say("m2", "help");
    expect_log(2, "reply alice@x: ", "receipt " ALICE " m2");
    say("m3", "second post");
    expect_log(2, "Posted #2.", "receipt " ALICE " m3");
    /* Over posts_per_minute: refused, and still received. */
    say("m4", "one too many");
    expect_log(2, "too fast", "receipt " ALICE " m4");
    assert_int_equal(posts(), 2);
    /* Someone who is not a user is told to add the bot, and has it. */
    m = msg("m5", "hi");
    m.from = "stranger@y/pc";
    dispatch_message(&T.bot, &m);
    expect_log(2, "reply stranger@y: Hi! Add me", "receipt stranger@y/pc m5");
    /* No request, or no id to acknowledge: no receipt. */
    m = msg("m6", "help");
    m.receipt_request = false;
    dispatch_message(&T.bot, &m);
    expect_log(1, "reply alice@x: ");
    say(NULL, "help");
    expect_log(1, "reply alice@x: ");
}

/* What is ignored gets nothing back, not even a receipt. */
static void test_no_receipt_when_ignored(void **state)
{
    static const char *const types[] = {"error", "groupchat", "headline"};
    struct inmsg m;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        m = msg("i1", "help");
        m.type = types[i];
        dispatch_message(&T.bot, &m);
    }
    say("i2", NULL); /* a chat state, a marker */
    say("i3", "[Auto-reply] I am on holiday");
    m = msg("i4", "help");
    m.from = "example.org"; /* a server */
    dispatch_message(&T.bot, &m);
    m = msg("i5", "help");
    m.from = "bot@x/other"; /* ourselves */
    dispatch_message(&T.bot, &m);
    expect_log(0);
    /* Over the budget: one warning, then silence. */
    for (int i = 0; i < BUDGET_PER_MINUTE; i++)
        say("i6", "help");
    T.n = 0;
    say("i7", "help");
    expect_log(1, "too many messages");
    say("i8", "help");
    expect_log(0);
    assert_int_equal(posts(), 0);
}

/* An encrypted message is never posted; the sender is told once per
 * BUDGET_TELL_SECONDS, and every one of them is received. */
static void test_encrypted_told_once(void **state)
{
    struct inmsg m = msg("e1", "I sent you an OMEMO encrypted message but "
                               "your client doesn't seem to support that.");

    (void)state;
    m.crypto = CRYPTO_OMEMO;
    dispatch_message(&T.bot, &m);
    expect_log(2, "reply alice@x: I can't read encrypted messages",
               "receipt " ALICE " e1");
    T.now += 60;
    m.id = "e2";
    dispatch_message(&T.bot, &m);
    expect_log(1, "receipt " ALICE " e2");
    m.crypto = CRYPTO_OTR;
    m.body = "?OTRv23?";
    m.id = "e3";
    dispatch_message(&T.bot, &m);
    expect_log(1, "receipt " ALICE " e3");
    T.now += BUDGET_TELL_SECONDS;
    m.id = "e4";
    dispatch_message(&T.bot, &m);
    expect_log(2, "I can't read encrypted messages", "receipt " ALICE " e4");
    assert_int_equal(posts(), 0);
}

/* What clients wrap around a gesture is never posted: a retraction's
 * fallback body, a correction (it edits), a reaction (passed on).  Each is
 * answered (reactions silently) and its receipt sent. */
static void test_gestures_are_not_posts(void **state)
{
    struct inmsg m;

    (void)state;
    say("m1", "hello wrold");
    expect_log(2, "Posted #1.", "receipt " ALICE " m1");
    m = msg("g2", "hello world, corrected");
    m.replace_id = "m1";
    dispatch_message(&T.bot, &m);
    expect_log(2, "Edited #1.", "receipt " ALICE " g2");
    m = msg("g3", NULL);
    m.reaction_id = "starling-1-2";
    dispatch_message(&T.bot, &m);
    expect_log(1, "receipt " ALICE " g3");
    m = msg("g1", "This person attempted to retract a previous message, "
                  "but it's unsupported by your client.");
    m.retract_id = "m1";
    dispatch_message(&T.bot, &m);
    expect_log(2, "Deleted #1.", "receipt " ALICE " g1");
    /* A retraction without a body is understood too. */
    m = msg("g4", NULL);
    m.retract_id = "m1";
    dispatch_message(&T.bot, &m);
    expect_log(2, "That message was not a post of yours",
               "receipt " ALICE " g4");
    assert_int_equal(posts(), 0);
}

static void test_budget_warns_once_then_mutes(void **state)
{
    struct budget *b = budget_new(BUDGET_PER_MINUTE, BUDGET_MUTE_SECONDS);
    time_t t = 1000;

    (void)state;
    for (int i = 0; i < BUDGET_PER_MINUTE; i++)
        assert_int_equal(budget_charge(b, "a@x", t), BUDGET_OK);
    assert_int_equal(budget_charge(b, "a@x", t), BUDGET_WARN);
    assert_int_equal(budget_charge(b, "a@x", t + 1), BUDGET_MUTE);
    assert_int_equal(budget_charge(b, "a@x", t + 60), BUDGET_MUTE);
    /* Someone else is not affected. */
    assert_int_equal(budget_charge(b, "b@x", t + 1), BUDGET_OK);
    /* After the mute the JID is heard again. */
    assert_int_equal(budget_charge(b, "a@x", t + BUDGET_MUTE_SECONDS + 1),
                     BUDGET_OK);
    budget_free(b);
}

static void test_budget_window_resets(void **state)
{
    struct budget *b = budget_new(BUDGET_PER_MINUTE, BUDGET_MUTE_SECONDS);

    (void)state;
    for (int minute = 0; minute < 5; minute++)
        for (int i = 0; i < BUDGET_PER_MINUTE; i++)
            assert_int_equal(budget_charge(b, "a@x", 1000 + minute * 60),
                             BUDGET_OK);
    budget_free(b);
}

static void test_budget_tell_once(void **state)
{
    struct budget *b = budget_new(BUDGET_PER_MINUTE, BUDGET_MUTE_SECONDS);

    (void)state;
    assert_int_equal(budget_charge(b, "a@x", 1000), BUDGET_OK);
    assert_true(budget_tell_once(b, "a@x", 1000));
    assert_false(budget_tell_once(b, "a@x", 1001));
    /* Remembered past the sweep of idle budget entries. */
    assert_int_equal(budget_charge(b, "z@x", 1000 + 300), BUDGET_OK);
    assert_false(budget_tell_once(b, "a@x", 1000 + 300));
    assert_true(budget_tell_once(b, "b@x", 1001));
    assert_true(budget_tell_once(b, "a@x", 1000 + BUDGET_TELL_SECONDS));
    budget_free(b);
}

static void test_budget_many_jids(void **state)
{
    struct budget *b = budget_new(BUDGET_PER_MINUTE, BUDGET_MUTE_SECONDS);
    char jid[32];

    (void)state;
    /* A flood of distinct JIDs grows the table and is swept later. */
    for (int i = 0; i < 20000; i++) {
        snprintf(jid, sizeof(jid), "u%d@x", i);
        assert_int_equal(budget_charge(b, jid, 1000), BUDGET_OK);
    }
    snprintf(jid, sizeof(jid), "u%d@x", 7);
    assert_int_equal(budget_charge(b, jid, 1001), BUDGET_OK);
    assert_int_equal(budget_charge(b, "late@x", 2000), BUDGET_OK);
    budget_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ignored_types),
        cmocka_unit_test(test_handled_types),
        cmocka_unit_test(test_no_body),
        cmocka_unit_test(test_auto_replies),
        cmocka_unit_test(test_extensions_before_body),
        cmocka_unit_test_setup_teardown(test_receipts_for_handled_messages,
                                        bot_setup, bot_teardown),
        cmocka_unit_test_setup_teardown(test_no_receipt_when_ignored, bot_setup,
                                        bot_teardown),
        cmocka_unit_test_setup_teardown(test_encrypted_told_once, bot_setup,
                                        bot_teardown),
        cmocka_unit_test_setup_teardown(test_gestures_are_not_posts, bot_setup,
                                        bot_teardown),
        cmocka_unit_test(test_budget_warns_once_then_mutes),
        cmocka_unit_test(test_budget_window_resets),
        cmocka_unit_test(test_budget_tell_once),
        cmocka_unit_test(test_budget_many_jids),
    };

    if (match_init() < 0)
        return 1;
    return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
