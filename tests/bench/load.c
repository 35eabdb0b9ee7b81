/*
 * load.c - many XMPP clients in one process, for make bench:
 *   load HOST PORT DOMAIN PASSWORD PREFIX FIRST LAST [PRESENCE_TO [SHOW]]
 * logs in PREFIX<FIRST>..PREFIX<LAST>@DOMAIN a few at a time (a burst of
 * hundreds of connects overflows the server's accept backlog), sends each
 * one's initial presence, and directed presence to PRESENCE_TO when given
 * (with SHOW, e.g. dnd), then prints "ready N".
 *
 * Commands on standard input, one a line; answers on standard output:
 *   expect K          "done K LAST" once K messages with a body have come
 *                     in since the last reset (LAST: realtime of the Kth)
 *   reset             forget what came in; prints "armed" (send what is
 *                     to be counted only after that)
 *   count             "count N": messages with a body since the reset
 *   show SHOW [JID]   every connection tells PRESENCE_TO (or JID) its
 *                     new SHOW ("available" for none): one stanza each,
 *                     as a subscribed contact's broadcast would reach it;
 *                     prints "shown T"
 *   send JID N TEXT   every connection sends N chat messages TEXT to JID;
 *                     prints "sent T" (realtime just before the first)
 *   approve           from now on every connection approves a
 *                     subscription request (presence subscribe) at once,
 *                     as a client whose user accepts it does
 *   join JID TEXT     every connection subscribes to JID (and approves
 *                     as above); when JID's first message containing
 *                     "Welcome" comes, sends TEXT to JID, and counts
 *                     JID's next message as the answer; prints "joining
 *                     T" (realtime just before the first request), then
 *                     "welcomed N T" and "answered N T" once every
 *                     connection has its welcome / answer (T: realtime
 *                     of the last one)
 *   progress          "progress W A": connections welcomed, answered
 *   quit              close every stream and exit
 * libstrophe's loop uses select(): keep LAST - FIRST below ~900.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <time.h>
#include <unistd.h>

#define CONNECTING_MAX 10
#define ATTEMPTS_MAX   5

struct client {
    xmpp_conn_t *conn;
    char jid[128];
    int attempts;
    int up;
    int joining; /* 0 no; 1 asked; 2 welcomed, TEXT sent; 3 answered */
    int retry;   /* log in again from the main loop */
};

static xmpp_ctx_t *ctx;
static struct client *clients;
static int nclients, next_connect, connecting, nready;
static const char *host, *password, *presence_to;
static unsigned short port;
static char initial_show[16];
static long received, expected = -1;
static double last_receipt;
static int quitting;
static int approving;
static char join_to[256], join_text[1024];
static int welcomed, answered;

static double realtime(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void send_presence(xmpp_conn_t *conn, const char *to, const char *show)
{
    xmpp_stanza_t *p = xmpp_presence_new(ctx);

    if (to != NULL)
        xmpp_stanza_set_to(p, to);
    if (show != NULL && show[0] != '\0' && strcmp(show, "available") != 0) {
        xmpp_stanza_t *s = xmpp_stanza_new(ctx), *t = xmpp_stanza_new(ctx);

        xmpp_stanza_set_name(s, "show");
        xmpp_stanza_set_text(t, show);
        xmpp_stanza_add_child(s, t);
        xmpp_stanza_add_child(p, s);
        xmpp_stanza_release(t);
        xmpp_stanza_release(s);
    }
    xmpp_send(conn, p);
    xmpp_stanza_release(p);
}

static void present(struct client *c, const char *show)
{
    send_presence(c->conn, NULL, show);
    if (presence_to != NULL)
        send_presence(c->conn, presence_to, show);
}

/* True if the full or bare JID from is the bare JID bare. */
static int from_bare(const char *from, const char *bare)
{
    size_t n = strlen(bare);

    return from != NULL && strncmp(from, bare, n) == 0 &&
           (from[n] == '\0' || from[n] == '/');
}

static void say_all(const char *what, int n)
{
    printf("%s %d %.6f\n", what, n, realtime());
    fflush(stdout);
}

/* join: the welcome, then the answer to TEXT, from join_to. */
static void joined(struct client *c, xmpp_stanza_t *st)
{
    char *body;

    if (c->joining == 0 || c->joining == 3 ||
        !from_bare(xmpp_stanza_get_from(st), join_to))
        return;
    if (c->joining == 2) {
        c->joining = 3;
        if (++answered == nclients)
            say_all("answered", answered);
        return;
    }
    body = xmpp_message_get_body(st);
    if (body != NULL && strstr(body, "Welcome") != NULL) {
        xmpp_stanza_t *m = xmpp_message_new(ctx, "chat", join_to, NULL);

        xmpp_message_set_body(m, join_text);
        xmpp_send(c->conn, m);
        xmpp_stanza_release(m);
        c->joining = 2;
        if (++welcomed == nclients)
            say_all("welcomed", welcomed);
    }
    xmpp_free(ctx, body);
}

static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    const char *type = xmpp_stanza_get_type(st);
    const char *from = xmpp_stanza_get_from(st);

    (void)ud;
    if (approving && type != NULL && strcmp(type, "subscribe") == 0 &&
        from != NULL) {
        xmpp_stanza_t *p = xmpp_presence_new(ctx);

        xmpp_stanza_set_type(p, "subscribed");
        xmpp_stanza_set_to(p, from);
        xmpp_send(conn, p);
        xmpp_stanza_release(p);
    }
    return 1;
}

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    (void)conn;
    if (xmpp_stanza_get_child_by_name(st, "body") == NULL)
        return 1;
    joined(ud, st);
    received++;
    last_receipt = realtime();
    if (expected >= 0 && received >= expected) {
        printf("done %ld %.6f\n", received, last_receipt);
        fflush(stdout);
        expected = -1;
    }
    return 1;
}

static void start_connect(struct client *c);

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err,
                    xmpp_stream_error_t *se, void *ud)
{
    struct client *c = ud;

    (void)err;
    (void)se;
    if (ev == XMPP_CONN_CONNECT) {
        c->up = 1;
        connecting--;
        xmpp_handler_add(conn, on_message, NULL, "message", NULL, c);
        xmpp_handler_add(conn, on_presence, NULL, "presence", NULL, c);
        present(c, initial_show);
        if (++nready == nclients) {
            printf("ready %d\n", nready);
            fflush(stdout);
        }
        return;
    }
    if (quitting)
        return;
    if (c->up) {
        fprintf(stderr, "load: %s lost its stream\n", c->jid);
        exit(1);
    }
    connecting--;
    if (++c->attempts >= ATTEMPTS_MAX) {
        fprintf(stderr, "load: %s could not log in\n", c->jid);
        exit(1);
    }
    /* The server was busy: retried from the main loop, since connecting
     * a connection again inside its own handler corrupts libstrophe's
     * state (seen as heap corruption with 19,000 clients). */
    c->retry = 1;
}

static void start_connect(struct client *c)
{
    if (xmpp_connect_client(c->conn, host, port, on_conn, c) != XMPP_EOK) {
        fprintf(stderr, "load: cannot connect %s\n", c->jid);
        exit(1);
    }
    connecting++;
}

static void command(char *line)
{
    char what[16], arg[256], text[1024];
    long n;
    int i, k, got;

    line[strcspn(line, "\n")] = '\0';
    if (sscanf(line, "expect %ld", &n) == 1) {
        expected = n;
        if (received >= expected) {
            printf("done %ld %.6f\n", received, last_receipt);
            expected = -1;
        }
    } else if (strcmp(line, "count") == 0) {
        printf("count %ld\n", received);
    } else if (strcmp(line, "reset") == 0) {
        received = 0;
        last_receipt = 0;
        printf("armed\n");
    } else if ((got = sscanf(line, "show %15s %255s", what, arg)) >= 1) {
        double t = realtime();
        const char *to = got == 2 ? arg : presence_to;

        for (i = 0; i < nclients; i++)
            send_presence(clients[i].conn, to, what);
        printf("shown %.6f\n", t);
    } else if (sscanf(line, "send %255s %ld %1023[^\n]", arg, &n, text) == 3) {
        double t = realtime();

        for (k = 0; k < n; k++) {
            for (i = 0; i < nclients; i++) {
                xmpp_stanza_t *m = xmpp_message_new(ctx, "chat", arg, NULL);

                xmpp_message_set_body(m, text);
                xmpp_send(clients[i].conn, m);
                xmpp_stanza_release(m);
            }
        }
        printf("sent %.6f\n", t);
    } else if (strcmp(line, "approve") == 0) {
        approving = 1;
        printf("approving\n");
    } else if (sscanf(line, "join %255s %1023[^\n]", join_to, join_text) == 2) {
        double t = realtime();

        approving = 1;
        welcomed = answered = 0;
        for (i = 0; i < nclients; i++) {
            xmpp_stanza_t *p = xmpp_presence_new(ctx);

            xmpp_stanza_set_type(p, "subscribe");
            xmpp_stanza_set_to(p, join_to);
            xmpp_send(clients[i].conn, p);
            xmpp_stanza_release(p);
            clients[i].joining = 1;
        }
        printf("joining %.6f\n", t);
    } else if (strcmp(line, "progress") == 0) {
        printf("progress %d %d\n", welcomed, answered);
    } else if (strcmp(line, "quit") == 0) {
        quitting = 1;
    } else {
        printf("error unknown command: %s\n", line);
    }
    fflush(stdout);
}

static void read_commands(void)
{
    static char buf[4096];
    static size_t len;
    struct pollfd p = {.fd = 0, .events = POLLIN};
    ssize_t got;
    char *nl;

    if (poll(&p, 1, 0) <= 0)
        return;
    got = read(0, buf + len, sizeof(buf) - 1 - len);
    if (got <= 0) {
        quitting = 1; /* end of input */
        return;
    }
    len += got;
    buf[len] = '\0';
    while ((nl = strchr(buf, '\n')) != NULL) {
        *nl = '\0';
        command(buf);
        len -= nl + 1 - buf;
        memmove(buf, nl + 1, len + 1);
    }
}

int main(int argc, char **argv)
{
    const char *domain, *prefix;
    long first, last;
    int i;

    if (argc < 8) {
        fprintf(stderr, "usage: load HOST PORT DOMAIN PASSWORD PREFIX "
                        "FIRST LAST [PRESENCE_TO [SHOW]]\n");
        return 2;
    }
    host = argv[1];
    port = (unsigned short)atoi(argv[2]);
    domain = argv[3];
    password = argv[4];
    prefix = argv[5];
    first = atol(argv[6]);
    last = atol(argv[7]);
    presence_to = argc > 8 ? argv[8] : NULL;
    snprintf(initial_show, sizeof(initial_show), "%s", argc > 9 ? argv[9] : "");
    nclients = (int)(last - first + 1);
    if (nclients < 1 || nclients > 1000) {
        fprintf(stderr, "load: 1 to 1000 clients a process\n");
        return 2;
    }
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    clients = calloc(nclients, sizeof(*clients));
    for (i = 0; i < nclients; i++) {
        struct client *c = &clients[i];

        snprintf(c->jid, sizeof(c->jid), "%s%ld@%s/load", prefix, first + i,
                 domain);
        c->conn = xmpp_conn_new(ctx);
        xmpp_conn_set_flags(c->conn, XMPP_CONN_FLAG_TRUST_TLS |
                                         XMPP_CONN_FLAG_DISABLE_SM);
        xmpp_conn_set_jid(c->conn, c->jid);
        xmpp_conn_set_pass(c->conn, password);
    }
    while (!quitting) {
        for (i = 0; i < next_connect; i++)
            if (clients[i].retry) {
                clients[i].retry = 0;
                start_connect(&clients[i]);
            }
        while (connecting < CONNECTING_MAX && next_connect < nclients)
            start_connect(&clients[next_connect++]);
        /* Wakes at once for traffic; idle, 20 ms: a shorter wait made
         * each process of 800 connections spin at ~9% of a core (select
         * over every socket 500 times a second), which starved the
         * server under test when 25 of them ran. */
        xmpp_run_once(ctx, next_connect < nclients ? 2 : 20);
        read_commands();
    }
    for (i = 0; i < nclients; i++)
        if (clients[i].up)
            xmpp_disconnect(clients[i].conn);
    for (i = 0; i < 50; i++)
        xmpp_run_once(ctx, 10);
    for (i = 0; i < nclients; i++)
        xmpp_conn_release(clients[i].conn);
    free(clients);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    return 0;
}
