/*
 * test_presence.c - the presence table and the delivery rule of SPEC 6.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_show_values),
        cmocka_unit_test(test_priorities_and_resources),
        cmocka_unit_test(test_bare_jid_and_clear),
    };

    return cmocka_run_group_tests_name("presence", tests, NULL, NULL);
}
