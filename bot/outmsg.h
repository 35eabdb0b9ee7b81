/*
 * outmsg.h - one outgoing chat message as the delivery engine hands it to
 * the session layer: plain C strings, no XMPP types.  Borrowed, never
 * owned: valid only during the call that takes it.
 */
#ifndef STARLING_OUTMSG_H
#define STARLING_OUTMSG_H

#include <time.h>

struct outmsg {
    const char *to;         /* bare JID */
    const char *author;     /* the nick whose update this is, or NULL:
                               with per-user addresses (SPEC 10) it comes
                               from NICK@domain */
    const char *body;       /* the text, or a fallback for old clients */
    const char *id;         /* stanza id and XEP-0359 origin-id; NULL:
                               the session makes one */
    time_t stamp;           /* != 0: a XEP-0203 <delay/> with this time */
    const char *replace_id; /* XEP-0308: corrects the message with this id */
    const char *retract_id; /* XEP-0424: retracts the message with this id */
    const char *oob_url;    /* XEP-0066: a link to a file (the body is
                               then the URL itself, so that clients show
                               the file), or NULL */
};

#endif
