/*
 * budget.h - per-key budgets, so that nobody can use the bot to flood
 * itself or others (reflection).
 *
 * A budget allows `limit` charges per key (a bare JID, a domain) in a
 * minute; the first charge over gets BUDGET_WARN, then the key is ignored
 * for `mute` seconds.  The same entries remember, for BUDGET_TELL_SECONDS,
 * that a key was given a notice it needs only once.  Memory stays
 * bounded: idle entries are dropped.
 *
 * The bot keeps three: chat messages per JID, and subscription requests
 * per JID and per server domain.  The limits below are documented in the
 * README ("Operating it") and starling(8).
 */
#ifndef STARLING_BUDGET_H
#define STARLING_BUDGET_H

#include <stdbool.h>
#include <time.h>

/* Messages: a person typing never gets near this; a script does. */
#define BUDGET_PER_MINUTE   30
#define BUDGET_MUTE_SECONDS 300
#define BUDGET_TELL_SECONDS 600 /* see budget_tell_once() */
/* Subscription requests of one JID: a client asks once, perhaps again
 * after a reconnect; more is somebody flapping add/remove. */
#define SUBS_PER_JID_MINUTE   3
#define SUBS_JID_MUTE_SECONDS 300
/* Subscription requests from one server domain: a busy public server
 * brings a few new users a minute; tens of distinct JIDs a minute from
 * one domain is a script with throw-away accounts.  The mute lasts one
 * minute, so people of that domain get in again a minute later. */
#define SUBS_PER_DOMAIN_MINUTE   30
#define SUBS_DOMAIN_MUTE_SECONDS 60

enum budget_verdict {
    BUDGET_OK,   /* handle the message */
    BUDGET_WARN, /* over budget: send one warning, handle nothing */
    BUDGET_MUTE, /* muted: ignore silently */
};

struct budget;
/* A budget of limit charges per key and minute, then mute seconds of
 * silence. */
struct budget *budget_new(unsigned limit, unsigned mute);
void budget_free(struct budget *b);
/* Account one charge to key at time now. */
enum budget_verdict budget_charge(struct budget *b, const char *key,
                                  time_t now);
/*
 * For a notice that should reach bare at most once in a while (the bot
 * cannot read encrypted messages): true if bare was not told within the
 * last BUDGET_TELL_SECONDS, and records now as told.  Call it after
 * budget_charge() for the same message.
 */
bool budget_tell_once(struct budget *b, const char *bare, time_t now);

#endif
