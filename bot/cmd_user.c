/*
 * cmd_user.c - the user commands of SPEC 5: following, replying, private
 * messages, profile and tracking (listings are in cmd_list.c).  Replies are
 * short, one line where possible, and show nicks, never JIDs (admins see JIDs
 * in whois).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "match.h"
#include "../common/text.h"

/* "Their posts come in your daily digest at 08:00 (UTC)." */
static void digest_note(struct cmd_ctx *c, const char *nick, bool added)
{
    struct prefs p;
    char at[8];

    if (!cmd_prefs(c, &p))
        return;
    cmd_clock(p.digest_at, at);
    buf_printf(c->reply, "%s%s's posts come in your daily digest at %s (%s).",
               added ? " " : "", nick, at, p.tz[0] ? p.tz : "UTC");
}

/* "alice now follows you", once per follower and user, unless the user
 * turned notices off. */
static void tell_followed(struct cmd_ctx *c, const struct user *t)
{
    struct prefs p;
    char *text;

    if (!t->active || t->banned ||
        store_prefs_get(c->bot->store, t->id, &p) < 0 || !p.notices ||
        store_told_once(c->bot->store, TOLD_FOLLOW, c->user->id, t->id) != 1)
        return;
    text = xasprintf("%s now follows you.", c->user->nick);
    cmd_notice(c, t, text);
    free(text);
}

void cmd_follow(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct user t;
    bool added, changed;
    int r;

    if (cmd_refuse_banned(c) || !cmd_user_arg(c, a->nick, &t))
        return;
    if (t.id == c->user->id) {
        buf_append(c->reply, "You can't follow yourself.");
        return;
    }
    if ((r = store_is_blocked(c->bot->store, t.id, c->user->id)) != 0) {
        if (r < 0)
            cmd_failed(c);
        else
            buf_printf(c->reply, "You can't follow %s.", t.nick);
        return;
    }
    if (store_follow_mode(c->bot->store, c->user->id, t.id, a->flag,
                          c->bot->now(), &added, &changed) < 0) {
        cmd_failed(c);
        return;
    }
    if (added)
        buf_printf(c->reply, "You now follow %s.", t.nick);
    else if (!changed)
        buf_printf(c->reply, "You already follow %s%s.", t.nick,
                   a->flag ? " in your daily digest" : "");
    else if (!a->flag)
        buf_printf(c->reply, "%s's posts come to you live again.", t.nick);
    if (a->flag && (added || changed))
        digest_note(c, t.nick, added);
    if (changed) /* when the next digest is due, or that none is */
        delivery_user_changed(c->bot->delivery, c->user->id);
    if (added)
        tell_followed(c, &t);
}

void cmd_unfollow(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct user t;
    int r;

    if (!cmd_user_arg(c, a->nick, &t))
        return;
    r = store_unfollow(c->bot->store, c->user->id, t.id);
    if (r < 0)
        cmd_failed(c);
    else if (r == 1)
        buf_printf(c->reply, "You don't follow %s.", t.nick);
    else
        buf_printf(c->reply, "You no longer follow %s.", t.nick);
}

void cmd_on(struct cmd_ctx *c, const struct cmd_args *a)
{
    (void)a;
    if (store_user_set_flag(c->bot->store, c->user->id, USER_DELIVER, true) <
        0) {
        cmd_failed(c);
        return;
    }
    c->user->deliver = true;
    buf_append(c->reply, "Deliveries on.");
    delivery_user_changed(c->bot->delivery, c->user->id);
}

void cmd_off(struct cmd_ctx *c, const struct cmd_args *a)
{
    (void)a;
    if (store_user_set_flag(c->bot->store, c->user->id, USER_DELIVER, false) <
            0 ||
        store_outbox_clear_user(c->bot->store, c->user->id) < 0) {
        cmd_failed(c);
        return;
    }
    c->user->deliver = false;
    delivery_forget_user(c->bot->delivery, c->user->id);
    buf_append(c->reply, "Deliveries off: nothing will be sent or held "
                         "until you say \"on\".");
}

void cmd_away(struct cmd_ctx *c, const struct cmd_args *a)
{
    if (store_user_set_flag(c->bot->store, c->user->id, USER_AWAY, a->flag) <
        0) {
        cmd_failed(c);
        return;
    }
    c->user->away = a->flag;
    buf_append(c->reply, a->flag ? "Updates will reach you while you are away."
                                 : "Updates will wait while you are away.");
    /* What is queued in memory follows the new setting too. */
    delivery_user_reset(c->bot->delivery, c->user->id);
}

void cmd_reply(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct cmd_got g;

    if (!cmd_get_post(c, a->num, &g, true))
        return;
    free(g.body);
    cmd_post_text(c, a->text, a->num);
}

void cmd_delete(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct cmd_got g;
    bool own;

    if (!cmd_get_post(c, a->num, &g, false))
        return;
    own = g.p.author == c->user->id;
    free(g.body);
    if (!own && !c->admin) {
        buf_append(c->reply, "You can only delete your own posts.");
        return;
    }
    if (delivery_post_delete(c->bot->delivery, a->num, c->bot->now()) < 0) {
        cmd_failed(c);
        return;
    }
    if (!own) {
        char *detail = xasprintf("#%lld by %s", (long long)a->num, g.nick);

        cmd_audit(c, "delete", detail);
        free(detail);
    }
    buf_printf(c->reply, "Deleted #%lld.", (long long)a->num);
}

void cmd_dm(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct user t;
    int follows, blocked;

    if (cmd_refuse_banned(c) || !cmd_user_arg(c, a->nick, &t))
        return;
    follows = store_is_following(c->bot->store, t.id, c->user->id);
    blocked = store_is_blocked(c->bot->store, t.id, c->user->id);
    if (follows < 0 || blocked < 0) {
        cmd_failed(c);
        return;
    }
    if (!follows || blocked || t.id == c->user->id) {
        buf_append(c->reply, "You can only message people who follow you.");
        return;
    }
    if (cmd_store_post(c, a->text, POST_DM, 0, t.id) != 0)
        buf_printf(c->reply, "Sent to %s.", t.nick);
}

void cmd_private(struct cmd_ctx *c, const char *nick, const char *text)
{
    struct cmd_args a = {.text = text};

    utf8_copy(a.nick, sizeof(a.nick), nick);
    cmd_dm(c, &a);
}

void cmd_whois(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct user_counts n;
    struct user t;
    char joined[16];
    struct tm tm;

    if (!cmd_user_arg(c, a->nick, &t))
        return;
    if (store_user_counts(c->bot->store, t.id, &n) < 0) {
        cmd_failed(c);
        return;
    }
    gmtime_r(&t.created, &tm);
    strftime(joined, sizeof(joined), "%Y-%m-%d", &tm);
    buf_printf(c->reply,
               "%s%s%s, joined %s: %lld posts, %lld followers, "
               "following %lld.",
               t.nick, t.bio[0] ? " - " : "", t.bio, joined, (long long)n.posts,
               (long long)n.followers, (long long)n.following);
    if (c->admin) {
        buf_printf(c->reply, "\nJID: %s%s", t.jid,
                   t.active ? "" : " (inactive)");
        if (t.banned)
            buf_printf(c->reply, "\nBanned: %s",
                       t.ban_reason[0] ? t.ban_reason : "no reason given");
    }
}

/* A renamed user's address moved: each follower is told (paced by the
 * session). */
struct moved {
    struct cmd_ctx *c;
    const char *old_nick;
};

static int tell_moved(void *ud, const char *jid)
{
    struct moved *m = ud;
    struct bot *b = m->c->bot;

    b->address_moved(b, jid, m->old_nick, m->c->user->nick, m->c->user->bio);
    return 0;
}

void cmd_nick(struct cmd_ctx *c, const struct cmd_args *a)
{
    char old[NICK_MAX + 1];
    struct moved m = {c, old};
    int r;

    if (nick_reserved(a->nick, c->bot->self)) {
        buf_printf(c->reply, "The nick %s is reserved.", a->nick);
        return;
    }
    r = store_user_set_nick(c->bot->store, c->user->id, a->nick);
    if (r < 0)
        cmd_failed(c);
    else if (r == 1)
        buf_printf(c->reply, "The nick %s is taken.", a->nick);
    else {
        utf8_copy(old, sizeof(old), c->user->nick);
        utf8_copy(c->user->nick, sizeof(c->user->nick), a->nick);
        buf_printf(c->reply, "You are now %s.", a->nick);
        if (c->bot->address_moved != NULL && strcmp(old, a->nick) != 0 &&
            store_follower_jids(c->bot->store, c->user->id, tell_moved, &m) < 0)
            log_warnx("not every follower of %s was told of the new nick",
                      a->nick);
    }
}

/* "bio TEXT" sets the bio, "bio -" clears it. */
void cmd_bio(struct cmd_ctx *c, const struct cmd_args *a)
{
    enum post_check check = text_check_post(a->text, BIO_MAX_CHARS);

    if (strcmp(a->text, "-") == 0) {
        if (store_user_set_bio(c->bot->store, c->user->id, "") < 0)
            cmd_failed(c);
        else
            buf_append(c->reply, "Bio cleared.");
        return;
    }

    if (check == POST_TOO_LONG) {
        buf_printf(c->reply, "Your bio is too long (at most %d characters).",
                   BIO_MAX_CHARS);
        return;
    }
    if (check != POST_OK || strchr(a->text, '\n') != NULL) {
        buf_append(c->reply, "A bio is one line of plain text.");
        return;
    }
    if (store_user_set_bio(c->bot->store, c->user->id, a->text) < 0)
        cmd_failed(c);
    else
        buf_append(c->reply, "Bio updated.");
}

static int first_word(void *ud, const char *w)
{
    *(char **)ud = xstrdup(w);
    return 1;
}

/* The word (or "#tag") as posts are indexed: Unicode lower case, which
 * can be longer than what was typed (U+023A is 2 bytes, its lower case
 * 3), so it is never cut.  The caller frees it; NULL (and the usage line)
 * if none. */
static char *track_word(struct cmd_ctx *c, const char *arg)
{
    char *w = NULL, *tag;

    if (arg[0] == '#') {
        match_tags(arg, 1, first_word, &w);
        if (w != NULL) {
            tag = xasprintf("#%s", w);
            free(w);
            w = tag;
        }
    } else {
        match_words(arg, 1, first_word, &w);
    }
    if (w == NULL)
        buf_append(c->reply, "Usage: track WORD|#tag");
    return w;
}

void cmd_track(struct cmd_ctx *c, const struct cmd_args *a)
{
    char *w = track_word(c, a->word);
    int r;

    if (w == NULL)
        return;
    r = store_track_add(c->bot->store, c->user->id, w);
    if (r < 0)
        cmd_failed(c);
    else if (r == 1)
        buf_printf(c->reply, "You already track %s.", w);
    else if (r == 2)
        buf_printf(c->reply, "You can track at most %d words.", TRACK_MAX);
    else
        buf_printf(c->reply, "Tracking %s: posts %s will reach you.", w,
                   w[0] == '#' ? "tagged so" : "containing it");
    free(w);
}

void cmd_untrack(struct cmd_ctx *c, const struct cmd_args *a)
{
    char *w = track_word(c, a->word);
    int r;

    if (w == NULL)
        return;
    r = store_track_del(c->bot->store, c->user->id, w);
    if (r < 0)
        cmd_failed(c);
    else if (r == 1)
        buf_printf(c->reply, "You don't track %s.", w);
    else
        buf_printf(c->reply, "No longer tracking %s.", w);
    free(w);
}

struct words {
    struct buf *b;
    size_t n;
};

static int add_word(void *ud, const char *w)
{
    struct words *l = ud;

    buf_printf(l->b, "%s%s", l->n == 0 ? "" : ", ", w);
    l->n++;
    return 0;
}

void cmd_tracking(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct buf words = {0};
    struct words l = {&words, 0};

    (void)a;
    if (store_tracking(c->bot->store, c->user->id, add_word, &l) < 0)
        cmd_failed(c);
    else if (l.n == 0)
        buf_append(c->reply, "You track nothing.");
    else
        buf_printf(c->reply, "Tracking: %s", buf_str(&words));
    buf_free(&words);
}

void cmd_block(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct user t;
    int r;

    if (!cmd_user_arg(c, a->nick, &t))
        return;
    if (t.id == c->user->id) {
        buf_append(c->reply, "You can't block yourself.");
        return;
    }
    r = store_block(c->bot->store, c->user->id, t.id);
    /* Updates from t already queued in memory go too. */
    if (r >= 0)
        delivery_user_reset(c->bot->delivery, c->user->id);
    if (r < 0)
        cmd_failed(c);
    else if (r == 1)
        buf_printf(c->reply, "You already block %s.", t.nick);
    else
        buf_printf(c->reply,
                   "%s can no longer follow, mention or message "
                   "you.",
                   t.nick);
}

void cmd_unblock(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct user t;
    int r;

    if (!cmd_user_arg(c, a->nick, &t))
        return;
    r = store_unblock(c->bot->store, c->user->id, t.id);
    if (r < 0)
        cmd_failed(c);
    else if (r == 1)
        buf_printf(c->reply, "You don't block %s.", t.nick);
    else
        buf_printf(c->reply, "You no longer block %s.", t.nick);
}
