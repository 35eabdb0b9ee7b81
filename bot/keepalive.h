/*
 * keepalive.h - whether a stream to the server is alive, as plain C (part
 * of the session layer; no I/O, no clock of its own).
 *
 * A ping goes out after KA_PERIOD seconds in which nothing came from the
 * server.  An outstanding ping makes the stream dead only when, for
 * KA_TIMEOUT seconds, the server showed no sign of life: it sent nothing,
 * and it took nothing of what the bot had waiting for it (stanzas in
 * libstrophe's queue, bytes in the socket's send queue).  A ping that
 * waits behind the bot's own backlog, or behind a busy or throttled
 * server's, is not overdue: dropping such a stream would throw away that
 * backlog and start it again, forever.
 */
#ifndef STARLING_KEEPALIVE_H
#define STARLING_KEEPALIVE_H

#include <stdbool.h>
#include <time.h>

#define KA_PERIOD  60 /* seconds of silence before a ping */
#define KA_TIMEOUT 30 /* seconds without a sign of life: dead */

struct keepalive {
    bool outstanding; /* a ping awaits its answer */
    time_t since;     /* last sign of life (or the ping) */
    long stanzas;     /* waiting to be written, at the last look */
    long bytes;       /* written, not yet taken by the server, likewise */
};

enum ka_action {
    KA_NOTHING,
    KA_PING, /* send a ping now */
    KA_DEAD, /* give the stream up */
};

/* A stream that just started, or whose ping was answered. */
void ka_reset(struct keepalive *k, time_t now);
/* Something arrived from the server. */
void ka_heard(struct keepalive *k, time_t now);
/* A look at the stream, stanzas and bytes being what waits for the server
 * now (each -1 if unknown): what to do. */
enum ka_action ka_tick(struct keepalive *k, time_t now, long stanzas,
                       long bytes);

#endif
