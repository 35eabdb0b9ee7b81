/*
 * delivery.h - who gets what, and when (SPEC 6).
 *
 * Decides from the store's outbox and the presence table alone; knows
 * nothing about sockets.  Sending goes through struct delivery_ops, which
 * main.c wires to the session layer and tests wire to a recorder.
 *
 * The outbox is the single source of truth: a row is deleted only after
 * the server confirmed a barrier sent behind it.  Rows in flight when the
 * stream drops stay in the store and go out again once the recipient's
 * presence is seen after reconnect.
 */
#ifndef STARLING_DELIVERY_H
#define STARLING_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "presence.h"
#include "../storage/store.h"

struct delivery_ops {
    /* Room for how many more stanzas right now (0: stop sending). */
    size_t (*room)(void *ud);
    /* Send a chat message to a bare JID; stamp 0 = no <delay/>. */
    int (*send)(void *ud, const char *to, const char *body, const char *id,
                time_t stamp);
    /* Send a barrier; its confirmation comes back through
     * delivery_barrier_done() with the same token. */
    int (*barrier)(void *ud, uint64_t *token);
};

struct delivery;

struct delivery *delivery_new(struct store *st, struct presence *pr,
                              const struct delivery_ops *ops, void *ud);
void delivery_free(struct delivery *d);
void delivery_set_backlog_max(struct delivery *d, int backlog_max);

/* A post was committed: queue its rows for recipients present now. */
void delivery_post_committed(struct delivery *d, int64_t post);
/* A user's presence (or away setting, or on/off) changed: if updates may
 * go out now, queue the held ones (summary first beyond backlog_max). */
void delivery_user_changed(struct delivery *d, int64_t user);
/* The same, for a user just read from the store. */
void delivery_user_seen(struct delivery *d, const struct user *u);
/* Forget queued rows of a deleted post / a user who left or was banned. */
void delivery_forget_post(struct delivery *d, int64_t post);
void delivery_forget_user(struct delivery *d, int64_t user);
/* Send what the window allows; call after every loop iteration. */
void delivery_pump(struct delivery *d);
void delivery_barrier_done(struct delivery *d, uint64_t token);
/* The stream dropped: in-flight and queued rows are forgotten (they stay
 * in the store). */
void delivery_disconnected(struct delivery *d);
/* Queued + in flight, for stats and tests. */
size_t delivery_pending(const struct delivery *d);

/* The text of an update as recipients see it; caller frees. */
char *delivery_format(const struct post *p);
/* Stable stanza id of a delivery: same (post, user) -> same id. */
void delivery_stanza_id(int64_t post, int64_t user, char *out, size_t len);

#endif
