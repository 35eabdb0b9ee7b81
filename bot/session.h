/*
 * session.h - the XMPP session layer: one client connection with verified
 * TLS, reconnect with backoff and jitter, keep-alive pings, the roster,
 * the IQs the bot answers (disco#info with XEP-0115 caps, version, ping,
 * vCard), and a bounded send window.  Everything above this layer speaks
 * plain C strings.
 *
 * The layer is two files, the only ones that include <strophe.h>:
 * session.c (the connection) and stanza.c (pure parsing of a received
 * <message/> into struct inmsg, unit-tested from stanza strings).
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

#include "adhoc.h"
#include "config.h"
#include "outmsg.h"
#include "presence.h"
#include "upload.h"

enum sub_kind {
    SUB_SUBSCRIBE,
    SUB_SUBSCRIBED,
    SUB_UNSUBSCRIBE,
    SUB_UNSUBSCRIBED
};

/*
 * Encryption a message carries (SPEC 9): never posted, whatever its
 * fallback body says.  Set only when there is something encrypted to
 * read: an OMEMO element with a <payload/>, an OpenPGP or legacy PGP
 * element, an OTR body, or any of these (or a XEP-0380 <encryption/>)
 * next to a body.  An OMEMO key-transport or heartbeat message (no
 * payload, no body) is CRYPTO_NONE: nothing a user wrote.
 */
enum msg_crypto {
    CRYPTO_NONE = 0,
    CRYPTO_OMEMO, /* eu.siacs.conversations.axolotl, urn:xmpp:omemo:1/2 */
    CRYPTO_OX,    /* urn:xmpp:openpgp:0 */
    CRYPTO_PGP,   /* jabber:x:encrypted */
    CRYPTO_OTR,   /* a body starting "?OTR", or urn:xmpp:otr:0 */
    CRYPTO_OTHER, /* XEP-0380 <encryption/> naming another method */
};

#define INMSG_REACTIONS_MAX 8

/*
 * An incoming <message/>, before any filtering (see dispatch).  Every
 * extension field is NULL / 0 / false when the stanza lacks it.  An id
 * field is non-NULL whenever its element is present: "" when the element
 * came without its id attribute (malformed, but still a correction,
 * retraction... that must never be posted as text).
 */
struct inmsg {
    const char *from;        /* full JID as stamped by the server */
    const char *to;          /* the address written to (component mode:
                                maybe a user's NICK@domain), or NULL */
    const char *type;        /* "chat", "normal", "error", ... or NULL */
    const char *id;          /* stanza id or NULL */
    const char *body;        /* NULL if the message has no <body/>; for a
                                XEP-0461 reply, the body with the XEP-0428
                                fallback quote cut off (see stanza.c for
                                ranges that are not trusted) */
    const char *origin_id;   /* XEP-0359 <origin-id id=.../> */
    const char *replace_id;  /* XEP-0308: id of the message corrected */
    const char *retract_id;  /* XEP-0424 (either form): id retracted;
                                the body, if any, is only a fallback */
    const char *reply_id;    /* XEP-0461 <reply id=.../> */
    const char *reply_to;    /* XEP-0461 <reply to=.../> or NULL */
    const char *reaction_id; /* XEP-0444 <reactions id=.../> */
    const char *reactions[INMSG_REACTIONS_MAX]; /* distinct emoji, in
                                                   order, at most */
    size_t n_reactions; /* 0 with reaction_id set: all removed */
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
     * contact's resource; not called for our own JID.  from_full is the
     * bare JID for an unavailable that came from it and for a presence
     * error: every resource of that contact is gone. */
    void (*presence)(void *ud, const char *from_full, enum show show,
                     int priority, bool unavailable);
    /* A subscription request or answer from from_bare to the address to
     * (the bot's own, or in component mode any JID of its domain). */
    void (*subscription)(void *ud, const char *from_bare, const char *to,
                         enum sub_kind kind);
    /* Component mode: a server asks for the presence of to on behalf of
     * from_bare (RFC 6121 4.3). */
    void (*probe)(void *ud, const char *from_bare, const char *to);
    /* One roster item, during the roster fetch after login;
     * subscription is "none", "to", "from" or "both". */
    void (*roster_item)(void *ud, const char *bare, const char *subscription);
    /* After the last roster item of a login (not called when the server
     * answered the roster request with an error). */
    void (*roster_done)(void *ud);
    /* One of several links (component mode, a cluster) dropped while
     * others go on: the barriers sent on it (tokens) are lost, and so is
     * what was sent after the last of them when it was the link sending
     * (current). */
    void (*link_lost)(void *ud, const uint64_t *tokens, size_t n, bool current);
    /* The server answered barrier token: every stanza sent before it on
     * this stream has been accepted. */
    void (*barrier)(void *ud, uint64_t token);
    /* XEP-0050: a <command/> request; describe the answer in *resp (zero
     * on entry; the session layer frees it). */
    void (*command)(void *ud, const struct adhoc_request *req,
                    struct adhoc_response *resp);
    /* XEP-0050: the commands from (a full JID) may run, for disco#items:
     * at most max into out; returns how many. */
    size_t (*command_list)(void *ud, const char *from,
                           const struct adhoc_command **out, size_t max);
    /* XEP-0363: the upload service's answer to session_upload_request()
     * for job: the slot, or NULL when it refused (an error, a slot
     * without URLs), why then saying so (its error condition and text). */
    void (*upload_slot)(void *ud, uint64_t job, const struct upload_slot *slot,
                        const char *why);
};

/* The bot's own bare JID for cfg: its account, or a component's service
 * JID.  0, or -1 if it is none. */
int session_own_jid(const struct config *cfg, char *out, size_t len);
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
/* Instead of session_release() when the commit failed: what the callbacks
 * asked to send meanwhile (session_send_chat/_subscription: replies,
 * approvals, notices) is dropped, since what it confirms is gone, and
 * lost(ud, bare JID it was for) is called for each; what the session sent
 * by itself (IQ answers, pings, its presence) goes out as usual. */
void session_release_failed(void (*lost)(void *ud, const char *bare), void *ud);
/* Replace the settings SIGHUP may change (none of the xmpp section); a
 * changed bot.avatar is published again (vCard, presence). */
void session_reconfigure(const struct config *cfg);
/* Send unavailable presence, close the stream, free everything. */
void session_stop(void);

/* How many more stanzas may be queued now without exceeding the window;
 * 0 while disconnected. */
size_t session_send_room(void);

/* One message as the delivery engine describes it (outmsg.h).  0 queued,
 * -1 not connected (nothing sent). */
int session_send(const struct outmsg *m);
/*
 * A chat message to a bare JID.  id may be NULL (one is generated); a
 * given id is also sent as the XEP-0359 <origin-id/>, so clients can
 * point at the message (corrections, replies, reactions).  stamp != 0
 * adds a XEP-0203 <delay/> with that time.  0 queued, -1 not connected
 * (nothing sent).
 */
int session_send_chat(const char *to, const char *body, const char *id,
                      time_t stamp);
/*
 * A XEP-0184 receipt: <message to=to_full><received id=id/></message>,
 * acknowledging the message id received from to_full.  0 queued, -1 not
 * connected.
 */
int session_send_receipt(const char *to_full, const char *id);
/* A user of the bot, active now (fresh: who just joined): in component
 * mode (the bot keeps its roster itself) they are greeted, paced;
 * otherwise nothing happens. */
void session_contact(const char *bare, bool fresh);
/* Component mode with per-user addresses: tell the follower bare that
 * old_nick@domain is new_nick@domain now (a message, the old address's
 * presence withdrawn, the new one's subscription request and presence
 * with status), paced like greetings; otherwise nothing happens. */
void session_address_moved(const char *bare, const char *old_nick,
                           const char *new_nick, const char *status);
/* Stopping: a component tells each online user that it goes (a client's
 * server does that for it). */
void session_goodbye(const char *bare);
/* Whether cfg gives every user an address NICK@domain of their own. */
bool session_user_addresses(const struct config *cfg);
/* Whether session_contact() wants every active user after login. */
bool session_wants_contacts(void);
/* Component mode: a probe of a subscriber's presence; and the presence
 * of another address of the domain (a user's NICK@domain: available with
 * status, or unavailable). */
int session_send_probe(const char *to);
int session_send_presence_from(const char *from, const char *to,
                               const char *status, bool available);
/* Component mode: <presence type=... from=from/> for another address of
 * the domain than the bot's own. */
int session_send_subscription_from(const char *from, const char *to,
                                   const char *type);
/* <presence type="subscribed|subscribe|unsubscribed|unsubscribe"/>; a
 * subscription request carries the bot's XEP-0172 nickname. */
int session_send_subscription(const char *to, const char *type);
/*
 * XEP-0363 HTTP File Upload.  After each login the session looks for an
 * upload service: xmpp.upload_service when the configuration names one,
 * else (client mode) the server's domain and each of its disco#items,
 * the first whose disco#info has the feature urn:xmpp:http:upload:0.
 * session_upload_max() is the largest file it takes (its max-file-size,
 * SIZE_MAX when it gives none), 0 while none is known or the stream is
 * down.
 */
size_t session_upload_max(void);
/* Ask the upload service for a slot for job: a file named filename of
 * size bytes and type; the answer comes through the upload_slot callback
 * (none at all if the stream drops meanwhile).  0 asked, -1 no service or
 * not connected. */
int session_upload_request(uint64_t job, const char *filename, size_t size,
                           const char *type);

/* Send a ping to our server; its answer calls the barrier callback with
 * *token.  0, or -1 when not connected. */
int session_barrier(uint64_t *token);

/* Test hook: answer the IQ in xml (a string) as the session would if it
 * is a XEP-0050 one (a command, the command list, a command node's
 * disco#info), calling cb with ud; the answer as a string (free it), or
 * NULL for any other IQ.  Needs no connection; not for use while one
 * runs. */
char *session_test_iq(const struct session_callbacks *cb, void *ud,
                      const char *xml);

#endif
