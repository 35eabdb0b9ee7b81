/*
 * test_config.c - configuration loading: defaults, every key, and every
 * kind of error reported as FILE:LINE.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "match.h"

static char dir[] = "/tmp/starling-test-config-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* A file that starts like a PNG, of size bytes in all. */
static void write_png(const char *name, size_t size)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    for (size_t i = 8; i < size; i++)
        fputc((int)(i & 0xff), f);
    fclose(f);
}

/* Load text; expect failure with "PATH:LINE: ..." containing words. */
static void expect_error(const char *text, int line, const char *words)
{
    const char *path = write_file("bad.conf", text);
    char err[1024], prefix[300];
    struct config c;

    assert_int_equal(config_load(path, &c, err, sizeof(err)), -1);
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, words) == NULL)
        fail_msg("for:\n%s\nexpected %s...%s, got %s", text, prefix, words,
                 err);
}

#define BASE                                                                   \
    "xmpp: { jid = \"bot@example.org\"; password = \"pw\"; };\n"               \
    "storage: { path = \"/tmp/x.db\"; };\n"

static void test_minimal_file_and_defaults(void **state)
{
    struct config c;
    char err[512];

    (void)state;
    assert_int_equal(
        config_load(write_file("ok.conf", BASE), &c, err, sizeof(err)), 0);
    assert_string_equal(c.xmpp.jid, "bot@example.org");
    assert_string_equal(c.xmpp.password, "pw");
    assert_null(c.xmpp.host);
    assert_int_equal(c.xmpp.port, 0);
    assert_int_equal(c.xmpp.tls, TLS_REQUIRED);
    assert_string_equal(c.xmpp.resource, "starling");
    assert_null(c.xmpp.upload_service); /* found by discovery */
    assert_false(c.xmpp.upload_off);
    assert_int_equal(c.bot.subscription, SUB_OPEN);
    assert_int_equal(c.bot.post_max_chars, 500);
    assert_int_equal(c.bot.posts_per_minute, 10);
    assert_int_equal(c.bot.edit_minutes, 15);
    assert_null(c.bot.avatar);
    assert_null(c.bot.avatar_png);
    assert_false(c.delivery.deliver_when_away);
    assert_int_equal(c.delivery.backlog_max, 20);
    assert_int_equal(c.log.level, LOG_LEVEL_INFO);
    assert_int_equal(c.bot.n_admins, 0);
    config_free(&c);
}

static void test_every_key(void **state)
{
    struct config c;
    char err[512];
    const char *text =
        "xmpp: { jid = \"bot@example.org\"; password = \"pw\";\n"
        "  host = \"xmpp.example.org\"; port = 5223; tls = \"direct\";\n"
        "  resource = \"r\"; upload_service = \"Upload.Example.org\"; };\n"
        "storage: { path = \"/tmp/x.db\"; };\n"
        "bot: { admins = [ \"Admin@Example.org/phone\", \"b@x\" ];\n"
        "  subscription = \"allowlist\"; allow = [ \"^a\", \"@x$\" ];\n"
        "  post_max_chars = 140; posts_per_minute = 3;\n"
        "  edit_minutes = 0; avatar = \"avatar.png\"; };\n"
        "delivery: { deliver_when_away = true; backlog_max = 0; };\n"
        "log: { level = \"debug\"; };\n";

    (void)state;
    write_png("avatar.png", 100);
    assert_int_equal(
        config_load(write_file("all.conf", text), &c, err, sizeof(err)), 0);
    assert_string_equal(c.xmpp.host, "xmpp.example.org");
    assert_int_equal(c.xmpp.port, 5223);
    assert_int_equal(c.xmpp.tls, TLS_DIRECT);
    assert_string_equal(c.xmpp.resource, "r");
    assert_string_equal(c.xmpp.upload_service, "upload.example.org");
    assert_false(c.xmpp.upload_off);
    assert_int_equal(c.bot.n_admins, 2);
    /* Admins are normalised: case and resource. */
    assert_string_equal(c.bot.admins[0], "admin@example.org");
    assert_true(config_is_admin(&c, "admin@example.org"));
    assert_false(config_is_admin(&c, "someone@example.org"));
    assert_int_equal(c.bot.subscription, SUB_ALLOWLIST);
    assert_int_equal(c.bot.n_allow, 2);
    assert_int_equal(c.bot.post_max_chars, 140);
    assert_int_equal(c.bot.posts_per_minute, 3);
    assert_int_equal(c.bot.edit_minutes, 0);
    /* A relative avatar is next to the configuration file, and loaded. */
    assert_non_null(strstr(c.bot.avatar, dir));
    assert_int_equal(c.bot.avatar_len, 100);
    assert_memory_equal(c.bot.avatar_png, "\x89PNG\r\n\x1a\n", 8);
    assert_true(c.delivery.deliver_when_away);
    assert_int_equal(c.delivery.backlog_max, 0);
    assert_int_equal(c.log.level, LOG_LEVEL_DEBUG);
    config_free(&c);
}

static void test_errors_name_the_line(void **state)
{
    (void)state;
    expect_error(BASE "bot: {\n  colour = \"red\";\n};\n", 4,
                 "unknown key 'bot.colour'");
    expect_error(BASE "extra: { a = 1; };\n", 3, "unknown section 'extra'");
    expect_error("xmpp: {\n jid = \"bot@example.org\";\n password = \"x\";\n"
                 " port = \"5222\";\n};\nstorage: { path = \"/x\"; };\n",
                 4, "xmpp.port must be an integer");
    expect_error("xmpp: {\n jid = \"bot@example.org\";\n password = \"x\";\n"
                 " port = 70000;\n};\nstorage: { path = \"/x\"; };\n",
                 4, "between 1 and 65535");
    expect_error(BASE "bot: {\n admins = \"admin@x\";\n};\n", 4,
                 "must be a list");
    expect_error(BASE "bot: {\n admins = [ 1, 2 ];\n};\n", 4,
                 "list of strings");
    expect_error(BASE "bot: {\n admins = [ \"not a jid\" ];\n};\n", 4,
                 "is not a JID");
    expect_error(BASE "bot: {\n subscription = \"maybe\";\n};\n", 4,
                 "must be one of");
    expect_error(BASE "log: {\n level = \"loud\";\n};\n", 4,
                 "log.level must be one of");
    expect_error(BASE "delivery: {\n deliver_when_away = \"yes\";\n};\n", 4,
                 "true or false");
    expect_error(BASE "bot: {\n allow = [ \"ok\", \"(unclosed\" ];\n};\n", 4,
                 "does not compile");
    expect_error(BASE "bot: {\n post_max_chars = 0;\n};\n", 4, "between");
    expect_error(BASE "bot: {\n edit_minutes = 1441;\n};\n", 4,
                 "bot.edit_minutes must be between 0 and 1440");
    expect_error(BASE "bot: {\n edit_minutes = -1;\n};\n", 4, "between");
    expect_error(BASE "bot: {\n edit_minutes = \"15\";\n};\n", 4,
                 "must be an integer");
    expect_error(BASE "bot: {\n avatar = 1;\n};\n", 4,
                 "bot.avatar must be a string");
    expect_error(BASE "bot: {\n avatar = \"/nonexistent/a.png\";\n};\n", 4,
                 "cannot read bot.avatar /nonexistent/a.png");
    expect_error(BASE "bot: {\n avatar = \"/tmp\";\n};\n", 4,
                 "cannot read bot.avatar /tmp");
    write_file("not.png", "GIF89a and then some");
    expect_error(BASE "bot:\n{\n avatar = \"not.png\";\n};\n", 5,
                 "is not a PNG image");
    write_file("empty.png", "");
    expect_error(BASE "bot: {\n avatar = \"empty.png\";\n};\n", 4,
                 "is not a PNG image");
    write_png("big.png", CONFIG_AVATAR_MAX + 1);
    expect_error(BASE "bot: {\n avatar = \"big.png\";\n};\n", 4,
                 "larger than 65536 bytes");
    expect_error("xmpp: {\n jid = \"bot@example.org\";\n};\n"
                 "storage: { path = \"/x\"; };\n",
                 1, "missing required key 'password'");
    expect_error("xmpp: {\n password = \"x\";\n};\n"
                 "storage: { path = \"/x\"; };\n",
                 1, "missing required key 'jid'");
    expect_error("xmpp: { jid = \"bot@example.org\"; password = \"x\"; };\n", 1,
                 "missing required key 'path'");
    expect_error("xmpp: {\n jid = \"bot@example.org\";\n password = \"x\";\n"
                 " password_file = \"/etc/hostname\";\n};\n"
                 "storage: { path = \"/x\"; };\n",
                 4, "not both");
    expect_error("xmpp: {\n jid = \"bot@example.org\";\n"
                 " password_file = \"/nonexistent/pw\";\n};\n"
                 "storage: { path = \"/x\"; };\n",
                 3, "cannot read password file");
    expect_error("xmpp: {\n jid = \"bot@example.org\";\n password = \"x\";\n"
                 " tls = \"disabled\";\n};\nstorage: { path = \"/x\"; };\n",
                 4, "loopback");
    expect_error("xmpp: {\n jid = \"@example.org\";\n password = \"x\";\n};\n"
                 "storage: { path = \"/x\"; };\n",
                 2, "is not a JID");
    expect_error("xmpp: { jid = \"a@b\"; password = \"x\"\n", 2, "");
    expect_error("xmpp: {\n jid = \"a@b\";\n password = \"x\";\n"
                 " ca_file = \"/nonexistent/ca.pem\";\n};\n"
                 "storage: { path = \"/x\"; };\n",
                 4, "cannot read ca_file");
}

/* xmpp.upload_service: "auto" (discovery, as when absent), "off", or the
 * bare JID of a XEP-0363 service; anything else names its line. */
static void test_upload_service(void **state)
{
    struct config c;
    char err[512];

    (void)state;
    assert_int_equal(
        config_load(write_file("auto.conf",
                               "xmpp: { jid = \"bot@example.org\"; "
                               "password = \"pw\";\n"
                               "  upload_service = \"auto\"; };\n"
                               "storage: { path = \"/tmp/x.db\"; };\n"),
                    &c, err, sizeof(err)),
        0);
    assert_null(c.xmpp.upload_service);
    assert_false(c.xmpp.upload_off);
    config_free(&c);
    assert_int_equal(
        config_load(write_file("off.conf",
                               "xmpp: { jid = \"bot@example.org\"; "
                               "password = \"pw\";\n"
                               "  upload_service = \"off\"; };\n"
                               "storage: { path = \"/tmp/x.db\"; };\n"),
                    &c, err, sizeof(err)),
        0);
    assert_null(c.xmpp.upload_service);
    assert_true(c.xmpp.upload_off);
    config_free(&c);
    expect_error("xmpp: {\n jid = \"a@b\";\n password = \"x\";\n"
                 " upload_service = \"up.example.org/res\";\n};\n"
                 "storage: { path = \"/x\"; };\n",
                 4, "is not \"auto\", \"off\" or a bare JID");
    expect_error("xmpp: {\n jid = \"a@b\";\n password = \"x\";\n"
                 " upload_service = \"\";\n};\n"
                 "storage: { path = \"/x\"; };\n",
                 4, "is not \"auto\", \"off\" or a bare JID");
    expect_error("xmpp: {\n jid = \"a@b\";\n password = \"x\";\n"
                 " upload_service = true;\n};\n"
                 "storage: { path = \"/x\"; };\n",
                 4, "xmpp.upload_service must be a string");
}

/* The largest avatar accepted is exactly CONFIG_AVATAR_MAX bytes. */
static void test_avatar_at_the_limit(void **state)
{
    struct config c;
    char err[512], text[512];

    (void)state;
    write_png("max.png", CONFIG_AVATAR_MAX);
    snprintf(text, sizeof(text), BASE "bot: { avatar = \"%s/max.png\"; };\n",
             dir);
    assert_int_equal(
        config_load(write_file("max.conf", text), &c, err, sizeof(err)), 0);
    assert_int_equal(c.bot.avatar_len, CONFIG_AVATAR_MAX);
    config_free(&c);
}

static void test_disabled_tls_on_loopback(void **state)
{
    struct config c;
    char err[512];

    (void)state;
    assert_int_equal(
        config_load(write_file("lo.conf",
                               "xmpp: { jid = \"bot@localhost\"; "
                               "password = \"x\"; tls = \"disabled\"; };\n"
                               "storage: { path = \"/x\"; };\n"),
                    &c, err, sizeof(err)),
        0);
    config_free(&c);
}

static void test_password_file_and_credentials(void **state)
{
    struct config c;
    char err[512], creds[300];
    const char *path;

    (void)state;
    write_file("pw", "from-file\n");
    /* Relative: next to the configuration file. */
    path = write_file("pf.conf", "xmpp: { jid = \"bot@localhost\"; "
                                 "password_file = \"pw\"; };\n"
                                 "storage: { path = \"/x\"; };\n");
    assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
    assert_string_equal(c.xmpp.password, "from-file");
    config_free(&c);
    /* No password key: systemd's credential. */
    snprintf(creds, sizeof(creds), "%s/creds", dir);
    assert_int_equal(mkdir(creds, 0700), 0);
    write_file("creds/password", "credential\n");
    setenv("CREDENTIALS_DIRECTORY", creds, 1);
    path = write_file("cred.conf", "xmpp: { jid = \"bot@localhost\"; };\n"
                                   "storage: { path = \"/x\"; };\n");
    assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
    assert_string_equal(c.xmpp.password, "credential");
    config_free(&c);
    unsetenv("CREDENTIALS_DIRECTORY");
}

static void test_error_never_shows_password(void **state)
{
    char err[512];
    struct config c;
    const char *path =
        write_file("p.conf", "xmpp: { jid = \"bot@localhost\"; "
                             "password = \"hunter2-secret\"; port = -1; };\n"
                             "storage: { path = \"/x\"; };\n");

    (void)state;
    assert_int_equal(config_load(path, &c, err, sizeof(err)), -1);
    assert_null(strstr(err, "hunter2"));
}

static void test_shipped_example(void **state)
{
    struct config c;
    char err[512];

    (void)state;
    assert_int_equal(config_load("etc/starling.conf", &c, err, sizeof(err)), 0);
    assert_string_equal(c.xmpp.jid, "updates@example.org");
    config_free(&c);
}

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    return match_init();
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    match_done();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* SPEC 10: component mode needs no account, only a domain and a secret;
 * every mistake names its line. */
static void test_component_mode(void **state)
{
    struct config c;
    char err[1024];
    const char *path;

    (void)state;
    write_file("secret", "s3cret\n");
    path = write_file("comp.conf", "xmpp: { mode = \"component\"; };\n"
                                   "component: {\n"
                                   "  domain = \"updates.example.org\";\n"
                                   "  secret_file = \"secret\";\n"
                                   "  host = \"10.0.0.1\"; port = 5275;\n"
                                   "  nodes = [ \"10.0.0.2:5276\" ];\n"
                                   "  user_jids = true;\n"
                                   "};\n"
                                   "storage: { path = \"/tmp/x.db\"; };\n");
    assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
    assert_int_equal(c.xmpp.mode, MODE_COMPONENT);
    assert_null(c.xmpp.jid);
    assert_string_equal(c.component.domain, "updates.example.org");
    assert_string_equal(c.component.secret, "s3cret");
    assert_int_equal(c.component.n_nodes, 2);
    assert_string_equal(c.component.nodes[0].host, "10.0.0.1");
    assert_int_equal(c.component.nodes[0].port, 5275);
    assert_string_equal(c.component.nodes[1].host, "10.0.0.2");
    assert_int_equal(c.component.nodes[1].port, 5276);
    assert_true(c.component.user_jids);
    /* The service JID defaults to the domain. */
    assert_string_equal(c.bot.service_jid, "updates.example.org");
    config_free(&c);

#define COMP                                                                   \
    "xmpp: { mode = \"component\"; };\n"                                       \
    "storage: { path = \"/tmp/x.db\"; };\n"
    expect_error(COMP "component: {\n secret = \"x\";\n};\n", 3,
                 "needs component.domain");
    expect_error(COMP "component: {\n domain = \"a@b\";\n};\n", 4,
                 "is not a domain");
    expect_error(COMP "component: {\n domain = \"u.example.org\";\n};\n", 3,
                 "missing required key 'secret'");
    expect_error(COMP "component: {\n domain = \"u.example.org\";\n"
                      " secret = \"x\";\n nodes = [ \"nohost\" ];\n};\n",
                 6, "is not host:port");
    expect_error(COMP "component: {\n domain = \"u.example.org\";\n"
                      " secret = \"x\";\n port = 70000;\n};\n",
                 6, "between");
    expect_error(COMP "component: {\n domain = \"u.example.org\";\n"
                      " secret = \"x\";\n};\nbot: {\n"
                      " service_jid = \"bot@elsewhere.org\";\n};\n",
                 8, "is not a bare JID of u.example.org");
    expect_error(BASE "bot: {\n service_jid = \"u.example.org\";\n};\n", 4,
                 "for xmpp.mode = \"component\" only");
    expect_error(BASE "component: {\n colour = 1;\n};\n", 4,
                 "unknown key 'component.colour'");
#undef COMP
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_file_and_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_upload_service),
        cmocka_unit_test(test_avatar_at_the_limit),
        cmocka_unit_test(test_disabled_tls_on_loopback),
        cmocka_unit_test(test_password_file_and_credentials),
        cmocka_unit_test(test_error_never_shows_password),
        cmocka_unit_test(test_shipped_example),
        cmocka_unit_test(test_component_mode),
    };

    return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
