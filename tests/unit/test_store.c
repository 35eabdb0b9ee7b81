/*
 * test_store.c - the SQLite store on an in-memory database: users,
 * follows, blocks, tracks, posts with their recipients, search, deletion,
 * the outbox, counters, tags, favourites, notices told once, settings,
 * keyset paging of every listing, a query plan check for every statement,
 * and the free nick found in a constant number of queries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "dbfile.h"
#include "queries.h"
#include "store.h"
#include "util.h"

static struct store *st;

static int64_t mkuser(const char *jid, const char *nick)
{
    struct user u;

    assert_int_equal(store_user_create(st, jid, nick, false, false, 1000, &u),
                     0);
    return u.id;
}

static int64_t post(int64_t author, const char *body, const char *const *m,
                    size_t nm, const char *const *w, size_t nw, size_t *nrec)
{
    struct post_new p = {.author = author,
                         .body = body,
                         .created = 2000,
                         .mentions = m,
                         .n_mentions = nm,
                         .words = w,
                         .n_words = nw};
    int64_t id;

    assert_int_equal(store_post_add(st, &p, &id, nrec), 0);
    return id;
}

/* Recipients of a post as "u1,u2" (user ids in outbox order). */
static int rec_cb(void *ud, const struct outbox_row *r)
{
    buf_printf(ud, "%s%lld", ((struct buf *)ud)->len ? "," : "",
               (long long)r->user);
    return 0;
}

static char *recipients(int64_t post_id)
{
    struct buf b = {0};

    assert_int_equal(
        store_outbox_for_post(st, post_id, OUTBOX_UPDATE, rec_cb, &b), 0);
    return b.s != NULL ? b.s : xstrdup("");
}

static int count_cb(void *ud, const struct post *p)
{
    (void)p;
    (*(int *)ud)++;
    return 0;
}

/* Appends one byte per post and stops at the first. */
static int count_stop_cb(void *ud, const struct post *p)
{
    (void)p;
    buf_append(ud, "x");
    return 1;
}

static int setup(void **state)
{
    (void)state;
    st = store_open(":memory:");
    return st != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    store_close(st);
    return 0;
}

static void test_users_and_nicks(void **state)
{
    struct user u;
    int64_t a, b;

    (void)state;
    a = mkuser("alice@x", "alice");
    b = mkuser("alice@y", "alice");
    assert_int_equal(store_user_by_id(st, b, &u), 1);
    assert_string_equal(u.nick, "alice2");
    assert_int_equal(store_user_by_nick(st, "alice", &u), 1);
    assert_int_equal(u.id, a);
    assert_int_equal(store_user_by_jid(st, "nobody@x", &u), 0);
    /* A long base keeps within 32 characters with its number. */
    mkuser("l1@x", "abcdefghijklmnopqrstuvwxyz012345");
    mkuser("l2@x", "abcdefghijklmnopqrstuvwxyz012345");
    assert_int_equal(store_user_by_jid(st, "l2@x", &u), 1);
    assert_string_equal(u.nick, "abcdefghijklmnopqrstuvwxyz012342");
    /* Leaving and coming back keeps the user. */
    assert_int_equal(store_user_set_flag(st, a, USER_ACTIVE, false), 0);
    assert_int_equal(
        store_user_create(st, "alice@x", "zzz", false, false, 5, &u), 0);
    assert_int_equal(u.id, a);
    assert_true(u.active);
    assert_string_equal(u.nick, "alice");
    /* Nick changes: taken, own, free. */
    assert_int_equal(store_user_set_nick(st, a, "alice2"), 1);
    assert_int_equal(store_user_set_nick(st, a, "alice"), 0);
    assert_int_equal(store_user_set_nick(st, a, "ally"), 0);
    assert_int_equal(store_user_by_nick(st, "ally", &u), 1);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* n users join with the JIDs fmt % i and the nick bases nick_from_jid()
 * gives: every nick valid and distinct; returns the most statements one
 * store_user_create() ran. */
static unsigned long join_many(const char *fmt, size_t n)
{
    char **nicks = xcalloc(n, sizeof(*nicks));
    unsigned long most = 0;

    for (size_t i = 0; i < n; i++) {
        char jid[128], base[NICK_MAX + 1];
        unsigned long before = queries;
        struct user u;

        snprintf(jid, sizeof(jid), fmt, i);
        nick_from_jid(jid, base);
        assert_int_equal(
            store_user_create(st, jid, base, false, false, 1000, &u), 0);
        if (queries - before > most)
            most = queries - before;
        assert_true(nick_valid(u.nick));
        nicks[i] = xstrdup(u.nick);
    }
    qsort(nicks, n, sizeof(*nicks), cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(nicks[i - 1], nicks[i]) == 0)
            fail_msg("nick %s given twice", nicks[i]);
    for (size_t i = 0; i < n; i++)
        free(nicks[i]);
    free(nicks);
    return most;
}

/* Issue 12 item 8: 10,000 people whose local parts give no nick (Chinese
 * script has no transliteration) all get the base "user".  Probing user2,
 * user3... in turn cost the 10,000th 10,000 lookups, bisection about
 * 2 log2(10,000) = 27; now the next number is remembered per base, and
 * every join costs the same few statements: the JID lookup, the base, its
 * next number and the update, the insert, the transaction and the reread
 * (nine), be it the 1st, the 100th or the 10,000th. */
static void test_free_nick_costs_constant(void **state)
{
    struct user u;
    unsigned long most, before;

    (void)state;
    most = join_many("\xe4\xb8\xad\xe6\x96\x87@host%zu.example", 10000);
    assert_in_range(most, 1, 9);
    assert_int_equal(
        store_user_by_jid(st, "\xe4\xb8\xad\xe6\x96\x87@host0.example", &u), 1);
    assert_string_equal(u.nick, "user");
    assert_int_equal(
        store_user_by_jid(st, "\xe4\xb8\xad\xe6\x96\x87@host1.example", &u), 1);
    assert_string_equal(u.nick, "user2");
    assert_int_equal(
        store_user_by_jid(st, "\xe4\xb8\xad\xe6\x96\x87@host99.example", &u),
        1);
    assert_string_equal(u.nick, "user100");
    assert_int_equal(
        store_user_by_jid(st, "\xe4\xb8\xad\xe6\x96\x87@host9999.example", &u),
        1);
    assert_string_equal(u.nick, "user10000");
    /* Two people take the next numbers by hand: the one who joins then
     * gets a number past them for a few retries, and after that a join
     * costs what it did. */
    assert_int_equal(store_user_set_nick(st, 3, "user10001"), 0);
    assert_int_equal(store_user_set_nick(st, 4, "user10002"), 0);
    before = queries;
    assert_int_equal(
        store_user_create(st, "late@x", "user", false, false, 1000, &u), 0);
    assert_in_range(queries - before, 1, 9 + 3);
    assert_string_equal(u.nick, "user10003");
    before = queries;
    assert_int_equal(
        store_user_create(st, "later@x", "user", false, false, 1000, &u), 0);
    assert_in_range(queries - before, 1, 9);
    assert_string_equal(u.nick, "user10004");
    /* The base itself, once free again, is given as it is. */
    assert_int_equal(store_user_set_nick(st, 1, "someone_else"), 0);
    before = queries;
    assert_int_equal(
        store_user_create(st, "last@x", "user", false, false, 1000, &u), 0);
    assert_in_range(queries - before, 1, 9);
    assert_string_equal(u.nick, "user");
    /* A local part of 32 characters: the base is cut as the number
     * grows, and every nick still fits 32 characters. */
    most = join_many("abcdefghijklmnopqrstuvwxyz_abcdef@h%zu.example", 150);
    assert_in_range(most, 1, 9);
    assert_int_equal(
        store_user_by_jid(st, "abcdefghijklmnopqrstuvwxyz_abcdef@h149.example",
                          &u),
        1);
    assert_string_equal(u.nick, "abcdefghijklmnopqrstuvwxyz_ab150");
}

/* Issue 12 item 10: a reserved base is never given as it is. */
static void test_reserved_base_gets_a_number(void **state)
{
    struct user u;

    (void)state;
    assert_int_equal(
        store_user_create(st, "admin@x", "admin", true, false, 1, &u), 0);
    assert_string_equal(u.nick, "admin2");
    assert_int_equal(
        store_user_create(st, "admin@y", "admin", true, false, 1, &u), 0);
    assert_string_equal(u.nick, "admin3");
    assert_int_equal(store_user_by_nick(st, "admin", &u), 0);
}

static void test_follow_block_track(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b");
    char word[16];

    (void)state;
    assert_int_equal(store_follow(st, b, a, 1), 0);
    assert_int_equal(store_follow(st, b, a, 1), 1);
    assert_int_equal(store_is_following(st, b, a), 1);
    assert_int_equal(store_is_following(st, a, b), 0);
    /* Blocking removes the blocked user's follow. */
    assert_int_equal(store_block(st, a, b), 0);
    assert_int_equal(store_block(st, a, b), 1);
    assert_int_equal(store_is_following(st, b, a), 0);
    assert_int_equal(store_is_blocked(st, a, b), 1);
    assert_int_equal(store_unblock(st, a, b), 0);
    assert_int_equal(store_unblock(st, a, b), 1);
    assert_int_equal(store_unfollow(st, b, a), 1);
    for (int i = 0; i < TRACK_MAX; i++) {
        snprintf(word, sizeof(word), "w%d", i);
        assert_int_equal(store_track_add(st, a, word), 0);
    }
    assert_int_equal(store_track_add(st, a, "w0"), 1);
    assert_int_equal(store_track_add(st, a, "one_more"), 2);
    assert_int_equal(store_track_del(st, a, "w0"), 0);
    assert_int_equal(store_track_del(st, a, "w0"), 1);
    assert_int_equal(store_track_add(st, a, "one_more"), 0);
}

static void test_recipients(void **state)
{
    int64_t author = mkuser("author@x", "author");
    int64_t fol = mkuser("fol@x", "fol");    /* follower */
    int64_t men = mkuser("men@x", "men");    /* mentioned */
    int64_t trk = mkuser("trk@x", "trk");    /* tracks "xmpp" */
    int64_t all = mkuser("all@x", "all");    /* all three */
    int64_t blk = mkuser("blk@x", "blk");    /* follows, blocks */
    int64_t off = mkuser("off@x", "off");    /* follows, off */
    int64_t gone = mkuser("gone@x", "gone"); /* follows, inactive */
    int64_t ban = mkuser("ban@x", "ban");    /* follows, banned */
    const char *m[] = {"men", "all", "author", "blk", "nobody"};
    const char *w[] = {"hello", "xmpp"};
    char *r, expect[128];
    size_t n;
    int64_t id, reply;

    (void)state;
    for (int64_t u = fol; u <= ban; u++)
        if (u != men && u != trk)
            assert_int_equal(store_follow(st, u, author, 1), 0);
    assert_int_equal(store_track_add(st, trk, "xmpp"), 0);
    assert_int_equal(store_track_add(st, all, "xmpp"), 0);
    assert_int_equal(store_block(st, blk, author), 0);
    assert_int_equal(store_user_set_flag(st, off, USER_DELIVER, false), 0);
    assert_int_equal(store_user_set_flag(st, gone, USER_ACTIVE, false), 0);
    assert_int_equal(store_user_set_ban(st, ban, true, "spam"), 0);

    id = post(author, "hello @men @all #xmpp", m, 5, w, 2, &n);
    r = recipients(id);
    snprintf(expect, sizeof(expect), "%lld,%lld,%lld,%lld", (long long)fol,
             (long long)men, (long long)trk, (long long)all);
    assert_string_equal(r, expect);
    assert_int_equal(n, 4);
    free(r);

    /* A reply reaches the replied-to author even if not a follower. */
    {
        struct post_new p = {
            .author = trk, .body = "re", .created = 3000, .reply_to = id};
        assert_int_equal(store_post_add(st, &p, &reply, &n), 0);
        r = recipients(reply);
        snprintf(expect, sizeof(expect), "%lld", (long long)author);
        assert_string_equal(r, expect);
        free(r);
    }
}

/* Recipients as "u1,u2" of a fresh post by author (held rows: no router). */
static char *next_post(int64_t author)
{
    return recipients(post(author, "again", NULL, 0, NULL, 0, NULL));
}

#define EXPECT_NEXT(author, ...)                                               \
    do {                                                                       \
        char *got_ = next_post(author), want_[128];                            \
                                                                               \
        snprintf(want_, sizeof(want_), __VA_ARGS__);                           \
        assert_string_equal(got_, want_);                                      \
        free(got_);                                                            \
    } while (0)

/* An author's next post reaches whoever follows them then: each change
 * between two posts shows in the second (the followers are kept in
 * memory between posts, and each change must drop what is kept). */
static void test_recipients_follow_each_change(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b");
    int64_t c = mkuser("c@x", "c"), d = mkuser("d@x", "d"), e;
    bool added, changed;

    (void)state;
    assert_int_equal(store_follow(st, b, a, 1), 0);
    assert_int_equal(store_follow(st, c, a, 1), 0);
    EXPECT_NEXT(a, "%lld,%lld", (long long)b, (long long)c);
    /* Follow, unfollow. */
    assert_int_equal(store_follow(st, d, a, 1), 0);
    assert_int_equal(store_unfollow(st, c, a), 0);
    EXPECT_NEXT(a, "%lld,%lld", (long long)b, (long long)d);
    /* Block, unblock. */
    assert_int_equal(store_block(st, b, a), 0);
    EXPECT_NEXT(a, "%lld", (long long)d);
    assert_int_equal(store_unblock(st, b, a), 0);
    EXPECT_NEXT(a, "%lld,%lld", (long long)b, (long long)d);
    /* Delivery off and on, inactive and back, banned and back. */
    assert_int_equal(store_user_set_flag(st, d, USER_DELIVER, false), 0);
    EXPECT_NEXT(a, "%lld", (long long)b);
    assert_int_equal(store_user_set_flag(st, d, USER_DELIVER, true), 0);
    assert_int_equal(store_user_set_flag(st, b, USER_ACTIVE, false), 0);
    EXPECT_NEXT(a, "%lld", (long long)d);
    assert_int_equal(store_user_set_flag(st, b, USER_ACTIVE, true), 0);
    assert_int_equal(store_user_set_ban(st, d, true, "spam"), 0);
    EXPECT_NEXT(a, "%lld", (long long)b);
    assert_int_equal(store_user_set_ban(st, d, false, ""), 0);
    EXPECT_NEXT(a, "%lld,%lld", (long long)b, (long long)d);
    /* Digest mode and back to live. */
    assert_int_equal(store_follow_mode(st, b, a, true, 1, &added, &changed), 0);
    EXPECT_NEXT(a, "%lld", (long long)d);
    assert_int_equal(store_follow_mode(st, b, a, false, 1, &added, &changed),
                     0);
    EXPECT_NEXT(a, "%lld,%lld", (long long)b, (long long)d);
    /* Another author's followers are their own. */
    assert_int_equal(store_follow(st, a, b, 1), 0);
    EXPECT_NEXT(b, "%lld", (long long)a);
    EXPECT_NEXT(a, "%lld,%lld", (long long)b, (long long)d);
    /* A new user who follows; an erased one. */
    e = mkuser("e@x", "e");
    assert_int_equal(store_follow(st, e, a, 1), 0);
    EXPECT_NEXT(a, "%lld,%lld,%lld", (long long)b, (long long)d, (long long)e);
    assert_int_equal(store_user_erase(st, d), 0);
    EXPECT_NEXT(a, "%lld,%lld", (long long)b, (long long)e);
}

/* A follow written by another connection to the same file (another
 * process: an operator's tool) reaches the author's next post too. */
/* st becomes a store in a file of a new directory (dir, a mkdtemp()
 * template, and path, size bytes, filled in), so that a second
 * connection can reach it; the store it replaces is returned. */
static struct store *file_store(char *dir, char *path, size_t size)
{
    struct store *saved = st;

    assert_non_null(mkdtemp(dir));
    snprintf(path, size, "%s/s.db", dir);
    st = store_open(path);
    assert_non_null(st);
    return saved;
}

/* The file store closed and removed; st is saved again. */
static void file_store_done(struct store *saved, const char *dir,
                            const char *path)
{
    store_close(st);
    st = saved;
    dbfile_remove(path);
    rmdir(dir);
}

static void test_recipients_see_another_connection(void **state)
{
    char dir[] = "/tmp/starling-store-XXXXXX", path[64], sqlq[128];
    struct store *saved = file_store(dir, path, sizeof(path));
    sqlite3 *db;
    int64_t a, b, c;

    (void)state;
    a = mkuser("a@x", "a");
    b = mkuser("b@x", "b");
    c = mkuser("c@x", "c");
    assert_int_equal(store_follow(st, b, a, 1), 0);
    EXPECT_NEXT(a, "%lld", (long long)b);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sqlq, sizeof(sqlq),
             "INSERT INTO follows (follower, followee, created) "
             "VALUES (%lld, %lld, 1)",
             (long long)c, (long long)a);
    assert_int_equal(sqlite3_exec(db, sqlq, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    EXPECT_NEXT(a, "%lld,%lld", (long long)b, (long long)c);
    file_store_done(saved, dir, path);
}

static void route_none(void *ud, int64_t post)
{
    (void)ud;
    (void)post;
}

static bool route_all(void *ud, const struct route *r)
{
    (void)ud;
    (void)r;
    return true;
}

/* A post's fan-out record names each recipient served from memory, what
 * a restart owes them by: ids far apart and close together, in records
 * written now and in those of schema step 11 (8 bytes an id). */
static void test_fanout_record_names_its_recipients(void **state)
{
    char dir[] = "/tmp/starling-store-XXXXXX", path[64], sqlq[256];
    const int64_t ids[] = {7,     8,     9,         300,
                           70000, 70001, 1LL << 40, (1LL << 62) + 5};
    const size_t n = sizeof(ids) / sizeof(ids[0]);
    struct store *saved = file_store(dir, path, sizeof(path));
    sqlite3 *db;
    int64_t a, first, *users;
    uint8_t *states;
    size_t got;

    (void)state;
    a = mkuser("a@x", "a");
    first = post(a, "before anyone followed", NULL, 0, NULL, 0, NULL);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (size_t i = 0; i < n; i++) {
        snprintf(sqlq, sizeof(sqlq),
                 "INSERT INTO users (id, jid, nick, created) "
                 "VALUES (%lld, 'f%zu@x', 'f%zu', 1);"
                 "INSERT INTO follows (follower, followee, created) "
                 "VALUES (%lld, %lld, 1)",
                 (long long)ids[i], i, i, (long long)ids[i], (long long)a);
        assert_int_equal(sqlite3_exec(db, sqlq, NULL, NULL, NULL), SQLITE_OK);
    }
    store_set_router(st, &(struct store_router){route_none, route_all, NULL});
    assert_int_equal(store_fanout_get(st,
                                      post(a, "to all", NULL, 0, NULL, 0, NULL),
                                      &users, &states, &got),
                     1);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(users[i], ids[i]);
        assert_int_equal(states[i], FAN_OPEN);
    }
    free(users);
    free(states);

    /* Step 11's record: 3 and 2^40 + 1, little-endian, 8 bytes each. */
    snprintf(sqlq, sizeof(sqlq),
             "INSERT INTO fanout (post, created, users, states) VALUES (%lld,"
             " 1, X'0300000000000000' || X'0100000000010000', X'0002')",
             (long long)first);
    assert_int_equal(sqlite3_exec(db, sqlq, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_fanout_get(st, first, &users, &states, &got), 1);
    assert_int_equal(got, 2);
    assert_int_equal(users[0], 3);
    assert_int_equal(users[1], (1LL << 40) + 1);
    assert_int_equal(states[1], FAN_DELIVERED);
    free(users);
    free(states);
    store_set_router(st, NULL);
    file_store_done(saved, dir, path);
}

static void test_dm_broadcast_and_dedupe(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b");
    int64_t c = mkuser("c@x", "c");
    struct post_new p = {.author = a,
                         .body = "psst",
                         .created = 10,
                         .kind = POST_DM,
                         .to_user = b,
                         .stanza_id = "s-1"};
    int64_t id, again;
    size_t n;
    char *r, expect[64];
    int count = 0;

    (void)state;
    assert_int_equal(store_post_add(st, &p, &id, &n), 0);
    assert_int_equal(n, 1);
    /* The same stanza id and text from the same author, soon after, is a
     * resend: stored once. */
    p.created = 10 + POST_DEDUP_SECONDS;
    assert_int_equal(store_post_add(st, &p, &again, &n), 1);
    assert_int_equal(again, id);
    /* Ids are unique only within a stream (issue 12, item 4): the same id
     * with another text is a new message... */
    p.body = "psst, again";
    assert_int_equal(store_post_add(st, &p, &again, &n), 0);
    assert_true(again != id);
    /* ...and so is the same text under the same id after the window. */
    p.body = "psst";
    p.created = 11 + POST_DEDUP_SECONDS;
    assert_int_equal(store_post_add(st, &p, &again, &n), 0);
    assert_true(again != id);
    p.created = 10;
    /* ...but another author may use the same id. */
    p.author = c;
    assert_int_equal(store_post_add(st, &p, &again, &n), 0);
    assert_true(again != id);
    /* DMs are no public posts. */
    assert_int_equal(
        store_user_posts(st, a, STORE_NEWEST, 10, count_cb, &count), 0);
    assert_int_equal(count, 0);

    p = (struct post_new){.author = a,
                          .body = "maintenance",
                          .created = 20,
                          .kind = POST_BROADCAST};
    assert_int_equal(store_post_add(st, &p, &id, &n), 0);
    r = recipients(id);
    snprintf(expect, sizeof(expect), "%lld,%lld,%lld", (long long)a,
             (long long)b, (long long)c);
    assert_string_equal(r, expect);
    free(r);
}

static void test_listings_search_and_delete(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b");
    const char *m[] = {"b"};
    int64_t p1, p2, p3;
    struct store_stats s;
    int count;

    (void)state;
    assert_int_equal(store_follow(st, b, a, 1), 0);
    p1 = post(a, "first post about gardening", NULL, 0, NULL, 0, NULL);
    p2 = post(a, "hey @b look at this garden", m, 1, NULL, 0, NULL);
    p3 = post(b, "my own gardening", NULL, 0, NULL, 0, NULL);
    (void)p1;
    count = 0;
    assert_int_equal(store_timeline(st, b, STORE_NEWEST, 10, count_cb, &count),
                     0);
    assert_int_equal(count, 3);
    count = 0;
    assert_int_equal(store_timeline(st, b, STORE_NEWEST, 2, count_cb, &count),
                     0);
    assert_int_equal(count, 2);
    count = 0;
    assert_int_equal(store_mentions(st, b, STORE_NEWEST, 10, count_cb, &count),
                     0);
    assert_int_equal(count, 1);
    count = 0;
    assert_int_equal(
        store_search(st, "gardening", STORE_NEWEST, 10, count_cb, &count), 0);
    assert_int_equal(count, 2);
    /* FTS syntax in user input is only ever words. */
    count = 0;
    assert_int_equal(store_search(st, "gardening OR \"* NEAR( ^x:",
                                  STORE_NEWEST, 10, count_cb, &count),
                     0);
    assert_int_equal(count, 0);
    assert_int_equal(
        store_search(st, "   ", STORE_NEWEST, 10, count_cb, &count), 0);
    assert_int_equal(store_stats(st, &s), 0);
    assert_int_equal(s.posts, 3);
    assert_int_equal(s.held, 2); /* b got p1 and p2 */
    /* Deleting a post removes it everywhere, outbox included. */
    assert_int_equal(store_post_delete(st, p2, NULL, 0, 5000), 0);
    assert_int_equal(store_post_delete(st, p2, NULL, 0, 5000), 1);
    count = 0;
    assert_int_equal(store_mentions(st, b, STORE_NEWEST, 10, count_cb, &count),
                     0);
    assert_int_equal(count, 0);
    count = 0;
    assert_int_equal(
        store_search(st, "garden", STORE_NEWEST, 10, count_cb, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(store_post_get(st, p2, count_cb, &count), 0);
    assert_int_equal(store_stats(st, &s), 0);
    assert_int_equal(s.posts, 2);
    assert_int_equal(s.held, 1);
    /* Numbers are never reused. */
    assert_true(post(a, "later", NULL, 0, NULL, 0, NULL) > p3);
}

static void test_batch(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b"), p1, p2, id;
    struct post_new dup = {
        .author = a, .body = "again", .created = 2000, .stanza_id = "s1"};
    struct store_stats s;
    int count = 0;

    (void)state;
    assert_int_equal(store_follow(st, b, a, 1), 0);
    assert_int_equal(store_batch_begin(st), 0);
    assert_int_equal(store_batch_begin(st), -1); /* no nesting */
    p1 = post(a, "batched gardening", NULL, 0, NULL, 0, NULL);
    dup.body = "first";
    assert_int_equal(store_post_add(st, &dup, &id, NULL), 0);
    /* A resend inside the batch changes nothing. */
    assert_int_equal(store_post_add(st, &dup, &id, NULL), 1);
    /* Search inside the batch already sees the new post... */
    assert_int_equal(
        store_search(st, "gardening", STORE_NEWEST, 10, count_cb, &count), 0);
    assert_int_equal(count, 1);
    p2 = post(a, "more gardening", NULL, 0, NULL, 0, NULL);
    assert_int_equal(store_batch_end(st), 0);
    /* ...and after the commit each post is in the index once. */
    count = 0;
    assert_int_equal(
        store_search(st, "gardening", STORE_NEWEST, 10, count_cb, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(store_stats(st, &s), 0);
    assert_int_equal(s.posts, 3);
    assert_int_equal(s.held, 3);
    /* Deleting a post stored in the same batch leaves the index sound. */
    assert_int_equal(store_batch_begin(st), 0);
    id = post(a, "gardening typo", NULL, 0, NULL, 0, NULL);
    assert_int_equal(store_post_delete(st, id, NULL, 0, 5000), 0);
    assert_int_equal(store_post_delete(st, p1, NULL, 0, 5000), 0);
    assert_int_equal(store_batch_end(st), 0);
    count = 0;
    assert_int_equal(
        store_search(st, "gardening", STORE_NEWEST, 10, count_cb, &count), 0);
    assert_int_equal(count, 1);
    assert_true(p2 > p1);
}

static void test_outbox(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b"), n;
    int64_t ids[8], dropped;
    struct buf got = {0};
    struct store_stats s;

    (void)state;
    assert_int_equal(store_follow(st, b, a, 1), 0);
    for (int i = 0; i < 5; i++)
        post(a, "p", NULL, 0, NULL, 0, NULL);
    assert_int_equal(store_outbox_count_user(st, b, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(store_outbox_trim_user(st, b, 3, &dropped), 0);
    assert_int_equal(dropped, 2);
    /* The newest three stay, oldest first. */
    assert_int_equal(store_outbox_for_user(st, b, rec_cb, &got), 0);
    assert_string_equal(got.s, "2,2,2");
    buf_free(&got);
    ids[0] = 3;
    ids[1] = 4;
    assert_int_equal(store_outbox_done(st, ids, 2), 0);
    assert_int_equal(store_outbox_count_user(st, b, &n), 0);
    assert_int_equal(n, 1);
    /* "stats" counts what is held, whichever way rows come and go. */
    assert_int_equal(store_stats(st, &s), 0);
    assert_int_equal(s.held, 1);
    assert_int_equal(store_outbox_clear_user(st, b), 0);
    assert_int_equal(store_outbox_count_user(st, b, &n), 0);
    assert_int_equal(n, 0);
    post(a, "p", NULL, 0, NULL, 0, NULL);
    post(a, "p", NULL, 0, NULL, 0, NULL);
    assert_int_equal(store_stats(st, &s), 0);
    assert_int_equal(s.held, 2);
    assert_int_equal(store_block(st, b, a), 0);
    assert_int_equal(store_stats(st, &s), 0);
    assert_int_equal(s.held, 0);
}

/* Delivered copies are remembered for a while, then forgotten in order;
 * held rows are never touched by that. */
static void test_copies_age_out(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b"), n, cursor = 0;
    int64_t ids[2] = {1, 2};
    struct store_stats s;

    (void)state;
    assert_int_equal(store_follow(st, b, a, 1), 0);
    for (int i = 0; i < 3; i++)
        post(a, "p", NULL, 0, NULL, 0, NULL); /* rows 1-3, created 2000 */
    assert_int_equal(store_outbox_done(st, ids, 2), 0);
    assert_int_equal(store_stats(st, &s), 0);
    assert_int_equal(s.held, 1);
    /* Not old enough yet. */
    assert_int_equal(store_outbox_prune(st, 2000, 100, &cursor), 0);
    assert_int_equal(cursor, 0);
    /* Old: the two copies go, the held row stays. */
    assert_int_equal(store_outbox_prune(st, 2001, 100, &cursor), 2);
    assert_int_equal(cursor, 3);
    assert_int_equal(store_outbox_count_user(st, b, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_outbox_prune(st, 2001, 100, &cursor), 0);
    assert_int_equal(store_stats(st, &s), 0);
    assert_int_equal(s.held, 1);
}

/* Post ids of a listing as "5,4,3". */
static int ids_cb(void *ud, const struct post *p)
{
    buf_printf(ud, "%s%lld", ((struct buf *)ud)->len ? "," : "",
               (long long)p->id);
    return 0;
}

static int64_t tagged(int64_t author, const char *body, const char *const *t,
                      size_t nt)
{
    struct post_new p = {.author = author,
                         .body = body,
                         .created = 2000,
                         .tags = t,
                         .n_tags = nt};
    int64_t id;

    assert_int_equal(store_post_add(st, &p, &id, NULL), 0);
    return id;
}

/* The listing's ids, then free: expect_ids(b, "3,2") */
static void expect_ids(struct buf *b, const char *want)
{
    assert_string_equal(buf_str(b), want);
    buf_free(b);
    memset(b, 0, sizeof(*b));
}

static void test_paging_by_key(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b"), p[6], r1, r2;
    const char *m[] = {"b"};
    struct buf got = {0};

    (void)state;
    assert_int_equal(store_follow(st, b, a, 1), 0);
    for (int i = 0; i < 6; i++)
        p[i] = post(i % 2 ? a : b, "paged words @b", m, 1, NULL, 0, NULL);
    /* Timeline (merged from two authors): a page, then the rest. */
    assert_int_equal(store_timeline(st, b, STORE_NEWEST, 4, ids_cb, &got), 0);
    expect_ids(&got, "6,5,4,3");
    assert_int_equal(store_timeline(st, b, p[2], 4, ids_cb, &got), 0);
    expect_ids(&got, "2,1");
    /* A callback that stops stops the timeline too. */
    assert_int_equal(
        store_timeline(st, b, STORE_NEWEST, 4, count_stop_cb, &got), 0);
    assert_int_equal(got.len, 1);
    buf_free(&got);
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_user_posts(st, a, p[3], 10, ids_cb, &got), 0);
    expect_ids(&got, "2");
    assert_int_equal(store_search(st, "paged", p[4], 2, ids_cb, &got), 0);
    expect_ids(&got, "4,3");
    assert_int_equal(store_mentions(st, b, p[3], 10, ids_cb, &got), 0);
    expect_ids(&got, "2");
    (void)r1;
    /* Replies go oldest first, after a key. */
    {
        struct post_new rp = {
            .author = b, .body = "re", .created = 3000, .reply_to = p[0]};
        assert_int_equal(store_post_add(st, &rp, &r1, NULL), 0);
        assert_int_equal(store_post_add(st, &rp, &r2, NULL), 0);
    }
    assert_int_equal(store_replies(st, p[0], 0, 10, ids_cb, &got), 0);
    expect_ids(&got, "7,8");
    assert_int_equal(store_replies(st, p[0], r1, 10, ids_cb, &got), 0);
    expect_ids(&got, "8");
    (void)r2;
}

/* Follow listing as "nick@since" (with "+d" for digest). */
static int follow_cb(void *ud, const struct follow_row *f)
{
    buf_printf(ud, "%s%s@%lld%s", ((struct buf *)ud)->len ? "," : "", f->nick,
               (long long)f->since, f->digest ? "+d" : "");
    return 0;
}

static void test_follow_lists_paged_and_digest(void **state)
{
    int64_t me = mkuser("me@x", "me"), u[5];
    char jid[16], nick[8];
    struct buf got = {0};
    bool added, changed;

    (void)state;
    for (int i = 0; i < 5; i++) {
        snprintf(jid, sizeof(jid), "u%d@x", i);
        snprintf(nick, sizeof(nick), "u%d", i);
        u[i] = mkuser(jid, nick);
        /* u0 and u1 followed at the same second: the user id decides. */
        assert_int_equal(store_follow(st, u[i], me, i < 2 ? 100 : 100 + i), 0);
        assert_int_equal(store_follow(st, me, u[i], 200 - i), 0);
    }
    /* Newest follow first, then by user; a page continues after its key. */
    assert_int_equal(store_followers(st, me, (time_t)STORE_NEWEST, STORE_NEWEST,
                                     3, follow_cb, &got),
                     0);
    expect_ids(&got, "u4@104,u3@103,u2@102");
    assert_int_equal(store_followers(st, me, 102, u[2], 3, follow_cb, &got), 0);
    expect_ids(&got, "u1@100,u0@100");
    assert_int_equal(store_followers(st, me, 100, u[1], 3, follow_cb, &got), 0);
    expect_ids(&got, "u0@100");

    /* Digest mode: for an existing follow, switched and back. */
    assert_int_equal(
        store_follow_mode(st, me, u[1], true, 300, &added, &changed), 0);
    assert_false(added);
    assert_true(changed);
    assert_int_equal(
        store_follow_mode(st, me, u[1], true, 300, &added, &changed), 0);
    assert_false(changed);
    assert_int_equal(store_following(st, me, 200, u[0], 2, follow_cb, &got), 0);
    expect_ids(&got, "u1@199+d,u2@198");
    assert_int_equal(
        store_follow_mode(st, me, u[1], false, 300, &added, &changed), 0);
    assert_true(changed);
    assert_int_equal(store_following(st, me, 200, u[0], 1, follow_cb, &got), 0);
    expect_ids(&got, "u1@199");
    /* A new follow in digest mode; unfollowing forgets the mode. */
    assert_int_equal(store_unfollow(st, me, u[3]), 0);
    assert_int_equal(
        store_follow_mode(st, me, u[3], true, 400, &added, &changed), 0);
    assert_true(added);
    assert_true(changed);
    assert_int_equal(store_unfollow(st, me, u[3]), 0);
    assert_int_equal(
        store_follow_mode(st, me, u[3], false, 500, &added, &changed), 0);
    assert_true(added);
    assert_false(changed);
    assert_int_equal(store_following(st, me, (time_t)STORE_NEWEST, STORE_NEWEST,
                                     1, follow_cb, &got),
                     0);
    expect_ids(&got, "u3@500");
}

static void test_tags(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b"), p1, p2, p3;
    const char *t1[] = {"xmpp", "c"}, *t2[] = {"xmpp"}, *t3[] = {"café"};
    struct buf got = {0};

    (void)state;
    p1 = tagged(a, "#xmpp in #c", t1, 2);
    p2 = tagged(b, "more #xmpp", t2, 1);
    p3 = tagged(a, "#café", t3, 1);
    assert_int_equal(
        store_tag_posts(st, "xmpp", STORE_NEWEST, 10, ids_cb, &got), 0);
    expect_ids(&got, "2,1");
    assert_int_equal(store_tag_posts(st, "xmpp", p2, 10, ids_cb, &got), 0);
    expect_ids(&got, "1");
    assert_int_equal(
        store_tag_posts(st, "café", STORE_NEWEST, 10, ids_cb, &got), 0);
    expect_ids(&got, "3");
    /* Private messages are never tagged. */
    {
        struct post_new dm = {.author = a,
                              .body = "#secret",
                              .created = 1,
                              .kind = POST_DM,
                              .to_user = b,
                              .tags = (const char *const[]){"secret"},
                              .n_tags = 1};
        int64_t id;

        assert_int_equal(store_follow(st, b, a, 1), 0);
        assert_int_equal(store_post_add(st, &dm, &id, NULL), 0);
        assert_int_equal(
            store_tag_posts(st, "secret", STORE_NEWEST, 10, ids_cb, &got), 0);
        expect_ids(&got, "");
    }
    /* A deleted post leaves the tag index. */
    assert_int_equal(store_post_delete(st, p1, NULL, 0, 5000), 0);
    assert_int_equal(
        store_tag_posts(st, "xmpp", STORE_NEWEST, 10, ids_cb, &got), 0);
    expect_ids(&got, "2");
    assert_int_equal(store_tag_posts(st, "c", STORE_NEWEST, 10, ids_cb, &got),
                     0);
    expect_ids(&got, "");
    (void)p3;
}

static void test_track_tag_matches_the_tag_only(void **state)
{
    int64_t a = mkuser("a@x", "a"), word = mkuser("w@x", "w");
    int64_t tag = mkuser("t@x", "t"), id;
    /* What the post path passes: the words, and each tag as "#tag". */
    const char *w1[] = {"rust", "is", "fun"};
    const char *w2[] = {"i", "like", "rust", "#rust"};
    char *r, expect[64];

    (void)state;
    assert_int_equal(store_track_add(st, word, "rust"), 0);
    assert_int_equal(store_track_add(st, tag, "#rust"), 0);
    id = post(a, "rust is fun", NULL, 0, w1, 3, NULL);
    r = recipients(id);
    snprintf(expect, sizeof(expect), "%lld", (long long)word);
    assert_string_equal(r, expect);
    free(r);
    id = post(a, "I like #rust", NULL, 0, w2, 4, NULL);
    r = recipients(id);
    snprintf(expect, sizeof(expect), "%lld,%lld", (long long)word,
             (long long)tag);
    assert_string_equal(r, expect);
    free(r);
}

/* DMs as "id>peer" */
static int dm_cb(void *ud, const struct post *p, const char *peer)
{
    buf_printf(ud, "%s%lld%s", ((struct buf *)ud)->len ? "," : "",
               (long long)p->id, peer);
    return 0;
}

static void test_dms_both_ways(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b");
    int64_t c = mkuser("c@x", "c"), id;
    struct post_new dm = {.body = "psst", .created = 5, .kind = POST_DM};
    struct buf got = {0};
    const int64_t from[] = {a, b, c, a, b}, to[] = {b, a, b, c, c};

    (void)state;
    for (int i = 0; i < 5; i++) {
        dm.author = from[i];
        dm.to_user = to[i];
        assert_int_equal(store_post_add(st, &dm, &id, NULL), 0);
    }
    post(a, "public", NULL, 0, NULL, 0, NULL);
    /* Newest first, sent and received, the other side named. */
    assert_int_equal(store_dms(st, b, STORE_NEWEST, 10, dm_cb, &got), 0);
    expect_ids(&got, "5c,3c,2a,1a");
    assert_int_equal(store_dms(st, b, 3, 1, dm_cb, &got), 0);
    expect_ids(&got, "2a");
    assert_int_equal(store_dms(st, a, STORE_NEWEST, 2, dm_cb, &got), 0);
    expect_ids(&got, "4c,2b");
}

static void test_favs_and_told_once(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b"), p1, p2, p3;
    struct buf got = {0};

    (void)state;
    p1 = post(a, "one", NULL, 0, NULL, 0, NULL);
    p2 = post(a, "two", NULL, 0, NULL, 0, NULL);
    p3 = post(a, "three", NULL, 0, NULL, 0, NULL);
    assert_int_equal(store_fav_add(st, b, p1, 10), 0);
    assert_int_equal(store_fav_add(st, b, p1, 11), 1);
    assert_int_equal(store_fav_add(st, b, p3, 12), 0);
    assert_int_equal(store_fav_add(st, a, p2, 12), 0);
    assert_int_equal(store_favs(st, b, STORE_NEWEST, 10, ids_cb, &got), 0);
    expect_ids(&got, "3,1");
    assert_int_equal(store_favs(st, b, p3, 10, ids_cb, &got), 0);
    expect_ids(&got, "1");
    assert_int_equal(store_fav_del(st, b, p1), 0);
    assert_int_equal(store_fav_del(st, b, p1), 1);
    assert_int_equal(store_favs(st, b, STORE_NEWEST, 10, ids_cb, &got), 0);
    expect_ids(&got, "3");
    /* Told once per (kind, actor, object), whatever happens between. */
    assert_int_equal(store_told_once(st, TOLD_FAV, b, p1), 1);
    assert_int_equal(store_told_once(st, TOLD_FAV, b, p1), 0);
    assert_int_equal(store_told_once(st, TOLD_FOLLOW, b, p1), 1);
    assert_int_equal(store_told_once(st, TOLD_FAV, a, p1), 1);
    /* A deleted post takes its favourites and fav notices with it. */
    assert_int_equal(store_told_once(st, TOLD_FAV, b, p3), 1);
    assert_int_equal(store_post_delete(st, p3, NULL, 0, 5000), 0);
    assert_int_equal(store_favs(st, b, STORE_NEWEST, 10, ids_cb, &got), 0);
    expect_ids(&got, "");
    assert_int_equal(store_told_once(st, TOLD_FAV, b, p3), 1);
    assert_int_equal(store_told_once(st, TOLD_FOLLOW, b, p1), 0);
}

static void test_prefs(void **state)
{
    int64_t a = mkuser("a@x", "a"), b = mkuser("b@x", "b");
    struct prefs p;

    (void)state;
    assert_int_equal(store_prefs_get(st, a, &p), 0);
    assert_string_equal(p.tz, "");
    assert_int_equal(p.quiet_start, -1);
    assert_int_equal(p.quiet_end, -1);
    assert_int_equal(p.digest_at, PREFS_DIGEST_DEFAULT);
    assert_true(p.notices);
    snprintf(p.tz, sizeof(p.tz), "Europe/Berlin");
    p.quiet_start = 23 * 60;
    p.quiet_end = 7 * 60;
    p.digest_at = 6 * 60 + 30;
    p.notices = false;
    p.exported = 12345;
    assert_int_equal(store_prefs_put(st, a, &p), 0);
    memset(&p, 0, sizeof(p));
    assert_int_equal(store_prefs_get(st, a, &p), 0);
    assert_string_equal(p.tz, "Europe/Berlin");
    assert_int_equal(p.quiet_start, 23 * 60);
    assert_int_equal(p.quiet_end, 7 * 60);
    assert_int_equal(p.digest_at, 6 * 60 + 30);
    assert_false(p.notices);
    assert_int_equal(p.exported, 12345);
    /* Quiet hours off; someone else's settings untouched. */
    p.quiet_start = -1;
    assert_int_equal(store_prefs_put(st, a, &p), 0);
    assert_int_equal(store_prefs_get(st, a, &p), 0);
    assert_int_equal(p.quiet_start, -1);
    assert_int_equal(p.quiet_end, -1);
    assert_int_equal(store_prefs_get(st, b, &p), 0);
    assert_true(p.notices);
}

/* Plans: every statement served by an index.  Allowed walks: the
 * counters table (five rows), json_each lists, the FTS index, a constant
 * row, and users_reachable for broadcast / the active users list, which
 * are about every user by nature.  No statement may sort with a
 * temporary B-tree: listings read rows in the order of an index, so that
 * a page costs the page, not the whole list (issue 12 item 10). */
static void plan_cb(void *ud, const char *sql, const char *plan)
{
    static const char *const big[] = {
        "users",         "posts",  "follows", "blocks",    "tracks",
        "mentions",      "outbox", "tags",    "favs",      "told",
        "follow_digest", "prefs",  "mutes",   "reactions", "audit",
        "nick_next",     "fanout", NULL};
    int *bad = ud;

    if (strstr(plan, "TEMP B-TREE") != NULL) {
        print_error("sort: %s\n  in: %s\n", plan, sql);
        (*bad)++;
        return;
    }
    if (strncmp(plan, "SCAN ", 5) != 0)
        return;
    if (strstr(plan, "json_each") || strstr(plan, "VIRTUAL TABLE") ||
        strstr(plan, "CONSTANT ROW") || strstr(plan, "counters") ||
        strstr(plan, "users_reachable") || strstr(plan, "fanout_open") ||
        strstr(sql, "WHERE active = 1 ORDER BY id"))
        return;
    for (size_t i = 0; big[i] != NULL; i++) {
        const char *t = plan + 5;

        if (strncmp(t, big[i], strlen(big[i])) == 0 ||
            (t[0] != '\0' && t[1] == ' ')) {
            print_error("full scan: %s\n  in: %s\n", plan, sql);
            (*bad)++;
            return;
        }
    }
}

static void test_every_query_uses_an_index(void **state)
{
    int bad = 0;

    (void)state;
    assert_int_equal(store_explain(st, plan_cb, &bad), 0);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users_and_nicks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_nick_costs_constant, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reserved_base_gets_a_number, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_follow_block_track, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recipients_follow_each_change,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_recipients_see_another_connection,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fanout_record_names_its_recipients,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dm_broadcast_and_dedupe, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_listings_search_and_delete, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies_age_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_by_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_lists_paged_and_digest,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_track_tag_matches_the_tag_only,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dms_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_favs_and_told_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prefs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_query_uses_an_index, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
