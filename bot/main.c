/*
 * main.c - command line, signals, the event loop, start-up and shutdown.
 *
 * Everything long-lived is created here and wired together: the session
 * layer's callbacks go to dispatch, the delivery engine sends through the
 * session layer.  The loop runs libstrophe for a short while, then lets
 * the delivery engine fill the send window, then looks at signals.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot.h"
#include "dispatch.h"
#include "../common/log.h"
#include "notify.h"
#include "session.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Users whose last listing "more" can continue (about 300 bytes each). */
#define PAGER_USERS 4096

static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_reload;

struct daemon {
    struct bot bot;
    bool ready_once;  /* READY=1 sent */
    bool auth_failed; /* refused before ever logging in */
    int exit_code;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: starling -c FILE [--check]\n"
               "       starling --version | --help\n"
               "\n"
               "  -c, --config FILE  configuration file (libconfig syntax)\n"
               "      --check        validate the configuration and exit\n"
               "  -V, --version      print the version and exit\n"
               "  -h, --help         print this help and exit\n");
}

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        got_reload = 1;
    else
        got_stop = 1;
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static time_t clock_now(void)
{
    return time(NULL);
}

static void bot_reply(struct bot *b, const char *to, const char *text)
{
    (void)b;
    session_send_chat(to, text, NULL, 0);
}

/* A notice about someone else's act goes out at once for now; its id
 * marks it as an update, not an answer to the user's last message. */
static void bot_notice(struct bot *b, const char *to, const char *text)
{
    static unsigned long long n;
    char id[64];

    snprintf(id, sizeof(id), "starling-notice-%lld-%llu", (long long)b->now(),
             ++n);
    session_send_chat(to, text, id, 0);
}

/* Delivery engine -> session layer. */
static size_t ops_room(void *ud)
{
    (void)ud;
    return session_send_room();
}

static int ops_send(void *ud, const char *to, const char *body, const char *id,
                    time_t stamp)
{
    (void)ud;
    return session_send_chat(to, body, id, stamp);
}

static int ops_barrier(void *ud, uint64_t *token)
{
    (void)ud;
    return session_barrier(token);
}

static const struct delivery_ops delivery_ops = {
    .room = ops_room,
    .send = ops_send,
    .barrier = ops_barrier,
};

/* Session layer -> the rest. */
static void cb_ready(void *ud)
{
    struct daemon *d = ud;

    log_info("ready: %zu users online so far",
             presence_online_count(d->bot.presence));
    if (!d->ready_once) {
        d->ready_once = true;
        notify_send("READY=1");
    }
}

static void cb_disconnected(void *ud)
{
    struct daemon *d = ud;

    presence_clear(d->bot.presence);
    delivery_disconnected(d->bot.delivery);
}

static void cb_auth_failed(void *ud)
{
    struct daemon *d = ud;

    log_error("authentication refused for %s", d->bot.cfg->xmpp.jid);
    d->auth_failed = true;
    got_stop = 1;
}

static void cb_message(void *ud, const struct inmsg *m)
{
    struct daemon *d = ud;

    dispatch_message(&d->bot, m);
}

static void cb_presence(void *ud, const char *from, enum show show,
                        int priority, bool unavailable)
{
    struct daemon *d = ud;

    dispatch_presence(&d->bot, from, show, priority, unavailable);
}

static void cb_subscription(void *ud, const char *from, enum sub_kind kind)
{
    struct daemon *d = ud;

    dispatch_subscription(&d->bot, from, kind);
}

static void cb_roster_item(void *ud, const char *bare, const char *sub)
{
    struct daemon *d = ud;

    dispatch_roster_item(&d->bot, bare, sub);
}

static void cb_barrier(void *ud, uint64_t token)
{
    struct daemon *d = ud;

    delivery_barrier_done(d->bot.delivery, token);
}

static const struct session_callbacks session_cbs = {
    .ready = cb_ready,
    .disconnected = cb_disconnected,
    .auth_failed = cb_auth_failed,
    .message = cb_message,
    .presence = cb_presence,
    .subscription = cb_subscription,
    .roster_item = cb_roster_item,
    .barrier = cb_barrier,
};

/* Compile bot.allow of cfg; NULL when there are no patterns. */
static int compile_allow(const struct config *cfg, struct allowlist **out)
{
    char err[256];

    *out = NULL;
    if (cfg->bot.n_allow == 0)
        return 0;
    *out = match_allow_new((const char *const *)cfg->bot.allow,
                           cfg->bot.n_allow, err, sizeof(err));
    if (*out == NULL) {
        log_error("%s: %s", cfg->path, err);
        return -1;
    }
    return 0;
}

/* SIGHUP: take the bot, delivery and log sections of a valid file; keep
 * everything running as it is when the file is invalid. */
static void reload(struct daemon *d)
{
    struct config fresh, *cur = d->bot.cfg;
    struct allowlist *allow;
    char err[512];

    notify_send("RELOADING=1");
    if (config_load(cur->path, &fresh, err, sizeof(err)) < 0) {
        log_error("reload refused, keeping the running configuration: %s", err);
        notify_send("READY=1");
        return;
    }
    if (compile_allow(&fresh, &allow) < 0) {
        config_free(&fresh);
        notify_send("READY=1");
        return;
    }
    /* Swap sections: fresh ends up holding the old ones and is freed. */
    {
        struct config old = *cur;

        cur->bot = fresh.bot;
        cur->delivery = fresh.delivery;
        cur->log = fresh.log;
        fresh.bot = old.bot;
        fresh.delivery = old.delivery;
        fresh.log = old.log;
    }
    config_free(&fresh);
    match_allow_free(d->bot.allow);
    d->bot.allow = allow;
    log_set_level(cur->log.level);
    delivery_set_backlog_max(d->bot.delivery, cur->delivery.backlog_max);
    session_reconfigure(cur);
    log_info("configuration reloaded from %s", cur->path);
    notify_send("READY=1");
}

static int run(struct config *cfg)
{
    static struct daemon d;
    uint64_t wd_usec = notify_watchdog_usec();
    struct timespec last_wd = {0}, now;

    d.bot.cfg = cfg;
    d.bot.now = clock_now;
    d.bot.reply = bot_reply;
    d.bot.notice = bot_notice;
    d.bot.started = time(NULL);
    if (jid_bare(cfg->xmpp.jid, d.bot.self, sizeof(d.bot.self)) < 0) {
        log_error("%s: xmpp.jid is not a JID", cfg->path);
        return EXIT_USAGE;
    }
    if (match_init() < 0)
        return EXIT_RUNTIME;
    if (compile_allow(cfg, &d.bot.allow) < 0)
        return EXIT_USAGE;
    if ((d.bot.store = store_open(cfg->storage.path)) == NULL) {
        log_error("cannot use the database %s", cfg->storage.path);
        match_allow_free(d.bot.allow);
        match_done();
        return EXIT_RUNTIME;
    }
    d.bot.presence = presence_new();
    d.bot.budget = budget_new();
    d.bot.pager = pager_new(PAGER_USERS);
    d.bot.delivery =
        delivery_new(d.bot.store, d.bot.presence, &delivery_ops, &d);
    delivery_set_backlog_max(d.bot.delivery, cfg->delivery.backlog_max);

    install_signals();
    if (session_start(cfg, &session_cbs, &d) < 0) {
        d.exit_code = EXIT_RUNTIME;
        got_stop = 1;
    }
    log_info("starling %s started for %s", STARLING_VERSION, d.bot.self);

    while (!got_stop) {
        /* Group commit: what the handlers store in one turn of the loop
         * is one transaction, and what the session sends meanwhile waits
         * until it is committed.  If the commit fails, nothing of it
         * leaves. */
        if (store_batch_begin(d.bot.store) < 0)
            fatal("database: cannot begin a transaction");
        session_hold();
        /* Everything the pump waits for is an event libstrophe wakes up
         * for (a barrier's answer, a writable socket, a reconnect timer):
         * no need to spin while deliveries are in flight. */
        session_run_once(250);
        if (store_batch_end(d.bot.store) < 0) {
            log_error("changes could not be saved; stopping before "
                      "anything is confirmed");
            exit(EXIT_RUNTIME);
        }
        session_release();
        delivery_pump(d.bot.delivery);
        if (got_reload) {
            got_reload = 0;
            reload(&d);
        }
        if (wd_usec > 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((uint64_t)(now.tv_sec - last_wd.tv_sec) * 1000000u +
                    (uint64_t)(now.tv_nsec - last_wd.tv_nsec) / 1000 >=
                wd_usec / 2) {
                notify_send("WATCHDOG=1");
                last_wd = now;
            }
        }
    }

    if (d.auth_failed)
        d.exit_code = EXIT_RUNTIME;
    notify_send("STOPPING=1");
    log_info("stopping");
    session_stop();
    delivery_free(d.bot.delivery);
    budget_free(d.bot.budget);
    pager_free(d.bot.pager);
    presence_free(d.bot.presence);
    store_close(d.bot.store);
    match_allow_free(d.bot.allow);
    match_done();
    log_info("stopped");
    return d.exit_code;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'n'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool check = false;
    struct config cfg;
    char err[1024];
    int ch, rc;

    opterr = 0;
    while ((ch = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 'V':
            printf("starling %s\n", STARLING_VERSION);
            return EXIT_OK;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            if (optopt != 0 && optopt != '?' && optopt != 'c')
                fprintf(stderr, "starling: unknown option -%c\n", optopt);
            else if (optopt == 'c')
                fprintf(stderr, "starling: -c needs a FILE\n");
            else
                fprintf(stderr, "starling: unknown option %s\n",
                        argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "starling: unexpected argument %s\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (path == NULL) {
        fprintf(stderr, "starling: no configuration file (-c FILE)\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (config_load(path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_USAGE;
    }
    if (check) {
        printf("%s: configuration OK\n", path);
        config_free(&cfg);
        return EXIT_OK;
    }
    log_set_level(cfg.log.level);
    rc = run(&cfg);
    config_free(&cfg);
    return rc;
}
