/*
 * presence.c - every resource of every contact, and the best show per
 * bare JID (SPEC 6).
 *
 * An open-addressing hash table keyed by bare JID; each entry keeps its
 * resources in a small array, at most PRESENCE_RESOURCES_MAX of them, so
 * that a contact opening resources without end costs bounded memory.  The
 * number of bare JIDs with a counting resource (priority >= 0) is kept up
 * to date on every change, so that stats never walks the table.
 *
 * Every post looks up each recipient here.  A slot keeps its key's hash,
 * and the keys themselves sit end to end in one array (p->keys), so that
 * a lookup reads the slots and a small block of keys instead of a string
 * somewhere in the heap for every slot it probes: at 5,000 followers the
 * lookups had been 4 % of the bot's CPU in a fan-out (perf).  Keys of
 * forgotten entries are left in place until the next rehash, which writes
 * the live ones anew; a rehash comes when they take more room than the
 * live ones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "presence.h"
#include "../common/text.h"
#include "../common/util.h"

struct resource {
    char *name;
    enum show show;
    int priority;
    unsigned long seen; /* entry's clock at its last presence */
};

enum slot { SLOT_EMPTY = 0, SLOT_LIVE, SLOT_DELETED };

struct entry {
    uint64_t hash;
    size_t key; /* offset of the bare JID in p->keys, NUL-terminated */
    struct resource *res;
    unsigned long clock; /* counts this JID's presences */
    uint32_t nres;
    uint8_t state; /* enum slot */
    uint8_t best;  /* enum show */
};

struct presence {
    struct entry *slots;
    size_t nslots;
    size_t used; /* live + deleted */
    size_t live;
    size_t online;
    unsigned long changes; /* how often anyone's best show changed */
    struct buf keys;       /* the bare JIDs of the slots, end to end */
    size_t keys_dead;      /* bytes of keys no live slot names */
};

enum show presence_show_parse(const char *s)
{
    if (s == NULL || *s == '\0')
        return SHOW_AVAILABLE;
    if (strcmp(s, "away") == 0)
        return SHOW_AWAY;
    if (strcmp(s, "xa") == 0)
        return SHOW_XA;
    if (strcmp(s, "dnd") == 0)
        return SHOW_DND;
    if (strcmp(s, "chat") == 0)
        return SHOW_CHAT;
    return SHOW_AVAILABLE;
}

struct presence *presence_new(void)
{
    struct presence *p = xcalloc(1, sizeof(*p));

    p->nslots = 64;
    p->slots = xcalloc(p->nslots, sizeof(*p->slots));
    p->changes = 1; /* never 0, what an item that was never looked at has */
    return p;
}

static const char *key_of(const struct presence *p, const struct entry *e)
{
    return p->keys.s + e->key;
}

/* Forget e's resources and its key. */
static void entry_clear(struct presence *p, struct entry *e)
{
    for (size_t i = 0; i < e->nres; i++)
        free(e->res[i].name);
    free(e->res);
    e->res = NULL;
    e->nres = 0;
    p->keys_dead += strlen(key_of(p, e)) + 1;
}

void presence_clear(struct presence *p)
{
    for (size_t i = 0; i < p->nslots; i++) {
        struct entry *e = &p->slots[i];

        if (e->state == SLOT_LIVE)
            entry_clear(p, e);
        e->state = SLOT_EMPTY;
    }
    p->used = p->live = p->online = 0;
    buf_reset(&p->keys);
    p->keys_dead = 0;
    p->changes++;
}

void presence_free(struct presence *p)
{
    if (p == NULL)
        return;
    presence_clear(p);
    free(p->slots);
    buf_free(&p->keys);
    free(p);
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot of bare, or NULL. */
static struct entry *find(const struct presence *p, const char *bare)
{
    size_t mask = p->nslots - 1;
    uint64_t h = hash(bare);

    /* strcmp(), not memcmp(): a key shorter than bare may end the block. */
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct entry *e = &p->slots[i];

        if (e->state == SLOT_EMPTY)
            return NULL;
        if (e->state == SLOT_LIVE && e->hash == h &&
            strcmp(key_of(p, e), bare) == 0)
            return e;
    }
}

/* Append key, with its NUL, to p->keys; its offset. */
static size_t key_add(struct presence *p, const char *key)
{
    size_t at = p->keys.len;

    buf_appendn(&p->keys, key, strlen(key) + 1);
    return at;
}

/* Into nslots slots, and every live key written anew (in slot order). */
static void rehash(struct presence *p, size_t nslots)
{
    struct entry *old = p->slots;
    struct buf keys = p->keys;
    size_t n = p->nslots;

    p->slots = xcalloc(nslots, sizeof(*p->slots));
    p->nslots = nslots;
    p->used = p->live;
    memset(&p->keys, 0, sizeof(p->keys));
    p->keys_dead = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = keys.s + old[i].key;
        size_t j;

        if (old[i].state != SLOT_LIVE)
            continue;
        for (j = old[i].hash & (nslots - 1); p->slots[j].state != SLOT_EMPTY;
             j = (j + 1) & (nslots - 1))
            ;
        p->slots[j] = old[i];
        p->slots[j].key = key_add(p, key);
    }
    buf_free(&keys);
    free(old);
}

static struct entry *insert(struct presence *p, const char *bare)
{
    size_t mask, i;
    uint64_t h = hash(bare);

    if ((p->used + 1) * 4 >= p->nslots * 3)
        rehash(p, p->live * 4 >= p->nslots ? p->nslots * 2 : p->nslots);
    else if (p->keys_dead > 4096 && p->keys_dead > p->keys.len / 2)
        rehash(p, p->nslots); /* forgotten keys take more room than live */
    mask = p->nslots - 1;
    for (i = h & mask; p->slots[i].state == SLOT_LIVE; i = (i + 1) & mask)
        ;
    if (p->slots[i].state == SLOT_EMPTY)
        p->used++;
    p->live++;
    memset(&p->slots[i], 0, sizeof(p->slots[i]));
    p->slots[i].state = SLOT_LIVE;
    p->slots[i].hash = h;
    p->slots[i].key = key_add(p, bare);
    return &p->slots[i];
}

static enum show compute_best(const struct entry *e)
{
    enum show best = SHOW_OFFLINE;

    for (size_t i = 0; i < e->nres; i++)
        if (e->res[i].priority >= 0 && e->res[i].show > best)
            best = e->res[i].show;
    return best;
}

/* Recompute e's best; keep the online count; drop e if it is empty. */
static bool settle(struct presence *p, struct entry *e)
{
    enum show before = e->best, after = compute_best(e);

    if (before == SHOW_OFFLINE && after != SHOW_OFFLINE)
        p->online++;
    else if (before != SHOW_OFFLINE && after == SHOW_OFFLINE)
        p->online--;
    e->best = after;
    if (before != after)
        p->changes++;
    if (e->nres == 0) {
        entry_clear(p, e);
        e->state = SLOT_DELETED;
        p->live--;
    }
    return before != after;
}

static int split(const char *full, char *bare, const char **res)
{
    if (jid_bare(full, bare, JID_MAX + 1) < 0)
        return -1;
    *res = jid_resource(full);
    if (*res == NULL)
        *res = "";
    return 0;
}

/* The resource a new one replaces when e is full: the lowest priority,
 * the worst show among equals, the one heard of longest ago among those. */
static size_t weakest(const struct entry *e)
{
    size_t w = 0;

    for (size_t i = 1; i < e->nres; i++) {
        const struct resource *r = &e->res[i], *b = &e->res[w];

        if (r->priority != b->priority ? r->priority < b->priority
            : r->show != b->show       ? r->show < b->show
                                       : r->seen < b->seen)
            w = i;
    }
    return w;
}

bool presence_update(struct presence *p, const char *full_jid, enum show show,
                     int priority)
{
    char bare[JID_MAX + 1];
    const char *name;
    struct entry *e;
    size_t i;

    if (split(full_jid, bare, &name) < 0)
        return false;
    if ((e = find(p, bare)) == NULL)
        e = insert(p, bare);
    for (i = 0; i < e->nres; i++)
        if (strcmp(e->res[i].name, name) == 0)
            break;
    if (i == e->nres && e->nres == PRESENCE_RESOURCES_MAX) {
        i = weakest(e);
        if (priority < e->res[i].priority)
            return false; /* weaker than all it would replace */
        free(e->res[i].name);
        e->res[i].name = xstrdup(name);
    } else if (i == e->nres) {
        e->res = xrealloc(e->res, (e->nres + 1) * sizeof(*e->res));
        e->res[i].name = xstrdup(name);
        e->nres++;
    }
    e->res[i].show = show;
    e->res[i].priority = priority;
    e->res[i].seen = ++e->clock;
    return settle(p, e);
}

bool presence_remove(struct presence *p, const char *full_jid)
{
    char bare[JID_MAX + 1];
    const char *name;
    struct entry *e;

    if (split(full_jid, bare, &name) < 0 || (e = find(p, bare)) == NULL)
        return false;
    if (jid_resource(full_jid) == NULL) {
        /* From the bare JID: all of them.  settle() drops the entry. */
        for (size_t i = 0; i < e->nres; i++)
            free(e->res[i].name);
        e->nres = 0;
        return settle(p, e);
    }
    for (size_t i = 0; i < e->nres; i++) {
        if (strcmp(e->res[i].name, name) == 0) {
            free(e->res[i].name);
            e->res[i] = e->res[--e->nres];
            return settle(p, e);
        }
    }
    return false;
}

enum show presence_best(const struct presence *p, const char *bare)
{
    char norm[JID_MAX + 1];
    const struct entry *e;

    /* A JID from the store is normalised already: looked up as it is
     * first, which spares every delivery a copy; anything else that is
     * not found is normalised and looked up again. */
    if ((e = find(p, bare)) != NULL)
        return e->best;
    if (jid_bare(bare, norm, sizeof(norm)) < 0)
        return SHOW_OFFLINE;
    e = find(p, norm);
    return e != NULL ? e->best : SHOW_OFFLINE;
}

bool presence_allows(const struct presence *p, const char *bare,
                     bool deliver_when_away)
{
    switch (presence_best(p, bare)) {
    case SHOW_AVAILABLE:
    case SHOW_CHAT:
        return true;
    case SHOW_AWAY:
    case SHOW_XA:
        return deliver_when_away;
    case SHOW_DND:
    case SHOW_OFFLINE:
        break;
    }
    return false;
}

unsigned long presence_changes(const struct presence *p)
{
    return p->changes;
}

size_t presence_online_count(const struct presence *p)
{
    return p->online;
}

void presence_each_online(const struct presence *p,
                          void (*cb)(void *ud, const char *bare), void *ud)
{
    for (size_t i = 0; i < p->nslots; i++) {
        const struct entry *e = &p->slots[i];

        if (e->state == SLOT_LIVE && e->best != SHOW_OFFLINE)
            cb(ud, key_of(p, e));
    }
}
