/*
 * bot.h - the running service as command handlers and dispatch see it.
 *
 * One struct bot exists per process (main.c owns it).  Handlers reach the
 * store, the presence table, the delivery engine and the configuration
 * through it, and reply through the reply buffer of their cmd_ctx; they
 * never talk to the session layer directly: what goes out goes through
 * the hooks below, which main.c wires to the session layer and tests to
 * recorders.
 */
#ifndef STARLING_BOT_H
#define STARLING_BOT_H

#include <stdbool.h>
#include <time.h>

#include "adhoc.h"
#include "budget.h"
#include "config.h"
#include "delivery.h"
#include "match.h"
#include "pager.h"
#include "presence.h"
#include "../common/util.h"
#include "../storage/store.h"

#define BOT_RECENT_CMDS 1024
#define BOT_ERASE_CODES 64 /* "delete me" codes outstanding at once */
#define CMD_CODE_DIGITS 6  /* a confirmation code: "delete me 123456" */

/* The answer to a change that could not be stored (a full disk). */
#define BOT_STORE_REFUSAL                                                      \
    "Sorry, I cannot store posts right now; nothing was posted or changed. "   \
    "Please try again later."
struct roster; /* the roster of the login under way (dispatch.c) */

struct bot {
    struct config *cfg;
    struct store *store;
    struct presence *presence;
    struct delivery *delivery;
    struct allowlist *allow;    /* bot.allow compiled, or NULL */
    struct budget *budget;      /* per-JID message budget */
    struct budget *subs_jid;    /* per-JID subscription request budget */
    struct budget *subs_domain; /* per-domain subscription request budget */
    struct roster *roster;      /* items received so far, or NULL */
    struct pager *pager;        /* where listings stopped, for "more" */
    char self[JID_MAX + 1];     /* the bot's own bare JID */
    time_t started;
    /* The ids of the last commands users sent, so that correcting one
     * (XEP-0308) runs the corrected command: a ring, oldest overwritten. */
    struct recent_cmd {
        int64_t user;
        time_t at;
        char id[64];
    } recent[BOT_RECENT_CMDS];
    size_t recent_next;
    /* Confirmation codes "delete me" handed out, each valid ten minutes:
     * a ring, oldest overwritten. */
    struct erase_code {
        int64_t user;
        time_t at;
        char code[CMD_CODE_DIGITS + 1];
    } erase[BOT_ERASE_CODES];
    size_t erase_next;
    /* Open XEP-0050 command sessions (forms shown, not yet submitted). */
    struct adhoc_sessions adhoc;
    /* Clock for the handlers; tests replace it. */
    time_t (*now)(void);
    /* Send a one-off chat reply (not an update) to a bare JID. */
    void (*reply)(struct bot *b, const char *to, const char *text);
    /* Answer a XEP-0184 receipt request: the message id came from the
     * full JID to_full.  Called by dispatch once the message is handled;
     * main.c's group commit sends it only after the turn's commit. */
    void (*receipt)(struct bot *b, const char *to_full, const char *id);
    /* Send <presence type="subscribed|subscribe|unsubscribed"/> to a bare
     * JID. */
    void (*subscription)(struct bot *b, const char *to, const char *type);
    /* Tell a user about someone else's act ("alice now follows you"):
     * sent at once like a reply, but marked as an update; NULL: reply. */
    void (*notice)(struct bot *b, const char *to, const char *text);
    /* The same from another address of the bot's domain (component mode,
     * a user's NICK@domain), and that address's presence. */
    void (*subscription_from)(struct bot *b, const char *from, const char *to,
                              const char *type);
    void (*presence_from)(struct bot *b, const char *from, const char *to,
                          const char *status, bool available);
    /* bare became an active user: in component mode the bot greets them
     * (its presence, a probe of theirs). */
    void (*contact)(struct bot *b, const char *bare);
    /* A user was renamed from old_nick to new_nick (status: their bio):
     * tell their follower bare that the address NICK@domain moved; NULL
     * without per-user addresses. */
    void (*address_moved)(struct bot *b, const char *bare, const char *old_nick,
                          const char *new_nick, const char *status);
    /* XEP-0363: the largest file the bot can hand over now, 0 when it
     * cannot (no upload service, not connected).  NULL: never. */
    size_t (*upload_max)(struct bot *b);
    /* Hand doc to the bare JID to as a file named filename of type: 0
     * started, doc taken (left empty), and cmd_export_done() is called
     * with the outcome later, outside any handler; -1 not started (busy,
     * not connected), doc untouched. */
    int (*upload)(struct bot *b, const char *to, const char *filename,
                  const char *type, struct buf *doc);
    /* A chat message that is a XEP-0066 link to a file: its body is url
     * itself, so that clients show the file.  NULL: reply. */
    void (*link)(struct bot *b, const char *to, const char *url);
};

#endif
