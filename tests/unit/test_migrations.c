/*
 * test_migrations.c - every schema step from every earlier schema: a
 * database left at step k by an older Starling, with users, follows,
 * posts and a held delivery written as that version wrote them, opens
 * with today's store and keeps all of it working.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbfile.h"
#include "migrations.h"
#include "store.h"

static void sql(sqlite3 *db, const char *q)
{
    char *err = NULL;

    if (sqlite3_exec(db, q, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", q, err);
}

/* A database at step k with what a Starling of that version stored. */
static void old_database(const char *path, int k)
{
    sqlite3 *db;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(migrations_apply_to(db, k), 0);
    if (k > 0) {
        sql(db, "INSERT INTO users (jid, nick, created) VALUES "
                "('alice@x', 'alice', 1), ('bob@x', 'bob', 1);"
                "INSERT INTO follows (follower, followee, created) "
                "VALUES (2, 1, 1);"
                "INSERT INTO posts (author, body, created, stanza_id) VALUES "
                "(1, 'first gardening post', 100, 's1'),"
                "(1, 'second one', 200, 's2');"
                "INSERT INTO outbox (post, user, created) VALUES (2, 2, 200);");
        /* From step 2 the store keeps the held counter, from step 3 it
         * indexes posts itself (the triggers did before). */
        if (k >= 2)
            sql(db, "UPDATE counters SET value = value + 1 "
                    "WHERE name = 'held'");
        if (k >= 3)
            sql(db, "INSERT INTO posts_fts(rowid, body) SELECT id, body "
                    "FROM posts WHERE id > (SELECT value FROM counters "
                    "WHERE name = 'indexed');"
                    "UPDATE counters SET value = (SELECT max(id) FROM posts) "
                    "WHERE name = 'indexed'");
    }
    sqlite3_close(db);
}

static int count_cb(void *ud, const struct post *p)
{
    (void)p;
    (*(int *)ud)++;
    return 0;
}

static int row_cb(void *ud, const struct outbox_row *r)
{
    *(struct outbox_row *)ud = *r;
    return 0;
}

static void plan_cb(void *ud, const char *q, const char *plan)
{
    (void)ud;
    (void)q;
    (void)plan;
}

static void from_step(int k)
{
    char path[] = "/tmp/starling-migrate-XXXXXX";
    int fd = mkstemp(path);
    struct store *st;
    struct user alice, bob;
    struct store_stats s;
    struct outbox_row r;
    struct post_new again = {
        .author = 1, .body = "second one", .created = 210, .stanza_id = "s2"};
    int64_t n, id;
    int count = 0;

    assert_true(fd >= 0);
    close(fd);
    old_database(path, k);
    st = store_open(path);
    assert_non_null(st);
    if (k > 0) {
        /* Users, follows, posts and search survive. */
        assert_int_equal(store_user_by_nick(st, "alice", &alice), 1);
        assert_int_equal(store_user_by_nick(st, "bob", &bob), 1);
        assert_int_equal(store_is_following(st, bob.id, alice.id), 1);
        assert_int_equal(
            store_timeline(st, bob.id, STORE_NEWEST, 10, count_cb, &count), 0);
        assert_int_equal(count, 2);
        count = 0;
        assert_int_equal(
            store_search(st, "gardening", STORE_NEWEST, 10, count_cb, &count),
            0);
        assert_int_equal(count, 1);
        /* The held delivery is still owed, and always handed over. */
        assert_int_equal(store_outbox_count_user(st, bob.id, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(store_stats(st, &s), 0);
        assert_int_equal(s.held, 1);
        assert_int_equal(store_outbox_for_user(st, bob.id, row_cb, &r), 0);
        assert_int_equal(r.post.id, 2);
        assert_false(r.ordinary);
        assert_int_equal(r.what, OUTBOX_UPDATE);
        /* A resend of an old message is still recognised. */
        assert_int_equal(store_post_dup(st, &again, &id), 1);
        assert_int_equal(id, 2);
    }
    /* And the store works on: a new post reaches the follower. */
    if (k == 0) {
        assert_int_equal(
            store_user_create(st, "alice@x", "alice", false, false, 1, &alice),
            0);
        assert_int_equal(
            store_user_create(st, "bob@x", "bob", false, false, 1, &bob), 0);
        assert_int_equal(store_follow(st, bob.id, alice.id, 1), 0);
    }
    again = (struct post_new){
        .author = alice.id, .body = "after the upgrade", .created = 300};
    assert_int_equal(store_post_add(st, &again, &id, (size_t *)&n), 0);
    assert_int_equal(n, 1);
    count = 0;
    assert_int_equal(
        store_search(st, "upgrade", STORE_NEWEST, 10, count_cb, &count), 0);
    assert_int_equal(count, 1);
    /* New users whose base is taken get the next numbers (step 10's
     * table of next numbers starts empty on an older database). */
    assert_int_equal(
        store_user_create(st, "alice@y", "alice", false, false, 2, &bob), 0);
    assert_string_equal(bob.nick, "alice2");
    assert_int_equal(
        store_user_create(st, "alice@z", "alice", false, false, 2, &bob), 0);
    assert_string_equal(bob.nick, "alice3");
    assert_int_equal(store_explain(st, plan_cb, NULL), 0);
    store_close(st);
    dbfile_remove(path);
}

static void test_every_step_from_every_earlier_schema(void **state)
{
    (void)state;
    for (int k = 0; k <= migrations_latest(); k++) {
        print_message("from step %d\n", k);
        from_step(k);
    }
}

static void test_a_newer_schema_is_refused(void **state)
{
    char path[] = "/tmp/starling-migrate-XXXXXX";
    int fd = mkstemp(path);
    sqlite3 *db;
    char q[64];

    (void)state;
    close(fd);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(q, sizeof(q), "PRAGMA user_version = %d", migrations_latest() + 1);
    sql(db, q);
    sqlite3_close(db);
    assert_null(store_open(path));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_step_from_every_earlier_schema),
        cmocka_unit_test(test_a_newer_schema_is_refused),
    };

    return cmocka_run_group_tests_name("migrations", tests, NULL, NULL);
}
