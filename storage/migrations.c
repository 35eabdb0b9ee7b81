/*
 * migrations.c - the schema, as numbered steps.
 *
 * Step N brings a database from user_version N-1 to N.  Steps are never
 * edited once released: a change is a new step at the end.  Each runs in
 * its own transaction together with the user_version bump, so a crash
 * leaves the database at a complete step.
 */
#include <stdio.h>

#include "../common/log.h"
#include "migrations.h"

static const char *const steps[] = {
    /* 1: users, posts, follows, blocks, tracks, mentions, outbox, audit,
     *    O(1) counters and full-text search. */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  jid TEXT NOT NULL UNIQUE,"
    "  nick TEXT NOT NULL UNIQUE,"
    "  bio TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  active INTEGER NOT NULL DEFAULT 1,"
    "  deliver INTEGER NOT NULL DEFAULT 1,"
    "  away INTEGER NOT NULL DEFAULT 0,"
    "  banned INTEGER NOT NULL DEFAULT 0,"
    "  ban_reason TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX users_reachable ON users(id)"
    "  WHERE active = 1 AND deliver = 1 AND banned = 0;"
    "CREATE TABLE posts ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  author INTEGER NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  reply_to INTEGER,"
    "  kind INTEGER NOT NULL DEFAULT 0,"
    "  to_user INTEGER,"
    "  stanza_id TEXT);"
    "CREATE VIRTUAL TABLE posts_fts USING fts5(body, content = 'posts',"
    "  content_rowid = 'id');"
    "CREATE UNIQUE INDEX posts_stanza ON posts(author, stanza_id)"
    "  WHERE stanza_id IS NOT NULL;"
    "CREATE INDEX posts_author ON posts(author, id);"
    "CREATE INDEX posts_author_created ON posts(author, created);"
    "CREATE INDEX posts_reply ON posts(reply_to, id)"
    "  WHERE reply_to IS NOT NULL;"
    "CREATE TABLE follows ("
    "  follower INTEGER NOT NULL,"
    "  followee INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (follower, followee)) WITHOUT ROWID;"
    "CREATE INDEX follows_followee ON follows(followee, follower);"
    "CREATE TABLE blocks ("
    "  blocker INTEGER NOT NULL,"
    "  blocked INTEGER NOT NULL,"
    "  PRIMARY KEY (blocker, blocked)) WITHOUT ROWID;"
    "CREATE INDEX blocks_blocked ON blocks(blocked, blocker);"
    "CREATE TABLE tracks ("
    "  user INTEGER NOT NULL,"
    "  word TEXT NOT NULL,"
    "  PRIMARY KEY (user, word)) WITHOUT ROWID;"
    "CREATE INDEX tracks_word ON tracks(word, user);"
    "CREATE TABLE mentions ("
    "  user INTEGER NOT NULL,"
    "  post INTEGER NOT NULL,"
    "  PRIMARY KEY (user, post)) WITHOUT ROWID;"
    "CREATE INDEX mentions_post ON mentions(post, user);"
    /* AUTOINCREMENT: an id is never reused, so a row confirmed late by
     * a barrier can never be mistaken for a newer one. */
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  post INTEGER NOT NULL,"
    "  user INTEGER NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE INDEX outbox_user ON outbox(user, id);"
    "CREATE INDEX outbox_post ON outbox(post);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  admin TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  detail TEXT NOT NULL);"
    "CREATE TABLE counters ("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO counters VALUES ('users', 0), ('active', 0), ('posts', 0),"
    "  ('follows', 0), ('held', 0);"
    "CREATE TRIGGER users_ai AFTER INSERT ON users BEGIN"
    "  UPDATE counters SET value = value + 1 WHERE name = 'users';"
    "  UPDATE counters SET value = value + new.active WHERE name = 'active';"
    "END;"
    "CREATE TRIGGER users_au AFTER UPDATE OF active ON users"
    "  WHEN new.active != old.active BEGIN"
    "  UPDATE counters SET value = value + new.active - old.active"
    "    WHERE name = 'active';"
    "END;"
    "CREATE TRIGGER posts_ai AFTER INSERT ON posts WHEN new.kind = 0 BEGIN"
    "  UPDATE counters SET value = value + 1 WHERE name = 'posts';"
    "  INSERT INTO posts_fts(rowid, body) VALUES (new.id, new.body);"
    "END;"
    "CREATE TRIGGER posts_ad AFTER DELETE ON posts WHEN old.kind = 0 BEGIN"
    "  UPDATE counters SET value = value - 1 WHERE name = 'posts';"
    "  INSERT INTO posts_fts(posts_fts, rowid, body)"
    "    VALUES ('delete', old.id, old.body);"
    "END;"
    "CREATE TRIGGER follows_ai AFTER INSERT ON follows BEGIN"
    "  UPDATE counters SET value = value + 1 WHERE name = 'follows';"
    "END;"
    "CREATE TRIGGER follows_ad AFTER DELETE ON follows BEGIN"
    "  UPDATE counters SET value = value - 1 WHERE name = 'follows';"
    "END;"
    "CREATE TRIGGER outbox_ai AFTER INSERT ON outbox BEGIN"
    "  UPDATE counters SET value = value + 1 WHERE name = 'held';"
    "END;"
    "CREATE TRIGGER outbox_ad AFTER DELETE ON outbox BEGIN"
    "  UPDATE counters SET value = value - 1 WHERE name = 'held';"
    "END;",

    /* 2: the held counter moves into the store's outbox statements, one
     * update a statement: a trigger a row cost a fifth of a delivery. */
    "DROP TRIGGER outbox_ai;"
    "DROP TRIGGER outbox_ad;",

    /* 3: posts reach the search index once a transaction, not a row at a
     * time: FTS5 writes out a segment at every statement's end inside a
     * transaction.  'indexed' is the highest post id the index covers. */
    "DROP TRIGGER posts_ai;"
    "CREATE TRIGGER posts_ai AFTER INSERT ON posts WHEN new.kind = 0 BEGIN"
    "  UPDATE counters SET value = value + 1 WHERE name = 'posts';"
    "END;"
    "INSERT INTO counters VALUES ('indexed',"
    "  (SELECT coalesce(max(id), 0) FROM posts));",

    /* 4: an author's public posts, newest first, straight from the index:
     * with kind outside it, every candidate row was read from the table to
     * check it, a scattered page each in a large store ("last" was 2.3
     * times slower at 100,000 users). */
    "DROP INDEX posts_author;"
    "CREATE INDEX posts_author ON posts(author, kind, id);",

    /* 5: the outbox keeps what was delivered (a copy the recipient has,
     *    which a correction or a retraction must reach: state 1) and says
     *    what a row is: the update itself, its correction or its
     *    retraction ('what' 0, 1, 2), and whether it is an ordinary update
     *    from someone the recipient follows, which may be summarised away
     *    (class 0), or one that is always handed over (class 1).  Rows
     *    written before this step are all kept.  One row per post, user
     *    and kind of row.  users.dropped counts the ordinary updates
     *    dropped while held, for the summary.  A stanza id identifies a
     *    resend only within a few minutes (ids repeat across streams), so
     *    it is no longer unique; posts remember the XEP-0359 origin-id of
     *    the message that made them, and how often they were edited. */
    "ALTER TABLE outbox ADD COLUMN state INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outbox ADD COLUMN class INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE outbox ADD COLUMN what INTEGER NOT NULL DEFAULT 0;"
    "DROP INDEX outbox_user;"
    "DROP INDEX outbox_post;"
    "CREATE INDEX outbox_held ON outbox(user, id) WHERE state = 0;"
    "CREATE UNIQUE INDEX outbox_post ON outbox(post, user, what);"
    "ALTER TABLE users ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0;"
    "DROP INDEX posts_stanza;"
    "CREATE INDEX posts_stanza ON posts(author, stanza_id)"
    "  WHERE stanza_id IS NOT NULL;"
    "ALTER TABLE posts ADD COLUMN origin_id TEXT;"
    "CREATE INDEX posts_origin ON posts(author, origin_id)"
    "  WHERE origin_id IS NOT NULL;"
    "ALTER TABLE posts ADD COLUMN edits INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE reactions ("
    "  post INTEGER NOT NULL,"
    "  user INTEGER NOT NULL,"
    "  emoji TEXT NOT NULL,"
    "  PRIMARY KEY (post, user, emoji)) WITHOUT ROWID;",

    /* 6: threads and repeats.  A reply belongs to the thread of the post
     *    it answers (its first post's id), so that it reaches everyone who
     *    took part; a user may mute a thread.  A repeat (kind 3) passes a
     *    post on to the repeater's followers, once per post and user. */
    "ALTER TABLE posts ADD COLUMN thread INTEGER;"
    "ALTER TABLE posts ADD COLUMN repeat_of INTEGER;"
    "WITH RECURSIVE chain(id, root) AS ("
    "  SELECT id, id FROM posts WHERE reply_to IS NULL"
    "  UNION ALL SELECT p.id, c.root FROM posts p JOIN chain c"
    "    ON p.reply_to = c.id)"
    "UPDATE posts SET thread = ifnull((SELECT root FROM chain"
    "  WHERE chain.id = posts.id), reply_to) WHERE reply_to IS NOT NULL;"
    "CREATE INDEX posts_thread ON posts(thread, author)"
    "  WHERE thread IS NOT NULL;"
    "CREATE UNIQUE INDEX posts_repeat ON posts(repeat_of, author)"
    "  WHERE repeat_of IS NOT NULL;"
    "CREATE TABLE mutes ("
    "  user INTEGER NOT NULL,"
    "  thread INTEGER NOT NULL,"
    "  PRIMARY KEY (user, thread)) WITHOUT ROWID;",

    /* 7: what Juick and identi.ca users expect (issue 15): tags, favourites,
     *    notices told once, per-user settings, follows in digest mode, and
     *    indexes that page the DM inbox and the follow lists by key.  Posts
     *    stored before this step are not in the tag index. */
    "CREATE TABLE tags ("
    "  tag TEXT NOT NULL,"
    "  post INTEGER NOT NULL,"
    "  PRIMARY KEY (tag, post)) WITHOUT ROWID;"
    "CREATE INDEX tags_post ON tags(post);"
    "CREATE TABLE favs ("
    "  user INTEGER NOT NULL,"
    "  post INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (user, post)) WITHOUT ROWID;"
    "CREATE INDEX favs_post ON favs(post);"
    /* One row per notice already given (kind 1: actor faved post object;
     * kind 2: actor followed user object): each is told at most once. */
    "CREATE TABLE told ("
    "  kind INTEGER NOT NULL,"
    "  actor INTEGER NOT NULL,"
    "  object INTEGER NOT NULL,"
    "  PRIMARY KEY (kind, actor, object)) WITHOUT ROWID;"
    "CREATE INDEX told_object ON told(kind, object);"
    /* Only users who changed a setting have a row; NULL minutes: none. */
    "CREATE TABLE prefs ("
    "  user INTEGER PRIMARY KEY,"
    "  tz TEXT NOT NULL DEFAULT '',"
    "  quiet_start INTEGER,"
    "  quiet_end INTEGER,"
    "  digest_at INTEGER,"
    "  notices INTEGER NOT NULL DEFAULT 1,"
    "  exported INTEGER NOT NULL DEFAULT 0);"
    /* A follow in this table gathers the followee's posts into a daily
     * digest instead of live updates. */
    "CREATE TABLE follow_digest ("
    "  follower INTEGER NOT NULL,"
    "  followee INTEGER NOT NULL,"
    "  PRIMARY KEY (follower, followee)) WITHOUT ROWID;"
    "CREATE INDEX follow_digest_followee ON follow_digest(followee, follower);"
    "CREATE INDEX posts_dm_to ON posts(to_user, id) WHERE kind = 1;"
    "CREATE INDEX follows_followee_time ON follows(followee, created,"
    "  follower);"
    "CREATE INDEX follows_follower_time ON follows(follower, created,"
    "  followee);"
    "CREATE TRIGGER posts_ad_social AFTER DELETE ON posts BEGIN"
    "  DELETE FROM tags WHERE post = old.id;"
    "  DELETE FROM favs WHERE post = old.id;"
    "  DELETE FROM told WHERE kind = 1 AND object = old.id;"
    "END;"
    "CREATE TRIGGER follows_ad_digest AFTER DELETE ON follows BEGIN"
    "  DELETE FROM follow_digest"
    "    WHERE follower = old.follower AND followee = old.followee;"
    "END;",

    /* 8: a retraction row remembers whose post it retracts (the post is
     *    gone), so that with per-user addresses (SPEC 10) it comes from the
     *    same address as the copy it retracts. */
    "ALTER TABLE outbox ADD COLUMN author INTEGER;",

    /* 9: digests.  A follow in digest mode remembers the highest post
     *    number its digests have covered ('after'; existing ones start
     *    from now), and a user's settings when their last digest went out
     *    (existing users: now, so that none gets one at once).  A thread's
     *    posts in order of their numbers, for "show #N" to page through. */
    "CREATE INDEX posts_thread_order ON posts(thread, id)"
    "  WHERE thread IS NOT NULL;"
    "ALTER TABLE follow_digest ADD COLUMN after INTEGER NOT NULL DEFAULT 0;"
    "UPDATE follow_digest SET after = (SELECT coalesce(max(id), 0) FROM posts);"
    "ALTER TABLE prefs ADD COLUMN digest_sent INTEGER NOT NULL DEFAULT 0;"
    "UPDATE prefs SET digest_sent = CAST(strftime('%s', 'now') AS INTEGER);",

    /* 10: the number to try next for each nick base, so that a new user
     *    whose base is taken gets a nick in a constant number of lookups
     *    (issue 12 item 8; bases without a row are searched once, then
     *    remembered).  Erasing a user finds their reactions by user. */
    "CREATE TABLE nick_next ("
    "  base TEXT PRIMARY KEY,"
    "  next INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX reactions_user ON reactions(user);",

    /* 11: fan-out records (issue 14).  The recipients of a post who could
     *    be served at once are listed in one record instead of an outbox
     *    row each: users, their ids (8 bytes each, little-endian), and
     *    states, a byte each (enum fan_state in store.h); open while any
     *    of them is neither delivered nor handed to a held row.  A record
     *    goes with its post.  User ids are never used again (a record may
     *    name an erased user): the next id is one past user_last. */
    "CREATE TABLE fanout ("
    "  post INTEGER PRIMARY KEY,"
    "  created INTEGER NOT NULL,"
    "  users BLOB NOT NULL,"
    "  states BLOB NOT NULL,"
    "  open INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX fanout_open ON fanout(post) WHERE open = 1;"
    "CREATE TRIGGER posts_ad_fanout AFTER DELETE ON posts BEGIN"
    "  DELETE FROM fanout WHERE post = old.id;"
    "END;"
    "INSERT INTO counters VALUES ('user_last',"
    "  (SELECT coalesce(max(id), 0) FROM users));"
    "CREATE TRIGGER users_ai_last AFTER INSERT ON users BEGIN"
    "  UPDATE counters SET value = max(value, new.id)"
    "    WHERE name = 'user_last';"
    "END;",

    /* 12: how a fan-out record's users are written: 0, 8 bytes each (step
     *    11); 1, each as its difference from the one before (the first
     *    from 0), zigzag-encoded, in 7-bit groups, low first, the high
     *    bit set on all but the last byte of each.  Followers' ids lie
     *    close together: at 5,000 recipients writing a record took 14
     *    pages of the post's commit, now 5. */
    "ALTER TABLE fanout ADD COLUMN packing INTEGER NOT NULL DEFAULT 0;",
};

int migrations_latest(void)
{
    return (int)(sizeof(steps) / sizeof(steps[0]));
}

int migrations_apply(sqlite3 *db)
{
    return migrations_apply_to(db, migrations_latest());
}

int migrations_apply_to(sqlite3 *db, int target)
{
    sqlite3_stmt *st;
    int version = 0, n = migrations_latest();
    char *err = NULL, sql[64];

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
        SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > n) {
        log_error("database schema %d is newer than this starling (%d)",
                  version, n);
        return -1;
    }
    for (; version < n && version < target; version++) {
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK)
            goto fail;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
        if (sqlite3_exec(db, steps[version], NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
            log_error("schema step %d failed: %s", version + 1,
                      err != NULL ? err : sqlite3_errmsg(db));
            sqlite3_free(err);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK)
            goto fail;
        log_info("database schema at step %d", version + 1);
    }
    return 0;
fail:
    log_error("database schema: %s", err != NULL ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    return -1;
}
