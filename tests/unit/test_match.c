/*
 * test_match.c - mentions, tags, track words and the allow-list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "util.h"

/* Collected items joined by ',' */
static int join_cb(void *ud, const char *item)
{
    struct buf *b = ud;

    buf_printf(b, "%s%s", b->len ? "," : "", item);
    return 0;
}

static char *mentions(const char *text, size_t max)
{
    struct buf b = {0};

    match_mentions(text, max, join_cb, &b);
    return b.s != NULL ? b.s : xstrdup("");
}

static void test_mentions(void **state)
{
    char *s;

    (void)state;
    s = mentions("hi @Alice and @bob_2, again @alice!", 50);
    assert_string_equal(s, "alice,bob_2");
    free(s);
    s = mentions("mail bob@example.org or @@carol", 50);
    assert_string_equal(s, "");
    free(s);
    /* 33 characters: no valid nick. */
    s = mentions("@abcdefghijklmnopqrstuvwxyz0123456", 50);
    assert_string_equal(s, "");
    free(s);
}

static void test_mentions_capped(void **state)
{
    struct buf text = {0};
    char *s;
    size_t n;

    (void)state;
    for (int i = 0; i < 10000; i++)
        buf_printf(&text, "@u%d ", i);
    n = match_mentions(text.s, 50, NULL, NULL);
    assert_int_equal(n, 50);
    s = mentions(text.s, 3);
    assert_string_equal(s, "u0,u1,u2");
    free(s);
    buf_free(&text);
}

static void test_tags(void **state)
{
    struct buf b = {0};

    (void)state;
    match_tags("#XMPP rocks, see #12 and #c99 &#38; #\xc3\xa9t\xc3\xa9", 50,
               join_cb, &b);
    assert_string_equal(b.s, "xmpp,c99,\xc3\xa9t\xc3\xa9");
    buf_free(&b);
}

static void test_words_unicode_lowercase(void **state)
{
    struct buf b = {0};

    (void)state;
    match_words("\xc3\x89"
                "COLE and Rust, rust! snake_case",
                50, join_cb, &b);
    assert_string_equal(b.s, "\xc3\xa9"
                             "cole,and,rust,snake_case");
    buf_free(&b);
    /* Invalid UTF-8 is no input at all, not a crash. */
    assert_int_equal(match_words("ab\xc0\xaf", 50, NULL, NULL), 0);
}

static void test_allowlist(void **state)
{
    const char *pats[] = {"^[^@]+@example\\.org$", "^boss@"};
    struct allowlist *a;
    char err[256];

    (void)state;
    a = match_allow_new(pats, 2, err, sizeof(err));
    assert_non_null(a);
    assert_true(match_allow(a, "alice@example.org"));
    assert_true(match_allow(a, "boss@elsewhere.net"));
    assert_false(match_allow(a, "alice@example.org.evil"));
    assert_false(match_allow(a, "mallory@evil.net"));
    match_allow_free(a);
    assert_int_equal(match_pattern_check("(", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not compile"));
}

static void test_pathological_pattern_is_bounded(void **state)
{
    const char *pats[] = {"^(a+)+$"};
    struct allowlist *a;
    char err[256], jid[80];

    (void)state;
    a = match_allow_new(pats, 1, err, sizeof(err));
    assert_non_null(a);
    memset(jid, 'a', 60);
    strcpy(jid + 60, "b@x");
    /* Without the match limit this would backtrack for ages (2^60);
     * with it the pattern simply does not match. */
    assert_false(match_allow(a, jid));
    match_allow_free(a);
}

static int setup(void **state)
{
    (void)state;
    return match_init();
}

static int teardown(void **state)
{
    (void)state;
    match_done();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mentions),
        cmocka_unit_test(test_mentions_capped),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_words_unicode_lowercase),
        cmocka_unit_test(test_allowlist),
        cmocka_unit_test(test_pathological_pattern_is_bounded),
    };

    return cmocka_run_group_tests_name("match", tests, setup, teardown);
}
