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

#include <stdbool.h>
#include <stddef.h>
#include <strophe.h>

#include "session.h"
#include "../common/util.h"

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

/*
 * Every text that goes into a stanza the bot sends passes here: text the
 * server would refuse (invalid UTF-8, a character XML 1.0 forbids) would
 * close the stream and send every delivery in flight again.  Returns text
 * itself when it may go out as it is; else a repaired copy
 * (text_xml_repair(): U+FFFD where it was wrong), also left in *fixed for
 * the caller to free, with a warning that names the element and the
 * recipient to (may be NULL), never the text.  *fixed is NULL otherwise.
 */
const char *stanza_text_checked(const char *text, const char *element,
                                const char *to, char **fixed);
/*
 * The chat message o as XML text in b (reset first), to send as it is:
 * <message type="chat" to= id= [from=]> with the body, a XEP-0359
 * <origin-id/> carrying id when origin, a XEP-0203 <delay/> (from
 * delay_from, if not NULL) when o->stamp != 0, a XEP-0066 link, a
 * XEP-0308 <replace/> and a XEP-0424 retraction (with the older fasten
 * form, a fallback marker and a store hint) as o asks.  Every text passes
 * stanza_text_checked() and is escaped.
 */
void stanza_message_xml(struct buf *b, const struct outmsg *o, const char *id,
                        bool origin, const char *from, const char *delay_from);

#endif
