/*
 * test_presence.c - the presence table and the delivery rule of SPEC 6.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "presence.h"

static void test_show_values(void **state)
{
    struct presence *p = presence_new();
    const struct {
        const char *show;
        bool now, away_on;
    } rules[] = {
        {NULL, true, true},  {"chat", true, true},  {"away", false, true},
        {"xa", false, true}, {"dnd", false, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        presence_update(p, "a@x/phone", presence_show_parse(rules[i].show), 0);
        assert_int_equal(presence_allows(p, "a@x", false), rules[i].now);
        assert_int_equal(presence_allows(p, "a@x", true), rules[i].away_on);
    }
    presence_remove(p, "a@x/phone");
    assert_int_equal(presence_best(p, "a@x"), SHOW_OFFLINE);
    assert_false(presence_allows(p, "a@x", true));
    presence_free(p);
}

static void test_priorities_and_resources(void **state)
{
    struct presence *p = presence_new();

    (void)state;
    /* A negative priority never counts. */
    assert_false(presence_update(p, "a@x/hidden", SHOW_CHAT, -1));
    assert_int_equal(presence_best(p, "a@x"), SHOW_OFFLINE);
    assert_int_equal(presence_online_count(p), 0);
    assert_true(presence_update(p, "a@x/desk", SHOW_DND, 0));
    assert_true(presence_update(p, "A@X/Phone", SHOW_AWAY, 5));
    /* The best show over resources wins, whatever their priority. */
    assert_int_equal(presence_best(p, "a@x"), SHOW_AWAY);
    assert_true(presence_update(p, "a@x/laptop", SHOW_AVAILABLE, 1));
    assert_int_equal(presence_best(p, "a@x"), SHOW_AVAILABLE);
    assert_true(presence_remove(p, "a@x/laptop"));
    assert_int_equal(presence_best(p, "a@x"), SHOW_AWAY);
    assert_false(presence_remove(p, "a@x/nonexistent"));
    assert_int_equal(presence_online_count(p), 1);
    presence_remove(p, "a@x/Phone");
    presence_remove(p, "a@x/desk");
    assert_int_equal(presence_online_count(p), 0);
    presence_free(p);
}

static void test_bare_jid_and_clear(void **state)
{
    struct presence *p = presence_new();
    char jid[32];

    (void)state;
    presence_update(p, "b@x", SHOW_AVAILABLE, 0);
    assert_true(presence_allows(p, "b@x", false));
    for (int i = 0; i < 5000; i++) {
        snprintf(jid, sizeof(jid), "u%d@x/r", i);
        presence_update(p, jid, SHOW_AVAILABLE, 0);
    }
    assert_int_equal(presence_online_count(p), 5001);
    assert_true(presence_allows(p, "u4999@x", false));
    for (int i = 0; i < 5000; i += 2) {
        snprintf(jid, sizeof(jid), "u%d@x/r", i);
        presence_remove(p, jid);
    }
    assert_int_equal(presence_online_count(p), 2501);
    assert_false(presence_allows(p, "u0@x", false));
    assert_true(presence_allows(p, "u1@x", false));
    presence_clear(p);
    assert_int_equal(presence_online_count(p), 0);
    assert_false(presence_allows(p, "b@x", false));
    presence_free(p);
}

/* An unavailable from the bare JID, as a presence error is passed on:
 * every resource is gone. */
static void test_bare_unavailable_removes_all(void **state)
{
    struct presence *p = presence_new();

    (void)state;
    presence_update(p, "a@x/phone", SHOW_AWAY, 0);
    presence_update(p, "a@x/desk", SHOW_AVAILABLE, 1);
    presence_update(p, "b@x/r", SHOW_AVAILABLE, 0);
    assert_int_equal(presence_online_count(p), 2);
    assert_true(presence_remove(p, "A@X"));
    assert_int_equal(presence_best(p, "a@x"), SHOW_OFFLINE);
    assert_int_equal(presence_online_count(p), 1);
    assert_true(presence_allows(p, "b@x", false));
    assert_false(presence_remove(p, "a@x")); /* nothing left to remove */
    /* The JID comes back like a new one. */
    assert_true(presence_update(p, "a@x/phone", SHOW_CHAT, 0));
    assert_int_equal(presence_online_count(p), 2);
    presence_free(p);
}

/* At most PRESENCE_RESOURCES_MAX resources per JID: the newest ones are
 * kept, a lower priority than all kept is ignored. */
static void test_resources_bounded(void **state)
{
    struct presence *p = presence_new();
    char jid[32];

    (void)state;
    for (int i = 0; i < 1000; i++) {
        snprintf(jid, sizeof(jid), "a@x/r%d", i);
        presence_update(p, jid, SHOW_AVAILABLE, 0);
    }
    /* Only the last 16 are still there: removing them leaves nothing. */
    for (int i = 1000 - PRESENCE_RESOURCES_MAX; i < 1000; i++) {
        assert_true(presence_best(p, "a@x") == SHOW_AVAILABLE);
        snprintf(jid, sizeof(jid), "a@x/r%d", i);
        presence_remove(p, jid);
    }
    assert_int_equal(presence_best(p, "a@x"), SHOW_OFFLINE);
    assert_int_equal(presence_online_count(p), 0);

    /* Full of priority 5: a priority 0 newcomer is ignored, a priority 5
     * one replaces the worst show. */
    for (int i = 0; i < PRESENCE_RESOURCES_MAX; i++) {
        snprintf(jid, sizeof(jid), "b@x/r%d", i);
        presence_update(p, jid, i == 3 ? SHOW_XA : SHOW_DND, 5);
    }
    assert_int_equal(presence_best(p, "b@x"), SHOW_XA);
    assert_false(presence_update(p, "b@x/low", SHOW_CHAT, 0));
    assert_int_equal(presence_best(p, "b@x"), SHOW_XA);
    assert_true(presence_update(p, "b@x/new", SHOW_AWAY, 5));
    assert_int_equal(presence_best(p, "b@x"), SHOW_AWAY);
    /* It took a dnd one's place, not r3's: xa is still there. */
    assert_true(presence_remove(p, "b@x/new"));
    assert_int_equal(presence_best(p, "b@x"), SHOW_XA);
    presence_free(p);
}

static void count_online(void *ud, const char *bare)
{
    int *n = ud;

    /* Every JID handed out is one of those still online: s<i>@x. */
    assert_true(bare[0] == 's' && bare[strlen(bare) - 2] == '@');
    (*n)++;
}

/* Contacts coming and going without end (a flapping client, a crowd that
 * logs in and out) leave every lookup right, and the bot's memory where it
 * was: the table and the block its addresses are kept in are rebuilt
 * along the way.  (Under AddressSanitizer mallinfo2() counts nothing.) */
static void test_comings_and_goings(void **state)
{
    struct presence *p = presence_new();
    char jid[48];
    int online = 0;
    size_t before;

    (void)state;
    for (int i = 0; i < 300; i++) {
        snprintf(jid, sizeof(jid), "s%d@x/r", i);
        presence_update(p, jid, i % 3 == 0 ? SHOW_DND : SHOW_AVAILABLE, 0);
    }
    before = mallinfo2().uordblks;
    for (int round = 0; round < 20000; round++) {
        snprintf(jid, sizeof(jid), "flapping-client-%d@example.org/r",
                 round % 7);
        presence_update(p, jid, SHOW_CHAT, 0);
        assert_true(presence_allows(p, jid, false));
        presence_remove(p, jid);
        assert_int_equal(presence_best(p, jid), SHOW_OFFLINE);
        snprintf(jid, sizeof(jid), "crowd%d@x/r", round);
        presence_update(p, jid, SHOW_AWAY, 0);
        if (round >= 50) {
            snprintf(jid, sizeof(jid), "crowd%d@x/r", round - 50);
            presence_remove(p, jid);
        }
    }
    for (int i = 0; i < 300; i++) {
        snprintf(jid, sizeof(jid), "s%d@x", i);
        assert_int_equal(presence_best(p, jid),
                         i % 3 == 0 ? SHOW_DND : SHOW_AVAILABLE);
    }
    assert_int_equal(presence_best(p, "crowd19999@x"), SHOW_AWAY);
    assert_int_equal(presence_best(p, "crowd19949@x"), SHOW_OFFLINE);
    assert_int_equal(presence_online_count(p), 300 + 50);
    /* 20,000 flaps and 20,000 logins wrote 0.8 MB of addresses. */
    assert_true(mallinfo2().uordblks < before + 64 * 1024);
    for (int round = 19950; round < 20000; round++) {
        snprintf(jid, sizeof(jid), "crowd%d@x", round);
        presence_remove(p, jid);
    }
    presence_each_online(p, count_online, &online);
    assert_int_equal(online, 300);
    presence_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_show_values),
        cmocka_unit_test(test_priorities_and_resources),
        cmocka_unit_test(test_bare_jid_and_clear),
        cmocka_unit_test(test_bare_unavailable_removes_all),
        cmocka_unit_test(test_resources_bounded),
        cmocka_unit_test(test_comings_and_goings),
    };

    return cmocka_run_group_tests_name("presence", tests, NULL, NULL);
}
