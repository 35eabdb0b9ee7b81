/*
 * budget.c - per-key budgets (see budget.h).
 *
 * A fixed window per key is enough here: the aim is to cap what one JID
 * or domain can make the bot do, not to shape traffic precisely.  Entries
 * live in a chained hash table; a sweep every few minutes drops the ones
 * that are neither counting, muted nor remembering a notice, so a flood of
 * distinct JIDs cannot grow it without bound for long.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "../common/util.h"

#define WINDOW      60
#define SWEEP_EVERY 120

struct entry {
    struct entry *next;
    time_t window_start;
    time_t muted_until;
    time_t told_until; /* budget_tell_once() */
    unsigned count;
    char key[];
};

struct budget {
    unsigned limit; /* charges per WINDOW */
    unsigned mute;  /* seconds of silence after the first one over */
    struct entry **slots;
    size_t nslots;
    size_t n;
    time_t last_sweep;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

struct budget *budget_new(unsigned limit, unsigned mute)
{
    struct budget *b = xcalloc(1, sizeof(*b));

    b->limit = limit;
    b->mute = mute;
    b->nslots = 1024;
    b->slots = xcalloc(b->nslots, sizeof(*b->slots));
    return b;
}

void budget_free(struct budget *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->nslots; i++) {
        struct entry *e = b->slots[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(b->slots);
    free(b);
}

static void grow(struct budget *b)
{
    size_t nslots = b->nslots * 2;
    struct entry **slots = xcalloc(nslots, sizeof(*slots));

    for (size_t i = 0; i < b->nslots; i++) {
        struct entry *e = b->slots[i], *next;

        for (; e != NULL; e = next) {
            size_t j = hash(e->key) & (nslots - 1);

            next = e->next;
            e->next = slots[j];
            slots[j] = e;
        }
    }
    free(b->slots);
    b->slots = slots;
    b->nslots = nslots;
}

static void sweep(struct budget *b, time_t now)
{
    for (size_t i = 0; i < b->nslots; i++) {
        struct entry **pp = &b->slots[i];

        while (*pp != NULL) {
            struct entry *e = *pp;

            if (e->muted_until <= now && e->told_until <= now &&
                now - e->window_start >= WINDOW) {
                *pp = e->next;
                free(e);
                b->n--;
            } else {
                pp = &e->next;
            }
        }
    }
    b->last_sweep = now;
}

/* The entry of key, made (with a fresh window) if there is none. */
static struct entry *entry_of(struct budget *b, const char *key, time_t now)
{
    struct entry *e;
    size_t i = hash(key) & (b->nslots - 1), len;

    for (e = b->slots[i]; e != NULL; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    if (b->n >= b->nslots)
        grow(b);
    i = hash(key) & (b->nslots - 1);
    len = strlen(key);
    e = xcalloc(1, sizeof(*e) + len + 1);
    memcpy(e->key, key, len + 1);
    e->window_start = now;
    e->next = b->slots[i];
    b->slots[i] = e;
    b->n++;
    return e;
}

enum budget_verdict budget_charge(struct budget *b, const char *key, time_t now)
{
    struct entry *e;

    if (now - b->last_sweep >= SWEEP_EVERY)
        sweep(b, now);
    e = entry_of(b, key, now);
    if (e->muted_until > now)
        return BUDGET_MUTE;
    if (now - e->window_start >= WINDOW) {
        e->window_start = now;
        e->count = 0;
    }
    if (++e->count <= b->limit)
        return BUDGET_OK;
    e->muted_until = now + b->mute;
    e->count = 0;
    e->window_start = e->muted_until;
    return BUDGET_WARN;
}

bool budget_tell_once(struct budget *b, const char *bare, time_t now)
{
    struct entry *e = entry_of(b, bare, now);

    if (e->told_until > now)
        return false;
    e->told_until = now + BUDGET_TELL_SECONDS;
    return true;
}
