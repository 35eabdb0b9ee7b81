/*
 * match.c - the only user of <pcre2.h>: @mentions, #tags, the words a
 * post can be tracked by, and the subscription allow-list.
 *
 * Every pattern is compiled once.  Matching runs with match and depth
 * limits, so neither a hostile post nor an operator's pattern can hang
 * the bot; hitting a limit counts as "no match".  Lower-casing is
 * Unicode-aware through the C.UTF-8 locale when it exists.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <locale.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "../common/log.h"
#include "match.h"
#include "../common/text.h"
#include "../common/util.h"

#define MATCH_LIMIT 100000
#define DEPTH_LIMIT 1000

static pcre2_code *re_mention, *re_tag, *re_word;
static pcre2_match_context *mctx;
static locale_t utf8_locale;

static pcre2_code *compile(const char *pattern, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re;

    re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                       PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
    if (re == NULL && err != NULL) {
        PCRE2_UCHAR msg[256];

        pcre2_get_error_message(code, msg, sizeof(msg));
        snprintf(err, errlen,
                 "pattern \"%s\" does not compile: %s at "
                 "offset %zu",
                 pattern, (const char *)msg, (size_t)offset);
    }
    return re;
}

int match_init(void)
{
    char err[256];

    if (mctx != NULL)
        return 0;
    mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(mctx, DEPTH_LIMIT);
    /* A mention: @nick not glued to a word, an address or another @. */
    re_mention = compile("(?<![\\w@.])@([A-Za-z0-9_]{1,32})(?![\\w@])", err,
                         sizeof(err));
    /* A tag: #word with at least one non-digit; "#12" is a post. */
    re_tag = compile("(?<![\\w&#])#(\\w*[^\\W\\d]\\w*)", err, sizeof(err));
    re_word = compile("\\w+", err, sizeof(err));
    if (re_mention == NULL || re_tag == NULL || re_word == NULL) {
        log_error("built-in pattern: %s", err);
        match_done();
        return -1;
    }
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    return 0;
}

void match_done(void)
{
    pcre2_code_free(re_mention);
    pcre2_code_free(re_tag);
    pcre2_code_free(re_word);
    pcre2_match_context_free(mctx);
    re_mention = re_tag = re_word = NULL;
    mctx = NULL;
    if (utf8_locale != (locale_t)0)
        freelocale(utf8_locale);
    utf8_locale = (locale_t)0;
}

/* Lower-case s[0..len) into a new string (Unicode-aware if possible). */
static char *lower(const char *s, size_t len)
{
    char *out = xmalloc(len * 2 + 1), *o = out;
    mbstate_t in_st, out_st;
    size_t i = 0;

    if (utf8_locale == (locale_t)0) {
        for (i = 0; i < len; i++)
            out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
        out[len] = '\0';
        return out;
    }
    memset(&in_st, 0, sizeof(in_st));
    memset(&out_st, 0, sizeof(out_st));
    {
        locale_t old = uselocale(utf8_locale);

        while (i < len) {
            wchar_t wc;
            size_t n, m;

            /* ASCII (most words) needs no conversion. */
            if ((unsigned char)s[i] < 0x80) {
                *o++ = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
                i++;
                continue;
            }
            n = mbrtowc(&wc, s + i, len - i, &in_st);

            if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
                *o++ = s[i++];
                memset(&in_st, 0, sizeof(in_st));
                continue;
            }
            m = wcrtomb(o, (wchar_t)towlower((wint_t)wc), &out_st);
            if (m == (size_t)-1 || m > n * 2) {
                memcpy(o, s + i, n);
                m = n;
            }
            o += m;
            i += n;
        }
        uselocale(old);
    }
    *o = '\0';
    return out;
}

/* Run re over text, calling cb with capture group `group` lower-cased,
 * each distinct value once, at most max. */
static size_t scan(const pcre2_code *re, int group, const char *text,
                   size_t max, match_cb cb, void *ud)
{
    size_t len = strlen(text), off = 0, found = 0, nseen = 0;
    char **seen = NULL;
    pcre2_match_data *md;

    if (re == NULL || max == 0 || !utf8_valid(text, len))
        return 0;
    md = pcre2_match_data_create_from_pattern(re, NULL);
    seen = xcalloc(max, sizeof(*seen));
    while (off <= len && found < max) {
        PCRE2_SIZE *ov;
        int rc = pcre2_match(re, (PCRE2_SPTR)text, len, off, PCRE2_NO_UTF_CHECK,
                             md, mctx);
        char *item;
        bool dup = false;

        if (rc < 0)
            break;
        ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) {
            off = ov[1] + 1;
            continue;
        }
        off = ov[1];
        item = lower(text + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
        for (size_t i = 0; i < nseen && !dup; i++)
            dup = strcmp(seen[i], item) == 0;
        if (dup) {
            free(item);
            continue;
        }
        seen[nseen++] = item;
        found++;
        if (cb != NULL && cb(ud, item) != 0)
            break;
    }
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    pcre2_match_data_free(md);
    return found;
}

size_t match_mentions(const char *text, size_t max, match_cb cb, void *ud)
{
    return scan(re_mention, 1, text, max, cb, ud);
}

size_t match_tags(const char *text, size_t max, match_cb cb, void *ud)
{
    return scan(re_tag, 1, text, max, cb, ud);
}

size_t match_words(const char *text, size_t max, match_cb cb, void *ud)
{
    return scan(re_word, 0, text, max, cb, ud);
}

int match_pattern_check(const char *pattern, char *err, size_t errlen)
{
    pcre2_code *re = compile(pattern, err, errlen);

    if (re == NULL)
        return -1;
    pcre2_code_free(re);
    return 0;
}

struct allowlist {
    pcre2_code **re;
    size_t n;
    pcre2_match_context *mctx;
};

struct allowlist *match_allow_new(const char *const *patterns, size_t n,
                                  char *err, size_t errlen)
{
    struct allowlist *a = xcalloc(1, sizeof(*a));

    a->re = xcalloc(n, sizeof(*a->re));
    a->mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(a->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(a->mctx, DEPTH_LIMIT);
    for (; a->n < n; a->n++) {
        a->re[a->n] = compile(patterns[a->n], err, errlen);
        if (a->re[a->n] == NULL) {
            match_allow_free(a);
            return NULL;
        }
    }
    return a;
}

bool match_allow(const struct allowlist *a, const char *bare_jid)
{
    size_t len = strlen(bare_jid);

    if (a == NULL || !utf8_valid(bare_jid, len))
        return false;
    for (size_t i = 0; i < a->n; i++) {
        pcre2_match_data *md =
            pcre2_match_data_create_from_pattern(a->re[i], NULL);
        int rc = pcre2_match(a->re[i], (PCRE2_SPTR)bare_jid, len, 0,
                             PCRE2_NO_UTF_CHECK, md, a->mctx);

        pcre2_match_data_free(md);
        if (rc >= 0)
            return true;
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT)
            log_warnx("allow pattern %zu hit its match limit on %s", i + 1,
                      bare_jid);
    }
    return false;
}

void match_allow_free(struct allowlist *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++)
        pcre2_code_free(a->re[i]);
    free(a->re);
    pcre2_match_context_free(a->mctx);
    free(a);
}
