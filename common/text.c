/*
 * text.c - pure text rules: strict UTF-8, post validation, JIDs, nicks.
 *
 * Everything here is a pure function of its input so that it can be unit
 * tested exhaustively and fuzzed: no I/O, no global state.
 */
#include <string.h>

#include "text.h"

/* Decode one code point at s (len bytes left).  Returns its length, or 0
 * for an invalid or truncated sequence. */
static size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
    unsigned c = s[0], min;
    size_t n;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        *cp = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        *cp = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        *cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return n;
}

bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned cp;

    while (len > 0) {
        size_t n = utf8_decode(p, len, &cp);

        if (n == 0)
            return false;
        p += n;
        len -= n;
    }
    return true;
}

size_t utf8_count(const char *s, size_t len)
{
    size_t count = 0;

    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            count++;
    return count;
}

size_t utf8_cut(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0;
    unsigned cp;

    if (len <= max)
        return len;
    while (i < max) {
        size_t n = utf8_decode(p + i, len - i, &cp);

        if (n == 0)
            n = 1;
        if (i + n > max)
            break;
        i += n;
    }
    return i;
}

size_t utf8_copy(char *dst, size_t size, const char *src)
{
    size_t n = utf8_cut(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

/* A code point XML 1.0 allows (surrogates never decode, see above). */
static bool xml_char(unsigned cp)
{
    if (cp < 0x20)
        return cp == '\t' || cp == '\n' || cp == '\r';
    return cp != 0xfffe && cp != 0xffff;
}

bool text_xml_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    unsigned cp;

    while (i < len) {
        size_t n;

        /* Printable ASCII, most of any text, needs no decoding. */
        if (p[i] >= 0x20 && p[i] < 0x7f) {
            i++;
            continue;
        }
        n = utf8_decode(p + i, len - i, &cp);
        if (n == 0 || !xml_char(cp))
            return false;
        i += n;
    }
    return true;
}

/*
 * At an invalid sequence: how many bytes form its maximal subpart, the
 * longest start of a well-formed sequence (at least the one byte).  The
 * second byte's range depends on the first (no overlongs, surrogates or
 * code points beyond U+10FFFF).
 */
static size_t invalid_span(const unsigned char *s, size_t len)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    size_t n, k = 1;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 1;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (k < len && k < n && s[k] >= lo && s[k] <= hi)
        k++;
    else
        return k;
    while (k < len && k < n && (s[k] & 0xc0) == 0x80)
        k++;
    return k;
}

size_t text_xml_repair(const char *s, size_t len, char *out)
{
    static const char fffd[] = "\xef\xbf\xbd";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    unsigned cp;

    while (i < len) {
        size_t n = utf8_decode(p + i, len - i, &cp);

        if (n > 0 && xml_char(cp)) {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
            continue;
        }
        memcpy(out + o, fffd, 3);
        o += 3;
        i += n > 0 ? n : invalid_span(p + i, len - i);
    }
    out[o] = '\0';
    return o;
}

static bool is_space_cp(unsigned cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000 ||
           cp == 0xfeff;
}

char *text_trim(char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), start = 0, end = 0, i = 0;
    unsigned cp;
    bool leading = true;

    /* One pass: start = after the leading spaces, end = after the last
     * non-space.  Invalid bytes count as non-space and stay. */
    while (i < len) {
        size_t n = utf8_decode(p + i, len - i, &cp);
        bool space = n > 0 && is_space_cp(cp);

        if (n == 0)
            n = 1;
        if (leading && space) {
            start = i + n;
        } else {
            leading = false;
            if (!space)
                end = i + n;
        }
        i += n;
    }
    if (end < start)
        end = start;
    memmove(s, s + start, end - start);
    s[end - start] = '\0';
    return s;
}

enum post_check text_check_post(const char *s, size_t max_chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0, count = 0;
    unsigned cp;

    if (!utf8_valid(s, len))
        return POST_BAD_UTF8;
    if (len == 0)
        return POST_EMPTY;
    while (i < len) {
        i += utf8_decode(p + i, len - i, &cp);
        if ((cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7f ||
            (cp >= 0x80 && cp <= 0x9f))
            return POST_CONTROL;
        count++;
    }
    if (count > max_chars)
        return POST_TOO_LONG;
    return POST_OK;
}

const char *text_post_check_reason(enum post_check c)
{
    switch (c) {
    case POST_OK:
        return "OK.";
    case POST_EMPTY:
        return "Your post is empty.";
    case POST_TOO_LONG:
        return "Your post is too long.";
    case POST_BAD_UTF8:
        return "Your post is not valid UTF-8.";
    case POST_CONTROL:
        return "Your post contains control characters.";
    }
    return "Your post was refused.";
}

static bool bad_jid_byte(unsigned char c, bool local)
{
    if (c <= 0x20 || c == 0x7f)
        return true;
    if (local && strchr("\"&'/:<>@", c) != NULL)
        return true;
    return c == '<' || c == '>' || c == '"' || c == '\'' || c == '&';
}

int jid_bare(const char *jid, char *out, size_t outlen)
{
    const char *slash, *at, *domain;
    size_t len, i;

    if (jid == NULL)
        return -1;
    slash = strchr(jid, '/');
    len = slash != NULL ? (size_t)(slash - jid) : strlen(jid);
    if (len == 0 || len > JID_MAX || len + 1 > outlen)
        return -1;
    if (!utf8_valid(jid, len))
        return -1;
    at = memchr(jid, '@', len);
    domain = at != NULL ? at + 1 : jid;
    if (at != NULL && at == jid)
        return -1; /* empty local part */
    if ((size_t)(domain - jid) >= len)
        return -1; /* empty domain */
    if (memchr(domain, '@', len - (size_t)(domain - jid)) != NULL)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)jid[i];
        bool local = at != NULL && jid + i < at;

        if (jid + i == at)
            c = '@';
        else if (bad_jid_byte(c, local) || (!local && c == '@'))
            return -1;
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
    }
    out[len] = '\0';
    if (out[len - 1] == '.' && len >= 2 && out[len - 2] != '@')
        out[--len] = '\0'; /* "example.org." is "example.org" */
    return 0;
}

const char *jid_resource(const char *jid)
{
    const char *slash = strchr(jid, '/');

    return slash != NULL ? slash + 1 : NULL;
}

/*
 * Transliteration for nicks (SPEC 3): Latin letters with diacritics lose
 * them (é -> e, ø -> o, ł -> l, ß -> ss, æ -> ae), Greek and Cyrillic
 * are written in Latin letters (ELOT 743 and a BGN/PCGN-like scheme,
 * both simplified: ω -> o, ё -> e, ъ and ь dropped), combining marks
 * are dropped; anything else that is not [a-z0-9_] is dropped.
 *
 * Upper-case Greek and Cyrillic are folded to lower case first; Latin
 * tables cover both cases.
 */
static const struct {
    unsigned cp;
    const char *ascii;
} translit_multi[] = {
    /* sorted by cp */
    {0x00c6, "ae"}, {0x00de, "th"},   {0x00df, "ss"}, {0x00e6, "ae"},
    {0x00fe, "th"}, {0x0132, "ij"},   {0x0133, "ij"}, {0x0152, "oe"},
    {0x0153, "oe"}, {0x03b8, "th"},   {0x03c7, "ch"}, {0x03c8, "ps"},
    {0x0436, "zh"}, {0x0445, "kh"},   {0x0446, "ts"}, {0x0447, "ch"},
    {0x0448, "sh"}, {0x0449, "shch"}, {0x044e, "yu"}, {0x044f, "ya"},
    {0x0452, "dj"}, {0x0454, "ye"},   {0x0455, "dz"}, {0x0457, "yi"},
    {0x0459, "lj"}, {0x045a, "nj"},   {0x045f, "dz"},
};

/* One letter per code point from first ('.': dropped); a map of one
 * letter covers the whole range.  translit_multi is looked at first. */
static const struct {
    unsigned first, last;
    const char *map;
} translit_ranges[] = {
    /* À-ß, à-ÿ */
    {0x00c0, 0x00ff,
     "aaaaaaaceeeeiiiidnooooo.ouuuuy.s"
     "aaaaaaaceeeeiiiidnooooo.ouuuuy.y"},
    /* Ā-ğ, Ġ-Ŀ, ŀ-ş, Š-ſ */
    {0x0100, 0x017f,
     "aaaaaaccccccccddddeeeeeeeeeegggg"
     "gggghhhhiiiiiiiiii..jjkkklllllll"
     "lllnnnnnnnnnoooooo..rrrrrrssssss"
     "ssttttttuuuuuuuuuuuuwwyyyzzzzzzs"},
    {0x01a0, 0x01a1, "o"},                         /* Vietnamese ơ */
    {0x01af, 0x01b0, "u"},                         /* Vietnamese ư */
    {0x0218, 0x021b, "sstt"},                      /* Romanian ș ț */
    {0x0300, 0x036f, "."},                         /* combining marks */
    {0x0386, 0x0390, "a.eii.o.yoi"},               /* Greek with tonos */
    {0x03aa, 0x03b0, "iyaeiiy"},                   /* Ϊ-ΰ */
    {0x03b1, 0x03c9, "avgdezi.iklmnxoprsstyf..o"}, /* α-ω */
    {0x03ca, 0x03ce, "iyoyo"},                     /* ϊ-ώ */
    {0x0430, 0x045f,
     "abvgde.ziyklmnoprstuf......y.e.." /* а-я */
     "ee.g..i.j..ckiu."},               /* ѐ-џ */
    {0x0490, 0x0491, "g"},              /* Ukrainian ґ */
    {0x1ea0, 0x1eb7, "a"},              /* Vietnamese vowels with tone marks */
    {0x1eb8, 0x1ec7, "e"},
    {0x1ec8, 0x1ecb, "i"},
    {0x1ecc, 0x1ee3, "o"},
    {0x1ee4, 0x1ef1, "u"},
    {0x1ef2, 0x1ef9, "y"},
};

/* The ASCII for code point cp: *ascii and its length (0: none). */
static size_t translit(unsigned cp, const char **ascii)
{
    if ((cp >= 0x0391 && cp <= 0x03a9) || (cp >= 0x0410 && cp <= 0x042f))
        cp += 0x20;
    else if (cp >= 0x0400 && cp <= 0x040f)
        cp += 0x50;
    for (size_t i = 0; i < sizeof(translit_multi) / sizeof(translit_multi[0]);
         i++) {
        if (translit_multi[i].cp == cp) {
            *ascii = translit_multi[i].ascii;
            return strlen(*ascii);
        }
    }
    for (size_t i = 0; i < sizeof(translit_ranges) / sizeof(translit_ranges[0]);
         i++) {
        const char *map = translit_ranges[i].map;

        if (cp < translit_ranges[i].first || cp > translit_ranges[i].last)
            continue;
        *ascii = map[1] == '\0' ? map : map + (cp - translit_ranges[i].first);
        return **ascii == '.' ? 0 : 1;
    }
    return 0;
}

void nick_from_jid(const char *bare, char *out)
{
    const unsigned char *p = (const unsigned char *)bare;
    const char *at = strchr(bare, '@');
    size_t len = at != NULL ? (size_t)(at - bare) : strlen(bare), n = 0;

    while (len > 0 && n < NICK_MAX) {
        unsigned cp;
        size_t used = utf8_decode(p, len, &cp), k;
        const char *ascii;

        if (used == 0) {
            used = 1; /* not UTF-8: skip the byte */
            cp = '.';
        }
        p += used;
        len -= used;
        if (cp >= 'A' && cp <= 'Z')
            cp += 'a' - 'A';
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || cp == '_') {
            out[n++] = (char)cp;
            continue;
        }
        for (k = translit(cp, &ascii); k > 0 && n < NICK_MAX; k--)
            out[n++] = *ascii++;
    }
    out[n] = '\0';
    if (n == 0)
        strcpy(out, "user");
}

/* Nicks nobody may take or be given (SPEC 3): names that would read as
 * the service or its operators speaking.  Listed in the README. */
static const char *const reserved_nicks[] = {
    "abuse",     "admin",        "administrator",
    "all",       "announcement", "announcements",
    "broadcast", "everyone",     "help",
    "moderator", "noreply",      "postmaster",
    "root",      "staff",        "starling",
    "support",   "system",       NULL,
};

bool nick_reserved(const char *nick, const char *self_bare)
{
    char self[NICK_MAX + 1];

    for (size_t i = 0; reserved_nicks[i] != NULL; i++)
        if (strcmp(nick, reserved_nicks[i]) == 0)
            return true;
    if (self_bare == NULL)
        return false;
    nick_from_jid(self_bare, self);
    return strcmp(nick, self) == 0;
}

bool nick_valid(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        char c = s[n];

        if (n >= NICK_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return n > 0;
}

int nick_parse(const char *arg, char *out)
{
    size_t n = 0;

    if (*arg == '@')
        arg++;
    for (; arg[n] != '\0'; n++) {
        char c = arg[n];

        if (n >= NICK_MAX)
            return -1;
        out[n] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return nick_valid(out) ? 0 : -1;
}
