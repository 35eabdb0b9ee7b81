/*
 * export.c - one user's data as the JSON document of export.h.
 *
 * Lists are read from the store a page at a time by key, the same way
 * listings page, so that a large account costs memory for its document
 * only; writing stops as soon as the document outgrows the caller's
 * limit.  Stored text is valid UTF-8 (every post, bio and nick was
 * checked on the way in); JSON escaping covers quotes, backslashes and
 * control characters.
 */
#include <stdio.h>
#include <string.h>

#include "export.h"

#define BATCH 500 /* rows read from the store at a time */

struct doc {
    struct buf *b;
    size_t max;
    const struct user *u;
    int rows;     /* rows of the current batch */
    int64_t key;  /* where the batch stopped */
    time_t since; /* follows: the follow time of the last row */
    bool first;   /* no element of the current list yet */
};

static bool full(const struct doc *d)
{
    return d->b->len > d->max;
}

static void str(struct buf *b, const char *s)
{
    buf_append(b, "\"");
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c == '\n')
            buf_append(b, "\\n");
        else if (c == '\t')
            buf_append(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            buf_printf(b, "\\u%04x", c);
        else
            buf_appendn(b, s, 1);
    }
    buf_append(b, "\"");
}

static void when(struct buf *b, time_t t)
{
    char s[32];
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(s, sizeof(s), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
    buf_append(b, s);
}

static void clock_str(struct buf *b, int minute)
{
    buf_printf(b, "\"%02d:%02d\"", minute / 60, minute % 60);
}

static void key(struct buf *b, const char *k)
{
    str(b, k);
    buf_append(b, ":");
}

/* Start an element of the current list. */
static void item(struct doc *d)
{
    buf_append(d->b, d->first ? "\n  " : ",\n  ");
    d->first = false;
}

static void list_start(struct doc *d, const char *name)
{
    buf_append(d->b, ",\n");
    key(d->b, name);
    buf_append(d->b, "[");
    d->first = true;
    d->key = STORE_NEWEST;
    d->since = (time_t)STORE_NEWEST;
}

static void list_end(struct doc *d)
{
    buf_append(d->b, d->first ? "]" : "\n]");
}

/* ,"name":"text" and ,"name":"2026-03-04T05:06:07Z" */
static void text_member(struct buf *b, const char *name, const char *text)
{
    buf_printf(b, ",\"%s\":", name);
    str(b, text);
}

static void time_member(struct buf *b, const char *name, time_t t)
{
    buf_printf(b, ",\"%s\":", name);
    when(b, t);
}

/* A row is written: the batch goes on from its key unless full. */
static int row_done(struct doc *d, int64_t k, time_t since)
{
    buf_append(d->b, "}");
    d->rows++;
    d->key = k;
    d->since = since;
    return full(d);
}

static int post_row(void *ud, const struct post *p)
{
    struct doc *d = ud;

    item(d);
    buf_printf(d->b, "{\"id\":%lld", (long long)p->id);
    time_member(d->b, "created", p->created);
    text_member(d->b, "text", p->body);
    if (p->reply_to > 0)
        buf_printf(d->b, ",\"reply_to\":%lld", (long long)p->reply_to);
    else
        buf_append(d->b, ",\"reply_to\":null");
    return row_done(d, p->id, 0);
}

static int fav_row(void *ud, const struct post *p)
{
    struct doc *d = ud;

    item(d);
    buf_printf(d->b, "{\"post\":%lld", (long long)p->id);
    text_member(d->b, "author", p->author_nick);
    time_member(d->b, "created", p->created);
    text_member(d->b, "text", p->body);
    return row_done(d, p->id, 0);
}

static int dm_row(void *ud, const struct post *p, const char *peer)
{
    struct doc *d = ud;

    item(d);
    buf_printf(d->b, "{\"id\":%lld", (long long)p->id);
    time_member(d->b, "created", p->created);
    text_member(d->b, "direction", p->author == d->u->id ? "sent" : "received");
    text_member(d->b, "peer", peer);
    text_member(d->b, "text", p->body);
    return row_done(d, p->id, 0);
}

static int follow_row(void *ud, const struct follow_row *f, bool digest)
{
    struct doc *d = ud;

    item(d);
    buf_append(d->b, "{\"nick\":");
    str(d->b, f->nick);
    time_member(d->b, "since", f->since);
    if (digest)
        buf_printf(d->b, ",\"digest\":%s", f->digest ? "true" : "false");
    return row_done(d, f->user, f->since);
}

static int following_row(void *ud, const struct follow_row *f)
{
    return follow_row(ud, f, true);
}

static int follower_row(void *ud, const struct follow_row *f)
{
    return follow_row(ud, f, false);
}

static int word_row(void *ud, const char *w)
{
    struct doc *d = ud;

    item(d);
    str(d->b, w);
    return full(d);
}

enum list {
    L_POSTS,
    L_DMS,
    L_FOLLOWING,
    L_FOLLOWERS,
    L_FAVS,
};

/* One batch of a list from where the last stopped. */
static int batch(struct store *st, struct doc *d, enum list l)
{
    int64_t id = d->u->id;

    switch (l) {
    case L_POSTS:
        return store_user_posts(st, id, d->key, BATCH, post_row, d);
    case L_DMS:
        return store_dms(st, id, d->key, BATCH, dm_row, d);
    case L_FOLLOWING:
        return store_following(st, id, d->since, d->key, BATCH, following_row,
                               d);
    case L_FOLLOWERS:
        return store_followers(st, id, d->since, d->key, BATCH, follower_row,
                               d);
    case L_FAVS:
        return store_favs(st, id, d->key, BATCH, fav_row, d);
    }
    return -1;
}

static int whole_list(struct store *st, struct doc *d, const char *name,
                      enum list l)
{
    list_start(d, name);
    do {
        d->rows = 0;
        if (batch(st, d, l) < 0)
            return -1;
    } while (d->rows == BATCH && !full(d));
    list_end(d);
    return 0;
}

static void head(struct doc *d, const struct prefs *p, time_t now)
{
    const struct user *u = d->u;
    struct buf *b = d->b;

    buf_append(b, "{\"format\":\"starling-export\",\"version\":1,"
                  "\"exported\":");
    when(b, now);
    buf_append(b, ",\n\"user\":{\"nick\":");
    str(b, u->nick);
    buf_append(b, ",\"jid\":");
    str(b, u->jid);
    buf_append(b, ",\"bio\":");
    str(b, u->bio);
    buf_append(b, ",\"joined\":");
    when(b, u->created);
    buf_printf(b,
               ",\"active\":%s,\"deliver\":%s,\"away\":%s,\"banned\":%s,"
               "\"ban_reason\":",
               u->active ? "true" : "false", u->deliver ? "true" : "false",
               u->away ? "true" : "false", u->banned ? "true" : "false");
    str(b, u->ban_reason);
    buf_append(b, "},\n\"settings\":{\"time_zone\":");
    if (p->tz[0] != '\0')
        str(b, p->tz);
    else
        buf_append(b, "null");
    buf_append(b, ",\"quiet_hours\":");
    if (p->quiet_start >= 0) {
        buf_append(b, "{\"from\":");
        clock_str(b, p->quiet_start);
        buf_append(b, ",\"to\":");
        clock_str(b, p->quiet_end);
        buf_append(b, "}");
    } else {
        buf_append(b, "null");
    }
    buf_append(b, ",\"digest_at\":");
    clock_str(b, p->digest_at);
    buf_printf(b, ",\"follow_notices\":%s}", p->notices ? "true" : "false");
}

int export_json(struct store *st, const struct user *u, time_t now, size_t max,
                struct buf *out)
{
    static const struct {
        const char *name;
        enum list l;
    } lists[] = {
        {"posts", L_POSTS},         {"private_messages", L_DMS},
        {"following", L_FOLLOWING}, {"followers", L_FOLLOWERS},
        {"favourites", L_FAVS},
    };
    struct doc d = {out, max, u, 0, 0, 0, true};
    struct prefs p;

    if (store_prefs_get(st, u->id, &p) < 0)
        return -1;
    head(&d, &p, now);
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]) && !full(&d); i++)
        if (whole_list(st, &d, lists[i].name, lists[i].l) < 0)
            return -1;
    list_start(&d, "tracking");
    if (store_tracking(st, u->id, word_row, &d) < 0)
        return -1;
    list_end(&d);
    list_start(&d, "blocking");
    if (store_blocking(st, u->id, word_row, &d) < 0)
        return -1;
    list_end(&d);
    buf_append(out, "\n}\n");
    return full(&d) ? 1 : 0;
}

static bool continuation(const char *s, size_t i)
{
    return ((unsigned char)s[i] & 0xc0) == 0x80;
}

size_t export_piece(const char *s, size_t len, size_t max)
{
    size_t n = len < max ? len : max;

    /* Back off continuation bytes so that no character is split... */
    while (n < len && n > 0 && continuation(s, n))
        n--;
    /* ...unless the first character alone is longer than max. */
    if (n == 0 && len > 0)
        for (n = 1; n < len && continuation(s, n); n++)
            ;
    return n;
}
