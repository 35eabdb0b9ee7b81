/*
 * pager.h - where each user's last listing stopped, so that "more" can
 * continue it.
 *
 * Memory only, and bounded: at most a fixed number of users are
 * remembered; the one whose listing was used least recently is forgotten
 * first (their "more" then says there is nothing to continue).  A
 * listing is continued by key (the last post number or follow shown),
 * never by offset.
 */
#ifndef STARLING_PAGER_H
#define STARLING_PAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PAGER_TEXT_MAX 255 /* longest search or tag a listing keeps */

enum page_kind {
    PAGE_NONE = 0,
    PAGE_TIMELINE,  /* last */
    PAGE_AUTHOR,    /* last NICK: arg = author */
    PAGE_TAG,       /* last #tag, #tag: text = tag */
    PAGE_REPLIES,   /* show #N: arg = N, key = last reply shown */
    PAGE_THREAD,    /* show #N of a thread's first post: the same */
    PAGE_SEARCH,    /* search WORDS: text = words */
    PAGE_MENTIONS,  /* mentions */
    PAGE_FAVS,      /* favs */
    PAGE_DMS,       /* dms */
    PAGE_FOLLOWERS, /* followers: key = user, since = follow time */
    PAGE_FOLLOWING, /* following */
};

struct page_state {
    enum page_kind kind;
    int size;     /* rows a page */
    int64_t arg;  /* the author or post listed */
    int64_t key;  /* the last row shown: post number or user */
    time_t since; /* follows: when the last follow shown began */
    char text[PAGER_TEXT_MAX + 1];
};

struct pager;

struct pager *pager_new(size_t max_users);
void pager_free(struct pager *p);
/* Remember where user's listing stopped (replacing what was there). */
void pager_put(struct pager *p, int64_t user, const struct page_state *s);
/* true and *out if user has a listing to continue.  A NULL pager
 * remembers nothing. */
bool pager_get(struct pager *p, int64_t user, struct page_state *out);
/* user's listing ended: nothing to continue. */
void pager_drop(struct pager *p, int64_t user);

#endif
