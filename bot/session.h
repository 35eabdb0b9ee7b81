/*
 * session.h - the only user of <strophe.h>: one XMPP client connection
 * with verified TLS, reconnect with backoff and jitter, keep-alive pings,
 * the roster, the basic IQs (disco#info, version, ping), and a bounded
 * send window.  Everything above this layer speaks plain C strings.
 *
 * Strings passed to callbacks are valid only during the callback.
 * session_* send functions never take ownership of their arguments.
 */
#ifndef STARLING_SESSION_H
#define STARLING_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "presence.h"

enum sub_kind {
    SUB_SUBSCRIBE,
    SUB_SUBSCRIBED,
    SUB_UNSUBSCRIBE,
    SUB_UNSUBSCRIBED
};

/* Encryption a message says it carries (SPEC 9): never posted. */
enum msg_crypto {
    CRYPTO_NONE = 0,
    CRYPTO_OMEMO, /* eu.siacs.conversations.axolotl, urn:xmpp:omemo:2 */
    CRYPTO_OX,    /* urn:xmpp:openpgp:0 */
    CRYPTO_PGP,   /* jabber:x:encrypted */
    CRYPTO_OTR,   /* an OTR body or urn:xmpp:otr:0 */
};

#define INMSG_REACTIONS_MAX 8

/* An incoming <message/>, before any filtering (see dispatch).  Every
 * extension field is NULL / 0 / false when the stanza lacks it. */
struct inmsg {
    const char *from;        /* full JID as stamped by the server */
    const char *type;        /* "chat", "normal", "error", ... or NULL */
    const char *id;          /* stanza id or NULL */
    const char *body;        /* NULL if the message has no <body/>; for a
                                XEP-0461 reply, the body with the XEP-0428
                                fallback quote cut off */
    const char *origin_id;   /* XEP-0359 <origin-id id=.../> */
    const char *replace_id;  /* XEP-0308: id of the message corrected */
    const char *retract_id;  /* XEP-0424 (either form): id retracted */
    const char *reply_id;    /* XEP-0461 <reply id=.../> */
    const char *reaction_id; /* XEP-0444 <reactions id=.../> */
    const char *reactions[INMSG_REACTIONS_MAX]; /* the emoji, at most */
    size_t n_reactions;
    enum msg_crypto crypto;
    bool receipt_request; /* XEP-0184 <request/> */
};

struct session_callbacks {
    /* Logged in, roster received, initial presence sent. */
    void (*ready)(void *ud);
    /* The stream is gone; a reconnect is scheduled. */
    void (*disconnected)(void *ud);
    /* Authentication refused: fatal at first login. */
    void (*auth_failed)(void *ud);
    void (*message)(void *ud, const struct inmsg *m);
    /* Available (unavailable=false) or unavailable presence of a
     * contact's resource; not called for our own JID. */
    void (*presence)(void *ud, const char *from_full, enum show show,
                     int priority, bool unavailable);
    void (*subscription)(void *ud, const char *from_bare, enum sub_kind kind);
    /* One roster item, during the roster fetch after login;
     * subscription is "none", "to", "from" or "both". */
    void (*roster_item)(void *ud, const char *bare, const char *subscription);
    /* After the last roster item of a login (not called when the server
     * answered the roster request with an error). */
    void (*roster_done)(void *ud);
    /* The server answered barrier token: every stanza sent before it on
     * this stream has been accepted. */
    void (*barrier)(void *ud, uint64_t token);
};

/* Create the context and start connecting.  0, or -1 (logged). */
int session_start(const struct config *cfg, const struct session_callbacks *cb,
                  void *ud);
/* Run the event loop once for at most timeout_ms. */
void session_run_once(unsigned long timeout_ms);
/* Between these two, every stanza the session sends waits in memory (in
 * order); session_release() hands them to libstrophe.  With both around
 * session_run_once(), a turn reads on while stanzas keep coming.  Used for
 * group commit: nothing an answer confirms leaves before its commit. */
void session_hold(void);
void session_release(void);
/* Replace the settings SIGHUP may change (none of the xmpp section). */
void session_reconfigure(const struct config *cfg);
/* Send unavailable presence, close the stream, free everything. */
void session_stop(void);

bool session_connected(void);
/* How many more stanzas may be queued now without exceeding the window;
 * 0 while disconnected. */
size_t session_send_room(void);

/*
 * A chat message to a bare JID.  id may be NULL (one is generated);
 * stamp != 0 adds a XEP-0203 <delay/> with that time.  0 queued, -1 not
 * connected (nothing sent).
 */
int session_send_chat(const char *to, const char *body, const char *id,
                      time_t stamp);
/* <presence type="subscribed|subscribe|unsubscribed|unsubscribe"/>. */
int session_send_subscription(const char *to, const char *type);
/* Send a ping to our server; its answer calls the barrier callback with
 * *token.  0, or -1 when not connected. */
int session_barrier(uint64_t *token);

#endif
