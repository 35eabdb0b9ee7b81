/*
 * test_subscribe.c - the subscription path (SPEC 3) on a real in-memory
 * store with the bot's hooks recorded: policy, the subscription budgets
 * per JID and per domain, leaving, reserved nicks and the roster
 * reconciled at login.
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

#include "budget.h"
#include "dispatch.h"
#include "queries.h"

/* The subscription path ------------------------------------------------- */

static struct {
    struct config cfg;
    struct bot bot;
    struct buf out; /* what went out, a line each */
    time_t now;
    FILE *log; /* stderr while capture_log() is on */
    int saved_stderr;
} T;

static char boss[] = "boss@example.org", flood_boss[] = "chief@flood.example";
static char *admins[] = {boss, flood_boss};

static time_t t_now(void)
{
    return T.now;
}

/* "reply TO: TEXT" up to the first '!' or '.', e.g. "Welcome to
 * Starling, alice". */
static void t_reply(struct bot *b, const char *to, const char *text)
{
    (void)b;
    buf_printf(&T.out, "reply %s: %.*s\n", to, (int)strcspn(text, "!."), text);
}

static void t_subscription(struct bot *b, const char *to, const char *type)
{
    (void)b;
    buf_printf(&T.out, "%s %s\n", type, to);
}

static size_t op_room(void *ud)
{
    (void)ud;
    return 0; /* updates are not what these tests look at */
}

static int op_send(void *ud, const struct outmsg *m)
{
    (void)ud, (void)m;
    return 0;
}

static int op_barrier(void *ud, uint64_t *token)
{
    (void)ud, (void)token;
    return -1;
}

static const struct delivery_ops ops = {op_room, op_send, op_barrier};

static int bot_setup(void **state)
{
    (void)state;
    memset(&T, 0, sizeof(T));
    T.now = 100000;
    T.cfg.bot.subscription = SUB_OPEN;
    T.cfg.bot.admins = admins;
    T.cfg.bot.n_admins = 2;
    T.bot.cfg = &T.cfg;
    T.bot.store = store_open(":memory:");
    T.bot.presence = presence_new();
    T.bot.delivery = delivery_new(T.bot.store, T.bot.presence, &ops, NULL);
    T.bot.budget = budget_new(BUDGET_PER_MINUTE, BUDGET_MUTE_SECONDS);
    T.bot.subs_jid = budget_new(SUBS_PER_JID_MINUTE, SUBS_JID_MUTE_SECONDS);
    T.bot.subs_domain =
        budget_new(SUBS_PER_DOMAIN_MINUTE, SUBS_DOMAIN_MUTE_SECONDS);
    snprintf(T.bot.self, sizeof(T.bot.self), "updates@example.org");
    T.bot.now = t_now;
    T.bot.reply = t_reply;
    T.bot.subscription = t_subscription;
    return T.bot.store != NULL ? 0 : -1;
}

static int bot_teardown(void **state)
{
    (void)state;
    delivery_free(T.bot.delivery);
    presence_free(T.bot.presence);
    budget_free(T.bot.budget);
    budget_free(T.bot.subs_jid);
    budget_free(T.bot.subs_domain);
    match_allow_free(T.bot.allow);
    store_close(T.bot.store);
    buf_free(&T.out);
    return 0;
}

/* What went out since the last call. */
static char *take(void)
{
    static char copy[8192];

    snprintf(copy, sizeof(copy), "%s", buf_str(&T.out));
    buf_reset(&T.out);
    return copy;
}

static void sub(const char *jid, enum sub_kind kind)
{
    dispatch_subscription(&T.bot, jid, T.bot.self, kind);
}

/* 1 active, 0 inactive, -1 unknown. */
static int active(const char *jid)
{
    struct user u;

    if (store_user_by_jid(T.bot.store, jid, &u) != 1)
        return -1;
    return u.active;
}

static const char *nick_of(const char *jid)
{
    static struct user u;

    assert_int_equal(store_user_by_jid(T.bot.store, jid, &u), 1);
    return u.nick;
}

/* Log lines (stderr) from now on go to a file read by captured_log(). */
static void capture_log(void)
{
    fflush(stderr);
    T.log = tmpfile();
    assert_non_null(T.log);
    T.saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(T.log), STDERR_FILENO);
}

/* Stop capturing; how many captured lines contain text. */
static int captured_log(const char *text)
{
    char line[1024];
    int n = 0;

    fflush(stderr);
    dup2(T.saved_stderr, STDERR_FILENO);
    close(T.saved_stderr);
    rewind(T.log);
    while (fgets(line, sizeof(line), T.log) != NULL)
        if (strstr(line, text) != NULL)
            n++;
    fclose(T.log);
    return n;
}

static void test_subscribe_open(void **state)
{
    (void)state;
    sub("Alice@Example.net/phone", SUB_SUBSCRIBE);
    assert_string_equal(take(), "subscribed alice@example.net\n"
                                "subscribe alice@example.net\n"
                                "reply alice@example.net: Welcome to "
                                "Starling, alice\n");
    assert_int_equal(active("alice@example.net"), 1);
    /* Asking again (a client re-syncing) is approved, without a second
     * welcome. */
    sub("alice@example.net", SUB_SUBSCRIBE);
    assert_string_equal(take(), "subscribed alice@example.net\n"
                                "subscribe alice@example.net\n");
    /* A server, and the bot itself, are no users. */
    sub("example.net", SUB_SUBSCRIBE);
    sub("updates@example.org/x", SUB_SUBSCRIBE);
    assert_string_equal(take(), "");
}

static void test_subscribe_allowlist_and_closed(void **state)
{
    const char *patterns[] = {"^al[a-z]*@example\\.net$"};
    char err[256];

    (void)state;
    assert_int_equal(match_init(), 0);
    T.bot.allow = match_allow_new(patterns, 1, err, sizeof(err));
    assert_non_null(T.bot.allow);
    T.cfg.bot.subscription = SUB_ALLOWLIST;
    sub("alice@example.net", SUB_SUBSCRIBE);
    assert_non_null(strstr(take(), "subscribed alice@example.net\n"));
    sub("eve@example.net", SUB_SUBSCRIBE);
    assert_string_equal(take(), "unsubscribed eve@example.net\n");
    assert_int_equal(active("eve@example.net"), -1);

    T.cfg.bot.subscription = SUB_CLOSED;
    sub("alfred@example.net", SUB_SUBSCRIBE);
    assert_string_equal(take(), "unsubscribed alfred@example.net\n");
    assert_int_equal(active("alfred@example.net"), -1);
    /* Admins always get in. */
    sub("boss@example.org", SUB_SUBSCRIBE);
    assert_non_null(strstr(take(), "Welcome to Starling, boss\n"));
    assert_int_equal(active("boss@example.org"), 1);
    match_done();
}

static int64_t held(int64_t user)
{
    int64_t n;

    assert_int_equal(store_outbox_count_user(T.bot.store, user, &n), 0);
    return n;
}

/* follower (a user) follows author (a user), who posts: one update is
 * held for follower.  Returns follower's id. */
static int64_t hold_one(const char *follower, const char *author)
{
    struct user f, a;
    struct post_new p = {.body = "hello", .created = 1};
    int64_t id;

    assert_int_equal(store_user_by_jid(T.bot.store, follower, &f), 1);
    assert_int_equal(store_user_by_jid(T.bot.store, author, &a), 1);
    assert_int_equal(store_follow(T.bot.store, f.id, a.id, 1), 0);
    p.author = a.id;
    assert_int_equal(store_post_add(T.bot.store, &p, &id, NULL), 0);
    assert_int_equal(held(f.id), 1);
    return f.id;
}

static void test_unsubscribe_makes_inactive(void **state)
{
    struct user u;
    int64_t bob;

    (void)state;
    sub("alice@example.net", SUB_SUBSCRIBE);
    sub("bob@example.net", SUB_SUBSCRIBE);
    take();
    bob = hold_one("bob@example.net", "alice@example.net");

    sub("bob@example.net", SUB_UNSUBSCRIBE);
    assert_int_equal(active("bob@example.net"), 0);
    assert_int_equal(held(bob), 0);
    sub("alice@example.net/x", SUB_UNSUBSCRIBED);
    assert_int_equal(active("alice@example.net"), 0);
    assert_string_equal(take(), ""); /* leaving is not answered */
    /* Coming back: the same user, welcomed again; follows kept. */
    sub("bob@example.net", SUB_SUBSCRIBE);
    assert_non_null(strstr(take(), "Welcome to Starling, bob\n"));
    assert_int_equal(store_user_by_jid(T.bot.store, "bob@example.net", &u), 1);
    assert_int_equal(u.id, bob);
    assert_int_equal(store_user_by_jid(T.bot.store, "alice@example.net", &u),
                     1);
    assert_int_equal(store_is_following(T.bot.store, bob, u.id), 1);
}

/* Issue 12 item 8: a JID flapping add/remove gets SUBS_PER_JID_MINUTE
 * approvals (and welcomes), then refusals for SUBS_JID_MUTE_SECONDS; one
 * log line says so. */
static void test_subscription_budget_per_jid(void **state)
{
    char *out;
    int welcomes = 0;

    (void)state;
    capture_log();
    for (int i = 0; i < 20; i++) {
        sub("flap@example.net", SUB_SUBSCRIBE);
        sub("flap@example.net", SUB_UNSUBSCRIBE);
    }
    assert_int_equal(captured_log("flap@example.net sent more than"), 1);
    for (out = take(); (out = strstr(out, "Welcome")) != NULL; out++)
        welcomes++;
    assert_int_equal(welcomes, SUBS_PER_JID_MINUTE);
    /* Someone else of the same domain is not affected. */
    sub("calm@example.net", SUB_SUBSCRIBE);
    assert_non_null(strstr(take(), "Welcome to Starling, calm\n"));
    T.now += 60;
    sub("flap@example.net", SUB_SUBSCRIBE);
    assert_string_equal(take(), "unsubscribed flap@example.net\n");
    assert_int_equal(active("flap@example.net"), 0);
    T.now += SUBS_JID_MUTE_SECONDS;
    sub("flap@example.net", SUB_SUBSCRIBE);
    assert_non_null(strstr(take(), "Welcome to Starling, flap\n"));
}

/* Issue 12 item 8: throw-away JIDs of one domain get
 * SUBS_PER_DOMAIN_MINUTE approvals in a minute; the rest are refused and
 * not stored, with one log line; other domains and admins are not
 * affected, and the domain gets in again once the minute is over. */
static void test_subscription_budget_per_domain(void **state)
{
    char jid[64];
    struct store_stats st;

    (void)state;
    capture_log();
    for (int i = 0; i < 3 * SUBS_PER_DOMAIN_MINUTE; i++) {
        snprintf(jid, sizeof(jid), "u%d@flood.example", i);
        sub(jid, SUB_SUBSCRIBE);
        if (i < SUBS_PER_DOMAIN_MINUTE)
            assert_non_null(strstr(take(), "Welcome"));
        else
            assert_true(strncmp(take(), "unsubscribed u", 14) == 0);
    }
    assert_int_equal(captured_log("requests in a minute from flood.example"),
                     1);
    assert_int_equal(store_stats(T.bot.store, &st), 0);
    assert_int_equal(st.users, SUBS_PER_DOMAIN_MINUTE);
    snprintf(jid, sizeof(jid), "u%d@flood.example", SUBS_PER_DOMAIN_MINUTE);
    assert_int_equal(active(jid), -1);
    sub("carol@elsewhere.example", SUB_SUBSCRIBE);
    assert_non_null(strstr(take(), "Welcome to Starling, carol\n"));
    sub("chief@flood.example", SUB_SUBSCRIBE);
    assert_non_null(strstr(take(), "Welcome to Starling, chief\n"));
    T.now += SUBS_DOMAIN_MUTE_SECONDS;
    sub("late@flood.example", SUB_SUBSCRIBE);
    assert_non_null(strstr(take(), "Welcome to Starling, late\n"));
}

/* Issue 12 item 10: reserved nicks are not given at join. */
static void test_reserved_nicks_at_join(void **state)
{
    (void)state;
    sub("admin@example.net", SUB_SUBSCRIBE);
    assert_non_null(strstr(take(), "Welcome to Starling, admin2\n"));
    sub("Root@example.net", SUB_SUBSCRIBE);
    assert_string_equal(nick_of("root@example.net"), "root2");
    /* The bot's own local part. */
    sub("updates@elsewhere.example", SUB_SUBSCRIBE);
    assert_string_equal(nick_of("updates@elsewhere.example"), "updates2");
    sub("alice@example.net", SUB_SUBSCRIBE);
    assert_string_equal(nick_of("alice@example.net"), "alice");
}

static void roster(const char *jid, const char *subscription)
{
    dispatch_roster_item(&T.bot, jid, subscription);
}

/* Issue 12 item 9: the roster of a login reconciles the store both ways. */
static void test_roster_reconciles_both_ways(void **state)
{
    static const char *const users[] = {"a@x.example", "b@x.example",
                                        "c@x.example", "d@x.example"};
    int64_t d;
    char *out;

    (void)state;
    for (size_t i = 0; i < 4; i++)
        sub(users[i], SUB_SUBSCRIBE);
    sub("c@x.example", SUB_UNSUBSCRIBE);
    d = hold_one("d@x.example", "a@x.example");
    take();

    roster("a@x.example", "both");         /* stays */
    roster("b@x.example", "to");           /* removed us: inactive */
    roster("c@x.example", "from");         /* came back: active, welcome */
    roster("e@x.example", "both");         /* new: a user, welcome */
    roster("f@x.example", "none");         /* never was: nothing */
    roster("updates@example.org", "both"); /* ourselves */
    roster("x.example", "both");           /* a server */
    /* d@x.example is missing: inactive, its held update dropped */
    dispatch_roster_done(&T.bot);

    assert_int_equal(active("a@x.example"), 1);
    assert_int_equal(active("b@x.example"), 0);
    assert_int_equal(active("c@x.example"), 1);
    assert_int_equal(active("d@x.example"), 0);
    assert_int_equal(active("e@x.example"), 1);
    assert_int_equal(active("f@x.example"), -1);
    assert_int_equal(active("x.example"), -1);
    assert_int_equal(held(d), 0);
    out = take();
    assert_non_null(strstr(out, "reply c@x.example: Welcome"));
    assert_non_null(strstr(out, "reply e@x.example: Welcome"));
    assert_null(strstr(out, "a@x.example"));
    /* A second login with the same roster changes nothing. */
    roster("a@x.example", "both");
    roster("c@x.example", "both");
    roster("e@x.example", "both");
    dispatch_roster_done(&T.bot);
    assert_int_equal(active("a@x.example"), 1);
    assert_int_equal(active("e@x.example"), 1);
    assert_string_equal(take(), "");
}

static void test_roster_reconcile_policy(void **state)
{
    (void)state;
    T.cfg.bot.subscription = SUB_CLOSED;
    roster("stranger@x.example", "both");
    roster("boss@example.org", "from");
    dispatch_roster_done(&T.bot);
    assert_int_equal(active("stranger@x.example"), -1);
    assert_int_equal(active("boss@example.org"), 1);
}

/* An empty roster while users are active is a server that lost or moved
 * its roster storage, not everybody leaving at once. */
static void test_empty_roster_deactivates_nobody(void **state)
{
    (void)state;
    sub("a@x.example", SUB_SUBSCRIBE);
    capture_log();
    dispatch_roster_done(&T.bot);
    assert_int_equal(captured_log("empty roster"), 1);
    assert_int_equal(active("a@x.example"), 1);
}

/* Issue 12 item 9: reconciling a roster of N users costs a bounded number
 * of statements, not one per user. */
static void test_roster_reconcile_is_one_walk(void **state)
{
    enum { N = 2000 };
    char jid[64];
    unsigned long before;

    (void)state;
    for (int i = 0; i < N; i++) {
        struct user u;

        snprintf(jid, sizeof(jid), "u%d@x.example", i);
        assert_int_equal(
            store_user_create(T.bot.store, jid, "u", false, false, 1, &u), 0);
    }
    for (int i = 1; i < N; i++) {
        snprintf(jid, sizeof(jid), "u%d@x.example", i);
        roster(jid, "both");
    }
    before = queries;
    dispatch_roster_done(&T.bot);
    assert_in_range(queries - before, 1, 20);
    assert_int_equal(active("u0@x.example"), 0);
    assert_int_equal(active("u1999@x.example"), 1);
}

/* A user asking again (a component's subscribers answer its request with
 * one of their own) costs no budget: never refused. */
static void test_active_users_asking_again_cost_nothing(void **state)
{
    char *got;

    (void)state;
    sub("again@x.example", SUB_SUBSCRIBE);
    take();
    for (int i = 0; i < 3 * SUBS_PER_DOMAIN_MINUTE; i++) {
        sub("again@x.example", SUB_SUBSCRIBE);
        got = take();
        assert_null(strstr(got, "unsubscribed"));
    }
    assert_int_equal(active("again@x.example"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subscribe_open, bot_setup,
                                        bot_teardown),
        cmocka_unit_test_setup_teardown(
            test_active_users_asking_again_cost_nothing, bot_setup,
            bot_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_allowlist_and_closed,
                                        bot_setup, bot_teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribe_makes_inactive,
                                        bot_setup, bot_teardown),
        cmocka_unit_test_setup_teardown(test_subscription_budget_per_jid,
                                        bot_setup, bot_teardown),
        cmocka_unit_test_setup_teardown(test_subscription_budget_per_domain,
                                        bot_setup, bot_teardown),
        cmocka_unit_test_setup_teardown(test_reserved_nicks_at_join, bot_setup,
                                        bot_teardown),
        cmocka_unit_test_setup_teardown(test_roster_reconciles_both_ways,
                                        bot_setup, bot_teardown),
        cmocka_unit_test_setup_teardown(test_roster_reconcile_policy, bot_setup,
                                        bot_teardown),
        cmocka_unit_test_setup_teardown(test_empty_roster_deactivates_nobody,
                                        bot_setup, bot_teardown),
        cmocka_unit_test_setup_teardown(test_roster_reconcile_is_one_walk,
                                        bot_setup, bot_teardown),
    };

    if (match_init() < 0)
        return 1;
    return cmocka_run_group_tests_name("subscribe", tests, NULL, NULL);
}
