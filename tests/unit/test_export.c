/*
 * test_export.c - the export document: valid JSON holding a user's
 * profile, settings, posts (more than a store batch), private messages
 * both ways, follows both ways, favourites, tracked words and blocks, and
 * nobody else's; the size limit; pieces that never split a character.
 * The document is read back with SQLite's JSON functions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

static struct store *st;
static sqlite3 *db; /* a scratch database to read JSON with */

static int setup(void **state)
{
    (void)state;
    st = store_open(":memory:");
    return st != NULL && sqlite3_open(":memory:", &db) == SQLITE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    store_close(st);
    sqlite3_close(db);
    return 0;
}

static struct user mkuser(const char *jid, const char *nick)
{
    struct user u;

    assert_int_equal(store_user_create(st, jid, nick, false, false, 86400, &u),
                     0);
    return u;
}

static int64_t add(int64_t author, const char *body, enum post_kind kind,
                   int64_t to, int64_t reply_to)
{
    struct post_new p = {.author = author,
                         .body = body,
                         .created = 2 * 86400,
                         .kind = kind,
                         .to_user = to,
                         .reply_to = reply_to};
    int64_t id;

    assert_int_equal(store_post_add(st, &p, &id, NULL), 0);
    return id;
}

/* json_extract(doc, path) as text ("" for NULL); caller frees. */
static char *get(const char *doc, const char *path)
{
    sqlite3_stmt *q;
    const unsigned char *v;
    char *out;

    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT json_extract(?1, ?2)", -1, &q, NULL),
        SQLITE_OK);
    sqlite3_bind_text(q, 1, doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, path, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    v = sqlite3_column_text(q, 0);
    out = strdup(v != NULL ? (const char *)v : "");
    sqlite3_finalize(q);
    return out;
}

static void expect(const char *doc, const char *path, const char *want)
{
    char *v = get(doc, path);

    if (strcmp(v, want) != 0)
        fail_msg("%s: %s, expected %s", path, v, want);
    free(v);
}

static void test_document(void **state)
{
    struct user a = mkuser("alice@x", "alice"), b = mkuser("bob@x", "bob");
    struct user c = mkuser("carol@x", "carol");
    const char *tricky =
        "say \"hi\"\\ \n\ttab \x01 caf\xc3\xa9 \xf0\x9f\x99\x82";
    struct buf doc = {0};
    struct prefs p;
    bool added, changed;
    int64_t first, dm1, dm2, bobs;
    char path[64];

    (void)state;
    assert_int_equal(store_user_set_bio(st, a.id, "Gardener"), 0);
    assert_int_equal(store_user_by_id(st, a.id, &a), 1);
    first = add(a.id, tricky, POST_PUBLIC, 0, 0);
    for (int i = 0; i < 1200; i++)
        add(a.id, "more", POST_PUBLIC, 0, 0);
    bobs = add(b.id, "bob's own", POST_PUBLIC, 0, 0);
    add(a.id, "a reply", POST_PUBLIC, 0, bobs);
    assert_int_equal(store_follow(st, b.id, a.id, 500), 0);
    assert_int_equal(store_follow(st, a.id, b.id, 600), 0);
    assert_int_equal(
        store_follow_mode(st, a.id, c.id, true, 700, &added, &changed), 0);
    dm1 = add(a.id, "to bob", POST_DM, b.id, 0);
    dm2 = add(b.id, "to alice", POST_DM, a.id, 0);
    add(b.id, "bob to carol", POST_DM, c.id, 0);
    assert_int_equal(store_fav_add(st, a.id, bobs, 800), 0);
    assert_int_equal(store_track_add(st, a.id, "#xmpp"), 0);
    assert_int_equal(store_track_add(st, a.id, "garden"), 0);
    assert_int_equal(store_block(st, a.id, c.id), 0);
    assert_int_equal(store_prefs_get(st, a.id, &p), 0);
    snprintf(p.tz, sizeof(p.tz), "Europe/Berlin");
    p.quiet_start = 23 * 60;
    p.quiet_end = 7 * 60;
    assert_int_equal(store_prefs_put(st, a.id, &p), 0);

    assert_int_equal(export_json(st, &a, 3 * 86400, 1 << 20, &doc), 0);
    expect(doc.s, "$.format", "starling-export");
    expect(doc.s, "$.version", "1");
    expect(doc.s, "$.exported", "1970-01-04T00:00:00Z");
    expect(doc.s, "$.user.nick", "alice");
    expect(doc.s, "$.user.jid", "alice@x");
    expect(doc.s, "$.user.bio", "Gardener");
    expect(doc.s, "$.user.joined", "1970-01-02T00:00:00Z");
    expect(doc.s, "$.settings.time_zone", "Europe/Berlin");
    expect(doc.s, "$.settings.quiet_hours.from", "23:00");
    expect(doc.s, "$.settings.quiet_hours.to", "07:00");
    expect(doc.s, "$.settings.digest_at", "08:00");
    expect(doc.s, "$.settings.follow_notices", "1");
    /* Every post, across store batches; newest first; text verbatim. */
    {
        char *n = get(doc.s, "$.posts[#-1].id");
        char want[32];

        snprintf(want, sizeof(want), "%lld", (long long)first);
        assert_string_equal(n, want);
        free(n);
    }
    expect(doc.s, "$.posts[#-1].text", tricky);
    expect(doc.s, "$.posts[0].text", "a reply");
    snprintf(path, sizeof(path), "%lld", (long long)bobs);
    expect(doc.s, "$.posts[0].reply_to", path);
    expect(doc.s, "$.posts[1].reply_to", "");
    expect(doc.s, "$.posts[1200].text", "more");
    expect(doc.s, "$.posts[1202]", "");
    /* Private messages both ways, not other people's. */
    snprintf(path, sizeof(path), "%lld", (long long)dm2);
    expect(doc.s, "$.private_messages[0].id", path);
    expect(doc.s, "$.private_messages[0].direction", "received");
    expect(doc.s, "$.private_messages[0].peer", "bob");
    snprintf(path, sizeof(path), "%lld", (long long)dm1);
    expect(doc.s, "$.private_messages[1].id", path);
    expect(doc.s, "$.private_messages[1].direction", "sent");
    expect(doc.s, "$.private_messages[2]", "");
    /* Follows: the block removed carol's side only; the digest mode. */
    expect(doc.s, "$.following[0].nick", "carol");
    expect(doc.s, "$.following[0].digest", "1");
    expect(doc.s, "$.following[1].nick", "bob");
    expect(doc.s, "$.following[1].since", "1970-01-01T00:10:00Z");
    expect(doc.s, "$.following[1].digest", "0");
    expect(doc.s, "$.followers[0].nick", "bob");
    expect(doc.s, "$.followers[1]", "");
    expect(doc.s, "$.favourites[0].author", "bob");
    expect(doc.s, "$.favourites[0].text", "bob's own");
    expect(doc.s, "$.tracking[0]", "#xmpp");
    expect(doc.s, "$.tracking[1]", "garden");
    expect(doc.s, "$.blocking[0]", "carol");
    buf_free(&doc);
}

static void test_valid_json_and_limit(void **state)
{
    struct user a = mkuser("a@x", "a");
    struct buf doc = {0};
    char *valid;

    (void)state;
    /* An empty account is a whole document too. */
    assert_int_equal(export_json(st, &a, 0, 1 << 20, &doc), 0);
    valid = get(doc.s, "$.posts");
    assert_string_equal(valid, "[]");
    free(valid);
    expect(doc.s, "$.settings.time_zone", "");
    expect(doc.s, "$.settings.quiet_hours", "");
    buf_free(&doc);
    memset(&doc, 0, sizeof(doc));
    for (int i = 0; i < 50; i++)
        add(a.id, "a post of some length to fill the document", POST_PUBLIC, 0,
            0);
    assert_int_equal(export_json(st, &a, 0, 1000, &doc), 1);
    buf_free(&doc);
}

static void test_pieces_keep_characters_whole(void **state)
{
    const char *s = "ab\xc3\xa9\xf0\x9f\x99\x82z"; /* a b é 🙂 z */
    size_t len = strlen(s);

    (void)state;
    assert_int_equal(export_piece(s, len, 2), 2);
    assert_int_equal(export_piece(s, len, 3), 2); /* not half of é */
    assert_int_equal(export_piece(s, len, 4), 4);
    assert_int_equal(export_piece(s, len, 6), 4); /* not 2/4 of 🙂 */
    assert_int_equal(export_piece(s, len, 8), 8);
    assert_int_equal(export_piece(s, len, 100), len);
    /* A limit below one character: the character, whole. */
    assert_int_equal(export_piece(s + 2, len - 2, 1), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_json_and_limit, setup,
                                        teardown),
        cmocka_unit_test(test_pieces_keep_characters_whole),
    };

    return cmocka_run_group_tests_name("export", tests, NULL, NULL);
}
