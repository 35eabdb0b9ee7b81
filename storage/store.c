/*
 * store.c - the only user of <sqlite3.h>.
 *
 * All statements are prepared once in store_open() from the table below
 * and reused with bound parameters.  Writes that belong together (a post
 * with its mentions and outbox rows, a delete with its cleanup) run in one
 * BEGIN IMMEDIATE transaction; with WAL and synchronous=FULL a successful
 * return means the data is on disk.  Lists of words and nicks travel into
 * SQL as JSON arrays (json_each), never as SQL text.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/idmap.h"
#include "../common/log.h"
#include "../common/util.h"
#include "migrations.h"
#include "store.h"

#define POST_COLS                                                              \
    "p.id, p.author, a.nick, p.body, p.created, ifnull(p.reply_to, 0), "       \
    "p.kind, ifnull(p.to_user, 0), p.edits, ifnull(p.thread, 0), "             \
    "ifnull(p.repeat_of, 0)"
#define POST_NCOLS 11 /* columns of POST_COLS */
#define USER_COLS                                                              \
    "id, jid, nick, bio, created, active, deliver, away, banned, ban_reason"

/* The router's verdict on a recipient u of post ?1 in a row of class c
 * (store_set_router()): true for a held outbox row. */
#define ROUTE(c) "starling_route(?1, u.id, u.jid, u.away, " c ") = 0"

/* "AND recipient u does not block author a" (NO_DIGEST: nor follow a in
 * digest mode).  The first test names no column of u: SQLite runs it once
 * a statement, so while nobody blocks a (or follows a in digest mode) no
 * recipient pays for a probe of their own. */
#define NOT_BLOCKING(a)                                                        \
    "AND (NOT EXISTS (SELECT 1 FROM blocks WHERE blocked = " a ") "            \
    "OR NOT EXISTS (SELECT 1 FROM blocks b "                                   \
    "WHERE b.blocker = u.id AND b.blocked = " a ")) "
#define NO_DIGEST(a)                                                           \
    "AND (NOT EXISTS (SELECT 1 FROM follow_digest WHERE followee = " a ") "    \
    "OR NOT EXISTS (SELECT 1 FROM follow_digest d "                            \
    "WHERE d.follower = u.id AND d.followee = " a ")) "

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_BATCH_BEGIN,
    S_PROBE_UP,
    S_FIRST_QUERY = S_PROBE_UP,
    S_PROBE_DOWN,
    S_USER_BY_JID,
    S_USER_BY_NICK,
    S_USER_BY_ID,
    S_USER_INSERT,
    S_NICK_NEXT_GET,
    S_NICK_NEXT_SET,
    S_USER_REACTIVATE,
    S_USER_SET_ACTIVE,
    S_USER_SET_DELIVER,
    S_USER_SET_AWAY,
    S_USER_SET_NICK,
    S_USER_SET_BIO,
    S_USER_SET_BAN,
    S_USERS_ACTIVE,
    S_COUNT_POSTS,
    S_COUNT_FOLLOWERS,
    S_COUNT_FOLLOWING,
    S_STATS,
    S_FOLLOW,
    S_UNFOLLOW,
    S_IS_FOLLOWING,
    S_FOLLOWERS,
    S_FOLLOWING,
    S_BLOCK,
    S_BLOCK_UNFOLLOW,
    S_BLOCK_UNHOLD,
    S_UNBLOCK,
    S_IS_BLOCKED,
    S_TRACK_COUNT,
    S_TRACK_HAS,
    S_TRACK_ADD,
    S_TRACK_DEL,
    S_TRACKING,
    S_POST_DUP,
    S_POST_INSERT,
    S_THREAD_OF,
    S_AUTHOR_OF,
    S_REPEAT_OF,
    S_REPEATS,
    S_POSTS_OF,
    S_MUTE,
    S_UNMUTE,
    S_MENTIONS_INSERT,
    S_TRACKED,
    S_OUTBOX_KEPT,
    S_OUTBOX_FOLLOWERS,
    S_OUTBOX_REPEAT,
    S_OUTBOX_DM,
    S_OUTBOX_BROADCAST,
    S_REACH,
    S_OUTBOX_HELD,
    S_DATA_VERSION,
    S_POST_GET,
    S_POST_DEL_MENTIONS,
    S_POST_DEL_REACTIONS,
    S_POST_DEL_TAGS,
    S_POST_DEL_HELD,
    S_POST_DEL_COPIES,
    S_POST_RETRACTIONS,
    S_POST_BY_STANZA,
    S_POST_BY_ORIGIN,
    S_POST_EDIT,
    S_POST_BODY,
    S_FTS_DELETE,
    S_FTS_INSERT,
    S_REACTION_ADD,
    S_REACTION_COUNT,
    S_POST_DEL,
    S_POSTS_SINCE,
    S_FOLLOWEE_IDS,
    S_AUTHOR_POST_IDS,
    S_USER_POSTS,
    S_MENTIONS,
    S_SEARCH,
    S_REPLIES,
    S_OUTBOX_FOR_POST,
    S_OUTBOX_FOR_USER,
    S_OUTBOX_OF_POST,
    S_OUTBOX_USERS,
    S_OUTBOX_COUNT_USER,
    S_OUTBOX_COUNT_ORDINARY,
    S_OUTBOX_TRIM_USER,
    S_USER_DROPPED_ADD,
    S_USER_DROPPED,
    S_USER_DROPPED_RESET,
    S_OUTBOX_CLEAR_USER,
    S_OUTBOX_DONE,
    S_OUTBOX_CORRECTIONS,
    S_OUTBOX_OLDEST,
    S_OUTBOX_PRUNE,
    S_HELD_ADD,
    S_FTS_CATCH_UP,
    S_FTS_MARK,
    S_AUDIT,
    S_TAGS_INSERT,
    S_TAG_POSTS,
    S_DMS,
    S_FAV_ADD,
    S_FAV_DEL,
    S_FAVS,
    S_TOLD,
    S_PREFS_GET,
    S_QUIET_USERS,
    S_PREFS_PUT,
    S_THREAD_POSTS,
    S_FOLLOWER_JIDS,
    S_DIGEST_ON,
    S_DIGEST_OFF,
    S_DIGEST_CLOCK,
    S_DIGEST_USERS,
    S_DIGEST_OF,
    S_DIGEST_POSTS,
    S_DIGEST_COUNT,
    S_DIGEST_DONE,
    S_DIGEST_SENT,
    S_MAX_POST,
    S_BLOCKING,
    S_FANOUT_INSERT,
    S_FANOUT_GET,
    S_FANOUT_SET,
    S_FANOUT_HOLD,
    S_FANOUT_OPEN,
    S_FANOUT_PRUNE,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT unit",
    [S_RELEASE] = "RELEASE unit",
    [S_ROLLBACK_TO] = "ROLLBACK TO unit",
    [S_BATCH_BEGIN] = "BEGIN",
    /* store_probe: a counter moved and put back.  (A row rewritten as
     * it is would not reach the disk: SQLite skips an unchanged cell.) */
    [S_PROBE_UP] = "UPDATE counters SET value = value + 1 WHERE name = 'posts'",
    [S_PROBE_DOWN] =
        "UPDATE counters SET value = value - 1 WHERE name = 'posts'",
    [S_USER_BY_JID] = "SELECT " USER_COLS " FROM users WHERE jid = ?1",
    [S_USER_BY_NICK] = "SELECT " USER_COLS " FROM users WHERE nick = ?1",
    [S_USER_BY_ID] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    /* Ids are never used again (migration 11). */
    [S_USER_INSERT] = "INSERT INTO users (id, jid, nick, created, away) "
                      "VALUES ((SELECT value + 1 FROM counters "
                      "WHERE name = 'user_last'), ?1, ?2, ?3, ?4)",
    /* The number to try next for a nick base (migration 10). */
    [S_NICK_NEXT_GET] = "SELECT next FROM nick_next WHERE base = ?1",
    [S_NICK_NEXT_SET] =
        "INSERT OR REPLACE INTO nick_next (base, next) VALUES (?1, ?2)",
    [S_USER_REACTIVATE] = "UPDATE users SET active = 1 WHERE id = ?1",
    [S_USER_SET_ACTIVE] = "UPDATE users SET active = ?2 WHERE id = ?1",
    [S_USER_SET_DELIVER] = "UPDATE users SET deliver = ?2 WHERE id = ?1",
    [S_USER_SET_AWAY] = "UPDATE users SET away = ?2 WHERE id = ?1",
    [S_USER_SET_NICK] = "UPDATE users SET nick = ?2 WHERE id = ?1",
    [S_USER_SET_BIO] = "UPDATE users SET bio = ?2 WHERE id = ?1",
    [S_USER_SET_BAN] =
        "UPDATE users SET banned = ?2, ban_reason = ?3 WHERE id = ?1",
    /* Inherently a walk over every reachable user (broadcast). */
    [S_USERS_ACTIVE] = "SELECT " USER_COLS " FROM users WHERE active = 1 "
                       "ORDER BY id",
    [S_COUNT_POSTS] =
        "SELECT count(*) FROM posts WHERE author = ?1 AND kind = 0",
    [S_COUNT_FOLLOWERS] = "SELECT count(*) FROM follows WHERE followee = ?1",
    [S_COUNT_FOLLOWING] = "SELECT count(*) FROM follows WHERE follower = ?1",
    [S_STATS] = "SELECT name, value FROM counters",
    [S_FOLLOW] = "INSERT OR IGNORE INTO follows (follower, followee, created) "
                 "VALUES (?1, ?2, ?3)",
    [S_UNFOLLOW] = "DELETE FROM follows WHERE follower = ?1 AND followee = ?2",
    [S_IS_FOLLOWING] =
        "SELECT 1 FROM follows WHERE follower = ?1 AND followee = ?2",
    /* Newest follow first, paged by the index's own key: sorting by nick
     * took a temporary B-tree over every follower. */
    [S_FOLLOWERS] = "SELECT f.follower, u.nick, f.created, 0 "
                    "FROM follows f JOIN users u ON u.id = f.follower "
                    "WHERE f.followee = ?1 AND (f.created, f.follower) < "
                    "(?2, ?3) ORDER BY f.created DESC, f.follower DESC "
                    "LIMIT ?4",
    [S_FOLLOWING] = "SELECT f.followee, u.nick, f.created, "
                    "d.followee IS NOT NULL "
                    "FROM follows f JOIN users u ON u.id = f.followee "
                    "LEFT JOIN follow_digest d ON d.follower = f.follower "
                    "AND d.followee = f.followee "
                    "WHERE f.follower = ?1 AND (f.created, f.followee) < "
                    "(?2, ?3) ORDER BY f.created DESC, f.followee DESC "
                    "LIMIT ?4",
    [S_BLOCK] =
        "INSERT OR IGNORE INTO blocks (blocker, blocked) VALUES (?1, ?2)",
    [S_BLOCK_UNFOLLOW] =
        "DELETE FROM follows WHERE follower = ?2 AND followee = ?1",
    /* Bounded by what is held for the blocker. */
    [S_BLOCK_UNHOLD] =
        "DELETE FROM outbox WHERE id IN (SELECT o.id FROM outbox o "
        "JOIN posts p ON p.id = o.post WHERE o.user = ?1 AND o.state = 0 "
        "AND p.author = ?2)",
    [S_UNBLOCK] = "DELETE FROM blocks WHERE blocker = ?1 AND blocked = ?2",
    [S_IS_BLOCKED] = "SELECT 1 FROM blocks WHERE blocker = ?1 AND blocked = ?2",
    [S_TRACK_COUNT] = "SELECT count(*) FROM tracks WHERE user = ?1",
    [S_TRACK_HAS] = "SELECT 1 FROM tracks WHERE user = ?1 AND word = ?2",
    [S_TRACK_ADD] = "INSERT OR IGNORE INTO tracks (user, word) VALUES (?1, ?2)",
    [S_TRACK_DEL] = "DELETE FROM tracks WHERE user = ?1 AND word = ?2",
    [S_TRACKING] = "SELECT word FROM tracks WHERE user = ?1 ORDER BY word",
    /* SPEC 4: a resend is the same id and text, soon after. */
    [S_POST_DUP] = "SELECT max(id) FROM posts WHERE author = ?1 "
                   "AND stanza_id = ?2 AND body = ?3 AND kind = ?4 "
                   "AND ifnull(to_user, 0) = ?5 AND created >= ?6",
    [S_POST_INSERT] = "INSERT INTO posts (author, body, created, reply_to, "
                      "kind, to_user, stanza_id, origin_id, thread, "
                      "repeat_of) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_THREAD_OF] = "SELECT ifnull(thread, id) FROM posts WHERE id = ?1",
    [S_AUTHOR_OF] = "SELECT author FROM posts WHERE id = ?1",
    [S_REPEAT_OF] = "SELECT id FROM posts WHERE repeat_of = ?1 AND author = ?2",
    [S_REPEATS] = "SELECT id FROM posts WHERE repeat_of = ?1",
    /* Some posts of any kind by an author, in no order. */
    [S_POSTS_OF] = "SELECT id FROM posts WHERE author = ?1 LIMIT ?2",
    [S_MUTE] = "INSERT OR IGNORE INTO mutes (user, thread) VALUES (?1, ?2)",
    [S_UNMUTE] = "DELETE FROM mutes WHERE user = ?1 AND thread = ?2",
    /* Mentioned users who do not block the author. */
    [S_MENTIONS_INSERT] =
        "INSERT OR IGNORE INTO mentions (user, post) "
        "SELECT u.id, ?1 FROM users u "
        "WHERE u.nick IN (SELECT value FROM json_each(?2)) AND u.id != ?3 "
        "AND NOT EXISTS (SELECT 1 FROM blocks b "
        "WHERE b.blocker = u.id AND b.blocked = ?3)",
    /* Whether anyone tracks a word of ?1 (a JSON array). */
    [S_TRACKED] = "SELECT 1 FROM json_each(?1) j JOIN tracks t "
                  "ON t.word = j.value LIMIT 1",
    /* (clang-format cannot lay out SQL text around the macros) */
    /* clang-format off */
    /* SPEC 6: mentioned users, trackers, the replied-to author and, for
     * a reply, everyone in its thread ?6 (who did not mute it) get a row
     * that is always handed over (class 1); the followers who are none of
     * these an ordinary one (class 0; the column's default is 1).  Each
     * once (the unique index), never the author, blockers, off, inactive
     * or banned users; a muted thread does not reach a follower either.
     * Whoever passes all that is routed (ROUTE), last: a CASE is the one
     * order of evaluation SQLite promises. */
    [S_OUTBOX_KEPT] =
        "INSERT INTO outbox (post, user, created) "
        "SELECT ?1, u.id, ?3 FROM users u WHERE u.id IN ("
        "  SELECT user FROM mentions WHERE post = ?1"
        "  UNION ALL SELECT t.user FROM tracks t"
        "    WHERE t.word IN (SELECT value FROM json_each(?4))"
        "  UNION ALL SELECT x.a FROM (SELECT author AS a FROM posts"
        "    WHERE id = ?5 UNION ALL SELECT author FROM posts WHERE id = ?6"
        "    UNION ALL SELECT author FROM posts WHERE thread = ?6) x"
        "    WHERE NOT EXISTS (SELECT 1 FROM mutes m"
        "    WHERE m.user = x.a AND m.thread = ?6)) "
        "AND CASE WHEN u.id != ?2 AND u.active = 1 AND u.deliver = 1 "
        "AND u.banned = 0 "
        NOT_BLOCKING("?2")
        "THEN " ROUTE("1") " ELSE 0 END ORDER BY u.id",
    [S_OUTBOX_FOLLOWERS] =
        "INSERT OR IGNORE INTO outbox (post, user, created, class) "
        "SELECT ?1, u.id, ?3, 0 FROM follows f JOIN users u "
        "ON u.id = f.follower WHERE f.followee = ?2 AND CASE WHEN u.id != ?2 "
        "AND u.active = 1 AND u.deliver = 1 AND u.banned = 0 "
        NOT_BLOCKING("?2")
        NO_DIGEST("?2")
        "AND (?4 = 0 OR NOT EXISTS (SELECT 1 FROM mutes m "
        "WHERE m.user = u.id AND m.thread = ?4)) "
        "THEN " ROUTE("0") " ELSE 0 END ORDER BY f.follower",
    /* A repeat of post ?5 by ?4: the repeater's followers, but not those
     * who block either, nor the author, nor who got ?5 already. */
    [S_OUTBOX_REPEAT] =
        "INSERT OR IGNORE INTO outbox (post, user, created, class) "
        "SELECT ?1, u.id, ?3, 0 FROM follows f JOIN users u "
        "ON u.id = f.follower WHERE f.followee = ?2 AND CASE WHEN u.id != ?2 "
        "AND u.id != ?4 AND u.active = 1 AND u.deliver = 1 AND u.banned = 0 "
        NOT_BLOCKING("?2")
        NOT_BLOCKING("?4")
        "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.post = ?5 "
        "AND o.user = u.id AND o.what = 0) "
        "THEN " ROUTE("0") " ELSE 0 END ORDER BY f.follower",
    [S_OUTBOX_DM] =
        "INSERT INTO outbox (post, user, created) "
        "SELECT ?1, u.id, ?3 FROM users u WHERE u.id = ?4 AND CASE WHEN "
        "u.id != ?2 AND u.active = 1 AND u.deliver = 1 AND u.banned = 0 "
        NOT_BLOCKING("?2")
        "THEN " ROUTE("1") " ELSE 0 END",
    /* Who an ordinary post of ?1 outside a thread may reach: its
     * followers, as S_OUTBOX_FOLLOWERS filters them, kept in memory
     * between posts (struct reach). */
    [S_REACH] =
        "SELECT u.id, u.jid, u.away FROM follows f JOIN users u "
        "ON u.id = f.follower WHERE f.followee = ?1 AND u.id != ?1 "
        "AND u.active = 1 AND u.deliver = 1 AND u.banned = 0 "
        NOT_BLOCKING("?1")
        NO_DIGEST("?1")
        "ORDER BY f.follower",
    /* clang-format on */
    /* Held rows of post ?1 for the followers in ?2 the router left. */
    [S_OUTBOX_HELD] =
        "INSERT OR IGNORE INTO outbox (post, user, created, class) "
        "SELECT ?1, value, ?3, 0 FROM json_each(?2)",
    /* Changes by other connections (struct reach). */
    [S_DATA_VERSION] = "PRAGMA data_version",
    /* Inherently a walk over every reachable user. */
    [S_OUTBOX_BROADCAST] =
        "INSERT INTO outbox (post, user, created) "
        "SELECT ?1, u.id, ?3 FROM users u INDEXED BY users_reachable "
        "WHERE u.active = 1 AND u.deliver = 1 AND u.banned = 0 "
        "AND ?2 = ?2 AND CASE WHEN u.active = 1 AND u.deliver = 1 "
        "AND u.banned = 0 THEN " ROUTE("1") " ELSE 0 END ORDER BY u.id",
    [S_POST_GET] = "SELECT " POST_COLS " FROM posts p "
                   "JOIN users a ON a.id = p.author WHERE p.id = ?1",
    [S_POST_DEL_MENTIONS] = "DELETE FROM mentions WHERE post = ?1",
    [S_POST_DEL_REACTIONS] = "DELETE FROM reactions WHERE post = ?1",
    [S_POST_DEL_TAGS] = "DELETE FROM tags WHERE post = ?1",
    [S_POST_DEL_HELD] = "DELETE FROM outbox WHERE post = ?1 AND state = 0",
    [S_POST_DEL_COPIES] = "DELETE FROM outbox WHERE post = ?1 AND state = 1",
    /* Rows that retract the copies of a deleted post (what 2). */
    [S_POST_RETRACTIONS] =
        "INSERT OR IGNORE INTO outbox (post, user, created, what, author) "
        "SELECT ?1, u.id, ?3, 2, ?4 FROM users u "
        "WHERE u.id IN (SELECT value FROM json_each(?2)) AND u.active = 1 "
        "AND u.deliver = 1 AND u.banned = 0",
    [S_POST_BY_STANZA] =
        "SELECT id FROM posts WHERE author = ?1 AND stanza_id = ?2 "
        "ORDER BY id DESC LIMIT 1",
    [S_POST_BY_ORIGIN] =
        "SELECT id FROM posts WHERE author = ?1 AND origin_id = ?2 "
        "ORDER BY id DESC LIMIT 1",
    [S_POST_EDIT] =
        "UPDATE posts SET body = ?2, edits = edits + 1 WHERE id = ?1",
    [S_POST_BODY] = "SELECT body, kind FROM posts WHERE id = ?1",
    [S_FTS_DELETE] = "INSERT INTO posts_fts(posts_fts, rowid, body) "
                     "SELECT 'delete', ?1, ?2 WHERE ?1 <= "
                     "(SELECT value FROM counters WHERE name = 'indexed')",
    /* An edited post already indexed goes back in with its new text; one
     * not yet indexed is taken by the next catch-up. */
    [S_FTS_INSERT] = "INSERT INTO posts_fts(rowid, body) SELECT id, body "
                     "FROM posts WHERE id = ?1 AND kind = 0 AND id <= "
                     "(SELECT value FROM counters WHERE name = 'indexed')",
    [S_REACTION_COUNT] =
        "SELECT count(*) FROM reactions WHERE post = ?1 AND user = ?2",
    [S_REACTION_ADD] = "INSERT OR IGNORE INTO reactions (post, user, emoji) "
                       "VALUES (?1, ?2, ?3)",
    [S_POST_DEL] = "DELETE FROM posts WHERE id = ?1",
    [S_POSTS_SINCE] =
        "SELECT count(*) FROM posts WHERE author = ?1 AND created >= ?2",
    /* The timeline is merged in C from per-author index ranges, so its
     * cost is bounded by (followees x N), whatever the store's size. */
    [S_FOLLOWEE_IDS] = "SELECT followee FROM follows WHERE follower = ?1",
    /* Listings page by post number: ?3 is where the last page stopped. */
    [S_AUTHOR_POST_IDS] = "SELECT id FROM posts WHERE author = ?1 "
                          "AND kind = 0 AND id < ?3 ORDER BY id DESC LIMIT ?2",
    [S_USER_POSTS] = "SELECT " POST_COLS " FROM posts p "
                     "JOIN users a ON a.id = p.author "
                     "WHERE p.author = ?1 AND p.kind = 0 AND p.id < ?3 "
                     "ORDER BY p.id DESC LIMIT ?2",
    [S_MENTIONS] = "SELECT " POST_COLS " FROM mentions m "
                   "JOIN posts p ON p.id = m.post "
                   "JOIN users a ON a.id = p.author "
                   "WHERE m.user = ?1 AND m.post < ?3 "
                   "ORDER BY m.post DESC LIMIT ?2",
    [S_SEARCH] = "SELECT " POST_COLS " FROM posts_fts f "
                 "JOIN posts p ON p.id = f.rowid "
                 "JOIN users a ON a.id = p.author "
                 "WHERE posts_fts MATCH ?1 AND f.rowid < ?3 "
                 "ORDER BY f.rowid DESC LIMIT ?2",
    [S_REPLIES] = "SELECT " POST_COLS " FROM posts p "
                  "JOIN users a ON a.id = p.author "
                  "WHERE p.reply_to = ?1 AND p.kind = 0 AND p.id > ?3 "
                  "ORDER BY p.id LIMIT ?2",
    /* The active followers of ?1 (a walk over them by nature). */
    [S_FOLLOWER_JIDS] = "SELECT u.jid FROM follows f JOIN users u "
                        "ON u.id = f.follower WHERE f.followee = ?1 "
                        "AND u.active = 1",
    /* Every reply in the thread of ?1, however deep, in order. */
    [S_THREAD_POSTS] = "SELECT " POST_COLS " FROM posts p "
                       "INDEXED BY posts_thread_order "
                       "JOIN users a ON a.id = p.author "
                       "WHERE p.thread = ?1 AND p.kind = 0 AND p.id > ?3 "
                       "ORDER BY p.id LIMIT ?2",
    /* The post itself is read once (S_POST_GET), not once a row. */
    [S_OUTBOX_FOR_POST] =
        "SELECT o.id, o.user, u.jid, u.away, o.class, o.what, "
        "ifnull(r.nick, '') FROM outbox o JOIN users u ON u.id = o.user "
        "LEFT JOIN users r ON r.id = o.author WHERE o.post = ?1 "
        "AND o.what = ?2 AND o.state = 0 ORDER BY o.user",
    /* A retraction's post is gone: its columns are NULL (LEFT JOIN). */
    [S_OUTBOX_FOR_USER] =
        "SELECT o.id, o.user, u.jid, u.away, o.class, o.what, "
        "ifnull(r.nick, ''), o.post, " POST_COLS " FROM outbox o "
        "JOIN users u ON u.id = o.user LEFT JOIN posts p ON p.id = o.post "
        "LEFT JOIN users a ON a.id = p.author "
        "LEFT JOIN users r ON r.id = o.author "
        "WHERE o.user = ?1 AND o.state = 0 ORDER BY o.id",
    /* Every row of a post, delivered or not: who has a copy. */
    [S_OUTBOX_OF_POST] =
        "SELECT id, user, state, what FROM outbox WHERE post = ?1",
    [S_OUTBOX_USERS] = "SELECT user FROM outbox "
                       "WHERE id IN (SELECT value FROM json_each(?1))",
    [S_OUTBOX_COUNT_USER] =
        "SELECT count(*) FROM outbox WHERE user = ?1 AND state = 0",
    [S_OUTBOX_COUNT_ORDINARY] =
        "SELECT count(*) FROM outbox WHERE user = ?1 AND state = 0 "
        "AND class = 0",
    /* All but the newest ?2 ordinary updates held for ?1. */
    [S_OUTBOX_TRIM_USER] =
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
        "WHERE user = ?1 AND state = 0 AND class = 0 "
        "ORDER BY id DESC LIMIT -1 OFFSET ?2)",
    [S_USER_DROPPED_ADD] =
        "UPDATE users SET dropped = dropped + ?2 WHERE id = ?1",
    [S_USER_DROPPED] = "SELECT dropped FROM users WHERE id = ?1",
    [S_USER_DROPPED_RESET] = "UPDATE users SET dropped = 0 WHERE id = ?1",
    [S_OUTBOX_CLEAR_USER] = "DELETE FROM outbox WHERE user = ?1 AND state = 0",
    [S_OUTBOX_DONE] = "UPDATE outbox SET state = 1 "
                      "WHERE id IN (SELECT value FROM json_each(?1)) "
                      "AND state = 0",
    /* A correction row per user of ?2; one delivered before is armed
     * again (a post edited twice). */
    [S_OUTBOX_CORRECTIONS] =
        "INSERT INTO outbox (post, user, created, what) "
        "SELECT ?1, value, ?3, 1 FROM json_each(?2) WHERE true "
        "ON CONFLICT (post, user, what) DO UPDATE SET state = 0, "
        "created = excluded.created WHERE state = 1",
    /* The oldest rows after ?1, in the table's own order. */
    [S_OUTBOX_OLDEST] = "SELECT id, state, created FROM outbox WHERE id > ?1 "
                        "ORDER BY id LIMIT ?2",
    [S_OUTBOX_PRUNE] =
        "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?1)) "
        "AND state = 1",
    [S_FANOUT_INSERT] =
        "INSERT INTO fanout (post, created, users, states, packing) "
        "VALUES (?1, ?2, ?3, ?4, 1)",
    [S_FANOUT_GET] =
        "SELECT users, states, packing FROM fanout WHERE post = ?1",
    [S_FANOUT_SET] = "UPDATE fanout SET states = ?2, open = ?3 WHERE post = ?1",
    /* A recipient of post ?1 served from memory no more: held (class ?3)
     * unless they may not have it now. */
    [S_FANOUT_HOLD] =
        "INSERT OR IGNORE INTO outbox (post, user, created, class) "
        "SELECT p.id, u.id, p.created, ?3 FROM posts p JOIN users u "
        "ON u.id = ?2 WHERE p.id = ?1 AND u.active = 1 AND u.deliver = 1 "
        "AND u.banned = 0 AND NOT EXISTS (SELECT 1 FROM blocks b "
        "WHERE b.blocker = u.id AND b.blocked = p.author)",
    [S_FANOUT_OPEN] = "SELECT post FROM fanout INDEXED BY fanout_open "
                      "WHERE open = 1 ORDER BY post",
    /* Posts are numbered in time: the oldest records come first. */
    [S_FANOUT_PRUNE] =
        "DELETE FROM fanout WHERE post IN (SELECT post FROM fanout "
        "WHERE post > 0 ORDER BY post LIMIT ?2) AND created < ?1",
    [S_HELD_ADD] = "UPDATE counters SET value = value + ?1 WHERE name = 'held'",
    [S_FTS_CATCH_UP] =
        "INSERT INTO posts_fts(rowid, body) SELECT id, body FROM posts "
        "WHERE id > (SELECT value FROM counters WHERE name = 'indexed') "
        "AND kind = 0",
    [S_FTS_MARK] = "UPDATE counters SET value = (SELECT coalesce(max(id), 0) "
                   "FROM posts) WHERE name = 'indexed'",
    [S_AUDIT] = "INSERT INTO audit (at, admin, action, detail) "
                "VALUES (?1, ?2, ?3, ?4)",
    /* Tags, favourites, notices, settings (issue 15). */
    [S_TAGS_INSERT] = "INSERT OR IGNORE INTO tags (tag, post) "
                      "SELECT value, ?1 FROM json_each(?2)",
    [S_TAG_POSTS] = "SELECT " POST_COLS " FROM tags t "
                    "JOIN posts p ON p.id = t.post "
                    "JOIN users a ON a.id = p.author "
                    "WHERE t.tag = ?1 AND t.post < ?3 "
                    "ORDER BY t.post DESC LIMIT ?2",
    /* Sent and received, merged from two index ranges (no sort). */
    [S_DMS] = "SELECT " POST_COLS ", r.nick FROM posts p "
              "JOIN users a ON a.id = p.author "
              "JOIN users r ON r.id = p.to_user "
              "WHERE p.author = ?1 AND p.kind = 1 AND p.id < ?3 "
              "UNION ALL "
              "SELECT " POST_COLS ", a.nick FROM posts p "
              "JOIN users a ON a.id = p.author "
              "WHERE p.to_user = ?1 AND p.kind = 1 AND p.id < ?3 "
              "ORDER BY 1 DESC LIMIT ?2",
    [S_FAV_ADD] = "INSERT OR IGNORE INTO favs (user, post, created) "
                  "VALUES (?1, ?2, ?3)",
    [S_FAV_DEL] = "DELETE FROM favs WHERE user = ?1 AND post = ?2",
    [S_FAVS] = "SELECT " POST_COLS " FROM favs f "
               "JOIN posts p ON p.id = f.post "
               "JOIN users a ON a.id = p.author "
               "WHERE f.user = ?1 AND f.post < ?3 "
               "ORDER BY f.post DESC LIMIT ?2",
    [S_TOLD] = "INSERT OR IGNORE INTO told (kind, actor, object) "
               "VALUES (?1, ?2, ?3)",
    [S_QUIET_USERS] = "SELECT user FROM prefs WHERE quiet_start IS NOT NULL "
                      "AND user > ?1 ORDER BY user LIMIT 1000",
    [S_PREFS_GET] =
        "SELECT tz, ifnull(quiet_start, -1), "
        "ifnull(quiet_end, -1), ifnull(digest_at, ?2), notices, exported, "
        "digest_sent FROM prefs WHERE user = ?1",
    [S_PREFS_PUT] = "INSERT OR REPLACE INTO prefs (user, tz, quiet_start, "
                    "quiet_end, digest_at, notices, exported, digest_sent) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* Digest mode only for a follow that exists; its digests start with
     * the posts that come after it. */
    [S_DIGEST_ON] = "INSERT OR IGNORE INTO follow_digest "
                    "(follower, followee, after) "
                    "SELECT follower, followee, "
                    "(SELECT coalesce(max(id), 0) FROM posts) FROM follows "
                    "WHERE follower = ?1 AND followee = ?2",
    /* A user's first digest follow starts their digest clock. */
    [S_DIGEST_CLOCK] = "INSERT INTO prefs (user, digest_sent) VALUES (?1, ?2) "
                       "ON CONFLICT (user) DO UPDATE SET digest_sent = ?2 "
                       "WHERE digest_sent = 0",
    /* The next follower after ?1: one index probe a user. */
    [S_DIGEST_USERS] = "SELECT follower FROM follow_digest WHERE follower > ?1 "
                       "ORDER BY follower LIMIT 1",
    [S_DIGEST_OF] = "SELECT d.followee, u.nick, d.after FROM follow_digest d "
                    "JOIN users u ON u.id = d.followee WHERE d.follower = ?1",
    [S_DIGEST_POSTS] = "SELECT " POST_COLS " FROM posts p "
                       "JOIN users a ON a.id = p.author "
                       "WHERE p.author = ?1 AND p.kind = 0 AND p.id > ?3 "
                       "ORDER BY p.id LIMIT ?2",
    [S_DIGEST_COUNT] = "SELECT count(*) FROM posts "
                       "WHERE author = ?1 AND kind = 0 AND id > ?2",
    [S_DIGEST_DONE] = "UPDATE follow_digest SET after = ?2 "
                      "WHERE follower = ?1 AND after < ?2",
    [S_DIGEST_SENT] = "INSERT INTO prefs (user, digest_sent) VALUES (?1, ?2) "
                      "ON CONFLICT (user) DO UPDATE SET digest_sent = ?2",
    [S_MAX_POST] = "SELECT coalesce(max(id), 0) FROM posts",
    [S_DIGEST_OFF] =
        "DELETE FROM follow_digest WHERE follower = ?1 AND followee = ?2",
    [S_BLOCKING] = "SELECT u.nick FROM blocks b JOIN users u "
                   "ON u.id = b.blocked WHERE b.blocker = ?1 "
                   "ORDER BY b.blocked",
};

/*
 * Who an author's ordinary posts reach (S_REACH), kept in memory: a
 * popular author's next post routes its followers from here, not from a
 * walk of the follows index and a users row each.  SQLite stays the only
 * record.  What could change the answer drops it: TEMP triggers on
 * follows, blocks and follow_digest drop the author's entry, and a change
 * to a user's id, jid, active, deliver, away or banned drops the entries
 * of everyone they follow (reach_sql); a rolled-back transaction and a
 * change by another connection (PRAGMA data_version) drop them all.
 * REACH_SLOTS authors are kept, the least recently used go first, and
 * while more than REACH_ROWS followers are kept in all.
 */
#define REACH_SLOTS 16
#define REACH_ROWS  500000

struct reach {
    int64_t author;
    unsigned long used; /* reach_clock when last used */
    bool stale;         /* dropped: freed at the next look */
    size_t n;
    int64_t *users; /* in follower order */
    uint32_t *jid;  /* offsets into jids */
    bool *away;
    char *jids;
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    bool batch;      /* inside store_batch_begin(): units are savepoints */
    bool batch_open; /* the batch's transaction has begun (stmt()) */
    bool lost;       /* SQLite rolled the whole batch back after an error */
    bool unindexed;  /* posts added that the search index lacks */
    bool unwritable; /* the last write failed: full disk, I/O error */
    bool unit_lazy;  /* the unit begun is lazy (begin_unit()) */
    /* sqlite3_total_changes64() at the last commit, when the lazy unit
     * began, and what lazy units changed since the last commit */
    int64_t changes_seen, lazy_from, lazy_changes;
    int mark; /* pages_written() when the transaction began */
    struct store_router router;
    struct reach *reach[REACH_SLOTS]; /* NULL: free slot */
    size_t reach_rows;                /* in all slots */
    unsigned long reach_clock;
    int64_t data_version; /* PRAGMA data_version when last looked */
    struct { /* the recipients of the post being added, as routed */
        int64_t post;
        struct idmap seen; /* user -> enum routed */
        int64_t *users;    /* in the fan-out record, in order */
        uint8_t *states;
        size_t n, cap;
    } route;
};

/* What became of a recipient of the post being added. */
enum routed { ROUTED_HELD = 1, ROUTED_FANNED, ROUTED_SKIP };

/*
 * A failure is logged once, where it happens.  A database that cannot be
 * written (no space left, an I/O error, a read-only file system) fails
 * every write until space returns: that is logged once, at error level,
 * when it starts (and once more when it ends, see written()), not for
 * every post refused meanwhile.
 */
static int db_error(struct store *s, const char *what)
{
    int rc = sqlite3_errcode(s->db);

    if (rc != SQLITE_FULL && rc != SQLITE_IOERR && rc != SQLITE_READONLY) {
        log_error("database: %s: %s", what, sqlite3_errmsg(s->db));
        return -1;
    }
    if (!s->unwritable)
        log_error("database: cannot write (%s: %s); posts are refused "
                  "until it can be written again",
                  what, sqlite3_errmsg(s->db));
    else
        log_debug("database: still cannot write (%s: %s)", what,
                  sqlite3_errmsg(s->db));
    s->unwritable = true;
    return -1;
}

/* Pages SQLite has written to the database or its WAL so far.  (A change
 * that leaves every byte as it was writes nothing: it proves nothing.) */
static int pages_written(struct store *s)
{
    int n = 0, high;

    sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_WRITE, &n, &high, 0);
    return n;
}

/* A transaction was committed: if it wrote pages, writes work again. */
static void written(struct store *s)
{
    if (s->unwritable && pages_written(s) != s->mark) {
        s->unwritable = false;
        log_info("database: writable again; posts are accepted");
    }
}

static void batch_open(struct store *s);

/* Fetch a ready statement: reset, bindings cleared.  The first statement
 * of a batch begins its transaction. */
static sqlite3_stmt *stmt(struct store *s, enum stmt_id id)
{
    sqlite3_stmt *st = s->st[id];

    if (s->batch && !s->batch_open)
        batch_open(s);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Run a statement that returns no rows (or ignores them). */
static int exec(struct store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_error(s, sqlite3_sql(st));
    return 0;
}

/* Run a statement returning one integer; *out = 0 if no row. */
static int scalar(struct store *s, sqlite3_stmt *st, int64_t *out)
{
    int rc = sqlite3_step(st);

    *out = 0;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return db_error(s, sqlite3_sql(st));
    }
    sqlite3_reset(st);
    return 0;
}

/* A unit of work (a post with its outbox, a block...): a transaction of
 * its own, or a savepoint inside a batch.  rollback() undoes the unit
 * only.
 *
 * A lazy unit only records what the server has confirmed (rows and
 * fan-out entries delivered, entries handed over to held rows).  In WAL
 * mode the database runs with synchronous = NORMAL and on_commit() syncs
 * the WAL after every commit that changed anything but lazy units:
 * everything a user is told was done (a post, a follow...) is on disk
 * before the answer leaves.  A commit of lazy units alone is not synced:
 * the WAL keeps commits in order, so it reaches the disk with the next
 * commit that is, or the next checkpoint.  A crash of the machine before
 * then sends those updates again, under the same ids, as a crash before
 * the write always did. */
static int begin_unit(struct store *s, bool lazy)
{
    s->unit_lazy = lazy;
    s->lazy_from = sqlite3_total_changes64(s->db);
    if (s->batch)
        return exec(s, stmt(s, S_SAVEPOINT));
    s->mark = pages_written(s);
    return exec(s, stmt(s, S_BEGIN));
}

static int begin(struct store *s)
{
    return begin_unit(s, false);
}

#define CHECKPOINT_PAGES 1000 /* SQLite's own automatic checkpoint */

/* sqlite3_wal_hook(): a commit is in the WAL.  Unless lazy units made
 * every change it holds, sync the WAL (SQLite's own file, through its
 * VFS); then checkpoint as SQLite would by itself.  An error fails the
 * COMMIT that called (committed, though not known to be on disk). */
static int on_commit(void *ud, sqlite3 *db, const char *name, int pages)
{
    struct store *s = ud;
    int64_t now = sqlite3_total_changes64(db);
    bool lazy = s->lazy_changes > 0 && now - s->changes_seen == s->lazy_changes;
    sqlite3_file *wal = NULL;
    int rc = SQLITE_OK;

    s->changes_seen = now;
    s->lazy_changes = 0;
    if (!lazy &&
        sqlite3_file_control(db, name, SQLITE_FCNTL_JOURNAL_POINTER, &wal) ==
            SQLITE_OK &&
        wal != NULL && wal->pMethods != NULL)
        rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
    if (pages >= CHECKPOINT_PAGES)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                  NULL);
    return rc;
}

static void reach_drop(struct store *s, int64_t author);

/* Some errors (full disk, I/O) make SQLite roll back the whole
 * transaction itself, a failed COMMIT always does: then there is nothing
 * left to roll back, and inside a batch every unit before this one is
 * gone too. */
static int rollback(struct store *s)
{
    if (sqlite3_get_autocommit(s->db)) {
        s->lost = s->batch;
        return -1;
    }
    if (s->batch) {
        /* No rollback hook runs for ROLLBACK TO. */
        reach_drop(s, 0);
        exec(s, stmt(s, S_ROLLBACK_TO));
        exec(s, stmt(s, S_RELEASE));
    } else {
        exec(s, stmt(s, S_ROLLBACK));
    }
    return -1;
}

static int commit(struct store *s)
{
    if (s->unit_lazy) {
        s->lazy_changes += sqlite3_total_changes64(s->db) - s->lazy_from;
        s->unit_lazy = false;
    }
    if (exec(s, stmt(s, s->batch ? S_RELEASE : S_COMMIT)) < 0)
        return rollback(s);
    if (!s->batch)
        written(s);
    return 0;
}

/* Add the posts stored since the last call to the search index: one
 * statement for all of them (see migration 3). */
static int index_posts(struct store *s)
{
    if (exec(s, stmt(s, S_FTS_CATCH_UP)) < 0 ||
        exec(s, stmt(s, S_FTS_MARK)) < 0)
        return -1;
    s->unindexed = false;
    return 0;
}

/* A batch's transaction begins with its first statement: most turns of
 * the daemon's loop only send and read the server's answers, and the
 * BEGIN and COMMIT of each cost a fan-out to 1,000 about 150 k
 * instructions a post (callgrind), more in time (cold code, every few
 * sends).  A batch whose BEGIN fails runs on without one: each unit
 * commits by itself, as outside a batch. */
static void batch_open(struct store *s)
{
    s->batch_open = true;
    s->mark = pages_written(s);
    if (exec(s, stmt(s, S_BATCH_BEGIN)) < 0)
        s->batch = s->batch_open = false;
}

int store_batch_begin(struct store *s)
{
    if (s->batch)
        return -1;
    s->batch = true;
    s->batch_open = false;
    return 0;
}

int store_batch_end(struct store *s)
{
    if (!s->batch)
        return 0;
    s->batch = false;
    if (!s->batch_open)
        return 0; /* no statement ran: nothing to commit */
    s->batch_open = false;
    if (s->lost || sqlite3_get_autocommit(s->db)) {
        /* The statement that failed was logged where it failed. */
        s->lost = false;
        s->unindexed = false;
        return -1;
    }
    if ((s->unindexed && index_posts(s) < 0) ||
        exec(s, stmt(s, S_COMMIT)) < 0) {
        s->unindexed = false; /* the posts went with the transaction */
        if (!sqlite3_get_autocommit(s->db))
            exec(s, stmt(s, S_ROLLBACK));
        return -1;
    }
    written(s);
    return 0;
}

bool store_writable(const struct store *s)
{
    return !s->unwritable;
}

int store_probe(struct store *s)
{
    if (s->batch || begin(s) < 0)
        return -1;
    if (exec(s, stmt(s, S_PROBE_UP)) < 0 || exec(s, stmt(s, S_PROBE_DOWN)) < 0)
        return rollback(s);
    return commit(s);
}

/* Run a statement that adds (sign 1) or removes (sign -1) outbox rows and
 * keep the held counter with it: one update a statement, where a trigger
 * cost one a row.  Call inside a transaction.  Rows changed, or -1. */
static int64_t outbox_exec(struct store *s, sqlite3_stmt *st, int sign)
{
    sqlite3_stmt *held;
    int64_t n;

    if (exec(s, st) < 0)
        return -1;
    if ((n = sqlite3_changes64(s->db)) == 0)
        return 0;
    held = stmt(s, S_HELD_ADD);
    sqlite3_bind_int64(held, 1, sign * n);
    return exec(s, held) < 0 ? -1 : n;
}

/* outbox_exec() removing rows, in a transaction of its own. */
static int64_t outbox_remove(struct store *s, sqlite3_stmt *st, bool lazy)
{
    int64_t n;

    if (begin_unit(s, lazy) < 0) {
        sqlite3_reset(st);
        return -1;
    }
    if ((n = outbox_exec(s, st, -1)) < 0)
        return rollback(s);
    return commit(s) < 0 ? -1 : n;
}

/* Put recipient r of the post being added to the router, once: true
 * when it is served from memory (or the post reaches them otherwise),
 * false for a held row.  The answer is remembered for the post's later
 * statements; the last one (last) has none. */
static bool route_decide(struct store *s, const struct route *r, bool last)
{
    int *seen, how;

    if (s->router.route == NULL || r->post != s->route.post)
        return false;
    if (s->route.seen.n > 0 &&
        (seen = idmap_get(&s->route.seen, r->user)) != NULL)
        return *seen != ROUTED_HELD;
    how = s->router.route(s->router.ud, r) ? ROUTED_FANNED : ROUTED_HELD;
    if (!last)
        idmap_put(&s->route.seen, r->user, how);
    if (how == ROUTED_FANNED) {
        if (s->route.n == s->route.cap) {
            s->route.cap = s->route.cap ? s->route.cap * 2 : 64;
            s->route.users = xrealloc(s->route.users,
                                      s->route.cap * sizeof(*s->route.users));
            s->route.states = xrealloc(s->route.states, s->route.cap);
        }
        s->route.users[s->route.n] = r->user;
        s->route.states[s->route.n++] = r->ordinary ? FAN_OPEN : FAN_OPEN_KEPT;
    }
    return how != ROUTED_HELD;
}

/* starling_route(post, user, jid, away, class): route_decide() from SQL,
 * 1 or 0 (0: a held row). */
static void route_fn(sqlite3_context *cx, int argc, sqlite3_value **v)
{
    struct route r;

    (void)argc;
    r.post = sqlite3_value_int64(v[0]);
    r.user = sqlite3_value_int64(v[1]);
    r.jid = (const char *)sqlite3_value_text(v[2]);
    r.away = sqlite3_value_int(v[3]) != 0;
    r.ordinary = sqlite3_value_int(v[4]) == 0;
    sqlite3_result_int(cx, r.jid != NULL &&
                               route_decide(sqlite3_user_data(cx), &r, false));
}

/* Reach (struct reach) ---------------------------------------------------- */

/* The TEMP triggers that drop what is kept when it may have changed. */
#define REACH_ON(table, col)                                                   \
    "CREATE TEMP TRIGGER reach_" table "_ai AFTER INSERT ON main." table       \
    " BEGIN SELECT starling_reach_changed(new." col "); END;"                  \
    "CREATE TEMP TRIGGER reach_" table "_ad AFTER DELETE ON main." table       \
    " BEGIN SELECT starling_reach_changed(old." col "); END;"                  \
    "CREATE TEMP TRIGGER reach_" table "_au AFTER UPDATE ON main." table       \
    " BEGIN SELECT starling_reach_changed(old." col "),"                       \
    " starling_reach_changed(new." col "); END;"
#define REACH_OF_FOLLOWERS(ids)                                                \
    " BEGIN SELECT starling_reach_changed(followee) FROM follows"              \
    " WHERE follower IN (" ids "); END;"
/* clang-format off */
static const char reach_sql[] =
    REACH_ON("follows", "followee")
    REACH_ON("blocks", "blocked")
    REACH_ON("follow_digest", "followee")
    "CREATE TEMP TRIGGER reach_users_ai AFTER INSERT ON main.users"
    REACH_OF_FOLLOWERS("new.id")
    "CREATE TEMP TRIGGER reach_users_ad AFTER DELETE ON main.users"
    REACH_OF_FOLLOWERS("old.id")
    "CREATE TEMP TRIGGER reach_users_au AFTER UPDATE OF"
    " id, jid, active, deliver, away, banned ON main.users"
    REACH_OF_FOLLOWERS("old.id, new.id");
/* clang-format on */

static void reach_free(struct reach *r)
{
    if (r == NULL)
        return;
    free(r->users);
    free(r->jid);
    free(r->away);
    free(r->jids);
    free(r);
}

/* Drop what is kept of author's reach, or of everybody's (author 0): it
 * is freed at the next look, not under a caller still reading it. */
static void reach_drop(struct store *s, int64_t author)
{
    for (int i = 0; i < REACH_SLOTS; i++)
        if (s->reach[i] != NULL &&
            (author == 0 || s->reach[i]->author == author))
            s->reach[i]->stale = true;
}

/* starling_reach_changed(author), called by the TEMP triggers. */
static void reach_changed_fn(sqlite3_context *cx, int argc, sqlite3_value **v)
{
    (void)argc;
    reach_drop(sqlite3_user_data(cx), sqlite3_value_int64(v[0]));
    sqlite3_result_null(cx);
}

/* sqlite3_rollback_hook(): whatever was read inside may be undone, and
 * nothing changed since the last commit is left to sync. */
static void rolled_back(void *ud)
{
    struct store *s = ud;

    reach_drop(s, 0);
    s->changes_seen = sqlite3_total_changes64(s->db);
    s->lazy_changes = 0;
}

static void reach_evict(struct store *s, int i)
{
    s->reach_rows -= s->reach[i]->n;
    reach_free(s->reach[i]);
    s->reach[i] = NULL;
}

/* The least recently used slot other than keep, or -1. */
static int reach_oldest(const struct store *s, int keep)
{
    int old = -1;

    for (int i = 0; i < REACH_SLOTS; i++)
        if (i != keep && s->reach[i] != NULL &&
            (old < 0 || s->reach[i]->used < s->reach[old]->used))
            old = i;
    return old;
}

/* Read who author reaches from the store.  NULL on error. */
static struct reach *reach_read(struct store *s, int64_t author)
{
    sqlite3_stmt *st = stmt(s, S_REACH);
    struct reach *r = xcalloc(1, sizeof(*r));
    struct buf jids = {0};
    size_t cap = 0;
    int rc;

    r->author = author;
    sqlite3_bind_int64(st, 1, author);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *jid = (const char *)sqlite3_column_text(st, 1);

        if (r->n == cap) {
            cap = cap ? cap * 2 : 64;
            r->users = xrealloc(r->users, cap * sizeof(*r->users));
            r->jid = xrealloc(r->jid, cap * sizeof(*r->jid));
            r->away = xrealloc(r->away, cap * sizeof(*r->away));
        }
        r->users[r->n] = sqlite3_column_int64(st, 0);
        r->jid[r->n] = (uint32_t)jids.len;
        buf_appendn(&jids, jid != NULL ? jid : "",
                    (size_t)sqlite3_column_bytes(st, 1) + 1);
        r->away[r->n++] = sqlite3_column_int(st, 2) != 0;
    }
    sqlite3_reset(st);
    r->jids = jids.s;
    if (rc != SQLITE_DONE) {
        reach_free(r);
        db_error(s, "followers of a post");
        return NULL;
    }
    return r;
}

/* Who author's ordinary posts reach: kept, or read and kept now.  NULL on
 * error. */
static const struct reach *reach_of(struct store *s, int64_t author)
{
    struct reach *r;
    int64_t version;
    int slot = -1;

    if (scalar(s, stmt(s, S_DATA_VERSION), &version) < 0)
        return NULL;
    if (version != s->data_version) {
        s->data_version = version;
        reach_drop(s, 0);
    }
    for (int i = 0; i < REACH_SLOTS; i++) {
        if (s->reach[i] != NULL && s->reach[i]->stale)
            reach_evict(s, i);
        if (s->reach[i] == NULL)
            slot = slot < 0 ? i : slot;
        else if (s->reach[i]->author == author) {
            s->reach[i]->used = ++s->reach_clock;
            return s->reach[i];
        }
    }
    if ((r = reach_read(s, author)) == NULL)
        return NULL;
    if (slot < 0)
        reach_evict(s, slot = reach_oldest(s, -1));
    while (s->reach_rows + r->n > REACH_ROWS) {
        int old = reach_oldest(s, slot);

        if (old < 0)
            break;
        reach_evict(s, old);
    }
    r->used = ++s->reach_clock;
    s->reach[slot] = r;
    s->reach_rows += r->n;
    return r;
}

static int64_t outbox_for_users(struct store *s, sqlite3_stmt *st,
                                const int64_t *users, size_t n, time_t now);

/* Route the followers of author for their ordinary post id, as
 * S_OUTBOX_FOLLOWERS does, from reach_of(); one statement writes the held
 * rows of those the router leaves.  Rows added, or -1. */
static int64_t reach_route(struct store *s, int64_t id, int64_t author,
                           time_t created)
{
    const struct reach *r = reach_of(s, author);
    int64_t *held, added = 0;
    size_t nheld = 0;

    if (r == NULL)
        return -1;
    held = xmalloc((r->n > 0 ? r->n : 1) * sizeof(*held));
    for (size_t i = 0; i < r->n; i++) {
        struct route rt = {id, r->users[i], r->jids + r->jid[i], r->away[i],
                           true};

        /* Each follower once, and no statement routes after this. */
        if (!route_decide(s, &rt, true))
            held[nheld++] = rt.user;
    }
    if (nheld > 0) {
        sqlite3_stmt *st = stmt(s, S_OUTBOX_HELD);

        sqlite3_bind_int64(st, 1, id);
        added = outbox_for_users(s, st, held, nheld, created);
    }
    free(held);
    return added;
}

void store_set_router(struct store *s, const struct store_router *r)
{
    memset(&s->router, 0, sizeof(s->router));
    if (r != NULL)
        s->router = *r;
}

/* The recipients of post are about to be routed. */
static void route_begin(struct store *s, int64_t post)
{
    s->route.post = post;
    s->route.n = 0;
    idmap_clear(&s->route.seen);
    if (s->router.begin != NULL)
        s->router.begin(s->router.ud, post);
}

/* In WAL mode (some file systems cannot have it), commits are synced by
 * on_commit(), which does what SQLite's automatic checkpoint did too;
 * otherwise SQLite syncs every commit itself (synchronous = FULL). */
static int sync_by_hook(struct store *s)
{
    sqlite3_stmt *st;
    const char *mode;
    bool wal;

    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    mode = sqlite3_step(st) == SQLITE_ROW
               ? (const char *)sqlite3_column_text(st, 0)
               : NULL;
    wal = mode != NULL && strcmp(mode, "wal") == 0;
    sqlite3_finalize(st);
    if (!wal)
        return 0;
    s->changes_seen = sqlite3_total_changes64(s->db);
    sqlite3_wal_hook(s->db, on_commit, s);
    return sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL,
                        NULL) == SQLITE_OK
               ? 0
               : -1;
}

struct store *store_open(const char *path)
{
    struct store *s = xcalloc(1, sizeof(*s));
    bool memory = strcmp(path, ":memory:") == 0;
    char *err = NULL;

    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        log_error("cannot open database %s: %s", path,
                  s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_extended_result_codes(s->db, 1);
    if (sqlite3_exec(s->db,
                     memory ? "PRAGMA synchronous = FULL"
                            : "PRAGMA journal_mode = WAL;"
                              "PRAGMA synchronous = FULL;"
                              /* statement journals and ephemeral tables */
                              "PRAGMA temp_store = MEMORY;"
                              /* Index lookups in a large store read
                               * pages straight from the OS cache. */
                              "PRAGMA mmap_size = 268435456",
                     NULL, NULL, &err) != SQLITE_OK) {
        log_error("database %s: %s", path, err);
        sqlite3_free(err);
        goto fail;
    }
    if (migrations_apply(s->db) < 0)
        goto fail;
    if (sqlite3_create_function(s->db, "starling_route", 5,
                                SQLITE_UTF8 | SQLITE_DIRECTONLY, s, route_fn,
                                NULL, NULL) != SQLITE_OK ||
        /* Called by TEMP triggers: not SQLITE_DIRECTONLY. */
        sqlite3_create_function(s->db, "starling_reach_changed", 1, SQLITE_UTF8,
                                s, reach_changed_fn, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, reach_sql, NULL, NULL, NULL) != SQLITE_OK) {
        log_error("database: %s", sqlite3_errmsg(s->db));
        goto fail;
    }
    sqlite3_rollback_hook(s->db, rolled_back, s);
    if (!memory && sync_by_hook(s) < 0) {
        log_error("database %s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->st[i], NULL) != SQLITE_OK) {
            log_error("database: preparing \"%s\": %s", sql[i],
                      sqlite3_errmsg(s->db));
            goto fail;
        }
    }
    return s;
fail:
    store_close(s);
    return NULL;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
        log_error("database close: %s", sqlite3_errmsg(s->db));
    idmap_clear(&s->route.seen);
    free(s->route.users);
    free(s->route.states);
    for (int i = 0; i < REACH_SLOTS; i++)
        reach_free(s->reach[i]);
    free(s);
}

/* Erasure is rare: its statements are prepared when used.  Each takes the
 * user's id as ?1.  Statements that remove undelivered outbox rows go
 * through outbox_exec() to keep the held counter; the users counters are
 * kept by hand (no trigger counts a deleted user).  Posts the caller did
 * not delete first lose their mentions, reactions and rows here. */
#define ERASE_POSTS "(SELECT id FROM posts WHERE author = ?1)"
static const struct {
    const char *sql;
    bool held;  /* removes undelivered outbox rows */
    bool scans; /* reads the whole table: left out of the plan check */
} erase_sql[] = {
    {"DELETE FROM mentions WHERE post IN " ERASE_POSTS, false, false},
    {"DELETE FROM reactions WHERE post IN " ERASE_POSTS, false, false},
    {"DELETE FROM outbox WHERE post IN " ERASE_POSTS " AND state = 0", true,
     false},
    {"DELETE FROM outbox WHERE post IN " ERASE_POSTS, false, false},
    {"DELETE FROM posts WHERE author = ?1", false, false},
    {"DELETE FROM posts WHERE kind = 1 AND to_user = ?1", false, false},
    {"DELETE FROM follows WHERE follower = ?1", false, false},
    {"DELETE FROM follows WHERE followee = ?1", false, false},
    {"DELETE FROM follow_digest WHERE follower = ?1", false, false},
    {"DELETE FROM follow_digest WHERE followee = ?1", false, false},
    {"DELETE FROM blocks WHERE blocker = ?1", false, false},
    {"DELETE FROM blocks WHERE blocked = ?1", false, false},
    {"DELETE FROM tracks WHERE user = ?1", false, false},
    {"DELETE FROM mentions WHERE user = ?1", false, false},
    {"DELETE FROM favs WHERE user = ?1", false, false},
    {"DELETE FROM reactions WHERE user = ?1", false, false},
    {"DELETE FROM mutes WHERE user = ?1", false, false},
    {"DELETE FROM told WHERE kind IN (1, 2) AND actor = ?1", false, false},
    {"DELETE FROM told WHERE kind = 2 AND object = ?1", false, false},
    {"DELETE FROM prefs WHERE user = ?1", false, false},
    {"DELETE FROM outbox WHERE user = ?1 AND state = 0", true, false},
    /* The copies delivered to the user: no index leads there, since one
     * would cost every delivery a write for an act this rare. */
    {"DELETE FROM outbox WHERE user = ?1 AND state = 1", false, true},
    {"UPDATE counters SET value = value - 1 WHERE name = 'users'", false,
     false},
    {"UPDATE counters SET value = value - "
     "(SELECT active FROM users WHERE id = ?1) WHERE name = 'active'",
     false, false},
    {"DELETE FROM users WHERE id = ?1", false, false},
};

/* Detaching the replies to an author's posts (store_replies_detach). */
static const char replies_detach_sql[] =
    "UPDATE posts SET reply_to = NULL WHERE reply_to IN "
    "(SELECT id FROM posts WHERE author = ?1) AND author != ?1";

static int explain(struct store *s, const char *text,
                   void (*cb)(void *ud, const char *sql, const char *plan),
                   void *ud)
{
    sqlite3_stmt *eqp;
    char *q = xasprintf("EXPLAIN QUERY PLAN %s", text);

    if (sqlite3_prepare_v2(s->db, q, -1, &eqp, NULL) != SQLITE_OK) {
        free(q);
        return db_error(s, "explain");
    }
    while (sqlite3_step(eqp) == SQLITE_ROW)
        cb(ud, text, (const char *)sqlite3_column_text(eqp, 3));
    sqlite3_finalize(eqp);
    free(q);
    return 0;
}

int store_explain(struct store *s,
                  void (*cb)(void *ud, const char *sql, const char *plan),
                  void *ud)
{
    /* Transaction control (before S_FIRST_QUERY) has no plan. */
    for (int i = S_FIRST_QUERY; i < S_COUNT; i++)
        if (explain(s, sql[i], cb, ud) < 0)
            return -1;
    for (size_t i = 0; i < sizeof(erase_sql) / sizeof(erase_sql[0]); i++)
        if (!erase_sql[i].scans && explain(s, erase_sql[i].sql, cb, ud) < 0)
            return -1;
    return explain(s, replies_detach_sql, cb, ud);
}

/* Users ----------------------------------------------------------------- */

/* A text column into a fixed field, cut on a code-point boundary when it
 * does not fit (a ban reason can be longer than its field). */
static void copy_col(char *dst, size_t size, sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);

    utf8_copy(dst, size, v != NULL ? v : "");
}

static void read_user(sqlite3_stmt *st, struct user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = sqlite3_column_int64(st, 0);
    copy_col(u->jid, sizeof(u->jid), st, 1);
    copy_col(u->nick, sizeof(u->nick), st, 2);
    copy_col(u->bio, sizeof(u->bio), st, 3);
    u->created = (time_t)sqlite3_column_int64(st, 4);
    u->active = sqlite3_column_int(st, 5) != 0;
    u->deliver = sqlite3_column_int(st, 6) != 0;
    u->away = sqlite3_column_int(st, 7) != 0;
    u->banned = sqlite3_column_int(st, 8) != 0;
    copy_col(u->ban_reason, sizeof(u->ban_reason), st, 9);
}

static int one_user(struct store *s, sqlite3_stmt *st, struct user *out)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        read_user(st, out);
        sqlite3_reset(st);
        return 1;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "user lookup");
}

int store_user_by_jid(struct store *s, const char *bare, struct user *out)
{
    sqlite3_stmt *st = stmt(s, S_USER_BY_JID);

    bind_text(st, 1, bare);
    return one_user(s, st, out);
}

int store_user_by_nick(struct store *s, const char *nick, struct user *out)
{
    sqlite3_stmt *st = stmt(s, S_USER_BY_NICK);

    bind_text(st, 1, nick);
    return one_user(s, st, out);
}

int store_user_by_id(struct store *s, int64_t id, struct user *out)
{
    sqlite3_stmt *st = stmt(s, S_USER_BY_ID);

    sqlite3_bind_int64(st, 1, id);
    return one_user(s, st, out);
}

/* Candidate number n for base: base itself for n == 1, else base cut so
 * that base and the decimal n fit NICK_MAX together. */
static void nick_candidate(const char *base, unsigned long n, char *out)
{
    char suffix[24] = "";
    size_t keep = strlen(base);

    if (n > 1)
        snprintf(suffix, sizeof(suffix), "%lu", n);
    if (keep + strlen(suffix) > NICK_MAX)
        keep = NICK_MAX - strlen(suffix);
    snprintf(out, NICK_MAX + 1, "%.*s%s", (int)keep, base, suffix);
}

/* 1 if candidate n of base is taken (out holds it), 0 if free, -1. */
static int nick_taken(struct store *s, const char *base, unsigned long n,
                      char *out)
{
    struct user u;

    nick_candidate(base, n, out);
    return store_user_by_nick(s, out, &u);
}

/*
 * The first free number for base from n on (n, n + 1, n + 3, n + 7, ...,
 * then bisection between the last taken and the free one found), into
 * *found and its nick into out.  Without nicks taken by hand in the
 * numbered range, n is free and this is one lookup; a run of k such
 * nicks costs about 2 log2(k).
 */
static int nick_search(struct store *s, const char *base, unsigned long n,
                       unsigned long *found, char *out)
{
    unsigned long taken = 0, free_n = n, step = 1, mid;
    int r;

    while ((r = nick_taken(s, base, free_n, out)) == 1) {
        if (free_n > 1000000000UL) {
            log_error("database: no free nick for %s", base);
            return -1;
        }
        taken = free_n;
        free_n += step;
        step *= 2;
    }
    if (r < 0)
        return -1;
    while (step > 1 && free_n - taken > 1) {
        mid = taken + (free_n - taken) / 2;
        if ((r = nick_taken(s, base, mid, out)) < 0)
            return -1;
        if (r == 1)
            taken = mid;
        else
            free_n = mid;
    }
    nick_candidate(base, free_n, out);
    *found = free_n;
    return 0;
}

/*
 * A free nick derived from base: base itself if it is free and not
 * reserved, else base followed by a number.  nick_next remembers per base
 * the number after the last one given, so that a new user costs one
 * lookup there and one for the candidate whatever the number of users of
 * that base (a base without a row starts from 2: its first numbered nick,
 * or a database older than the table).  Runs inside the caller's
 * transaction, which also inserts the user.
 */
static int free_nick(struct store *s, const char *base, bool reserved,
                     char *out)
{
    sqlite3_stmt *st;
    int64_t next;
    unsigned long n;
    int r;

    if (!reserved && (r = nick_taken(s, base, 1, out)) <= 0)
        return r;
    st = stmt(s, S_NICK_NEXT_GET);
    bind_text(st, 1, base);
    if (scalar(s, st, &next) < 0)
        return -1;
    if (nick_search(s, base, next >= 2 ? (unsigned long)next : 2, &n, out) < 0)
        return -1;
    st = stmt(s, S_NICK_NEXT_SET);
    bind_text(st, 1, base);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)n + 1);
    return exec(s, st);
}

int store_user_create(struct store *s, const char *bare, const char *nick_base,
                      bool base_reserved, bool away_default, time_t now,
                      struct user *out)
{
    char nick[NICK_MAX + 1];
    sqlite3_stmt *st;
    int r = store_user_by_jid(s, bare, out);

    if (r < 0)
        return -1;
    if (r == 1) {
        st = stmt(s, S_USER_REACTIVATE);
        sqlite3_bind_int64(st, 1, out->id);
        if (exec(s, st) < 0)
            return -1;
        out->active = true;
        return 0;
    }
    if (begin(s) < 0)
        return -1;
    if (free_nick(s, nick_base[0] != '\0' ? nick_base : "user", base_reserved,
                  nick) < 0)
        return rollback(s);
    st = stmt(s, S_USER_INSERT);
    bind_text(st, 1, bare);
    bind_text(st, 2, nick);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    sqlite3_bind_int(st, 4, away_default);
    if (exec(s, st) < 0)
        return rollback(s);
    if (commit(s) < 0)
        return -1;
    return store_user_by_jid(s, bare, out) == 1 ? 0 : -1;
}

int store_user_set_flag(struct store *s, int64_t id, enum user_flag f,
                        bool value)
{
    static const enum stmt_id ids[] = {
        [USER_ACTIVE] = S_USER_SET_ACTIVE,
        [USER_DELIVER] = S_USER_SET_DELIVER,
        [USER_AWAY] = S_USER_SET_AWAY,
    };
    sqlite3_stmt *st = stmt(s, ids[f]);

    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, value);
    return exec(s, st);
}

int store_user_set_nick(struct store *s, int64_t id, const char *nick)
{
    struct user u;
    sqlite3_stmt *st;
    int r = store_user_by_nick(s, nick, &u);

    if (r < 0)
        return -1;
    if (r == 1)
        return u.id == id ? 0 : 1;
    st = stmt(s, S_USER_SET_NICK);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, nick);
    if (sqlite3_step(st) == SQLITE_CONSTRAINT_UNIQUE) {
        sqlite3_reset(st);
        return 1;
    }
    sqlite3_reset(st);
    return 0;
}

int store_user_set_bio(struct store *s, int64_t id, const char *bio)
{
    sqlite3_stmt *st = stmt(s, S_USER_SET_BIO);

    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, bio);
    return exec(s, st);
}

int store_user_set_ban(struct store *s, int64_t id, bool banned,
                       const char *reason)
{
    sqlite3_stmt *st = stmt(s, S_USER_SET_BAN);

    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, banned);
    bind_text(st, 3, reason != NULL ? reason : "");
    return exec(s, st);
}

static int each_user(struct store *s, sqlite3_stmt *st, store_user_cb cb,
                     void *ud)
{
    struct user u;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_user(st, &u);
        if (cb(ud, &u) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "user list");
}

int store_users_active(struct store *s, store_user_cb cb, void *ud)
{
    return each_user(s, stmt(s, S_USERS_ACTIVE), cb, ud);
}

static int count_of(struct store *s, enum stmt_id id, int64_t arg, int64_t *out)
{
    sqlite3_stmt *st = stmt(s, id);

    sqlite3_bind_int64(st, 1, arg);
    return scalar(s, st, out);
}

int store_user_counts(struct store *s, int64_t id, struct user_counts *c)
{
    if (count_of(s, S_COUNT_POSTS, id, &c->posts) < 0 ||
        count_of(s, S_COUNT_FOLLOWERS, id, &c->followers) < 0 ||
        count_of(s, S_COUNT_FOLLOWING, id, &c->following) < 0)
        return -1;
    return 0;
}

int store_stats(struct store *s, struct store_stats *out)
{
    sqlite3_stmt *st = stmt(s, S_STATS);
    int rc;

    memset(out, 0, sizeof(*out));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int64_t v = sqlite3_column_int64(st, 1);

        if (strcmp(name, "users") == 0)
            out->users = v;
        else if (strcmp(name, "active") == 0)
            out->active = v;
        else if (strcmp(name, "posts") == 0)
            out->posts = v;
        else if (strcmp(name, "follows") == 0)
            out->follows = v;
        else if (strcmp(name, "held") == 0)
            out->held = v;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "stats");
}

/* Follows and blocks ------------------------------------------------------ */

/* Run a two-id statement and report whether it changed a row:
 * 0 changed, 1 not changed, -1 error. */
static int pair_change(struct store *s, enum stmt_id id, int64_t a, int64_t b)
{
    sqlite3_stmt *st = stmt(s, id);

    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    if (exec(s, st) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : 1;
}

static int pair_exists(struct store *s, enum stmt_id id, int64_t a, int64_t b)
{
    sqlite3_stmt *st = stmt(s, id);
    int64_t v;

    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    if (scalar(s, st, &v) < 0)
        return -1;
    return v != 0;
}

/* Insert the pair (a, b) made at now unless it exists: 0 added, 1
 * there already, -1 error. */
static int pair_add(struct store *s, enum stmt_id id, int64_t a, int64_t b,
                    time_t now)
{
    sqlite3_stmt *st = stmt(s, id);

    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    if (exec(s, st) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : 1;
}

int store_follow(struct store *s, int64_t follower, int64_t followee,
                 time_t now)
{
    return pair_add(s, S_FOLLOW, follower, followee, now);
}

int store_unfollow(struct store *s, int64_t follower, int64_t followee)
{
    return pair_change(s, S_UNFOLLOW, follower, followee);
}

int store_is_following(struct store *s, int64_t follower, int64_t followee)
{
    return pair_exists(s, S_IS_FOLLOWING, follower, followee);
}

static int follow_list(struct store *s, enum stmt_id id, int64_t user,
                       time_t since, int64_t key, int limit, store_follow_cb cb,
                       void *ud)
{
    sqlite3_stmt *st = stmt(s, id);
    struct follow_row f;
    int rc;

    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
    sqlite3_bind_int64(st, 3, key);
    sqlite3_bind_int(st, 4, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        f.user = sqlite3_column_int64(st, 0);
        f.nick = (const char *)sqlite3_column_text(st, 1);
        f.since = (time_t)sqlite3_column_int64(st, 2);
        f.digest = sqlite3_column_int(st, 3) != 0;
        if (f.nick == NULL)
            f.nick = "";
        if (cb(ud, &f) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "follow list");
}

int store_followers(struct store *s, int64_t id, time_t since, int64_t user,
                    int limit, store_follow_cb cb, void *ud)
{
    return follow_list(s, S_FOLLOWERS, id, since, user, limit, cb, ud);
}

int store_following(struct store *s, int64_t id, time_t since, int64_t user,
                    int limit, store_follow_cb cb, void *ud)
{
    return follow_list(s, S_FOLLOWING, id, since, user, limit, cb, ud);
}

int store_block(struct store *s, int64_t blocker, int64_t blocked)
{
    sqlite3_stmt *st;
    int r;

    if (begin(s) < 0)
        return -1;
    st = stmt(s, S_BLOCK_UNHOLD);
    sqlite3_bind_int64(st, 1, blocker);
    sqlite3_bind_int64(st, 2, blocked);
    if ((r = pair_change(s, S_BLOCK, blocker, blocked)) < 0 ||
        pair_change(s, S_BLOCK_UNFOLLOW, blocker, blocked) < 0 ||
        outbox_exec(s, st, -1) < 0)
        return rollback(s);
    if (commit(s) < 0)
        return -1;
    return r;
}

int store_unblock(struct store *s, int64_t blocker, int64_t blocked)
{
    return pair_change(s, S_UNBLOCK, blocker, blocked);
}

int store_is_blocked(struct store *s, int64_t blocker, int64_t blocked)
{
    return pair_exists(s, S_IS_BLOCKED, blocker, blocked);
}

/* Tracked words ------------------------------------------------------------ */

int store_track_add(struct store *s, int64_t user, const char *word)
{
    sqlite3_stmt *st;
    int64_t n;

    if (count_of(s, S_TRACK_COUNT, user, &n) < 0)
        return -1;
    if (n >= TRACK_MAX) {
        /* A word tracked already stays "already", not "limit". */
        st = stmt(s, S_TRACK_HAS);
        sqlite3_bind_int64(st, 1, user);
        bind_text(st, 2, word);
        if (scalar(s, st, &n) < 0)
            return -1;
        return n != 0 ? 1 : 2;
    }
    st = stmt(s, S_TRACK_ADD);
    sqlite3_bind_int64(st, 1, user);
    bind_text(st, 2, word);
    if (exec(s, st) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : 1;
}

int store_track_del(struct store *s, int64_t user, const char *word)
{
    sqlite3_stmt *st = stmt(s, S_TRACK_DEL);

    sqlite3_bind_int64(st, 1, user);
    bind_text(st, 2, word);
    if (exec(s, st) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : 1;
}

/* Call cb with column 0 of each row of st (bound to user). */
static int each_word(struct store *s, enum stmt_id id, int64_t user,
                     store_word_cb cb, void *ud)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc;

    sqlite3_bind_int64(st, 1, user);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ud, (const char *)sqlite3_column_text(st, 0)) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "word list");
}

int store_tracking(struct store *s, int64_t user, store_word_cb cb, void *ud)
{
    return each_word(s, S_TRACKING, user, cb, ud);
}

/* Posts ------------------------------------------------------------------- */

/* ["a","b"] from words known to hold no quote or backslash (nicks and
 * \w+ words); anything else is skipped.  Appended piece by piece: a
 * printf per word cost more than the statement it feeds.  Caller frees. */
static char *json_array(const char *const *v, size_t n)
{
    struct buf b = {0};

    buf_append(&b, "[");
    for (size_t i = 0; i < n; i++) {
        if (strpbrk(v[i], "\"\\") != NULL)
            continue;
        for (const char *p = v[i]; *p; p++)
            if ((unsigned char)*p < 0x20)
                goto skip;
        if (b.len > 1)
            buf_appendn(&b, ",", 1);
        buf_appendn(&b, "\"", 1);
        buf_append(&b, v[i]);
        buf_appendn(&b, "\"", 1);
    skip:;
    }
    buf_append(&b, "]");
    return b.s;
}

/* Mentioned users of a post who do not block its author. */
static int insert_mentions(struct store *s, int64_t post, int64_t author,
                           const char *const *mentions, size_t n)
{
    sqlite3_stmt *st;
    char *nicks;
    int r;

    if (n == 0)
        return 0;
    nicks = json_array(mentions, n);
    st = stmt(s, S_MENTIONS_INSERT);
    sqlite3_bind_int64(st, 1, post);
    bind_text(st, 2, nicks);
    sqlite3_bind_int64(st, 3, author);
    r = exec(s, st);
    sqlite3_clear_bindings(st);
    free(nicks);
    return r;
}

/* A fan-out record's users column as schema step 12 writes it (packing
 * 1): each id's difference from the one before, zigzag-encoded, in 7-bit
 * groups; *len its bytes. */
static uint8_t *users_blob(const int64_t *users, size_t n, size_t *len)
{
    uint8_t *b = xmalloc(n * 10 + 1), *o = b;
    uint64_t prev = 0;

    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)users[i] - prev;
        uint64_t z = d << 1 ^ (0 - (d >> 63)); /* -1 -> 1, 1 -> 2 */

        prev = (uint64_t)users[i];
        for (; z >= 0x80; z >>= 7)
            *o++ = (uint8_t)(z | 0x80);
        *o++ = (uint8_t)z;
    }
    *len = (size_t)(o - b);
    return b;
}

/* Up to n ids of a users column of len bytes written with packing into
 * out; how many it holds (fewer if it ends early). */
static size_t blob_users(const uint8_t *b, size_t len, int packing,
                         int64_t *out, size_t n)
{
    size_t i = 0, at = 0;
    uint64_t prev = 0;

    if (packing == 0) {
        for (; i < n && at + 8 <= len; i++, at += 8) {
            uint64_t v = 0;

            for (int k = 7; k >= 0; k--)
                v = v << 8 | b[at + (size_t)k];
            out[i] = (int64_t)v;
        }
        return i;
    }
    for (; i < n && at < len; i++) {
        uint64_t z = 0;
        int shift = 0;

        do {
            if (at == len || shift > 63)
                return i; /* cut short: the ids read so far */
            z |= (uint64_t)(b[at] & 0x7f) << shift;
            shift += 7;
        } while (b[at++] & 0x80);
        prev += z >> 1 ^ (0 - (z & 1));
        out[i] = (int64_t)prev;
    }
    return i;
}

/* Write the record of the recipients routed to memory, if any. */
static int insert_fanout(struct store *s, int64_t id, time_t created)
{
    sqlite3_stmt *st;
    uint8_t *users;
    size_t len;
    int r;

    if (s->route.n == 0 || s->route.post != id)
        return 0;
    users = users_blob(s->route.users, s->route.n, &len);
    st = stmt(s, S_FANOUT_INSERT);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)created);
    sqlite3_bind_blob64(st, 3, users, len, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 4, s->route.states, s->route.n, SQLITE_STATIC);
    r = exec(s, st);
    sqlite3_clear_bindings(st);
    free(users);
    return r;
}

/* Whether anyone tracks one of words (a JSON array): 1, 0, or -1. */
static int tracked(struct store *s, const char *words)
{
    sqlite3_stmt *st = stmt(s, S_TRACKED);
    int64_t hit;

    bind_text(st, 1, words);
    if (scalar(s, st, &hit) < 0)
        return -1;
    sqlite3_clear_bindings(st);
    return hit != 0;
}

static int insert_outbox(struct store *s, const struct post_new *p, int64_t id,
                         int64_t thread, size_t *n)
{
    sqlite3_stmt *st;
    char *words = NULL;
    int64_t added, kept = 0;
    int keeps;

    route_begin(s, id);
    switch (p->kind) {
    case POST_PUBLIC:
        words = json_array(p->words, p->n_words);
        /* Most posts mention nobody, answer nothing and have no word
         * anyone tracks: S_TRACKED tells that with index lookups, where
         * S_OUTBOX_KEPT spent 101 k instructions to find nothing. */
        keeps = p->n_mentions > 0 || p->reply_to > 0 ? 1 : tracked(s, words);
        added = 0;
        if (keeps > 0) {
            st = stmt(s, S_OUTBOX_KEPT);
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, p->author);
            sqlite3_bind_int64(st, 3, (sqlite3_int64)p->created);
            bind_text(st, 4, words);
            sqlite3_bind_int64(st, 5, p->reply_to);
            sqlite3_bind_int64(st, 6, thread);
            added = outbox_exec(s, st, 1);
        }
        free(words);
        if (keeps < 0 || added < 0)
            return -1;
        kept = added;
        /* A thread's followers are filtered by its mutes as well. */
        st = thread != 0 ? stmt(s, S_OUTBOX_FOLLOWERS) : NULL;
        if (st != NULL)
            sqlite3_bind_int64(st, 4, thread);
        break;
    case POST_REPEAT: {
        int64_t *had = NULL;
        uint8_t *states = NULL;
        size_t nhad = 0;

        /* Who got the original from memory gets no repeat of it either. */
        if (store_fanout_get(s, p->repeat_of, &had, &states, &nhad) < 0)
            return -1;
        for (size_t i = 0; i < nhad; i++)
            idmap_put(&s->route.seen, had[i], ROUTED_SKIP);
        free(had);
        free(states);
        st = stmt(s, S_OUTBOX_REPEAT);
        sqlite3_bind_int64(st, 4, p->repeat_author);
        sqlite3_bind_int64(st, 5, p->repeat_of);
        break;
    }
    case POST_DM:
        st = stmt(s, S_OUTBOX_DM);
        sqlite3_bind_int64(st, 4, p->to_user);
        break;
    case POST_BROADCAST:
    default:
        st = stmt(s, S_OUTBOX_BROADCAST);
        break;
    }
    if (st == NULL) {
        added = reach_route(s, id, p->author, p->created);
    } else {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, p->author);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)p->created);
        added = outbox_exec(s, st, 1);
    }
    if (added < 0 || insert_fanout(s, id, p->created) < 0)
        return -1;
    if (n != NULL)
        *n = (size_t)(added + kept) + s->route.n;
    return 0;
}

int store_post_dup(struct store *s, const struct post_new *p, int64_t *id)
{
    sqlite3_stmt *st;

    *id = 0;
    if (p->stanza_id == NULL || p->stanza_id[0] == '\0')
        return 0;
    st = stmt(s, S_POST_DUP);
    sqlite3_bind_int64(st, 1, p->author);
    bind_text(st, 2, p->stanza_id);
    bind_text(st, 3, p->body);
    sqlite3_bind_int(st, 4, (int)p->kind);
    sqlite3_bind_int64(st, 5, p->kind == POST_DM ? p->to_user : 0);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)(p->created - POST_DEDUP_SECONDS));
    if (scalar(s, st, id) < 0)
        return -1;
    return *id != 0;
}

static int insert_tags(struct store *s, int64_t id, const struct post_new *p);

int store_post_add(struct store *s, const struct post_new *p, int64_t *id,
                   size_t *n_recipients)
{
    sqlite3_stmt *st;
    int64_t thread = 0;
    int r;

    if (n_recipients != NULL)
        *n_recipients = 0;
    if ((r = store_post_dup(s, p, id)) != 0)
        return r;
    if (begin(s) < 0)
        return -1;
    /* A reply belongs to the thread of the post it answers. */
    if (p->reply_to > 0) {
        st = stmt(s, S_THREAD_OF);
        sqlite3_bind_int64(st, 1, p->reply_to);
        if (scalar(s, st, &thread) < 0)
            return rollback(s);
    }
    st = stmt(s, S_POST_INSERT);
    sqlite3_bind_int64(st, 1, p->author);
    bind_text(st, 2, p->body);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)p->created);
    if (p->reply_to > 0)
        sqlite3_bind_int64(st, 4, p->reply_to);
    sqlite3_bind_int(st, 5, (int)p->kind);
    if (p->kind == POST_DM)
        sqlite3_bind_int64(st, 6, p->to_user);
    if (p->stanza_id != NULL && p->stanza_id[0] != '\0')
        bind_text(st, 7, p->stanza_id);
    if (p->origin_id != NULL && p->origin_id[0] != '\0')
        bind_text(st, 8, p->origin_id);
    if (thread != 0)
        sqlite3_bind_int64(st, 9, thread);
    if (p->repeat_of != 0)
        sqlite3_bind_int64(st, 10, p->repeat_of);
    if (exec(s, st) < 0)
        return rollback(s);
    *id = sqlite3_last_insert_rowid(s->db);

    if (p->kind == POST_PUBLIC &&
        (insert_mentions(s, *id, p->author, p->mentions, p->n_mentions) < 0 ||
         insert_tags(s, *id, p) < 0))
        return rollback(s);
    if (insert_outbox(s, p, *id, thread, n_recipients) < 0)
        return rollback(s);
    /* In a batch, the index is brought up to date once, before COMMIT. */
    s->unindexed = true;
    if (!s->batch && index_posts(s) < 0)
        return rollback(s);
    return commit(s) < 0 ? -1 : 0;
}

static void read_post(sqlite3_stmt *st, int col, struct post *p)
{
    p->id = sqlite3_column_int64(st, col);
    p->author = sqlite3_column_int64(st, col + 1);
    p->author_nick = (const char *)sqlite3_column_text(st, col + 2);
    p->body = (const char *)sqlite3_column_text(st, col + 3);
    p->created = (time_t)sqlite3_column_int64(st, col + 4);
    p->reply_to = sqlite3_column_int64(st, col + 5);
    p->kind = (enum post_kind)sqlite3_column_int(st, col + 6);
    p->to_user = sqlite3_column_int64(st, col + 7);
    p->edits = sqlite3_column_int(st, col + 8);
    p->thread = sqlite3_column_int64(st, col + 9);
    p->repeat_of = sqlite3_column_int64(st, col + 10);
    if (p->author_nick == NULL)
        p->author_nick = "";
    if (p->body == NULL)
        p->body = "";
}

/* Run a post query; returns the number of rows seen or -1. */
static int each_post(struct store *s, sqlite3_stmt *st, store_post_cb cb,
                     void *ud)
{
    struct post p;
    int rc, n = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_post(st, 0, &p);
        n++;
        if (cb != NULL && cb(ud, &p) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : db_error(s, "post list");
}

int store_post_get(struct store *s, int64_t id, store_post_cb cb, void *ud)
{
    sqlite3_stmt *st = stmt(s, S_POST_GET);
    int n;

    sqlite3_bind_int64(st, 1, id);
    n = each_post(s, st, cb, ud);
    return n < 0 ? -1 : n > 0;
}

/* ids as a JSON array, [1,2], for json_each(), written by hand (a printf
 * per id cost a fifth of confirming a delivery).  Caller frees. */
static char *json_ids(const int64_t *ids, size_t n)
{
    /* "[", and per id a sign, 19 digits and a comma, "]" and NUL */
    char *out = xmalloc(n * 21 + 3), *p = out;

    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        p = put_int64(p, ids[i]);
    }
    *p++ = ']';
    *p = '\0';
    return out;
}

/* Run st (its ?1 bound to a post) with ids bound as a JSON array to ?2
 * and now to ?3; rows added count as held.  -1 on error. */
static int64_t outbox_for_users(struct store *s, sqlite3_stmt *st,
                                const int64_t *users, size_t n, time_t now)
{
    char *ids = json_ids(users, n);
    int64_t r;

    bind_text(st, 2, ids);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
    r = outbox_exec(s, st, 1);
    sqlite3_clear_bindings(st);
    free(ids);
    return r;
}

int store_post_delete(struct store *s, int64_t id, const int64_t *retract,
                      size_t n_retract, time_t now)
{
    sqlite3_stmt *ast = stmt(s, S_AUTHOR_OF);
    int64_t author;

    static const enum stmt_id cleanup[] = {
        S_POST_DEL_MENTIONS, S_POST_DEL_REACTIONS, S_POST_DEL_COPIES};
    sqlite3_stmt *st;
    int changed;

    sqlite3_bind_int64(ast, 1, id);
    if (scalar(s, ast, &author) < 0 || begin(s) < 0)
        return -1;
    /* The delete trigger takes the post out of the index: it must be in. */
    if (s->unindexed && index_posts(s) < 0)
        return rollback(s);
    for (size_t i = 0; i < sizeof(cleanup) / sizeof(cleanup[0]); i++) {
        st = stmt(s, cleanup[i]);
        sqlite3_bind_int64(st, 1, id);
        if (exec(s, st) < 0)
            return rollback(s);
    }
    st = stmt(s, S_POST_DEL_HELD);
    sqlite3_bind_int64(st, 1, id);
    if (outbox_exec(s, st, -1) < 0)
        return rollback(s);
    st = stmt(s, S_POST_DEL);
    sqlite3_bind_int64(st, 1, id);
    if (exec(s, st) < 0)
        return rollback(s);
    changed = sqlite3_changes(s->db);
    if (changed > 0 && n_retract > 0) {
        st = stmt(s, S_POST_RETRACTIONS);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 4, author);
        if (outbox_for_users(s, st, retract, n_retract, now) < 0)
            return rollback(s);
    }
    if (commit(s) < 0)
        return -1;
    return changed > 0 ? 0 : 1;
}

int store_post_by_msgid(struct store *s, int64_t author, const char *msgid,
                        int64_t *id)
{
    static const enum stmt_id ids[] = {S_POST_BY_ORIGIN, S_POST_BY_STANZA};

    *id = 0;
    if (msgid == NULL || msgid[0] == '\0')
        return 0;
    for (size_t i = 0; i < 2; i++) {
        sqlite3_stmt *st = stmt(s, ids[i]);

        sqlite3_bind_int64(st, 1, author);
        bind_text(st, 2, msgid);
        if (scalar(s, st, id) < 0)
            return -1;
        if (*id != 0)
            return 1;
    }
    return 0;
}

int store_post_edit(struct store *s, int64_t id, const struct post_new *p)
{
    sqlite3_stmt *st;
    char *old = NULL;
    int rc;

    if (begin(s) < 0)
        return -1;
    st = stmt(s, S_POST_BODY);
    sqlite3_bind_int64(st, 1, id);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
        sqlite3_column_int(st, 1) == (int)POST_PUBLIC)
        old = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_error(s, "edit");
        return rollback(s);
    }
    if (rc == SQLITE_DONE) {
        rollback(s);
        return 1;
    }
    /* Out of the search index with the old text (if it was in), back in
     * with the new one at the next catch-up. */
    if (old != NULL) {
        st = stmt(s, S_FTS_DELETE);
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, old);
        rc = exec(s, st);
        sqlite3_clear_bindings(st);
        free(old);
        if (rc < 0)
            return rollback(s);
    }
    st = stmt(s, S_POST_EDIT);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, p->body);
    if (exec(s, st) < 0)
        return rollback(s);
    for (size_t i = 0; i < 2; i++) {
        st = stmt(s, i == 0 ? S_POST_DEL_MENTIONS : S_POST_DEL_TAGS);
        sqlite3_bind_int64(st, 1, id);
        if (exec(s, st) < 0)
            return rollback(s);
    }
    if (insert_mentions(s, id, p->author, p->mentions, p->n_mentions) < 0 ||
        insert_tags(s, id, p) < 0)
        return rollback(s);
    st = stmt(s, S_FTS_INSERT);
    sqlite3_bind_int64(st, 1, id);
    if (exec(s, st) < 0)
        return rollback(s);
    return commit(s) < 0 ? -1 : 0;
}

int store_mute(struct store *s, int64_t user, int64_t post, bool mute)
{
    sqlite3_stmt *st = stmt(s, S_THREAD_OF);
    int64_t thread;

    sqlite3_bind_int64(st, 1, post);
    if (scalar(s, st, &thread) < 0)
        return -1;
    if (thread == 0)
        return 2;
    return pair_change(s, mute ? S_MUTE : S_UNMUTE, user, thread);
}

int store_repeat_of(struct store *s, int64_t post, int64_t author, int64_t *id)
{
    sqlite3_stmt *st = stmt(s, S_REPEAT_OF);

    sqlite3_bind_int64(st, 1, post);
    sqlite3_bind_int64(st, 2, author);
    if (scalar(s, st, id) < 0)
        return -1;
    return *id != 0;
}

int store_repeats(struct store *s, int64_t post, int64_t **ids, size_t *n)
{
    sqlite3_stmt *st = stmt(s, S_REPEATS);
    size_t cap = 0;
    int rc;

    *ids = NULL;
    *n = 0;
    sqlite3_bind_int64(st, 1, post);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *ids = xrealloc(*ids, cap * sizeof(**ids));
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "repeats");
}

int store_posts_of(struct store *s, int64_t author, int64_t *ids, int max)
{
    sqlite3_stmt *st = stmt(s, S_POSTS_OF);
    int n = 0, rc;

    sqlite3_bind_int64(st, 1, author);
    sqlite3_bind_int(st, 2, max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? n : db_error(s, "posts of");
}

static int erase_step(struct store *s, const char *text, bool held,
                      int64_t user)
{
    sqlite3_stmt *st;
    int r;

    if (sqlite3_prepare_v2(s->db, text, -1, &st, NULL) != SQLITE_OK)
        return db_error(s, text);
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, user);
    r = held ? (outbox_exec(s, st, -1) < 0 ? -1 : 0) : exec(s, st);
    sqlite3_finalize(st);
    return r;
}

int store_replies_detach(struct store *s, int64_t author)
{
    if (begin(s) < 0)
        return -1;
    if (erase_step(s, replies_detach_sql, false, author) < 0)
        return rollback(s);
    return commit(s);
}

int store_user_erase(struct store *s, int64_t user)
{
    sqlite3_stmt *st = stmt(s, S_USER_BY_ID);
    int64_t id;

    sqlite3_bind_int64(st, 1, user);
    if (scalar(s, st, &id) < 0)
        return -1;
    if (id == 0)
        return 1;
    if (begin(s) < 0)
        return -1;
    /* The delete trigger takes posts out of the index: they must be in. */
    if (s->unindexed && index_posts(s) < 0)
        return rollback(s);
    for (size_t i = 0; i < sizeof(erase_sql) / sizeof(erase_sql[0]); i++)
        if (erase_step(s, erase_sql[i].sql, erase_sql[i].held, user) < 0)
            return rollback(s);
    return commit(s);
}

int store_reactions_count(struct store *s, int64_t post, int64_t user,
                          int64_t *n)
{
    sqlite3_stmt *st = stmt(s, S_REACTION_COUNT);

    sqlite3_bind_int64(st, 1, post);
    sqlite3_bind_int64(st, 2, user);
    return scalar(s, st, n);
}

int store_reaction_add(struct store *s, int64_t post, int64_t user,
                       const char *emoji)
{
    sqlite3_stmt *st = stmt(s, S_REACTION_ADD);

    sqlite3_bind_int64(st, 1, post);
    sqlite3_bind_int64(st, 2, user);
    bind_text(st, 3, emoji);
    if (exec(s, st) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : 1;
}

int store_posts_since(struct store *s, int64_t author, time_t since,
                      int64_t *count)
{
    sqlite3_stmt *st = stmt(s, S_POSTS_SINCE);

    sqlite3_bind_int64(st, 1, author);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
    return scalar(s, st, count);
}

/* A paged post listing: ?1 its subject, ?2 the page size, ?3 the post
 * number the previous page stopped at. */
static int list(struct store *s, enum stmt_id id, int64_t arg, int64_t key,
                int limit, store_post_cb cb, void *ud)
{
    sqlite3_stmt *st = stmt(s, id);

    sqlite3_bind_int64(st, 1, arg);
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_int64(st, 3, key);
    return each_post(s, st, cb, ud) < 0 ? -1 : 0;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? 1 : x > y ? -1 : 0;
}

/* Append the newest limit public post ids of author below before to
 * *ids. */
static int author_ids(struct store *s, int64_t author, int64_t before,
                      int limit, int64_t **ids, size_t *n, size_t *cap)
{
    sqlite3_stmt *st = stmt(s, S_AUTHOR_POST_IDS);
    int rc;

    sqlite3_bind_int64(st, 1, author);
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_int64(st, 3, before);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *ids = xrealloc(*ids, *cap * sizeof(**ids));
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "timeline");
}

/* Passes each post on and notes whether the callback asked to stop. */
struct until_stop {
    store_post_cb cb;
    void *ud;
    bool stop;
};

static int until_stop_cb(void *ud, const struct post *p)
{
    struct until_stop *u = ud;

    if (u->cb(u->ud, p) != 0)
        u->stop = true;
    return 0;
}

int store_timeline(struct store *s, int64_t user, int64_t before, int limit,
                   store_post_cb cb, void *ud)
{
    struct until_stop u = {cb, ud, false};
    sqlite3_stmt *st = stmt(s, S_FOLLOWEE_IDS);
    int64_t *authors = NULL, *ids = NULL;
    size_t na = 0, capa = 0, n = 0, cap = 0;
    int rc, r = 0;

    sqlite3_bind_int64(st, 1, user);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (na == capa) {
            capa = capa ? capa * 2 : 64;
            authors = xrealloc(authors, capa * sizeof(*authors));
        }
        authors[na++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        r = db_error(s, "timeline");
    if (r == 0)
        r = author_ids(s, user, before, limit, &ids, &n, &cap);
    for (size_t i = 0; r == 0 && i < na; i++)
        r = author_ids(s, authors[i], before, limit, &ids, &n, &cap);
    if (r == 0) {
        if (n > 0)
            qsort(ids, n, sizeof(*ids), cmp_desc);
        for (size_t i = 0; i < n && i < (size_t)limit && !u.stop; i++) {
            int got = store_post_get(s, ids[i], until_stop_cb, &u);

            if (got < 0) {
                r = -1;
                break;
            }
        }
    }
    free(authors);
    free(ids);
    return r;
}

int store_user_posts(struct store *s, int64_t author, int64_t before, int limit,
                     store_post_cb cb, void *ud)
{
    return list(s, S_USER_POSTS, author, before, limit, cb, ud);
}

int store_mentions(struct store *s, int64_t user, int64_t before, int limit,
                   store_post_cb cb, void *ud)
{
    return list(s, S_MENTIONS, user, before, limit, cb, ud);
}

int store_replies(struct store *s, int64_t id, int64_t after, int limit,
                  store_post_cb cb, void *ud)
{
    return list(s, S_REPLIES, id, after, limit, cb, ud);
}

int store_thread_posts(struct store *s, int64_t root, int64_t after, int limit,
                       store_post_cb cb, void *ud)
{
    return list(s, S_THREAD_POSTS, root, after, limit, cb, ud);
}

int store_search(struct store *s, const char *words, int64_t before, int limit,
                 store_post_cb cb, void *ud)
{
    struct buf q = {0};
    const char *p = words;
    sqlite3_stmt *st;
    int r;

    /* Every word becomes an FTS5 string: no operator is ever parsed. */
    while (*p != '\0') {
        size_t n;

        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        n = strcspn(p, " \t\n");
        if (n == 0)
            break;
        buf_append(&q, q.len > 0 ? " \"" : "\"");
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '"')
                buf_append(&q, "\"\"");
            else
                buf_appendn(&q, p + i, 1);
        }
        buf_append(&q, "\"");
        p += n;
    }
    if (q.len == 0) {
        buf_free(&q);
        return 0;
    }
    if (s->unindexed)
        index_posts(s); /* inside a batch: search sees every post */
    st = stmt(s, S_SEARCH);
    bind_text(st, 1, buf_str(&q));
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_int64(st, 3, before);
    r = each_post(s, st, cb, ud);
    buf_free(&q);
    return r < 0 ? -1 : 0;
}

/* Outbox ---------------------------------------------------------------- */

/* Call cb for each row of st: (id, user, jid, away, class, what, the
 * nick of a retraction's author), then either the one post given for
 * every row, or (post id, the post's columns) read from the row itself. */
static int each_row(struct store *s, sqlite3_stmt *st, const struct post *post,
                    store_outbox_cb cb, void *ud)
{
    struct outbox_row r;
    int rc;

    memset(&r, 0, sizeof(r));
    if (post != NULL)
        r.post = *post;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r.id = sqlite3_column_int64(st, 0);
        r.user = sqlite3_column_int64(st, 1);
        r.jid = (const char *)sqlite3_column_text(st, 2);
        r.away = sqlite3_column_int(st, 3) != 0;
        r.ordinary = sqlite3_column_int(st, 4) == 0;
        r.what = (enum outbox_what)sqlite3_column_int(st, 5);
        if (post == NULL) {
            read_post(st, 8, &r.post);
            r.post.id = sqlite3_column_int64(st, 7);
        }
        /* A retraction's post is gone: the author's nick is the row's. */
        if (r.what == OUTBOX_RETRACTION)
            r.post.author_nick = (const char *)sqlite3_column_text(st, 6);
        if (cb(ud, &r) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "outbox");
}

int store_outbox_for_post(struct store *s, int64_t post, enum outbox_what what,
                          store_outbox_cb cb, void *ud)
{
    sqlite3_stmt *pst = NULL, *st;
    struct post p = {.id = post, .author_nick = "", .body = ""};
    int rc;

    /* The post is read once, not once a row; a retracted one is gone. */
    if (what != OUTBOX_RETRACTION) {
        pst = stmt(s, S_POST_GET);
        sqlite3_bind_int64(pst, 1, post);
        if ((rc = sqlite3_step(pst)) != SQLITE_ROW) {
            sqlite3_reset(pst);
            return rc == SQLITE_DONE ? 0 : db_error(s, "outbox");
        }
        read_post(pst, 0, &p); /* valid until pst is reset */
    }
    st = stmt(s, S_OUTBOX_FOR_POST);
    sqlite3_bind_int64(st, 1, post);
    sqlite3_bind_int(st, 2, (int)what);
    rc = each_row(s, st, &p, cb, ud);
    if (pst != NULL)
        sqlite3_reset(pst);
    return rc;
}

int store_outbox_for_user(struct store *s, int64_t user, store_outbox_cb cb,
                          void *ud)
{
    sqlite3_stmt *st = stmt(s, S_OUTBOX_FOR_USER);

    sqlite3_bind_int64(st, 1, user);
    return each_row(s, st, NULL, cb, ud);
}

int store_outbox_of_post(struct store *s, int64_t post, store_copy_cb cb,
                         void *ud)
{
    sqlite3_stmt *st = stmt(s, S_OUTBOX_OF_POST);
    int rc;

    sqlite3_bind_int64(st, 1, post);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
           sqlite3_column_int(st, 2) != 0,
           (enum outbox_what)sqlite3_column_int(st, 3));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "outbox");
}

int store_outbox_users(struct store *s, const int64_t *ids, size_t n,
                       void (*cb)(void *ud, int64_t user), void *ud)
{
    sqlite3_stmt *st = stmt(s, S_OUTBOX_USERS);
    char *json = json_ids(ids, n);
    int64_t *users = NULL;
    size_t nu = 0;
    int rc;

    bind_text(st, 1, json);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        users = xrealloc(users, (nu + 1) * sizeof(*users));
        users[nu++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    free(json);
    /* After the walk (the callbacks read the outbox themselves), each
     * user once. */
    if (nu > 1)
        qsort(users, nu, sizeof(*users), cmp_desc);
    for (size_t i = 0; rc == SQLITE_DONE && i < nu; i++)
        if (i == 0 || users[i] != users[i - 1])
            cb(ud, users[i]);
    free(users);
    return rc == SQLITE_DONE ? 0 : db_error(s, "outbox users");
}

static int open_records(struct store *s, int64_t **posts, size_t *n);

int store_outbox_count_user(struct store *s, int64_t user, int64_t *count)
{
    int64_t *posts, *users;
    uint8_t *states;
    size_t n, k;

    if (count_of(s, S_OUTBOX_COUNT_USER, user, count) < 0 ||
        open_records(s, &posts, &n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (store_fanout_get(s, posts[i], &users, &states, &k) <= 0)
            continue;
        for (size_t j = 0; j < k; j++)
            if (users[j] == user &&
                (states[j] == FAN_OPEN || states[j] == FAN_OPEN_KEPT))
                (*count)++;
        free(users);
        free(states);
    }
    free(posts);
    return 0;
}

int store_outbox_count_ordinary(struct store *s, int64_t user, int64_t *count)
{
    return count_of(s, S_OUTBOX_COUNT_ORDINARY, user, count);
}

int store_outbox_trim_user(struct store *s, int64_t user, int64_t keep,
                           int64_t *dropped)
{
    sqlite3_stmt *st;
    int64_t n;

    if (dropped != NULL)
        *dropped = 0;
    if (begin(s) < 0)
        return -1;
    st = stmt(s, S_OUTBOX_TRIM_USER);
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, keep);
    if ((n = outbox_exec(s, st, -1)) < 0)
        return rollback(s);
    if (n > 0) {
        st = stmt(s, S_USER_DROPPED_ADD);
        sqlite3_bind_int64(st, 1, user);
        sqlite3_bind_int64(st, 2, n);
        if (exec(s, st) < 0)
            return rollback(s);
    }
    if (commit(s) < 0)
        return -1;
    if (dropped != NULL)
        *dropped = n;
    return 0;
}

int store_user_take_dropped(struct store *s, int64_t user, int64_t *n)
{
    sqlite3_stmt *st;

    if (count_of(s, S_USER_DROPPED, user, n) < 0)
        return -1;
    if (*n == 0)
        return 0;
    st = stmt(s, S_USER_DROPPED_RESET);
    sqlite3_bind_int64(st, 1, user);
    return exec(s, st);
}

int store_outbox_clear_user(struct store *s, int64_t user)
{
    sqlite3_stmt *st = stmt(s, S_OUTBOX_CLEAR_USER);

    sqlite3_bind_int64(st, 1, user);
    return outbox_remove(s, st, false) < 0 ? -1 : 0;
}

int store_outbox_done(struct store *s, const int64_t *ids, size_t n)
{
    sqlite3_stmt *st = stmt(s, S_OUTBOX_DONE);
    char *json;
    int rc;

    if (n == 0)
        return 0;
    /* One statement for the lot: a statement per row cost more. */
    json = json_ids(ids, n);
    bind_text(st, 1, json);
    rc = outbox_remove(s, st, true) < 0 ? -1 : 0;
    sqlite3_clear_bindings(st);
    free(json);
    return rc;
}

int store_outbox_corrections(struct store *s, int64_t post,
                             const int64_t *users, size_t n, time_t now)
{
    sqlite3_stmt *st;

    if (n == 0)
        return 0;
    if (begin(s) < 0)
        return -1;
    st = stmt(s, S_OUTBOX_CORRECTIONS);
    sqlite3_bind_int64(st, 1, post);
    if (outbox_for_users(s, st, users, n, now) < 0)
        return rollback(s);
    return commit(s);
}

int store_outbox_prune(struct store *s, time_t before, int max, int64_t *cursor)
{
    sqlite3_stmt *st = stmt(s, S_OUTBOX_OLDEST);
    int64_t *ids = xcalloc((size_t)max, sizeof(*ids)), last = *cursor;
    size_t n = 0;
    char *json;
    int rc;

    sqlite3_bind_int64(st, 1, *cursor);
    sqlite3_bind_int(st, 2, max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((time_t)sqlite3_column_int64(st, 2) >= before) {
            rc = SQLITE_DONE; /* rows are in time order: the rest is new */
            break;
        }
        last = sqlite3_column_int64(st, 0);
        if (sqlite3_column_int(st, 1) == 1)
            ids[n++] = last;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(ids);
        return db_error(s, "outbox prune");
    }
    rc = 0;
    if (n > 0) {
        json = json_ids(ids, n);
        st = stmt(s, S_OUTBOX_PRUNE);
        bind_text(st, 1, json);
        rc = exec(s, st);
        sqlite3_clear_bindings(st);
        free(json);
    }
    free(ids);
    if (rc < 0)
        return -1;
    *cursor = last;
    return (int)n;
}

/* Fan-out records ------------------------------------------------------- */

int store_fanout_get(struct store *s, int64_t post, int64_t **users,
                     uint8_t **states, size_t *n)
{
    sqlite3_stmt *st = stmt(s, S_FANOUT_GET);
    const uint8_t *u, *v;
    size_t nu, nv;
    int rc;

    *users = NULL;
    *states = NULL;
    *n = 0;
    sqlite3_bind_int64(st, 1, post);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : db_error(s, "fan-out record");
    }
    u = sqlite3_column_blob(st, 0);
    nu = (size_t)sqlite3_column_bytes(st, 0);
    v = sqlite3_column_blob(st, 1);
    nv = (size_t)sqlite3_column_bytes(st, 1);
    *users = xmalloc(nv * sizeof(**users) + 1);
    *n = blob_users(u, nu, sqlite3_column_int(st, 2), *users, nv);
    *states = xmalloc(*n + 1);
    if (*n > 0)
        memcpy(*states, v, *n);
    sqlite3_reset(st);
    return 1;
}

static bool any_open(const uint8_t *states, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (states[i] == FAN_OPEN || states[i] == FAN_OPEN_KEPT)
            return true;
    return false;
}

/* The states of post's record; inside a transaction. */
static int fanout_set(struct store *s, int64_t post, const uint8_t *states,
                      size_t n)
{
    sqlite3_stmt *st = stmt(s, S_FANOUT_SET);
    int r;

    sqlite3_bind_int64(st, 1, post);
    sqlite3_bind_blob64(st, 2, states, n, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, any_open(states, n));
    r = exec(s, st);
    sqlite3_clear_bindings(st);
    return r;
}

int store_fanout_set(struct store *s, int64_t post, const uint8_t *states,
                     size_t n)
{
    if (begin_unit(s, true) < 0)
        return -1;
    if (fanout_set(s, post, states, n) < 0)
        return rollback(s);
    return commit(s);
}

/* Held rows for v; inside a transaction.  Each user who got one is put
 * in got (if not NULL).  Rows written, or -1. */
static int64_t fanout_hold(struct store *s, const struct fan_hold *v, size_t n,
                           struct idmap *got)
{
    sqlite3_stmt *st = stmt(s, S_FANOUT_HOLD);
    int64_t rows = 0, r;

    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, v[i].post);
        sqlite3_bind_int64(st, 2, v[i].user);
        sqlite3_bind_int(st, 3, v[i].ordinary ? 0 : 1);
        if ((r = outbox_exec(s, st, 1)) < 0)
            return -1;
        if (r > 0 && got != NULL)
            idmap_put(got, v[i].user, 1);
        rows += r;
    }
    return rows;
}

int store_fanout_hold(struct store *s, const struct fan_hold *v, size_t n)
{
    if (n == 0)
        return 0;
    if (begin_unit(s, true) < 0)
        return -1;
    if (fanout_hold(s, v, n, NULL) < 0)
        return rollback(s);
    return commit(s);
}

/* Post's open recipients held, its record closed; in a transaction. */
static int64_t recover_one(struct store *s, int64_t post, struct idmap *got)
{
    struct fan_hold *v;
    int64_t *users, rows;
    uint8_t *states;
    size_t n, k = 0;
    int found = store_fanout_get(s, post, &users, &states, &n);

    if (found <= 0)
        return found;
    v = xmalloc(n * sizeof(*v) + 1);
    for (size_t i = 0; i < n; i++)
        if (states[i] == FAN_OPEN || states[i] == FAN_OPEN_KEPT) {
            v[k++] = (struct fan_hold){post, users[i], states[i] == FAN_OPEN};
            states[i] = FAN_CLOSED;
        }
    rows = fanout_hold(s, v, k, got);
    if (rows >= 0 && fanout_set(s, post, states, n) < 0)
        rows = -1;
    free(v);
    free(users);
    free(states);
    return rows;
}

/* The posts of the open records, oldest first: *posts (caller frees)
 * and *n.  0 or -1. */
static int open_records(struct store *s, int64_t **posts, size_t *n)
{
    sqlite3_stmt *st = stmt(s, S_FANOUT_OPEN);
    size_t cap = 0;
    int rc;

    *posts = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *posts = xrealloc(*posts, cap * sizeof(**posts));
        }
        (*posts)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    free(*posts);
    *posts = NULL;
    return db_error(s, "fan-out records");
}

int64_t store_fanout_recover(struct store *s,
                             bool (*skip)(void *ud, int64_t post),
                             void (*held)(void *ud, int64_t user), void *ud)
{
    struct idmap got = {0};
    int64_t *posts, rows = 0, r;
    size_t n;

    if (open_records(s, &posts, &n) < 0)
        return -1;
    if (n == 0 || begin(s) < 0) {
        free(posts);
        return n == 0 ? 0 : -1;
    }
    for (size_t i = 0; i < n && rows >= 0; i++)
        if (skip == NULL || !skip(ud, posts[i]))
            rows = (r = recover_one(s, posts[i], &got)) < 0 ? -1 : rows + r;
    free(posts);
    if (rows < 0 || commit(s) < 0) {
        idmap_clear(&got);
        return rows < 0 ? rollback(s) : -1;
    }
    for (size_t i = 0; held != NULL && i < got.cap; i++)
        if (got.k[i] != 0)
            held(ud, got.k[i]);
    idmap_clear(&got);
    return rows;
}

int store_fanout_prune(struct store *s, time_t before, int max)
{
    sqlite3_stmt *st = stmt(s, S_FANOUT_PRUNE);

    sqlite3_bind_int64(st, 1, (sqlite3_int64)before);
    sqlite3_bind_int(st, 2, max);
    if (exec(s, st) < 0)
        return -1;
    return sqlite3_changes(s->db);
}

/* Audit ------------------------------------------------------------------ */

int store_audit(struct store *s, const char *admin_jid, const char *action,
                const char *detail, time_t now)
{
    sqlite3_stmt *st = stmt(s, S_AUDIT);

    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    bind_text(st, 2, admin_jid);
    bind_text(st, 3, action);
    bind_text(st, 4, detail != NULL ? detail : "");
    return exec(s, st);
}

/* Tags, favourites, notices, settings (issue 15) ------------------------ */

/* Called by store_post_add() inside its unit: the post's tags. */
static int insert_tags(struct store *s, int64_t id, const struct post_new *p)
{
    sqlite3_stmt *st;
    char *tags;
    int r;

    if (p->n_tags == 0)
        return 0;
    tags = json_array(p->tags, p->n_tags);
    st = stmt(s, S_TAGS_INSERT);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, tags);
    r = exec(s, st);
    sqlite3_clear_bindings(st);
    free(tags);
    return r;
}

int store_tag_posts(struct store *s, const char *tag, int64_t before, int limit,
                    store_post_cb cb, void *ud)
{
    sqlite3_stmt *st = stmt(s, S_TAG_POSTS);

    bind_text(st, 1, tag);
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_int64(st, 3, before);
    return each_post(s, st, cb, ud) < 0 ? -1 : 0;
}

int store_dms(struct store *s, int64_t user, int64_t before, int limit,
              store_dm_cb cb, void *ud)
{
    sqlite3_stmt *st = stmt(s, S_DMS);
    struct post p;
    int rc;

    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_int64(st, 3, before);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *peer = (const char *)sqlite3_column_text(st, POST_NCOLS);

        read_post(st, 0, &p);
        if (cb(ud, &p, peer != NULL ? peer : "") != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "private messages");
}

int store_fav_add(struct store *s, int64_t user, int64_t post, time_t now)
{
    return pair_add(s, S_FAV_ADD, user, post, now);
}

int store_fav_del(struct store *s, int64_t user, int64_t post)
{
    return pair_change(s, S_FAV_DEL, user, post);
}

int store_favs(struct store *s, int64_t user, int64_t before, int limit,
               store_post_cb cb, void *ud)
{
    return list(s, S_FAVS, user, before, limit, cb, ud);
}

int store_told_once(struct store *s, enum told_kind kind, int64_t actor,
                    int64_t object)
{
    sqlite3_stmt *st = stmt(s, S_TOLD);

    sqlite3_bind_int(st, 1, (int)kind);
    sqlite3_bind_int64(st, 2, actor);
    sqlite3_bind_int64(st, 3, object);
    if (exec(s, st) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

int store_quiet_users(struct store *s, int (*cb)(void *ud, int64_t user),
                      void *ud)
{
    sqlite3_stmt *st = stmt(s, S_QUIET_USERS);
    int64_t *users = NULL, last = 0;
    size_t n;
    int rc;

    /* In pages, each read before the callbacks (which read prefs). */
    do {
        n = 0;
        sqlite3_bind_int64(st, 1, last);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            users = xrealloc(users, (n + 1) * sizeof(*users));
            users[n++] = last = sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            free(users);
            return db_error(s, "quiet users");
        }
        for (size_t i = 0; i < n; i++)
            cb(ud, users[i]);
    } while (n == 1000);
    free(users);
    return 0;
}

int store_prefs_get(struct store *s, int64_t user, struct prefs *out)
{
    sqlite3_stmt *st = stmt(s, S_PREFS_GET);
    int rc;

    memset(out, 0, sizeof(*out));
    out->quiet_start = out->quiet_end = -1;
    out->digest_at = PREFS_DIGEST_DEFAULT;
    out->notices = true;
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int(st, 2, PREFS_DIGEST_DEFAULT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_col(out->tz, sizeof(out->tz), st, 0);
        out->quiet_start = sqlite3_column_int(st, 1);
        out->quiet_end = sqlite3_column_int(st, 2);
        out->digest_at = sqlite3_column_int(st, 3);
        out->notices = sqlite3_column_int(st, 4) != 0;
        out->exported = (time_t)sqlite3_column_int64(st, 5);
        out->digest_sent = (time_t)sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error(s, "settings");
}

static void bind_minute(sqlite3_stmt *st, int i, int minute)
{
    if (minute < 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int(st, i, minute);
}

int store_prefs_put(struct store *s, int64_t user, const struct prefs *p)
{
    sqlite3_stmt *st = stmt(s, S_PREFS_PUT);
    bool quiet = p->quiet_start >= 0 && p->quiet_end >= 0;

    sqlite3_bind_int64(st, 1, user);
    bind_text(st, 2, p->tz);
    bind_minute(st, 3, quiet ? p->quiet_start : -1);
    bind_minute(st, 4, quiet ? p->quiet_end : -1);
    bind_minute(st, 5, p->digest_at);
    sqlite3_bind_int(st, 6, p->notices);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)p->exported);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)p->digest_sent);
    return exec(s, st);
}

int store_digest_users(struct store *s, int (*cb)(void *ud, int64_t user),
                       void *ud)
{
    sqlite3_stmt *st = stmt(s, S_DIGEST_USERS);
    int64_t user = 0;

    for (;;) {
        sqlite3_bind_int64(st, 1, user);
        if (scalar(s, st, &user) < 0)
            return -1;
        if (user == 0 || cb(ud, user) != 0)
            return 0;
    }
}

int store_digest_of(struct store *s, int64_t user, store_digest_cb cb, void *ud)
{
    sqlite3_stmt *st = stmt(s, S_DIGEST_OF);
    struct digest_follow f;
    int rc;

    sqlite3_bind_int64(st, 1, user);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        f.followee = sqlite3_column_int64(st, 0);
        copy_col(f.nick, sizeof(f.nick), st, 1);
        f.after = sqlite3_column_int64(st, 2);
        if (cb(ud, &f) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, "digest follows");
}

int store_digest_posts(struct store *s, int64_t author, int64_t after,
                       int limit, store_post_cb cb, void *ud)
{
    return list(s, S_DIGEST_POSTS, author, after, limit, cb, ud);
}

int store_digest_count(struct store *s, int64_t author, int64_t after,
                       int64_t *n)
{
    sqlite3_stmt *st = stmt(s, S_DIGEST_COUNT);

    sqlite3_bind_int64(st, 1, author);
    sqlite3_bind_int64(st, 2, after);
    return scalar(s, st, n);
}

int store_digest_done(struct store *s, int64_t user, int64_t upto, time_t now)
{
    sqlite3_stmt *st;

    if (begin(s) < 0)
        return -1;
    st = stmt(s, S_DIGEST_DONE);
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, upto);
    if (exec(s, st) < 0)
        return rollback(s);
    st = stmt(s, S_DIGEST_SENT);
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
    if (exec(s, st) < 0)
        return rollback(s);
    return commit(s);
}

int store_max_post(struct store *s, int64_t *id)
{
    return scalar(s, stmt(s, S_MAX_POST), id);
}

int store_follower_jids(struct store *s, int64_t user, store_word_cb cb,
                        void *ud)
{
    return each_word(s, S_FOLLOWER_JIDS, user, cb, ud);
}

int store_blocking(struct store *s, int64_t user, store_word_cb cb, void *ud)
{
    return each_word(s, S_BLOCKING, user, cb, ud);
}

int store_follow_mode(struct store *s, int64_t follower, int64_t followee,
                      bool digest, time_t now, bool *added, bool *changed)
{
    int followed, moded;

    *added = *changed = false;
    if (begin(s) < 0)
        return -1;
    /* Both return 0 when they changed a row. */
    if ((followed = store_follow(s, follower, followee, now)) < 0 ||
        (moded = pair_change(s, digest ? S_DIGEST_ON : S_DIGEST_OFF, follower,
                             followee)) < 0)
        return rollback(s);
    if (digest && moded == 0) {
        sqlite3_stmt *st = stmt(s, S_DIGEST_CLOCK);

        sqlite3_bind_int64(st, 1, follower);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
        if (exec(s, st) < 0)
            return rollback(s);
    }
    if (commit(s) < 0)
        return -1;
    *added = followed == 0;
    *changed = moded == 0;
    return 0;
}
