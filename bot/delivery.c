/*
 * delivery.c - the delivery engine: who gets what, and when (SPEC 6).
 *
 * It reads the outbox through the store and presence through the
 * presence table, and sends through struct delivery_ops: no sockets here.
 *
 * Life of an outbox row: committed with its post; queued here when its
 * recipient may receive it now (at once for a fresh post, or when the
 * recipient's presence allows it again); sent when the session has room;
 * then part of a window closed by a barrier (a ping to the server).  Only
 * when the barrier's answer comes back are the window's rows confirmed;
 * confirmed rows are deleted together, in one transaction, once nothing
 * is in flight or FLUSH_MAX of them wait (a commit per window cost more
 * than the sends).  Until deleted they stay pending, so nothing can queue
 * them twice; a crash before the delete sends them again, with the same
 * ids.  A dropped stream forgets everything unconfirmed in memory: the rows
 * are still in the store and go out again once the recipient's presence
 * is seen anew.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "../common/log.h"
#include "../common/util.h"

#define WINDOW      64   /* sends between two barriers */
#define MAX_WINDOWS 4    /* barriers outstanding at once */
#define FLUSH_MAX   1024 /* confirmed rows written at once, at most */

struct body {
    unsigned refs;
    char text[];
};

struct item {
    struct item *next;
    int64_t outbox_id; /* 0: not outbox-backed (a summary) */
    int64_t post;
    int64_t user;
    time_t stamp; /* 0: fresh, no <delay/> */
    bool away;
    struct body *body;
    char jid[];
};

struct window {
    uint64_t token;
    int64_t *ids;
    size_t n;
};

/* A set of int64 (outbox ids queued or in flight), linear probing. */
struct idset {
    int64_t *v; /* 0 = empty */
    size_t cap;
    size_t n;
};

struct delivery {
    struct store *store;
    struct presence *presence;
    const struct delivery_ops *ops;
    void *ud;
    int backlog_max;
    struct item *head, *tail;
    size_t queued;
    struct idset pending;
    struct window windows[MAX_WINDOWS];
    size_t nwindows;
    struct window cur; /* sent, barrier not yet sent */
    size_t cur_cap;
    struct window done; /* confirmed, not yet deleted from the store */
    size_t done_cap;
    uint64_t summaries;
};

/* idset ------------------------------------------------------------------ */

static size_t slot_of(int64_t v, size_t cap)
{
    uint64_t h = (uint64_t)v * 0x9e3779b97f4a7c15ULL;

    return (size_t)(h >> 7) & (cap - 1);
}

static bool idset_has(const struct idset *s, int64_t v)
{
    if (s->cap == 0)
        return false;
    for (size_t i = slot_of(v, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->v[i] == 0)
            return false;
        if (s->v[i] == v)
            return true;
    }
}

static void idset_add(struct idset *s, int64_t v);

static void idset_grow(struct idset *s)
{
    struct idset bigger = {xcalloc(s->cap ? s->cap * 2 : 256, sizeof(int64_t)),
                           s->cap ? s->cap * 2 : 256, 0};

    for (size_t i = 0; i < s->cap; i++)
        if (s->v[i] != 0)
            idset_add(&bigger, s->v[i]);
    free(s->v);
    *s = bigger;
}

static void idset_add(struct idset *s, int64_t v)
{
    size_t i;

    if ((s->n + 1) * 2 > s->cap)
        idset_grow(s);
    for (i = slot_of(v, s->cap); s->v[i] != 0; i = (i + 1) & (s->cap - 1))
        if (s->v[i] == v)
            return;
    s->v[i] = v;
    s->n++;
}

static void idset_del(struct idset *s, int64_t v)
{
    size_t i, j;

    if (s->cap == 0)
        return;
    for (i = slot_of(v, s->cap); s->v[i] != v; i = (i + 1) & (s->cap - 1))
        if (s->v[i] == 0)
            return;
    /* Backward-shift deletion keeps probe chains intact. */
    for (j = i;;) {
        s->v[i] = 0;
        for (;;) {
            size_t k;

            j = (j + 1) & (s->cap - 1);
            if (s->v[j] == 0) {
                s->n--;
                return;
            }
            k = slot_of(s->v[j], s->cap);
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            break;
        }
        s->v[i] = s->v[j];
        i = j;
    }
}

static void idset_clear(struct idset *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Bodies and items --------------------------------------------------------- */

static struct body *body_new(const char *text)
{
    size_t len = strlen(text);
    struct body *b = xmalloc(sizeof(*b) + len + 1);

    b->refs = 1;
    memcpy(b->text, text, len + 1);
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
    free(it);
}

static void enqueue(struct delivery *d, int64_t outbox_id, int64_t post,
                    int64_t user, const char *jid, bool away, time_t stamp,
                    struct body *body)
{
    size_t len = strlen(jid);
    struct item *it = xmalloc(sizeof(*it) + len + 1);

    it->next = NULL;
    it->outbox_id = outbox_id;
    it->post = post;
    it->user = user;
    it->stamp = stamp;
    it->away = away;
    it->body = body;
    body->refs++;
    memcpy(it->jid, jid, len + 1);
    if (d->tail != NULL)
        d->tail->next = it;
    else
        d->head = it;
    d->tail = it;
    d->queued++;
    if (outbox_id != 0)
        idset_add(&d->pending, outbox_id);
}

/* Remove queued items matching (post, user); 0 means any. */
static void drop_queued(struct delivery *d, int64_t post, int64_t user)
{
    struct item **pp = &d->head, *last = NULL;

    while (*pp != NULL) {
        struct item *it = *pp;

        if ((post == 0 || it->post == post) &&
            (user == 0 || it->user == user)) {
            *pp = it->next;
            if (it->outbox_id != 0)
                idset_del(&d->pending, it->outbox_id);
            d->queued--;
            item_free(it);
        } else {
            last = it;
            pp = &it->next;
        }
    }
    d->tail = last;
}

/* Public ---------------------------------------------------------------- */

struct delivery *delivery_new(struct store *st, struct presence *pr,
                              const struct delivery_ops *ops, void *ud)
{
    struct delivery *d = xcalloc(1, sizeof(*d));

    d->store = st;
    d->presence = pr;
    d->ops = ops;
    d->ud = ud;
    d->backlog_max = 20;
    return d;
}

/* Delete the confirmed rows from the store. */
static void flush_done(struct delivery *d)
{
    if (d->done.n == 0)
        return;
    if (store_outbox_done(d->store, d->done.ids, d->done.n) < 0)
        log_warnx("delivery: %zu confirmed rows stay in the outbox and "
                  "will be sent again",
                  d->done.n);
    for (size_t j = 0; j < d->done.n; j++)
        idset_del(&d->pending, d->done.ids[j]);
    d->done.n = 0;
}

void delivery_disconnected(struct delivery *d)
{
    struct item *it, *next;

    flush_done(d); /* the server took those before the stream went */

    for (it = d->head; it != NULL; it = next) {
        next = it->next;
        item_free(it);
    }
    d->head = d->tail = NULL;
    d->queued = 0;
    for (size_t i = 0; i < d->nwindows; i++)
        free(d->windows[i].ids);
    d->nwindows = 0;
    d->cur.n = 0;
    idset_clear(&d->pending);
}

void delivery_free(struct delivery *d)
{
    if (d == NULL)
        return;
    delivery_disconnected(d);
    free(d->cur.ids);
    free(d->done.ids);
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
    case POST_PUBLIC:
    default:
        if (p->reply_to > 0)
            return xasprintf("%s (re #%lld): %s (#%lld)", p->author_nick,
                             (long long)p->reply_to, p->body, (long long)p->id);
        return xasprintf("%s: %s (#%lld)", p->author_nick, p->body,
                         (long long)p->id);
    }
}

void delivery_stanza_id(int64_t post, int64_t user, char *out, size_t len)
{
    snprintf(out, len, "starling-%lld-%lld", (long long)post, (long long)user);
}

struct fanout {
    struct delivery *d;
    struct body *body; /* formatted once per post */
};

static int fanout_row(void *ud, const struct outbox_row *r)
{
    struct fanout *f = ud;

    if (idset_has(&f->d->pending, r->id) ||
        !presence_allows(f->d->presence, r->jid, r->away))
        return 0; /* held: stays in the store */
    if (f->body == NULL) {
        char *text = delivery_format(&r->post);

        f->body = body_new(text);
        free(text);
    }
    enqueue(f->d, r->id, r->post.id, r->user, r->jid, r->away, 0, f->body);
    return 0;
}

void delivery_post_committed(struct delivery *d, int64_t post)
{
    struct fanout f = {d, NULL};

    store_outbox_for_post(d->store, post, fanout_row, &f);
    body_unref(f.body);
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
    struct item *it;
    char *text;
    size_t len;

    if (idset_has(&h->d->pending, r->id))
        return 0;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 32;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    len = strlen(r->jid);
    it = xmalloc(sizeof(*it) + len + 1);
    memset(it, 0, sizeof(*it));
    it->outbox_id = r->id;
    it->post = r->post.id;
    it->user = r->user;
    it->stamp = r->post.created;
    it->away = r->away;
    text = delivery_format(&r->post);
    it->body = body_new(text);
    free(text);
    memcpy(it->jid, r->jid, len + 1);
    h->v[h->n++] = it;
    return 0;
}

void delivery_user_changed(struct delivery *d, int64_t user)
{
    struct user u;

    if (store_user_by_id(d->store, user, &u) == 1)
        delivery_user_seen(d, &u);
}

void delivery_user_seen(struct delivery *d, const struct user *u)
{
    struct held h = {d, NULL, 0, 0};
    int64_t user = u->id;
    size_t first = 0;

    if (!u->active || !u->deliver || u->banned ||
        !presence_allows(d->presence, u->jid, u->away))
        return;
    if (store_outbox_for_user(d->store, user, held_row, &h) < 0)
        goto out;
    if (h.n > (size_t)d->backlog_max) {
        size_t drop = h.n - (size_t)d->backlog_max;
        int64_t *ids = xcalloc(drop, sizeof(*ids));
        char *text;
        struct body *b;

        for (size_t i = 0; i < drop; i++)
            ids[i] = h.v[i]->outbox_id;
        if (store_outbox_done(d->store, ids, drop) == 0) {
            first = drop;
            text = xasprintf("While you were away, %zu older update%s "
                             "left out; send \"last\" to read %s.",
                             drop, drop == 1 ? " was" : "s were",
                             drop == 1 ? "it" : "them");
            b = body_new(text);
            enqueue(d, 0, 0, user, u->jid, u->away, 0, b);
            body_unref(b);
            free(text);
        }
        free(ids);
    }
    for (size_t i = first; i < h.n; i++) {
        struct item *it = h.v[i];

        enqueue(d, it->outbox_id, it->post, it->user, it->jid, it->away,
                it->stamp, it->body);
    }
out:
    for (size_t i = 0; i < h.n; i++)
        item_free(h.v[i]);
    free(h.v);
}

void delivery_forget_post(struct delivery *d, int64_t post)
{
    if (post != 0)
        drop_queued(d, post, 0);
}

void delivery_forget_user(struct delivery *d, int64_t user)
{
    if (user != 0)
        drop_queued(d, 0, user);
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
    d->windows[d->nwindows].ids = d->cur.ids;
    d->windows[d->nwindows].n = d->cur.n;
    d->nwindows++;
    d->cur.ids = NULL;
    d->cur.n = 0;
    d->cur_cap = 0;
}

void delivery_pump(struct delivery *d)
{
    char id[64];

    while (d->head != NULL && d->nwindows < MAX_WINDOWS &&
           d->ops->room(d->ud) > 0) {
        struct item *it = d->head;

        if (!presence_allows(d->presence, it->jid, it->away)) {
            /* Gone dnd/offline since queued: held again in the store. */
            d->head = it->next;
            if (d->head == NULL)
                d->tail = NULL;
            d->queued--;
            if (it->outbox_id != 0)
                idset_del(&d->pending, it->outbox_id);
            item_free(it);
            continue;
        }
        if (it->outbox_id != 0)
            delivery_stanza_id(it->post, it->user, id, sizeof(id));
        else
            snprintf(id, sizeof(id), "starling-note-%lld-%llu",
                     (long long)it->user, (unsigned long long)++d->summaries);
        if (d->ops->send(d->ud, it->jid, it->body->text, id, it->stamp) < 0)
            break; /* not connected: stays queued */
        d->head = it->next;
        if (d->head == NULL)
            d->tail = NULL;
        d->queued--;
        if (it->outbox_id != 0) {
            if (d->cur.n == d->cur_cap) {
                d->cur_cap = d->cur_cap ? d->cur_cap * 2 : WINDOW;
                d->cur.ids =
                    xrealloc(d->cur.ids, d->cur_cap * sizeof(*d->cur.ids));
            }
            d->cur.ids[d->cur.n++] = it->outbox_id;
        }
        item_free(it);
        if (d->cur.n >= WINDOW)
            close_window(d);
    }
    if (d->head == NULL)
        close_window(d);
}

void delivery_barrier_done(struct delivery *d, uint64_t token)
{
    for (size_t i = 0; i < d->nwindows; i++) {
        struct window *w = &d->windows[i];

        if (w->token != token)
            continue;
        if (d->done.n + w->n > d->done_cap) {
            d->done_cap = d->done.n + w->n + FLUSH_MAX;
            d->done.ids =
                xrealloc(d->done.ids, d->done_cap * sizeof(*d->done.ids));
        }
        memcpy(d->done.ids + d->done.n, w->ids, w->n * sizeof(*w->ids));
        d->done.n += w->n;
        free(w->ids);
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
    return d->pending.n + (d->queued > 0 ? 1 : 0);
}
