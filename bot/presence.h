/*
 * presence.h - who is online where: every resource of every contact with
 * its show and priority, and the best presence per bare JID (SPEC 6).
 *
 * Fed by the session layer through dispatch; emptied on the bot's own
 * reconnect and rebuilt from incoming presence.  No I/O.
 */
#ifndef STARLING_PRESENCE_H
#define STARLING_PRESENCE_H

#include <stdbool.h>
#include <stddef.h>

/* Ordered worst to best, so the best of several resources is the max. */
enum show {
    SHOW_OFFLINE = 0,
    SHOW_DND,
    SHOW_XA,
    SHOW_AWAY,
    SHOW_AVAILABLE,
    SHOW_CHAT,
};

/* "away", "xa", "dnd", "chat", NULL/"" (available); unknown = available. */
enum show presence_show_parse(const char *s);

struct presence;
struct presence *presence_new(void);
void presence_free(struct presence *p);

/* Resources kept per bare JID, at most. */
#define PRESENCE_RESOURCES_MAX 16

/*
 * Record an available presence of full_jid ("user@host/res"; a bare JID
 * counts as the empty resource).  A bare JID keeps at most
 * PRESENCE_RESOURCES_MAX resources: a new one beyond that takes the place
 * of the one with the lowest priority (among equals the worst show, then
 * the one heard of longest ago), or is ignored when its own priority is
 * lower still.  Returns true if the
 * best presence of its bare JID changed.
 */
bool presence_update(struct presence *p, const char *full_jid, enum show show,
                     int priority);
/* Resource gone (unavailable); a bare JID means every resource of it is
 * gone.  true if the best presence changed. */
bool presence_remove(struct presence *p, const char *full_jid);
/* Forget everyone (our own stream went down). */
void presence_clear(struct presence *p);
/* Best show over resources with priority >= 0; SHOW_OFFLINE if none. */
enum show presence_best(const struct presence *p, const char *bare);
/* Would an update go out now to bare, given its "away on" setting? */
bool presence_allows(const struct presence *p, const char *bare,
                     bool deliver_when_away);
/* A count that moves whenever anyone's best show changes (or all are
 * forgotten): what presence_allows() said stays true while it stands. */
unsigned long presence_changes(const struct presence *p);
/* Number of bare JIDs with at least one available resource. */
size_t presence_online_count(const struct presence *p);
/* cb for each bare JID with an available resource. */
void presence_each_online(const struct presence *p,
                          void (*cb)(void *ud, const char *bare), void *ud);

#endif
