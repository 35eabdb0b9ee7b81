/*
 * test_commands.c - the pure parser: every command and form of SPEC 5,
 * and the line between a command, a usage reply and a post.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "commands.h"

struct row {
    const char *msg;
    enum cmd_result result;
    const char *cmd;  /* expected command name, or NULL */
    const char *nick; /* expected nick or NULL */
    int64_t num;      /* expected post number */
    int count;        /* expected count */
    const char *text; /* expected text or NULL */
};

static const struct row rows[] = {
    /* Plain posts. */
    {"hello world", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"#hashtag and words", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"on my way", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"off to bed", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"follow me on twitter", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"help me please", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"last night was great fun", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"#", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"#xmpp is great", CMD_POST, NULL, NULL, 0, 0, NULL},
    /* help */
    {"help", CMD_OK, "help", NULL, 0, 0, NULL},
    {"HELP Follow", CMD_OK, "help", NULL, 0, 0, NULL},
    {"help?", CMD_OK, "help", NULL, 0, 0, NULL},
    {"?", CMD_OK, "help", NULL, 0, 0, NULL},
    {"Help? follow", CMD_OK, "help", NULL, 0, 0, NULL},
    {"? what is this", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"why?", CMD_POST, NULL, NULL, 0, 0, NULL},
    /* post forces a post */
    {"post help", CMD_OK, "post", NULL, 0, 0, "help"},
    {"Post   follow alice", CMD_OK, "post", NULL, 0, 0, "follow alice"},
    {"post", CMD_USAGE, "post", NULL, 0, 0, NULL},
    /* follow / unfollow */
    {"follow alice", CMD_OK, "follow", "alice", 0, 0, NULL},
    {"FOLLOW @Alice", CMD_OK, "follow", "alice", 0, 0, NULL},
    {"follow", CMD_USAGE, "follow", NULL, 0, 0, NULL},
    {"follow bad-nick!", CMD_USAGE, "follow", NULL, 0, 0, NULL},
    {"unfollow @bob", CMD_OK, "unfollow", "bob", 0, 0, NULL},
    /* lists */
    {"followers", CMD_OK, "followers", NULL, 0, 0, NULL},
    {"following", CMD_OK, "following", NULL, 0, 0, NULL},
    {"mentions", CMD_OK, "mentions", NULL, 0, 0, NULL},
    {"tracking", CMD_OK, "tracking", NULL, 0, 0, NULL},
    /* on/off/away */
    {"on", CMD_OK, "on", NULL, 0, 0, NULL},
    {"OFF", CMD_OK, "off", NULL, 0, 0, NULL},
    {"away on", CMD_OK, "away", NULL, 0, 0, NULL},
    {"away OFF", CMD_OK, "away", NULL, 0, 0, NULL},
    {"away", CMD_USAGE, "away", NULL, 0, 0, NULL},
    {"away now", CMD_USAGE, "away", NULL, 0, 0, NULL},
    {"away from keyboard", CMD_POST, NULL, NULL, 0, 0, NULL},
    /* last */
    {"last", CMD_OK, "last", NULL, 0, 0, NULL},
    {"last 20", CMD_OK, "last", NULL, 0, 20, NULL},
    {"last @Bob", CMD_OK, "last", "bob", 0, 0, NULL},
    {"last bob 50", CMD_OK, "last", "bob", 0, 50, NULL},
    {"last bob 51", CMD_USAGE, "last", NULL, 0, 0, NULL},
    {"last 0", CMD_USAGE, "last", NULL, 0, 0, NULL},
    {"last bob x", CMD_USAGE, "last", NULL, 0, 0, NULL},
    /* show / #N / reply / #N TEXT / delete */
    {"show #12", CMD_OK, "show", NULL, 12, 0, NULL},
    {"show 12", CMD_OK, "show", NULL, 12, 0, NULL},
    {"#12", CMD_OK, "show", NULL, 12, 0, NULL},
    {"#0", CMD_USAGE, "show", NULL, 0, 0, NULL},
    {"show #0", CMD_USAGE, "show", NULL, 0, 0, NULL},
    {"show #-1", CMD_USAGE, "show", NULL, 0, 0, NULL},
    {"show #18446744073709551616", CMD_USAGE, "show", NULL, 0, 0, NULL},
    {"show #9223372036854775807", CMD_OK, "show", NULL, INT64_MAX, 0, NULL},
    {"show #abc", CMD_USAGE, "show", NULL, 0, 0, NULL},
    {"#12 nice one", CMD_OK, "reply", NULL, 12, 0, "nice one"},
    {"reply #7 thanks", CMD_OK, "reply", NULL, 7, 0, "thanks"},
    {"reply 7 thanks a lot", CMD_OK, "reply", NULL, 7, 0, "thanks a lot"},
    {"reply #5", CMD_USAGE, "reply", NULL, 0, 0, NULL},
    {"reply", CMD_USAGE, "reply", NULL, 0, 0, NULL},
    {"delete #3", CMD_OK, "delete", NULL, 3, 0, NULL},
    {"delete everything", CMD_USAGE, "delete", NULL, 0, 0, NULL},
    /* Near misses of a keyword that takes a post number: never a post
     * (SPEC 5), whatever follows. */
    {"delete #5 please", CMD_USAGE, "delete", NULL, 0, 0, NULL},
    {"delete my account now", CMD_USAGE, "delete", NULL, 0, 0, NULL},
    /* Leaving for good: two words name the command; the code is six
     * digits; nothing near it is ever posted. */
    {"delete me", CMD_OK, "delete me", NULL, 0, 0, NULL},
    {"Delete ME", CMD_OK, "delete me", NULL, 0, 0, NULL},
    {"delete me 042917", CMD_OK, "delete me", NULL, 0, 0, NULL},
    {"delete me now", CMD_USAGE, "delete me", NULL, 0, 0, NULL},
    {"delete me 42917", CMD_USAGE, "delete me", NULL, 0, 0, NULL},
    {"delete me 042917 please", CMD_USAGE, "delete me", NULL, 0, 0, NULL},
    {"delete me #3", CMD_USAGE, "delete me", NULL, 0, 0, NULL},
    {"help delete me", CMD_OK, "help", NULL, 0, 0, NULL},
    {"erase spammer", CMD_OK, "erase", "spammer", 0, 0, NULL},
    {"erase", CMD_USAGE, "erase", NULL, 0, 0, NULL},
    {"erase everything you know", CMD_USAGE, "erase", NULL, 0, 0, NULL},
    {"show #5 now", CMD_USAGE, "show", NULL, 0, 0, NULL},
    {"show me the money", CMD_USAGE, "show", NULL, 0, 0, NULL},
    {"reply to all of you", CMD_USAGE, "reply", NULL, 0, 0, NULL},
    {"#5 please", CMD_OK, "reply", NULL, 5, 0, "please"},
    /* d / dm */
    {"d alice hi there", CMD_OK, "d", "alice", 0, 0, "hi there"},
    {"DM @alice hi", CMD_OK, "d", "alice", 0, 0, "hi"},
    {"d alice", CMD_USAGE, "d", NULL, 0, 0, NULL},
    {"d", CMD_USAGE, "d", NULL, 0, 0, NULL},
    {"d'oh that hurt", CMD_POST, NULL, NULL, 0, 0, NULL},
    /* profile */
    {"whois bob", CMD_OK, "whois", "bob", 0, 0, NULL},
    {"nick New_Me", CMD_OK, "nick", "new_me", 0, 0, NULL},
    {"nick bad nick!", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"nick bad-nick", CMD_USAGE, "nick", NULL, 0, 0, NULL},
    {"bio I like XMPP", CMD_OK, "bio", NULL, 0, 0, "I like XMPP"},
    {"bio", CMD_USAGE, "bio", NULL, 0, 0, NULL},
    /* track / search / block */
    {"track Rust", CMD_OK, "track", NULL, 0, 0, NULL},
    {"track", CMD_USAGE, "track", NULL, 0, 0, NULL},
    {"track a-b", CMD_USAGE, "track", NULL, 0, 0, NULL},
    {"track my package please", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"untrack rust", CMD_OK, "untrack", NULL, 0, 0, NULL},
    {"search xmpp bots", CMD_OK, "search", NULL, 0, 0, "xmpp bots"},
    {"search", CMD_USAGE, "search", NULL, 0, 0, NULL},
    {"block @spammer", CMD_OK, "block", "spammer", 0, 0, NULL},
    {"unblock spammer", CMD_OK, "unblock", "spammer", 0, 0, NULL},
    /* admin */
    {"stats", CMD_OK, "stats", NULL, 0, 0, NULL},
    {"ban eve", CMD_OK, "ban", "eve", 0, 0, ""},
    {"ban eve spamming links", CMD_OK, "ban", "eve", 0, 0, "spamming links"},
    {"ban", CMD_USAGE, "ban", NULL, 0, 0, NULL},
    {"unban eve", CMD_OK, "unban", "eve", 0, 0, NULL},
    {"broadcast maintenance at 10", CMD_OK, "broadcast", NULL, 0, 0,
     "maintenance at 10"},
    /* Near misses of an admin keyword: never a post either. */
    {"stats please", CMD_USAGE, "stats", NULL, 0, 0, NULL},
    {"stats are boring", CMD_USAGE, "stats", NULL, 0, 0, NULL},
    {"unban eve now", CMD_USAGE, "unban", NULL, 0, 0, NULL},
    {"ban the-bomb now", CMD_USAGE, "ban", NULL, 0, 0, NULL},
    /* (From a non-admin this is "Not permitted.", not a post.) */
    {"ban the bomb!", CMD_OK, "ban", "the", 0, 0, "bomb!"},
    {"broadcast", CMD_USAGE, "broadcast", NULL, 0, 0, NULL},
    /* issue 15: tags, more, dms, favourites, remove, notices */
    {"#xmpp", CMD_OK, "last", NULL, 0, 0, NULL},
    {"#12abc", CMD_OK, "last", NULL, 0, 0, NULL},
    {"last #xmpp", CMD_OK, "last", NULL, 0, 0, NULL},
    {"last #xmpp 20", CMD_OK, "last", NULL, 0, 20, NULL},
    {"last #12", CMD_USAGE, "last", NULL, 0, 0, NULL},
    {"last #xmpp 99", CMD_USAGE, "last", NULL, 0, 0, NULL},
    {"more", CMD_OK, "more", NULL, 0, 0, NULL},
    {"MORE", CMD_OK, "more", NULL, 0, 0, NULL},
    {"more coffee please", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"dms", CMD_OK, "dms", NULL, 0, 0, NULL},
    {"favs", CMD_OK, "favs", NULL, 0, 0, NULL},
    {"fav #12", CMD_OK, "fav", NULL, 12, 0, NULL},
    {"fav 12", CMD_OK, "fav", NULL, 12, 0, NULL},
    {"fav", CMD_USAGE, "fav", NULL, 0, 0, NULL},
    {"fav it", CMD_USAGE, "fav", NULL, 0, 0, NULL},
    {"unfav #3", CMD_OK, "unfav", NULL, 3, 0, NULL},
    /* repeats and thread mutes: guarded, a near miss is never a post */
    {"rt #12", CMD_OK, "rt", NULL, 12, 0, NULL},
    {"RT 12", CMD_OK, "rt", NULL, 12, 0, NULL},
    {"repeat #7", CMD_OK, "rt", NULL, 7, 0, NULL},
    {"rt", CMD_USAGE, "rt", NULL, 0, 0, NULL},
    {"rt this please", CMD_USAGE, "rt", NULL, 0, 0, NULL},
    {"repeat #7 now", CMD_USAGE, "rt", NULL, 0, 0, NULL},
    {"mute #4", CMD_OK, "mute", NULL, 4, 0, NULL},
    {"mute 4", CMD_OK, "mute", NULL, 4, 0, NULL},
    {"mute", CMD_USAGE, "mute", NULL, 0, 0, NULL},
    {"mute the thread", CMD_USAGE, "mute", NULL, 0, 0, NULL},
    {"unmute #4", CMD_OK, "unmute", NULL, 4, 0, NULL},
    {"unmute #0", CMD_USAGE, "unmute", NULL, 0, 0, NULL},
    {"remove @Bob", CMD_OK, "remove", "bob", 0, 0, NULL},
    {"remove", CMD_USAGE, "remove", NULL, 0, 0, NULL},
    {"remove the old stuff", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"notices off", CMD_OK, "notices", NULL, 0, 0, NULL},
    {"notices", CMD_USAGE, "notices", NULL, 0, 0, NULL},
    {"notices are annoying", CMD_POST, NULL, NULL, 0, 0, NULL},
    /* follow NICK digest, track #tag */
    {"follow alice digest", CMD_OK, "follow", "alice", 0, 0, NULL},
    {"follow @Alice DIGEST", CMD_OK, "follow", "alice", 0, 0, NULL},
    {"follow alice daily", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"track #Rust", CMD_OK, "track", NULL, 0, 0, NULL},
    {"untrack #rust", CMD_OK, "untrack", NULL, 0, 0, NULL},
    {"track #12", CMD_USAGE, "track", NULL, 0, 0, NULL},
    {"track #", CMD_USAGE, "track", NULL, 0, 0, NULL},
    /* tz, quiet, digest */
    {"tz", CMD_OK, "tz", NULL, 0, 0, NULL},
    {"tz Europe/Berlin", CMD_OK, "tz", NULL, 0, 0, NULL},
    {"tz Etc/GMT+5", CMD_OK, "tz", NULL, 0, 0, NULL},
    {"tz Europe/Berlin!", CMD_USAGE, "tz", NULL, 0, 0, NULL},
    {"tz is hard", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"quiet", CMD_OK, "quiet", NULL, 0, 0, NULL},
    {"quiet OFF", CMD_OK, "quiet", NULL, 0, 0, NULL},
    {"quiet 23:00-07:00", CMD_OK, "quiet", NULL, 0, 0, NULL},
    {"quiet 23:00 - 7:00", CMD_OK, "quiet", NULL, 0, 0, NULL},
    {"quiet 23:00 to 07:00", CMD_OK, "quiet", NULL, 0, 0, NULL},
    {"quiet 9:00 17:30", CMD_OK, "quiet", NULL, 0, 0, NULL},
    {"quiet 23:00-23:00", CMD_USAGE, "quiet", NULL, 0, 0, NULL},
    {"quiet 24:00-07:00", CMD_USAGE, "quiet", NULL, 0, 0, NULL},
    {"quiet 23:00-7", CMD_USAGE, "quiet", NULL, 0, 0, NULL},
    {"quiet 23:60-07:00", CMD_USAGE, "quiet", NULL, 0, 0, NULL},
    {"quiet please", CMD_USAGE, "quiet", NULL, 0, 0, NULL},
    {"quiet 23:00 till 7", CMD_USAGE, "quiet", NULL, 0, 0, NULL},
    {"quiet night tonight", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"digest", CMD_OK, "digest", NULL, 0, 0, NULL},
    {"digest 08:00", CMD_OK, "digest", NULL, 0, 0, NULL},
    {"digest 8", CMD_USAGE, "digest", NULL, 0, 0, NULL},
    {"digest 123:00", CMD_USAGE, "digest", NULL, 0, 0, NULL},
    {"digest of the week", CMD_POST, NULL, NULL, 0, 0, NULL},
    {"export", CMD_OK, "export", NULL, 0, 0, NULL},
    {"export my data please", CMD_POST, NULL, NULL, 0, 0, NULL},
};

static void test_table_of_forms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct cmd_parsed p;

        cmd_parse(r->msg, &p);
        if (p.result != r->result)
            fail_msg("\"%s\": result %d, expected %d", r->msg, p.result,
                     r->result);
        if (r->cmd == NULL) {
            assert_null(p.cmd);
            continue;
        }
        assert_non_null(p.cmd);
        if (strcmp(p.cmd->name, r->cmd) != 0)
            fail_msg("\"%s\": command %s, expected %s", r->msg, p.cmd->name,
                     r->cmd);
        if (r->result != CMD_OK)
            continue;
        if (r->nick != NULL)
            assert_string_equal(p.args.nick, r->nick);
        assert_int_equal(p.args.num, r->num);
        assert_int_equal(p.args.count, r->count);
        if (r->text != NULL) {
            assert_non_null(p.args.text);
            assert_string_equal(p.args.text, r->text);
        }
    }
}

static void test_flags_and_words(void **state)
{
    struct cmd_parsed p;

    (void)state;
    cmd_parse("away on", &p);
    assert_true(p.args.flag);
    cmd_parse("away off", &p);
    assert_false(p.args.flag);
    cmd_parse("track RuSt", &p);
    assert_string_equal(p.args.word, "rust");
    cmd_parse("help FOLLOW", &p);
    assert_string_equal(p.args.word, "follow");
}

/* What the issue 15 forms carry: tags keep their '#', zones their case,
 * times become minutes of the day, and flags say what was given. */
static void test_social_arguments(void **state)
{
    struct cmd_parsed p;

    (void)state;
    cmd_parse("#XMPP", &p);
    assert_string_equal(p.args.word, "#xmpp");
    cmd_parse("last #Xmpp 5", &p);
    assert_string_equal(p.args.word, "#xmpp");
    assert_string_equal(p.args.nick, "");
    cmd_parse("last alice", &p);
    assert_string_equal(p.args.word, "");
    cmd_parse("track #Rust", &p);
    assert_string_equal(p.args.word, "#rust");
    cmd_parse("track Rust", &p);
    assert_string_equal(p.args.word, "rust");
    cmd_parse("follow alice digest", &p);
    assert_true(p.args.flag);
    cmd_parse("follow alice", &p);
    assert_false(p.args.flag);
    cmd_parse("tz america/New_York", &p);
    assert_true(p.args.flag);
    assert_string_equal(p.args.word, "america/New_York");
    cmd_parse("tz", &p);
    assert_false(p.args.flag);
    cmd_parse("quiet 23:00-07:30", &p);
    assert_true(p.args.flag);
    assert_int_equal(p.args.start_min, 23 * 60);
    assert_int_equal(p.args.end_min, 7 * 60 + 30);
    cmd_parse("quiet 0:05 to 00:10", &p);
    assert_int_equal(p.args.start_min, 5);
    assert_int_equal(p.args.end_min, 10);
    cmd_parse("quiet off", &p);
    assert_true(p.args.flag);
    assert_int_equal(p.args.start_min, -1);
    cmd_parse("quiet", &p);
    assert_false(p.args.flag);
    cmd_parse("digest 6:45", &p);
    assert_true(p.args.flag);
    assert_int_equal(p.args.start_min, 6 * 60 + 45);
    cmd_parse("digest", &p);
    assert_false(p.args.flag);
    cmd_parse("delete me", &p);
    assert_false(p.args.flag);
    cmd_parse("delete me 042917", &p);
    assert_true(p.args.flag);
    assert_string_equal(p.args.word, "042917");
    cmd_parse("help delete me", &p);
    assert_string_equal(p.args.word, "delete me");
}

static void test_table_entries(void **state)
{
    const char *admin[] = {"stats", "ban", "unban", "broadcast", "erase"};
    const char *user[] = {
        "help",      "post",    "follow",  "unfollow", "followers", "following",
        "on",        "off",     "away",    "last",     "show",      "reply",
        "delete",    "d",       "dm",      "whois",    "nick",      "bio",
        "mentions",  "track",   "untrack", "tracking", "search",    "block",
        "unblock",   "more",    "dms",     "fav",      "unfav",     "favs",
        "remove",    "notices", "tz",      "quiet",    "digest",    "export",
        "delete me", "rt",      "repeat",  "mute",     "unmute"};

    (void)state;
    for (size_t i = 0; i < sizeof(admin) / sizeof(admin[0]); i++)
        assert_true(cmd_find(admin[i])->admin);
    for (size_t i = 0; i < sizeof(user) / sizeof(user[0]); i++) {
        const struct cmd_entry *e = cmd_find(user[i]);

        assert_non_null(e);
        assert_false(e->admin);
        assert_non_null(e->usage);
        assert_non_null(e->help);
        assert_non_null(e->fn);
        assert_non_null(e->example);
    }
    assert_null(cmd_find("frobnicate"));
}

/* Which keywords are never posted when their arguments do not fit. */
static void test_guarded(void **state)
{
    const char *guarded[] = {"show",  "reply",    "delete", "rt",
                             "mute",  "unmute",   "fav",    "unfav",
                             "stats", "ban",      "unban",  "broadcast",
                             "erase", "delete me"};

    (void)state;
    for (const struct cmd_entry *e = cmd_table(); e->name != NULL; e++) {
        bool want = false;

        for (size_t i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++)
            want = want || strcmp(e->name, guarded[i]) == 0;
        if (cmd_guarded(e) != want)
            fail_msg("%s: guarded %d", e->name, cmd_guarded(e));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_of_forms),
        cmocka_unit_test(test_flags_and_words),
        cmocka_unit_test(test_social_arguments),
        cmocka_unit_test(test_table_entries),
        cmocka_unit_test(test_guarded),
    };

    return cmocka_run_group_tests_name("commands", tests, NULL, NULL);
}
