/*
 * stanza.h - part of the session layer (see session.h): what a received
 * <message/> says, as plain C, and the XEP-0115 verification string.
 *
 * This header and stanza.c may use libstrophe's types: they are included
 * only by session.c and by their unit test, never by the rest of the bot,
 * which sees struct inmsg alone.  Nothing here does I/O.
 */
#ifndef STARLING_STANZA_H
#define STARLING_STANZA_H

#include <stddef.h>
#include <strophe.h>

#include "session.h"

/* A parsed <message/>: m's strings point into the stanza (attributes) or
 * into own[] (texts this parse allocated).  Valid while the stanza lives
 * and until stanza_msg_free(). */
struct stanza_msg {
    struct inmsg m;
    char *own[INMSG_REACTIONS_MAX + 2];
    size_t n_own;
};

/*
 * Fill out from the <message/> st: every field of struct inmsg (see
 * session.h).  Never fails: what is malformed is left out, and a reply
 * fallback range that cannot be trusted is not cut (the whole body stays).
 */
void stanza_msg_parse(xmpp_stanza_t *st, struct stanza_msg *out);
void stanza_msg_free(struct stanza_msg *sm);

/* Length of a XEP-0115 ver with SHA-1 (base64 of 20 bytes), with NUL. */
#define STANZA_CAPS_VER_SIZE 29

/*
 * XEP-0115 5.1: the verification string of one identity written as
 * "category/type/lang/name" and n features (any order; no forms), as
 * base64 of its SHA-1, into out (STANZA_CAPS_VER_SIZE bytes).
 */
void stanza_caps_ver(xmpp_ctx_t *ctx, const char *identity,
                     const char *const *features, size_t n, char *out);

#endif
