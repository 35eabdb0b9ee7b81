/*
 * dispatch.h - a received stanza, already reduced to plain C by the
 * session layer, goes to the right handler: a chat message to the command
 * layer, a presence to the presence table and the delivery engine, a
 * subscription request through the policy into the store.
 */
#ifndef STARLING_DISPATCH_H
#define STARLING_DISPATCH_H

#include <stdbool.h>

#include "bot.h"
#include "session.h"

enum msg_class {
    MSG_HANDLE,        /* a chat/normal message with a body */
    MSG_IGNORE_TYPE,   /* error, groupchat, headline */
    MSG_IGNORE_NOBODY, /* no body, or an empty one */
    MSG_IGNORE_AUTO,   /* auto-reply or OTR opener: never posted */
};
/* Pure: what to do with a message of this type and body. */
enum msg_class dispatch_classify(const char *type, const char *body);

void dispatch_message(struct bot *b, const struct inmsg *m);
void dispatch_presence(struct bot *b, const char *from_full, enum show show,
                       int priority, bool unavailable);
/* A subscription request (budget, then policy) or a removal. */
void dispatch_subscription(struct bot *b, const char *from_bare,
                           enum sub_kind kind);
/* Roster reconciliation at every login: the items of the roster are
 * collected, then dispatch_roster_done() makes the store match them both
 * ways.  Active users whose item is gone or no longer "from"/"both"
 * become inactive (SPEC 3); "from"/"both" items of unknown or inactive
 * JIDs become users (policy applies, welcome sent).  An empty roster
 * while users are active deactivates nobody (logged). */
void dispatch_roster_item(struct bot *b, const char *bare,
                          const char *subscription);
void dispatch_roster_done(struct bot *b);

#endif
