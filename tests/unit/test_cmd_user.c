/*
 * test_cmd_user.c - the user command handlers run against an in-memory
 * store, a real presence table and delivery engine, and recorded sends:
 * what a user is told, and what reaches the others.
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

#include "commands.h"
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

static size_t op_room(void *ud)
{
    (void)ud;
    return 1000;
}

static int op_send(void *ud, const struct outmsg *m)
{
    (void)ud;
    buf_printf(&T.out, "%s <- %s [%s%s%s]\n", m->to, m->body, m->id,
               m->replace_id ? " replaces " : "",
               m->replace_id ? m->replace_id : "");
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

static int setup(void **state)
{
    (void)state;
    memset(&T, 0, sizeof(T));
    T.now = 100000;
    T.cfg.bot.post_max_chars = 500;
    T.cfg.bot.posts_per_minute = 3;
    T.cfg.delivery.backlog_max = 20;
    T.bot.cfg = &T.cfg;
    T.bot.store = store_open(":memory:");
    T.bot.presence = presence_new();
    T.bot.budget = budget_new();
    T.bot.delivery = delivery_new(T.bot.store, T.bot.presence, &ops, NULL);
    T.bot.now = fake_now;
    T.bot.reply = fake_reply;
    snprintf(T.bot.self, sizeof(T.bot.self), "bot@x");
    store_user_create(T.bot.store, "alice@x", "alice", false, 1, &T.alice);
    store_user_create(T.bot.store, "bob@x", "bob", false, 1, &T.bob);
    store_follow(T.bot.store, T.bob.id, T.alice.id, 1);
    presence_update(T.bot.presence, "bob@x/phone", SHOW_AVAILABLE, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    delivery_free(T.bot.delivery);
    budget_free(T.bot.budget);
    presence_free(T.bot.presence);
    store_close(T.bot.store);
    buf_free(&T.out);
    buf_free(&T.notes);
    return 0;
}

/* Run one message from u with stanza id id; the reply, to be freed. */
static char *say(struct user *u, const char *id, const char *text)
{
    struct buf reply = {0};
    struct cmd_ctx c = {
        .bot = &T.bot, .user = u, .stanza_id = id, .reply = &reply};
    char *msg = xstrdup(text);

    cmd_handle(&c, msg);
    delivery_pump(T.bot.delivery);
    /* The server takes everything at once. */
    for (size_t i = 0; i < T.ntokens; i++)
        delivery_barrier_done(T.bot.delivery, T.tokens[i]);
    T.ntokens = 0;
    free(msg);
    return reply.s != NULL ? reply.s : xstrdup("");
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

#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T_(test_reused_ids_are_new_messages),
        T_(test_resend_at_the_rate_limit_gets_its_number),
    };

    return cmocka_run_group_tests_name("cmd_user", tests, NULL, NULL);
}
