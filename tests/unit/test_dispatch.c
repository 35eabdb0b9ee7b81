/*
 * test_dispatch.c - which received messages the bot acts on (SPEC 7), and
 * the per-JID message budget that keeps it from being used as a flooder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "budget.h"
#include "dispatch.h"

static void test_ignored_types(void **state)
{
    (void)state;
    assert_int_equal(dispatch_classify("error", "help"), MSG_IGNORE_TYPE);
    assert_int_equal(dispatch_classify("groupchat", "help"), MSG_IGNORE_TYPE);
    assert_int_equal(dispatch_classify("headline", "help"), MSG_IGNORE_TYPE);
}

static void test_handled_types(void **state)
{
    (void)state;
    assert_int_equal(dispatch_classify("chat", "help"), MSG_HANDLE);
    assert_int_equal(dispatch_classify("normal", "hello"), MSG_HANDLE);
    /* No type attribute means "normal" (RFC 6121). */
    assert_int_equal(dispatch_classify(NULL, "hello"), MSG_HANDLE);
}

static void test_no_body(void **state)
{
    (void)state;
    assert_int_equal(dispatch_classify("chat", NULL), MSG_IGNORE_NOBODY);
    assert_int_equal(dispatch_classify("chat", ""), MSG_IGNORE_NOBODY);
    /* White space only is a body: an empty post, refused with a reply. */
    assert_int_equal(dispatch_classify("chat", " \n\t "), MSG_HANDLE);
}

static void test_auto_replies(void **state)
{
    (void)state;
    assert_int_equal(dispatch_classify("chat", "[Auto-reply] I am away"),
                     MSG_IGNORE_AUTO);
    assert_int_equal(dispatch_classify("chat", "Auto-Response: on leave"),
                     MSG_IGNORE_AUTO);
    assert_int_equal(dispatch_classify("chat", "  ?OTRv23?"), MSG_IGNORE_AUTO);
    assert_int_equal(dispatch_classify("chat", "?OTR:AAMD"), MSG_IGNORE_AUTO);
    /* Mentioning the words later is an ordinary post. */
    assert_int_equal(dispatch_classify("chat", "my [Auto-reply] is broken"),
                     MSG_HANDLE);
}

static void test_budget_warns_once_then_mutes(void **state)
{
    struct budget *b = budget_new();
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
    struct budget *b = budget_new();

    (void)state;
    for (int minute = 0; minute < 5; minute++)
        for (int i = 0; i < BUDGET_PER_MINUTE; i++)
            assert_int_equal(budget_charge(b, "a@x", 1000 + minute * 60),
                             BUDGET_OK);
    budget_free(b);
}

static void test_budget_many_jids(void **state)
{
    struct budget *b = budget_new();
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
        cmocka_unit_test(test_budget_warns_once_then_mutes),
        cmocka_unit_test(test_budget_window_resets),
        cmocka_unit_test(test_budget_many_jids),
    };

    return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
