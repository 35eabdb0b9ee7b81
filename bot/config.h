/*
 * config.h - the only user of <libconfig.h>: a file becomes a struct
 * config, or an error "FILE:LINE: what is wrong".
 *
 * All strings in struct config are owned by it and freed by config_free().
 */
#ifndef STARLING_CONFIG_H
#define STARLING_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/log.h"

enum tls_mode { TLS_REQUIRED, TLS_DIRECT, TLS_DISABLED };
enum xmpp_mode { MODE_CLIENT, MODE_COMPONENT };

/* One server node a component connects to (SPEC 10). */
struct config_node {
    char *host;
    int port;
};
enum sub_policy { SUB_OPEN, SUB_ALLOWLIST, SUB_CLOSED };

struct config {
    char *path;
    struct {
        enum xmpp_mode mode; /* default client */
        char *jid;           /* as written (may carry a resource); NULL in
                                component mode */
        char *password;      /* from password, password_file or
                                $CREDENTIALS_DIRECTORY/password */
        char *host;          /* NULL: the JID's domain */
        int port;            /* 0: default for the TLS mode */
        enum tls_mode tls;
        char *ca_file;  /* NULL: system store */
        char *resource; /* default "starling" */
        /* XEP-0363: the upload service; NULL: discovered (client mode),
         * unless upload_off. */
        char *upload_service;
        bool upload_off;
    } xmpp;
    struct {
        char *domain;              /* the component's domain (SPEC 10) */
        char *secret;              /* from secret, secret_file or
                                      $CREDENTIALS_DIRECTORY/component-secret */
        struct config_node *nodes; /* host/port, then every "host:port"
                                      of nodes: a connection each */
        size_t n_nodes;
        bool user_jids; /* NICK@domain per user; default false */
    } component;
    struct {
        char *path;
    } storage;
    struct {
        char **admins; /* bare, normalised */
        size_t n_admins;
        enum sub_policy subscription; /* default open */
        char **allow;
        size_t n_allow;
        int post_max_chars;        /* default 500 */
        int posts_per_minute;      /* default 10 */
        int edit_minutes;          /* XEP-0308 corrections, default 15 */
        char *avatar;              /* path of a PNG, or NULL */
        unsigned char *avatar_png; /* its bytes, read and checked at
                                      load (NULL without an avatar) */
        size_t avatar_len;
        char *service_jid; /* component mode: the address people add;
                              default component.domain */
    } bot;
    struct {
        bool deliver_when_away; /* default false */
        int backlog_max;        /* default 20 */
    } delivery;
    struct {
        enum log_level level; /* default info */
    } log;
};

/*
 * Load and validate path into *out (zeroed first).  0 on success; -1 with
 * err holding "FILE:LINE: what is wrong" (or "FILE: ..." when no line
 * applies) and *out left empty.
 */
int config_load(const char *path, struct config *out, char *err, size_t errlen);
void config_free(struct config *c);
/* Largest bot.avatar accepted, in bytes (SPEC 9: vCard-based avatars
 * travel base64 inside one stanza). */
#define CONFIG_AVATAR_MAX 65536
/* true if bare (normalised) is in bot.admins. */
bool config_is_admin(const struct config *c, const char *bare);

#endif
