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
 * confirmed rows are marked delivered together, in one statement, once
 * nothing is in flight or FLUSH_MAX of them wait (a write per window cost
 * more than the sends).  Until then they stay pending, so nothing can
 * queue them twice; a crash before the write sends them again, with the
 * same ids.  A dropped stream forgets everything unconfirmed in memory:
 * the rows are still in the store and go out again once the recipient's
 * presence is seen anew.
 *
 * A delivered row stays for OUTBOX_COPY_SECONDS as the record of a copy
 * the recipient has: a correction of the post (XEP-0308) or its deletion
 * (a XEP-0424 retraction) becomes a row of its own for each such
 * recipient, delivered by the same rules.  What is held for one user is
 * bounded as rows arrive: beyond backlog_max ordinary updates (from
 * people they follow, which "last" shows again) the oldest are dropped
 * and counted for the summary; everything else is always handed over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "zone.h"
#include "../common/log.h"
#include "../common/text.h"
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
    enum outbox_what what;
    int edits;                 /* the post's, for a correction's id */
    char author[NICK_MAX + 1]; /* whose update, "" for the bot's own */
    struct body *body;
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

struct window {
    uint64_t token;
    int64_t *ids;
    size_t n;
};

/* idmap ------------------------------------------------------------------ */

/* An int64 -> int map with linear probing: outbox ids queued or in flight
 * (the value unused), and the ordinary updates held per user. */
struct idmap {
    int64_t *k; /* 0 = empty */
    int *v;
    size_t cap;
    size_t n;
};

static size_t slot_of(int64_t k, size_t cap)
{
    uint64_t h = (uint64_t)k * 0x9e3779b97f4a7c15ULL;

    return (size_t)(h >> 7) & (cap - 1);
}

/* The value of k, or NULL. */
static int *idmap_get(const struct idmap *m, int64_t k)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = slot_of(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->k[i] == 0)
            return NULL;
        if (m->k[i] == k)
            return &m->v[i];
    }
}

static bool idmap_has(const struct idmap *m, int64_t k)
{
    return idmap_get(m, k) != NULL;
}

static void idmap_put(struct idmap *m, int64_t k, int v);

static void idmap_grow(struct idmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    struct idmap bigger = {xcalloc(cap, sizeof(int64_t)),
                           xcalloc(cap, sizeof(int)), cap, 0};

    for (size_t i = 0; i < m->cap; i++)
        if (m->k[i] != 0)
            idmap_put(&bigger, m->k[i], m->v[i]);
    free(m->k);
    free(m->v);
    *m = bigger;
}

static void idmap_put(struct idmap *m, int64_t k, int v)
{
    size_t i;

    if ((m->n + 1) * 2 > m->cap)
        idmap_grow(m);
    for (i = slot_of(k, m->cap); m->k[i] != 0; i = (i + 1) & (m->cap - 1))
        if (m->k[i] == k) {
            m->v[i] = v;
            return;
        }
    m->k[i] = k;
    m->v[i] = v;
    m->n++;
}

static void idmap_del(struct idmap *m, int64_t k)
{
    size_t i, j;

    if (m->cap == 0)
        return;
    for (i = slot_of(k, m->cap); m->k[i] != k; i = (i + 1) & (m->cap - 1))
        if (m->k[i] == 0)
            return;
    /* Backward-shift deletion keeps probe chains intact. */
    for (j = i;;) {
        m->k[i] = 0;
        for (;;) {
            size_t h;

            j = (j + 1) & (m->cap - 1);
            if (m->k[j] == 0) {
                m->n--;
                return;
            }
            h = slot_of(m->k[j], m->cap);
            if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
                continue;
            break;
        }
        m->k[i] = m->k[j];
        m->v[i] = m->v[j];
        i = j;
    }
}

static void idmap_clear(struct idmap *m)
{
    free(m->k);
    free(m->v);
    memset(m, 0, sizeof(*m));
}

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
    size_t cur_cap;
    struct window done; /* confirmed, not yet deleted from the store */
    size_t done_cap;
    uint64_t summaries;
};

static void unpend(struct delivery *d, int64_t id);

/* Bodies and items --------------------------------------------------------- */

/* What a client without XEP-0424 shows for a retraction. */
#define RETRACT_FALLBACK                                                       \
    "This person attempted to retract a previous message, but it's "           \
    "unsupported by your client."

static struct body *body_new(const char *text)
{
    size_t len = strlen(text);
    struct body *b = xmalloc(sizeof(*b) + len + 1);

    b->refs = 1;
    memcpy(b->text, text, len + 1);
    return b;
}

/* The body every recipient of row r sees, formatted once and shared. */
static struct body *body_of(const struct outbox_row *r)
{
    struct body *b;
    char *text;

    if (r->what == OUTBOX_RETRACTION)
        return body_new(RETRACT_FALLBACK);
    text = delivery_format(&r->post);
    b = body_new(text);
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
    free(it);
}

/* A new item for outbox row r (or a summary: r NULL) to jid. */
static struct item *item_new(const struct outbox_row *r, int64_t user,
                             const char *jid, bool away, struct body *body)
{
    size_t len = strlen(jid);
    struct item *it = xcalloc(1, sizeof(*it) + len + 1);

    if (r != NULL) {
        it->outbox_id = r->id;
        it->post = r->post.id;
        it->what = r->what;
        it->edits = r->post.edits;
        /* An announcement is the service's; everything else its author's
         * (SPEC 10: per-user addresses). */
        if (r->post.kind != POST_BROADCAST)
            utf8_copy(it->author, sizeof(it->author), r->post.author_nick);
    }
    it->user = user;
    it->away = away;
    it->body = body;
    body->refs++;
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
    d->now = clock_now;
    d->quiet.size = sizeof(struct quiet);
    d->digests.size = sizeof(struct digest);
    store_quiet_users(st, quiet_user, d);
    store_digest_users(st, digest_user, d);
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
        int64_t id = d->done.ids[j];

        idmap_del(&d->pending, id);
        if (id < 0)
            digest_confirmed(d, -id);
        else
            d->done.ids[rows++] = id;
    }
    if (rows > 0 && store_outbox_done(d->store, d->done.ids, rows) < 0)
        log_warnx("delivery: %zu confirmed rows stay in the outbox and "
                  "will be sent again",
                  rows);
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
    idmap_clear(&d->pending);
    for (size_t i = 0; i < d->digests.n; i++)
        ((struct digest *)tab_at(&d->digests, i))->sending = false;
}

/* Rows sent but never confirmed: no longer pending, collected in lost. */
static void forget_window(struct delivery *d, const struct window *w,
                          struct window *lost)
{
    lost->ids = xrealloc(lost->ids, (lost->n + w->n + 1) * sizeof(*lost->ids));
    for (size_t i = 0; i < w->n; i++) {
        unpend(d, w->ids[i]);
        lost->ids[lost->n++] = w->ids[i];
    }
}

static void user_again(void *ud, int64_t user)
{
    delivery_user_changed(ud, user);
}

void delivery_link_lost(struct delivery *d, const uint64_t *tokens, size_t n,
                        bool current)
{
    struct window lost = {0};
    size_t kept = 0;

    for (size_t i = 0; i < d->nwindows; i++) {
        bool gone = false;

        for (size_t k = 0; k < n && !gone; k++)
            gone = d->windows[i].token == tokens[k];
        if (gone) {
            forget_window(d, &d->windows[i], &lost);
            free(d->windows[i].ids);
        } else {
            d->windows[kept++] = d->windows[i];
        }
    }
    d->nwindows = kept;
    if (current) {
        forget_window(d, &d->cur, &lost);
        d->cur.n = 0;
    }
    /* Their recipients get them queued again, over the links left. */
    if (lost.n > 0)
        log_info("delivery: %zu updates sent over a lost link go out again",
                 lost.n);
    if (lost.n > 0 &&
        store_outbox_users(d->store, lost.ids, lost.n, user_again, d) < 0)
        log_warnx("delivery: %zu rows of a lost link go out on the next "
                  "presence",
                  lost.n);
    free(lost.ids);
}

void delivery_free(struct delivery *d)
{
    if (d == NULL)
        return;
    delivery_disconnected(d);
    idmap_clear(&d->held);
    tab_free(&d->quiet);
    tab_free(&d->digests);
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
    *p = '\0';
    if (len > 0)
        utf8_copy(out, len, id);
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
    b = body_new(text);
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

void delivery_post_committed(struct delivery *d, int64_t post)
{
    queue_rows(d, post, OUTBOX_UPDATE);
}

/* Who has a copy of a post: rows delivered, or sent and not yet
 * confirmed (queued rows were dropped before this is asked). */
struct copies {
    struct delivery *d;
    int64_t *users;
    size_t n, cap;
};

static void copy_row(void *ud, int64_t row, int64_t user, bool delivered,
                     enum outbox_what what)
{
    struct copies *c = ud;

    if (what != OUTBOX_UPDATE ||
        (!delivered && !idmap_has(&c->d->pending, row)))
        return;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->users = xrealloc(c->users, c->cap * sizeof(*c->users));
    }
    c->users[c->n++] = user;
}

static int copies_of(struct delivery *d, int64_t post, struct copies *c)
{
    memset(c, 0, sizeof(*c));
    c->d = d;
    /* Queued but not sent: nobody has those yet. */
    drop_queued(d, post, 0);
    return store_outbox_of_post(d->store, post, copy_row, c);
}

int delivery_post_edited(struct delivery *d, int64_t post, time_t now)
{
    struct copies c;
    int r;

    if ((r = copies_of(d, post, &c)) == 0)
        r = store_outbox_corrections(d->store, post, c.users, c.n, now);
    free(c.users);
    if (r < 0)
        return -1;
    /* Not sent yet: goes out with the new text; sent: corrected. */
    queue_rows(d, post, OUTBOX_UPDATE);
    queue_rows(d, post, OUTBOX_CORRECTION);
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
    if ((r = copies_of(d, post, &c)) == 0)
        r = store_post_delete(d->store, post, c.users, c.n, now);
    free(c.users);
    if (r == 0)
        queue_rows(d, post, OUTBOX_RETRACTION);
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
        struct body *b = body_new(text);

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
    drop_queued(d, 0, user);
    idmap_del(&d->held, user);
}

void delivery_user_reset(struct delivery *d, int64_t user)
{
    delivery_forget_user(d, user);
    delivery_user_changed(d, user);
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
}

void delivery_requeue(struct delivery *d)
{
    struct idmap seen = {0};
    int64_t *users = NULL;
    size_t n = 0, cap = 0;

    for (struct item *it = d->head; it != NULL; it = it->next) {
        if (idmap_has(&seen, it->user))
            continue;
        idmap_put(&seen, it->user, 0);
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            users = xrealloc(users, cap * sizeof(*users));
        }
        users[n++] = it->user;
    }
    drop_queued(d, 0, 0);
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
    d->windows[d->nwindows].ids = d->cur.ids;
    d->windows[d->nwindows].n = d->cur.n;
    d->nwindows++;
    d->cur.ids = NULL;
    d->cur.n = 0;
    d->cur_cap = 0;
}

/* Send one item; 0 sent, -1 not connected. */
static int send_item(struct delivery *d, const struct item *it)
{
    char id[80], ref[64];
    struct outmsg m = {.to = it->jid,
                       .body = it->body->text,
                       .id = id,
                       .author = it->author[0] != '\0' ? it->author : NULL};

    if (it->outbox_id == 0) {
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

void delivery_pump(struct delivery *d)
{
    while (d->head != NULL && d->nwindows < MAX_WINDOWS &&
           d->ops->room(d->ud) > 0) {
        struct item *it = d->head;

        if (!presence_allows(d->presence, it->jid, it->away) ||
            quiet_now(d, it->user)) {
            /* Gone dnd/offline or quiet since queued: held again in the
             * store. */
            d->head = it->next;
            if (d->head == NULL)
                d->tail = NULL;
            d->queued--;
            if (it->outbox_id != 0)
                unpend(d, it->outbox_id);
            item_free(it);
            continue;
        }
        if (send_item(d, it) < 0)
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
