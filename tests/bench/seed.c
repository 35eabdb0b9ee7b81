/*
 * seed.c - fill a Starling database for size-independence measurements:
 *   seed DB USERS POSTS FOLLOWS
 * creates DB through store_open() (so the schema is the real one) and adds
 * users u1..uN@localhost (nicks u1..uN), POSTS short posts spread over the
 * users (each with its #tag indexed; one in 20 also faved by someone, and
 * one private message per 20 posts), and FOLLOWS distinct random follow
 * pairs, in large transactions.  THREAD_REPLIES of the posts answer post
 * #THREAD_ROOT, spread evenly over the store's life, so that "show #3"
 * lists the same thread at any size while its replies lie as far apart
 * as the store makes them.  Triggers keep the counters and the search
 * index as in production.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "store.h"

#define THREAD_ROOT    3 /* the second public post (#2 is a DM) */
#define THREAD_REPLIES 15

static const char *const words[] = {
    "garden", "xmpp",  "coffee", "rain",   "music", "bike",  "book",
    "tea",    "river", "cat",    "market", "code",  "train", "bread",
};

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void must(int rc, sqlite3 *db, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "seed: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    long users, posts, follows;
    struct store *st;
    sqlite3 *db;
    sqlite3_stmt *s, *tag, *fav, *dm;
    long step;
    double t0 = now();
    char text[160], jid[64], nick[40];

    if (argc != 5) {
        fprintf(stderr, "usage: seed DB USERS POSTS FOLLOWS\n");
        return 2;
    }
    users = atol(argv[2]);
    posts = atol(argv[3]);
    follows = atol(argv[4]);
    if ((st = store_open(argv[1])) == NULL)
        return 1;
    store_close(st);
    must(sqlite3_open(argv[1], &db), db, "open");
    sqlite3_exec(db, "PRAGMA synchronous = OFF; BEGIN", NULL, NULL, NULL);

    must(sqlite3_prepare_v2(db,
                            "INSERT INTO users (jid, nick, created) "
                            "VALUES (?1, ?2, ?3)",
                            -1, &s, NULL),
         db, "prepare users");
    for (long i = 1; i <= users; i++) {
        snprintf(jid, sizeof(jid), "u%ld@localhost", i);
        snprintf(nick, sizeof(nick), "u%ld", i);
        sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, nick, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, 1700000000 + i);
        must(sqlite3_step(s), db, "insert user");
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);

    srandom(42);
    must(sqlite3_prepare_v2(db,
                            "INSERT INTO posts (author, body, created, "
                            "reply_to, thread) VALUES (?1, ?2, ?3, ?4, ?4)",
                            -1, &s, NULL),
         db, "prepare posts");
    must(sqlite3_prepare_v2(db,
                            "INSERT OR IGNORE INTO tags (tag, post) "
                            "VALUES (?1, last_insert_rowid())",
                            -1, &tag, NULL),
         db, "prepare tags");
    must(sqlite3_prepare_v2(db,
                            "INSERT OR IGNORE INTO favs (user, post, created) "
                            "VALUES (?1, last_insert_rowid(), ?2)",
                            -1, &fav, NULL),
         db, "prepare favs");
    must(sqlite3_prepare_v2(db,
                            "INSERT INTO posts (author, body, created, kind, "
                            "to_user) VALUES (?1, 'a private word', ?2, 1, ?3)",
                            -1, &dm, NULL),
         db, "prepare dms");
    /* Post i is a reply when i is a multiple of step, up to the count. */
    step = posts / (THREAD_REPLIES + 1);
    for (long i = 0; i < posts; i++) {
        const char *t = words[random() % 14];
        int reply = step > 1 && i % step == 0 && i / step >= 1 &&
                    i / step <= THREAD_REPLIES;

        snprintf(text, sizeof(text), "post %ld about %s and %s #%s", i,
                 words[random() % 14], words[random() % 14], t);
        sqlite3_bind_int64(s, 1, 1 + random() % users);
        sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, 1700000000 + i);
        if (reply)
            sqlite3_bind_int64(s, 4, THREAD_ROOT);
        else
            sqlite3_bind_null(s, 4);
        must(sqlite3_step(s), db, "insert post");
        sqlite3_reset(s);
        sqlite3_bind_text(tag, 1, t, -1, SQLITE_STATIC);
        must(sqlite3_step(tag), db, "insert tag");
        sqlite3_reset(tag);
        if (i % 20 != 0)
            continue;
        sqlite3_bind_int64(fav, 1, 1 + random() % users);
        sqlite3_bind_int64(fav, 2, 1700000000 + i);
        must(sqlite3_step(fav), db, "insert fav");
        sqlite3_reset(fav);
        sqlite3_bind_int64(dm, 1, 1 + random() % users);
        sqlite3_bind_int64(dm, 2, 1700000000 + i);
        sqlite3_bind_int64(dm, 3, 1 + random() % users);
        must(sqlite3_step(dm), db, "insert dm");
        sqlite3_reset(dm);
    }
    sqlite3_finalize(s);
    sqlite3_finalize(tag);
    sqlite3_finalize(fav);
    sqlite3_finalize(dm);

    must(sqlite3_prepare_v2(db,
                            "INSERT OR IGNORE INTO follows "
                            "(follower, followee, created) "
                            "VALUES (?1, ?2, 1)",
                            -1, &s, NULL),
         db, "prepare follows");
    for (long n = 0; n < follows;) {
        long a = 1 + random() % users, b = 1 + random() % users;

        if (a == b)
            continue;
        sqlite3_bind_int64(s, 1, a);
        sqlite3_bind_int64(s, 2, b);
        must(sqlite3_step(s), db, "insert follow");
        n += sqlite3_changes(db);
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    must(sqlite3_exec(db, "COMMIT; PRAGMA optimize", NULL, NULL, NULL), db,
         "commit");
    sqlite3_close(db);
    printf("seeded %ld users, %ld posts, %ld follows in %.1f s\n", users, posts,
           follows, now() - t0);
    return 0;
}
