/*
 * floor.c - the minimal libstrophe programs that make bench measures
 * Starling against, on the same server in the same run:
 *
 *   floor send HOST PORT JID PASSWORD PREFIX FIRST LAST DOMAIN COUNT TEXT
 *       logs in as JID and prints "ready"; on a chat message with a body
 *       (a post, through the server, as the bot gets one) or "go" on
 *       standard input sends COUNT chat messages TEXT to each of
 *       PREFIX<FIRST..LAST>@DOMAIN from its one connection, as fast as
 *       libstrophe writes them, and prints "sent T" (realtime just before
 *       the first); "quit" ends it.  Each
 *       message carries what Starling's do (an id, a XEP-0359 origin-id)
 *       and is written as text, as Starling writes them.
 *   floor held HOST PORT JID PASSWORD PREFIX FIRST LAST DOMAIN COUNT TEXT
 *       what Starling does for a held backlog, with the least work: logs
 *       in as JID and prints "ready"; after "go" (it prints "armed"),
 *       the first available presence from each of PREFIX<FIRST..LAST>@
 *       DOMAIN has it sent the COUNT messages "send" sends them, at once.
 *   floor echo HOST PORT JID PASSWORD
 *       answers every chat message with a body at once, with a reply of
 *       the size of Starling's "Posted #N.", storing nothing; prints
 *       "ready"; "quit" ends it.
 *   floor roster HOST PORT JID PASSWORD
 *       logs in, fetches its roster, sends initial presence and prints
 *       "roster N items T s" (T from the start of the process); exits.
 *   floor component HOST PORTS DOMAIN SECRET PREFIX FIRST LAST TODOMAIN
 *                   COUNT TEXT
 *       an XEP-0114 component DOMAIN with one connection to each of the
 *       comma-separated PORTS (the nodes of a cluster); prints "ready" once
 *       every handshake is done; on a message to DOMAIN or "go" sends
 *       what "send" sends, from DOMAIN, the connections taking the
 *       messages in turn.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINKS_MAX 8

static xmpp_ctx_t *ctx;
static xmpp_conn_t *conn;
static double started;
static int done, answered;
/* held mode: armed by "go"; who of FIRST..LAST was served since */
static int armed;
static char *served;

static int on_held(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud);
static int on_post(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud);
/* component mode: one connection per port, and the domain sent from */
static xmpp_conn_t *links[LINKS_MAX];
static int nlinks, nlinked;
static const char *component;

static double clock_s(clockid_t id)
{
    struct timespec t;

    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void say(const char *fmt, double v)
{
    printf(fmt, v);
    fflush(stdout);
}

static int on_echo(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud)
{
    const char *from = xmpp_stanza_get_from(st);
    xmpp_stanza_t *reply;
    char text[32];

    (void)ud;
    if (from == NULL || xmpp_stanza_get_child_by_name(st, "body") == NULL)
        return 1;
    snprintf(text, sizeof(text), "Posted #%d.", ++answered);
    reply = xmpp_message_new(ctx, "chat", from, NULL);
    xmpp_message_set_body(reply, text);
    xmpp_send(c, reply);
    xmpp_stanza_release(reply);
    return 1;
}

static int on_roster(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud)
{
    xmpp_stanza_t *q = xmpp_stanza_get_child_by_name(st, "query"), *it;
    int n = 0;

    (void)ud;
    for (it = q ? xmpp_stanza_get_children(q) : NULL; it != NULL;
         it = xmpp_stanza_get_next(it))
        n++;
    xmpp_stanza_t *p = xmpp_presence_new(ctx);
    xmpp_send(c, p);
    xmpp_stanza_release(p);
    printf("roster %d items %.6f s\n", n, clock_s(CLOCK_MONOTONIC) - started);
    fflush(stdout);
    done = 1;
    return 0;
}

static void on_conn(xmpp_conn_t *c, xmpp_conn_event_t ev, int err,
                    xmpp_stream_error_t *se, void *ud)
{
    const char *mode = ud;

    (void)err;
    (void)se;
    if (ev != XMPP_CONN_CONNECT) {
        if (!done) {
            fprintf(stderr, "floor: stream lost\n");
            exit(1);
        }
        return;
    }
    if (strcmp(mode, "roster") == 0) {
        xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", "roster1");
        xmpp_stanza_t *q = xmpp_stanza_new(ctx);

        xmpp_stanza_set_name(q, "query");
        xmpp_stanza_set_ns(q, "jabber:iq:roster");
        xmpp_stanza_add_child(iq, q);
        xmpp_stanza_release(q);
        xmpp_id_handler_add(c, on_roster, "roster1", NULL);
        xmpp_send(c, iq);
        xmpp_stanza_release(iq);
        return;
    }
    if (strcmp(mode, "echo") == 0)
        xmpp_handler_add(c, on_echo, NULL, "message", NULL, NULL);
    if (strcmp(mode, "held") == 0)
        xmpp_handler_add(c, on_held, NULL, "presence", NULL, NULL);
    if (strcmp(mode, "send") == 0)
        xmpp_handler_add(c, on_post, NULL, "message", NULL, NULL);
    xmpp_stanza_t *p = xmpp_presence_new(ctx);
    xmpp_send(c, p);
    xmpp_stanza_release(p);
    printf("ready\n");
    fflush(stdout);
}

static void on_link(xmpp_conn_t *c, xmpp_conn_event_t ev, int err,
                    xmpp_stream_error_t *se, void *ud)
{
    (void)err;
    (void)se;
    (void)ud;
    if (ev != XMPP_CONN_CONNECT) {
        if (!done) {
            fprintf(stderr, "floor: component stream lost\n");
            exit(1);
        }
        return;
    }
    xmpp_handler_add(c, on_post, NULL, "message", NULL, NULL);
    if (++nlinked == nlinks) {
        printf("ready\n");
        fflush(stdout);
    }
}

static void on_refused(xmpp_conn_t *c, xmpp_conn_event_t ev, int err,
                       xmpp_stream_error_t *se, void *ud)
{
    (void)c;
    (void)err;
    (void)se;
    if (ev == XMPP_CONN_DISCONNECT || ev == XMPP_CONN_FAIL)
        *(int *)ud = 1;
}

/* A connection libstrophe 0.12.2 can send a component's stanzas on: it
 * keeps stream-management state only for connections that went through
 * xmpp_connect_client(), and dereferences it on every send.  A client
 * connection to a loopback port nobody listens on fails at once and
 * leaves its (empty) state to hand over. */
static xmpp_conn_t *component_conn(const char *domain, const char *secret)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    xmpp_conn_t *tmp = xmpp_conn_new(ctx), *c;
    xmpp_sm_state_t *sm = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0), failed = 0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        fprintf(stderr, "floor: no loopback port\n");
        exit(1);
    }
    xmpp_conn_set_jid(tmp, "floor@localhost");
    xmpp_conn_set_flags(tmp,
                        XMPP_CONN_FLAG_DISABLE_TLS | XMPP_CONN_FLAG_DISABLE_SM);
    if (xmpp_connect_client(tmp, "127.0.0.1", ntohs(a.sin_port), on_refused,
                            &failed) == XMPP_EOK)
        for (int i = 0; i < 500 && !failed; i++)
            xmpp_run_once(ctx, 10);
    close(fd);
    if (failed)
        sm = xmpp_conn_get_sm_state(tmp);
    xmpp_conn_release(tmp);
    c = xmpp_conn_new(ctx);
    if (sm == NULL || xmpp_conn_set_sm_state(c, sm) != XMPP_EOK) {
        fprintf(stderr, "floor: cannot prepare a component connection\n");
        exit(1);
    }
    xmpp_conn_set_flags(c, XMPP_CONN_FLAG_DISABLE_SM);
    xmpp_conn_set_jid(c, domain);
    xmpp_conn_set_pass(c, secret);
    return c;
}

/* floor component HOST PORTS DOMAIN SECRET ...: a connection per port
 * (all made before any connects: "ready" counts them). */
static void connect_component(char **argv)
{
    char ports[256], *p, *save = NULL;
    int port[LINKS_MAX];

    component = argv[4];
    snprintf(ports, sizeof(ports), "%s", argv[3]);
    for (p = strtok_r(ports, ",", &save); p != NULL && nlinks < LINKS_MAX;
         p = strtok_r(NULL, ",", &save)) {
        port[nlinks] = atoi(p);
        links[nlinks++] = component_conn(argv[4], argv[5]);
    }
    for (int i = 0; i < nlinks; i++) {
        if (xmpp_connect_component(links[i], argv[2], (unsigned short)port[i],
                                   on_link, NULL) != XMPP_EOK) {
            fprintf(stderr, "floor: cannot connect to port %d\n", port[i]);
            exit(1);
        }
    }
}

/* The next line of standard input without blocking, or NULL. */
static char *poll_line(void)
{
    static char line[256];
    struct pollfd p = {.fd = 0, .events = POLLIN};

    if (poll(&p, 1, 0) <= 0)
        return NULL;
    if (fgets(line, sizeof(line), stdin) == NULL)
        return "quit";
    return line;
}

/* text with the characters XML gives a meaning escaped; caller frees. */
static char *xml_escape(const char *text)
{
    char *out = malloc(strlen(text) * 6 + 1), *o = out;

    if (out == NULL)
        exit(1);
    for (; *text != '\0'; text++) {
        const char *e = *text == '&'    ? "&amp;"
                        : *text == '<'  ? "&lt;"
                        : *text == '>'  ? "&gt;"
                        : *text == '\'' ? "&apos;"
                                        : NULL;

        if (e == NULL) {
            *o++ = *text;
        } else {
            memcpy(o, e, strlen(e));
            o += strlen(e);
        }
    }
    *o = '\0';
    return out;
}

/* What "send" and "held" send: PREFIX FIRST LAST DOMAIN COUNT TEXT, and
 * the parts of every message that do not change, written once. */
static const char *const *what;
static long first, last, count;
static char *head, *mid, *tail, *msg;
static size_t nhead, nmid, ntail, cap;

static char *joined(const char *a, const char *b, const char *c, const char *d,
                    size_t *len)
{
    char *out = malloc(strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1);

    if (out == NULL)
        exit(1);
    *len = (size_t)sprintf(out, "%s%s%s%s", a, b, c, d);
    return out;
}

static void prepare(char **argv)
{
    char *body = xml_escape(argv[5]), *from;
    size_t nfrom;

    what = (const char *const *)argv;
    first = atol(argv[1]);
    last = atol(argv[2]);
    count = atol(argv[4]);
    from = joined(component != NULL ? "' from='" : "",
                  component != NULL ? component : "", "", "", &nfrom);
    /* <message type='chat' to='PREFIX i @DOMAIN' id='floor- k - i
     * FROM'><body>BODY</body><origin-id ... id='floor- k - i '/></message> */
    head = joined("<message type='chat' to='", argv[0], "", "", &nhead);
    mid = joined("@", argv[3], "' id='floor-", "", &nmid);
    tail =
        joined(from, "'><body>", body,
               "</body><origin-id xmlns='urn:xmpp:sid:0' id='floor-", &ntail);
    cap = nhead + nmid + ntail + 128;
    msg = malloc(cap);
    if (msg == NULL)
        exit(1);
    free(body);
    free(from);
}

/* n in decimal at out; returns the end. */
static char *put_long(char *out, long n)
{
    char digits[24];
    int k = 0;

    do
        digits[k++] = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    while (k > 0)
        *out++ = digits[--k];
    return out;
}

static char *put(char *out, const char *s, size_t n)
{
    memcpy(out, s, n);
    return out + n;
}

/* Message k to PREFIX<i>@DOMAIN, as the bot sends it, with the least work
 * that sends it: written as text carrying what the bot's carry (type, to,
 * an id, a component's from, the body and a XEP-0359 origin-id) from the
 * parts written once, and handed to libstrophe as it is, the connections
 * taking them in turn. */
static void send_one(long k, long i)
{
    char *o = put(msg, head, nhead);

    o = put_long(o, i);
    o = put(o, mid, nmid);
    o = put_long(o, k);
    *o++ = '-';
    o = put_long(o, i);
    o = put(o, tail, ntail);
    o = put_long(o, k);
    *o++ = '-';
    o = put_long(o, i);
    o = put(o, "'/></message>", 13);
    xmpp_send_raw(links[(k * (last - first + 1) + i) % nlinks], msg,
                  (size_t)(o - msg));
}

/* send: every message at once. */
static void blast(void)
{
    say("sent %.6f\n", clock_s(CLOCK_REALTIME));
    for (long k = 0; k < count; k++)
        for (long i = first; i <= last; i++)
            send_one(k, i);
}

/* send, component: a post came (a message with a body), as the bot's
 * come: every message at once. */
static int on_post(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud)
{
    (void)c;
    (void)ud;
    if (xmpp_stanza_get_child_by_name(st, "body") != NULL &&
        xmpp_stanza_get_type(st) != NULL &&
        strcmp(xmpp_stanza_get_type(st), "error") != 0)
        blast();
    return 1;
}

/* held: PREFIX<i>@DOMAIN[/resource] came online (no type, no show but
 * chat): its COUNT messages, once after each "go". */
static int on_held(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud)
{
    const char *from = xmpp_stanza_get_from(st);
    size_t np = strlen(what[0]), nd = strlen(what[3]);
    long i;
    xmpp_stanza_t *sh = xmpp_stanza_get_child_by_name(st, "show");
    char *end, *text = sh != NULL ? xmpp_stanza_get_text(sh) : NULL;
    bool away = text != NULL && strcmp(text, "chat") != 0;

    (void)c;
    (void)ud;
    xmpp_free(ctx, text);
    if (!armed || from == NULL || xmpp_stanza_get_type(st) != NULL || away ||
        strncmp(from, what[0], np) != 0)
        return 1;
    i = strtol(from + np, &end, 10);
    if (end == from + np || *end != '@' || strncmp(end + 1, what[3], nd) != 0 ||
        (end[1 + nd] != '\0' && end[1 + nd] != '/') || i < first || i > last ||
        served[i - first])
        return 1;
    served[i - first] = 1;
    for (long k = 0; k < count; k++)
        send_one(k, i);
    return 1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    char *line;

    bool sends = strcmp(mode, "send") == 0 || strcmp(mode, "held") == 0 ||
                 strcmp(mode, "component") == 0;

    started = clock_s(CLOCK_MONOTONIC);
    if (argc < 6 || (sends && argc < 12) ||
        (!sends && strcmp(mode, "echo") != 0 && strcmp(mode, "roster") != 0)) {
        fprintf(stderr, "usage: floor send|held|echo|roster HOST PORT JID "
                        "PASSWORD [PREFIX FIRST LAST DOMAIN COUNT TEXT]\n"
                        "       floor component HOST PORTS DOMAIN SECRET "
                        "PREFIX FIRST LAST TODOMAIN COUNT TEXT\n");
        return 2;
    }
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    if (strcmp(mode, "component") == 0) {
        connect_component(argv);
    } else {
        conn = xmpp_conn_new(ctx);
        xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_TRUST_TLS |
                                      XMPP_CONN_FLAG_DISABLE_SM);
        xmpp_conn_set_jid(conn, argv[4]);
        xmpp_conn_set_pass(conn, argv[5]);
        if (xmpp_connect_client(conn, argv[2], (unsigned short)atoi(argv[3]),
                                on_conn, (void *)mode) != XMPP_EOK) {
            fprintf(stderr, "floor: cannot connect\n");
            return 1;
        }
        links[nlinks++] = conn;
    }
    if (sends) {
        prepare(argv + 6);
        served = calloc((size_t)(last - first + 1), 1);
        if (served == NULL)
            exit(1);
    }
    while (!done) {
        /* Long enough that idling costs next to nothing: the CPU time
         * measured includes the wait for the last receipt. */
        xmpp_run_once(ctx, 20);
        if ((line = poll_line()) == NULL)
            continue;
        if (strncmp(line, "go", 2) == 0 && strcmp(mode, "held") == 0) {
            memset(served, 0, (size_t)(last - first + 1));
            armed = 1;
            printf("armed\n");
            fflush(stdout);
        } else if (strncmp(line, "go", 2) == 0 && sends) {
            blast();
        } else if (strncmp(line, "quit", 4) == 0)
            done = 1;
    }
    for (int i = 0; i < nlinks; i++)
        xmpp_disconnect(links[i]);
    for (int i = 0; i < 50; i++)
        xmpp_run_once(ctx, 10);
    for (int i = 0; i < nlinks; i++)
        xmpp_conn_release(links[i]);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    free(served);
    free(msg);
    free(head);
    free(mid);
    free(tail);
    return 0;
}
