/*
 * delivery.h - who gets what, and when (SPEC 6).
 *
 * Decides from the store's outbox and the presence table alone; knows
 * nothing about sockets.  Sending goes through struct delivery_ops, which
 * main.c wires to the session layer and tests wire to a recorder.
 *
 * The store is the single source of truth: an update is marked delivered
 * (an outbox row, or an entry of its post's fan-out record) only after the
 * server confirmed a barrier sent behind it.  Updates in flight when the
 * stream drops are held in the store and go out again once the
 * recipient's presence is seen after reconnect.
 */
#ifndef STARLING_DELIVERY_H
#define STARLING_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "outmsg.h"
#include "presence.h"
#include "../storage/store.h"

struct delivery_ops {
    /* Room for how many more stanzas right now (0: stop sending). */
    size_t (*room)(void *ud);
    /* Send one message; 0 queued, -1 not connected. */
    int (*send)(void *ud, const struct outmsg *m);
    /* Send a barrier; its confirmation comes back through
     * delivery_barrier_done() with the same token. */
    int (*barrier)(void *ud, uint64_t *token);
};

struct delivery;

struct delivery *delivery_new(struct store *st, struct presence *pr,
                              const struct delivery_ops *ops, void *ud);
void delivery_free(struct delivery *d);
void delivery_set_backlog_max(struct delivery *d, int backlog_max);
/* The clock quiet hours are looked at by (default time()); tests fake it. */
void delivery_set_clock(struct delivery *d, time_t (*now)(void));

/* A post was stored (in the loop's batch: nothing queued leaves before
 * the commit): queue its rows for recipients present now.  Rows
 * held for someone who may not receive them now count against what may be
 * held for them: beyond backlog_max ordinary updates, the oldest are
 * dropped and counted for the summary (SPEC 6). */
void delivery_post_committed(struct delivery *d, int64_t post);
/* Post was corrected (store_post_edit() done, in the same transaction):
 * every recipient with a copy gets a correction of it, held ones the new
 * text.  -1 on a store error. */
int delivery_post_edited(struct delivery *d, int64_t post, time_t now);
/* Delete post: its held rows go, every recipient with a copy gets a
 * retraction of it.  0 deleted, 1 no such post, -1 store error. */
int delivery_post_delete(struct delivery *d, int64_t post, time_t now);
/* A user's presence or settings (away, on/off, quiet hours) changed: if
 * updates may go out now, queue the held ones (summary first beyond
 * backlog_max).  During quiet hours (issue 15) updates are held as for
 * dnd, and handed over by delivery_tick() when they end. */
void delivery_user_changed(struct delivery *d, int64_t user);
/* The same, for a user just read from the store. */
void delivery_user_seen(struct delivery *d, const struct user *u);
/* Forget queued rows of a user who left or was banned. */
void delivery_forget_user(struct delivery *d, int64_t user);
/* A user's settings changed (away, a block): what is queued for them in
 * memory is looked at again. */
void delivery_user_reset(struct delivery *d, int64_t user);
/* Housekeeping, about once a minute: hand over what quiet hours that
 * ended held, and forget delivered copies older than OUTBOX_COPY_SECONDS,
 * a bounded number at a time. */
void delivery_tick(struct delivery *d, time_t now);
/* The batch some queued rows came from was rolled back: what is queued
 * and not yet sent is dropped and read again from the store, for the
 * users it was for.  (What is in flight stays in flight.) */
void delivery_requeue(struct delivery *d);
/* Send what the window allows; call after every loop iteration. */
void delivery_pump(struct delivery *d);
void delivery_barrier_done(struct delivery *d, uint64_t token);
/* One of several links dropped (component mode): the windows of the
 * barriers in tokens, and with current what was sent since the last
 * barrier, never arrive for sure; their rows go out again over the
 * other links. */
void delivery_link_lost(struct delivery *d, const uint64_t *tokens, size_t n,
                        bool current);
/* The stream dropped: in-flight and queued rows are forgotten (they stay
 * in the store). */
void delivery_disconnected(struct delivery *d);
/* Test hook: queued + in flight (the tests wait for it to drain). */
size_t delivery_pending(const struct delivery *d);

/* The text of an update as recipients see it; caller frees. */
char *delivery_format(const struct post *p);
/* Stable stanza id of a delivery: same (post, user) -> same id. */
void delivery_stanza_id(int64_t post, int64_t user, char *out, size_t len);
/* The post a delivered copy's stanza id names, or 0. */
int64_t delivery_post_of_id(const char *id);

#endif
