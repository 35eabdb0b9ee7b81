/*
 * test_text.c - UTF-8, post validation, JID normalisation and nicks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(utf8_valid("plain", 5));
    assert_true(utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xa6", 9));
    assert_true(utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong / */
    assert_false(utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > 10FFFF */
    assert_false(utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_false(utf8_valid("\x80", 1));             /* lone cont. */
    assert_false(utf8_valid("\xff", 1));
}

static void test_count_and_limits(void **state)
{
    char s[64];

    (void)state;
    /* e + combining acute: two code points. */
    assert_int_equal(utf8_count("e\xcc\x81", 3), 2);
    assert_int_equal(text_check_post("e\xcc\x81", 2), POST_OK);
    assert_int_equal(text_check_post("e\xcc\x81", 1), POST_TOO_LONG);
    /* Exactly at the limit passes, one more does not. */
    memset(s, 'a', 10);
    s[10] = '\0';
    assert_int_equal(text_check_post(s, 10), POST_OK);
    assert_int_equal(text_check_post(s, 9), POST_TOO_LONG);
    /* Four 4-byte emoji are four characters, not sixteen. */
    assert_int_equal(text_check_post("\xf0\x9f\x90\xa6\xf0\x9f\x90\xa6"
                                     "\xf0\x9f\x90\xa6\xf0\x9f\x90\xa6",
                                     4),
                     POST_OK);
}

static void test_post_checks(void **state)
{
    (void)state;
    assert_int_equal(text_check_post("", 500), POST_EMPTY);
    assert_int_equal(text_check_post("line\nnext\ttab", 500), POST_OK);
    assert_int_equal(text_check_post("bell\a", 500), POST_CONTROL);
    assert_int_equal(text_check_post("cr\r", 500), POST_CONTROL);
    assert_int_equal(text_check_post("esc\x1b[31m", 500), POST_CONTROL);
    assert_int_equal(text_check_post("del\x7f", 500), POST_CONTROL);
    assert_int_equal(text_check_post("nel\xc2\x85", 500), POST_CONTROL);
    assert_int_equal(text_check_post("bad\xc0\xaf", 500), POST_BAD_UTF8);
    assert_string_equal(text_post_check_reason(POST_EMPTY),
                        "Your post is empty.");
}

static void test_trim(void **state)
{
    char a[] = "  \t hello world \n ";
    char b[] = "\xc2\xa0\xe3\x80\x80x\xe2\x80\x83";
    char c[] = " \n\t ";

    (void)state;
    assert_string_equal(text_trim(a), "hello world");
    assert_string_equal(text_trim(b), "x");
    assert_string_equal(text_trim(c), "");
}

static void test_jid_bare(void **state)
{
    char out[JID_MAX + 1];

    (void)state;
    assert_int_equal(jid_bare("Alice@Example.ORG/Phone", out, sizeof(out)), 0);
    assert_string_equal(out, "alice@example.org");
    assert_int_equal(jid_bare("example.org", out, sizeof(out)), 0);
    assert_string_equal(out, "example.org");
    assert_int_equal(jid_bare("a@b/res/with/slash", out, sizeof(out)), 0);
    assert_string_equal(out, "a@b");
    assert_int_equal(jid_bare("", out, sizeof(out)), -1);
    assert_int_equal(jid_bare("@example.org", out, sizeof(out)), -1);
    assert_int_equal(jid_bare("alice@", out, sizeof(out)), -1);
    assert_int_equal(jid_bare("a@b@c", out, sizeof(out)), -1);
    assert_int_equal(jid_bare("al ice@b", out, sizeof(out)), -1);
    assert_int_equal(jid_bare("a<b@c", out, sizeof(out)), -1);
    assert_int_equal(jid_bare("a\x01@c", out, sizeof(out)), -1);
    assert_int_equal(jid_bare("a\xc0\xaf@c", out, sizeof(out)), -1);
    assert_int_equal(jid_bare("a@b", out, 3), -1); /* does not fit */
    assert_string_equal(jid_resource("a@b/r1"), "r1");
    assert_null(jid_resource("a@b"));
}

static void test_nick_from_jid(void **state)
{
    char nick[NICK_MAX + 1];

    (void)state;
    nick_from_jid("alice.smith@x.org", nick);
    assert_string_equal(nick, "alicesmith");
    nick_from_jid("Bob_99@x.org", nick);
    assert_string_equal(nick, "bob_99");
    nick_from_jid("...@x.org", nick);
    assert_string_equal(nick, "user");
    nick_from_jid("abcdefghijklmnopqrstuvwxyz0123456789@x", nick);
    assert_string_equal(nick, "abcdefghijklmnopqrstuvwxyz012345");
    assert_int_equal(strlen(nick), NICK_MAX);
}

/* Issue 12 item 8: what can be transliterated is (the rule is in
 * text.c and the README). */
static void test_nick_transliterated(void **state)
{
    static const struct {
        const char *jid, *nick;
    } rows[] = {
        {"élodie@x.org", "elodie"},
        {"ÉLODIE@x.org", "elodie"},
        {"straße@x", "strasse"},
        {"søren@x", "soren"},
        {"łukasz@x", "lukasz"},
        {"Łukasz@x", "lukasz"},
        {"æsir@x", "aesir"},
        {"françois.d@x", "francoisd"},
        {"žček@x", "zcek"},
        {"ștefan@x", "stefan"},
        {"nguyễn@x", "nguyen"},
        {"e\u0301mile@x", "emile"}, /* e and a combining acute */
        {"наташа@x", "natasha"},
        {"Женя@x", "zhenya"},
        {"щука@x", "shchuka"},
        {"Ёж@x", "ezh"},
        {"αθηνά@x", "athina"},
        {"Ψάρι@x", "psari"},
        {"王@x", "user"},
        {"王42@x", "42"},
        {"\xff\xfe"
         "bob@x",
         "bob"}, /* not UTF-8: the bytes are dropped */
    };
    char nick[NICK_MAX + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        nick_from_jid(rows[i].jid, nick);
        if (strcmp(nick, rows[i].nick) != 0)
            fail_msg("row %zu: %s, expected %s", i, nick, rows[i].nick);
        assert_true(nick_valid(nick));
    }
    /* A multi-letter transliteration stops at 32 characters. */
    nick_from_jid("abcdefghijklmnopqrstuvwxyz01234щ@x", nick);
    assert_string_equal(nick, "abcdefghijklmnopqrstuvwxyz01234s");
}

/* Issue 12 item 10. */
static void test_nick_reserved(void **state)
{
    (void)state;
    assert_true(nick_reserved("admin", NULL));
    assert_true(nick_reserved("announcement", "updates@example.org"));
    assert_true(nick_reserved("root", NULL));
    assert_true(nick_reserved("starling", NULL));
    assert_true(nick_reserved("help", NULL));
    /* The bot's own local part, as a nick would come out of it. */
    assert_true(nick_reserved("updates", "updates@example.org"));
    assert_true(nick_reserved("microblog", "Micro.Blog@example.org"));
    assert_false(nick_reserved("updates", NULL));
    assert_false(nick_reserved("admin2", "updates@example.org"));
    assert_false(nick_reserved("alice", "updates@example.org"));
}

static void test_nick_valid_and_parse(void **state)
{
    char nick[NICK_MAX + 1];

    (void)state;
    assert_true(nick_valid("a_1"));
    assert_false(nick_valid(""));
    assert_false(nick_valid("Alice"));
    assert_false(nick_valid("al-ice"));
    assert_false(nick_valid("abcdefghijklmnopqrstuvwxyz0123456"));
    assert_int_equal(nick_parse("@Alice", nick), 0);
    assert_string_equal(nick, "alice");
    assert_int_equal(nick_parse("bob", nick), 0);
    assert_int_equal(nick_parse("@", nick), -1);
    assert_int_equal(nick_parse("b\xe2\x80\x8bob", nick), -1); /* ZWSP */
    assert_int_equal(nick_parse("abcdefghijklmnopqrstuvwxyz0123456", nick), -1);
}

/* "a", "é", "€", "🐦", "Ⱥ", "ⱥ", "z": 1, 2, 3, 4, 2, 3 and 1 bytes. */
static const char mixed[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xa6"
                            "\xc8\xba\xe2\xb1\xa5z";
static const size_t mixed_bounds[] = {0, 1, 3, 6, 10, 12, 15, 16};

static void test_utf8_cut_every_offset(void **state)
{
    size_t len = strlen(mixed);

    (void)state;
    assert_int_equal(len, 16);
    for (size_t max = 0; max <= len + 2; max++) {
        size_t n = utf8_cut(mixed, max), want = 0;

        /* The last character boundary at or before max. */
        for (size_t i = 0; i < sizeof(mixed_bounds) / sizeof(*mixed_bounds);
             i++)
            if (mixed_bounds[i] <= max)
                want = mixed_bounds[i];
        if (n != want)
            fail_msg("cut at %zu: %zu bytes, expected %zu", max, n, want);
        assert_true(utf8_valid(mixed, n));
    }
}

static void test_utf8_copy_every_size(void **state)
{
    char out[32];
    size_t len = strlen(mixed);

    (void)state;
    for (size_t size = 1; size <= len + 1; size++) {
        size_t n;

        memset(out, 'X', sizeof(out));
        n = utf8_copy(out, size, mixed);
        assert_true(n < size);
        assert_int_equal(strlen(out), n);
        assert_memory_equal(out, mixed, n);
        assert_true(utf8_valid(out, n));
        assert_int_equal(out[size], 'X'); /* nothing written beyond */
    }
    /* Bytes that are not UTF-8 count as one character each. */
    assert_int_equal(utf8_cut("\xff\xfe\x80", 2), 2);
    assert_int_equal(utf8_cut("ab\xe2\x82", 3), 3);
}

/* U+023A is 2 bytes, its lower case U+2C65 is 3: a buffer sized for what
 * the user typed does not hold its lower case, and a byte cut (snprintf)
 * would end inside a character. */
static void test_lower_case_grows(void **state)
{
    char typed[64], lower[128], w[64];
    size_t n = 0, m = 0;

    (void)state;
    typed[n++] = 'a';
    lower[m++] = 'a';
    for (int i = 0; i < 31; i++) {
        memcpy(typed + n, "\xc8\xba", 2);
        memcpy(lower + m, "\xe2\xb1\xa5", 3);
        n += 2;
        m += 3;
    }
    typed[n] = lower[m] = '\0';
    assert_int_equal(n, 63); /* fits w[64] as typed */
    assert_int_equal(m, 94); /* does not once lower-cased */
    snprintf(w, sizeof(w), "%s", lower);
    assert_false(utf8_valid(w, strlen(w))); /* what a byte cut does */
    assert_int_equal(utf8_copy(w, sizeof(w), lower), 1 + 20 * 3);
    assert_true(utf8_valid(w, strlen(w)));
    assert_memory_equal(w, lower, 61);
}

static void test_xml_valid(void **state)
{
    (void)state;
    assert_true(text_xml_valid("tab\tnl\ncr\r", 10));
    assert_true(text_xml_valid("\xef\xbf\xbd\xf4\x8f\xbf\xbf", 7));
    assert_true(text_xml_valid("del\x7f c1\xc2\x85", 9)); /* XML allows */
    assert_false(text_xml_valid("bell\a", 5));
    assert_false(text_xml_valid("esc\x1b", 4));
    assert_false(text_xml_valid("\xef\xbf\xbe", 3)); /* U+FFFE */
    assert_false(text_xml_valid("\xef\xbf\xbf", 3)); /* U+FFFF */
    assert_false(text_xml_valid("\xed\xa0\x80", 3)); /* lone surrogate */
    assert_false(text_xml_valid("cut \xf0\x9f\x90", 7));
    assert_false(text_xml_valid("\xc0\xaf", 2));
}

static void test_xml_repair(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain \xc3\xa9 \xf0\x9f\x90\xa6", "plain \xc3\xa9 \xf0\x9f\x90\xa6"},
        {"tab\tnl\n", "tab\tnl\n"},
        /* A 4-byte emoji cut after 1, 2 or 3 bytes: one U+FFFD. */
        {"x\xf0", "x\xef\xbf\xbd"},
        {"x\xf0\x9f", "x\xef\xbf\xbd"},
        {"x\xf0\x9f\x90y", "x\xef\xbf\xbdy"},
        /* U+2C65 cut after 2 of its 3 bytes, then more text. */
        {"\xe2\xb1 ok", "\xef\xbf\xbd ok"},
        /* Stray continuation bytes, bytes that never occur: one each. */
        {"\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xff", "\xef\xbf\xbd"},
        /* Overlong and surrogate forms: the lead byte cannot start what
         * follows, so every byte is its own subpart. */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        /* Characters XML 1.0 forbids. */
        {"a\x01"
         "b\x1f",
         "a\xef\xbf\xbd"
         "b\xef\xbf\xbd"},
        {"\xef\xbf\xbe\xef\xbf\xbf", "\xef\xbf\xbd\xef\xbf\xbd"},
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        size_t len = strlen(cases[i].in), n;

        assert_true(TEXT_XML_REPAIR_SIZE(len) <= sizeof(out));
        n = text_xml_repair(cases[i].in, len, out);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("case %zu: repaired wrongly", i);
        assert_int_equal(n, strlen(cases[i].out));
        assert_true(text_xml_valid(out, n));
    }
}

/* Every string of up to two bytes, and three-byte ones around the
 * boundaries, comes out valid; valid input comes out unchanged. */
static void test_xml_repair_exhaustive(void **state)
{
    static const unsigned char edge[] = {
        0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x7f, 0x80,
        0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
        0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
    const size_t ne = sizeof(edge);
    char in[4], out[TEXT_XML_REPAIR_SIZE(4)];

    (void)state;
    for (unsigned a = 1; a < 256; a++) {
        for (unsigned b = 1; b < 256; b++) {
            size_t n;

            in[0] = (char)a;
            in[1] = (char)b;
            n = text_xml_repair(in, 2, out);
            assert_true(n <= 6);
            assert_true(text_xml_valid(out, n));
            if (text_xml_valid(in, 2)) {
                assert_int_equal(n, 2);
                assert_memory_equal(out, in, 2);
            }
        }
    }
    for (size_t i = 0; i < ne; i++)
        for (size_t j = 0; j < ne; j++)
            for (size_t k = 0; k < ne; k++)
                for (size_t l = 0; l < ne; l++) {
                    size_t n;

                    in[0] = (char)edge[i];
                    in[1] = (char)edge[j];
                    in[2] = (char)edge[k];
                    in[3] = (char)edge[l];
                    n = text_xml_repair(in, 4, out);
                    assert_true(text_xml_valid(out, n));
                    if (text_xml_valid(in, 4)) {
                        assert_int_equal(n, 4);
                        assert_memory_equal(out, in, 4);
                    }
                }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_count_and_limits),
        cmocka_unit_test(test_post_checks),
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_jid_bare),
        cmocka_unit_test(test_nick_from_jid),
        cmocka_unit_test(test_nick_transliterated),
        cmocka_unit_test(test_nick_reserved),
        cmocka_unit_test(test_nick_valid_and_parse),
        cmocka_unit_test(test_utf8_cut_every_offset),
        cmocka_unit_test(test_utf8_copy_every_size),
        cmocka_unit_test(test_lower_case_grows),
        cmocka_unit_test(test_xml_valid),
        cmocka_unit_test(test_xml_repair),
        cmocka_unit_test(test_xml_repair_exhaustive),
    };

    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
