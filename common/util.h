/*
 * util.h - allocation that never fails, and a growable string buffer.
 *
 * Allocation failure at runtime is treated like tmux and OpenSMTPD do:
 * there is nothing sensible left to do, so x*() call fatal().  Everything
 * else in the bot may assume these return valid memory.
 */
#ifndef STARLING_UTIL_H
#define STARLING_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write n in decimal at out (room for 20 bytes), without a NUL; returns
 * the end.  By hand: on hot paths snprintf() cost more than the rest. */
char *put_int64(char *out, int64_t n);

/* A growable, always NUL-terminated string.  Zero-initialise, append, then
 * either take ownership of .s or call buf_free(). */
struct buf {
    char *s;
    size_t len;
    size_t cap;
};

/* Room for n more bytes and the NUL (the slow path of buf_appendn()). */
void buf_reserve(struct buf *b, size_t n);

/* Inline: a message is written in a dozen appends, most of them of
 * constants whose length the compiler then knows. */
static inline void buf_appendn(struct buf *b, const char *s, size_t n)
{
    if (b->len + n >= b->cap)
        buf_reserve(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static inline void buf_append(struct buf *b, const char *s)
{
    buf_appendn(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b); /* length 0, keeps memory */
void buf_free(struct buf *b);
/* Contents as a string ("" when nothing was ever appended). */
const char *buf_str(const struct buf *b);

#endif
