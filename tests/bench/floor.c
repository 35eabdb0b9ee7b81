/*
 * floor.c - the minimal libstrophe programs that make bench measures
 * Starling against, on the same server in the same run:
 *
 *   floor send HOST PORT JID PASSWORD PREFIX FIRST LAST DOMAIN COUNT TEXT
 *       logs in as JID and prints "ready"; on "go" (standard input) sends
 *       COUNT chat messages TEXT to each of PREFIX<FIRST..LAST>@DOMAIN from
 *       its one connection, as fast as libstrophe writes them, and prints
 *       "sent T" (realtime just before the first); "quit" ends it.
 *   floor echo HOST PORT JID PASSWORD
 *       answers every chat message with a body at once, with a reply of
 *       the size of Starling's "Posted #N.", storing nothing; prints
 *       "ready"; "quit" ends it.
 *   floor roster HOST PORT JID PASSWORD
 *       logs in, fetches its roster, sends initial presence and prints
 *       "roster N items T s" (T from the start of the process); exits.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <time.h>
#include <unistd.h>

static xmpp_ctx_t *ctx;
static xmpp_conn_t *conn;
static double started;
static int done, answered;

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
    xmpp_stanza_t *p = xmpp_presence_new(ctx);
    xmpp_send(c, p);
    xmpp_stanza_release(p);
    printf("ready\n");
    fflush(stdout);
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

static void blast(char **argv)
{
    const char *prefix = argv[0], *domain = argv[3], *text = argv[5];
    long first = atol(argv[1]), last = atol(argv[2]);
    long count = atol(argv[4]), k, i;
    char to[256];

    say("sent %.6f\n", clock_s(CLOCK_REALTIME));
    for (k = 0; k < count; k++) {
        for (i = first; i <= last; i++) {
            xmpp_stanza_t *m;

            snprintf(to, sizeof(to), "%s%ld@%s", prefix, i, domain);
            m = xmpp_message_new(ctx, "chat", to, NULL);
            xmpp_message_set_body(m, text);
            xmpp_send(conn, m);
            xmpp_stanza_release(m);
        }
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    char *line;

    started = clock_s(CLOCK_MONOTONIC);
    if (argc < 6 || (strcmp(mode, "send") == 0 && argc < 12) ||
        (strcmp(mode, "send") != 0 && strcmp(mode, "echo") != 0 &&
         strcmp(mode, "roster") != 0)) {
        fprintf(stderr, "usage: floor send|echo|roster HOST PORT JID "
                        "PASSWORD [PREFIX FIRST LAST DOMAIN COUNT TEXT]\n");
        return 2;
    }
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    conn = xmpp_conn_new(ctx);
    xmpp_conn_set_flags(conn,
                        XMPP_CONN_FLAG_TRUST_TLS | XMPP_CONN_FLAG_DISABLE_SM);
    xmpp_conn_set_jid(conn, argv[4]);
    xmpp_conn_set_pass(conn, argv[5]);
    if (xmpp_connect_client(conn, argv[2], (unsigned short)atoi(argv[3]),
                            on_conn, (void *)mode) != XMPP_EOK) {
        fprintf(stderr, "floor: cannot connect\n");
        return 1;
    }
    while (!done) {
        /* Long enough that idling costs next to nothing: the CPU time
         * measured includes the wait for the last receipt. */
        xmpp_run_once(ctx, 20);
        if ((line = poll_line()) == NULL)
            continue;
        if (strncmp(line, "go", 2) == 0 && strcmp(mode, "send") == 0)
            blast(argv + 6);
        else if (strncmp(line, "quit", 4) == 0)
            done = 1;
    }
    xmpp_disconnect(conn);
    for (int i = 0; i < 50; i++)
        xmpp_run_once(ctx, 10);
    xmpp_conn_release(conn);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    return 0;
}
