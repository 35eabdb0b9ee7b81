/*
 * keepalive.c - whether a stream to the server is alive (see
 * keepalive.h).
 */
#include "keepalive.h"

void ka_reset(struct keepalive *k, time_t now)
{
    k->outstanding = false;
    k->since = now;
    k->stanzas = k->bytes = -1;
}

void ka_heard(struct keepalive *k, time_t now)
{
    k->since = now;
}

/* Did what waits shrink since the last look (the server took some)? */
static bool drained(long before, long now)
{
    return before >= 0 && now >= 0 && now < before;
}

enum ka_action ka_tick(struct keepalive *k, time_t now, long stanzas,
                       long bytes)
{
    bool progress = drained(k->stanzas, stanzas) || drained(k->bytes, bytes);

    k->stanzas = stanzas;
    k->bytes = bytes;
    if (k->outstanding) {
        if (progress)
            k->since = now;
        return now - k->since >= KA_TIMEOUT ? KA_DEAD : KA_NOTHING;
    }
    if (now - k->since < KA_PERIOD)
        return KA_NOTHING;
    k->outstanding = true;
    k->since = now;
    return KA_PING;
}
