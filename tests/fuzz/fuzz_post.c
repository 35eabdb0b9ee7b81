/*
 * fuzz_post.c - libFuzzer target for post validation and the PCRE2
 * extractors (mentions, tags, track words): no input may crash them or
 * make them report more than asked for, and what they report about a
 * valid post must be valid itself.
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
