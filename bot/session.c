/*
 * session.c - the XMPP session layer (with stanza.c, the only user of
 * <strophe.h>): one XMPP client connection.
 *
 * It owns the libstrophe context and connection, verifies the server's
 * certificate (never skips it), reconnects with exponential backoff and
 * jitter, pings the server to notice dead connections, fetches the roster,
 * answers the IQs (disco#info, version, ping, vCard), and turns incoming
 * stanzas into plain C for dispatch (messages through stanza.c).  It also
 * offers the delivery engine a bounded send window and barriers (a ping
 * whose answer proves that everything sent before it was accepted).
 *
 * What clients learn about the bot comes from one table, features[]:
 * disco#info lists it and the XEP-0115 caps in the bot's presence are its
 * hash, so the two can never disagree.  The presence also carries the
 * XEP-0172 nickname and the XEP-0153 avatar hash; the vCard (nickname and
 * bot.avatar) is published to the server at every login, where clients
 * fetch it, and served to queries addressed to the bot itself.
 *
 * libstrophe's stream management is switched off: in 0.12.2 it is not
 * reliable, and the bot's own outbox is what guarantees delivery.
 * A connection is never released inside one of its own callbacks: the
 * handlers only mark it dead, session_run_once() releases it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/sockios.h>
#include <strophe.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "keepalive.h"
#include "session.h"
#include "stanza.h"
#include "../common/text.h"
#include "../common/util.h"

#define WINDOW            256  /* stanzas queued in libstrophe at most */
#define CORK_MIN          8    /* queued stanzas that make a burst */
#define DRAIN_TURNS       16   /* extra reads in one held turn, at most */
#define KA_TICK_MS        5000 /* how often the keep-alive looks */
#define GREET_AGAIN       3    /* seconds before a newcomer is asked again */
#define BACKOFF_MIN       1    /* seconds */
#define BACKOFF_MAX       60
#define NS_PING           "urn:xmpp:ping"
#define NS_DISCO_INFO     "http://jabber.org/protocol/disco#info"
#define NS_VERSION        "jabber:iq:version"
#define NS_ROSTER         "jabber:iq:roster"
#define NS_DELAY          "urn:xmpp:delay"
#define NS_STANZAS        "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_COMMANDS       "http://jabber.org/protocol/commands"
#define NS_DATA           "jabber:x:data"
#define NS_UPLOAD         "urn:xmpp:http:upload:0" /* XEP-0363 */
#define NS_DISCO_ITEMS    "http://jabber.org/protocol/disco#items"
#define UPLOAD_CANDIDATES 32 /* upload services asked about at most */

/* A stanza held back by session_hold(). */
struct held {
    xmpp_stanza_t *st; /* or NULL: */
    char *raw;         /* a message as text (session_send()) */
    size_t len;
    char *to;    /* raw's recipient, a bare JID */
    bool answer; /* see queue_stanza() */
    size_t link; /* the link it answers on; (size_t)-1: any */
};
#define NS_CAPS      "http://jabber.org/protocol/caps"
#define NS_NICK      "http://jabber.org/protocol/nick"
#define NS_VCARD     "vcard-temp"
#define NS_VCARD_UPD "vcard-temp:x:update"
#define NS_RECEIPTS  "urn:xmpp:receipts"
#define NS_SID       "urn:xmpp:sid:0"
#define BOT_NAME     "Starling"
/* XEP-0115 node: names the software.  Starling has no public home page
 * yet; .invalid can never be someone else's. */
#define CAPS_NODE "https://starling.invalid"

/* The one identity and the features the bot handles (SPEC 9): disco#info
 * answers exactly these, and the caps hash is computed from them. */
static const char *const features[] = {
    NS_DISCO_INFO,
    NS_CAPS,
    NS_VERSION,
    NS_PING,
    NS_DELAY,
    NS_RECEIPTS,                  /* XEP-0184 */
    "urn:xmpp:message-correct:0", /* XEP-0308 */
    "urn:xmpp:message-retract:1", /* XEP-0424 */
    "urn:xmpp:message-retract:0", /* its older fasten:0 form */
    "urn:xmpp:reply:0",           /* XEP-0461 */
    "urn:xmpp:reactions:0",       /* XEP-0444 */
    NS_SID,                       /* XEP-0359 */
    NS_VCARD,                     /* XEP-0054, avatar XEP-0153 */
    NS_NICK,                      /* XEP-0172 */
    NS_COMMANDS,                  /* XEP-0050 */
    NS_DATA,                      /* XEP-0004, its forms */
};
#define N_FEATURES (sizeof(features) / sizeof(features[0]))

/* One stream to the server: the account's, or in component mode one
 * XEP-0114 connection per node of the server (SPEC 10: a cluster spreads
 * the component's domain over them). */
struct link {
    xmpp_conn_t *conn;              /* client mode: NULL between connections */
    const struct config_node *node; /* component mode */
    size_t index;
    bool connected;   /* stream established (CONNECT seen) */
    bool ready;       /* roster fetched (client), handshake done (component) */
    bool dead;        /* disconnected: run_once schedules the reconnect */
    bool waiting;     /* for next_attempt */
    bool handlers;    /* our stanza handlers are on conn */
    unsigned backoff; /* seconds before the next attempt */
    struct timespec next_attempt;
    struct keepalive ka; /* is it alive (keepalive.h) */
    int fd;              /* the stream's socket, -1 when none */
    uint64_t *bars;      /* barriers sent on it, not yet answered */
    size_t nbars, bars_cap;
};

static struct {
    xmpp_ctx_t *ctx;
    struct link *links;
    size_t nlinks;
    size_t tx;       /* the link stanzas go out on */
    struct link *rx; /* the link of the stanza being handled, or NULL */
    size_t nready;   /* links ready */
    xmpp_log_t logger;
    const struct config *cfg;
    const struct session_callbacks *cb;
    void *ud;
    char *full_jid;
    char bare[JID_MAX + 1]; /* the bot's own address (service JID) */
    const char *domain;     /* our server's, or the component's domain */
    bool component;         /* a XEP-0114 component (SPEC 10) */
    size_t domain_len;
    /* Component mode: subscribers still to be greeted (presence,
     * subscription request, probe), or told that an address they follow
     * moved, paced by the send queue. */
    struct greet {
        char *jid;
        time_t due;   /* monotonic seconds */
        char *from;   /* a move: the old nick (else NULL) */
        char *to;     /* the new nick */
        char *status; /* its bio */
    } * greet;
    size_t ngreet, greet_next, greet_cap, nmoved;
    bool ever_ready;
    bool stopping;
    bool auth_refused; /* SASL failure seen on this connection */
    uint64_t next_id;
    bool holding;      /* session_hold(): sends wait in held */
    struct held *held; /* in order */
    struct buf xml;    /* session_send()'s message text, reused */
    size_t nheld, held_cap;
    unsigned long handled;               /* stanzas handed to our handlers */
    char caps_ver[STANZA_CAPS_VER_SIZE]; /* XEP-0115 ver of features[] */
    char avatar_sha1[41]; /* hex SHA-1 of bot.avatar, "" without one */
    char *avatar_b64;     /* bot.avatar in base64 (malloc), or NULL */
    bool vcard_refused;   /* the server would not store our vCard */
    /* XEP-0363: the upload services asked after the last login (the
     * domain first, then its items, in order) and the one chosen. */
    struct {
        unsigned round; /* answers to an earlier login's are ignored */
        bool items;     /* the domain's disco#items is awaited */
        bool settled;   /* chosen, or known that there is none */
        size_t n, chosen;
        struct upload_candidate {
            char *jid;
            enum { CAND_ASKED, CAND_NO, CAND_YES } state;
            size_t max; /* its max-file-size; SIZE_MAX: none given */
        } c[UPLOAD_CANDIDATES];
    } up;
} S;

static void now_mono(struct timespec *t)
{
    clock_gettime(CLOCK_MONOTONIC, t);
}

/* Seconds on the monotonic clock. */
static time_t mono_now(void)
{
    struct timespec t;

    now_mono(&t);
    return t.tv_sec;
}

static long ms_until(const struct timespec *t)
{
    struct timespec n;

    now_mono(&n);
    return (t->tv_sec - n.tv_sec) * 1000 + (t->tv_nsec - n.tv_nsec) / 1000000;
}

/*
 * libstrophe 0.12.2 reports a refused login only in its log: "SASL <mech>
 * auth failed" (debug) for each mechanism the server refused, then "Cannot
 * authenticate with known methods" (error) once none is left.  Stanza
 * dumps start with "SENT:" or "RECV:", so a chat message quoting these
 * words cannot trigger this.
 */
static bool is_auth_refusal(const char *area, const char *msg)
{
    size_t n = strlen(msg);

    if (strcmp(area, "xmpp") == 0 && strncmp(msg, "SASL ", 5) == 0 && n > 11 &&
        strcmp(msg + n - 11, "auth failed") == 0)
        return true;
    return strcmp(area, "auth") == 0 &&
           strncmp(msg, "Cannot authenticate", 19) == 0;
}

/* libstrophe's log at our matching level, its debug output only at our
 * debug level, and never a line carrying SASL data or a password. */
static void strophe_log(void *ud, xmpp_log_level_t level, const char *area,
                        const char *msg)
{
    static const char *const secret[] = {"<auth",    "<response", "<challenge",
                                         "<success", "password",  NULL};

    (void)ud;
    if (is_auth_refusal(area, msg))
        S.auth_refused = true;
    if (level == XMPP_LEVEL_DEBUG && log_get_level() > LOG_LEVEL_DEBUG)
        return;
    for (size_t i = 0; secret[i] != NULL; i++)
        if (strcasestr(msg, secret[i]) != NULL)
            return;
    switch (level) {
    case XMPP_LEVEL_DEBUG:
        log_debug("xmpp %s: %s", area, msg);
        break;
    case XMPP_LEVEL_INFO:
        log_info("xmpp %s: %s", area, msg);
        break;
    case XMPP_LEVEL_WARN:
        log_warnx("xmpp %s: %s", area, msg);
        break;
    case XMPP_LEVEL_ERROR:
        log_error("xmpp %s: %s", area, msg);
        break;
    }
}

static int certfail(const xmpp_tlscert_t *cert, const char *errormsg)
{
    (void)cert;
    log_error("TLS certificate of %s not trusted: %s",
              S.cfg->xmpp.host != NULL ? S.cfg->xmpp.host : S.domain, errormsg);
    return 0; /* refuse: there is no switch to skip verification */
}

static char *new_id(const char *prefix)
{
    return xasprintf("%s-%llu", prefix, (unsigned long long)++S.next_id);
}

/* The link stanzas go out on: the current one while it is up, else the
 * next that is; NULL when none is. */
static struct link *tx(void)
{
    size_t k = S.tx;

    /* Called a few times for every update sent: no division. */
    for (size_t i = 0; i < S.nlinks; i++, k = k + 1 < S.nlinks ? k + 1 : 0) {
        struct link *l = &S.links[k];

        if (l->connected && !l->dead && l->conn != NULL) {
            S.tx = l->index;
            return l;
        }
    }
    return NULL;
}

/* A ready link stanzas go out on, or NULL. */
static struct link *tx_ready(void)
{
    struct link *l = tx();

    return l != NULL && l->ready ? l : NULL;
}

/* The link to send on for what answers on link (an answer goes back the
 * way its question came: in a cluster, the user's own node) while that is
 * up, else the link that sends; NULL when none is up. */
static struct link *out_link(size_t link)
{
    struct link *l = link < S.nlinks ? &S.links[link] : NULL;

    if (l == NULL || !l->connected || l->dead)
        l = tx();
    return l;
}

/* Hand st, or else raw[0..len), to libstrophe on out_link(link); dropped
 * when no link is up, as libstrophe would. */
static void send_on(size_t link, xmpp_stanza_t *st, const char *raw, size_t len)
{
    struct link *l = out_link(link);

    if (l == NULL)
        return;
    if (st != NULL)
        xmpp_send(l->conn, st);
    else
        xmpp_send_raw(l->conn, raw, len);
}

/* A new slot at the end of the held list (see session_hold()). */
static struct held *hold_slot(bool answer)
{
    struct held *h;

    if (S.nheld == S.held_cap) {
        S.held_cap = S.held_cap ? S.held_cap * 2 : 64;
        S.held = xrealloc(S.held, S.held_cap * sizeof(*S.held));
    }
    h = &S.held[S.nheld++];
    memset(h, 0, sizeof(*h));
    h->link = S.rx != NULL ? S.rx->index : (size_t)-1;
    h->answer = answer;
    return h;
}

/* Send st (or hold it, see session_hold()) and release it.  answer: what
 * it says may depend on the batch being held, so it must not go out if
 * that batch is lost (session_release_failed()): everything a callback
 * asks to send (session_send*), and anything that confirms what a
 * callback did (a XEP-0184 receipt would be one).  What the session sends
 * by itself (IQ answers, pings, its presence) is not. */
static void queue_stanza(xmpp_stanza_t *st, bool answer)
{
    /* A component's stanzas carry their own sender: the service JID
     * unless the caller chose another address of the domain. */
    if (S.component && xmpp_stanza_get_from(st) == NULL)
        xmpp_stanza_set_from(st, S.bare);
    if (S.holding) {
        hold_slot(answer)->st = st;
        return;
    }
    send_on(S.rx != NULL ? S.rx->index : (size_t)-1, st, NULL, 0);
    xmpp_stanza_release(st);
}

/* queue_stanza() for a message written as text (an answer), to the bare
 * JID to. */
static void queue_raw(const struct buf *b, const char *to)
{
    struct held *h;

    if (!S.holding) {
        send_on(S.rx != NULL ? S.rx->index : (size_t)-1, NULL, b->s, b->len);
        return;
    }
    h = hold_slot(true);
    /* NUL-terminated: libstrophe reads it as a string too. */
    h->raw = xmalloc(b->len + 1);
    memcpy(h->raw, b->s, b->len + 1);
    h->len = b->len;
    h->to = xstrdup(to);
}

static void send_release(xmpp_stanza_t *st)
{
    queue_stanza(st, false);
}

static xmpp_stanza_t *child(xmpp_stanza_t *parent, const char *name,
                            const char *ns)
{
    xmpp_stanza_t *c = xmpp_stanza_new(S.ctx);

    xmpp_stanza_set_name(c, name);
    if (ns != NULL)
        xmpp_stanza_set_ns(c, ns);
    xmpp_stanza_add_child_ex(parent, c, 0);
    return c;
}

/* A text node, for text the bot made itself (its name, a hash). */
static xmpp_stanza_t *text_node(const char *text)
{
    xmpp_stanza_t *t = xmpp_stanza_new(S.ctx);

    xmpp_stanza_set_text(t, text);
    return t;
}

/* A child element name (in ns, if not NULL) of parent with text, checked
 * (stanza_text_checked()): an ad-hoc command's note carries a chat
 * command's answer, stored text included. */
static xmpp_stanza_t *text_ns(xmpp_stanza_t *parent, const char *name,
                              const char *ns, const char *text)
{
    xmpp_stanza_t *c = child(parent, name, ns);
    char *fixed;

    text = stanza_text_checked(text, name, xmpp_stanza_get_to(parent), &fixed);
    xmpp_stanza_add_child_ex(c, text_node(text), 0);
    free(fixed);
    return c;
}

static void text_child(xmpp_stanza_t *parent, const char *name,
                       const char *text)
{
    text_ns(parent, name, NULL, text);
}

/* A ping to our server; a component pings its own domain, which the server
 * routes back to it (and its answer too), behind everything sent before. */
static void send_ping(struct link *l, const char *id)
{
    xmpp_stanza_t *iq = xmpp_iq_new(S.ctx, "get", id);

    xmpp_stanza_set_to(iq, S.domain);
    child(iq, "ping", NS_PING);
    if (l == NULL) {
        send_release(iq); /* in order, on the link that sends */
        return;
    }
    if (S.component)
        xmpp_stanza_set_from(iq, S.bare);
    xmpp_send(l->conn, iq); /* a keep-alive: on its own link, at once */
    xmpp_stanza_release(iq);
}

/* IQs ------------------------------------------------------------------- */

/* An IQ answer.  (libstrophe 0.12.2's xmpp_stanza_reply() leaves a NULL
 * "to" when the request had no "from", as our own server's pushes do.) */
static xmpp_stanza_t *iq_reply(xmpp_stanza_t *iq, const char *type)
{
    xmpp_stanza_t *r = xmpp_iq_new(S.ctx, type, xmpp_stanza_get_id(iq));
    const char *from = xmpp_stanza_get_from(iq);
    const char *to = xmpp_stanza_get_to(iq);

    if (from != NULL)
        xmpp_stanza_set_to(r, from);
    /* A component answers from the address that was asked. */
    if (S.component && to != NULL)
        xmpp_stanza_set_from(r, to);
    return r;
}

static void reply_error(xmpp_stanza_t *iq, const char *type,
                        const char *condition)
{
    xmpp_stanza_t *r = iq_reply(iq, "error"), *e;

    e = child(r, "error", NULL);
    xmpp_stanza_set_attribute(e, "type", type);
    child(e, condition, NS_STANZAS);
    send_release(r);
}

/* disco#info of the bot, or of the node its caps name (CAPS_NODE#ver,
 * XEP-0115 5.4); any other node is item-not-found. */
static void reply_disco(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *r, *q, *id;
    const char *node;

    node = xmpp_stanza_get_attribute(
        xmpp_stanza_get_child_by_ns(iq, NS_DISCO_INFO), "node");
    if (node != NULL) {
        size_t n = strlen(CAPS_NODE);

        if (strncmp(node, CAPS_NODE, n) != 0 || node[n] != '#' ||
            strcmp(node + n + 1, S.caps_ver) != 0) {
            reply_error(iq, "cancel", "item-not-found");
            return;
        }
    }
    r = iq_reply(iq, "result");
    q = child(r, "query", NS_DISCO_INFO);
    if (node != NULL)
        xmpp_stanza_set_attribute(q, "node", node);
    id = child(q, "identity", NULL);
    xmpp_stanza_set_attribute(id, "category", "client");
    xmpp_stanza_set_attribute(id, "type", "bot");
    xmpp_stanza_set_attribute(id, "name", BOT_NAME);
    for (size_t i = 0; i < N_FEATURES; i++)
        xmpp_stanza_set_attribute(child(q, "feature", NULL), "var",
                                  features[i]);
    send_release(r);
}

/* The bot's vCard (XEP-0054): its nickname and, with bot.avatar, the
 * PNG. */
static void vcard_element(xmpp_stanza_t *parent)
{
    xmpp_stanza_t *v = child(parent, "vCard", NS_VCARD), *photo;

    text_child(v, "NICKNAME", BOT_NAME);
    if (S.avatar_b64 != NULL) {
        photo = child(v, "PHOTO", NULL);
        text_child(photo, "TYPE", "image/png");
        text_child(photo, "BINVAL", S.avatar_b64);
    }
}

static void reply_vcard(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *r = iq_reply(iq, "result");

    vcard_element(r);
    send_release(r);
}

/* Store the vCard on our server, which answers vCard queries to the bot's
 * bare JID (XEP-0153 clients fetch the avatar there). */
static void publish_vcard(void)
{
    char *id = new_id("vcard");
    xmpp_stanza_t *iq = xmpp_iq_new(S.ctx, "set", id);

    vcard_element(iq);
    send_release(iq);
    free(id);
}

/* The bot's available presence: status, priority, XEP-0172 nickname,
 * XEP-0115 caps and the XEP-0153 avatar hash (empty: no avatar).  to
 * NULL: to our server, which passes it on to the roster; a component has
 * no roster there and sends it to each subscriber. */
static void send_presence_to(const char *to)
{
    xmpp_stanza_t *p = xmpp_presence_new(S.ctx), *c, *x;

    if (to != NULL)
        xmpp_stanza_set_to(p, to);
    text_child(p, "status", "Send \"help\" to get started.");
    text_child(p, "priority", "1");
    c = child(p, "nick", NS_NICK);
    xmpp_stanza_add_child_ex(c, text_node(BOT_NAME), 0);
    c = child(p, "c", NS_CAPS);
    xmpp_stanza_set_attribute(c, "hash", "sha-1");
    xmpp_stanza_set_attribute(c, "node", CAPS_NODE);
    xmpp_stanza_set_attribute(c, "ver", S.caps_ver);
    x = child(p, "x", NS_VCARD_UPD);
    c = child(x, "photo", NULL);
    if (S.avatar_sha1[0] != '\0')
        xmpp_stanza_add_child_ex(c, text_node(S.avatar_sha1), 0);
    send_release(p);
}

static void send_presence(void)
{
    if (!S.component)
        send_presence_to(NULL);
}

/* Hash and encode cfg's bot.avatar.  true if it is another image than the
 * one in use (or none where there was one). */
static bool load_avatar(const struct config *cfg)
{
    char sha1[sizeof(S.avatar_sha1)] = "";
    char *hex, *b64;

    if (cfg->bot.avatar_png != NULL) {
        hex = xmpp_sha1(S.ctx, cfg->bot.avatar_png, cfg->bot.avatar_len);
        if (hex == NULL)
            fatal("out of memory");
        snprintf(sha1, sizeof(sha1), "%s", hex);
        xmpp_free(S.ctx, hex);
    }
    if (strcmp(sha1, S.avatar_sha1) == 0)
        return false;
    free(S.avatar_b64);
    S.avatar_b64 = NULL;
    if (cfg->bot.avatar_png != NULL) {
        b64 =
            xmpp_base64_encode(S.ctx, cfg->bot.avatar_png, cfg->bot.avatar_len);
        if (b64 == NULL)
            fatal("out of memory");
        S.avatar_b64 = xstrdup(b64);
        xmpp_free(S.ctx, b64);
    }
    snprintf(S.avatar_sha1, sizeof(S.avatar_sha1), "%s", sha1);
    return true;
}

static void reply_version(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *r = iq_reply(iq, "result"), *q;

    q = child(r, "query", NS_VERSION);
    text_child(q, "name", BOT_NAME);
    text_child(q, "version", STARLING_VERSION);
    send_release(r);
}

/* XEP-0363: the upload service ------------------------------------------ */

/* Forget the services of an earlier login. */
static void upload_forget(void)
{
    for (size_t i = 0; i < S.up.n; i++)
        free(S.up.c[i].jid);
    S.up.n = 0;
    S.up.items = false;
    S.up.settled = false;
}

/* The service chosen, or NULL. */
static const struct upload_candidate *upload_service(void)
{
    return S.up.settled && S.up.chosen < S.up.n ? &S.up.c[S.up.chosen] : NULL;
}

/* Ask jid's disco#info (once a login, at most UPLOAD_CANDIDATES). */
static void upload_ask(const char *jid)
{
    xmpp_stanza_t *iq;
    char id[64];

    if (S.up.n == UPLOAD_CANDIDATES)
        return;
    for (size_t i = 0; i < S.up.n; i++)
        if (strcasecmp(S.up.c[i].jid, jid) == 0)
            return;
    S.up.c[S.up.n].jid = xstrdup(jid);
    S.up.c[S.up.n].state = CAND_ASKED;
    S.up.c[S.up.n].max = SIZE_MAX;
    snprintf(id, sizeof(id), "upd-%u-%zu", S.up.round, S.up.n++);
    iq = xmpp_iq_new(S.ctx, "get", id);
    xmpp_stanza_set_to(iq, jid);
    child(iq, "query", NS_DISCO_INFO);
    send_release(iq);
}

/* After a login: xmpp.upload_service if named, else (client mode) our
 * domain and its items. */
static void upload_discover(void)
{
    xmpp_stanza_t *iq;
    char id[32];

    upload_forget();
    S.up.round++;
    if (S.cfg->xmpp.upload_off) {
        S.up.settled = true;
        S.up.chosen = SIZE_MAX;
        return;
    }
    if (S.cfg->xmpp.upload_service != NULL) {
        upload_ask(S.cfg->xmpp.upload_service);
        return;
    }
    if (S.component) {
        S.up.settled = true; /* whose items would a component ask? */
        S.up.chosen = SIZE_MAX;
        return;
    }
    upload_ask(S.domain);
    snprintf(id, sizeof(id), "upi-%u", S.up.round);
    iq = xmpp_iq_new(S.ctx, "get", id);
    xmpp_stanza_set_to(iq, S.domain);
    child(iq, "query", NS_DISCO_ITEMS);
    send_release(iq);
    S.up.items = true;
}

/* The first service in order that has the feature, once every earlier
 * one has answered. */
static void upload_choose(void)
{
    for (size_t i = 0; !S.up.settled && i < S.up.n; i++) {
        if (S.up.c[i].state == CAND_ASKED)
            return;
        if (S.up.c[i].state == CAND_NO)
            continue;
        S.up.settled = true;
        S.up.chosen = i;
        if (S.up.c[i].max == SIZE_MAX)
            log_info("file upload (XEP-0363) through %s", S.up.c[i].jid);
        else
            log_info("file upload (XEP-0363) through %s, files up to %zu "
                     "bytes",
                     S.up.c[i].jid, S.up.c[i].max);
    }
    if (!S.up.settled && !S.up.items) {
        S.up.settled = true;
        S.up.chosen = SIZE_MAX;
        log_info("no file upload service (XEP-0363) found; exports go out "
                 "as chat messages");
    }
}

/* Did jid answer iq?  (Our server answers for its domain, perhaps without
 * a from.) */
static bool answered_by(xmpp_stanza_t *iq, const char *jid)
{
    const char *from = xmpp_stanza_get_from(iq);
    char bare[JID_MAX + 1];

    if (from == NULL)
        return !S.component && strcasecmp(jid, S.domain) == 0;
    return jid_bare(from, bare, sizeof(bare)) == 0 &&
           strcasecmp(bare, jid) == 0;
}

/* The text of parent's first child named name, or NULL; xmpp_free it. */
static char *child_text(xmpp_stanza_t *parent, const char *name)
{
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name(parent, name);

    return c != NULL ? xmpp_stanza_get_text(c) : NULL;
}

/* A disco#info answer: does it offer uploads, and up to what size (the
 * XEP-0128 form of FORM_TYPE urn:xmpp:http:upload:0, XEP-0363 4)? */
static void upload_info(struct upload_candidate *c, xmpp_stanza_t *q)
{
    c->state = CAND_NO;
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(q); f != NULL;
         f = xmpp_stanza_get_next(f)) {
        const char *name = xmpp_stanza_get_name(f);
        const char *var = xmpp_stanza_get_attribute(f, "var");

        if (name != NULL && strcmp(name, "feature") == 0 && var != NULL &&
            strcmp(var, NS_UPLOAD) == 0)
            c->state = CAND_YES;
    }
    for (xmpp_stanza_t *x = xmpp_stanza_get_children(q); x != NULL;
         x = xmpp_stanza_get_next(x)) {
        const char *ns = xmpp_stanza_get_ns(x), *name = xmpp_stanza_get_name(x);
        bool ours = false;
        size_t max = SIZE_MAX;

        if (name == NULL || strcmp(name, "x") != 0 || ns == NULL ||
            strcmp(ns, NS_DATA) != 0)
            continue;
        for (xmpp_stanza_t *f = xmpp_stanza_get_children(x); f != NULL;
             f = xmpp_stanza_get_next(f)) {
            const char *var = xmpp_stanza_get_attribute(f, "var");
            char *v = child_text(f, "value"), *end;

            if (v != NULL && var != NULL && strcmp(var, "FORM_TYPE") == 0)
                ours = strcmp(v, NS_UPLOAD) == 0;
            else if (v != NULL && var != NULL &&
                     strcmp(var, "max-file-size") == 0 && v[0] >= '0' &&
                     v[0] <= '9') {
                unsigned long long n;

                errno = 0;
                n = strtoull(v, &end, 10);
                if (*end == '\0' && errno == 0 && n < SIZE_MAX)
                    max = (size_t)n;
            }
            if (v != NULL)
                xmpp_free(S.ctx, v);
        }
        if (ours) {
            c->max = max;
            break;
        }
    }
}

/* The items of our domain: each is asked in turn. */
static void upload_items(xmpp_stanza_t *iq, const char *type)
{
    xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(iq, NS_DISCO_ITEMS);

    S.up.items = false;
    if (strcmp(type, "result") == 0 && q != NULL)
        for (xmpp_stanza_t *it = xmpp_stanza_get_children(q); it != NULL;
             it = xmpp_stanza_get_next(it)) {
            const char *jid = xmpp_stanza_get_attribute(it, "jid");
            const char *name = xmpp_stanza_get_name(it);
            char bare[JID_MAX + 1];

            /* An item with a node is a part of an entity, not one. */
            if (name != NULL && strcmp(name, "item") == 0 && jid != NULL &&
                xmpp_stanza_get_attribute(it, "node") == NULL &&
                jid_bare(jid, bare, sizeof(bare)) == 0)
                upload_ask(bare);
        }
    upload_choose();
}

/* Why an IQ error: its condition and text, for the log. */
static void error_reason(xmpp_stanza_t *iq, char *out, size_t len)
{
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(iq, "error");
    const char *cond = NULL;
    char *text = NULL;

    for (xmpp_stanza_t *c = e != NULL ? xmpp_stanza_get_children(e) : NULL;
         c != NULL; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);

        if (name != NULL && strcmp(name, "text") == 0 && text == NULL)
            text = xmpp_stanza_get_text(c);
        else if (name != NULL && cond == NULL &&
                 xmpp_stanza_get_ns(c) != NULL &&
                 strcmp(xmpp_stanza_get_ns(c), NS_STANZAS) == 0)
            cond = name;
    }
    snprintf(out, len, "%s%s%.120s%s", cond != NULL ? cond : "no reason",
             text != NULL ? " (" : "", text != NULL ? text : "",
             text != NULL ? ")" : "");
    if (text != NULL)
        xmpp_free(S.ctx, text);
}

/* The service's answer to a slot request (XEP-0363 4). */
static void upload_slot_answer(xmpp_stanza_t *iq, const char *type,
                               uint64_t job)
{
    struct upload_slot slot = {0};
    char *values[UPLOAD_HEADERS_MAX] = {0};
    xmpp_stanza_t *sl =
        xmpp_stanza_get_child_by_name_and_ns(iq, "slot", NS_UPLOAD);
    xmpp_stanza_t *put =
        sl != NULL ? xmpp_stanza_get_child_by_name(sl, "put") : NULL;
    xmpp_stanza_t *get =
        sl != NULL ? xmpp_stanza_get_child_by_name(sl, "get") : NULL;
    char why[200];

    if (strcmp(type, "result") == 0 && put != NULL && get != NULL) {
        slot.put = xmpp_stanza_get_attribute(put, "url");
        slot.get = xmpp_stanza_get_attribute(get, "url");
        for (xmpp_stanza_t *h = xmpp_stanza_get_children(put);
             h != NULL && slot.nheaders < UPLOAD_HEADERS_MAX;
             h = xmpp_stanza_get_next(h)) {
            const char *name = xmpp_stanza_get_name(h);

            if (name == NULL || strcmp(name, "header") != 0)
                continue;
            values[slot.nheaders] = xmpp_stanza_get_text(h);
            slot.headers[slot.nheaders].name =
                xmpp_stanza_get_attribute(h, "name");
            slot.headers[slot.nheaders].value =
                values[slot.nheaders] != NULL ? values[slot.nheaders] : "";
            slot.nheaders++;
        }
    }
    if (slot.put != NULL && slot.get != NULL) {
        S.cb->upload_slot(S.ud, job, &slot, NULL);
    } else {
        if (strcmp(type, "error") == 0)
            error_reason(iq, why, sizeof(why));
        else
            snprintf(why, sizeof(why), "an answer without a slot");
        S.cb->upload_slot(S.ud, job, NULL, why);
    }
    for (size_t i = 0; i < slot.nheaders; i++)
        if (values[i] != NULL)
            xmpp_free(S.ctx, values[i]);
}

/* A result or error to one of our XEP-0363 IQs (ids upi-, upd-, ups-),
 * taken only from whom it was asked. */
static void upload_answer(xmpp_stanza_t *iq, const char *type, const char *id)
{
    const struct upload_candidate *svc = upload_service();
    char want[64], *end;
    unsigned long long job;

    snprintf(want, sizeof(want), "upi-%u", S.up.round);
    if (strcmp(id, want) == 0) {
        if (S.up.items && answered_by(iq, S.domain))
            upload_items(iq, type);
        return;
    }
    for (size_t i = 0; i < S.up.n; i++) {
        snprintf(want, sizeof(want), "upd-%u-%zu", S.up.round, i);
        if (strcmp(id, want) != 0)
            continue;
        if (S.up.c[i].state == CAND_ASKED && answered_by(iq, S.up.c[i].jid)) {
            xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(iq, NS_DISCO_INFO);

            S.up.c[i].state = CAND_NO;
            if (strcmp(type, "result") == 0 && q != NULL)
                upload_info(&S.up.c[i], q);
            upload_choose();
        }
        return;
    }
    if (strncmp(id, "ups-", 4) != 0 || id[4] < '0' || id[4] > '9')
        return;
    errno = 0;
    job = strtoull(id + 4, &end, 10);
    if (*end == '\0' && errno == 0 && svc != NULL &&
        answered_by(iq, svc->jid) && S.cb->upload_slot != NULL)
        upload_slot_answer(iq, type, (uint64_t)job);
}

size_t session_upload_max(void)
{
    const struct upload_candidate *svc = upload_service();

    return svc != NULL && tx_ready() != NULL ? svc->max : 0;
}

int session_upload_request(uint64_t job, const char *filename, size_t size,
                           const char *type)
{
    const struct upload_candidate *svc = upload_service();
    xmpp_stanza_t *iq, *r;
    char id[48], n[32];

    if (svc == NULL || tx_ready() == NULL)
        return -1;
    snprintf(id, sizeof(id), "ups-%llu", (unsigned long long)job);
    snprintf(n, sizeof(n), "%zu", size);
    iq = xmpp_iq_new(S.ctx, "get", id);
    xmpp_stanza_set_to(iq, svc->jid);
    r = child(iq, "request", NS_UPLOAD);
    xmpp_stanza_set_attribute(r, "filename", filename);
    xmpp_stanza_set_attribute(r, "size", n);
    xmpp_stanza_set_attribute(r, "content-type", type);
    send_release(iq);
    return 0;
}

static void become_ready(struct link *l, size_t contacts);

static void roster_result(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(iq, NS_ROSTER), *item;
    const char *type = xmpp_stanza_get_type(iq);
    size_t n = 0;

    /* Only a whole roster is reconciled: not an error, nor a result
     * without a query. */
    if (q != NULL && type != NULL && strcmp(type, "result") == 0) {
        for (item = xmpp_stanza_get_children(q); item != NULL;
             item = xmpp_stanza_get_next(item)) {
            const char *jid = xmpp_stanza_get_attribute(item, "jid");
            const char *sub = xmpp_stanza_get_attribute(item, "subscription");
            char bare[JID_MAX + 1];

            if (jid == NULL || jid_bare(jid, bare, sizeof(bare)) < 0)
                continue;
            if (S.cb->roster_item != NULL)
                S.cb->roster_item(S.ud, bare, sub != NULL ? sub : "none");
            n++;
        }
        if (S.cb->roster_done != NULL)
            S.cb->roster_done(S.ud);
    } else {
        log_warnx("no roster from the server; it is not reconciled");
    }
    publish_vcard();
    send_presence();
    become_ready(&S.links[0], n);
}

/* Logged in (roster loaded) or, for a component, the handshake done.  The
 * rest of the bot hears of it when the first link is ready. */
static void become_ready(struct link *l, size_t contacts)
{
    l->ready = true;
    l->backoff = BACKOFF_MIN;
    S.ever_ready = true;
    if (S.component)
        log_info("connected as component %s (%s) to %s:%d", S.domain, S.bare,
                 l->node->host, l->node->port);
    else
        log_info("logged in as %s, %zu contacts in the roster", S.full_jid,
                 contacts);
    if (S.nready++ == 0) {
        upload_discover();
        if (S.cb->ready != NULL)
            S.cb->ready(S.ud);
    }
}

static bool from_server_or_self(const char *from)
{
    char bare[JID_MAX + 1];

    if (from == NULL)
        return true;
    if (jid_bare(from, bare, sizeof(bare)) < 0)
        return false;
    return strcmp(bare, S.bare) == 0 || strcmp(bare, S.domain) == 0;
}

/* RFC 6121 2.1.6: a roster push counts only from our own bare JID or
 * with no "from" at all; anything else is a spoof. */
static bool from_self(const char *from)
{
    char bare[JID_MAX + 1];

    if (from == NULL)
        return true;
    return jid_bare(from, bare, sizeof(bare)) == 0 && strcmp(bare, S.bare) == 0;
}

static bool adhoc_iq(xmpp_stanza_t *iq);
static void barrier_answered(uint64_t token);
static void keepalive_answered(size_t link);
static void greet_some(void);
static void greet_forget(void);

/* Component mode: is the address to (bare) the bot's own (or the bare
 * domain), another address of the domain, or not ours at all? */
enum addr { ADDR_BOT, ADDR_USER, ADDR_OTHER };

static enum addr address_of(const char *to)
{
    char bare[JID_MAX + 1];
    size_t n;

    if (!S.component || to == NULL || jid_bare(to, bare, sizeof(bare)) < 0)
        return ADDR_BOT;
    if (strcmp(bare, S.bare) == 0 || strcmp(bare, S.domain) == 0)
        return ADDR_BOT;
    n = strlen(bare);
    if (S.cfg->component.user_jids && n > S.domain_len + 1 &&
        bare[n - S.domain_len - 1] == '@' &&
        strcmp(bare + n - S.domain_len, S.domain) == 0)
        return ADDR_USER;
    return ADDR_OTHER;
}

static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *iq, void *ud)
{
    const char *type = xmpp_stanza_get_type(iq);
    const char *id = xmpp_stanza_get_id(iq);
    (void)conn;
    (void)ud;
    S.handled++;
    if (type == NULL)
        return 1;
    if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0) {
        if (id != NULL && strncmp(id, "up", 2) == 0) {
            upload_answer(iq, type, id); /* from other services too */
            return 1;
        }
        if (id == NULL || !from_server_or_self(xmpp_stanza_get_from(iq)))
            return 1;
        if (strncmp(id, "bar-", 4) == 0)
            barrier_answered(strtoull(id + 4, NULL, 10));
        else if (strncmp(id, "ka-", 3) == 0)
            keepalive_answered(strtoull(id + 3, NULL, 10));
        else if (strncmp(id, "roster-", 7) == 0 && !S.links[0].ready)
            roster_result(iq);
        else if (strncmp(id, "vcard-", 6) == 0 && strcmp(type, "error") == 0 &&
                 !S.vcard_refused) {
            S.vcard_refused = true;
            log_warnx("the server did not store the bot's vCard: clients that "
                      "ask the server will not see its nickname and avatar "
                      "(Prosody: enable mod_vcard or mod_vcard_legacy)");
        }
        return 1;
    }
    if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)
        return 1;
    if (adhoc_iq(iq)) /* XEP-0050: commands, their list, their nodes */
        return 1;
    if (strcmp(type, "get") == 0) {
        if (xmpp_stanza_get_child_by_ns(iq, NS_DISCO_INFO) != NULL) {
            reply_disco(iq);
            return 1;
        }
        if (xmpp_stanza_get_child_by_ns(iq, NS_VERSION) != NULL) {
            reply_version(iq);
            return 1;
        }
        if (xmpp_stanza_get_child_by_ns(iq, NS_PING) != NULL) {
            send_release(iq_reply(iq, "result"));
            return 1;
        }
        if (xmpp_stanza_get_child_by_name_and_ns(iq, "vCard", NS_VCARD) !=
            NULL) {
            reply_vcard(iq);
            return 1;
        }
    } else if (xmpp_stanza_get_child_by_ns(iq, NS_ROSTER) != NULL &&
               from_self(xmpp_stanza_get_from(iq))) {
        send_release(iq_reply(iq, "result")); /* roster push: ack */
        return 1;
    }
    reply_error(iq, "cancel", "service-unavailable");
    return 1;
}

/* Messages and presence ------------------------------------------------- */

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct stanza_msg sm;

    (void)conn;
    (void)ud;
    S.handled++;
    if (address_of(xmpp_stanza_get_to(st)) == ADDR_OTHER)
        return 1; /* no such address here */
    stanza_msg_parse(st, &sm);
    if (sm.m.from != NULL && S.cb->message != NULL)
        S.cb->message(S.ud, &sm.m);
    stanza_msg_free(&sm);
    return 1;
}

static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    static const struct {
        const char *name;
        enum sub_kind kind;
    } subs[] = {{"subscribe", SUB_SUBSCRIBE},
                {"subscribed", SUB_SUBSCRIBED},
                {"unsubscribe", SUB_UNSUBSCRIBE},
                {"unsubscribed", SUB_UNSUBSCRIBED}};
    const char *from = xmpp_stanza_get_from(st);
    const char *type = xmpp_stanza_get_type(st);
    const char *to = xmpp_stanza_get_to(st);
    char bare[JID_MAX + 1];

    (void)conn;
    (void)ud;
    S.handled++;
    if (from == NULL || jid_bare(from, bare, sizeof(bare)) < 0 ||
        strcmp(bare, S.bare) == 0)
        return 1;
    if (to == NULL || address_of(to) == ADDR_BOT)
        to = S.bare;
    else if (address_of(to) == ADDR_OTHER)
        return 1;
    if (type == NULL) {
        xmpp_stanza_t *show = xmpp_stanza_get_child_by_name(st, "show");
        xmpp_stanza_t *prio = xmpp_stanza_get_child_by_name(st, "priority");
        char *show_text = show != NULL ? xmpp_stanza_get_text(show) : NULL;
        char *prio_text = prio != NULL ? xmpp_stanza_get_text(prio) : NULL;
        long priority = prio_text != NULL ? strtol(prio_text, NULL, 10) : 0;

        if (priority < -128 || priority > 127)
            priority = 0;
        if (S.cb->presence != NULL)
            S.cb->presence(S.ud, from, presence_show_parse(show_text),
                           (int)priority, false);
        if (show_text != NULL)
            xmpp_free(S.ctx, show_text);
        if (prio_text != NULL)
            xmpp_free(S.ctx, prio_text);
        return 1;
    }
    /* An error (the contact's server or account is gone, or refused
     * us) says nothing about a resource: the contact counts as offline,
     * every resource of it, as after an unavailable from its bare JID. */
    if (strcmp(type, "unavailable") == 0 || strcmp(type, "error") == 0) {
        if (S.cb->presence != NULL)
            S.cb->presence(S.ud, type[0] == 'e' ? bare : from, SHOW_OFFLINE, 0,
                           true);
        return 1;
    }
    /* A component's probes and subscription requests to users who have
     * not (yet) approved it are answered "unsubscribed" by their servers:
     * that says nothing about them leaving.  Removing the bot sends
     * "unsubscribe" too, which is what counts. */
    if (S.component && strcmp(type, "unsubscribed") == 0)
        return 1;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(type, subs[i].name) == 0) {
            if (S.cb->subscription != NULL)
                S.cb->subscription(S.ud, bare, to, subs[i].kind);
            return 1;
        }
    }
    if (strcmp(type, "probe") == 0 && S.component) {
        /* The bot is always there; another address: see dispatch. */
        if (strcmp(to, S.bare) == 0)
            send_presence_to(bare);
        else if (S.cb->probe != NULL)
            S.cb->probe(S.ud, bare, to);
    }
    return 1;
}

/* Every stanza of a link: what answers it goes out on that link. */
static int on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    const char *name = xmpp_stanza_get_name(st);
    int r = 1;

    S.rx = ud;
    ka_heard(&S.rx->ka, mono_now());
    if (name != NULL && strcmp(name, "iq") == 0)
        r = on_iq(conn, st, ud);
    else if (name != NULL && strcmp(name, "message") == 0)
        r = on_message(conn, st, ud);
    else if (name != NULL && strcmp(name, "presence") == 0)
        r = on_presence(conn, st, ud);
    S.rx = NULL;
    return r;
}

/*
 * A dead TCP connection (a server that vanished without a FIN) is only
 * noticed by writing to it and waiting: after KA_PERIOD s without a word
 * from the server a ping on that link; the stream is given up (and
 * reconnects) when the server then shows no sign of life for KA_TIMEOUT s
 * (keepalive.h: it sends nothing and takes nothing of what waits for it).
 * Checked every KA_TICK_MS, from libstrophe's timer.  The ping's id names
 * its link.
 */
static int keepalive(xmpp_conn_t *conn, void *ud)
{
    struct link *l = ud;
    int unsent = -1;
    char id[48];

    if (!l->connected)
        return 0;
    /* Bytes the server has not taken yet, if the socket says. */
    if (l->fd < 0 || ioctl(l->fd, SIOCOUTQ, &unsent) < 0)
        unsent = -1;
    switch (
        ka_tick(&l->ka, mono_now(), xmpp_conn_send_queue_len(conn), unsent)) {
    case KA_NOTHING:
        return 1;
    case KA_DEAD:
        log_warnx("the server did not answer a ping nor show any other sign "
                  "of life for %d s; reconnecting",
                  KA_TIMEOUT);
        xmpp_disconnect(conn);
        return 0;
    case KA_PING:
        break;
    }
    snprintf(id, sizeof(id), "ka-%zu-%llu", l->index,
             (unsigned long long)++S.next_id);
    send_ping(l, id);
    return 1;
}

static void keepalive_answered(size_t link)
{
    if (link < S.nlinks)
        ka_reset(&S.links[link].ka, mono_now());
}

/* A barrier's answer may come back on any link (a component pings its own
 * domain): the token is forgotten where it was sent. */
static void barrier_answered(uint64_t token)
{
    for (size_t i = 0; i < S.nlinks; i++) {
        struct link *l = &S.links[i];

        for (size_t k = 0; k < l->nbars; k++)
            if (l->bars[k] == token) {
                l->bars[k] = l->bars[--l->nbars];
                break;
            }
    }
    if (S.cb->barrier != NULL)
        S.cb->barrier(S.ud, token);
}

/* Connection ------------------------------------------------------------ */

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                    xmpp_stream_error_t *stream_error, void *ud)
{
    struct link *l = ud;
    bool was_ready = l->ready, was_connected = l->connected;
    bool current = l->index == S.tx;

    if (event == XMPP_CONN_CONNECT) {
        xmpp_stanza_t *iq;
        char *id;

        l->connected = true;
        S.auth_refused = false; /* a later mechanism was accepted */
        ka_reset(&l->ka, mono_now());
        /* A component's connection object lives on across reconnects,
         * and so do its handlers. */
        if (!l->handlers) {
            xmpp_handler_add(conn, on_stanza, NULL, NULL, NULL, l);
            l->handlers = true;
        }
        xmpp_timed_handler_add(conn, keepalive, KA_TICK_MS, l);
        if (S.component) {
            /* No roster here: the bot keeps its subscribers itself and
             * greets them (main.c), paced. */
            become_ready(l, 0);
            return;
        }
        id = new_id("roster");
        iq = xmpp_iq_new(S.ctx, "get", id);
        child(iq, "query", NS_ROSTER);
        send_release(iq);
        free(id);
        return;
    }
    if (event == XMPP_CONN_RAW_CONNECT)
        return;

    /* DISCONNECT or FAIL */
    if (stream_error != NULL && stream_error->type == XMPP_SE_NOT_AUTHORIZED)
        S.auth_refused = true;
    l->connected = false;
    l->ready = false;
    l->dead = true;
    l->fd = -1;
    if (was_ready || was_connected) {
        log_warnx("disconnected from the server%s%s%s",
                  stream_error != NULL && stream_error->text != NULL ? ": "
                                                                     : "",
                  stream_error != NULL && stream_error->text != NULL
                      ? stream_error->text
                      : "",
                  error != 0 ? " (connection error)" : "");
    } else if (!S.stopping) {
        log_warnx("could not log in to the server%s",
                  error != 0 ? " (connection failed)" : "");
    }
    if (was_ready && --S.nready == 0) {
        if (S.cb->disconnected != NULL)
            S.cb->disconnected(S.ud);
        greet_forget(); /* greeted anew after the next login */
    } else if (was_ready && S.cb->link_lost != NULL) {
        /* Others go on: what this one had in flight goes out again over
         * them. */
        S.cb->link_lost(S.ud, l->bars, l->nbars, current);
    }
    l->nbars = 0;
    if (S.auth_refused && !S.ever_ready && !S.stopping) {
        if (S.cb->auth_failed != NULL)
            S.cb->auth_failed(S.ud);
    }
}

/* Replies are small and answer a request: send them at once (no Nagle),
 * and let the kernel notice a dead peer too (TCP keep-alive). */
static int sockopts(xmpp_conn_t *conn, void *sock)
{
    int fd = *(int *)sock, one = 1;

    for (size_t i = 0; i < S.nlinks; i++)
        if (S.links[i].conn == conn)
            S.links[i].fd = fd;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        log_warn("TCP_NODELAY");
    return xmpp_sockopt_cb_keepalive(conn, sock);
}

static void schedule_reconnect(struct link *l)
{
    double jitter = 1.0 + (double)(random() % 1000) / 4000.0; /* +0-25% */
    long ms = (long)(l->backoff * 1000.0 * jitter);

    now_mono(&l->next_attempt);
    l->next_attempt.tv_sec += ms / 1000;
    l->next_attempt.tv_nsec += (ms % 1000) * 1000000L;
    if (l->next_attempt.tv_nsec >= 1000000000L) {
        l->next_attempt.tv_sec++;
        l->next_attempt.tv_nsec -= 1000000000L;
    }
    l->waiting = true;
    log_info("reconnecting in %.1f s", ms / 1000.0);
    l->backoff = l->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : l->backoff * 2;
}

static void borrowed_closed(xmpp_conn_t *conn, xmpp_conn_event_t event,
                            int error, xmpp_stream_error_t *stream_error,
                            void *ud)
{
    (void)conn, (void)error, (void)stream_error;
    if (event == XMPP_CONN_DISCONNECT || event == XMPP_CONN_FAIL)
        *(bool *)ud = true;
}

/*
 * A component's connection object.  libstrophe 0.12.2 reads a
 * connection's stream-management state on every send but makes one only
 * in xmpp_connect_client(): a component connection would crash on its
 * first stanza after the handshake.  So a client connection is made to a
 * loopback port that takes nobody (refused at once), and hands its empty
 * state over.  The object is then kept for every reconnect, with it.
 */
static xmpp_conn_t *component_conn(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    xmpp_conn_t *donor = xmpp_conn_new(S.ctx), *conn = NULL;
    xmpp_sm_state_t *sm = NULL;
    bool closed = false;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    /* A port of ours nobody listens on: bound, never listening. */
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
        xmpp_conn_set_jid(donor, "starling@localhost");
        xmpp_conn_set_flags(donor, XMPP_CONN_FLAG_DISABLE_TLS |
                                       XMPP_CONN_FLAG_DISABLE_SM);
        if (xmpp_connect_client(donor, "127.0.0.1", ntohs(a.sin_port),
                                borrowed_closed, &closed) == XMPP_EOK)
            for (int i = 0; i < 500 && !closed; i++)
                xmpp_run_once(S.ctx, 10);
        sm = closed ? xmpp_conn_get_sm_state(donor) : NULL;
    }
    if (fd >= 0)
        close(fd);
    xmpp_conn_release(donor);
    if (sm == NULL) {
        log_error("cannot prepare the component connection");
        return NULL;
    }
    conn = xmpp_conn_new(S.ctx);
    if (xmpp_conn_set_sm_state(conn, sm) != XMPP_EOK) {
        xmpp_free_sm_state(sm);
        xmpp_conn_release(conn);
        log_error("cannot prepare the component connection");
        return NULL;
    }
    xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_DISABLE_SM);
    xmpp_conn_set_jid(conn, S.domain);
    xmpp_conn_set_pass(conn, S.cfg->component.secret);
    xmpp_conn_set_sockopt_callback(conn, sockopts);
    return conn;
}

static int connect_now(struct link *l)
{
    long flags = XMPP_CONN_FLAG_DISABLE_SM;

    S.auth_refused = false;
    l->waiting = false;
    if (S.component) {
        /* XEP-0114: a plain handshake with the shared secret, as servers
         * offer it on loopback or a private network. */
        if (l->conn == NULL && (l->conn = component_conn()) == NULL) {
            schedule_reconnect(l);
            return -1;
        }
        if (xmpp_connect_component(l->conn, l->node->host,
                                   (unsigned short)l->node->port, on_conn,
                                   l) != XMPP_EOK) {
            log_warnx("cannot connect to %s:%d", l->node->host, l->node->port);
            l->dead = true;
            return -1;
        }
        return 0;
    }
    switch (S.cfg->xmpp.tls) {
    case TLS_REQUIRED:
        flags |= XMPP_CONN_FLAG_MANDATORY_TLS;
        break;
    case TLS_DIRECT:
        flags |= XMPP_CONN_FLAG_LEGACY_SSL;
        break;
    case TLS_DISABLED:
        flags |= XMPP_CONN_FLAG_DISABLE_TLS;
        break;
    }
    l->conn = xmpp_conn_new(S.ctx);
    l->handlers = false;
    xmpp_conn_set_flags(l->conn, flags);
    xmpp_conn_set_jid(l->conn, S.full_jid);
    xmpp_conn_set_pass(l->conn, S.cfg->xmpp.password);
    if (S.cfg->xmpp.ca_file != NULL)
        xmpp_conn_set_cafile(l->conn, S.cfg->xmpp.ca_file);
    xmpp_conn_set_certfail_handler(l->conn, certfail);
    xmpp_conn_set_sockopt_callback(l->conn, sockopts);
    if (xmpp_connect_client(l->conn, S.cfg->xmpp.host,
                            (unsigned short)S.cfg->xmpp.port, on_conn,
                            l) != XMPP_EOK) {
        log_warnx("cannot connect to %s",
                  S.cfg->xmpp.host != NULL ? S.cfg->xmpp.host : S.domain);
        l->dead = true;
        return -1;
    }
    return 0;
}

int session_own_jid(const struct config *cfg, char *out, size_t len)
{
    return jid_bare(cfg->xmpp.mode == MODE_COMPONENT ? cfg->bot.service_jid
                                                     : cfg->xmpp.jid,
                    out, len);
}

int session_start(const struct config *cfg, const struct session_callbacks *cb,
                  void *ud)
{
    struct timespec t;

    memset(&S, 0, sizeof(S));
    S.cfg = cfg;
    S.cb = cb;
    S.ud = ud;
    S.component = cfg->xmpp.mode == MODE_COMPONENT;
    if (S.component) {
        if (jid_bare(cfg->bot.service_jid, S.bare, sizeof(S.bare)) < 0)
            return -1;
        S.domain = cfg->component.domain;
        S.domain_len = strlen(S.domain);
        S.full_jid = xstrdup(S.bare);
    } else {
        if (jid_bare(cfg->xmpp.jid, S.bare, sizeof(S.bare)) < 0)
            return -1;
        S.domain = strchr(S.bare, '@') + 1;
        S.full_jid = xasprintf("%s/%s", S.bare, cfg->xmpp.resource);
    }
    /* One link for the account; one per node for a component. */
    S.nlinks = S.component ? cfg->component.n_nodes : 1;
    S.links = xcalloc(S.nlinks, sizeof(*S.links));
    for (size_t i = 0; i < S.nlinks; i++) {
        S.links[i].index = i;
        S.links[i].fd = -1;
        S.links[i].backoff = BACKOFF_MIN;
        if (S.component)
            S.links[i].node = &cfg->component.nodes[i];
    }
    now_mono(&t);
    srandom((unsigned)(t.tv_nsec ^ t.tv_sec));
    xmpp_initialize();
    S.logger.handler = strophe_log;
    S.logger.userdata = NULL;
    S.ctx = xmpp_ctx_new(NULL, &S.logger);
    stanza_caps_ver(S.ctx, "client/bot//" BOT_NAME, features, N_FEATURES,
                    S.caps_ver);
    load_avatar(cfg);
    for (size_t i = 0; i < S.nlinks; i++)
        connect_now(&S.links[i]);
    return 0;
}

/*
 * A burst queued (a fan-out): written corked, the kernel packs the
 * stanzas into full segments instead of a packet each (TCP_NODELAY), which
 * cost both ends a system call and a wakeup per stanza; uncorking sends
 * what is left at once.  Input is handled as in any turn.
 *
 * libstrophe must not wait while the socket is corked, so it runs with a
 * zero timeout, and the wait happens here first: until the socket takes
 * more or has something to read, at most timeout_ms.  A server that
 * throttles the bot (Prosody's mod_limits) leaves the socket full for
 * seconds at a time; without this wait the loop would poll it at full
 * speed all that while.  (Bytes OpenSSL has already read but not yet
 * handed over do not wake poll(); libstrophe's own select() has the same
 * blind spot, and the held turn's reads drain them.)
 */
static void run_corked(struct link *l, unsigned long timeout_ms)
{
    struct pollfd p = {.fd = l->fd, .events = POLLIN | POLLOUT};
    int on = 1, off = 0;

    if (poll(&p, 1, (int)timeout_ms) == 0) {
        xmpp_run_once(S.ctx, 0); /* nothing to do but its timers */
        return;
    }
    setsockopt(l->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
    xmpp_run_once(S.ctx, 0);
    setsockopt(l->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
}

/* Links that dropped are scheduled again; those whose time has come
 * connect.  The milliseconds until the next attempt of a link that waits
 * while none is connecting or connected, else -1. */
static long reconnect_links(void)
{
    long wait = -1;
    bool busy = false;

    for (size_t i = 0; i < S.nlinks; i++) {
        struct link *l = &S.links[i];

        if (l->dead) {
            /* A client connection is made anew; a component's is kept. */
            if (!S.component && l->conn != NULL) {
                xmpp_conn_release(l->conn);
                l->conn = NULL;
            }
            l->dead = false;
            if (!S.stopping)
                schedule_reconnect(l);
        }
        if (l->waiting && !S.stopping) {
            long w = ms_until(&l->next_attempt);

            if (w <= 0)
                connect_now(l);
            else if (wait < 0 || w < wait)
                wait = w;
        }
        busy = busy || (!l->waiting && !l->dead && l->conn != NULL);
    }
    return busy ? -1 : wait;
}

void session_run_once(unsigned long timeout_ms)
{
    struct link *l;
    long wait;

    if (S.ctx == NULL)
        return;
    if (S.greet_next < S.ngreet && timeout_ms > 100)
        timeout_ms = 100; /* greeting: as fast as the server takes it */
    /* libstrophe formats every stanza in and out for its debug log (and
     * strophe_log would scan each for secrets): while the stream is up and
     * nobody reads debug output, its log is off.  A dropped stream is
     * still reported, by the connection handler. */
    S.logger.handler =
        S.nready > 0 && log_get_level() > LOG_LEVEL_DEBUG ? NULL : strophe_log;
    if ((wait = reconnect_links()) >= 0) {
        /* Nothing to read from: wait for the next attempt. */
        poll(NULL, 0, (int)(wait < (long)timeout_ms ? wait : (long)timeout_ms));
        return;
    }
    if (S.stopping && S.nready == 0)
        return;
    l = tx_ready();
    if (S.nlinks == 1 && l != NULL && l->fd >= 0 &&
        xmpp_conn_send_queue_len(l->conn) >= CORK_MIN)
        run_corked(l, timeout_ms);
    else
        xmpp_run_once(S.ctx, timeout_ms);
    /* Held, nothing of ours goes out meanwhile: read on while stanzas keep
     * coming (libstrophe reads 4 kB a turn), so that one commit covers
     * them all. */
    for (int i = 0; S.holding && i < DRAIN_TURNS && tx() != NULL; i++) {
        unsigned long before = S.handled;

        xmpp_run_once(S.ctx, 0);
        if (S.handled == before)
            break;
    }
    greet_some();
}

void session_hold(void)
{
    S.holding = true;
}

/* Hand the held stanzas to libstrophe in order; with lost, the answers
 * are dropped instead and lost(ud, bare JID) is told about each. */
static void release_held(void (*lost)(void *ud, const char *bare), void *ud)
{
    S.holding = false;
    for (size_t i = 0; i < S.nheld; i++) {
        struct held *h = &S.held[i];

        if (lost != NULL && h->answer) {
            const char *to = h->st != NULL ? xmpp_stanza_get_to(h->st) : h->to;
            char bare[JID_MAX + 1];

            if (to != NULL && jid_bare(to, bare, sizeof(bare)) == 0)
                lost(ud, bare);
        } else {
            send_on(h->link, h->st, h->raw, h->len);
        }
        if (h->st != NULL)
            xmpp_stanza_release(h->st);
        free(h->raw);
        free(h->to);
    }
    S.nheld = 0;
}

void session_release(void)
{
    release_held(NULL, NULL);
}

void session_release_failed(void (*lost)(void *ud, const char *bare), void *ud)
{
    release_held(lost, ud);
}

void session_reconfigure(const struct config *cfg)
{
    /* The xmpp section is not reloaded; keep the pointer current. */
    S.cfg = cfg;
    if (S.ctx != NULL && load_avatar(cfg) && S.nready > 0 && !S.component) {
        log_info("bot.avatar changed: publishing it");
        publish_vcard();
        send_presence();
    }
}

void session_stop(void)
{
    struct timespec until;
    bool open;

    if (S.ctx == NULL)
        return;
    S.stopping = true;
    session_release();
    free(S.held);
    greet_forget();
    /* A client's unavailable presence goes to its roster through the
     * server; a component said goodbye to each online user already
     * (session_goodbye()). */
    if (!S.component && tx() != NULL) {
        xmpp_stanza_t *p = xmpp_presence_new(S.ctx);

        xmpp_stanza_set_type(p, "unavailable");
        send_release(p);
    }
    for (size_t i = 0; i < S.nlinks; i++)
        if (S.links[i].connected)
            xmpp_disconnect(S.links[i].conn);
    now_mono(&until);
    until.tv_sec += 3;
    do {
        open = false;
        for (size_t i = 0; i < S.nlinks; i++)
            open = open || S.links[i].connected;
        if (open)
            xmpp_run_once(S.ctx, 50);
    } while (open && ms_until(&until) > 0);
    for (size_t i = 0; i < S.nlinks; i++) {
        if (S.links[i].conn != NULL)
            xmpp_conn_release(S.links[i].conn);
        free(S.links[i].bars);
    }
    free(S.links);
    xmpp_ctx_free(S.ctx);
    xmpp_shutdown();
    free(S.full_jid);
    free(S.avatar_b64);
    upload_forget();
    buf_free(&S.xml);
    memset(&S, 0, sizeof(S));
}

size_t session_send_room(void)
{
    struct link *l = tx_ready();
    int q;

    if (l == NULL)
        return 0;
    q = xmpp_conn_send_queue_len(l->conn) + (int)S.nheld;
    return q >= WINDOW ? 0 : (size_t)(WINDOW - q);
}

int session_send(const struct outmsg *o)
{
    char *own = NULL, *from = NULL;
    const char *id = o->id;

    if (tx() == NULL)
        return -1;
    if (id == NULL)
        id = own = new_id("m");
    /* A component's messages carry their sender: with per-user addresses
     * an update comes from its author's, else from the service JID. */
    if (o->author != NULL && S.component && S.cfg->component.user_jids)
        from = xasprintf("%s@%s", o->author, S.domain);
    /* Written as text: building a stanza tree for libstrophe to turn into
     * text again cost more than the rest of a delivery. */
    stanza_message_xml(&S.xml, o, id, own == NULL,
                       from != NULL  ? from
                       : S.component ? S.bare
                                     : NULL,
                       S.bare);
    queue_raw(&S.xml, o->to);
    free(from);
    free(own);
    return 0;
}

int session_send_chat(const char *to, const char *body, const char *id,
                      time_t stamp)
{
    struct outmsg m = {.to = to, .body = body, .id = id, .stamp = stamp};

    return session_send(&m);
}

int session_send_receipt(const char *to_full, const char *id)
{
    xmpp_stanza_t *m;
    char *own;

    if (tx() == NULL)
        return -1;
    own = new_id("r");
    m = xmpp_message_new(S.ctx, NULL, to_full, own);
    xmpp_stanza_set_attribute(child(m, "received", NS_RECEIPTS), "id", id);
    /* A receipt confirms what the turn stored: an answer, dropped with
     * the others if the turn's commit fails. */
    queue_stanza(m, true);
    free(own);
    return 0;
}

/* A new entry at the end of the greeting list. */
static struct greet *greet_add(const char *bare, time_t delay)
{
    struct timespec now;
    struct greet *g;

    if (S.ngreet == S.greet_cap) {
        S.greet_cap = S.greet_cap ? S.greet_cap * 2 : 1024;
        S.greet = xrealloc(S.greet, S.greet_cap * sizeof(*S.greet));
    }
    now_mono(&now);
    g = &S.greet[S.ngreet++];
    memset(g, 0, sizeof(*g));
    g->jid = xstrdup(bare);
    g->due = now.tv_sec + delay;
    return g;
}

void session_contact(const char *bare, bool fresh)
{
    if (!S.component)
        return; /* the server keeps the roster and tells */
    /* A newcomer's client answers the bot's first request for their
     * presence at once, often before their server has recorded it (Prosody
     * then keeps the answer as a pre-approval); asked again a little later,
     * the server completes the subscription by itself. */
    greet_add(bare, fresh ? GREET_AGAIN : 0);
}

void session_address_moved(const char *bare, const char *old_nick,
                           const char *new_nick, const char *status)
{
    struct greet *g;

    if (!S.component || !S.cfg->component.user_jids)
        return;
    g = greet_add(bare, 0);
    g->from = xstrdup(old_nick);
    g->to = xstrdup(new_nick);
    g->status = xstrdup(status != NULL ? status : "");
}

static void greet_free(struct greet *g)
{
    free(g->jid);
    free(g->from);
    free(g->to);
    free(g->status);
}

/* Tell a follower of old@domain that it is new@domain now: a message and
 * the end of the old address's presence from the old one, a subscription
 * request and presence from the new one (their client offers to add it;
 * adding it is following, as it was). */
static void move_address(const struct greet *g)
{
    char *from = xasprintf("%s@%s", g->from, S.domain);
    char *to = xasprintf("%s@%s", g->to, S.domain);
    char *text = xasprintf("%s is now %s: their updates come from %s from "
                           "now on. Add that contact to keep them coming "
                           "here.",
                           g->from, g->to, to);
    char id[64];
    struct outmsg m = {.to = g->jid, .body = text, .id = id, .author = g->from};

    snprintf(id, sizeof(id), "starling-move-%llu",
             (unsigned long long)++S.next_id);
    session_send(&m);
    session_send_presence_from(from, g->jid, NULL, false);
    session_send_subscription_from(from, g->jid, "unsubscribed");
    session_send_subscription_from(to, g->jid, "subscribe");
    session_send_presence_from(to, g->jid, g->status, true);
    free(text);
    free(to);
    free(from);
}

bool session_user_addresses(const struct config *cfg)
{
    return cfg->xmpp.mode == MODE_COMPONENT && cfg->component.user_jids;
}

bool session_wants_contacts(void)
{
    return S.component;
}

/* Component mode: greet the next subscribers while the send queue has
 * room, counting what the turn holds until its commit (greeting runs
 * inside the turn, so without those it would see an empty queue and greet
 * everyone at once): the bot's presence, a subscription request (answered by
 * their server at once if they approved before; a user of a client-mode store
 * is asked to add the service JID) and a probe of theirs.  Greeting
 * 100,000 this way takes as long as the server needs, never a burst. */
static void greet_some(void)
{
    struct timespec now;

    now_mono(&now);
    while (S.greet_next < S.ngreet && tx_ready() != NULL &&
           S.greet[S.greet_next].due <= now.tv_sec &&
           xmpp_conn_send_queue_len(S.links[S.tx].conn) + (int)S.nheld <
               WINDOW / 2) {
        struct greet *g = &S.greet[S.greet_next++];

        if (g->from != NULL) {
            move_address(g);
            S.nmoved++;
        } else {
            send_presence_to(g->jid);
            session_send_subscription(g->jid, "subscribe");
            session_send_probe(g->jid);
        }
        greet_free(g);
    }
    if (S.greet_next == S.ngreet && S.ngreet > 0) {
        if (S.ngreet > S.nmoved)
            log_info("greeted %zu subscribers", S.ngreet - S.nmoved);
        if (S.nmoved > 0)
            log_info("told %zu followers of a moved address", S.nmoved);
        free(S.greet);
        S.greet = NULL;
        S.ngreet = S.greet_next = S.greet_cap = S.nmoved = 0;
    }
}

static void greet_forget(void)
{
    for (size_t i = S.greet_next; i < S.ngreet; i++)
        greet_free(&S.greet[i]);
    free(S.greet);
    S.greet = NULL;
    S.ngreet = S.greet_next = S.greet_cap = S.nmoved = 0;
}

void session_goodbye(const char *bare)
{
    xmpp_stanza_t *p;

    if (!S.component || tx() == NULL)
        return;
    p = xmpp_presence_new(S.ctx);
    xmpp_stanza_set_type(p, "unavailable");
    xmpp_stanza_set_to(p, bare);
    send_release(p);
}

int session_send_probe(const char *to)
{
    xmpp_stanza_t *p;

    if (tx() == NULL)
        return -1;
    p = xmpp_presence_new(S.ctx);
    xmpp_stanza_set_type(p, "probe");
    xmpp_stanza_set_to(p, to);
    send_release(p);
    return 0;
}

int session_send_presence_from(const char *from, const char *to,
                               const char *status, bool available)
{
    xmpp_stanza_t *p;

    if (tx() == NULL)
        return -1;
    p = xmpp_presence_new(S.ctx);
    xmpp_stanza_set_from(p, from);
    xmpp_stanza_set_to(p, to);
    if (!available)
        xmpp_stanza_set_type(p, "unavailable");
    else if (status != NULL && status[0] != '\0')
        text_child(p, "status", status);
    queue_stanza(p, true);
    return 0;
}

int session_send_subscription_from(const char *from, const char *to,
                                   const char *type)
{
    xmpp_stanza_t *p;

    if (tx() == NULL)
        return -1;
    p = xmpp_presence_new(S.ctx);
    xmpp_stanza_set_from(p, from);
    xmpp_stanza_set_type(p, type);
    xmpp_stanza_set_to(p, to);
    queue_stanza(p, true);
    return 0;
}

int session_send_subscription(const char *to, const char *type)
{
    xmpp_stanza_t *p;

    if (tx() == NULL)
        return -1;
    p = xmpp_presence_new(S.ctx);
    xmpp_stanza_set_type(p, type);
    xmpp_stanza_set_to(p, to);
    if (strcmp(type, "subscribe") == 0) /* XEP-0172 4.2 */
        xmpp_stanza_add_child_ex(child(p, "nick", NS_NICK), text_node(BOT_NAME),
                                 0);
    queue_stanza(p, true);
    return 0;
}

int session_barrier(uint64_t *token)
{
    struct link *l = tx_ready();
    char id[32];

    if (l == NULL)
        return -1;
    *token = ++S.next_id;
    snprintf(id, sizeof(id), "bar-%llu", (unsigned long long)*token);
    send_ping(NULL, id);
    if (l->nbars == l->bars_cap) {
        l->bars_cap = l->bars_cap ? l->bars_cap * 2 : 8;
        l->bars = xrealloc(l->bars, l->bars_cap * sizeof(*l->bars));
    }
    l->bars[l->nbars++] = *token;
    /* The next window goes out on the next ready link: each has its
     * share of the sends (a window never spans two links). */
    for (size_t i = 1; i <= S.nlinks; i++) {
        struct link *next = &S.links[(l->index + i) % S.nlinks];

        if (next->ready) {
            S.tx = next->index;
            break;
        }
    }
    return 0;
}

/* XEP-0050 ad-hoc commands ---------------------------------------------- */

#define COMMANDS_LISTED 64

static bool named(xmpp_stanza_t *st, const char *name)
{
    const char *n = xmpp_stanza_get_name(st);

    return n != NULL && strcmp(n, name) == 0;
}

/* A <command/> and its submitted form -> *req (the values are copies:
 * adhoc_values_free(&req->fields)).  Several <value/>s of a field are
 * joined with newlines. */
static void command_parse(xmpp_stanza_t *iq, xmpp_stanza_t *cmd,
                          struct adhoc_request *req)
{
    xmpp_stanza_t *x = xmpp_stanza_get_child_by_name_and_ns(cmd, "x", NS_DATA);
    const char *type = x != NULL ? xmpp_stanza_get_type(x) : NULL;

    memset(req, 0, sizeof(*req));
    req->from = xmpp_stanza_get_from(iq);
    req->node = xmpp_stanza_get_attribute(cmd, "node");
    req->sessionid = xmpp_stanza_get_attribute(cmd, "sessionid");
    req->action = adhoc_action_parse(xmpp_stanza_get_attribute(cmd, "action"));
    /* XEP-0050 (use of data forms): a form of type cancel counts as
     * submitted. */
    if (type == NULL ||
        (strcmp(type, "submit") != 0 && strcmp(type, "cancel") != 0))
        return;
    req->submitted = true;
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(x); f != NULL;
         f = xmpp_stanza_get_next(f)) {
        const char *var = xmpp_stanza_get_attribute(f, "var");
        struct buf value = {0};
        bool first = true;

        if (!named(f, "field") || var == NULL)
            continue;
        for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v != NULL;
             v = xmpp_stanza_get_next(v)) {
            char *text;

            if (!named(v, "value"))
                continue;
            text = xmpp_stanza_get_text(v);
            buf_printf(&value, "%s%s", first ? "" : "\n",
                       text != NULL ? text : "");
            first = false;
            if (text != NULL)
                xmpp_free(S.ctx, text);
        }
        adhoc_values_set(&req->fields, var, buf_str(&value));
        buf_free(&value);
    }
}

static xmpp_stanza_t *command_error(xmpp_stanza_t *iq,
                                    const struct adhoc_response *r)
{
    static const struct {
        const char *type, *condition, *specific;
    } errors[] = {
        [ADHOC_ERR_BAD_ACTION] = {"modify", "bad-request", "bad-action"},
        [ADHOC_ERR_MALFORMED_ACTION] = {"modify", "bad-request",
                                        "malformed-action"},
        [ADHOC_ERR_BAD_SESSIONID] = {"modify", "bad-request", "bad-sessionid"},
        [ADHOC_ERR_SESSION_EXPIRED] = {"cancel", "not-allowed",
                                       "session-expired"},
        [ADHOC_ERR_FORBIDDEN] = {"cancel", "forbidden", NULL},
        [ADHOC_ERR_NOT_FOUND] = {"cancel", "item-not-found", NULL},
        [ADHOC_ERR_BUSY] = {"wait", "resource-constraint", NULL},
        [ADHOC_ERR_INTERNAL] = {"wait", "internal-server-error", NULL},
    };
    xmpp_stanza_t *answer = iq_reply(iq, "error"), *e;

    e = child(answer, "error", NULL);
    xmpp_stanza_set_attribute(e, "type", errors[r->error].type);
    child(e, errors[r->error].condition, NS_STANZAS);
    if (errors[r->error].specific != NULL)
        child(e, errors[r->error].specific, NS_COMMANDS);
    if (r->error_text != NULL)
        text_ns(e, "text", NS_STANZAS, r->error_text);
    return answer;
}

/* The command's form (XEP-0004) showing r->values. */
static void command_form(xmpp_stanza_t *c, const struct adhoc_response *r)
{
    xmpp_stanza_t *x = child(c, "x", NS_DATA);

    xmpp_stanza_set_type(x, "form");
    text_child(x, "title", r->cmd->name);
    if (r->cmd->instructions != NULL)
        text_child(x, "instructions", r->cmd->instructions);
    for (const struct adhoc_field *fd = r->cmd->fields;
         fd != NULL && fd->label != NULL; fd++) {
        xmpp_stanza_t *f = child(x, "field", NULL);
        const char *value = adhoc_values_get(&r->values, fd->var);

        xmpp_stanza_set_type(f, adhoc_ftype_name(fd->type));
        if (fd->type == ADHOC_FIXED) {
            text_child(f, "value", fd->label);
            continue;
        }
        xmpp_stanza_set_attribute(f, "var", fd->var);
        xmpp_stanza_set_attribute(f, "label", fd->label);
        if (fd->required)
            child(f, "required", NULL);
        for (const struct adhoc_option *o = fd->options;
             o != NULL && o->value != NULL; o++) {
            xmpp_stanza_t *opt = child(f, "option", NULL);

            xmpp_stanza_set_attribute(opt, "label", o->label);
            text_child(opt, "value", o->value);
        }
        /* text-multi: a value per line */
        while (value != NULL && value[0] != '\0') {
            size_t n = fd->type == ADHOC_TEXT_MULTI ? strcspn(value, "\n")
                                                    : strlen(value);
            char *line = xstrndup(value, n);

            text_child(f, "value", line);
            free(line);
            value += n + (value[n] == '\n');
        }
    }
}

static xmpp_stanza_t *command_answer(xmpp_stanza_t *iq,
                                     const struct adhoc_response *r)
{
    static const char *const status[] = {
        [ADHOC_EXECUTING] = "executing",
        [ADHOC_COMPLETED] = "completed",
        [ADHOC_CANCELED] = "canceled",
    };
    xmpp_stanza_t *answer, *c, *note;

    if (r->status == ADHOC_FAILED)
        return command_error(iq, r);
    answer = iq_reply(iq, "result");
    c = child(answer, "command", NS_COMMANDS);
    xmpp_stanza_set_attribute(c, "node", r->cmd->node);
    if (r->sessionid[0] != '\0')
        xmpp_stanza_set_attribute(c, "sessionid", r->sessionid);
    xmpp_stanza_set_attribute(c, "status", status[r->status]);
    if (r->status == ADHOC_EXECUTING) {
        xmpp_stanza_t *actions = child(c, "actions", NULL);

        xmpp_stanza_set_attribute(actions, "execute", "complete");
        child(actions, "complete", NULL);
    }
    if (r->note.len > 0) {
        note = text_ns(c, "note", NULL, buf_str(&r->note));
        xmpp_stanza_set_type(note, r->note_type == ADHOC_NOTE_ERROR ? "error"
                                                                    : "info");
    }
    if (r->status == ADHOC_EXECUTING)
        command_form(c, r);
    return answer;
}

static xmpp_stanza_t *command_run(xmpp_stanza_t *iq, xmpp_stanza_t *cmd)
{
    struct adhoc_request req;
    struct adhoc_response resp = {0};
    xmpp_stanza_t *answer;

    command_parse(iq, cmd, &req);
    if (req.from == NULL || S.cb->command == NULL)
        adhoc_fail(&resp, ADHOC_ERR_FORBIDDEN, NULL);
    else
        S.cb->command(S.ud, &req, &resp);
    if (resp.status != ADHOC_FAILED && resp.cmd == NULL)
        adhoc_fail(&resp, ADHOC_ERR_INTERNAL, NULL); /* nothing to show */
    answer = command_answer(iq, &resp);
    adhoc_response_free(&resp);
    adhoc_values_free(&req.fields);
    return answer;
}

/* The commands the requester of iq may run: at most COMMANDS_LISTED. */
static size_t command_list(xmpp_stanza_t *iq, const struct adhoc_command **list)
{
    const char *from = xmpp_stanza_get_from(iq);

    if (from == NULL || S.cb->command_list == NULL)
        return 0;
    return S.cb->command_list(S.ud, from, list, COMMANDS_LISTED);
}

/* disco#items of the commands node: what the requester may run. */
static xmpp_stanza_t *command_items(xmpp_stanza_t *iq)
{
    const struct adhoc_command *list[COMMANDS_LISTED];
    const char *self = xmpp_stanza_get_to(iq);
    xmpp_stanza_t *answer = iq_reply(iq, "result"), *q;
    size_t n = command_list(iq, list);

    q = child(answer, "query", NS_DISCO_ITEMS);
    xmpp_stanza_set_attribute(q, "node", NS_COMMANDS);
    for (size_t i = 0; i < n; i++) {
        xmpp_stanza_t *item = child(q, "item", NULL);

        xmpp_stanza_set_attribute(item, "jid",
                                  self != NULL ? self : S.full_jid);
        xmpp_stanza_set_attribute(item, "node", list[i]->node);
        xmpp_stanza_set_attribute(item, "name", list[i]->name);
    }
    return answer;
}

/* disco#info of the commands node (a command-list) or of one command the
 * requester may run; forbidden for one they may not (XEP-0050,
 * retrieving the command list). */
static xmpp_stanza_t *command_info(xmpp_stanza_t *iq, const char *node)
{
    const struct adhoc_command *cmd = adhoc_find(node), *list[COMMANDS_LISTED];
    xmpp_stanza_t *answer, *q, *id;
    size_t n = cmd != NULL ? command_list(iq, list) : 0, i;

    for (i = 0; i < n && list[i] != cmd; i++)
        ;
    if (cmd != NULL && i == n) {
        struct adhoc_response no = {.status = ADHOC_FAILED,
                                    .error = ADHOC_ERR_FORBIDDEN};

        return command_error(iq, &no);
    }
    answer = iq_reply(iq, "result");
    q = child(answer, "query", NS_DISCO_INFO);
    xmpp_stanza_set_attribute(q, "node", node);
    id = child(q, "identity", NULL);
    xmpp_stanza_set_attribute(id, "category", "automation");
    xmpp_stanza_set_attribute(id, "type",
                              cmd != NULL ? "command-node" : "command-list");
    xmpp_stanza_set_attribute(id, "name", cmd != NULL ? cmd->name : "Commands");
    if (cmd != NULL) {
        xmpp_stanza_set_attribute(child(q, "feature", NULL), "var",
                                  NS_COMMANDS);
        xmpp_stanza_set_attribute(child(q, "feature", NULL), "var", NS_DATA);
    }
    return answer;
}

/* The answer to a XEP-0050 IQ: a command (set), the command list
 * (disco#items of the commands node), a command node's disco#info.  NULL
 * for any other IQ. */
static xmpp_stanza_t *adhoc_answer(xmpp_stanza_t *iq)
{
    const char *type = xmpp_stanza_get_type(iq), *node;
    xmpp_stanza_t *q;

    if (type == NULL)
        return NULL;
    if (strcmp(type, "set") == 0) {
        q = xmpp_stanza_get_child_by_name_and_ns(iq, "command", NS_COMMANDS);
        return q != NULL ? command_run(iq, q) : NULL;
    }
    if (strcmp(type, "get") != 0)
        return NULL;
    if ((q = xmpp_stanza_get_child_by_name_and_ns(iq, "query",
                                                  NS_DISCO_ITEMS)) != NULL) {
        node = xmpp_stanza_get_attribute(q, "node");
        return node != NULL && strcmp(node, NS_COMMANDS) == 0
                   ? command_items(iq)
                   : NULL;
    }
    if ((q = xmpp_stanza_get_child_by_name_and_ns(iq, "query",
                                                  NS_DISCO_INFO)) != NULL) {
        node = xmpp_stanza_get_attribute(q, "node");
        if (node != NULL &&
            (strcmp(node, NS_COMMANDS) == 0 || adhoc_find(node) != NULL))
            return command_info(iq, node);
    }
    return NULL;
}

static bool adhoc_iq(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *answer = adhoc_answer(iq);

    if (answer == NULL)
        return false;
    send_release(answer);
    return true;
}

char *session_test_iq(const struct session_callbacks *cb, void *ud,
                      const char *xml)
{
    const struct session_callbacks *cb_was = S.cb;
    void *ud_was = S.ud;
    xmpp_ctx_t *own = NULL;
    xmpp_stanza_t *iq, *answer = NULL;
    char *text = NULL, *out = NULL;
    size_t len;

    if (S.ctx == NULL)
        S.ctx = own = xmpp_ctx_new(NULL, NULL);
    S.cb = cb;
    S.ud = ud;
    if ((iq = xmpp_stanza_new_from_string(S.ctx, xml)) != NULL) {
        answer = adhoc_answer(iq);
        xmpp_stanza_release(iq);
    }
    if (answer != NULL && xmpp_stanza_to_text(answer, &text, &len) == 0) {
        out = xstrndup(text, len);
        xmpp_free(S.ctx, text);
    }
    if (answer != NULL)
        xmpp_stanza_release(answer);
    S.cb = cb_was;
    S.ud = ud_was;
    if (own != NULL) {
        xmpp_ctx_free(own);
        S.ctx = NULL;
    }
    return out;
}
