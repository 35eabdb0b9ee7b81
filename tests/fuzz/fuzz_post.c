/*
 * fuzz_post.c - libFuzzer target for post validation and the PCRE2
 * extractors (mentions, tags, track words): no input may crash them or
 * make them report more than asked for, and what they report about a
 * valid post must be valid itself.  Any input repaired for a stanza is
 * text XML can carry, and a cut never splits a character of valid text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "text.h"

static int count_cb(void *ud, const char *item)
{
    size_t *n = ud;

    if (item == NULL || item[0] == '\0')
        abort();
    (*n)++;
    return 0;
}

static int mention_cb(void *ud, const char *item)
{
    if (!nick_valid(item))
        abort();
    return count_cb(ud, item);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char *s = malloc(size + 1);
    size_t n;

    if (!ready) {
        if (match_init() < 0)
            abort();
        ready = 1;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    {
        size_t len = strlen(s), cut = utf8_cut(s, size / 2);
        char *fixed = malloc(TEXT_XML_REPAIR_SIZE(len));
        size_t m = text_xml_repair(s, len, fixed);

        if (!text_xml_valid(fixed, m) ||
            (text_xml_valid(s, len) && (m != len || memcmp(s, fixed, m))))
            abort();
        if (cut > size / 2 || (utf8_valid(s, len) && !utf8_valid(s, cut)))
            abort();
        free(fixed);
    }
    text_trim(s);
    if (text_check_post(s, 500) == POST_OK) {
        if (!utf8_valid(s, strlen(s)) || utf8_count(s, strlen(s)) > 500)
            abort();
        n = 0;
        if (match_mentions(s, 50, mention_cb, &n) > 50 || n > 50)
            abort();
        n = 0;
        if (match_tags(s, 50, count_cb, &n) > 50 || n > 50)
            abort();
        n = 0;
        if (match_words(s, 200, count_cb, &n) > 200 || n > 200)
            abort();
    }
    free(s);
    return 0;
}
