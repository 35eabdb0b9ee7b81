/*
 * test_upload.c - exports as files (XEP-0363) from the bot's side: the
 * URLs it accepts, the PUT's head (only the headers the XEP allows, no
 * header injection), HTTP status lines, and the jobs: one per user, a
 * global cap, a slot refused or never granted, and real PUTs over
 * loopback to a small HTTP server run by the test (201, 413, one that
 * never answers).  https is covered by the integration tests.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "upload.h"

/* URLs ------------------------------------------------------------------ */

static void test_url_parse(void **state)
{
    struct upload_url u;

    (void)state;
    assert_int_equal(upload_url_parse("https://up.example.org/a/b.json", &u),
                     0);
    assert_true(u.tls);
    assert_false(u.ipv6);
    assert_string_equal(u.host, "up.example.org");
    assert_int_equal(u.port, 443);
    assert_string_equal(u.target, "/a/b.json");

    assert_int_equal(
        upload_url_parse("HTTP://127.0.0.1:5280/file_share/x?t=1#frag", &u), 0);
    assert_false(u.tls);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 5280);
    assert_string_equal(u.target, "/file_share/x?t=1");

    assert_int_equal(upload_url_parse("https://[::1]:8443?x", &u), 0);
    assert_true(u.ipv6);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 8443);
    assert_string_equal(u.target, "/?x");

    assert_int_equal(upload_url_parse("http://h", &u), 0);
    assert_string_equal(u.target, "/");
    assert_int_equal(u.port, 80);

    /* Bytes above 127 are %-encoded in the request line. */
    assert_int_equal(upload_url_parse("https://h/caf\xc3\xa9", &u), 0);
    assert_string_equal(u.target, "/caf%C3%A9");
}

static void test_url_refused(void **state)
{
    static const char *const bad[] = {
        "ftp://h/x",
        "https:/h/x",
        "//h/x",
        "https://",
        "https:///x",
        "https://user:pw@h/x",
        "https://h:/x",
        "https://h:0/x",
        "https://h:65536/x",
        "https://h:12a/x",
        "https://h x/",
        "https://h/a b",
        "https://h/a\r\nX-Evil: 1",
        "https://h\r\n/",
        "https://[::1/x",
        "https://[nope]/x",
        "https://h]/x",
        "https://h%41/x",
        "https://h\xc3\xa9/x",
    };
    struct upload_url u;
    char *longurl;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (upload_url_parse(bad[i], &u) != -1)
            fail_msg("accepted %s", bad[i]);
    longurl = malloc(UPLOAD_URL_MAX + 16);
    memcpy(longurl, "https://h/", 10);
    memset(longurl + 10, 'a', UPLOAD_URL_MAX);
    longurl[UPLOAD_URL_MAX + 10] = '\0';
    assert_int_equal(upload_url_parse(longurl, &u), -1);
    free(longurl);
}

/* The PUT's head ---------------------------------------------------------- */

static void test_request_head(void **state)
{
    struct upload_url u;
    struct upload_slot s = {
        .put = "https://up.example.org:8443/slot/x.json",
        .get = "https://up.example.org:8443/slot/x.json",
        .nheaders = 6,
        .headers = {{"authorization", "Bearer abc"},
                    {"Cookie", "a=b\r\nX-Injected: yes"},
                    {"X-Other", "no"},
                    {"Content-Length", "1"},
                    {"Host", "elsewhere"},
                    {"EXPIRES", "Tue, 01 Jan 2030 00:00:00 GMT"}},
    };
    struct buf head = {0};

    (void)state;
    assert_int_equal(upload_url_parse(s.put, &u), 0);
    upload_request_head(&u, &s, "application/json", 1234, &head);
    assert_string_equal(head.s, "PUT /slot/x.json HTTP/1.1\r\n"
                                "Host: up.example.org:8443\r\n"
                                "Content-Type: application/json\r\n"
                                "Content-Length: 1234\r\n"
                                "Connection: close\r\n"
                                "User-Agent: Starling/" STARLING_VERSION "\r\n"
                                "Authorization: Bearer abc\r\n"
                                "Cookie: a=bX-Injected: yes\r\n"
                                "Expires: Tue, 01 Jan 2030 00:00:00 GMT\r\n"
                                "\r\n");
    buf_free(&head);
    /* The default port is not written; an IPv6 host is bracketed. */
    assert_int_equal(upload_url_parse("http://[::1]/p", &u), 0);
    upload_request_head(&u, NULL, "text/plain", 0, &head);
    assert_non_null(strstr(head.s, "\r\nHost: [::1]\r\n"));
    buf_free(&head);
}

static void test_http_status(void **state)
{
    static const struct {
        const char *resp;
        int status;
    } cases[] = {
        {"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 201},
        {"HTTP/1.0 200 OK\r\n", 200},
        {"HTTP/1.1 413\r\n", 413},
        {"HTTP/1.1 201 Created", 0}, /* the line is not over */
        {"HTTP/1.", 0},
        {"HTT", 0},
        {"", 0},
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\n", 500},
        {"HTTP/1.1 100 Continue\r\nX: y\r\n\r\nHTTP/1.1 204 No\r\n", 204},
        {"HTTP/1.1 100 Continue\r\n\r\n", 0},
        {"HTTP/1.1 100 Continue\r\n", 0},
        {"HTTP/2 200\r\n", -1},
        {"SSH-2.0-OpenSSH\r\n", -1},
        {"HTTP/1.1 20 Short\r\n", -1},
        {"HTTP/1.1 600 Big\r\n", -1},
        {"HTTP/1.1 2x1 No\r\n", -1},
        {"HTTP/1.1 2011 No\r\n", -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = upload_http_status(cases[i].resp, strlen(cases[i].resp));

        if (got != cases[i].status)
            fail_msg("\"%s\": %d, expected %d", cases[i].resp, got,
                     cases[i].status);
    }
}

/* Jobs ------------------------------------------------------------------- */

static struct {
    int slot_result; /* what ops.slot answers */
    int slots;       /* slot requests */
    uint64_t last_job;
    size_t last_size;
    int done;
    char done_to[64];
    char *done_url; /* or NULL */
    size_t done_len;
    char done_doc[64];
} R;

static int op_slot(void *ud, uint64_t job, const char *filename, size_t size,
                   const char *type)
{
    (void)ud;
    (void)filename;
    (void)type;
    R.slots++;
    R.last_job = job;
    R.last_size = size;
    return R.slot_result;
}

static void op_done(void *ud, const char *to, const struct buf *doc,
                    const char *url)
{
    (void)ud;
    R.done++;
    snprintf(R.done_to, sizeof(R.done_to), "%s", to);
    free(R.done_url);
    R.done_url = url != NULL ? strdup(url) : NULL;
    R.done_len = doc->len;
    snprintf(R.done_doc, sizeof(R.done_doc), "%s", buf_str(doc));
}

static const struct upload_ops ops = {op_slot, op_done};

static int setup(void **state)
{
    (void)state;
    memset(&R, 0, sizeof(R));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(R.done_url);
    R.done_url = NULL;
    return 0;
}

static struct buf doc_of(const char *text)
{
    struct buf b = {0};

    buf_append(&b, text);
    return b;
}

static void test_one_job_per_user_and_a_cap(void **state)
{
    struct uploader *u = upload_new(&ops, NULL, NULL);
    struct buf d = doc_of("{}");
    char jid[32];

    (void)state;
    assert_int_equal(
        upload_begin(u, "a@x", "f.json", "application/json", &d, 1000), 0);
    assert_null(d.s); /* taken */
    assert_int_equal(R.slots, 1);
    assert_int_equal(R.last_size, 2);
    d = doc_of("{}");
    assert_int_equal(upload_begin(u, "a@x", "f.json", "t", &d, 1000), -1);
    assert_string_equal(d.s, "{}"); /* untouched */
    assert_int_equal(R.slots, 1);
    for (int i = 1; i < UPLOAD_JOBS; i++) {
        struct buf e = doc_of("{}");

        snprintf(jid, sizeof(jid), "u%d@x", i);
        assert_int_equal(upload_begin(u, jid, "f", "t", &e, 1000), 0);
    }
    assert_int_equal(upload_count(u), UPLOAD_JOBS);
    assert_int_equal(upload_begin(u, "late@x", "f", "t", &d, 1000), -1);
    assert_string_equal(d.s, "{}");
    /* A request that cannot be sent starts nothing either. */
    upload_slot(u, R.last_job, NULL, "refused", 1000);
    assert_int_equal(R.done, 1);
    R.slot_result = -1;
    assert_int_equal(upload_begin(u, "late@x", "f", "t", &d, 1000), -1);
    assert_string_equal(d.s, "{}");
    assert_int_equal(upload_count(u), UPLOAD_JOBS - 1);
    /* Stopping ends every job, each told once. */
    upload_free(u);
    assert_int_equal(R.done, UPLOAD_JOBS);
    assert_null(R.done_url);
    buf_free(&d);
}

static void test_slot_refused_or_never_granted(void **state)
{
    struct uploader *u = upload_new(&ops, NULL, NULL);
    struct buf d = doc_of("{\"a\":1}");
    struct upload_slot ftp = {.put = "ftp://h/x", .get = "https://h/x"};
    uint64_t first;

    (void)state;
    assert_int_equal(upload_begin(u, "a@x", "f", "t", &d, 1000), 0);
    first = R.last_job;
    /* An answer for another job changes nothing. */
    upload_slot(u, first + 7, NULL, "refused", 1001);
    assert_int_equal(R.done, 0);
    upload_slot(u, first, NULL, "not-acceptable", 1001);
    assert_int_equal(R.done, 1);
    assert_null(R.done_url);
    assert_string_equal(R.done_to, "a@x");
    assert_string_equal(R.done_doc, "{\"a\":1}");
    /* Too late, twice: nothing more. */
    upload_slot(u, first, NULL, "again", 1002);
    assert_int_equal(R.done, 1);

    /* No answer at all: given up after UPLOAD_TIMEOUT seconds. */
    d = doc_of("{}");
    assert_int_equal(upload_begin(u, "b@x", "f", "t", &d, 2000), 0);
    upload_poll(u, 2000 + UPLOAD_TIMEOUT - 1);
    assert_int_equal(R.done, 1);
    upload_poll(u, 2000 + UPLOAD_TIMEOUT);
    assert_int_equal(R.done, 2);
    assert_string_equal(R.done_to, "b@x");
    assert_null(R.done_url);
    assert_int_equal(upload_count(u), 0);

    /* A slot with a URL the bot cannot use. */
    d = doc_of("{}");
    assert_int_equal(upload_begin(u, "c@x", "f", "t", &d, 3000), 0);
    upload_slot(u, R.last_job, &ftp, NULL, 3000);
    assert_int_equal(R.done, 3);
    assert_null(R.done_url);
    assert_int_equal(upload_count(u), 0);
    upload_free(u);
    assert_int_equal(R.done, 3);
}

/* A loopback HTTP server for one request: it answers with answer (NULL:
 * never, it holds the connection until the client goes), and keeps what
 * it received. */
struct server {
    int fd;
    int port;
    const char *answer;
    pthread_t thread;
    struct buf got;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    char buf[4096];
    int c = accept(s->fd, NULL, NULL);
    ssize_t n;

    if (c < 0)
        return NULL;
    for (;;) {
        const char *end =
            s->got.s != NULL ? strstr(s->got.s, "\r\n\r\n") : NULL;
        const char *cl =
            s->got.s != NULL ? strstr(s->got.s, "Content-Length: ") : NULL;

        if (s->answer != NULL && end != NULL && cl != NULL &&
            s->got.len >=
                (size_t)(end + 4 - s->got.s) + strtoul(cl + 16, NULL, 10))
            break; /* head and body in */
        if ((n = recv(c, buf, sizeof(buf) - 1, 0)) <= 0)
            break;
        buf_appendn(&s->got, buf, (size_t)n);
    }
    if (s->answer != NULL)
        send(c, s->answer, strlen(s->answer), MSG_NOSIGNAL);
    close(c);
    return NULL;
}

static void server_start(struct server *s, const char *answer)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);

    memset(s, 0, sizeof(*s));
    s->answer = answer;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 4), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    pthread_join(s->thread, NULL);
    close(s->fd);
    buf_free(&s->got);
}

/* Poll until a job is over (at most 20 s: a wait, not a timing check). */
static void wait_done(struct uploader *u, int want, time_t now)
{
    struct timespec t = {0, 10 * 1000 * 1000};

    for (int i = 0; i < 2000 && R.done < want; i++) {
        upload_poll(u, now);
        nanosleep(&t, NULL);
    }
    assert_int_equal(R.done, want);
}

/* One PUT of doc to the server s with slot headers; the job's outcome is
 * in R. */
static void put_to(struct uploader *u, struct server *s, const char *doc)
{
    struct buf d = doc_of(doc);
    char put[128], get[128];
    struct upload_slot slot = {
        .put = put,
        .get = get,
        .nheaders = 2,
        .headers = {{"Authorization", "Bearer t0k"}, {"X-Other", "dropped"}}};

    snprintf(put, sizeof(put), "http://127.0.0.1:%d/up/f.json?k=1", s->port);
    snprintf(get, sizeof(get), "http://127.0.0.1:%d/get/f.json", s->port);
    assert_int_equal(
        upload_begin(u, "a@x", "f.json", "application/json", &d, 5000), 0);
    upload_slot(u, R.last_job, &slot, NULL, 5000);
}

static void test_put_over_http(void **state)
{
    struct uploader *u = upload_new(&ops, NULL, NULL);
    struct server s;
    char want[64];

    (void)state;
    server_start(&s, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    put_to(u, &s, "{\"format\":\"starling-export\"}");
    wait_done(u, 1, 5001);
    server_stop(&s);
    snprintf(want, sizeof(want), "http://127.0.0.1:%d/get/f.json", s.port);
    assert_non_null(R.done_url);
    assert_string_equal(R.done_url, want);
    assert_int_equal(upload_count(u), 0);
    upload_free(u);
}

static void test_put_request_as_sent(void **state)
{
    struct uploader *u = upload_new(&ops, NULL, NULL);
    struct server s;
    char *want;

    (void)state;
    server_start(&s, "HTTP/1.1 201 Created\r\n\r\n");
    put_to(u, &s, "{\"k\":\"v\"}");
    wait_done(u, 1, 5001);
    pthread_join(s.thread, NULL);
    want = xasprintf("PUT /up/f.json?k=1 HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%d\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: 9\r\n"
                     "Connection: close\r\n"
                     "User-Agent: Starling/" STARLING_VERSION "\r\n"
                     "Authorization: Bearer t0k\r\n"
                     "\r\n"
                     "{\"k\":\"v\"}",
                     s.port);
    assert_string_equal(s.got.s, want);
    free(want);
    close(s.fd);
    buf_free(&s.got);
    upload_free(u);
}

static void test_put_refused(void **state)
{
    struct uploader *u = upload_new(&ops, NULL, NULL);
    struct server s;

    (void)state;
    server_start(&s, "HTTP/1.1 413 Payload Too Large\r\n\r\n");
    put_to(u, &s, "{}");
    wait_done(u, 1, 5001);
    server_stop(&s);
    assert_null(R.done_url);
    assert_string_equal(R.done_doc, "{}");
    upload_free(u);
}

static void test_put_nobody_listening(void **state)
{
    struct uploader *u = upload_new(&ops, NULL, NULL);
    struct server s;

    (void)state;
    /* A port that was free a moment ago: connection refused. */
    server_start(&s, NULL);
    shutdown(s.fd, SHUT_RDWR);
    close(s.fd);
    pthread_join(s.thread, NULL);
    put_to(u, &s, "{}");
    wait_done(u, 1, 5001);
    assert_null(R.done_url);
    buf_free(&s.got);
    upload_free(u);
}

static void test_put_that_never_ends_is_given_up(void **state)
{
    struct uploader *u = upload_new(&ops, NULL, NULL);
    struct server s;

    (void)state;
    server_start(&s, NULL); /* reads, never answers */
    put_to(u, &s, "{}");
    upload_poll(u, 5001);
    assert_int_equal(R.done, 0);
    /* Past the deadline: the user is answered at once, the worker stops on
     * its own and is joined when it has. */
    upload_poll(u, 5000 + UPLOAD_TIMEOUT);
    assert_int_equal(R.done, 1);
    assert_null(R.done_url);
    assert_string_equal(R.done_doc, "{}");
    upload_free(u);
    assert_int_equal(R.done, 1);
    server_stop(&s);
}

#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_url_refused),
        cmocka_unit_test(test_request_head),
        cmocka_unit_test(test_http_status),
        T_(test_one_job_per_user_and_a_cap),
        T_(test_slot_refused_or_never_granted),
        T_(test_put_over_http),
        T_(test_put_request_as_sent),
        T_(test_put_refused),
        T_(test_put_nobody_listening),
        T_(test_put_that_never_ends_is_given_up),
    };

    return cmocka_run_group_tests_name("upload", tests, NULL, NULL);
}
