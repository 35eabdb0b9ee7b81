/*
 * match.h - the only user of <pcre2.h>: mentions, tags, track words and
 * the subscription allow-list.
 *
 * Patterns are compiled once (match_init / match_allow_new) with match and
 * depth limits so that no input or pattern can hang the bot.
 */
#ifndef STARLING_MATCH_H
#define STARLING_MATCH_H

#include <stdbool.h>
#include <stddef.h>

/* Compile the built-in patterns; 0 or -1.  match_done() frees them. */
int match_init(void);
void match_done(void);

/* Called once per found item with a NUL-terminated, lower-cased copy
 * (valid during the call only).  Return non-zero to stop. */
typedef int (*match_cb)(void *ud, const char *item);

/* @nick mentions, nick part only (no '@'), each distinct nick once,
 * at most max of them; returns how many were reported. */
size_t match_mentions(const char *text, size_t max, match_cb cb, void *ud);
/* #word tags (without '#'); "#12" is a post reference, not a tag. */
size_t match_tags(const char *text, size_t max, match_cb cb, void *ud);
/* Lower-cased words of the text (Unicode letters/digits/_), each once,
 * for `track`; at most max. */
size_t match_words(const char *text, size_t max, match_cb cb, void *ud);

/* Does the pattern compile?  0, or -1 with a message in err. */
int match_pattern_check(const char *pattern, char *err, size_t errlen);

struct allowlist;
/* Compile patterns (PCRE2, UTF, anchored by the author if wanted);
 * NULL with err filled on a bad pattern. */
struct allowlist *match_allow_new(const char *const *patterns, size_t n,
                                  char *err, size_t errlen);
/* true if any pattern matches the bare JID (a limit hit is no match). */
bool match_allow(const struct allowlist *a, const char *bare_jid);
void match_allow_free(struct allowlist *a);

#endif
