/*
 * cmd_list.c - the listings: last (timeline, NICK, #tag), show, search,
 * mentions, favs, dms, followers, following, and "more", which continues
 * whichever of them the user ran last.
 *
 * Every line says when ("now", "3m", "5h", "2d", then the date in the
 * user's time zone; see zone_when).  A page is at most its row count
 * (10 posts unless "last N" asks for up to 50, 20 nicks) and stops early
 * rather than grow a reply past PAGE_BYTES, so that it fits one chat
 * message.  Each page asks the store for one row more than it shows: when
 * that row exists, the listing's kind, argument and the key of the last
 * row shown go to the pager and the reply ends with the "more" hint.
 * Pages continue by key (keyset paging), never by offset, so a page costs
 * the same however far the reader went.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "match.h"
#include "zone.h"

#define PAGE_POSTS 10   /* posts a page unless "last N" says otherwise */
#define PAGE_USERS 20   /* nicks a page of followers / following */
#define PAGE_BYTES 3000 /* a page stops before its reply grows past this */
#define MORE_HINT  "Send \"more\" for more."

struct page {
    struct cmd_ctx *c;
    struct page_state st; /* kind, argument, where it stopped */
    const char *query;    /* search words or tag */
    struct prefs prefs;   /* the reader's time zone */
    time_t now;
    char ago[16]; /* the last line's age */
    int shown;
    bool more; /* a row exists beyond what was shown */
};

/* Add the line (and free it) unless the page is full; the row's key
 * (and follow time) become where the listing stopped.  Non-zero stops
 * the store. */
static int page_line(struct page *pg, struct buf *line, int64_t key,
                     time_t since)
{
    struct buf *r = pg->c->reply;
    int stop = pg->shown >= pg->st.size ||
               (pg->shown > 0 && r->len + 1 + line->len > PAGE_BYTES);

    if (stop)
        pg->more = true;
    else {
        if (r->len > 0)
            buf_append(r, "\n");
        buf_append(r, buf_str(line));
        pg->shown++;
        pg->st.key = key;
        pg->st.since = since;
    }
    buf_free(line);
    return stop;
}

/* "3m" for t. */
static const char *ago(struct page *pg, time_t t)
{
    zone_when(pg->prefs.tz, t, pg->now, pg->ago, sizeof(pg->ago));
    return pg->ago;
}

static int page_post(void *ud, const struct post *p)
{
    struct page *pg = ud;
    struct buf line = {0};

    cmd_format_post(&line, p, ago(pg, p->created));
    return page_line(pg, &line, p->id, 0);
}

/* "#12 to bob · 3m: text", "#13 from bob · 2h: text" */
static int page_dm(void *ud, const struct post *p, const char *peer)
{
    struct page *pg = ud;
    struct buf line = {0};

    buf_printf(&line, "#%lld %s %s \xc2\xb7 %s: %s", (long long)p->id,
               p->author == pg->c->user->id ? "to" : "from", peer,
               ago(pg, p->created), p->body);
    return page_line(pg, &line, p->id, 0);
}

/* "bob · 3d", "(digest)" after a follow in digest mode. */
static int page_follow(void *ud, const struct follow_row *f)
{
    struct page *pg = ud;
    struct buf line = {0};

    buf_printf(&line, "%s \xc2\xb7 %s%s", f->nick, ago(pg, f->since),
               f->digest ? " (digest)" : "");
    return page_line(pg, &line, f->user, f->since);
}

/* One page of pg's listing from where pg->st says; 0 or -1. */
static int run(struct page *pg)
{
    struct store *st = pg->c->bot->store;
    const struct page_state *s = &pg->st;
    int64_t me = pg->c->user->id;
    int n = s->size + 1;

    switch (s->kind) {
    case PAGE_TIMELINE:
        return store_timeline(st, me, s->key, n, page_post, pg);
    case PAGE_AUTHOR:
        return store_user_posts(st, s->arg, s->key, n, page_post, pg);
    case PAGE_TAG:
        return store_tag_posts(st, pg->query, s->key, n, page_post, pg);
    case PAGE_REPLIES:
        return store_replies(st, s->arg, s->key, n, page_post, pg);
    case PAGE_THREAD:
        return store_thread_posts(st, s->arg, s->key, n, page_post, pg);
    case PAGE_SEARCH:
        return store_search(st, pg->query, s->key, n, page_post, pg);
    case PAGE_MENTIONS:
        return store_mentions(st, me, s->key, n, page_post, pg);
    case PAGE_FAVS:
        return store_favs(st, me, s->key, n, page_post, pg);
    case PAGE_DMS:
        return store_dms(st, me, s->key, n, page_dm, pg);
    case PAGE_FOLLOWERS:
        return store_followers(st, me, s->since, s->key, n, page_follow, pg);
    case PAGE_FOLLOWING:
        return store_following(st, me, s->since, s->key, n, page_follow, pg);
    case PAGE_NONE:
        break;
    }
    return 0;
}

/* Run a page and finish the reply: none when a first page is empty, the
 * "more" hint and the pager state when rows remain. */
static void page(struct page *pg, const char *none)
{
    struct pager *pager = pg->c->bot->pager;
    int64_t me = pg->c->user->id;
    bool keep = pg->query == NULL || strlen(pg->query) <= PAGER_TEXT_MAX;

    if (!cmd_prefs(pg->c, &pg->prefs))
        return;
    pg->now = pg->c->bot->now();
    if (run(pg) < 0) {
        cmd_failed(pg->c);
        return;
    }
    if (pg->shown == 0 && none != NULL) {
        if (pg->c->reply->len > 0)
            buf_append(pg->c->reply, "\n");
        buf_append(pg->c->reply, none);
    }
    if (pg->more && keep) {
        if (pg->query != NULL && pg->query != pg->st.text)
            snprintf(pg->st.text, sizeof(pg->st.text), "%s", pg->query);
        pager_put(pager, me, &pg->st);
        buf_append(pg->c->reply, "\n" MORE_HINT);
    } else {
        pager_drop(pager, me);
    }
}

/* A first page of kind, newest first. */
static void first(struct page *pg, struct cmd_ctx *c, enum page_kind kind,
                  int size)
{
    memset(pg, 0, sizeof(*pg));
    pg->c = c;
    pg->st.kind = kind;
    pg->st.size = size;
    pg->st.key = STORE_NEWEST;
    pg->st.since = (time_t)STORE_NEWEST;
}

void cmd_last(struct cmd_ctx *c, const struct cmd_args *a)
{
    int n = a->count > 0 ? a->count : PAGE_POSTS;
    struct page pg;
    struct user t;
    char tag[64] = "", *none;

    if (a->word[0] == '#') {
        /* As posts are indexed: Unicode lower case. */
        first(&pg, c, PAGE_TAG, n);
        match_tags(a->word, 1, cmd_copy_word, tag);
        if (tag[0] == '\0') {
            buf_append(c->reply, "Usage: last [NICK|#tag] [N]");
            return;
        }
        pg.query = tag;
        none = xasprintf("No posts tagged #%s yet.", tag);
        page(&pg, none);
        free(none);
        return;
    }
    if (a->nick[0] != '\0') {
        if (!cmd_user_arg(c, a->nick, &t))
            return;
        first(&pg, c, PAGE_AUTHOR, n);
        pg.st.arg = t.id;
    } else {
        first(&pg, c, PAGE_TIMELINE, n);
    }
    page(&pg, "Nothing yet.");
}

void cmd_show(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct cmd_got g;
    struct page pg;
    char ago[16];

    if (!cmd_get_post(c, a->num, &g, true))
        return;
    /* A thread's first post comes with the whole thread, a reply with the
     * replies to it. */
    first(&pg, c, g.p.thread == 0 ? PAGE_THREAD : PAGE_REPLIES, PAGE_POSTS);
    pg.st.arg = a->num;
    pg.st.key = 0; /* replies oldest first */
    if (cmd_prefs(c, &pg.prefs)) {
        zone_when(pg.prefs.tz, g.p.created, c->bot->now(), ago, sizeof(ago));
        cmd_format_post(c->reply, &g.p, ago);
        page(&pg, NULL);
    }
    free(g.body);
}

/* A first page of posts of kind (for query), or none. */
static void posts(struct cmd_ctx *c, enum page_kind kind, const char *query,
                  const char *none)
{
    struct page pg;

    first(&pg, c, kind, PAGE_POSTS);
    pg.query = query;
    page(&pg, none);
}

void cmd_search(struct cmd_ctx *c, const struct cmd_args *a)
{
    posts(c, PAGE_SEARCH, a->text, "Nothing found.");
}

void cmd_mentions(struct cmd_ctx *c, const struct cmd_args *a)
{
    (void)a;
    posts(c, PAGE_MENTIONS, NULL, "Nobody mentioned you yet.");
}

void cmd_favs(struct cmd_ctx *c, const struct cmd_args *a)
{
    (void)a;
    posts(c, PAGE_FAVS, NULL,
          "No favourites yet: \"fav #N\" keeps post N here.");
}

void cmd_dms(struct cmd_ctx *c, const struct cmd_args *a)
{
    (void)a;
    posts(c, PAGE_DMS, NULL, "No private messages yet.");
}

static void follow_list(struct cmd_ctx *c, bool followers)
{
    struct user_counts n;
    struct page pg;

    if (store_user_counts(c->bot->store, c->user->id, &n) < 0) {
        cmd_failed(c);
        return;
    }
    if ((followers ? n.followers : n.following) == 0) {
        pager_drop(c->bot->pager, c->user->id);
        buf_append(c->reply,
                   followers ? "No followers yet." : "You follow nobody yet.");
        return;
    }
    buf_printf(c->reply, "%s (%lld):", followers ? "Followers" : "Following",
               (long long)(followers ? n.followers : n.following));
    first(&pg, c, followers ? PAGE_FOLLOWERS : PAGE_FOLLOWING, PAGE_USERS);
    page(&pg, NULL);
}

void cmd_followers(struct cmd_ctx *c, const struct cmd_args *a)
{
    (void)a;
    follow_list(c, true);
}

void cmd_following(struct cmd_ctx *c, const struct cmd_args *a)
{
    (void)a;
    follow_list(c, false);
}

void cmd_more(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct page pg;

    (void)a;
    memset(&pg, 0, sizeof(pg));
    pg.c = c;
    if (!pager_get(c->bot->pager, c->user->id, &pg.st)) {
        buf_append(c->reply, "Nothing more to show.");
        return;
    }
    if (pg.st.kind == PAGE_TAG || pg.st.kind == PAGE_SEARCH)
        pg.query = pg.st.text;
    page(&pg, "Nothing more to show.");
}
