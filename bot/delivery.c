/*
 * delivery.c - the delivery engine: who gets what, and when (SPEC 6).
 *
 * It reads the outbox through the store and presence through the
 * presence table, and sends through struct delivery_ops: no sockets here.
 *
 * A fresh post reaches its recipients two ways.  Those who may receive it
 * now (presence, quiet hours) are routed to memory while the post is
 * stored (store_set_router()): the post's fan-out record lists them, one
 * record for the post instead of a row each, and they are queued here at
 * once.  The others get outbox rows, held until their presence allows.
 * An entry of a record that cannot be served after all (its recipient
 * went away, the stream dropped, the link that carried it was lost)
 * becomes a held row like the others; one the bot never confirmed before
 * it stopped becomes one at the next start (store_fanout_recover()).
 *
 * Either way an update is sent when the session has room, then is part
 * of a window closed by a barrier (a ping to the server).  Only when the
 * barrier's answer comes back is the window confirmed: rows are marked
 * delivered, and records' states written, together, in one statement
 * each, once nothing is in flight or FLUSH_MAX of them wait (a write per
 * window cost more than the sends).  Until then they stay pending, so
 * nothing can queue them twice; a crash before the write sends them
 * again, with the same ids.  A dropped stream forgets everything
 * unconfirmed in memory: the rows are in the store and go out again once
 * the recipient's presence is seen anew.
 *
 * A delivered row, or a record's delivered entry, stays for
 * OUTBOX_COPY_SECONDS as the record of a copy the recipient has: a
 * correction of the post (XEP-0308) or its deletion (a XEP-0424
 * retraction) becomes a row of its own for each such recipient,
 * delivered by the same rules.  What is held for one user is bounded as
 * rows arrive: beyond backlog_max ordinary updates (from people they
 * follow, which "last" shows again) the oldest are dropped and counted
 * for the summary; everything else is always handed over.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "zone.h"
#include "../common/idmap.h"
#include "../common/log.h"
#include "../common/text.h"
#include "../common/util.h"

/* MAX_FLIGHT: sent and not confirmed, at most (what a dropped stream may
 * send a second time). */
#define WINDOW      128 /* sends between two barriers */
#define MAX_WINDOWS 4   /* barriers outstanding at once */
#define MAX_FLIGHT  256
#define FLUSH_MAX   1024 /* confirmed rows written at once, at most */

/* What every recipient of a post (or of a note) sees, shared. */
struct body {
    unsigned refs;
    /* Whose update: "" for the service's own (an announcement, a note),
     * else the author's (SPEC 10: per-user addresses). */
    char author[NICK_MAX + 1];
    char text[];
};

/* A fresh post's recipients served from memory: its fan-out record
 * (store_set_router()).  Each entry is queued, in flight, delivered, or
 * closed (handed to a held row, or not due any more); open entries are
 * those the store's record still owes (a held row could not be written:
 * delivery_tick() writes it once it can, or else the next start).  The record's
 * states are written when confirmations are (fans_sync()); a fan stays in
 * memory while any entry is queued or in flight. */
enum entry_at { AT_QUEUED, AT_FLIGHT, AT_DONE, AT_CLOSED, AT_OPEN };

struct fan_entry {
    int64_t user;
    bool ordinary;
    uint8_t at; /* enum entry_at */
};

/* Memory for the items of a fan's entries, carved in order and freed
 * with the fan (a malloc and a free for each delivery cost 400 of its
 * 16 k instructions). */
struct chunk {
    struct chunk *next;
    size_t used, size;
    alignas(max_align_t) char mem[];
};
#define CHUNK_MIN  16384
#define CHUNK_KEEP (1 << 20)

struct fan {
    struct fan *next;
    int64_t post;
    struct fan_entry *e;
    size_t n, cap;
    size_t live;          /* entries queued or in flight */
    bool dirty;           /* states changed since written */
    bool gone;            /* the post is gone, and its record */
    struct body *body;    /* its items' (NULL until the post is committed) */
    struct chunk *chunks; /* its items' memory, newest first */
};

struct item {
    struct item *next;
    int64_t outbox_id; /* 0: not outbox-backed (a summary, or a fan's) */
    struct fan *fan;   /* served from memory: entry idx of fan */
    size_t idx;
    int64_t post;
    int64_t user;
    time_t stamp; /* 0: fresh, no <delay/> */
    bool away;
    /* presence_changes() when presence last allowed it; 0 never looked */
    unsigned long allowed_at;
    enum outbox_what what;
    int edits;         /* the post's, for a correction's id */
    struct body *body; /* NULL for a fan's: the fan's */
    char jid[];
};

/* Quiet hours (issue 15). */
struct quiet {
    int64_t user;
    int start, end; /* minutes of the day */
    char tz[PREFS_TZ_MAX + 1];
    bool on;      /* inside them as of the last look */
    time_t until; /* the last look holds till then */
};

/* A daily digest (issue 15): when it is due, and the one on its way.  A
 * digest travels as an item with outbox id -user, confirmed by the same
 * barriers as outbox rows. */
struct digest {
    int64_t user;
    time_t due;
    int64_t upto; /* the one on its way covers posts up to this number */
    bool sending;
};

/* What a sent item is confirmed as: an outbox row (id > 0), a digest
 * (id -user), or an entry of a fan. */
struct sent {
    int64_t id;
    struct fan *fan;
    size_t idx;
};

struct window {
    uint64_t token;
    struct sent *v;
    size_t n;
};

/* Per-user records kept in memory (quiet hours, digests): an array of
 * records of one size, each starting with its user's id, and an index
 * into it by user. */
struct usertab {
    struct idmap of;
    char *v;
    size_t size, n, cap;
};

static void *tab_at(const struct usertab *t, size_t i)
{
    return t->v + i * t->size;
}

static void *tab_get(const struct usertab *t, int64_t user)
{
    int *i = idmap_get(&t->of, user);

    return i != NULL ? tab_at(t, (size_t)*i) : NULL;
}

/* user's record, a zeroed new one if there was none. */
static void *tab_add(struct usertab *t, int64_t user)
{
    void *r = tab_get(t, user);

    if (r != NULL)
        return r;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->v = xrealloc(t->v, t->cap * t->size);
    }
    idmap_put(&t->of, user, (int)t->n);
    r = tab_at(t, t->n++);
    memset(r, 0, t->size);
    memcpy(r, &user, sizeof(user));
    return r;
}

static void tab_del(struct usertab *t, int64_t user)
{
    int *i = idmap_get(&t->of, user);
    int64_t moved;

    if (i == NULL)
        return;
    /* The last record takes its place. */
    if ((size_t)*i < --t->n) {
        memcpy(tab_at(t, (size_t)*i), tab_at(t, t->n), t->size);
        memcpy(&moved, tab_at(t, (size_t)*i), sizeof(moved));
        idmap_put(&t->of, moved, *i);
    }
    idmap_del(&t->of, user);
}

static void tab_free(struct usertab *t)
{
    idmap_clear(&t->of);
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

struct delivery {
    struct store *store;
    struct presence *presence;
    const struct delivery_ops *ops;
    void *ud;
    int backlog_max;
    struct item *head, *tail;
    size_t queued;
    struct idmap pending; /* outbox ids queued or in flight */
    struct idmap held;    /* user -> ordinary updates held, when known */
    int64_t prune_cursor;
    struct usertab quiet;   /* struct quiet of users with quiet hours */
    struct usertab digests; /* struct digest of users with digest follows */
    time_t (*now)(void);
    struct window windows[MAX_WINDOWS];
    size_t nwindows;
    struct window cur; /* sent, barrier not yet sent */
    /* A window's array (room for MAX_FLIGHT) kept for the next: a
     * malloc of that size cost a hundred instructions a delivery */
    struct sent *spare;
    struct window done; /* confirmed, not yet written to the store */
    size_t done_cap;
    int64_t *done_ids; /* the outbox rows among them */
    uint64_t summaries;
    struct fan *fans;    /* fans in memory */
    size_t fan_inflight; /* their entries sent, not yet written */
    /* The largest chunk of a fan gone (at most CHUNK_KEEP), for the
     * next: freeing one of several hundred kB let glibc give the memory
     * back to the kernel, and the next fan-out paid a page fault for
     * every 4 kB of it again (perf: 1 % of a fan-out to 5,000). */
    struct chunk *spare_chunk;
    uint8_t *states; /* fan_write()'s buffer, states_cap bytes */
    size_t states_cap;
    struct {             /* the recipients of the post being added */
        struct fan *fan; /* NULL until one is routed to memory */
        int64_t post;
        struct item *head, *tail;
        int64_t *held; /* who got an ordinary update held */
        size_t nheld, cap;
    } build;
    struct fan_hold *holds; /* entries to hand to held rows */
    struct sent *holdref;   /* the same entries */
    size_t nholds, holds_cap;
    bool owed; /* records owe what memory could not hand over */
};

static void unpend(struct delivery *d, int64_t id);

/* A window's array no longer needed: kept for the next, or freed. */
static void window_done(struct delivery *d, struct sent *v)
{
    if (d->spare == NULL)
        d->spare = v;
    else
        free(v);
}

/* Bodies and items --------------------------------------------------------- */

/* What a client without XEP-0424 shows for a retraction. */
#define RETRACT_FALLBACK                                                       \
    "This person attempted to retract a previous message, but it's "           \
    "unsupported by your client."

/* author NULL: the service's own. */
static struct body *body_new(const char *text, const char *author)
{
    size_t len = strlen(text);
    struct body *b = xmalloc(sizeof(*b) + len + 1);

    b->refs = 1;
    b->author[0] = '\0';
    if (author != NULL)
        utf8_copy(b->author, sizeof(b->author), author);
    memcpy(b->text, text, len + 1);
    return b;
}

/* The body every recipient of row r sees, formatted once and shared.  An
 * announcement is the service's; everything else its author's. */
static struct body *body_of(const struct outbox_row *r)
{
    const char *author =
        r->post.kind != POST_BROADCAST ? r->post.author_nick : NULL;
    struct body *b;
    char *text;

    if (r->what == OUTBOX_RETRACTION)
        return body_new(RETRACT_FALLBACK, author);
    text = delivery_format(&r->post);
    b = body_new(text, author);
    free(text);
    return b;
}

static void body_unref(struct body *b)
{
    if (b != NULL && --b->refs == 0)
        free(b);
}

static void item_free(struct item *it)
{
    body_unref(it->body);
    if (it->fan == NULL) /* else its memory is its fan's (fan_item()) */
        free(it);
}

/* What it sends of outbox row r. */
static void item_fill(struct item *it, const struct outbox_row *r,
                      struct body *body)
{
    it->outbox_id = r->id;
    it->post = r->post.id;
    it->what = r->what;
    it->edits = r->post.edits;
    it->body = body;
    body->refs++;
}

/* A new item for outbox row r (or a summary: r NULL) to jid. */
static struct item *item_new(const struct outbox_row *r, int64_t user,
                             const char *jid, bool away, struct body *body)
{
    size_t len = strlen(jid);
    struct item *it = xcalloc(1, sizeof(*it) + len + 1);

    if (r != NULL)
        item_fill(it, r, body);
    else if (body != NULL) {
        it->body = body;
        body->refs++;
    }
    it->user = user;
    it->away = away;
    memcpy(it->jid, jid, len + 1);
    return it;
}

static void enqueue(struct delivery *d, struct item *it)
{
    it->next = NULL;
    if (d->tail != NULL)
        d->tail->next = it;
    else
        d->head = it;
    d->tail = it;
    d->queued++;
    if (it->outbox_id != 0)
        idmap_put(&d->pending, it->outbox_id, 0);
}

/* Fans ------------------------------------------------------------------ */

/* What becomes of a fan's entry no longer queued or in flight: a held row
 * (the recipient may get it later), nothing (the post is gone), or left
 * to its record (the next start holds it); or it stays queued. */
enum let_go { LET_HOLD, LET_CLOSE, LET_OPEN, LET_KEEP };

static void held_grew(struct delivery *d, int64_t user);

static void fan_let_go(struct delivery *d, struct fan *f, size_t idx,
                       enum let_go how)
{
    struct fan_entry *e = &f->e[idx];

    if ((e->at != AT_QUEUED && e->at != AT_FLIGHT) || how == LET_KEEP)
        return;
    if (e->at == AT_FLIGHT)
        d->fan_inflight--;
    f->live--;
    f->dirty = true;
    e->at = how == LET_OPEN ? AT_OPEN : AT_CLOSED;
    if (how == LET_OPEN)
        d->owed = true;
    if (how != LET_HOLD || f->gone)
        return;
    if (d->nholds == d->holds_cap) {
        d->holds_cap = d->holds_cap ? d->holds_cap * 2 : 64;
        d->holds = xrealloc(d->holds, d->holds_cap * sizeof(*d->holds));
        d->holdref = xrealloc(d->holdref, d->holds_cap * sizeof(*d->holdref));
    }
    d->holds[d->nholds] = (struct fan_hold){f->post, e->user, e->ordinary};
    d->holdref[d->nholds++] = (struct sent){0, f, idx};
}

/* A new item for an entry of fan f to jid, in f's memory: valid while
 * f is, which is as long as the entry is queued. */
static struct item *fan_item(struct delivery *d, struct fan *f, int64_t user,
                             const char *jid, bool away)
{
    size_t len = strlen(jid), size = sizeof(struct item) + len + 1;
    struct chunk *c = f->chunks;
    struct item *it;

    size = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    if (c == NULL || c->size - c->used < size) {
        size_t want = c != NULL ? c->size * 2 : CHUNK_MIN;

        want = want < size ? size : want;
        if (d->spare_chunk != NULL && d->spare_chunk->size >= want) {
            c = d->spare_chunk;
            d->spare_chunk = NULL;
        } else {
            c = xmalloc(sizeof(*c) + want);
            c->size = want;
        }
        c->next = f->chunks;
        c->used = 0;
        f->chunks = c;
    }
    it = (struct item *)(c->mem + c->used);
    c->used += size;
    memset(it, 0, sizeof(*it));
    it->fan = f;
    it->post = f->post; /* a fresh update (OUTBOX_UPDATE) */
    it->user = user;
    it->away = away;
    memcpy(it->jid, jid, len + 1);
    return it;
}

static void fan_free(struct delivery *d, struct fan *f)
{
    body_unref(f->body);
    for (struct chunk *c = f->chunks, *next; c != NULL; c = next) {
        next = c->next;
        if (c->size <= CHUNK_KEEP &&
            (d->spare_chunk == NULL || d->spare_chunk->size < c->size)) {
            free(d->spare_chunk);
            d->spare_chunk = c;
        } else {
            free(c);
        }
    }
    free(f->e);
    free(f);
}

static uint8_t fan_state(const struct fan_entry *e)
{
    switch (e->at) {
    case AT_DONE:
        return FAN_DELIVERED;
    case AT_CLOSED:
        return FAN_CLOSED;
    default:
        return e->ordinary ? FAN_OPEN : FAN_OPEN_KEPT;
    }
}

static int fan_write(struct delivery *d, const struct fan *f)
{
    if (f->n + 1 > d->states_cap) {
        d->states_cap = f->n + 1;
        free(d->states);
        d->states = xmalloc(d->states_cap);
    }
    for (size_t i = 0; i < f->n; i++)
        d->states[i] = fan_state(&f->e[i]);
    return store_fanout_set(d->store, f->post, d->states, f->n);
}

/* Write what changed: held rows for the entries let go (a recipient
 * whose row could not be written stays owed by the record), then the
 * records' states; a fan with nothing queued or in flight is forgotten
 * once written. */
static void fans_sync(struct delivery *d)
{
    struct fan **pp = &d->fans;

    if (d->nholds > 0) {
        if (store_fanout_hold(d->store, d->holds, d->nholds) < 0) {
            log_warnx("delivery: %zu updates stay owed by their posts' "
                      "records until a write works again",
                      d->nholds);
            for (size_t i = 0; i < d->nholds; i++)
                d->holdref[i].fan->e[d->holdref[i].idx].at = AT_OPEN;
            d->owed = true;
        } else {
            for (size_t i = 0; i < d->nholds; i++)
                if (d->holds[i].ordinary)
                    held_grew(d, d->holds[i].user);
        }
        d->nholds = 0;
    }
    while (*pp != NULL) {
        struct fan *f = *pp;

        if (f->dirty && !f->gone && fan_write(d, f) == 0)
            f->dirty = false;
        if (f->live == 0 && (!f->dirty || f->gone)) {
            *pp = f->next;
            fan_free(d, f);
        } else {
            pp = &f->next;
        }
    }
}

static struct fan *fan_of(const struct delivery *d, int64_t post)
{
    for (struct fan *f = d->fans; f != NULL; f = f->next)
        if (f->post == post)
            return f;
    return NULL;
}

/* Remove queued items matching (post, user), 0 meaning any; a fan's
 * entries go as how says. */
static void drop_queued(struct delivery *d, int64_t post, int64_t user,
                        enum let_go how)
{
    struct item **pp = &d->head, *last = NULL;

    while (*pp != NULL) {
        struct item *it = *pp;

        if ((post == 0 || it->post == post) &&
            (user == 0 || it->user == user) &&
            (it->fan == NULL || how != LET_KEEP)) {
            *pp = it->next;
            if (it->fan != NULL)
                fan_let_go(d, it->fan, it->idx, how);
            if (it->outbox_id != 0)
                unpend(d, it->outbox_id);
            d->queued--;
            item_free(it);
        } else {
            last = it;
            pp = &it->next;
        }
    }
    d->tail = last;
}

static time_t clock_now(void);
static int quiet_user(void *ud, int64_t user);
static int digest_user(void *ud, int64_t user);
static void route_begin(void *ud, int64_t post);
static bool route_one(void *ud, const struct route *r);

/* Public ---------------------------------------------------------------- */

struct delivery *delivery_new(struct store *st, struct presence *pr,
                              const struct delivery_ops *ops, void *ud)
{
    struct delivery *d = xcalloc(1, sizeof(*d));
    int64_t rows;

    d->store = st;
    d->presence = pr;
    d->ops = ops;
    d->ud = ud;
    d->backlog_max = 20;
    d->now = clock_now;
    d->quiet.size = sizeof(struct quiet);
    d->digests.size = sizeof(struct digest);
    store_quiet_users(st, quiet_user, d);
    store_digest_users(st, digest_user, d);
    /* What the last run owed from memory becomes held rows first. */
    if ((rows = store_fanout_recover(st, NULL, NULL, NULL)) > 0)
        log_info("delivery: %lld updates the last run had not delivered are "
                 "held for their recipients",
                 (long long)rows);
    store_set_router(st, &(struct store_router){route_begin, route_one, d});
    return d;
}

/* Record the confirmed rows as delivered copies. */
static void digest_confirmed(struct delivery *d, int64_t user);

/* Record the confirmed rows as delivered copies, and the digests as
 * sent. */
static void flush_done(struct delivery *d)
{
    size_t rows = 0;

    if (d->done.n == 0)
        return;
    for (size_t j = 0; j < d->done.n; j++) {
        struct sent *x = &d->done.v[j];

        if (x->fan != NULL) {
            struct fan_entry *e = &x->fan->e[x->idx];

            if (e->at == AT_FLIGHT) {
                e->at = AT_DONE;
                x->fan->live--;
                x->fan->dirty = true;
                d->fan_inflight--;
            }
            continue;
        }
        idmap_del(&d->pending, x->id);
        if (x->id < 0)
            digest_confirmed(d, -x->id);
        else
            d->done_ids[rows++] = x->id;
    }
    if (rows > 0 && store_outbox_done(d->store, d->done_ids, rows) < 0)
        log_warnx("delivery: %zu confirmed rows stay in the outbox and "
                  "will be sent again",
                  rows);
    d->done.n = 0;
    fans_sync(d);
}

void delivery_disconnected(struct delivery *d)
{
    struct item *it, *next;

    flush_done(d); /* the server took those before the stream went */

    /* What a fan had queued or in flight waits in held rows for the
     * recipients' presence, like everything else. */
    for (it = d->head; it != NULL; it = next) {
        next = it->next;
        if (it->fan != NULL)
            fan_let_go(d, it->fan, it->idx, LET_HOLD);
        item_free(it);
    }
    d->head = d->tail = NULL;
    d->queued = 0;
    for (size_t i = 0; i <= d->nwindows; i++) {
        struct window *w = i < d->nwindows ? &d->windows[i] : &d->cur;

        for (size_t k = 0; k < w->n; k++)
            if (w->v[k].fan != NULL)
                fan_let_go(d, w->v[k].fan, w->v[k].idx, LET_HOLD);
        if (i < d->nwindows)
            window_done(d, w->v);
    }
    d->nwindows = 0;
    d->cur.n = 0;
    idmap_clear(&d->pending);
    fans_sync(d);
    for (size_t i = 0; i < d->digests.n; i++)
        ((struct digest *)tab_at(&d->digests, i))->sending = false;
}

/* Items sent but never confirmed: no longer pending, the rows' ids
 * collected in lost, a fan's entries held and their users in lost_users. */
static void forget_window(struct delivery *d, const struct window *w,
                          struct window *lost, struct window *lost_users)
{
    lost->v = xrealloc(lost->v, (lost->n + w->n + 1) * sizeof(*lost->v));
    lost_users->v = xrealloc(lost_users->v, (lost_users->n + w->n + 1) *
                                                sizeof(*lost_users->v));
    for (size_t i = 0; i < w->n; i++) {
        const struct sent *x = &w->v[i];

        if (x->fan != NULL) {
            lost_users->v[lost_users->n++].id = x->fan->e[x->idx].user;
            fan_let_go(d, x->fan, x->idx, LET_HOLD);
            continue;
        }
        unpend(d, x->id);
        lost->v[lost->n++].id = x->id;
    }
}

static void user_again(void *ud, int64_t user)
{
    delivery_user_changed(ud, user);
}

void delivery_link_lost(struct delivery *d, const uint64_t *tokens, size_t n,
                        bool current)
{
    struct window lost = {0}, users = {0};
    int64_t *ids;
    size_t kept = 0;

    for (size_t i = 0; i < d->nwindows; i++) {
        bool gone = false;

        for (size_t k = 0; k < n && !gone; k++)
            gone = d->windows[i].token == tokens[k];
        if (gone) {
            forget_window(d, &d->windows[i], &lost, &users);
            window_done(d, d->windows[i].v);
        } else {
            d->windows[kept++] = d->windows[i];
        }
    }
    d->nwindows = kept;
    if (current) {
        forget_window(d, &d->cur, &lost, &users);
        d->cur.n = 0;
    }
    /* Their recipients get them queued again, over the links left. */
    if (lost.n + users.n > 0)
        log_info("delivery: %zu updates sent over a lost link go out again",
                 lost.n + users.n);
    fans_sync(d);
    ids = xmalloc((lost.n + 1) * sizeof(*ids));
    for (size_t i = 0; i < lost.n; i++)
        ids[i] = lost.v[i].id;
    if (lost.n > 0 &&
        store_outbox_users(d->store, ids, lost.n, user_again, d) < 0)
        log_warnx("delivery: %zu rows of a lost link go out on the next "
                  "presence",
                  lost.n);
    for (size_t i = 0; i < users.n; i++)
        user_again(d, users.v[i].id);
    free(ids);
    free(lost.v);
    free(users.v);
}

void delivery_free(struct delivery *d)
{
    if (d == NULL)
        return;
    delivery_disconnected(d);
    store_set_router(d->store, NULL);
    route_begin(d, 0);
    free(d->build.held);
    /* Fans whose states could not be written: the next start holds
     * what their records owe. */
    while (d->fans != NULL) {
        struct fan *f = d->fans;

        d->fans = f->next;
        fan_free(d, f);
    }
    free(d->spare_chunk);
    free(d->states);
    free(d->holds);
    free(d->holdref);
    idmap_clear(&d->held);
    tab_free(&d->quiet);
    tab_free(&d->digests);
    free(d->cur.v);
    free(d->spare);
    free(d->done.v);
    free(d->done_ids);
    free(d);
}

void delivery_set_backlog_max(struct delivery *d, int backlog_max)
{
    d->backlog_max = backlog_max < 0 ? 0 : backlog_max;
}

char *delivery_format(const struct post *p)
{
    switch (p->kind) {
    case POST_DM:
        return xasprintf("DM from %s: %s", p->author_nick, p->body);
    case POST_BROADCAST:
        return xasprintf("Announcement: %s", p->body);
    case POST_REPEAT:
        /* The body is the original as "nick: text". */
        return xasprintf("%s repeated %s (#%lld)", p->author_nick, p->body,
                         (long long)p->repeat_of);
    case POST_PUBLIC:
    default:
        if (p->reply_to > 0)
            return xasprintf("%s (re #%lld): %s (#%lld)", p->author_nick,
                             (long long)p->reply_to, p->body, (long long)p->id);
        return xasprintf("%s: %s (#%lld)", p->author_nick, p->body,
                         (long long)p->id);
    }
}

#define ID_PREFIX "starling-"

/* Written by hand: snprintf() cost more than the rest of choosing what a
 * delivery sends. */
void delivery_stanza_id(int64_t post, int64_t user, char *out, size_t len)
{
    char id[sizeof(ID_PREFIX) + 2 * 20 + 1], *p = id;

    memcpy(p, ID_PREFIX, sizeof(ID_PREFIX) - 1);
    p = put_int64(p + sizeof(ID_PREFIX) - 1, post < 0 ? 0 : post);
    *p++ = '-';
    p = put_int64(p, user < 0 ? 0 : user);
    if (len == 0)
        return;
    /* ASCII: cut anywhere if it does not fit. */
    len = (size_t)(p - id) < len ? (size_t)(p - id) : len - 1;
    memcpy(out, id, len);
    out[len] = '\0';
}

int64_t delivery_post_of_id(const char *id)
{
    long long post, user;
    int end = 0;

    if (id == NULL || strncmp(id, ID_PREFIX, strlen(ID_PREFIX)) != 0 ||
        sscanf(id + strlen(ID_PREFIX), "%lld-%lld%n", &post, &user, &end) !=
            2 ||
        id[strlen(ID_PREFIX) + (size_t)end] != '\0' || post <= 0 || user <= 0)
        return 0;
    return post;
}

/* Quiet hours ------------------------------------------------------------ */

static time_t clock_now(void)
{
    return time(NULL);
}

void delivery_set_clock(struct delivery *d, time_t (*now)(void))
{
    d->now = now != NULL ? now : clock_now;
}

/* Load (or forget) user's quiet hours from the store. */
static void quiet_load(struct delivery *d, int64_t user)
{
    struct prefs p;
    struct quiet *q;

    if (store_prefs_get(d->store, user, &p) < 0)
        return;
    if (p.quiet_start < 0) {
        tab_del(&d->quiet, user);
        return;
    }
    q = tab_add(&d->quiet, user);
    q->start = p.quiet_start;
    q->end = p.quiet_end;
    memcpy(q->tz, p.tz, sizeof(q->tz));
    q->on = false;
    q->until = 0; /* looked at anew */
}

/* Is it user's quiet time now?  Looked at once a minute at most (the
 * zone's rules are read from its file), and at the end of quiet hours. */
static bool quiet_now(struct delivery *d, int64_t user)
{
    struct quiet *q = tab_get(&d->quiet, user);
    time_t now, ends;

    if (q == NULL)
        return false;
    now = d->now();
    if (now < q->until)
        return q->on;
    q->on = zone_quiet(q->tz, q->start, q->end, now, &ends);
    q->until = q->on ? ends : now + 60;
    return q->on;
}

static int quiet_user(void *ud, int64_t user)
{
    quiet_load(ud, user);
    return 0;
}

/* Would an update reach this recipient now: presence (SPEC 6) and quiet
 * hours (held as for dnd). */
static bool may_send(struct delivery *d, int64_t user, const char *jid,
                     bool away)
{
    return presence_allows(d->presence, jid, away) && !quiet_now(d, user);
}

/* Digests ---------------------------------------------------------------- */

#define DIGEST_POSTS 20   /* posts a digest shows, at most */
#define DIGEST_BYTES 3000 /* and about as many bytes */

/* An id queued or in flight is no longer; a digest's may go again. */
static void unpend(struct delivery *d, int64_t id)
{
    struct digest *g;

    idmap_del(&d->pending, id);
    if (id < 0 && (g = tab_get(&d->digests, -id)) != NULL)
        g->sending = false;
}

/* Does user have a follow in digest mode? */
static int any_follow(void *ud, const struct digest_follow *f)
{
    (void)f;
    *(bool *)ud = true;
    return 1;
}

/* Load (or forget) when user's next digest is due: the first time their
 * clock shows the digest time after the last one went out. */
static void digest_load(struct delivery *d, int64_t user)
{
    struct prefs p;
    struct digest *g;
    bool any = false;

    if (store_digest_of(d->store, user, any_follow, &any) < 0 ||
        store_prefs_get(d->store, user, &p) < 0)
        return;
    if (!any) {
        tab_del(&d->digests, user);
        return;
    }
    g = tab_add(&d->digests, user);
    g->due = zone_next(p.tz, p.digest_at,
                       p.digest_sent != 0 ? p.digest_sent : d->now());
}

static int digest_user(void *ud, int64_t user)
{
    digest_load(ud, user);
    return 0;
}

/* What goes into one digest: the posts of each follow, oldest first. */
struct gather {
    struct delivery *d;
    struct post *v;
    size_t n, cap;
    int64_t total;
    struct buf more; /* nicks with posts left out */
};

static int gather_post(void *ud, const struct post *p)
{
    struct gather *g = ud;

    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 32;
        g->v = xrealloc(g->v, g->cap * sizeof(*g->v));
    }
    g->v[g->n] = *p;
    g->v[g->n].author_nick = xstrdup(p->author_nick);
    g->v[g->n].body = xstrdup(p->body);
    g->n++;
    return 0;
}

static int gather_follow(void *ud, const struct digest_follow *f)
{
    struct gather *g = ud;
    int64_t n;

    if (store_digest_count(g->d->store, f->followee, f->after, &n) < 0 ||
        store_digest_posts(g->d->store, f->followee, f->after, DIGEST_POSTS,
                           gather_post, g) < 0)
        return -1;
    g->total += n;
    return 0;
}

static int by_id(const void *a, const void *b)
{
    const struct post *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/* The digest's text from what was gathered; NULL if it is empty. */
static char *digest_text(struct gather *g, const struct prefs *p, time_t now)
{
    struct buf b = {0};
    size_t shown = 0;
    char when[32];

    if (g->total == 0)
        return NULL;
    qsort(g->v, g->n, sizeof(*g->v), by_id);
    buf_printf(&b, "Your daily digest: %lld post%s.", (long long)g->total,
               g->total == 1 ? "" : "s");
    for (; shown < g->n && shown < DIGEST_POSTS && b.len < DIGEST_BYTES;
         shown++) {
        const struct post *q = &g->v[shown];

        zone_when(p->tz, q->created, now, when, sizeof(when));
        buf_printf(&b, "\n#%lld %s", (long long)q->id, q->author_nick);
        if (q->reply_to > 0)
            buf_printf(&b, " (re #%lld)", (long long)q->reply_to);
        buf_printf(&b, " \xc2\xb7 %s: %s", when, q->body);
    }
    if ((int64_t)shown < g->total) {
        /* Whose posts were left out, each nick once. */
        for (size_t i = shown; i < g->n; i++) {
            const char *nick = g->v[i].author_nick;
            size_t len = strlen(nick);
            const char *at = g->more.s;

            while (at != NULL && (at = strstr(at, nick)) != NULL &&
                   !((at == g->more.s || at[-1] == ' ') &&
                     (at[len] == '\0' || at[len] == ',')))
                at += len;
            if (at == NULL)
                buf_printf(&g->more, "%s%s", g->more.len > 0 ? ", " : "", nick);
        }
        buf_printf(&b, "\n...and %lld more (\"last NICK\" shows them: %s).",
                   (long long)(g->total - (int64_t)shown),
                   g->more.s != NULL ? g->more.s : "");
    }
    return b.s;
}

static void gather_free(struct gather *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free((char *)g->v[i].author_nick);
        free((char *)g->v[i].body);
    }
    free(g->v);
    buf_free(&g->more);
}

/* u's digest, if it is due and may go out now (the caller checked
 * presence and quiet hours): queued as one item.  A digest with nothing
 * in it counts as sent. */
static void digest_try(struct delivery *d, const struct user *u)
{
    struct digest *g = tab_get(&d->digests, u->id);
    struct gather ga = {.d = d};
    time_t now = d->now();
    struct prefs p;
    struct item *it;
    struct body *b;
    int64_t upto;
    char *text = NULL;

    if (g == NULL || g->sending || g->due > now)
        return;
    if (store_prefs_get(d->store, u->id, &p) < 0 ||
        store_max_post(d->store, &upto) < 0 ||
        store_digest_of(d->store, u->id, gather_follow, &ga) < 0)
        goto out;
    if ((text = digest_text(&ga, &p, now)) == NULL) {
        if (store_digest_done(d->store, u->id, upto, now) == 0)
            g->due = zone_next(p.tz, p.digest_at, now);
        goto out;
    }
    b = body_new(text, NULL);
    it = item_new(NULL, u->id, u->jid, u->away, b);
    body_unref(b);
    it->outbox_id = -u->id;
    g->upto = upto;
    g->sending = true;
    enqueue(d, it);
out:
    free(text);
    gather_free(&ga);
}

/* The server has u's digest: the posts it covered are done with. */
static void digest_confirmed(struct delivery *d, int64_t user)
{
    struct digest *g = tab_get(&d->digests, user);
    time_t now = d->now();
    struct prefs p;

    if (g == NULL)
        return;
    g->sending = false;
    if (store_digest_done(d->store, user, g->upto, now) < 0 ||
        store_prefs_get(d->store, user, &p) < 0) {
        log_warnx("delivery: a digest sent goes out again");
        return;
    }
    g->due = zone_next(p.tz, p.digest_at, now);
}

/* Rows of one post for the recipients who may receive them now; the
 * others stay held in the store, and ordinary ones are counted. */
struct fanout {
    struct delivery *d;
    struct body *body; /* formatted once per post */
    int64_t *held;     /* users who got an ordinary row held */
    size_t nheld, cap;
};

static int fanout_row(void *ud, const struct outbox_row *r)
{
    struct fanout *f = ud;

    if (idmap_has(&f->d->pending, r->id))
        return 0;
    if (!may_send(f->d, r->user, r->jid, r->away)) {
        if (r->ordinary) {
            if (f->nheld == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 64;
                f->held = xrealloc(f->held, f->cap * sizeof(*f->held));
            }
            f->held[f->nheld++] = r->user;
        }
        return 0; /* held: stays in the store */
    }
    if (f->body == NULL)
        f->body = body_of(r);
    enqueue(f->d, item_new(r, r->user, r->jid, r->away, f->body));
    return 0;
}

/* What is held for user grew by one ordinary update: beyond backlog_max
 * the oldest are dropped, and counted for the summary.  The count is
 * kept in memory once read, so a fan-out costs a statement only for those
 * over the bound. */
static void held_grew(struct delivery *d, int64_t user)
{
    int *n = idmap_get(&d->held, user);
    int64_t count;

    if (n != NULL) {
        (*n)++;
    } else {
        if (store_outbox_count_ordinary(d->store, user, &count) < 0)
            return;
        idmap_put(&d->held, user, (int)count);
        n = idmap_get(&d->held, user);
    }
    if (*n > d->backlog_max &&
        store_outbox_trim_user(d->store, user, d->backlog_max, NULL) == 0)
        *n = d->backlog_max;
}

static void queue_rows(struct delivery *d, int64_t post, enum outbox_what what)
{
    struct fanout f = {d, NULL, NULL, 0, 0};

    store_outbox_for_post(d->store, post, what, fanout_row, &f);
    body_unref(f.body);
    /* After the walk: no write to the outbox while it is being read. */
    for (size_t i = 0; i < f.nheld; i++)
        held_grew(d, f.held[i]);
    free(f.held);
}

/* The store's router (store_set_router()): the recipients of a post
 * being added who may receive it now are served from memory, listed in
 * its fan-out record; the others get held rows, and the ordinary ones
 * are counted once the post is committed. */
static void route_begin(void *ud, int64_t post)
{
    struct delivery *d = ud;
    struct item *it, *next;

    /* A post begun before and not committed: its unit failed. */
    for (it = d->build.head; it != NULL; it = next) {
        next = it->next;
        item_free(it);
    }
    if (d->build.fan != NULL)
        fan_free(d, d->build.fan);
    d->build.fan = NULL;
    d->build.head = d->build.tail = NULL;
    d->build.nheld = 0;
    d->build.post = post;
}

static bool route_one(void *ud, const struct route *r)
{
    struct delivery *d = ud;
    struct fan *f = d->build.fan;
    struct item *it;

    if (!may_send(d, r->user, r->jid, r->away)) {
        if (r->ordinary) {
            if (d->build.nheld == d->build.cap) {
                d->build.cap = d->build.cap ? d->build.cap * 2 : 64;
                d->build.held = xrealloc(d->build.held,
                                         d->build.cap * sizeof(*d->build.held));
            }
            d->build.held[d->build.nheld++] = r->user;
        }
        return false;
    }
    if (f == NULL) {
        f = d->build.fan = xcalloc(1, sizeof(*f));
        f->post = r->post;
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->e = xrealloc(f->e, f->cap * sizeof(*f->e));
    }
    f->e[f->n] = (struct fan_entry){r->user, r->ordinary, AT_QUEUED};
    it = fan_item(d, f, r->user, r->jid, r->away);
    it->allowed_at = presence_changes(d->presence);
    it->idx = f->n++;
    f->live++;
    if (d->build.tail != NULL)
        d->build.tail->next = it;
    else
        d->build.head = it;
    d->build.tail = it;
    return true;
}

/* The committed post's text for the items routed to memory, which are
 * queued (all at once: they are in order). */
static int fan_start(void *ud, const struct post *p)
{
    struct delivery *d = ud;
    struct outbox_row r = {.what = OUTBOX_UPDATE, .post = *p};

    d->build.fan->body = body_of(&r);
    if (d->tail != NULL)
        d->tail->next = d->build.head;
    else
        d->head = d->build.head;
    d->tail = d->build.tail;
    d->queued += d->build.fan->live;
    d->build.head = d->build.tail = NULL;
    return 0;
}

void delivery_post_committed(struct delivery *d, int64_t post)
{
    struct fan *f = d->build.fan;
    struct item *it, *next;

    if (d->build.post != post) {
        /* Not routed (no recipient): whatever rows it has. */
        queue_rows(d, post, OUTBOX_UPDATE);
        return;
    }
    if (f != NULL) {
        if (store_post_get(d->store, post, fan_start, d) != 1)
            for (it = d->build.head; it != NULL; it = next) {
                next = it->next;
                fan_let_go(d, f, it->idx, LET_OPEN);
                item_free(it);
            }
        d->build.head = d->build.tail = NULL;
        f->next = d->fans;
        d->fans = f;
        d->build.fan = NULL;
    }
    d->build.post = 0;
    for (size_t i = 0; i < d->build.nheld; i++)
        held_grew(d, d->build.held[i]);
    d->build.nheld = 0;
}

/* Who has a copy of a post: rows delivered, or sent and not yet
 * confirmed (queued rows were dropped before this is asked). */
struct copies {
    struct delivery *d;
    int64_t *users;
    size_t n, cap;
};

static void copy_add(struct copies *c, int64_t user)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->users = xrealloc(c->users, c->cap * sizeof(*c->users));
    }
    c->users[c->n++] = user;
}

static void copy_row(void *ud, int64_t row, int64_t user, bool delivered,
                     enum outbox_what what)
{
    struct copies *c = ud;

    if (what == OUTBOX_UPDATE && (delivered || idmap_has(&c->d->pending, row)))
        copy_add(c, user);
}

/* Who has a copy of post.  Its queued items are dropped first (nobody
 * has those yet), a fan's as how says. */
static int copies_of(struct delivery *d, int64_t post, enum let_go how,
                     struct copies *c)
{
    struct fan *f;
    int64_t *users;
    uint8_t *states;
    size_t n;
    int r;

    memset(c, 0, sizeof(*c));
    c->d = d;
    drop_queued(d, post, 0, how);
    /* Served from memory: the fan knows, or else its record. */
    if ((f = fan_of(d, post)) != NULL) {
        for (size_t i = 0; i < f->n; i++)
            if (f->e[i].at == AT_FLIGHT || f->e[i].at == AT_DONE)
                copy_add(c, f->e[i].user);
    } else if ((r = store_fanout_get(d->store, post, &users, &states, &n)) !=
               0) {
        if (r < 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (states[i] == FAN_DELIVERED)
                copy_add(c, users[i]);
        free(users);
        free(states);
    }
    return store_outbox_of_post(d->store, post, copy_row, c);
}

/* The items of post still queued from its fan carry its new text. */
static int rebody(void *ud, const struct post *p)
{
    struct delivery *d = ud;
    struct outbox_row r = {.what = OUTBOX_UPDATE, .post = *p};
    struct fan *f = fan_of(d, p->id);

    /* Its queued items read the fan's body when they are sent. */
    if (f != NULL && f->live > 0) {
        body_unref(f->body);
        f->body = body_of(&r);
    }
    return 0;
}

int delivery_post_edited(struct delivery *d, int64_t post, time_t now)
{
    struct copies c;
    int r;

    if ((r = copies_of(d, post, LET_KEEP, &c)) == 0)
        r = store_outbox_corrections(d->store, post, c.users, c.n, now);
    free(c.users);
    if (r < 0)
        return -1;
    /* Not sent yet: goes out with the new text; sent: corrected. */
    queue_rows(d, post, OUTBOX_UPDATE);
    queue_rows(d, post, OUTBOX_CORRECTION);
    store_post_get(d->store, post, rebody, d);
    return 0;
}

int delivery_post_delete(struct delivery *d, int64_t post, time_t now)
{
    struct copies c;
    int64_t *repeats = NULL;
    size_t n = 0;
    int r;

    /* Its repeats go with it. */
    if (store_repeats(d->store, post, &repeats, &n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (delivery_post_delete(d, repeats[i], now) < 0) {
            free(repeats);
            return -1;
        }
    free(repeats);
    /* What a fan had queued is owed by its record until the post is
     * gone. */
    if ((r = copies_of(d, post, LET_OPEN, &c)) == 0)
        r = store_post_delete(d->store, post, c.users, c.n, now);
    free(c.users);
    if (r == 0) {
        struct fan *f = fan_of(d, post);

        if (f != NULL)
            f->gone = true;
        queue_rows(d, post, OUTBOX_RETRACTION);
    }
    fans_sync(d);
    return r;
}

/* Held rows of one user not yet queued, oldest first. */
struct held {
    struct delivery *d;
    struct item **v;
    size_t n, cap;
};

static int held_row(void *ud, const struct outbox_row *r)
{
    struct held *h = ud;
    struct body *b;

    if (idmap_has(&h->d->pending, r->id))
        return 0;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 32;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    b = body_of(r);
    h->v[h->n] = item_new(r, r->user, r->jid, r->away, b);
    body_unref(b);
    if (r->what == OUTBOX_UPDATE)
        h->v[h->n]->stamp = r->post.created;
    h->n++;
    return 0;
}

void delivery_user_changed(struct delivery *d, int64_t user)
{
    struct user u;

    quiet_load(d, user); /* its settings may be what changed */
    digest_load(d, user);
    if (store_user_by_id(d->store, user, &u) == 1)
        delivery_user_seen(d, &u);
}

/* "While you were away, ..." for n dropped updates; caller frees. */
static char *summary_text(int64_t n)
{
    return xasprintf("While you were away, %lld older update%s from people "
                     "you follow %s left out; send \"last\" to read %s.",
                     (long long)n, n == 1 ? "" : "s", n == 1 ? "was" : "were",
                     n == 1 ? "it" : "them");
}

void delivery_user_seen(struct delivery *d, const struct user *u)
{
    struct held h = {d, NULL, 0, 0};
    int *known = idmap_get(&d->held, u->id);
    int64_t dropped = 0, count;

    if (!u->active || !u->deliver || u->banned ||
        !may_send(d, u->id, u->jid, u->away))
        return;
    /* Held rows are bounded as they come (held_grew); a smaller
     * backlog_max since, or rows from before the count was known, are
     * trimmed here: counted first, since a write for every user who
     * comes back cost more than handing over what they have. */
    if (known == NULL) {
        if (store_outbox_count_ordinary(d->store, u->id, &count) < 0)
            return;
    } else {
        count = *known;
    }
    if (count > d->backlog_max &&
        store_outbox_trim_user(d->store, u->id, d->backlog_max, NULL) < 0)
        return;
    idmap_del(&d->held, u->id);
    if (store_user_take_dropped(d->store, u->id, &dropped) < 0 ||
        store_outbox_for_user(d->store, u->id, held_row, &h) < 0)
        goto out;
    if (dropped > 0) {
        char *text = summary_text(dropped);
        struct body *b = body_new(text, NULL);

        enqueue(d, item_new(NULL, u->id, u->jid, u->away, b));
        body_unref(b);
        free(text);
    }
    for (size_t i = 0; i < h.n; i++) {
        enqueue(d, h.v[i]);
        h.v[i] = NULL;
    }
    digest_try(d, u);
out:
    for (size_t i = 0; i < h.n; i++)
        if (h.v[i] != NULL)
            item_free(h.v[i]);
    free(h.v);
}

void delivery_forget_user(struct delivery *d, int64_t user)
{
    if (user == 0)
        return;
    drop_queued(d, 0, user, LET_HOLD);
    fans_sync(d);
    idmap_del(&d->held, user);
}

void delivery_user_reset(struct delivery *d, int64_t user)
{
    delivery_forget_user(d, user);
    delivery_user_changed(d, user);
}

static bool in_memory(void *ud, int64_t post)
{
    return fan_of(ud, post) != NULL;
}

/* What records owe after a failed write becomes held rows, once it can
 * be written; a post still served from memory waits for its fan to go. */
static void owed_again(struct delivery *d)
{
    if (!d->owed)
        return;
    fans_sync(d); /* states not written yet, and fans done with */
    d->owed = false;
    for (struct fan *f = d->fans; f != NULL && !d->owed; f = f->next)
        for (size_t i = 0; i < f->n && !d->owed; i++)
            d->owed = f->e[i].at == AT_OPEN;
    if (store_fanout_recover(d->store, in_memory, user_again, d) < 0)
        d->owed = true;
}

void delivery_tick(struct delivery *d, time_t now)
{
    /* Quiet hours that ended hand over what they held, whatever the
     * presence did meanwhile. */
    for (size_t i = 0; i < d->quiet.n; i++) {
        struct quiet *q = tab_at(&d->quiet, i);

        if (q->on && now >= q->until && !quiet_now(d, q->user)) {
            struct user u;

            if (store_user_by_id(d->store, q->user, &u) == 1)
                delivery_user_seen(d, &u);
        }
    }

    /* Digests that came due go out to those who may receive them now;
     * the others when they are back. */
    for (size_t i = 0; i < d->digests.n; i++) {
        struct digest *g = tab_at(&d->digests, i);
        struct user u;

        if (!g->sending && g->due <= now &&
            store_user_by_id(d->store, g->user, &u) == 1)
            delivery_user_seen(d, &u);
    }

    int n = store_outbox_prune(d->store, now - OUTBOX_COPY_SECONDS, 1000,
                               &d->prune_cursor);

    if (n > 0)
        log_debug("delivery: forgot %d delivered copies", n);
    if ((n = store_fanout_prune(d->store, now - OUTBOX_COPY_SECONDS, 1000)) > 0)
        log_debug("delivery: forgot the records of %d posts", n);
    owed_again(d);
}

void delivery_requeue(struct delivery *d)
{
    struct idmap seen = {0};
    int64_t *users = NULL, *u;
    uint8_t *states;
    size_t n = 0, cap = 0, k;

    /* Fans of posts the failed commit took away go with them; the others
     * stay queued, and their states are written again (the write may
     * have been part of what was lost). */
    for (struct fan *f = d->fans; f != NULL; f = f->next) {
        int r =
            f->gone ? -1 : store_fanout_get(d->store, f->post, &u, &states, &k);

        if (r == 1) {
            free(u);
            free(states);
        } else if (r == 0) {
            f->gone = true;
            drop_queued(d, f->post, 0, LET_CLOSE);
        }
        /* Held rows written for closed entries may have gone too: the
         * record owes them again (the filters of the rows it then
         * writes leave out whoever is not due). */
        for (size_t i = 0; i < f->n && !f->gone; i++)
            if (f->e[i].at == AT_CLOSED) {
                f->e[i].at = AT_OPEN;
                d->owed = true;
            }
        f->dirty = true;
    }
    for (struct item *it = d->head; it != NULL; it = it->next) {
        if (it->fan != NULL || idmap_has(&seen, it->user))
            continue;
        idmap_put(&seen, it->user, 0);
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            users = xrealloc(users, cap * sizeof(*users));
        }
        users[n++] = it->user;
    }
    drop_queued(d, 0, 0, LET_KEEP);
    fans_sync(d);
    idmap_clear(&d->held); /* the counts may include rows that are gone */
    for (size_t i = 0; i < n; i++)
        delivery_user_changed(d, users[i]);
    free(users);
    idmap_clear(&seen);
}

/* Send a barrier behind the current window and remember it. */
static void close_window(struct delivery *d)
{
    uint64_t token;

    if (d->cur.n == 0 || d->nwindows == MAX_WINDOWS)
        return;
    if (d->ops->barrier(d->ud, &token) < 0)
        return;
    d->windows[d->nwindows].token = token;
    d->windows[d->nwindows].v = d->cur.v;
    d->windows[d->nwindows].n = d->cur.n;
    d->nwindows++;
    d->cur.v = d->spare;
    d->cur.n = 0;
    d->spare = NULL;
}

/* Send one item; 0 sent, -1 not connected. */
static int send_item(struct delivery *d, const struct item *it)
{
    char id[80], ref[64];
    const struct body *b = it->fan != NULL ? it->fan->body : it->body;
    struct outmsg m = {.to = it->jid,
                       .body = b->text,
                       .id = id,
                       .author = b->author[0] != '\0' ? b->author : NULL};

    if (it->outbox_id == 0 && it->fan == NULL) {
        snprintf(id, sizeof(id), ID_PREFIX "note-%lld-%llu",
                 (long long)it->user, (unsigned long long)++d->summaries);
        return d->ops->send(d->ud, &m);
    }
    if (it->outbox_id < 0) {
        struct digest *g = tab_get(&d->digests, it->user);

        snprintf(id, sizeof(id), ID_PREFIX "digest-%lld-%lld",
                 (long long)it->user, g != NULL ? (long long)g->upto : 0LL);
        return d->ops->send(d->ud, &m);
    }
    delivery_stanza_id(it->post, it->user, ref, sizeof(ref));
    switch (it->what) {
    case OUTBOX_UPDATE:
        m.id = ref;
        m.stamp = it->stamp;
        break;
    case OUTBOX_CORRECTION:
        snprintf(id, sizeof(id), "%s-e%d", ref, it->edits);
        m.replace_id = ref;
        break;
    case OUTBOX_RETRACTION:
        snprintf(id, sizeof(id), "%s-r", ref);
        m.retract_id = ref;
        break;
    }
    return d->ops->send(d->ud, &m);
}

/* Updates sent and not yet confirmed. */
static size_t in_flight(const struct delivery *d)
{
    size_t n = d->cur.n;

    for (size_t i = 0; i < d->nwindows; i++)
        n += d->windows[i].n;
    return n;
}

void delivery_pump(struct delivery *d)
{
    struct sent *x;

    while (d->head != NULL && d->nwindows < MAX_WINDOWS &&
           in_flight(d) < MAX_FLIGHT && d->ops->room(d->ud) > 0) {
        struct item *it = d->head;

        if ((it->allowed_at != presence_changes(d->presence) &&
             !presence_allows(d->presence, it->jid, it->away)) ||
            quiet_now(d, it->user)) {
            /* Gone dnd/offline or quiet since queued: held again in the
             * store (a fan's entry gets its row). */
            d->head = it->next;
            if (d->head == NULL)
                d->tail = NULL;
            d->queued--;
            if (it->outbox_id != 0)
                unpend(d, it->outbox_id);
            if (it->fan != NULL)
                fan_let_go(d, it->fan, it->idx, LET_HOLD);
            item_free(it);
            continue;
        }
        if (send_item(d, it) < 0)
            break; /* not connected: stays queued */
        d->head = it->next;
        if (d->head == NULL)
            d->tail = NULL;
        d->queued--;
        if (it->outbox_id != 0 || it->fan != NULL) {
            /* in_flight() < MAX_FLIGHT: there is room */
            if (d->cur.v == NULL)
                d->cur.v = xmalloc(MAX_FLIGHT * sizeof(*d->cur.v));
            x = &d->cur.v[d->cur.n++];
            *x = (struct sent){it->outbox_id, it->fan, it->idx};
            if (it->fan != NULL) {
                it->fan->e[it->idx].at = AT_FLIGHT;
                d->fan_inflight++;
            }
        }
        item_free(it);
        if (d->cur.n >= WINDOW)
            close_window(d);
    }
    if (d->head == NULL)
        close_window(d);
    if (d->nholds > 0)
        fans_sync(d);
}

void delivery_barrier_done(struct delivery *d, uint64_t token)
{
    for (size_t i = 0; i < d->nwindows; i++) {
        struct window *w = &d->windows[i];

        if (w->token != token)
            continue;
        if (d->done.n + w->n > d->done_cap) {
            d->done_cap = d->done.n + w->n + FLUSH_MAX;
            d->done.v = xrealloc(d->done.v, d->done_cap * sizeof(*d->done.v));
            d->done_ids =
                xrealloc(d->done_ids, d->done_cap * sizeof(*d->done_ids));
        }
        memcpy(d->done.v + d->done.n, w->v, w->n * sizeof(*w->v));
        d->done.n += w->n;
        window_done(d, w->v);
        memmove(w, w + 1, (d->nwindows - i - 1) * sizeof(*w));
        d->nwindows--;
        break;
    }
    if (d->done.n >= FLUSH_MAX ||
        (d->nwindows == 0 && d->cur.n == 0 && d->head == NULL))
        flush_done(d);
}

size_t delivery_pending(const struct delivery *d)
{
    return d->pending.n + d->fan_inflight + (d->queued > 0 ? 1 : 0);
}
