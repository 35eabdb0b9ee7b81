/*
 * main.c - command line, signals, the event loop, start-up and shutdown.
 *
 * Everything long-lived is created here and wired together: the session
 * layer's callbacks go to dispatch, the delivery engine sends through the
 * session layer.  The loop runs libstrophe for a short while (one
 * transaction per turn, see turn()), then lets the delivery engine fill
 * the send window, then looks at signals.  A database that takes no
 * writes (a full disk) does not stop it: see turn() and retry_writes().
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot.h"
#include "commands.h"
#include "dispatch.h"
#include "../common/log.h"
#include "notify.h"
#include "session.h"
#include "upload.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#define TURN_MS   250 /* longest wait for input in one turn */
#define PROBE_MIN 1   /* seconds before writes are tried again, doubling */
#define PROBE_MAX 30
/* Users whose last listing "more" can continue (about 300 bytes each). */
#define PAGER_USERS 4096

static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_reload;

/* A sender of a message in the current turn. */
struct sender {
    char jid[JID_MAX + 1]; /* bare */
    bool lost;             /* an answer to it was dropped */
};

struct daemon {
    struct bot bot;
    bool ready_once;  /* READY=1 sent */
    bool auth_failed; /* refused before ever logging in */
    int exit_code;
    bool batch; /* this turn is one transaction */
    struct sender *senders;
    size_t nsenders, senders_cap;
    struct uploader *uploads; /* exports on their way as files */
    bool degraded;            /* the database takes no writes */
    unsigned probe_gap;       /* seconds between tries, doubling */
    struct timespec probe_at;
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

/*
 * A XEP-0184 receipt means "stored" for a post (SPEC 9).  dispatch asks
 * for it after the handler returns, inside session_run_once(); like every
 * stanza of that turn it then waits in the session's hold until run()
 * has committed the turn's transaction (store_batch_end() before
 * session_release()), and it is never sent if that commit fails.
 */
static void bot_receipt(struct bot *b, const char *to_full, const char *id)
{
    (void)b;
    session_send_receipt(to_full, id);
}

static void bot_subscription(struct bot *b, const char *to, const char *type)
{
    (void)b;
    session_send_subscription(to, type);
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

static void bot_subscription_from(struct bot *b, const char *from,
                                  const char *to, const char *type)
{
    (void)b;
    session_send_subscription_from(from, to, type);
}

static void bot_presence_from(struct bot *b, const char *from, const char *to,
                              const char *status, bool available)
{
    (void)b;
    session_send_presence_from(from, to, status, available);
}

static void bot_contact(struct bot *b, const char *bare)
{
    (void)b;
    session_contact(bare, true);
}

static void bot_address_moved(struct bot *b, const char *bare,
                              const char *old_nick, const char *new_nick,
                              const char *status)
{
    (void)b;
    session_address_moved(bare, old_nick, new_nick, status);
}

/* XEP-0363: exports as files.  The bot is the first member of the
 * daemon, so the hooks find the uploads from it. */
static size_t bot_upload_max(struct bot *b)
{
    (void)b;
    return session_upload_max();
}

static int bot_upload(struct bot *b, const char *to, const char *filename,
                      const char *type, struct buf *doc)
{
    struct daemon *d = (struct daemon *)b;

    return upload_begin(d->uploads, to, filename, type, doc, time(NULL));
}

static void bot_link(struct bot *b, const char *to, const char *url)
{
    struct outmsg m = {.to = to, .body = url, .oob_url = url};

    (void)b;
    session_send(&m);
}

static int upload_ask_slot(void *ud, uint64_t job, const char *filename,
                           size_t size, const char *type)
{
    (void)ud;
    return session_upload_request(job, filename, size, type);
}

static void upload_done(void *ud, const char *to, const struct buf *doc,
                        const char *url)
{
    struct daemon *d = ud;

    cmd_export_done(&d->bot, to, doc, url);
}

static const struct upload_ops upload_ops = {
    .slot = upload_ask_slot,
    .done = upload_done,
};

static void say_goodbye(void *ud, const char *bare)
{
    (void)ud;
    session_goodbye(bare);
}

static int greet_user(void *ud, const struct user *u)
{
    (void)ud;
    session_contact(u->jid, false);
    return 0;
}

/* Delivery engine -> session layer. */
static size_t ops_room(void *ud)
{
    (void)ud;
    return session_send_room();
}

static int ops_send(void *ud, const struct outmsg *m)
{
    (void)ud;
    return session_send(m);
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
    /* A component keeps its roster itself: every active user is greeted
     * (paced by the session), after READY. */
    if (session_wants_contacts())
        store_users_active(d->bot.store, greet_user, NULL);
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

    log_error("authentication refused for %s", d->bot.self);
    d->auth_failed = true;
    got_stop = 1;
}

static struct sender *find_sender(struct daemon *d, const char *bare)
{
    for (size_t i = 0; i < d->nsenders; i++)
        if (strcmp(d->senders[i].jid, bare) == 0)
            return &d->senders[i];
    return NULL;
}

static void cb_message(void *ud, const struct inmsg *m)
{
    struct daemon *d = ud;
    char bare[JID_MAX + 1];

    if (d->batch && jid_bare(m->from, bare, sizeof(bare)) == 0 &&
        find_sender(d, bare) == NULL) {
        if (d->nsenders == d->senders_cap) {
            d->senders_cap = d->senders_cap ? d->senders_cap * 2 : 16;
            d->senders =
                xrealloc(d->senders, d->senders_cap * sizeof(*d->senders));
        }
        memcpy(d->senders[d->nsenders].jid, bare, strlen(bare) + 1);
        d->senders[d->nsenders++].lost = false;
    }
    dispatch_message(&d->bot, m);
}

static void cb_presence(void *ud, const char *from, enum show show,
                        int priority, bool unavailable)
{
    struct daemon *d = ud;

    dispatch_presence(&d->bot, from, show, priority, unavailable);
}

static void cb_subscription(void *ud, const char *from, const char *to,
                            enum sub_kind kind)
{
    struct daemon *d = ud;

    dispatch_subscription(&d->bot, from, to, kind);
}

static void cb_probe(void *ud, const char *from, const char *to)
{
    struct daemon *d = ud;

    dispatch_probe(&d->bot, from, to);
}

static void cb_roster_item(void *ud, const char *bare, const char *sub)
{
    struct daemon *d = ud;

    dispatch_roster_item(&d->bot, bare, sub);
}

static void cb_roster_done(void *ud)
{
    struct daemon *d = ud;

    dispatch_roster_done(&d->bot);
}

static void cb_link_lost(void *ud, const uint64_t *tokens, size_t n,
                         bool current)
{
    struct daemon *d = ud;

    delivery_link_lost(d->bot.delivery, tokens, n, current);
}

static void cb_barrier(void *ud, uint64_t token)
{
    struct daemon *d = ud;

    delivery_barrier_done(d->bot.delivery, token);
}

static void cb_command(void *ud, const struct adhoc_request *req,
                       struct adhoc_response *resp)
{
    struct daemon *d = ud;

    dispatch_command(&d->bot, req, resp);
}

static size_t cb_command_list(void *ud, const char *from,
                              const struct adhoc_command **out, size_t max)
{
    struct daemon *d = ud;

    return dispatch_command_list(&d->bot, from, out, max);
}

static void cb_upload_slot(void *ud, uint64_t job,
                           const struct upload_slot *slot, const char *why)
{
    struct daemon *d = ud;

    upload_slot(d->uploads, job, slot, why, time(NULL));
}

static const struct session_callbacks session_cbs = {
    .ready = cb_ready,
    .disconnected = cb_disconnected,
    .auth_failed = cb_auth_failed,
    .message = cb_message,
    .presence = cb_presence,
    .subscription = cb_subscription,
    .probe = cb_probe,
    .roster_item = cb_roster_item,
    .roster_done = cb_roster_done,
    .barrier = cb_barrier,
    .link_lost = cb_link_lost,
    .command = cb_command,
    .command_list = cb_command_list,
    .upload_slot = cb_upload_slot,
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

/* A reload is over: READY=1 again, but only if the service had been
 * ready; before the first login READY=1 still means "logged in". */
static void reload_done(const struct daemon *d)
{
    if (d->ready_once)
        notify_send("READY=1");
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
        reload_done(d);
        return;
    }
    if (compile_allow(&fresh, &allow) < 0) {
        config_free(&fresh);
        reload_done(d);
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
    reload_done(d);
}

/* Microseconds from a to b (b later), signed: the nanoseconds of b may be
 * fewer than a's. */
static int64_t usec_between(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000000 +
           (b->tv_nsec - a->tv_nsec) / 1000;
}

/* session_release_failed(): an answer to bare was dropped. */
static void answer_lost(void *ud, const char *bare)
{
    struct sender *s = find_sender(ud, bare);

    if (s != NULL)
        s->lost = true;
}

/*
 * One turn of the loop.  Group commit: what the handlers store in a turn
 * is one transaction, and what they send meanwhile waits (session_hold())
 * until it is committed, so that nothing confirms a change before it is
 * on disk.
 *
 * When that commit fails (a full disk), nothing the turn stored exists:
 * - The held answers must not go out ("Posted #N." for a post that is not
 *   there).  They are dropped, and each sender of a message in this turn
 *   who lost an answer is told instead that nothing was stored and to try
 *   again later.  (Whoever sent something that stores nothing, "help",
 *   hears the same: the answer went with the rest.)  Others who lost a
 *   stanza, such as a banned user's notice or a new subscriber's approval,
 *   get nothing: what it announced did not happen.  A subscription request
 *   stays pending at the server, which repeats it at the next login.
 * - The delivery queue may hold rows of posts that are gone: it is read
 *   again from the store.
 * - Deliveries confirmed in the turn are no longer marked as done: they
 *   stay in the outbox and go out again later, under the same ids.
 *
 * While the database takes no writes, turns are not batched: each unit of
 * work is a transaction of its own, so a handler learns at once that its
 * change failed and refuses it in its answer, and nothing is held.  Reads
 * and deliveries of what is stored go on (their confirmations may fail to
 * be written too: then those rows go out again later).  Batching resumes
 * once a write works again (retry_writes()).
 */
static void turn(struct daemon *d)
{
    struct store *st = d->bot.store;

    d->batch = store_writable(st) && store_batch_begin(st) == 0;
    if (!d->batch) {
        session_run_once(TURN_MS);
        return;
    }
    d->nsenders = 0;
    session_hold();
    session_run_once(TURN_MS);
    d->batch = false;
    if (store_batch_end(st) == 0) {
        session_release();
        return;
    }
    session_release_failed(answer_lost, d);
    for (size_t i = 0; i < d->nsenders; i++)
        if (d->senders[i].lost)
            session_send_chat(d->senders[i].jid, BOT_STORE_REFUSAL, NULL, 0);
    delivery_requeue(d->bot.delivery);
}

/* While the database takes no writes, try one now and then: after
 * PROBE_MIN seconds, then twice as long each time up to PROBE_MAX.  (A
 * change a user makes meanwhile is a try too.)  The store logs the end. */
static void retry_writes(struct daemon *d)
{
    struct timespec now;

    if (store_writable(d->bot.store)) {
        d->degraded = false;
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!d->degraded) {
        d->degraded = true;
        d->probe_gap = PROBE_MIN;
    } else if (now.tv_sec < d->probe_at.tv_sec ||
               (now.tv_sec == d->probe_at.tv_sec &&
                now.tv_nsec < d->probe_at.tv_nsec)) {
        return;
    } else if (store_probe(d->bot.store) == 0) {
        d->degraded = false;
        return;
    } else {
        d->probe_gap =
            d->probe_gap * 2 > PROBE_MAX ? PROBE_MAX : d->probe_gap * 2;
    }
    d->probe_at = now;
    d->probe_at.tv_sec += d->probe_gap;
}

static int run(struct config *cfg)
{
    static struct daemon d;
    uint64_t wd_usec = notify_watchdog_usec();
    struct timespec last_wd = {0}, now;
    time_t next_tick = 0;

    d.bot.cfg = cfg;
    d.bot.now = clock_now;
    d.bot.reply = bot_reply;
    d.bot.receipt = bot_receipt;
    d.bot.subscription = bot_subscription;
    d.bot.notice = bot_notice;
    d.bot.subscription_from = bot_subscription_from;
    d.bot.presence_from = bot_presence_from;
    d.bot.contact = bot_contact;
    if (session_user_addresses(cfg))
        d.bot.address_moved = bot_address_moved;
    d.bot.upload_max = bot_upload_max;
    d.bot.upload = bot_upload;
    d.bot.link = bot_link;
    d.bot.started = time(NULL);
    if (session_own_jid(cfg, d.bot.self, sizeof(d.bot.self)) < 0) {
        log_error("%s: the bot's own JID is not a JID", cfg->path);
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
    d.bot.budget = budget_new(BUDGET_PER_MINUTE, BUDGET_MUTE_SECONDS);
    d.bot.subs_jid = budget_new(SUBS_PER_JID_MINUTE, SUBS_JID_MUTE_SECONDS);
    d.bot.subs_domain =
        budget_new(SUBS_PER_DOMAIN_MINUTE, SUBS_DOMAIN_MUTE_SECONDS);
    d.bot.pager = pager_new(PAGER_USERS);
    d.bot.delivery =
        delivery_new(d.bot.store, d.bot.presence, &delivery_ops, &d);
    delivery_set_backlog_max(d.bot.delivery, cfg->delivery.backlog_max);
    delivery_set_clock(d.bot.delivery, clock_now);
    d.uploads = upload_new(&upload_ops, &d, cfg->xmpp.ca_file);

    install_signals();
    if (session_start(cfg, &session_cbs, &d) < 0) {
        d.exit_code = EXIT_RUNTIME;
        got_stop = 1;
    }
    log_info("starling %s started for %s", STARLING_VERSION, d.bot.self);

    while (!got_stop) {
        /* Everything the pump waits for is an event the turn wakes up
         * for (a barrier's answer, a writable socket, a reconnect timer):
         * no need to spin while deliveries are in flight. */
        turn(&d);
        retry_writes(&d);
        upload_poll(d.uploads, time(NULL));
        delivery_pump(d.bot.delivery);
        if (got_reload) {
            got_reload = 0;
            reload(&d);
        }
        if (time(NULL) >= next_tick) {
            delivery_tick(d.bot.delivery, time(NULL));
            next_tick = time(NULL) + 60;
        }
        if (wd_usec > 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (usec_between(&last_wd, &now) >= (int64_t)(wd_usec / 2)) {
                notify_send("WATCHDOG=1");
                last_wd = now;
            }
        }
    }

    if (d.auth_failed)
        d.exit_code = EXIT_RUNTIME;
    notify_send("STOPPING=1");
    log_info("stopping");
    /* An export still on its way goes out as chat messages now. */
    upload_free(d.uploads);
    presence_each_online(d.bot.presence, say_goodbye, NULL);
    session_stop();
    delivery_free(d.bot.delivery);
    budget_free(d.bot.budget);
    budget_free(d.bot.subs_jid);
    budget_free(d.bot.subs_domain);
    pager_free(d.bot.pager);
    presence_free(d.bot.presence);
    store_close(d.bot.store);
    free(d.senders);
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
