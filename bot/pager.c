/*
 * pager.c - a fixed table of (user, listing state), least recently used
 * evicted.  A linear search is enough: the table is small (see main.c)
 * and a lookup happens once per listing command, not per delivery.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "pager.h"

struct slot {
    int64_t user; /* 0: free */
    uint64_t used;
    struct page_state state;
};

struct pager {
    struct slot *slots;
    size_t n;
    uint64_t clock;
};

struct pager *pager_new(size_t max_users)
{
    struct pager *p = xcalloc(1, sizeof(*p));

    p->n = max_users > 0 ? max_users : 1;
    p->slots = xcalloc(p->n, sizeof(*p->slots));
    return p;
}

void pager_free(struct pager *p)
{
    if (p == NULL)
        return;
    free(p->slots);
    free(p);
}

static struct slot *find(struct pager *p, int64_t user)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->slots[i].user == user)
            return &p->slots[i];
    return NULL;
}

void pager_put(struct pager *p, int64_t user, const struct page_state *s)
{
    struct slot *slot;

    if (p == NULL || user == 0)
        return;
    if ((slot = find(p, user)) == NULL) {
        slot = &p->slots[0];
        for (size_t i = 1; i < p->n && slot->user != 0; i++)
            if (p->slots[i].user == 0 || p->slots[i].used < slot->used)
                slot = &p->slots[i];
    }
    slot->user = user;
    slot->used = ++p->clock;
    slot->state = *s;
}

bool pager_get(struct pager *p, int64_t user, struct page_state *out)
{
    struct slot *slot;

    if (p == NULL || user == 0 || (slot = find(p, user)) == NULL)
        return false;
    slot->used = ++p->clock;
    *out = slot->state;
    return true;
}

void pager_drop(struct pager *p, int64_t user)
{
    struct slot *slot;

    if (p != NULL && user != 0 && (slot = find(p, user)) != NULL)
        memset(slot, 0, sizeof(*slot));
}
