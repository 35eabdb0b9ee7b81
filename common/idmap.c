/*
 * idmap.c - see idmap.h.
 */
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "util.h"

static size_t slot_of(int64_t k, size_t cap)
{
    uint64_t h = (uint64_t)k * 0x9e3779b97f4a7c15ULL;

    return (size_t)(h >> 7) & (cap - 1);
}

int *idmap_get(const struct idmap *m, int64_t k)
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

bool idmap_has(const struct idmap *m, int64_t k)
{
    return idmap_get(m, k) != NULL;
}

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

void idmap_put(struct idmap *m, int64_t k, int v)
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

void idmap_del(struct idmap *m, int64_t k)
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

void idmap_clear(struct idmap *m)
{
    free(m->k);
    free(m->v);
    memset(m, 0, sizeof(*m));
}
