/*
 * store.h - the only user of <sqlite3.h>: users, posts, follows, blocks,
 * tracked words, mentions, reactions, the delivery outbox (with the record
 * of delivered copies) and the audit log.
 *
 * Every statement is prepared once at store_open() with bound parameters.
 * The database runs in WAL mode; the store syncs the WAL after every
 * commit but those that only record deliveries (on_commit() in store.c).
 * Outside a batch a function that returned success has committed
 * durably; inside one
 * (store_batch_begin(), how the daemon's loop always runs) its change is
 * durable only once store_batch_end() returned 0.  Schema changes are
 * numbered migrations keyed on PRAGMA user_version (storage/migrations.c).
 *
 * Conventions: functions return -1 on a database error (logged once,
 * here), 0 on success or "not found", 1 for "found"/"already" where noted.
 * Strings handed to callbacks are valid only during the callback.  A
 * callback returning non-zero stops the iteration.
 */
#ifndef STARLING_STORE_H
#define STARLING_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/text.h"

struct store;

struct user {
    int64_t id;
    char jid[JID_MAX + 1]; /* bare */
    char nick[NICK_MAX + 1];
    char bio[BIO_MAX_CHARS * 4 + 1];
    time_t created;
    bool active;  /* subscribed to the bot */
    bool deliver; /* "on" (true) / "off" */
    bool away;    /* deliver while away/xa */
    bool banned;
    char ban_reason[256];
};

enum post_kind {
    POST_PUBLIC = 0,    /* a status update: timeline, search... */
    POST_DM = 1,        /* private message to to_user */
    POST_BROADCAST = 2, /* admin announcement to every active user */
    POST_REPEAT = 3,    /* repeat_of passed on to the author's followers */
};

struct post {
    int64_t id;
    int64_t author;
    const char *author_nick;
    const char *body;
    time_t created;
    int64_t reply_to; /* 0: not a reply */
    enum post_kind kind;
    int64_t to_user;   /* POST_DM only */
    int edits;         /* times corrected (XEP-0308) */
    int64_t thread;    /* a reply's thread (its first post), or 0 */
    int64_t repeat_of; /* POST_REPEAT only */
};

typedef int (*store_user_cb)(void *ud, const struct user *u);
typedef int (*store_post_cb)(void *ud, const struct post *p);
typedef int (*store_word_cb)(void *ud, const char *word);

/* Open (creating and migrating as needed) the database at path, or
 * ":memory:" for tests.  NULL on error (logged). */
struct store *store_open(const char *path);
void store_close(struct store *st);

/* Group commit: between these two, every change is one transaction,
 * committed (and synced) by store_batch_end(); each function's own unit
 * of work becomes a savepoint, so a failing one still changes nothing.
 * The transaction begins with the batch's first statement: a batch that
 * runs none costs nothing.
 * Nothing that depends on a change may leave the process before
 * store_batch_end() returns 0.  -1 from it: everything since
 * store_batch_begin() is gone. */
int store_batch_begin(struct store *st);
int store_batch_end(struct store *st);

/*
 * Whether the database takes writes.  false once a write failed for want
 * of space, with an I/O error or on a read-only file system (a full disk:
 * logged once, at error level); true again once a transaction that
 * changed something is committed (logged too).  Meanwhile reads work and
 * writes are still tried: each fails with -1 or, when space has returned,
 * succeeds.
 */
bool store_writable(const struct store *st);
/* The smallest write, in a transaction of its own: 0 when it was
 * committed (store_writable() is true again), -1 when not.  Not inside a
 * batch. */
int store_probe(struct store *st);

/* Test hook: EXPLAIN QUERY PLAN of every prepared statement and of the
 * erasure statements prepared when used, one call per plan line. */
int store_explain(struct store *st,
                  void (*cb)(void *ud, const char *sql, const char *plan),
                  void *ud);

/* Users --------------------------------------------------------------- */

/* 1 and *out filled if found, 0 if not, -1 on error. */
int store_user_by_jid(struct store *st, const char *bare, struct user *out);
int store_user_by_nick(struct store *st, const char *nick, struct user *out);
int store_user_by_id(struct store *st, int64_t id, struct user *out);
/*
 * Create an active user for bare with a nick from nick_base: nick_base
 * itself if it is free and not base_reserved, else nick_base followed by
 * a number (2, 3, ...; the base cut to fit NICK_MAX), the one after the
 * last number given for that base: a constant number of lookups however
 * many users share it (a few more past nicks taken by hand in the
 * numbered range).  deliver=on, away=away_default.  If
 * the JID exists already it is re-activated instead.  0 and *out.
 */
int store_user_create(struct store *st, const char *bare, const char *nick_base,
                      bool base_reserved, bool away_default, time_t now,
                      struct user *out);

enum user_flag { USER_ACTIVE, USER_DELIVER, USER_AWAY };
int store_user_set_flag(struct store *st, int64_t id, enum user_flag f,
                        bool value);
/* 0 done, 1 nick taken by someone else. */
int store_user_set_nick(struct store *st, int64_t id, const char *nick);
int store_user_set_bio(struct store *st, int64_t id, const char *bio);
int store_user_set_ban(struct store *st, int64_t id, bool banned,
                       const char *reason);
/* Every active user, for broadcast and roster reconciliation. */
int store_users_active(struct store *st, store_user_cb cb, void *ud);

struct user_counts {
    int64_t posts, followers, following;
};
int store_user_counts(struct store *st, int64_t id, struct user_counts *c);

struct store_stats {
    int64_t users, active, posts, follows, held;
};
int store_stats(struct store *st, struct store_stats *s);

/* Follows and blocks -------------------------------------------------- */

/* 0 added, 1 already following. */
int store_follow(struct store *st, int64_t follower, int64_t followee,
                 time_t now);
/* 0 removed, 1 was not following. */
int store_unfollow(struct store *st, int64_t follower, int64_t followee);
/* 1 if follower follows followee, 0 if not. */
int store_is_following(struct store *st, int64_t follower, int64_t followee);

/* One follow in a listing: the other user, since when, and (following
 * only) whether it is in digest mode. */
struct follow_row {
    int64_t user;
    const char *nick;
    time_t since;
    bool digest;
};
typedef int (*store_follow_cb)(void *ud, const struct follow_row *f);
/* Followers of id (following: whom id follows), newest follow first, at
 * most limit, starting after the follow (since, user) a previous page
 * stopped at (STORE_NEWEST, 0 for the first page).  Served by
 * follows_followee_time / follows_follower_time: no sort. */
int store_followers(struct store *st, int64_t id, time_t since, int64_t user,
                    int limit, store_follow_cb cb, void *ud);
int store_following(struct store *st, int64_t id, time_t since, int64_t user,
                    int limit, store_follow_cb cb, void *ud);

/* 0 added (and blocked's follow of blocker removed), 1 already. */
int store_block(struct store *st, int64_t blocker, int64_t blocked);
/* 0 removed, 1 was not blocked. */
int store_unblock(struct store *st, int64_t blocker, int64_t blocked);
/* 1 if blocker blocks blocked. */
int store_is_blocked(struct store *st, int64_t blocker, int64_t blocked);

/* Tracked words ------------------------------------------------------- */

#define TRACK_MAX 20
/* 0 added, 1 already tracked, 2 limit of TRACK_MAX reached. */
int store_track_add(struct store *st, int64_t user, const char *word);
/* 0 removed, 1 was not tracked. */
int store_track_del(struct store *st, int64_t user, const char *word);
int store_tracking(struct store *st, int64_t user, store_word_cb cb, void *ud);

/* Posts ----------------------------------------------------------------- */

/* A resend: the same stanza id and text from the same author within this
 * many seconds is stored once (SPEC 4). */
#define POST_DEDUP_SECONDS 300

struct post_new {
    int64_t author;
    const char *body;
    time_t created;
    int64_t reply_to; /* 0 if none */
    enum post_kind kind;
    int64_t to_user;                  /* POST_DM */
    const char *stanza_id;            /* for de-duplication; may be NULL */
    const char *origin_id;            /* XEP-0359 origin-id; may be NULL */
    int64_t repeat_of, repeat_author; /* POST_REPEAT: the post and its author */
    const char *const *mentions;      /* nicks, lower-case, no '@' */
    size_t n_mentions;
    const char *const *words; /* lower-cased words, for track */
    size_t n_words;
    const char *const *tags; /* lower-cased tags without '#' (PUBLIC) */
    size_t n_tags;
};

/*
 * Store a post and its outbox rows in one transaction.  Recipients per
 * SPEC 6: followers of the author + mentioned users + users tracking one
 * of words + the author of reply_to (PUBLIC); to_user (DM); every active
 * user (BROADCAST).  Each once, never the author (except BROADCAST), never
 * a user who blocks the author, nor one who is off, inactive or banned.
 * Rows of followers who are none of the others are ordinary (may be
 * summarised away while held); all others are always handed over.
 * 0: stored, *id set, *n_recipients set (may be NULL).
 * 1: a resend (store_post_dup()); *id is that post, no change.
 */
int store_post_add(struct store *st, const struct post_new *p, int64_t *id,
                   size_t *n_recipients);
/* Is p a resend of a stored post: the same author, stanza id, kind,
 * addressee and text, created at most POST_DEDUP_SECONDS before
 * p->created?  1 and *id, 0 (also without a stanza id), -1. */
int store_post_dup(struct store *st, const struct post_new *p, int64_t *id);
/* The newest post of author made by the message with this origin-id or
 * stanza id.  1 and *id, 0 if none. */
int store_post_by_msgid(struct store *st, int64_t author, const char *msgid,
                        int64_t *id);
/* Replace a post's text, mentions and tags with those of p (its author
 * and body, mentions and tags; XEP-0308); the search index follows.
 * Outbox rows are not touched (see store_outbox_corrections).  0 done,
 * 1 no such post. */
int store_post_edit(struct store *st, int64_t id, const struct post_new *p);
/* Mute (or unmute) for user the thread post belongs to (a post that is
 * no reply starts its own): 0 changed, 1 already so, 2 no such post. */
int store_mute(struct store *st, int64_t user, int64_t post, bool mute);
/* user's repeat of post: 1 and *id, 0 if none. */
int store_repeat_of(struct store *st, int64_t post, int64_t author,
                    int64_t *id);
/* Every repeat of post; *ids freed by the caller. */
int store_repeats(struct store *st, int64_t post, int64_t **ids, size_t *n);
/* Record a reaction (XEP-0444): 0 new, 1 recorded before. */
int store_reaction_add(struct store *st, int64_t post, int64_t user,
                       const char *emoji);
/* How many distinct reactions user gave post. */
int store_reactions_count(struct store *st, int64_t post, int64_t user,
                          int64_t *n);
/* 1 and cb called once if post id exists, 0 if not. */
int store_post_get(struct store *st, int64_t id, store_post_cb cb, void *ud);
/* Delete a post, its mentions, reactions, search entry and outbox rows,
 * and add a row retracting the copy of each of the n users in retract
 * (those who have it), in one transaction.  0 deleted, 1 no such post. */
int store_post_delete(struct store *st, int64_t id, const int64_t *retract,
                      size_t n_retract, time_t now);
/* Up to max ids of author's posts of any kind, in no order, into ids.
 * Returns how many, or -1. */
int store_posts_of(struct store *st, int64_t author, int64_t *ids, int max);
/* Others' replies to author's posts no longer say what they answer. */
int store_replies_detach(struct store *st, int64_t author);
/* Erase a user for good (issue 15, "delete me"): their posts still there
 * (without retractions: delete them with store_post_delete first for that), DMs
 * to them, follows both ways, blocks both ways, tracks, mentions, favourites,
 * reactions, mutes, notices given, settings, outbox rows and the user
 * row, in one transaction.  0 erased, 1 no such user. */
int store_user_erase(struct store *st, int64_t user);
/* Number of posts (public and DM) by author created at or after since. */
int store_posts_since(struct store *st, int64_t author, time_t since,
                      int64_t *count);

/* Listings, newest first, public posts only, at most limit, of posts
 * numbered below before (keyset paging: a page passes the last number it
 * showed; STORE_NEWEST for the first page). */
#define STORE_NEWEST INT64_MAX
int store_timeline(struct store *st, int64_t user, int64_t before, int limit,
                   store_post_cb cb, void *ud); /* own + followed */
int store_user_posts(struct store *st, int64_t author, int64_t before,
                     int limit, store_post_cb cb, void *ud);
int store_mentions(struct store *st, int64_t user, int64_t before, int limit,
                   store_post_cb cb, void *ud);
/* Full-text search (FTS5); words are matched as plain terms, never as
 * FTS query syntax. */
int store_search(struct store *st, const char *words, int64_t before, int limit,
                 store_post_cb cb, void *ud);
/* Replies to post id numbered above after, oldest first (0: from the
 * first). */
int store_replies(struct store *st, int64_t id, int64_t after, int limit,
                  store_post_cb cb, void *ud);
/* Every reply in the thread that post root starts, however deep,
 * numbered above after, oldest first. */
int store_thread_posts(struct store *st, int64_t root, int64_t after, int limit,
                       store_post_cb cb, void *ud);

/* Outbox ---------------------------------------------------------------- */

/* What an outbox row sends: the update, a correction of the copy the
 * recipient has (XEP-0308), or its retraction (XEP-0424). */
enum outbox_what { OUTBOX_UPDATE = 0, OUTBOX_CORRECTION, OUTBOX_RETRACTION };

/* How long a delivered copy is remembered, so that a correction or a
 * retraction can reach it. */
#define OUTBOX_COPY_SECONDS (7 * 86400)

/* One undelivered row, with what is needed to send it. */
struct outbox_row {
    int64_t id;      /* outbox row id */
    int64_t user;    /* recipient */
    const char *jid; /* recipient's bare JID */
    bool away;       /* recipient wants updates when away */
    bool ordinary;   /* may be summarised away while held */
    enum outbox_what what;
    struct post post; /* a retraction's post is gone: only post.id */
};
typedef int (*store_outbox_cb)(void *ud, const struct outbox_row *r);
/* One row of a post, delivered (a copy the user has) or not. */
typedef void (*store_copy_cb)(void *ud, int64_t row, int64_t user,
                              bool delivered, enum outbox_what what);

/* Undelivered rows of one post of one kind, in recipient order: the
 * updates for the fan-out right after commit, corrections after an edit,
 * retractions after a delete. */
int store_outbox_for_post(struct store *st, int64_t post, enum outbox_what what,
                          store_outbox_cb cb, void *ud);
/* Undelivered rows of one recipient, oldest first. */
int store_outbox_for_user(struct store *st, int64_t user, store_outbox_cb cb,
                          void *ud);
/* Every row of a post, delivered or not. */
int store_outbox_of_post(struct store *st, int64_t post, store_copy_cb cb,
                         void *ud);
/* cb for each user who has one of the rows ids (a lost link's). */
int store_outbox_users(struct store *st, const int64_t *ids, size_t n,
                       void (*cb)(void *ud, int64_t user), void *ud);
/* What is owed to user: every undelivered row and every open entry of a
 * fan-out record (a test hook, walking the open records), or only the
 * ordinary held rows. */
int store_outbox_count_user(struct store *st, int64_t user, int64_t *count);
int store_outbox_count_ordinary(struct store *st, int64_t user, int64_t *count);
/* Delete all but the newest keep ordinary rows held for user and count
 * them as dropped for the summary; *dropped may be NULL. */
int store_outbox_trim_user(struct store *st, int64_t user, int64_t keep,
                           int64_t *dropped);
/* The number of ordinary updates dropped for user since the last call. */
int store_user_take_dropped(struct store *st, int64_t user, int64_t *n);
/* Delete every undelivered row of user (off, unsubscribed, banned); the
 * record of copies is left to age. */
int store_outbox_clear_user(struct store *st, int64_t user);
/* Mark rows delivered (copies the recipients have), in one statement. */
int store_outbox_done(struct store *st, const int64_t *ids, size_t n);
/* A correction row for each of users (who have a copy of post). */
int store_outbox_corrections(struct store *st, int64_t post,
                             const int64_t *users, size_t n, time_t now);
/* Forget delivered copies older than before: at most max rows examined
 * from *cursor on (an outbox id, 0 at first), *cursor advanced.  Returns
 * the number forgotten, or -1. */
int store_outbox_prune(struct store *st, time_t before, int max,
                       int64_t *cursor);

/* Fan-out records (issue 14) --------------------------------------------- */

/* A recipient of a fresh post, as the post's unit of work meets it. */
struct route {
    int64_t post;
    int64_t user;
    const char *jid; /* bare JID */
    bool away;       /* wants updates when away */
    bool ordinary;   /* a follower's update (may be summarised away) */
};

/* Who is served at once.  begin(ud, post) starts each post's recipients
 * (a post whose unit failed may be begun again under the same number);
 * route() is asked once for each recipient, in order: true puts them in
 * the post's fan-out record (the caller serves them from memory and
 * records how that went, store_fanout_set()), false gives them a held
 * outbox row.  No router: every recipient gets a row. */
struct store_router {
    void (*begin)(void *ud, int64_t post);
    bool (*route)(void *ud, const struct route *r);
    void *ud;
};
void store_set_router(struct store *st, const struct store_router *r);

/* A recipient's state in a fan-out record, one byte each. */
enum fan_state {
    FAN_OPEN = 0,      /* not yet delivered, an ordinary update */
    FAN_OPEN_KEPT = 1, /* not yet delivered, always handed over */
    FAN_DELIVERED = 2, /* the server took it: a copy the user has */
    FAN_CLOSED = 3     /* handed to a held row, or not due any more */
};

/* Post's fan-out record: *users and *states (caller frees both), *n of
 * each.  Returns 1, 0 without a record (*n 0, nothing to free), -1. */
int store_fanout_get(struct store *st, int64_t post, int64_t **users,
                     uint8_t **states, size_t *n);
/* Write the n states of post's record (in the order of its users); it
 * is closed once none is open.  A record gone with its post is no
 * error. */
int store_fanout_set(struct store *st, int64_t post, const uint8_t *states,
                     size_t n);
/* Held outbox rows for recipients of fan-out records who were not served
 * from memory, as if written with the post: one per (post, user) that
 * may still receive it (active, deliveries on, not banned, not blocking
 * the author), none twice; in one transaction. */
struct fan_hold {
    int64_t post;
    int64_t user;
    bool ordinary;
};
int store_fanout_hold(struct store *st, const struct fan_hold *v, size_t n);
/* Every open record's open recipients get held rows and the records are
 * closed: at start, before anything is served from memory, and later for
 * what memory could not hand over (posts skip() says are still served
 * from memory are left alone; skip may be NULL).  held(ud, user) is told
 * of each user who got a row, after the commit (held may be NULL).
 * Returns the number of rows written, or -1. */
int64_t store_fanout_recover(struct store *st,
                             bool (*skip)(void *ud, int64_t post),
                             void (*held)(void *ud, int64_t user), void *ud);
/* Forget the records of posts made before before: at most max at once.
 * Returns the number forgotten, or -1. */
int store_fanout_prune(struct store *st, time_t before, int max);

/* Tags, favourites, notices, settings (issue 15) ------------------------ */

/* Public posts tagged #tag (lower case, no '#'), newest first, numbered
 * below before, at most limit.  Tags are indexed by store_post_add(). */
int store_tag_posts(struct store *st, const char *tag, int64_t before,
                    int limit, store_post_cb cb, void *ud);

/* A private message to or from user, and the other side's nick. */
typedef int (*store_dm_cb)(void *ud, const struct post *p,
                           const char *peer_nick);
/* user's private messages, sent and received, newest first, numbered
 * below before, at most limit. */
int store_dms(struct store *st, int64_t user, int64_t before, int limit,
              store_dm_cb cb, void *ud);

/* 0 faved, 1 already a favourite. */
int store_fav_add(struct store *st, int64_t user, int64_t post, time_t now);
/* 0 removed, 1 was not a favourite. */
int store_fav_del(struct store *st, int64_t user, int64_t post);
/* user's favourites, highest post number first, below before. */
int store_favs(struct store *st, int64_t user, int64_t before, int limit,
               store_post_cb cb, void *ud);

enum told_kind {
    TOLD_FAV = 1,    /* actor faved post object */
    TOLD_FOLLOW = 2, /* actor followed user object */
};
/* Record that a notice (kind, actor, object) is given: 1 if it is the
 * first time (tell it), 0 if it was told before (stay quiet).  A post's
 * rows go with the post. */
int store_told_once(struct store *st, enum told_kind kind, int64_t actor,
                    int64_t object);

#define PREFS_TZ_MAX         63
#define PREFS_DIGEST_DEFAULT (8 * 60)
/* Per-user settings; a user who never changed one has the defaults. */
struct prefs {
    char tz[PREFS_TZ_MAX + 1]; /* IANA zone name, "" for UTC */
    int quiet_start;           /* minute of the day, -1: no quiet hours */
    int quiet_end;             /* minute of the day quiet hours end */
    int digest_at;             /* minute of the day (default 08:00) */
    bool notices;              /* "alice now follows you" (default on) */
    time_t exported;           /* last "export", 0: never */
    time_t digest_sent;        /* last digest (or first digest follow) */
};
/* 0 and *out (the defaults if user has no row), or -1. */
int store_prefs_get(struct store *st, int64_t user, struct prefs *out);
int store_prefs_put(struct store *st, int64_t user, const struct prefs *p);
/* cb for every user with quiet hours set. */
int store_quiet_users(struct store *st, int (*cb)(void *ud, int64_t user),
                      void *ud);

/* The JIDs of user's active followers. */
int store_follower_jids(struct store *st, int64_t user, store_word_cb cb,
                        void *ud);
/* Nicks user blocks, in the order of the blocks index. */
int store_blocking(struct store *st, int64_t user, store_word_cb cb, void *ud);

/* Follow followee in digest (true) or live (false) mode, in one unit:
 * *added is set when the follow is new, *changed when the mode changed
 * (a new live follow changes nothing).  A user's first digest follow
 * sets prefs.digest_sent to now: their first digest is the next one
 * due.  0, or -1. */
int store_follow_mode(struct store *st, int64_t follower, int64_t followee,
                      bool digest, time_t now, bool *added, bool *changed);

/* Digests: a follow in digest mode gathers the followee's public posts
 * numbered above its 'after' for the follower's daily digest; a public
 * post reaches such a follower live only as a mention, a reply in their
 * thread or a tracked word. */
struct digest_follow {
    int64_t followee;
    char nick[NICK_MAX + 1];
    int64_t after; /* posts numbered above this are not in a digest yet */
};
typedef int (*store_digest_cb)(void *ud, const struct digest_follow *f);
/* cb once for every user with a follow in digest mode. */
int store_digest_users(struct store *st, int (*cb)(void *ud, int64_t user),
                       void *ud);
/* cb for each of user's follows in digest mode. */
int store_digest_of(struct store *st, int64_t user, store_digest_cb cb,
                    void *ud);
/* author's public posts numbered above after, oldest first, at most
 * limit; and how many there are. */
int store_digest_posts(struct store *st, int64_t author, int64_t after,
                       int limit, store_post_cb cb, void *ud);
int store_digest_count(struct store *st, int64_t author, int64_t after,
                       int64_t *n);
/* user's digest covering posts up to number upto went out at now. */
int store_digest_done(struct store *st, int64_t user, int64_t upto, time_t now);
/* The highest post number so far (0: none). */
int store_max_post(struct store *st, int64_t *id);

/* Audit ----------------------------------------------------------------- */

int store_audit(struct store *st, const char *admin_jid, const char *action,
                const char *detail, time_t now);

#endif
