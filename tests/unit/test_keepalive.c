/*
 * test_keepalive.c - when a stream to the server counts as dead: a ping
 * after a silence, and only a server that shows no sign of life for
 * KA_TIMEOUT seconds after it is given up.  A ping that waits behind the
 * bot's own backlog, or a busy server that keeps sending, is not a dead
 * stream (both were: the bot dropped a live link, and with it everything
 * queued, again and again).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "keepalive.h"

#define T0 1000

/* Look every 5 s from t0 to t1 with nothing waiting for the server;
 * returns the first action that is not KA_NOTHING, or KA_NOTHING. */
static enum ka_action idle(struct keepalive *k, time_t t0, time_t t1,
                           time_t *when)
{
    for (time_t t = t0; t <= t1; t += 5) {
        enum ka_action a = ka_tick(k, t, 0, 0);

        if (a != KA_NOTHING) {
            *when = t;
            return a;
        }
    }
    return KA_NOTHING;
}

/* A fresh stream left idle: the time of its first ping. */
static time_t pinged(struct keepalive *k)
{
    time_t when = 0;

    ka_reset(k, T0);
    assert_int_equal(idle(k, T0, T0 + 120, &when), KA_PING);
    assert_int_equal(when, T0 + KA_PERIOD);
    return when;
}

static void test_ping_after_silence_then_dead(void **state)
{
    struct keepalive k;
    time_t when = pinged(&k);

    (void)state;
    /* A frozen server: nothing comes, nothing is taken. */
    assert_int_equal(idle(&k, when, when + 60, &when), KA_DEAD);
    assert_int_equal(when, T0 + KA_PERIOD + KA_TIMEOUT);
}

static void test_answer_resets(void **state)
{
    struct keepalive k;
    time_t when = pinged(&k);

    (void)state;
    ka_reset(&k, when + 1); /* answered */
    assert_int_equal(idle(&k, when + 5, when + 60, &when), KA_NOTHING);
}

/* Traffic from the server means it is there: no ping while it talks, and
 * an outstanding ping is not overdue while stanzas keep coming. */
static void test_a_server_that_talks_is_alive(void **state)
{
    struct keepalive k;
    time_t t;

    (void)state;
    ka_reset(&k, T0);
    for (t = T0; t < T0 + 300; t += 5) {
        ka_heard(&k, t);
        assert_int_equal(ka_tick(&k, t, 0, 0), KA_NOTHING);
    }
    /* Silence: a ping; then stanzas keep coming without its answer (it
     * waits behind them on the server). */
    t += KA_PERIOD;
    assert_int_equal(ka_tick(&k, t, 0, 0), KA_PING);
    for (int i = 0; i < 60; i++) {
        t += 5;
        ka_heard(&k, t);
        assert_int_equal(ka_tick(&k, t, 0, 0), KA_NOTHING);
    }
    /* Then nothing at all: dead KA_TIMEOUT s after the last word. */
    assert_int_equal(ka_tick(&k, t + KA_TIMEOUT - 1, 0, 0), KA_NOTHING);
    assert_int_equal(ka_tick(&k, t + KA_TIMEOUT, 0, 0), KA_DEAD);
}

/* The ping behind the bot's own backlog (thousands of greetings, a
 * throttled server that takes 3,000 bytes a second): as long as the
 * server takes some of it, the stream is alive. */
static void test_a_ping_behind_a_draining_backlog(void **state)
{
    struct keepalive k;
    time_t t = T0 + KA_PERIOD;
    long stanzas = 5000, bytes = 4 << 20;

    (void)state;
    ka_reset(&k, T0);
    assert_int_equal(ka_tick(&k, t, stanzas, bytes), KA_PING);
    for (int i = 0; i < 100; i++) { /* 500 s of draining */
        t += 5;
        if (i % 2 == 0)
            stanzas -= 10; /* libstrophe wrote some */
        else
            bytes -= 15000; /* the server read some */
        assert_int_equal(ka_tick(&k, t, stanzas, bytes), KA_NOTHING);
    }
    /* It stops taking anything: dead after KA_TIMEOUT. */
    assert_int_equal(ka_tick(&k, t + 25, stanzas, bytes), KA_NOTHING);
    assert_int_equal(ka_tick(&k, t + KA_TIMEOUT, stanzas, bytes), KA_DEAD);
}

/* A backlog that only grows is no sign of life (the bot keeps queuing to
 * a server that has stopped), and an unknown socket queue counts for
 * nothing. */
static void test_growing_or_unknown_backlog_is_not_life(void **state)
{
    struct keepalive k;
    time_t t = T0 + KA_PERIOD;
    long stanzas = 10;

    (void)state;
    ka_reset(&k, T0);
    assert_int_equal(ka_tick(&k, t, stanzas, -1), KA_PING);
    for (int i = 1; i < KA_TIMEOUT / 5; i++)
        assert_int_equal(ka_tick(&k, t + 5 * i, stanzas += 50, -1), KA_NOTHING);
    assert_int_equal(ka_tick(&k, t + KA_TIMEOUT, stanzas += 50, -1), KA_DEAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_after_silence_then_dead),
        cmocka_unit_test(test_answer_resets),
        cmocka_unit_test(test_a_server_that_talks_is_alive),
        cmocka_unit_test(test_a_ping_behind_a_draining_backlog),
        cmocka_unit_test(test_growing_or_unknown_backlog_is_not_life),
    };

    return cmocka_run_group_tests_name("keepalive", tests, NULL, NULL);
}
