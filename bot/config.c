/*
 * config.c - the only user of <libconfig.h>: a configuration file becomes
 * a struct config, or one error "FILE:LINE: what is wrong".
 *
 * The accepted keys are exactly those of SPEC 2.  Every setting is looked
 * at once, in a table-driven walk, so that an unknown key, a wrong type
 * or a value out of range is reported with the line it is on.
 */
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "match.h"
#include "../common/text.h"
#include "../common/util.h"

struct loader {
    const char *path;
    char *err;
    size_t errlen;
    int failed;
};

static int fail(struct loader *l, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct loader *l, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (l->failed)
        return -1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(l->err, l->errlen, "%s:%d: %s", l->path, line, msg);
    else
        snprintf(l->err, l->errlen, "%s: %s", l->path, msg);
    l->failed = 1;
    return -1;
}

static int line_of(const config_setting_t *s)
{
    return (int)config_setting_source_line(s);
}

/* The keys each group accepts. */
static const char *const xmpp_keys[] = {
    "mode", "jid",     "password", "password_file",  "host", "port",
    "tls",  "ca_file", "resource", "upload_service", NULL};
static const char *const component_keys[] = {
    "domain", "secret", "secret_file", "host",
    "port",   "nodes",  "user_jids",   NULL};
static const char *const storage_keys[] = {"path", NULL};
static const char *const bot_keys[] = {
    "admins",         "subscription",     "allow",
    "post_max_chars", "posts_per_minute", "edit_minutes",
    "avatar",         "service_jid",      NULL};
static const char *const delivery_keys[] = {"deliver_when_away", "backlog_max",
                                            NULL};
static const char *const log_keys[] = {"level", NULL};

static const struct {
    const char *name;
    const char *const *keys;
} groups[] = {
    {"xmpp", xmpp_keys},         {"component", component_keys},
    {"storage", storage_keys},   {"bot", bot_keys},
    {"delivery", delivery_keys}, {"log", log_keys},
};

static bool in_list(const char *const *list, const char *name)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

/* Reject unknown groups and keys, and groups that are not groups. */
static int check_names(struct loader *l, config_setting_t *root)
{
    for (int i = 0; i < config_setting_length(root); i++) {
        config_setting_t *g = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(g);
        size_t k;

        for (k = 0; k < sizeof(groups) / sizeof(groups[0]); k++)
            if (strcmp(groups[k].name, name) == 0)
                break;
        if (k == sizeof(groups) / sizeof(groups[0]))
            return fail(l, line_of(g), "unknown section '%s'", name);
        if (!config_setting_is_group(g))
            return fail(l, line_of(g), "'%s' must be a group { ... }", name);
        for (int j = 0; j < config_setting_length(g); j++) {
            config_setting_t *s = config_setting_get_elem(g, (unsigned)j);

            if (!in_list(groups[k].keys, config_setting_name(s)))
                return fail(l, line_of(s), "unknown key '%s.%s'", name,
                            config_setting_name(s));
        }
    }
    return 0;
}

static const char *type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_BOOL:
        return "true or false";
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST:
        return "a list";
    }
    return "something else";
}

/* Look up group.key; NULL if absent.  Fails if present with another type
 * (int64 counts as int). */
static config_setting_t *get(struct loader *l, config_setting_t *root,
                             const char *group, const char *key, int type)
{
    config_setting_t *g = config_setting_get_member(root, group), *s;
    int t;

    if (g == NULL || (s = config_setting_get_member(g, key)) == NULL)
        return NULL;
    t = config_setting_type(s);
    if (t == CONFIG_TYPE_INT64)
        t = CONFIG_TYPE_INT;
    if (t == CONFIG_TYPE_LIST)
        t = CONFIG_TYPE_ARRAY;
    if (t != type) {
        fail(l, line_of(s), "%s.%s must be %s", group, key, type_name(type));
        return NULL;
    }
    return s;
}

static char *get_string(struct loader *l, config_setting_t *root,
                        const char *group, const char *key,
                        config_setting_t **where)
{
    config_setting_t *s = get(l, root, group, key, CONFIG_TYPE_STRING);

    if (where != NULL)
        *where = s;
    return s != NULL ? xstrdup(config_setting_get_string(s)) : NULL;
}

static void get_int(struct loader *l, config_setting_t *root, const char *group,
                    const char *key, long long lo, long long hi, int *out)
{
    config_setting_t *s = get(l, root, group, key, CONFIG_TYPE_INT);
    long long v;

    if (s == NULL)
        return;
    v = config_setting_get_int64(s);
    if (v < lo || v > hi) {
        fail(l, line_of(s), "%s.%s must be between %lld and %lld", group, key,
             lo, hi);
        return;
    }
    *out = (int)v;
}

static void get_enum(struct loader *l, config_setting_t *root,
                     const char *group, const char *key,
                     const char *const *names, int *out)
{
    config_setting_t *s = get(l, root, group, key, CONFIG_TYPE_STRING);
    const char *v;

    if (s == NULL)
        return;
    v = config_setting_get_string(s);
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], v) == 0) {
            *out = i;
            return;
        }
    }
    {
        char list[128] = "";

        for (int i = 0; names[i] != NULL; i++) {
            strncat(list, i == 0 ? "\"" : ", \"",
                    sizeof(list) - strlen(list) - 1);
            strncat(list, names[i], sizeof(list) - strlen(list) - 1);
            strncat(list, "\"", sizeof(list) - strlen(list) - 1);
        }
        fail(l, line_of(s), "%s.%s must be one of %s, not \"%s\"", group, key,
             list, v);
    }
}

/* A list of strings; each element checked by check (may be NULL). */
static char **get_strings(struct loader *l, config_setting_t *root,
                          const char *group, const char *key, size_t *n,
                          int (*check)(struct loader *, config_setting_t *,
                                       const char *, char **))
{
    config_setting_t *s = get(l, root, group, key, CONFIG_TYPE_ARRAY);
    char **v;
    int len;

    *n = 0;
    if (s == NULL)
        return NULL;
    len = config_setting_length(s);
    v = xcalloc((size_t)len + 1, sizeof(*v));
    for (int i = 0; i < len; i++) {
        config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *str;

        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            fail(l, line_of(s), "%s.%s must be a list of strings", group, key);
            break;
        }
        str = config_setting_get_string(e);
        if (check != NULL) {
            if (check(l, s, str, &v[*n]) < 0)
                break;
        } else {
            v[*n] = xstrdup(str);
        }
        (*n)++;
    }
    return v;
}

static int check_admin(struct loader *l, config_setting_t *s, const char *jid,
                       char **out)
{
    char bare[JID_MAX + 1];

    if (jid_bare(jid, bare, sizeof(bare)) < 0 || strchr(bare, '@') == NULL)
        return fail(l, line_of(s), "bot.admins: \"%s\" is not a JID", jid);
    *out = xstrdup(bare);
    return 0;
}

static int check_pattern(struct loader *l, config_setting_t *s,
                         const char *pattern, char **out)
{
    char err[384];

    if (match_pattern_check(pattern, err, sizeof(err)) < 0)
        return fail(l, line_of(s), "bot.allow: %s", err);
    *out = xstrdup(pattern);
    return 0;
}

static bool is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

/* Read a password file: the first line, without its newline. */
static char *read_password(struct loader *l, int line, const char *path)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        fail(l, line, "cannot read password file %s: %s", path,
             strerror(errno));
        return NULL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (buf[0] == '\0') {
        fail(l, line, "password file %s is empty", path);
        return NULL;
    }
    return xstrdup(buf);
}

/* Resolve a relative password_file against $CREDENTIALS_DIRECTORY, else
 * the directory of the configuration file. */
static char *resolve(const char *cfgpath, const char *file)
{
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    const char *slash;

    if (file[0] == '/')
        return xstrdup(file);
    if (creds != NULL && creds[0] != '\0')
        return xasprintf("%s/%s", creds, file);
    slash = strrchr(cfgpath, '/');
    if (slash == NULL)
        return xstrdup(file);
    return xasprintf("%.*s/%s", (int)(slash - cfgpath), cfgpath, file);
}

/*
 * A secret given as group.key, group.key_file (relative: to
 * $CREDENTIALS_DIRECTORY or the configuration's directory) or, with
 * neither, $CREDENTIALS_DIRECTORY/cred: exactly one of them.  NULL (and l
 * failed) when there is none.
 */
static char *load_secret(struct loader *l, config_setting_t *root,
                         const char *group, const char *key, const char *cred)
{
    config_setting_t *pw, *pwf, *g = config_setting_get_member(root, group);
    char *file, *secret, *file_key = xasprintf("%s_file", key);

    secret = get_string(l, root, group, key, &pw);
    file = get_string(l, root, group, file_key, &pwf);
    if (l->failed) {
        /* nothing more to say */
    } else if (pw != NULL && pwf != NULL) {
        fail(l, line_of(pwf), "%s: give %s or %s, not both", group, key,
             file_key);
    } else if (pwf != NULL) {
        char *path = resolve(l->path, file);

        secret = read_password(l, line_of(pwf), path);
        free(path);
    } else if (pw == NULL) {
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        char *path;

        if (creds != NULL && creds[0] != '\0') {
            path = xasprintf("%s/%s", creds, cred);
            if (access(path, R_OK) == 0)
                secret = read_password(l, line_of(g), path);
            free(path);
        }
        if (secret == NULL)
            fail(l, g != NULL ? line_of(g) : 1,
                 "%s: missing required key '%s' (or %s)", group, key, file_key);
    } else if (secret[0] == '\0') {
        fail(l, line_of(pw), "%s.%s is empty", group, key);
    }
    free(file);
    free(file_key);
    if (l->failed) {
        free(secret);
        return NULL;
    }
    return secret;
}

/* bare is domain itself or a JID at domain. */
static bool jid_in_domain(const char *bare, const char *domain)
{
    const char *at = strchr(bare, '@');

    return strcmp(at != NULL ? at + 1 : bare, domain) == 0;
}

/* One connection target: 1 and *out from "host:port". */
static int parse_node(const char *v, struct config_node *out)
{
    const char *colon = strrchr(v, ':');
    char *end;
    long port;

    if (colon == NULL || colon == v)
        return 0;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || port < 1 || port > 65535)
        return 0;
    out->host = xstrndup(v, (size_t)(colon - v));
    out->port = (int)port;
    return 1;
}

/*
 * The component section (SPEC 10): a domain, its secret, and where the
 * server's component port is: host/port (default localhost:5347) and any
 * further nodes of a cluster as "host:port" strings.
 */
static void load_component(struct loader *l, config_setting_t *root,
                           struct config *c)
{
    config_setting_t *g = config_setting_get_member(root, "component"), *s;
    char bare[JID_MAX + 1], **nodes;
    size_t n;
    int port = 5347;

    c->component.domain = get_string(l, root, "component", "domain", &s);
    if (!l->failed && c->component.domain == NULL)
        fail(l, g != NULL ? line_of(g) : 1,
             "xmpp.mode = \"component\" needs component.domain");
    else if (!l->failed &&
             (jid_bare(c->component.domain, bare, sizeof(bare)) < 0 ||
              strchr(bare, '@') != NULL || strchr(bare, '/') != NULL))
        fail(l, line_of(s), "component.domain \"%s\" is not a domain",
             c->component.domain);
    if (l->failed)
        return;
    c->component.secret =
        load_secret(l, root, "component", "secret", "component-secret");
    if (l->failed)
        return;
    c->component.nodes = xcalloc(1, sizeof(*c->component.nodes));
    c->component.nodes[0].host = get_string(l, root, "component", "host", NULL);
    if (c->component.nodes[0].host == NULL)
        c->component.nodes[0].host = xstrdup("localhost");
    get_int(l, root, "component", "port", 1, 65535, &port);
    c->component.nodes[0].port = port;
    c->component.n_nodes = 1;
    nodes = get_strings(l, root, "component", "nodes", &n, NULL);
    s = config_setting_get_member(g, "nodes");
    if (n > 0)
        c->component.nodes =
            xrealloc(c->component.nodes, (n + 1) * sizeof(*c->component.nodes));
    for (size_t i = 0; i < n && !l->failed; i++)
        if (!parse_node(nodes[i],
                        &c->component.nodes[c->component.n_nodes++])) {
            c->component.n_nodes--;
            fail(l, line_of(s), "component.nodes: \"%s\" is not host:port",
                 nodes[i]);
        }
    for (size_t i = 0; i < n; i++)
        free(nodes[i]);
    free(nodes);
    s = get(l, root, "component", "user_jids", CONFIG_TYPE_BOOL);
    if (s != NULL)
        c->component.user_jids = config_setting_get_bool(s) != 0;
}

/* xmpp.upload_service: "auto" (the default: discovery), "off", or the
 * JID of the XEP-0363 service to use. */
static void load_upload(struct loader *l, config_setting_t *root,
                        struct config *c)
{
    config_setting_t *s;
    char *v = get_string(l, root, "xmpp", "upload_service", &s);
    char bare[JID_MAX + 1];

    if (v == NULL || strcmp(v, "auto") == 0) {
        free(v);
        return;
    }
    if (strcmp(v, "off") == 0) {
        c->xmpp.upload_off = true;
        free(v);
        return;
    }
    if (jid_bare(v, bare, sizeof(bare)) < 0 || strchr(v, '/') != NULL)
        fail(l, line_of(s),
             "xmpp.upload_service \"%s\" is not \"auto\", \"off\" or a "
             "bare JID",
             v);
    else
        c->xmpp.upload_service = xstrdup(bare);
    free(v);
}

static void load_xmpp(struct loader *l, config_setting_t *root,
                      struct config *c)
{
    static const char *const tls_names[] = {"required", "direct", "disabled",
                                            NULL};
    static const char *const mode_names[] = {"client", "component", NULL};
    config_setting_t *g = config_setting_get_member(root, "xmpp"), *s;
    char bare[JID_MAX + 1];
    int tls = TLS_REQUIRED, mode = MODE_CLIENT;

    get_enum(l, root, "xmpp", "mode", mode_names, &mode);
    c->xmpp.mode = (enum xmpp_mode)mode;
    load_upload(l, root, c);
    /* Trust anchors: for the server, and for the upload service's HTTPS
     * (which a component uses too). */
    c->xmpp.ca_file = get_string(l, root, "xmpp", "ca_file", &s);
    if (!l->failed && c->xmpp.ca_file != NULL &&
        access(c->xmpp.ca_file, R_OK) != 0)
        fail(l, line_of(s), "cannot read ca_file %s: %s", c->xmpp.ca_file,
             strerror(errno));
    if (c->xmpp.mode == MODE_COMPONENT) {
        /* The account is not used: a component has no JID or password. */
        load_component(l, root, c);
        return;
    }
    c->xmpp.jid = get_string(l, root, "xmpp", "jid", &s);
    if (!l->failed && c->xmpp.jid == NULL)
        fail(l, g != NULL ? line_of(g) : 1, "xmpp: missing required key 'jid'");
    else if (!l->failed && (jid_bare(c->xmpp.jid, bare, sizeof(bare)) < 0 ||
                            strchr(bare, '@') == NULL))
        fail(l, line_of(s), "xmpp.jid \"%s\" is not a JID", c->xmpp.jid);
    c->xmpp.password = load_secret(l, root, "xmpp", "password", "password");
    c->xmpp.host = get_string(l, root, "xmpp", "host", NULL);
    get_int(l, root, "xmpp", "port", 1, 65535, &c->xmpp.port);
    get_enum(l, root, "xmpp", "tls", tls_names, &tls);
    c->xmpp.tls = (enum tls_mode)tls;
    c->xmpp.resource = get_string(l, root, "xmpp", "resource", &s);
    if (!l->failed && c->xmpp.resource != NULL && c->xmpp.resource[0] == '\0')
        fail(l, line_of(s), "xmpp.resource is empty");
    if (c->xmpp.resource == NULL)
        c->xmpp.resource = xstrdup("starling");
    if (!l->failed && c->xmpp.tls == TLS_DISABLED) {
        const char *host = c->xmpp.host;

        if (host == NULL)
            host = strchr(bare, '@') + 1;
        if (!is_loopback(host)) {
            s = config_setting_get_member(g, "tls");
            fail(l, line_of(s),
                 "xmpp.tls = \"disabled\" is only allowed "
                 "for a loopback host, not %s",
                 host);
        }
    }
}

/*
 * bot.avatar: a readable PNG (by its signature) of at most
 * CONFIG_AVATAR_MAX bytes; a relative path is taken from the directory of
 * the configuration file.  Its bytes are kept in c, so that what runs is
 * what was checked.
 */
static void load_avatar(struct loader *l, config_setting_t *root,
                        struct config *c)
{
    static const unsigned char png_sig[8] = {0x89, 'P',  'N',  'G',
                                             '\r', '\n', 0x1a, '\n'};
    config_setting_t *s;
    unsigned char *data;
    size_t n;
    FILE *f;

    c->bot.avatar = get_string(l, root, "bot", "avatar", &s);
    if (l->failed || c->bot.avatar == NULL)
        return;
    if (c->bot.avatar[0] != '/') {
        /* Relative: next to the configuration file. */
        const char *slash = strrchr(l->path, '/');

        if (slash != NULL) {
            char *abs = xasprintf("%.*s/%s", (int)(slash - l->path), l->path,
                                  c->bot.avatar);

            free(c->bot.avatar);
            c->bot.avatar = abs;
        }
    }
    if ((f = fopen(c->bot.avatar, "rb")) == NULL) {
        fail(l, line_of(s), "cannot read bot.avatar %s: %s", c->bot.avatar,
             strerror(errno));
        return;
    }
    data = xmalloc(CONFIG_AVATAR_MAX + 1);
    n = fread(data, 1, CONFIG_AVATAR_MAX + 1, f);
    if (ferror(f))
        fail(l, line_of(s), "cannot read bot.avatar %s: %s", c->bot.avatar,
             strerror(errno));
    else if (n > CONFIG_AVATAR_MAX)
        fail(l, line_of(s), "bot.avatar %s is larger than %d bytes",
             c->bot.avatar, CONFIG_AVATAR_MAX);
    else if (n < sizeof(png_sig) || memcmp(data, png_sig, sizeof(png_sig)))
        fail(l, line_of(s), "bot.avatar %s is not a PNG image", c->bot.avatar);
    fclose(f);
    if (l->failed) {
        free(data);
        return;
    }
    c->bot.avatar_png = data;
    c->bot.avatar_len = n;
}

static void load_rest(struct loader *l, config_setting_t *root,
                      struct config *c)
{
    static const char *const sub_names[] = {"open", "allowlist", "closed",
                                            NULL};
    static const char *const level_names[] = {"debug", "info", "warning",
                                              "error", NULL};
    config_setting_t *g = config_setting_get_member(root, "storage"), *s;
    int sub = SUB_OPEN, level = LOG_LEVEL_INFO;

    c->storage.path = get_string(l, root, "storage", "path", &s);
    if (!l->failed && c->storage.path == NULL)
        fail(l, g != NULL ? line_of(g) : 1,
             "storage: missing required key 'path'");
    else if (!l->failed && c->storage.path[0] == '\0')
        fail(l, line_of(s), "storage.path is empty");

    c->bot.admins =
        get_strings(l, root, "bot", "admins", &c->bot.n_admins, check_admin);
    get_enum(l, root, "bot", "subscription", sub_names, &sub);
    c->bot.subscription = (enum sub_policy)sub;
    c->bot.allow =
        get_strings(l, root, "bot", "allow", &c->bot.n_allow, check_pattern);
    get_int(l, root, "bot", "post_max_chars", 1, 10000, &c->bot.post_max_chars);
    get_int(l, root, "bot", "posts_per_minute", 1, 10000,
            &c->bot.posts_per_minute);
    get_int(l, root, "bot", "edit_minutes", 0, 1440, &c->bot.edit_minutes);
    load_avatar(l, root, c);
    c->bot.service_jid = get_string(l, root, "bot", "service_jid", &s);
    if (!l->failed && c->bot.service_jid != NULL) {
        char bare[JID_MAX + 1];

        if (c->xmpp.mode != MODE_COMPONENT)
            fail(l, line_of(s),
                 "bot.service_jid is for xmpp.mode = "
                 "\"component\" only");
        else if (jid_bare(c->bot.service_jid, bare, sizeof(bare)) < 0 ||
                 strcmp(bare, c->bot.service_jid) != 0 ||
                 !jid_in_domain(bare, c->component.domain))
            fail(l, line_of(s),
                 "bot.service_jid \"%s\" is not a bare JID of %s",
                 c->bot.service_jid, c->component.domain);
    }
    if (!l->failed && c->xmpp.mode == MODE_COMPONENT &&
        c->bot.service_jid == NULL)
        c->bot.service_jid = xstrdup(c->component.domain);

    s = get(l, root, "delivery", "deliver_when_away", CONFIG_TYPE_BOOL);
    if (s != NULL)
        c->delivery.deliver_when_away = config_setting_get_bool(s) != 0;
    get_int(l, root, "delivery", "backlog_max", 0, 100000,
            &c->delivery.backlog_max);
    get_enum(l, root, "log", "level", level_names, &level);
    c->log.level = (enum log_level)level;
}

int config_load(const char *path, struct config *out, char *err, size_t errlen)
{
    struct loader l = {path, err, errlen, 0};
    config_t cf;
    config_setting_t *root;

    memset(out, 0, sizeof(*out));
    out->bot.subscription = SUB_OPEN;
    out->bot.post_max_chars = 500;
    out->bot.posts_per_minute = 10;
    out->bot.edit_minutes = 15;
    out->delivery.backlog_max = 20;
    out->log.level = LOG_LEVEL_INFO;
    out->path = xstrdup(path);

    config_init(&cf);
    if (access(path, R_OK) != 0) {
        fail(&l, 0, "cannot read: %s", strerror(errno));
    } else if (config_read_file(&cf, path) != CONFIG_TRUE) {
        fail(&l, config_error_line(&cf), "%s", config_error_text(&cf));
    } else {
        root = config_root_setting(&cf);
        if (check_names(&l, root) == 0) {
            load_xmpp(&l, root, out);
            load_rest(&l, root, out);
        }
    }
    config_destroy(&cf);
    if (l.failed) {
        config_free(out);
        return -1;
    }
    return 0;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void config_free(struct config *c)
{
    free(c->path);
    free(c->xmpp.jid);
    if (c->xmpp.password != NULL) {
        explicit_bzero(c->xmpp.password, strlen(c->xmpp.password));
        free(c->xmpp.password);
    }
    free(c->xmpp.host);
    free(c->xmpp.ca_file);
    free(c->xmpp.upload_service);
    free(c->xmpp.resource);
    free(c->storage.path);
    free_list(c->bot.admins, c->bot.n_admins);
    free_list(c->bot.allow, c->bot.n_allow);
    free(c->bot.avatar);
    free(c->bot.avatar_png);
    free(c->bot.service_jid);
    free(c->component.domain);
    if (c->component.secret != NULL) {
        explicit_bzero(c->component.secret, strlen(c->component.secret));
        free(c->component.secret);
    }
    for (size_t i = 0; i < c->component.n_nodes; i++)
        free(c->component.nodes[i].host);
    free(c->component.nodes);
    memset(c, 0, sizeof(*c));
}

bool config_is_admin(const struct config *c, const char *bare)
{
    for (size_t i = 0; i < c->bot.n_admins; i++)
        if (strcmp(c->bot.admins[i], bare) == 0)
            return true;
    return false;
}
