/*
 * upload.c - documents handed over as files (XEP-0363): URL parsing, the
 * HTTP PUT on a worker thread, and the jobs under way (see upload.h).
 *
 * The PUT runs on a thread of its own because it may take long (a slow
 * server, a large document) and the main loop must keep serving the XMPP
 * stream.  The worker gets everything it needs before it starts (the
 * parsed URL, the request head, the document, the CA file) and hands back
 * an HTTP status or an error text under the job's lock; the main thread
 * polls for that, and gives up on a job past its deadline without waiting
 * for the worker, which sees the cancel flag within WAIT_SLICE_MS (a
 * blocking name lookup aside) and is joined when it is done.  Sockets are
 * non-blocking and every wait is a poll() bounded by the job's deadline.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"
#include "upload.h"

#define WAIT_SLICE_MS 200  /* how often a waiting worker looks at cancel */
#define RESPONSE_MAX  4096 /* bytes of the answer read for its status */
#define ERR_MAX       200

/* Hand the slot's header to the PUT? (XEP-0363 5: these three only.) */
static const char *const allowed_headers[] = {"Authorization", "Cookie",
                                              "Expires"};

/* URLs ----------------------------------------------------------------- */

static bool url_char_ok(unsigned char ch)
{
    return ch > 0x20 && ch != 0x7f;
}

int upload_url_parse(const char *url, struct upload_url *out)
{
    const char *p = url, *host, *end;
    size_t hlen, n = 0;

    memset(out, 0, sizeof(*out));
    if (strlen(url) > UPLOAD_URL_MAX)
        return -1;
    for (const char *q = url; *q != '\0'; q++)
        if (!url_char_ok((unsigned char)*q))
            return -1;
    if (strncasecmp(p, "https://", 8) == 0) {
        out->tls = true;
        out->port = 443;
        p += 8;
    } else if (strncasecmp(p, "http://", 7) == 0) {
        out->port = 80;
        p += 7;
    } else {
        return -1;
    }
    end = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(end - p)) != NULL)
        return -1; /* user info: not from an upload service */
    host = p;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));

        if (close == NULL)
            return -1;
        host = p + 1;
        hlen = (size_t)(close - host);
        out->ipv6 = true;
        p = close + 1;
    } else {
        hlen = strcspn(p, ":/?#");
        p += hlen;
    }
    if (hlen == 0 || hlen > UPLOAD_HOST_MAX)
        return -1;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    if (out->ipv6) {
        struct in6_addr a;

        if (inet_pton(AF_INET6, out->host, &a) != 1)
            return -1;
    } else {
        for (size_t i = 0; i < hlen; i++)
            if (!isalnum((unsigned char)host[i]) &&
                strchr("-._", host[i]) == NULL)
                return -1; /* not a host name (nor an IPv4 address) */
    }
    if (*p == ':') {
        unsigned long port = 0;

        if (++p == end)
            return -1;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9' ||
                (port = port * 10 + (unsigned)(*p - '0')) > 65535)
                return -1;
        }
        if (port == 0)
            return -1;
        out->port = (unsigned)port;
    }
    if (p != end)
        return -1; /* something after the host that is not a port */
    if (*p != '/')
        out->target[n++] = '/';
    for (; *p != '\0' && *p != '#'; p++) {
        unsigned char ch = (unsigned char)*p;

        if (n + 4 > sizeof(out->target))
            return -1;
        if (ch < 0x80) {
            out->target[n++] = (char)ch;
        } else {
            snprintf(out->target + n, 4, "%%%02X", ch);
            n += 3;
        }
    }
    out->target[n] = '\0';
    return 0;
}

/* HTTP ------------------------------------------------------------------ */

void upload_request_head(const struct upload_url *u,
                         const struct upload_slot *s, const char *type,
                         size_t size, struct buf *out)
{
    bool default_port = u->port == (u->tls ? 443u : 80u);

    buf_printf(out, "PUT %s HTTP/1.1\r\nHost: %s%s%s", u->target,
               u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "");
    if (!default_port)
        buf_printf(out, ":%u", u->port);
    buf_printf(out,
               "\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
               "Connection: close\r\nUser-Agent: Starling/%s\r\n",
               type, size, STARLING_VERSION);
    for (size_t i = 0; s != NULL && i < s->nheaders; i++) {
        const char *name = NULL;

        for (size_t k = 0;
             k < sizeof(allowed_headers) / sizeof(*allowed_headers); k++)
            if (s->headers[i].name != NULL &&
                strcasecmp(s->headers[i].name, allowed_headers[k]) == 0)
                name = allowed_headers[k];
        if (name == NULL || s->headers[i].value == NULL)
            continue;
        buf_printf(out, "%s: ", name);
        for (const char *v = s->headers[i].value; *v != '\0'; v++)
            if (*v != '\r' && *v != '\n')
                buf_appendn(out, v, 1);
        buf_append(out, "\r\n");
    }
    buf_append(out, "\r\n");
}

int upload_http_status(const char *resp, size_t len)
{
    size_t off = 0;

    for (;;) {
        const char *p = resp + off, *eol;
        size_t left = len - off;
        int status;

        /* "HTTP/1.x NNN" and the end of that line. */
        if (left < 5)
            return strncmp(p, "HTTP/", left) == 0 ? 0 : -1;
        if (strncmp(p, "HTTP/1.", left < 7 ? left : 7) != 0)
            return -1;
        if ((eol = memchr(p, '\n', left)) == NULL)
            return left > 1024 ? -1 : 0;
        if (eol - p < 12 || p[7] < '0' || p[7] > '9' || p[8] != ' ' ||
            p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
            p[11] < '0' || p[11] > '9' ||
            (p[12] != ' ' && p[12] != '\r' && p[12] != '\n'))
            return -1;
        status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        if (status >= 200)
            return status;
        /* An interim answer (100 Continue): the final one follows its
         * empty line. */
        {
            const char *q = eol + 1, *stop = resp + len;
            bool found = false;

            while (q < stop) {
                const char *nl = memchr(q, '\n', (size_t)(stop - q));

                if (nl == NULL)
                    break;
                if (nl == q || (nl == q + 1 && *q == '\r')) {
                    found = true;
                    q = nl + 1;
                    break;
                }
                q = nl + 1;
            }
            if (!found)
                return 0;
            off = (size_t)(q - resp);
            if (off == len)
                return 0;
        }
    }
}

/* Jobs ------------------------------------------------------------------ */

enum job_state {
    JOB_SLOT,      /* waiting for the slot */
    JOB_PUT,       /* the worker runs */
    JOB_ABANDONED, /* over (done called), the worker still finishing */
};

struct job {
    uint64_t id;
    char *to, *filename, *type;
    struct buf doc;
    time_t deadline; /* wall clock */
    enum job_state state;
    char *get_url;
    /* Set before the worker starts, read-only while it runs. */
    struct upload_url put;
    struct buf head;
    const char *ca_file;
    struct timespec until; /* the worker's deadline, monotonic */
    pthread_t thread;
    atomic_bool cancel;
    /* The worker's result, under lock. */
    pthread_mutex_t lock;
    bool finished;
    int status; /* HTTP status, or 0 with err */
    char err[ERR_MAX];
};

struct uploader {
    const struct upload_ops *ops;
    void *ud;
    char *ca_file;
    struct job *jobs[UPLOAD_JOBS];
    size_t njobs;
    uint64_t next_id;
};

struct uploader *upload_new(const struct upload_ops *ops, void *ud,
                            const char *ca_file)
{
    struct uploader *u = xcalloc(1, sizeof(*u));

    u->ops = ops;
    u->ud = ud;
    u->ca_file = ca_file != NULL ? xstrdup(ca_file) : NULL;
    return u;
}

size_t upload_count(const struct uploader *u)
{
    return u->njobs;
}

static struct job *find(struct uploader *u, uint64_t id)
{
    for (size_t i = 0; i < u->njobs; i++)
        if (u->jobs[i]->id == id)
            return u->jobs[i];
    return NULL;
}

/* Remove j from the table and free it (its worker, if any, joined). */
static void job_free(struct uploader *u, struct job *j)
{
    for (size_t i = 0; i < u->njobs; i++)
        if (u->jobs[i] == j) {
            u->jobs[i] = u->jobs[--u->njobs];
            break;
        }
    pthread_mutex_destroy(&j->lock);
    free(j->to);
    free(j->filename);
    free(j->type);
    free(j->get_url);
    buf_free(&j->doc);
    buf_free(&j->head);
    free(j);
}

/* The job is over for its user: tell them (url NULL: it failed). */
static void job_done(struct uploader *u, struct job *j, const char *url)
{
    u->ops->done(u->ud, j->to, &j->doc, url);
}

int upload_begin(struct uploader *u, const char *to, const char *filename,
                 const char *type, struct buf *doc, time_t now)
{
    struct job *j;

    for (size_t i = 0; i < u->njobs; i++)
        if (u->jobs[i]->state != JOB_ABANDONED &&
            strcmp(u->jobs[i]->to, to) == 0) {
            log_info("upload: %s already has an upload under way", to);
            return -1;
        }
    if (u->njobs == UPLOAD_JOBS) {
        log_info("upload: %d uploads under way; not starting one for %s",
                 UPLOAD_JOBS, to);
        return -1;
    }
    j = xcalloc(1, sizeof(*j));
    j->id = ++u->next_id;
    if (u->ops->slot(u->ud, j->id, filename, doc->len, type) < 0) {
        free(j);
        log_info("upload: cannot ask for a slot for %s now", to);
        return -1;
    }
    j->to = xstrdup(to);
    j->filename = xstrdup(filename);
    j->type = xstrdup(type);
    j->doc = *doc;
    memset(doc, 0, sizeof(*doc));
    j->deadline = now + UPLOAD_TIMEOUT;
    j->state = JOB_SLOT;
    pthread_mutex_init(&j->lock, NULL);
    atomic_init(&j->cancel, false);
    u->jobs[u->njobs++] = j;
    log_info("upload: asked for a slot for %s (%zu bytes) for %s", j->filename,
             j->doc.len, to);
    return 0;
}

static void *worker(void *arg);

void upload_slot(struct uploader *u, uint64_t job,
                 const struct upload_slot *slot, const char *why, time_t now)
{
    struct job *j = find(u, job);
    struct upload_url get;
    sigset_t all, was;
    long left;
    int err;

    if (j == NULL || j->state != JOB_SLOT)
        return;
    if (slot == NULL) {
        log_info("upload: no slot for %s: %s", j->to,
                 why != NULL ? why : "refused");
        job_done(u, j, NULL);
        job_free(u, j);
        return;
    }
    if (upload_url_parse(slot->put, &j->put) < 0 ||
        upload_url_parse(slot->get, &get) < 0) {
        log_warnx("upload: the slot for %s has a URL this bot cannot use",
                  j->to);
        job_done(u, j, NULL);
        job_free(u, j);
        return;
    }
    j->get_url = xstrdup(slot->get);
    upload_request_head(&j->put, slot, j->type, j->doc.len, &j->head);
    j->ca_file = u->ca_file;
    left = (long)(j->deadline - now);
    clock_gettime(CLOCK_MONOTONIC, &j->until);
    j->until.tv_sec += left > 0 ? left : 0;
    /* The worker takes no signal: they stay the main thread's (a write
     * to a closed socket fails with EPIPE there instead). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &was);
    err = pthread_create(&j->thread, NULL, worker, j);
    pthread_sigmask(SIG_SETMASK, &was, NULL);
    if (err != 0) {
        log_warnx("upload: cannot start a worker: %s", strerror(err));
        job_done(u, j, NULL);
        job_free(u, j);
        return;
    }
    j->state = JOB_PUT;
    log_info("upload: sending %s (%zu bytes) to %s for %s", j->filename,
             j->doc.len, j->put.host, j->to);
}

/* The worker's result, if it has finished: true and *status, err. */
static bool finished(struct job *j, int *status, char *err)
{
    bool done;

    pthread_mutex_lock(&j->lock);
    done = j->finished;
    *status = j->status;
    memcpy(err, j->err, ERR_MAX);
    pthread_mutex_unlock(&j->lock);
    return done;
}

void upload_poll(struct uploader *u, time_t now)
{
    for (size_t i = u->njobs; i-- > 0;) {
        struct job *j = u->jobs[i];
        char err[ERR_MAX];
        int status;

        if (j->state == JOB_SLOT) {
            if (now < j->deadline)
                continue;
            log_info("upload: no answer to the slot request for %s within "
                     "%d s",
                     j->to, UPLOAD_TIMEOUT);
            job_done(u, j, NULL);
            job_free(u, j);
            continue;
        }
        if (finished(j, &status, err)) {
            pthread_join(j->thread, NULL);
            if (j->state == JOB_PUT && status >= 200 && status < 300) {
                log_info("upload: %s for %s is in place", j->filename, j->to);
                job_done(u, j, j->get_url);
            } else if (j->state == JOB_PUT) {
                if (status != 0)
                    log_warnx("upload: %s answered HTTP %d to the upload "
                              "for %s",
                              j->put.host, status, j->to);
                else
                    log_warnx("upload: the upload for %s to %s failed: %s",
                              j->to, j->put.host, err);
                job_done(u, j, NULL);
            }
            job_free(u, j);
        } else if (j->state == JOB_PUT && now >= j->deadline) {
            atomic_store(&j->cancel, true);
            log_warnx("upload: the upload for %s to %s took more than %d s; "
                      "given up",
                      j->to, j->put.host, UPLOAD_TIMEOUT);
            j->state = JOB_ABANDONED;
            job_done(u, j, NULL);
        }
    }
}

void upload_free(struct uploader *u)
{
    if (u == NULL)
        return;
    while (u->njobs > 0) {
        struct job *j = u->jobs[u->njobs - 1];

        if (j->state != JOB_ABANDONED)
            job_done(u, j, NULL);
        if (j->state != JOB_SLOT) {
            atomic_store(&j->cancel, true);
            pthread_join(j->thread, NULL);
        }
        job_free(u, j);
    }
    free(u->ca_file);
    free(u);
}

/* The worker ------------------------------------------------------------ */

struct conn {
    struct job *j;
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char *err; /* ERR_MAX bytes */
};

static void set_err(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(struct conn *c, const char *fmt, ...)
{
    va_list ap;

    if (c->err[0] != '\0')
        return; /* the first cause counts */
    va_start(ap, fmt);
    vsnprintf(c->err, ERR_MAX, fmt, ap);
    va_end(ap);
}

static long ms_left(const struct timespec *until)
{
    struct timespec n;

    clock_gettime(CLOCK_MONOTONIC, &n);
    return (until->tv_sec - n.tv_sec) * 1000 +
           (until->tv_nsec - n.tv_nsec) / 1000000;
}

/* Until fd is ready for events: 0, or -1 on timeout, cancel or error
 * (c->err set). */
static int wait_fd(struct conn *c, int fd, short events)
{
    for (;;) {
        long left = ms_left(&c->j->until);
        struct pollfd p = {.fd = fd, .events = events};
        int r;

        if (atomic_load(&c->j->cancel)) {
            set_err(c, "given up");
            return -1;
        }
        if (left <= 0) {
            set_err(c, "timed out");
            return -1;
        }
        r = poll(&p, 1, (int)(left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS));
        if (r > 0)
            return 0; /* also on an error: the next call reports it */
        if (r < 0 && errno != EINTR) {
            char buf[128];

            set_err(c, "poll: %s", strerror_r(errno, buf, sizeof(buf)));
            return -1;
        }
    }
}

/* A TCP connection to the URL's host: c->fd, or -1. */
static int dial(struct conn *c)
{
    const struct upload_url *url = &c->j->put;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM},
                    *res, *ai;
    char port[8], buf[128];
    int r;

    snprintf(port, sizeof(port), "%u", url->port);
    if ((r = getaddrinfo(url->host, port, &hints, &res)) != 0) {
        set_err(c, "cannot resolve %s: %s", url->host, gai_strerror(r));
        return -1;
    }
    for (ai = res; ai != NULL && c->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family,
                        ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        int e = 0;
        socklen_t elen = sizeof(e);

        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            c->fd = fd;
            break;
        }
        if (errno != EINPROGRESS) {
            e = errno;
        } else if (wait_fd(c, fd, POLLOUT) < 0) {
            close(fd);
            break; /* out of time */
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0) {
            e = errno;
        }
        if (e == 0) {
            c->fd = fd;
            break;
        }
        close(fd);
        /* Only the last address's failure is kept if none works. */
        c->err[0] = '\0';
        set_err(c, "cannot connect to %s port %u: %s", url->host, url->port,
                strerror_r(e, buf, sizeof(buf)));
    }
    freeaddrinfo(res);
    if (c->fd < 0)
        set_err(c, "cannot connect to %s port %u", url->host, url->port);
    return c->fd < 0 ? -1 : 0;
}

/* OpenSSL's reason for the last failure, or what else went wrong. */
static void fail_tls(struct conn *c, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[160];

    if (c->ssl != NULL && SSL_get_verify_result(c->ssl) != X509_V_OK)
        set_err(c, "%s: certificate of %s not trusted: %s", what,
                c->j->put.host,
                X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
    else if (e != 0)
        set_err(c, "%s: %s", what, ERR_error_string(e, buf));
    else
        set_err(c, "%s: connection closed", what);
}

/* Wait for what SSL asked for after a call that returned r: 0 to call
 * again, -1 failed. */
static int tls_retry(struct conn *c, int r, const char *what)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return wait_fd(c, c->fd, POLLIN);
    case SSL_ERROR_WANT_WRITE:
        return wait_fd(c, c->fd, POLLOUT);
    default:
        fail_tls(c, what);
        return -1;
    }
}

/* TLS on c->fd, the server's certificate verified and its name (or
 * address) checked. */
static int tls_start(struct conn *c)
{
    const struct upload_url *url = &c->j->put;
    unsigned char addr[16];
    bool literal = url->ipv6 || inet_pton(AF_INET, url->host, addr) == 1;
    int r;

    ERR_clear_error();
    if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        fail_tls(c, "TLS");
        return -1;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (c->j->ca_file != NULL
            ? SSL_CTX_load_verify_locations(c->ctx, c->j->ca_file, NULL) != 1
            : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
        fail_tls(c, "loading trust anchors");
        return -1;
    }
    if ((c->ssl = SSL_new(c->ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        fail_tls(c, "TLS");
        return -1;
    }
    if (literal) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), url->host) !=
            1) {
            fail_tls(c, "TLS");
            return -1;
        }
    } else if (SSL_set_tlsext_host_name(c->ssl, url->host) != 1 ||
               SSL_set1_host(c->ssl, url->host) != 1) {
        fail_tls(c, "TLS");
        return -1;
    }
    while ((r = SSL_connect(c->ssl)) != 1)
        if (tls_retry(c, r, "TLS handshake") < 0)
            return -1;
    return 0;
}

/* After a plain send() or recv() failed (errno): 0 to call it again
 * (interrupted, or the socket is ready for events now), -1 failed. */
static int plain_retry(struct conn *c, short events, const char *what)
{
    char buf[128];

    if (errno == EINTR)
        return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
        set_err(c, "%s: %s", what, strerror_r(errno, buf, sizeof(buf)));
        return -1;
    }
    return wait_fd(c, c->fd, events);
}

static int send_all(struct conn *c, const char *p, size_t n)
{
    while (n > 0) {
        size_t chunk = n > 65536 ? 65536 : n;
        ssize_t r;

        if (c->ssl != NULL) {
            int w = SSL_write(c->ssl, p, (int)chunk);

            if (w <= 0) {
                if (tls_retry(c, w, "sending") < 0)
                    return -1;
                continue;
            }
            r = w;
        } else {
            r = send(c->fd, p, chunk, MSG_NOSIGNAL);
            if (r < 0) {
                if (plain_retry(c, POLLOUT, "sending") < 0)
                    return -1;
                continue;
            }
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Read the answer until its status is known: the status, or -1. */
static int read_status(struct conn *c)
{
    char resp[RESPONSE_MAX];
    size_t got = 0;
    int status;

    while ((status = upload_http_status(resp, got)) == 0) {
        ssize_t r;

        if (got == sizeof(resp)) {
            set_err(c, "an answer without a status line");
            return -1;
        }
        if (c->ssl != NULL) {
            int n = SSL_read(c->ssl, resp + got, (int)(sizeof(resp) - got));

            if (n <= 0) {
                if (SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN) {
                    set_err(c, "closed before answering");
                    return -1;
                }
                if (tls_retry(c, n, "reading the answer") < 0)
                    return -1;
                continue;
            }
            r = n;
        } else {
            r = recv(c->fd, resp + got, sizeof(resp) - got, 0);
            if (r == 0) {
                set_err(c, "closed before answering");
                return -1;
            }
            if (r < 0) {
                if (plain_retry(c, POLLIN, "reading the answer") < 0)
                    return -1;
                continue;
            }
        }
        got += (size_t)r;
    }
    if (status < 0)
        set_err(c, "an answer that is not HTTP");
    return status;
}

/* The PUT: the HTTP status, or 0 with c->err set. */
static int put(struct conn *c)
{
    struct job *j = c->j;
    int status;

    if (dial(c) < 0 || (j->put.tls && tls_start(c) < 0) ||
        send_all(c, j->head.s, j->head.len) < 0 ||
        send_all(c, j->doc.s, j->doc.len) < 0 || (status = read_status(c)) < 0)
        return 0;
    return status;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    char err[ERR_MAX] = "";
    struct conn c = {.j = j, .fd = -1, .err = err};
    int status = put(&c);

    if (c.ssl != NULL) {
        if (status != 0)
            SSL_shutdown(c.ssl); /* best effort, never waited for */
        SSL_free(c.ssl);
    }
    SSL_CTX_free(c.ctx);
    if (c.fd >= 0)
        close(c.fd);
    ERR_clear_error();
    pthread_mutex_lock(&j->lock);
    j->status = status;
    memcpy(j->err, err, ERR_MAX);
    j->finished = true;
    pthread_mutex_unlock(&j->lock);
    return NULL;
}
