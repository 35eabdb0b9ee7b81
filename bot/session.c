/*
 * session.c - the only user of <strophe.h>: one XMPP client connection.
 *
 * It owns the libstrophe context and connection, verifies the server's
 * certificate (never skips it), reconnects with exponential backoff and
 * jitter, pings the server to notice dead connections, fetches the roster,
 * answers the basic IQs (disco#info, version, ping), and turns incoming
 * stanzas into plain C strings for dispatch.  It also offers the delivery
 * engine a bounded send window and barriers (a ping whose answer proves
 * that everything sent before it was accepted).
 *
 * libstrophe's stream management is switched off: in 0.12.2 it is not
 * reliable, and the bot's own outbox is what guarantees delivery.
 * A connection is never released inside one of its own callbacks: the
 * handlers only mark it dead, session_run_once() releases it.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <strophe.h>
#include <time.h>

#include "../common/log.h"
#include "session.h"
#include "../common/text.h"
#include "../common/util.h"

#define WINDOW        256  /* stanzas queued in libstrophe at most */
#define CORK_MIN      8    /* queued stanzas that make a burst */
#define DRAIN_TURNS   16   /* extra reads in one held turn, at most */
#define KA_TICK_MS    5000 /* how often the keep-alive looks */
#define KA_PERIOD     60   /* seconds between keep-alive pings */
#define KA_TIMEOUT    30   /* seconds without an answer: dead */
#define BACKOFF_MIN   1    /* seconds */
#define BACKOFF_MAX   60
#define NS_PING       "urn:xmpp:ping"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_VERSION    "jabber:iq:version"
#define NS_ROSTER     "jabber:iq:roster"
#define NS_DELAY      "urn:xmpp:delay"
#define NS_STANZAS    "urn:ietf:params:xml:ns:xmpp-stanzas"

static struct {
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    xmpp_log_t logger;
    const struct config *cfg;
    const struct session_callbacks *cb;
    void *ud;
    char *full_jid;
    char bare[JID_MAX + 1];
    const char *domain;
    bool connected; /* stream established (CONNECT seen) */
    bool ready;     /* roster fetched, presence sent */
    bool ever_ready;
    bool dead; /* conn to be released by run_once */
    bool stopping;
    bool auth_refused; /* SASL failure seen on this connection */
    unsigned backoff;  /* seconds before the next attempt */
    struct timespec next_attempt;
    uint64_t next_id;
    bool ka_outstanding;     /* a keep-alive ping awaits its answer */
    struct timespec ka_sent; /* when the last one was sent */
    int fd;                  /* the stream's socket, -1 when none */
    bool holding;            /* session_hold(): sends wait in held */
    xmpp_stanza_t **held;
    size_t nheld, held_cap;
    unsigned long handled; /* stanzas handed to our handlers */
} S;

static void now_mono(struct timespec *t)
{
    clock_gettime(CLOCK_MONOTONIC, t);
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

static void send_release(xmpp_stanza_t *st)
{
    if (S.holding) {
        if (S.nheld == S.held_cap) {
            S.held_cap = S.held_cap ? S.held_cap * 2 : 64;
            S.held = xrealloc(S.held, S.held_cap * sizeof(*S.held));
        }
        S.held[S.nheld++] = st;
        return;
    }
    xmpp_send(S.conn, st);
    xmpp_stanza_release(st);
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

static void text_child(xmpp_stanza_t *parent, const char *name,
                       const char *text)
{
    xmpp_stanza_t *c = child(parent, name, NULL), *t = xmpp_stanza_new(S.ctx);

    xmpp_stanza_set_text(t, text);
    xmpp_stanza_add_child_ex(c, t, 0);
}

static void send_ping(const char *id)
{
    xmpp_stanza_t *iq = xmpp_iq_new(S.ctx, "get", id);

    xmpp_stanza_set_to(iq, S.domain);
    child(iq, "ping", NS_PING);
    send_release(iq);
}

/* IQs ------------------------------------------------------------------- */

/* An IQ answer.  (libstrophe 0.12.2's xmpp_stanza_reply() leaves a NULL
 * "to" when the request had no "from", as our own server's pushes do.) */
static xmpp_stanza_t *iq_reply(xmpp_stanza_t *iq, const char *type)
{
    xmpp_stanza_t *r = xmpp_iq_new(S.ctx, type, xmpp_stanza_get_id(iq));
    const char *from = xmpp_stanza_get_from(iq);

    if (from != NULL)
        xmpp_stanza_set_to(r, from);
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

static void reply_disco(xmpp_stanza_t *iq)
{
    static const char *const features[] = {NS_DISCO_INFO, NS_VERSION, NS_PING,
                                           NS_DELAY, NULL};
    xmpp_stanza_t *r = iq_reply(iq, "result"), *q, *id;
    const char *node;

    q = child(r, "query", NS_DISCO_INFO);
    node = xmpp_stanza_get_attribute(
        xmpp_stanza_get_child_by_ns(iq, NS_DISCO_INFO), "node");
    if (node != NULL)
        xmpp_stanza_set_attribute(q, "node", node);
    id = child(q, "identity", NULL);
    xmpp_stanza_set_attribute(id, "category", "client");
    xmpp_stanza_set_attribute(id, "type", "bot");
    xmpp_stanza_set_attribute(id, "name", "Starling");
    for (size_t i = 0; features[i] != NULL; i++)
        xmpp_stanza_set_attribute(child(q, "feature", NULL), "var",
                                  features[i]);
    send_release(r);
}

static void reply_version(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *r = iq_reply(iq, "result"), *q;

    q = child(r, "query", NS_VERSION);
    text_child(q, "name", "Starling");
    text_child(q, "version", STARLING_VERSION);
    send_release(r);
}

static void roster_result(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(iq, NS_ROSTER), *item, *p;
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
    p = xmpp_presence_new(S.ctx);
    text_child(p, "status", "Send \"help\" to get started.");
    text_child(p, "priority", "1");
    send_release(p);
    S.ready = true;
    S.ever_ready = true;
    S.backoff = BACKOFF_MIN;
    log_info("logged in as %s, %zu contacts in the roster", S.full_jid, n);
    if (S.cb->ready != NULL)
        S.cb->ready(S.ud);
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
        if (id == NULL || !from_server_or_self(xmpp_stanza_get_from(iq)))
            return 1;
        if (strncmp(id, "bar-", 4) == 0 && S.cb->barrier != NULL)
            S.cb->barrier(S.ud, strtoull(id + 4, NULL, 10));
        else if (strncmp(id, "ka-", 3) == 0)
            S.ka_outstanding = false;
        else if (strncmp(id, "roster-", 7) == 0 && !S.ready)
            roster_result(iq);
        return 1;
    }
    if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)
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
    struct inmsg m = {0};
    char *body;

    (void)conn;
    (void)ud;
    S.handled++;
    body = xmpp_stanza_get_child_by_name(st, "body") != NULL
               ? xmpp_message_get_body(st)
               : NULL;
    m.from = xmpp_stanza_get_from(st);
    m.type = xmpp_stanza_get_type(st);
    m.id = xmpp_stanza_get_id(st);
    m.body = body;
    if (m.body == NULL && xmpp_stanza_get_child_by_name(st, "body") != NULL)
        m.body = "";
    if (m.from != NULL && S.cb->message != NULL)
        S.cb->message(S.ud, &m);
    if (body != NULL)
        xmpp_free(S.ctx, body);
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
    char bare[JID_MAX + 1];

    (void)conn;
    (void)ud;
    S.handled++;
    if (from == NULL || jid_bare(from, bare, sizeof(bare)) < 0 ||
        strcmp(bare, S.bare) == 0)
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
    if (strcmp(type, "unavailable") == 0) {
        if (S.cb->presence != NULL)
            S.cb->presence(S.ud, from, SHOW_OFFLINE, 0, true);
        return 1;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(type, subs[i].name) == 0) {
            if (S.cb->subscription != NULL)
                S.cb->subscription(S.ud, bare, subs[i].kind);
            return 1;
        }
    }
    return 1; /* error, probe */
}

/*
 * A dead TCP connection (a server that vanished without a FIN) is only
 * noticed by writing to it and waiting: every KA_PERIOD s a ping to our
 * server; no answer within KA_TIMEOUT s and the stream is given up, which
 * reconnects.  Checked every KA_TICK_MS, from libstrophe's timer.
 */
static int keepalive(xmpp_conn_t *conn, void *ud)
{
    struct timespec now;
    long since;
    char *id;

    (void)ud;
    if (!S.connected)
        return 0;
    now_mono(&now);
    since = (long)(now.tv_sec - S.ka_sent.tv_sec);
    if (S.ka_outstanding) {
        if (since < KA_TIMEOUT)
            return 1;
        log_warnx("the server did not answer a ping for %d s; reconnecting",
                  KA_TIMEOUT);
        xmpp_disconnect(conn);
        return 0;
    }
    if (since < KA_PERIOD)
        return 1;
    id = new_id("ka");
    send_ping(id);
    free(id);
    S.ka_outstanding = true;
    S.ka_sent = now;
    return 1;
}

/* Connection ------------------------------------------------------------ */

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                    xmpp_stream_error_t *stream_error, void *ud)
{
    (void)ud;
    if (event == XMPP_CONN_CONNECT) {
        xmpp_stanza_t *iq;
        char *id;

        S.connected = true;
        S.auth_refused = false; /* a later mechanism was accepted */
        S.ka_outstanding = false;
        now_mono(&S.ka_sent);
        xmpp_handler_add(conn, on_iq, NULL, "iq", NULL, NULL);
        xmpp_handler_add(conn, on_message, NULL, "message", NULL, NULL);
        xmpp_handler_add(conn, on_presence, NULL, "presence", NULL, NULL);
        xmpp_timed_handler_add(conn, keepalive, KA_TICK_MS, NULL);
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
    if (S.connected || S.ready) {
        log_warnx("disconnected from the server%s%s%s",
                  stream_error != NULL && stream_error->text != NULL ? ": "
                                                                     : "",
                  stream_error != NULL && stream_error->text != NULL
                      ? stream_error->text
                      : "",
                  error != 0 ? " (connection error)" : "");
        if (S.cb->disconnected != NULL)
            S.cb->disconnected(S.ud);
    } else if (!S.stopping) {
        log_warnx("could not log in to the server%s",
                  error != 0 ? " (connection failed)" : "");
    }
    if (S.auth_refused && !S.ever_ready && !S.stopping) {
        if (S.cb->auth_failed != NULL)
            S.cb->auth_failed(S.ud);
    }
    S.connected = false;
    S.ready = false;
    S.dead = true;
    S.fd = -1;
}

/* Replies are small and answer a request: send them at once (no Nagle),
 * and let the kernel notice a dead peer too (TCP keep-alive). */
static int sockopts(xmpp_conn_t *conn, void *sock)
{
    int fd = *(int *)sock, one = 1;

    S.fd = fd;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        log_warn("TCP_NODELAY");
    return xmpp_sockopt_cb_keepalive(conn, sock);
}

static void schedule_reconnect(void)
{
    double jitter = 1.0 + (double)(random() % 1000) / 4000.0; /* +0-25% */
    long ms = (long)(S.backoff * 1000.0 * jitter);

    now_mono(&S.next_attempt);
    S.next_attempt.tv_sec += ms / 1000;
    S.next_attempt.tv_nsec += (ms % 1000) * 1000000L;
    if (S.next_attempt.tv_nsec >= 1000000000L) {
        S.next_attempt.tv_sec++;
        S.next_attempt.tv_nsec -= 1000000000L;
    }
    log_info("reconnecting in %.1f s", ms / 1000.0);
    S.backoff = S.backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : S.backoff * 2;
}

static int connect_now(void)
{
    long flags = XMPP_CONN_FLAG_DISABLE_SM;

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
    S.conn = xmpp_conn_new(S.ctx);
    S.auth_refused = false;
    xmpp_conn_set_flags(S.conn, flags);
    xmpp_conn_set_jid(S.conn, S.full_jid);
    xmpp_conn_set_pass(S.conn, S.cfg->xmpp.password);
    if (S.cfg->xmpp.ca_file != NULL)
        xmpp_conn_set_cafile(S.conn, S.cfg->xmpp.ca_file);
    xmpp_conn_set_certfail_handler(S.conn, certfail);
    xmpp_conn_set_sockopt_callback(S.conn, sockopts);
    if (xmpp_connect_client(S.conn, S.cfg->xmpp.host,
                            (unsigned short)S.cfg->xmpp.port, on_conn,
                            NULL) != XMPP_EOK) {
        log_warnx("cannot connect to %s",
                  S.cfg->xmpp.host != NULL ? S.cfg->xmpp.host : S.domain);
        S.dead = true;
        return -1;
    }
    return 0;
}

int session_start(const struct config *cfg, const struct session_callbacks *cb,
                  void *ud)
{
    struct timespec t;

    memset(&S, 0, sizeof(S));
    S.fd = -1;
    S.cfg = cfg;
    S.cb = cb;
    S.ud = ud;
    if (jid_bare(cfg->xmpp.jid, S.bare, sizeof(S.bare)) < 0)
        return -1;
    S.domain = strchr(S.bare, '@') + 1;
    S.full_jid = xasprintf("%s/%s", S.bare, cfg->xmpp.resource);
    S.backoff = BACKOFF_MIN;
    now_mono(&t);
    srandom((unsigned)(t.tv_nsec ^ t.tv_sec));
    xmpp_initialize();
    S.logger.handler = strophe_log;
    S.logger.userdata = NULL;
    S.ctx = xmpp_ctx_new(NULL, &S.logger);
    connect_now();
    return 0;
}

/* A burst queued (a fan-out): written corked, the kernel packs the
 * stanzas into full segments instead of a packet each (TCP_NODELAY), which
 * cost both ends a system call and a wakeup per stanza; uncorking sends
 * what is left at once.  Input is handled as in any turn. */
static void run_corked(void)
{
    int on = 1, off = 0;

    setsockopt(S.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
    xmpp_run_once(S.ctx, 0);
    setsockopt(S.fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
}

void session_run_once(unsigned long timeout_ms)
{
    if (S.ctx == NULL)
        return;
    /* libstrophe formats every stanza in and out for its debug log (and
     * strophe_log would scan each for secrets): while the stream is up and
     * nobody reads debug output, its log is off.  A dropped stream is
     * still reported, by the connection handler. */
    S.logger.handler =
        S.ready && log_get_level() > LOG_LEVEL_DEBUG ? NULL : strophe_log;
    if (S.dead && S.conn != NULL) {
        xmpp_conn_release(S.conn);
        S.conn = NULL;
        S.dead = false;
        if (!S.stopping)
            schedule_reconnect();
    }
    if (S.conn == NULL) {
        long wait;

        if (S.stopping)
            return;
        wait = ms_until(&S.next_attempt);
        if (wait <= 0) {
            connect_now();
        } else {
            poll(NULL, 0,
                 (int)(wait < (long)timeout_ms ? wait : (long)timeout_ms));
            return;
        }
    }
    if (S.ready && S.fd >= 0 && xmpp_conn_send_queue_len(S.conn) >= CORK_MIN)
        run_corked();
    else
        xmpp_run_once(S.ctx, timeout_ms);
    /* Held, nothing of ours goes out meanwhile: read on while stanzas keep
     * coming (libstrophe reads 4 kB a turn), so that one commit covers
     * them all. */
    for (int i = 0; S.holding && i < DRAIN_TURNS && S.conn != NULL && !S.dead;
         i++) {
        unsigned long before = S.handled;

        xmpp_run_once(S.ctx, 0);
        if (S.handled == before)
            break;
    }
}

void session_hold(void)
{
    S.holding = true;
}

void session_release(void)
{
    S.holding = false;
    for (size_t i = 0; i < S.nheld; i++) {
        /* libstrophe would drop them too while disconnected */
        if (S.conn != NULL && S.connected && !S.dead)
            xmpp_send(S.conn, S.held[i]);
        xmpp_stanza_release(S.held[i]);
    }
    S.nheld = 0;
}

void session_reconfigure(const struct config *cfg)
{
    /* The xmpp section is not reloaded; keep the pointer current. */
    S.cfg = cfg;
}

void session_stop(void)
{
    struct timespec until;

    if (S.ctx == NULL)
        return;
    S.stopping = true;
    session_release();
    free(S.held);
    if (S.conn != NULL && S.connected) {
        xmpp_stanza_t *p = xmpp_presence_new(S.ctx);

        xmpp_stanza_set_type(p, "unavailable");
        send_release(p);
        xmpp_disconnect(S.conn);
        now_mono(&until);
        until.tv_sec += 3;
        while (!S.dead && ms_until(&until) > 0)
            xmpp_run_once(S.ctx, 50);
    }
    if (S.conn != NULL)
        xmpp_conn_release(S.conn);
    xmpp_ctx_free(S.ctx);
    xmpp_shutdown();
    free(S.full_jid);
    memset(&S, 0, sizeof(S));
}

bool session_connected(void)
{
    return S.ready;
}

size_t session_send_room(void)
{
    int q;

    if (!S.ready || S.conn == NULL)
        return 0;
    q = xmpp_conn_send_queue_len(S.conn) + (int)S.nheld;
    return q >= WINDOW ? 0 : (size_t)(WINDOW - q);
}

int session_send_chat(const char *to, const char *body, const char *id,
                      time_t stamp)
{
    xmpp_stanza_t *m;
    char *own = NULL;

    if (!S.connected || S.conn == NULL)
        return -1;
    if (id == NULL)
        id = own = new_id("m");
    m = xmpp_message_new(S.ctx, "chat", to, id);
    xmpp_message_set_body(m, body);
    if (stamp != 0) {
        char ts[32];
        struct tm tm;
        xmpp_stanza_t *d = child(m, "delay", NS_DELAY);

        gmtime_r(&stamp, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        xmpp_stanza_set_attribute(d, "stamp", ts);
        xmpp_stanza_set_attribute(d, "from", S.domain);
    }
    send_release(m);
    free(own);
    return 0;
}

int session_send_subscription(const char *to, const char *type)
{
    xmpp_stanza_t *p;

    if (!S.connected || S.conn == NULL)
        return -1;
    p = xmpp_presence_new(S.ctx);
    xmpp_stanza_set_type(p, type);
    xmpp_stanza_set_to(p, to);
    send_release(p);
    return 0;
}

int session_barrier(uint64_t *token)
{
    char id[32];

    if (!S.ready || S.conn == NULL)
        return -1;
    *token = ++S.next_id;
    snprintf(id, sizeof(id), "bar-%llu", (unsigned long long)*token);
    send_ping(id);
    return 0;
}
