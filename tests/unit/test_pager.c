/*
 * test_pager.c - where listings stopped: kept per user, replaced by the
 * next listing, dropped when it ends, and bounded (the least recently
 * used user is forgotten first).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pager.h"

static struct page_state state(enum page_kind kind, int64_t key)
{
    struct page_state s;

    memset(&s, 0, sizeof(s));
    s.kind = kind;
    s.size = 10;
    s.key = key;
    return s;
}

static void test_put_get_drop(void **state_)
{
    struct pager *p = pager_new(8);
    struct page_state s = state(PAGE_SEARCH, 42), got;

    (void)state_;
    snprintf(s.text, sizeof(s.text), "xmpp bots");
    assert_false(pager_get(p, 1, &got));
    pager_put(p, 1, &s);
    assert_true(pager_get(p, 1, &got));
    assert_int_equal(got.kind, PAGE_SEARCH);
    assert_int_equal(got.key, 42);
    assert_string_equal(got.text, "xmpp bots");
    assert_false(pager_get(p, 2, &got));
    /* The next listing replaces the last one. */
    s = state(PAGE_FOLLOWERS, 7);
    pager_put(p, 1, &s);
    assert_true(pager_get(p, 1, &got));
    assert_int_equal(got.kind, PAGE_FOLLOWERS);
    pager_drop(p, 1);
    assert_false(pager_get(p, 1, &got));
    pager_drop(p, 1);
    pager_free(p);
}

static void test_bounded_least_recently_used(void **state_)
{
    struct pager *p = pager_new(2);
    struct page_state s = state(PAGE_TIMELINE, 1), got;

    (void)state_;
    pager_put(p, 1, &s);
    pager_put(p, 2, &s);
    assert_true(pager_get(p, 1, &got)); /* 2 is now the oldest */
    pager_put(p, 3, &s);
    assert_true(pager_get(p, 1, &got));
    assert_true(pager_get(p, 3, &got));
    assert_false(pager_get(p, 2, &got));
    /* A dropped slot is reused before anyone is evicted. */
    pager_drop(p, 1);
    pager_put(p, 4, &s);
    assert_true(pager_get(p, 3, &got));
    assert_true(pager_get(p, 4, &got));
    pager_free(p);
}

static void test_no_pager(void **state_)
{
    struct page_state s = state(PAGE_TIMELINE, 1), got;

    (void)state_;
    pager_put(NULL, 1, &s);
    assert_false(pager_get(NULL, 1, &got));
    pager_drop(NULL, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_drop),
        cmocka_unit_test(test_bounded_least_recently_used),
        cmocka_unit_test(test_no_pager),
    };

    return cmocka_run_group_tests_name("pager", tests, NULL, NULL);
}
