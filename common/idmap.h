/*
 * idmap.h - an int64 -> int hash map with linear probing, for ids kept in
 * memory (outbox rows in flight, users seen for a post...).  Key 0 cannot
 * be stored.  Zero-initialise; idmap_clear() frees.
 */
#ifndef STARLING_IDMAP_H
#define STARLING_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idmap {
    int64_t *k; /* 0 = empty */
    int *v;
    size_t cap;
    size_t n;
};

/* The value of k, or NULL; valid until the next put. */
int *idmap_get(const struct idmap *m, int64_t k);
bool idmap_has(const struct idmap *m, int64_t k);
void idmap_put(struct idmap *m, int64_t k, int v);
void idmap_del(struct idmap *m, int64_t k);
/* Empty, memory freed. */
void idmap_clear(struct idmap *m);

#endif
