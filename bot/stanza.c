/*
 * stanza.c - part of the session layer (the only file besides session.c
 * that includes <strophe.h>): a received <message/> becomes a struct
 * inmsg, and the XEP-0115 verification string is computed here.
 *
 * What today's clients put around a body (SPEC 9) is read here and
 * nowhere else: the XEP-0359 origin-id, a XEP-0308 correction, a XEP-0424
 * retraction (the current urn:xmpp:message-retract:1 element and the older
 * urn:xmpp:fasten:0 form), a XEP-0461 reply with its XEP-0428 fallback
 * quote cut off, XEP-0444 reactions, encryption (OMEMO, OpenPGP for
 * XMPP, legacy PGP, OTR, XEP-0380) and a XEP-0184 receipt request.
 *
 * What the bot sends as a chat message (struct outmsg) is written here as
 * XML text, and every text that goes into any stanza the bot sends is
 * checked here (stanza_text_checked()).
 *
 * Fallback ranges count Unicode code points (XEP-0426).  Clients have
 * shipped other units (Dino counted UTF-8 bytes, Java clients UTF-16 code
 * units), so a range is only trusted where it falls on line boundaries, as
 * every client's "> quote" fallback does: code points first, then bytes,
 * then UTF-16 units.  A range that fits none of them is not cut at all:
 * posting a quote is a smaller harm than cutting what the user wrote.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stanza.h"
#include "../common/log.h"
#include "../common/text.h"
#include "../common/util.h"

#define NS_CLIENT      "jabber:client"
#define NS_COMPONENT   "jabber:component:accept"
#define NS_SID         "urn:xmpp:sid:0"
#define NS_DELAY       "urn:xmpp:delay"
#define NS_OOB         "jabber:x:oob"
#define NS_HINTS       "urn:xmpp:hints"
#define NS_CORRECT     "urn:xmpp:message-correct:0"
#define NS_RETRACT     "urn:xmpp:message-retract:1"
#define NS_RETRACT_0   "urn:xmpp:message-retract:0"
#define NS_FASTEN      "urn:xmpp:fasten:0"
#define NS_REPLY       "urn:xmpp:reply:0"
#define NS_FALLBACK    "urn:xmpp:fallback:0"
#define NS_REACTIONS   "urn:xmpp:reactions:0"
#define NS_RECEIPTS    "urn:xmpp:receipts"
#define NS_EME         "urn:xmpp:eme:0"
#define NS_OMEMO_LEG   "eu.siacs.conversations.axolotl"
#define NS_OMEMO_1     "urn:xmpp:omemo:1"
#define NS_OMEMO_2     "urn:xmpp:omemo:2"
#define NS_OX          "urn:xmpp:openpgp:0"
#define NS_PGP         "jabber:x:encrypted"
#define NS_OTR         "urn:xmpp:otr:0"
#define RANGES_MAX     4  /* fallback body ranges for a reply */
#define REACTION_BYTES 64 /* longest reaction kept (an emoji sequence) */

static bool is(xmpp_stanza_t *el, const char *name, const char *ns)
{
    const char *n = xmpp_stanza_get_name(el), *s = xmpp_stanza_get_ns(el);

    return xmpp_stanza_is_tag(el) && n != NULL && strcmp(n, name) == 0 &&
           s != NULL && strcmp(s, ns) == 0;
}

/* An id attribute: "" when the element came without one (see session.h). */
static const char *id_of(xmpp_stanza_t *el, const char *attr)
{
    const char *v = xmpp_stanza_get_attribute(el, attr);

    return v != NULL ? v : "";
}

/* All text children of el, concatenated, in a new string. */
static char *text_of(xmpp_stanza_t *el)
{
    struct buf b = {0};
    xmpp_stanza_t *c;

    for (c = xmpp_stanza_get_children(el); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *t =
            xmpp_stanza_is_text(c) ? xmpp_stanza_get_text_ptr(c) : NULL;

        if (t != NULL)
            buf_append(&b, t);
    }
    return b.s != NULL ? b.s : xstrdup("");
}

static const char *keep(struct stanza_msg *sm, char *s)
{
    sm->own[sm->n_own++] = s;
    return s;
}

/* Fallback ranges -------------------------------------------------------- */

enum unit { UNIT_CODEPOINT, UNIT_BYTE, UNIT_UTF16 };

struct range {
    unsigned long start, end; /* in the client's unit, end exclusive */
};

/* A non-negative decimal attribute (digits only, at most 9). */
static bool attr_number(xmpp_stanza_t *el, const char *name, unsigned long *out)
{
    const char *v = xmpp_stanza_get_attribute(el, name);
    size_t n;

    if (v == NULL || (n = strlen(v)) == 0 || n > 9 ||
        strspn(v, "0123456789") != n)
        return false;
    *out = strtoul(v, NULL, 10);
    return true;
}

/* The byte offset of position pos counted in unit u, if pos falls on a
 * character boundary inside s (len bytes); false otherwise. */
static bool to_byte(const char *s, size_t len, unsigned long pos, enum unit u,
                    size_t *out)
{
    unsigned long at = 0;
    size_t i = 0;

    if (u == UNIT_BYTE) {
        if (pos > len || (pos < len && ((unsigned char)s[pos] & 0xc0) == 0x80))
            return false;
        *out = pos;
        return true;
    }
    while (at < pos && i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

        /* Outside the BMP: two UTF-16 code units. */
        at += u == UNIT_UTF16 && n == 4 ? 2 : 1;
        i += n;
    }
    if (at != pos || i > len)
        return false;
    *out = i;
    return true;
}

/* A quote fallback starts a line and ends one (before or after its
 * newline). */
static bool on_lines(const char *s, size_t len, size_t b, size_t e)
{
    if (b > e || (b > 0 && s[b - 1] != '\n'))
        return false;
    return e == len || s[e] == '\n' || (e > 0 && s[e - 1] == '\n');
}

/*
 * body without the n ranges, or NULL when no unit makes all of them fall
 * on line boundaries.  Ranges may overlap and come in any order.
 */
static char *cut_ranges(const char *body, const struct range *r, size_t n)
{
    static const enum unit units[] = {UNIT_CODEPOINT, UNIT_BYTE, UNIT_UTF16};
    size_t len = strlen(body), b[RANGES_MAX], e[RANGES_MAX];

    for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
        bool fits = true;

        for (size_t i = 0; i < n && fits; i++)
            fits = to_byte(body, len, r[i].start, units[k], &b[i]) &&
                   to_byte(body, len, r[i].end, units[k], &e[i]) &&
                   on_lines(body, len, b[i], e[i]);
        if (fits) {
            char *out = xmalloc(len + 1), *p = out;

            for (size_t at = 0; at < len; at++) {
                bool cut = false;

                for (size_t i = 0; i < n && !cut; i++)
                    cut = at >= b[i] && at < e[i];
                if (!cut)
                    *p++ = body[at];
            }
            *p = '\0';
            return out;
        }
    }
    return NULL;
}

/* The <body start= end=/> ranges of a fallback for a reply; a <body/>
 * without both is the whole body (XEP-0428).  false when one is
 * malformed or there are too many. */
static bool reply_ranges(xmpp_stanza_t *fb, const char *body, struct range *r,
                         size_t *n)
{
    xmpp_stanza_t *c;

    for (c = xmpp_stanza_get_children(fb); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        bool has_start, has_end;

        if (!xmpp_stanza_is_tag(c) || name == NULL || strcmp(name, "body"))
            continue;
        if (*n == RANGES_MAX)
            return false;
        has_start = xmpp_stanza_get_attribute(c, "start") != NULL;
        has_end = xmpp_stanza_get_attribute(c, "end") != NULL;
        if (!has_start && !has_end) {
            r[*n].start = 0;
            r[*n].end = utf8_count(body, strlen(body));
        } else if (!attr_number(c, "start", &r[*n].start) ||
                   !attr_number(c, "end", &r[*n].end)) {
            return false;
        }
        (*n)++;
    }
    return true;
}

/* Encryption ------------------------------------------------------------ */

static enum msg_crypto crypto_of_ns(const char *ns)
{
    if (ns == NULL)
        return CRYPTO_OTHER;
    if (!strcmp(ns, NS_OMEMO_LEG) || !strcmp(ns, NS_OMEMO_1) ||
        !strcmp(ns, NS_OMEMO_2))
        return CRYPTO_OMEMO;
    if (!strcmp(ns, NS_OX))
        return CRYPTO_OX;
    if (!strcmp(ns, NS_PGP))
        return CRYPTO_PGP;
    if (!strcmp(ns, NS_OTR))
        return CRYPTO_OTR;
    return CRYPTO_OTHER;
}

/* What one child says about encryption; *content when it carries
 * something encrypted (not an OMEMO key transport). */
static enum msg_crypto crypto_of(xmpp_stanza_t *c, bool *content)
{
    const char *ns = xmpp_stanza_get_ns(c);

    if (ns == NULL)
        return CRYPTO_NONE;
    if (is(c, "encrypted", NS_OMEMO_LEG) || is(c, "encrypted", NS_OMEMO_1) ||
        is(c, "encrypted", NS_OMEMO_2)) {
        if (xmpp_stanza_get_child_by_name(c, "payload") != NULL)
            *content = true;
        return CRYPTO_OMEMO;
    }
    if (is(c, "openpgp", NS_OX) || is(c, "x", NS_PGP)) {
        *content = true;
        return crypto_of_ns(ns);
    }
    if (is(c, "encryption", NS_EME))
        return crypto_of_ns(xmpp_stanza_get_attribute(c, "namespace"));
    if (!strcmp(ns, NS_OTR))
        return CRYPTO_OTR;
    return CRYPTO_NONE;
}

/* Reactions ------------------------------------------------------------- */

static void add_reaction(struct stanza_msg *sm, xmpp_stanza_t *el)
{
    struct inmsg *m = &sm->m;
    char *t = text_trim(text_of(el));
    size_t len = strlen(t);

    if (len == 0 || len > REACTION_BYTES || !utf8_valid(t, len) ||
        m->n_reactions == INMSG_REACTIONS_MAX) {
        free(t);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)t[i] < 0x20) {
            free(t);
            return;
        }
    }
    for (size_t i = 0; i < m->n_reactions; i++) {
        if (strcmp(m->reactions[i], t) == 0) {
            free(t);
            return;
        }
    }
    m->reactions[m->n_reactions++] = keep(sm, t);
}

/* The message ------------------------------------------------------------ */

void stanza_msg_parse(xmpp_stanza_t *st, struct stanza_msg *out)
{
    struct inmsg *m = &out->m;
    struct range ranges[RANGES_MAX];
    size_t n_ranges = 0;
    bool ranges_ok = true, fallback = false, content = false;
    enum msg_crypto crypto = CRYPTO_NONE;
    xmpp_stanza_t *c;

    memset(out, 0, sizeof(*out));
    m->from = xmpp_stanza_get_from(st);
    m->to = xmpp_stanza_get_to(st);
    m->type = xmpp_stanza_get_type(st);
    m->id = xmpp_stanza_get_id(st);
    for (c = xmpp_stanza_get_children(st); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        const char *ns = xmpp_stanza_get_ns(c);
        enum msg_crypto cr;

        if (!xmpp_stanza_is_tag(c) || name == NULL)
            continue;
        /* A component's stream has its own default namespace. */
        if (strcmp(name, "body") == 0 &&
            (ns == NULL || strcmp(ns, NS_CLIENT) == 0 ||
             strcmp(ns, NS_COMPONENT) == 0)) {
            if (m->body == NULL)
                m->body = keep(out, text_of(c));
        } else if (is(c, "origin-id", NS_SID)) {
            m->origin_id = id_of(c, "id");
        } else if (is(c, "replace", NS_CORRECT)) {
            m->replace_id = id_of(c, "id");
        } else if (is(c, "retract", NS_RETRACT)) {
            m->retract_id = id_of(c, "id");
        } else if (is(c, "apply-to", NS_FASTEN)) {
            xmpp_stanza_t *r = xmpp_stanza_get_child_by_name(c, "retract");
            const char *rns = r != NULL ? xmpp_stanza_get_ns(r) : NULL;

            if (rns != NULL &&
                (!strcmp(rns, NS_RETRACT_0) || !strcmp(rns, NS_RETRACT)))
                m->retract_id = id_of(c, "id");
        } else if (is(c, "reply", NS_REPLY)) {
            m->reply_id = id_of(c, "id");
            m->reply_to = xmpp_stanza_get_attribute(c, "to");
        } else if (is(c, "reactions", NS_REACTIONS)) {
            xmpp_stanza_t *r;

            m->reaction_id = id_of(c, "id");
            for (r = xmpp_stanza_get_children(c); r != NULL;
                 r = xmpp_stanza_get_next(r)) {
                const char *rn = xmpp_stanza_get_name(r);

                if (xmpp_stanza_is_tag(r) && rn != NULL &&
                    strcmp(rn, "reaction") == 0)
                    add_reaction(out, r);
            }
        } else if (is(c, "request", NS_RECEIPTS)) {
            m->receipt_request = true;
        } else if (is(c, "fallback", NS_FALLBACK)) {
            const char *f = xmpp_stanza_get_attribute(c, "for");

            if (f != NULL && strcmp(f, NS_REPLY) == 0) {
                fallback = true;
                /* Ranges are read once the body is known. */
            }
        } else if ((cr = crypto_of(c, &content)) != CRYPTO_NONE) {
            if (crypto == CRYPTO_NONE || crypto == CRYPTO_OTHER)
                crypto = cr;
        }
    }

    /* Encryption: a body next to it is only a fallback; without one,
     * only real content counts (see session.h). */
    if (m->body != NULL) {
        const char *p = m->body;

        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (crypto == CRYPTO_NONE && strncmp(p, "?OTR", 4) == 0)
            crypto = CRYPTO_OTR;
        content = true;
    }
    m->crypto = content ? crypto : CRYPTO_NONE;

    /* The reply's quote: cut off where the ranges can be trusted. */
    if (fallback && m->body != NULL) {
        for (c = xmpp_stanza_get_children(st); c != NULL && ranges_ok;
             c = xmpp_stanza_get_next(c)) {
            const char *f;

            if (!is(c, "fallback", NS_FALLBACK))
                continue;
            f = xmpp_stanza_get_attribute(c, "for");
            if (f != NULL && strcmp(f, NS_REPLY) == 0)
                ranges_ok = reply_ranges(c, m->body, ranges, &n_ranges);
        }
        if (ranges_ok && n_ranges > 0) {
            char *cut = cut_ranges(m->body, ranges, n_ranges);

            if (cut != NULL)
                m->body = keep(out, cut);
        }
    }
}

void stanza_msg_free(struct stanza_msg *sm)
{
    for (size_t i = 0; i < sm->n_own; i++)
        free(sm->own[i]);
    memset(sm, 0, sizeof(*sm));
}

/* XEP-0115 -------------------------------------------------------------- */

static int by_octets(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void stanza_caps_ver(xmpp_ctx_t *ctx, const char *identity,
                     const char *const *features, size_t n, char *out)
{
    const char **sorted = xcalloc(n > 0 ? n : 1, sizeof(*sorted));
    unsigned char digest[XMPP_SHA1_DIGEST_SIZE];
    struct buf s = {0};
    char *b64;

    /* S = identity "<" then each feature "<", sorted by octets. */
    memcpy(sorted, features, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), by_octets);
    buf_printf(&s, "%s<", identity);
    for (size_t i = 0; i < n; i++)
        buf_printf(&s, "%s<", sorted[i]);
    xmpp_sha1_digest((const unsigned char *)buf_str(&s), s.len, digest);
    b64 = xmpp_base64_encode(ctx, digest, sizeof(digest));
    snprintf(out, STANZA_CAPS_VER_SIZE, "%s", b64 != NULL ? b64 : "");
    if (b64 != NULL)
        xmpp_free(ctx, b64);
    buf_free(&s);
    free(sorted);
}

/* Outgoing messages ----------------------------------------------------- */

const char *stanza_text_checked(const char *text, const char *element,
                                const char *to, char **fixed)
{
    size_t len = strlen(text);

    *fixed = NULL;
    if (text_xml_valid(text, len))
        return text;
    *fixed = xmalloc(TEXT_XML_REPAIR_SIZE(len));
    text_xml_repair(text, len, *fixed);
    log_warnx("text of <%s>%s%s was not valid UTF-8 or XML; sent repaired",
              element, to != NULL ? " to " : "", to != NULL ? to : "");
    return *fixed;
}

/* Append text to b with the characters XML gives a meaning escaped (and,
 * for an attribute value in double quotes, the quotes too). */
static void put_escaped(struct buf *b, const char *text, bool attr)
{
    const char *special = attr ? "&<>\"'" : "&<>";

    for (;;) {
        size_t n = strcspn(text, special);

        buf_appendn(b, text, n);
        text += n;
        switch (*text) {
        case '\0':
            return;
        case '&':
            buf_appendn(b, "&amp;", 5);
            break;
        case '<':
            buf_appendn(b, "&lt;", 4);
            break;
        case '>':
            buf_appendn(b, "&gt;", 4);
            break;
        case '"':
            buf_appendn(b, "&quot;", 6);
            break;
        default:
            buf_appendn(b, "&apos;", 6);
            break;
        }
        text++;
    }
}

/* How many bytes text starts with that go into XML as they are, in an
 * attribute value as in character data: printable ASCII but for the five
 * XML gives a meaning.  A byte a lookup: addresses and ids are most of
 * what a fan-out writes for each recipient. */
static size_t plain_span(const char *text)
{
    static const bool plain[256] = {
        [0x20 ... 0x21] = true, /* '"' */
        [0x23 ... 0x25] = true, /* '&', '\'' */
        [0x28 ... 0x3b] = true, /* '<' */
        [0x3d] = true,          /* '>' */
        [0x3f ... 0x7e] = true, /* 0x7f (DEL) is not printable */
    };
    const unsigned char *p = (const unsigned char *)text;
    size_t n = 0;

    while (plain[p[n]])
        n++;
    return n;
}

/* Append text (checked, then escaped); element and to name it in the
 * warning should it need repair.  Text with nothing to check or escape,
 * as addresses and ids are, is appended as it is. */
static void put_text(struct buf *b, const char *text, bool attr,
                     const char *element, const char *to)
{
    size_t n = plain_span(text);
    char *fixed;

    if (text[n] == '\0') {
        buf_appendn(b, text, n);
        return;
    }
    put_escaped(b, stanza_text_checked(text, element, to, &fixed), attr);
    free(fixed);
}

/* The last body written, checked and escaped: a fan-out writes the same
 * text for every recipient.  Bodies longer than BODY_MEMO are written
 * afresh each time. */
#define BODY_MEMO 4096
static struct {
    size_t len, xml_len;
    char text[BODY_MEMO];
    char xml[BODY_MEMO * 6]; /* each byte escaped at most to "&amp;"+1 */
} memo;

/* Append a message body, as put_text() does. */
static void put_body(struct buf *b, const char *text, const char *to)
{
    size_t len = strlen(text), start = b->len, xml_len;

    if (len == memo.len && len > 0 && memcmp(text, memo.text, len) == 0) {
        buf_appendn(b, memo.xml, memo.xml_len);
        return;
    }
    put_text(b, text, false, "body", to);
    xml_len = b->len - start;
    memo.len = 0;
    if (len < BODY_MEMO && xml_len <= sizeof(memo.xml)) {
        memcpy(memo.text, text, len);
        memcpy(memo.xml, b->s + start, xml_len);
        memo.len = len;
        memo.xml_len = xml_len;
    }
}

/* Append a string literal: its length is known where it is written. */
#define PUT_LIT(b, lit) buf_appendn((b), (lit), sizeof(lit) - 1)

/* Append ' name="value"' (lead: ' name="', nlead bytes). */
static void put_attr(struct buf *b, const char *lead, size_t nlead,
                     const char *value, const char *element, const char *to)
{
    buf_appendn(b, lead, nlead);
    put_text(b, value, true, element, to);
    PUT_LIT(b, "\"");
}
#define PUT_ATTR(b, name, value, element, to)                                  \
    put_attr((b), " " name "=\"", sizeof(" " name "=\"") - 1, (value),         \
             (element), (to))

/* Append '<name xmlns="ns" id="id"/>' or, with inner,
 * '...>inner</name>' (open: '<name xmlns="ns"', close: '</name>').
 * Appended piece by piece: a printf costs more than a whole message. */
static void put_ref(struct buf *b, const char *open, size_t nopen,
                    const char *close, const char *name, const char *id,
                    const char *inner, const char *to)
{
    buf_appendn(b, open, nopen);
    if (id != NULL)
        PUT_ATTR(b, "id", id, name, to);
    if (inner == NULL) {
        PUT_LIT(b, "/>");
        return;
    }
    PUT_LIT(b, ">");
    buf_append(b, inner);
    buf_append(b, close);
}
#define PUT_REF(b, name, ns, id, inner, to)                                    \
    put_ref((b), "<" name " xmlns=\"" ns "\"",                                 \
            sizeof("<" name " xmlns=\"" ns "\"") - 1, "</" name ">", name,     \
            (id), (inner), (to))

void stanza_message_xml(struct buf *b, const struct outmsg *o, const char *id,
                        bool origin, const char *from, const char *delay_from)
{
    const char *to = o->to;
    size_t id_at, id_len;

    buf_reset(b);
    PUT_LIT(b, "<message type=\"chat\"");
    PUT_ATTR(b, "to", to, "message", to);
    PUT_LIT(b, " id=\"");
    id_at = b->len;
    put_text(b, id, true, "message", to);
    id_len = b->len - id_at;
    PUT_LIT(b, "\"");
    if (from != NULL)
        PUT_ATTR(b, "from", from, "message", to);
    PUT_LIT(b, "><body>");
    put_body(b, o->body, to);
    PUT_LIT(b, "</body>");
    if (origin) { /* XEP-0359: a stable id clients can point at */
        /* The id as written above, copied: checked and escaped once. */
        PUT_LIT(b, "<origin-id xmlns=\"" NS_SID "\" id=\"");
        buf_reserve(b, id_len);
        memcpy(b->s + b->len, b->s + id_at, id_len);
        b->len += id_len;
        PUT_LIT(b, "\"/>");
    }
    if (o->stamp != 0) {
        char ts[32];
        struct tm tm;

        gmtime_r(&o->stamp, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        PUT_LIT(b, "<delay xmlns=\"" NS_DELAY "\" stamp=\"");
        buf_append(b, ts);
        PUT_LIT(b, "\"");
        if (delay_from != NULL) /* who held it */
            PUT_ATTR(b, "from", delay_from, "delay", to);
        PUT_LIT(b, "/>");
    }
    if (o->oob_url != NULL) { /* XEP-0066: clients show the file */
        PUT_LIT(b, "<x xmlns=\"" NS_OOB "\"><url>");
        put_text(b, o->oob_url, false, "url", to);
        PUT_LIT(b, "</url></x>");
    }
    if (o->replace_id != NULL)
        PUT_REF(b, "replace", NS_CORRECT, o->replace_id, NULL, to);
    if (o->retract_id != NULL) {
        /* XEP-0424 as clients speak it today, and the older fasten form;
         * the body is a fallback for clients with neither. */
        PUT_REF(b, "retract", NS_RETRACT, o->retract_id, NULL, to);
        PUT_REF(b, "apply-to", NS_FASTEN, o->retract_id,
                "<retract xmlns=\"" NS_RETRACT_0 "\"/>", to);
        PUT_LIT(b, "<fallback xmlns=\"" NS_FALLBACK "\" for=\"" NS_RETRACT
                   "\"/><store xmlns=\"" NS_HINTS "\"/>");
    }
    PUT_LIT(b, "</message>");
}
