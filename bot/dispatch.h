/*
 * dispatch.h - a received stanza, already reduced to plain C by the
 * session layer, goes to the right handler: a chat message to the command
 * layer, a presence to the presence table and the delivery engine, a
 * subscription request through the policy into the store.
 */
#ifndef STARLING_DISPATCH_H
#define STARLING_DISPATCH_H

#include <stdbool.h>

#include "adhoc.h"
#include "bot.h"
#include "session.h"

enum msg_class {
    MSG_HANDLE,        /* a chat/normal message with a body: command or
                          post */
    MSG_IGNORE_TYPE,   /* error, groupchat, headline */
    MSG_IGNORE_NOBODY, /* no body, or an empty one: chat states, markers,
                          OMEMO key transport */
    MSG_IGNORE_AUTO,   /* auto-reply: never posted */
    MSG_ENCRYPTED,     /* OMEMO, OpenPGP, PGP, OTR...: never posted, the
                          sender is told why */
    MSG_RETRACTION,    /* XEP-0424: its body is only a fallback */
    MSG_REACTION,      /* XEP-0444 */
    MSG_CORRECTION,    /* XEP-0308 */
};
/* Pure: what to do with a message, by its type, body and extensions. */
enum msg_class dispatch_classify(const struct inmsg *m);

/*
 * A received message, end to end: classified, charged to its sender's
 * budget, handled, and its XEP-0184 receipt request answered (b->receipt)
 * once it was handled.  Ignored messages (an ignored type or class, a
 * sender that is no user JID or is muted) get nothing back, not even a
 * receipt, so that two automatons can never keep each other busy.
 */
void dispatch_message(struct bot *b, const struct inmsg *m);
void dispatch_presence(struct bot *b, const char *from_full, enum show show,
                       int priority, bool unavailable);
/* A subscription request (budget, then policy) or a removal, to the bot
 * or (component mode) to a user's NICK@domain, which follows NICK. */
void dispatch_subscription(struct bot *b, const char *from_bare, const char *to,
                           enum sub_kind kind);
/* Component mode: from_bare's server asks for the presence of to, a
 * user's NICK@domain: available with NICK's bio, never NICK's own. */
void dispatch_probe(struct bot *b, const char *from_bare, const char *to);
/* Roster reconciliation at every login: the items of the roster are
 * collected, then dispatch_roster_done() makes the store match them both
 * ways.  Active users whose item is gone or no longer "from"/"both"
 * become inactive (SPEC 3); "from"/"both" items of unknown or inactive
 * JIDs become users (policy applies, welcome sent).  An empty roster
 * while users are active deactivates nobody (logged). */
void dispatch_roster_item(struct bot *b, const char *bare,
                          const char *subscription);
void dispatch_roster_done(struct bot *b);

/*
 * XEP-0050 ad-hoc commands (SPEC 9), for registered active users only: a
 * request from req->from answered in *resp (zero-initialised by the
 * caller, freed with adhoc_response_free()).  A submitted form runs as
 * the chat commands it stands for, their replies the note.
 */
void dispatch_command(struct bot *b, const struct adhoc_request *req,
                      struct adhoc_response *resp);
/* The commands from (a full JID) may run, for disco#items: none for a
 * non-user, every one for an admin.  At most max into out; how many. */
size_t dispatch_command_list(struct bot *b, const char *from,
                             const struct adhoc_command **out, size_t max);

#endif
