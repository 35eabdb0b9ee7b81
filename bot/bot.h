/*
 * bot.h - the running service as command handlers and dispatch see it.
 *
 * One struct bot exists per process (main.c owns it).  Handlers reach the
 * store, the presence table, the delivery engine and the configuration
 * through it, and reply through the reply buffer of their cmd_ctx; they
 * never talk to the session layer directly.
 */
#ifndef STARLING_BOT_H
#define STARLING_BOT_H

#include <stdbool.h>
#include <time.h>

#include "budget.h"
#include "config.h"
#include "delivery.h"
#include "match.h"
#include "pager.h"
#include "presence.h"
#include "../common/util.h"
#include "../storage/store.h"

struct bot {
    struct config *cfg;
    struct store *store;
    struct presence *presence;
    struct delivery *delivery;
    struct allowlist *allow; /* bot.allow compiled, or NULL */
    struct budget *budget;   /* per-JID message budget */
    struct pager *pager;     /* where listings stopped, for "more" */
    char self[JID_MAX + 1];  /* the bot's own bare JID */
    time_t started;
    /* Clock for the handlers; tests replace it. */
    time_t (*now)(void);
    /* Send a one-off chat reply (not an update) to a bare JID. */
    void (*reply)(struct bot *b, const char *to, const char *text);
    /* Tell a user about someone else's act ("alice now follows you"):
     * sent at once like a reply, but marked as an update; NULL: reply. */
    void (*notice)(struct bot *b, const char *to, const char *text);
};

#endif
