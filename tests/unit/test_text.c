/*
 * test_text.c - UTF-8, post validation, JID normalisation and nicks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
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
    };

    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
