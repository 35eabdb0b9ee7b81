/*
 * upload.h - documents handed over as files (XEP-0363 HTTP File Upload),
 * from the moment the bot wants a slot to the end of the HTTP PUT.
 *
 * A job is one document for one user.  It first waits for a slot from the
 * server's upload service (the session layer asks for it: ops->slot, and
 * hands the answer to upload_slot()); then a worker thread PUTs the
 * document to the slot's URL over http:// or https:// (the certificate
 * verified against the bot's ca_file, else the system store, and the host
 * name checked).  The main loop learns the outcome from upload_poll():
 * ops->done with the GET URL, or with NULL on any failure (no slot, an
 * HTTP error, a timeout), logged once here without the document.
 *
 * Threads: a worker touches nothing but its socket and its own job (its
 * result under the job's lock); it never logs, never calls libstrophe or
 * the store.  Everything else happens on the main thread.  Bounded: one
 * job per user, UPLOAD_JOBS jobs (workers) at once, UPLOAD_TIMEOUT
 * seconds from the slot request to the end of the PUT.
 *
 * upload.c is the only user of <pthread.h> and of OpenSSL's TLS.
 */
#ifndef STARLING_UPLOAD_H
#define STARLING_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/util.h"

#define UPLOAD_JOBS        4  /* jobs under way at once, all users */
#define UPLOAD_TIMEOUT     60 /* seconds from slot request to PUT done */
#define UPLOAD_URL_MAX     2048
#define UPLOAD_HOST_MAX    255
#define UPLOAD_HEADERS_MAX 8 /* <header/>s of a slot looked at */

/* An http:// or https:// URL as the PUT needs it. */
struct upload_url {
    bool tls;  /* https */
    bool ipv6; /* host is an IPv6 literal ("[::1]" in the URL) */
    char host[UPLOAD_HOST_MAX + 1];  /* without brackets */
    unsigned port;                   /* 80 / 443 unless given */
    char target[UPLOAD_URL_MAX + 1]; /* path and query, at least "/";
                                        bytes above 127 %-encoded */
};

/* Parse url: 0, or -1 when it is not an absolute http(s) URL this client
 * can use (another scheme, user info, no host, a bad port, a space or
 * control character, longer than UPLOAD_URL_MAX).  The fragment is
 * dropped. */
int upload_url_parse(const char *url, struct upload_url *out);

/* A slot as the upload service granted it (XEP-0363 4); strings are
 * borrowed. */
struct upload_slot {
    const char *put; /* PUT URL */
    const char *get; /* GET URL, the one to hand over */
    size_t nheaders;
    struct {
        const char *name, *value;
    } headers[UPLOAD_HEADERS_MAX];
};

/* Append to out the head of the PUT of size bytes of type to u: request
 * line, Host, Content-Type, Content-Length, Connection: close, and of the
 * slot's headers only those XEP-0363 allows (Authorization, Cookie,
 * Expires; names in any case), newlines removed from their values. */
void upload_request_head(const struct upload_url *u,
                         const struct upload_slot *s, const char *type,
                         size_t size, struct buf *out);

/* The status of the HTTP response whose first len bytes are resp: 100 to
 * 599 (interim 1xx responses skipped), 0 when more bytes are needed, -1
 * when it is not HTTP/1.x. */
int upload_http_status(const char *resp, size_t len);

/* What the jobs need from the rest of the bot. */
struct upload_ops {
    /* Ask the upload service for a slot for job (answer through
     * upload_slot()).  0 asked, -1 cannot now. */
    int (*slot)(void *ud, uint64_t job, const char *filename, size_t size,
                const char *type);
    /* The job for bare JID to is over: url is the GET URL of the file, or
     * NULL when it failed.  doc is the document (borrowed), for a
     * fallback. */
    void (*done)(void *ud, const char *to, const struct buf *doc,
                 const char *url);
};

struct uploader;

/* ca_file: trust anchors for https (copied), NULL for the system
 * store. */
struct uploader *upload_new(const struct upload_ops *ops, void *ud,
                            const char *ca_file);
/* Join every worker and free everything; a job not yet over ends with
 * ops->done(NULL) first. */
void upload_free(struct uploader *u);

/*
 * Start a job: doc, a file named filename of type, for bare JID to.  0
 * started: doc is taken (left empty) and ops->done will be called exactly
 * once, from upload_slot(), upload_poll() or upload_free(); -1 not
 * started (to already has a job, UPLOAD_JOBS are running, or ops->slot
 * failed; logged): doc untouched.  now is the wall clock.
 */
int upload_begin(struct uploader *u, const char *to, const char *filename,
                 const char *type, struct buf *doc, time_t now);
/* The answer to job's slot request: the slot, or NULL when the service
 * refused (or answered nonsense), why saying so for the log.  Unknown or
 * finished jobs are ignored. */
void upload_slot(struct uploader *u, uint64_t job,
                 const struct upload_slot *slot, const char *why, time_t now);
/* Finish what is over: PUTs done or failed, jobs past their time.  Called
 * by the main loop every turn. */
void upload_poll(struct uploader *u, time_t now);
/* Jobs (and workers still finishing) held now. */
size_t upload_count(const struct uploader *u);

#endif
