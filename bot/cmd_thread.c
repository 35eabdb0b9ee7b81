/*
 * cmd_thread.c - threads and repeats (issue 15, Juick's way): a reply
 * reaches everyone in its thread (the store's recipient rule) unless they
 * mute it; "rt #N" passes a post on to one's followers, once.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

void cmd_repeat(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct post_new p = {0};
    struct user author;
    struct cmd_got g;
    int64_t id = 0;
    char *body, *note;
    int r;

    if (cmd_refuse_banned(c) || !cmd_get_post(c, a->num, &g, true))
        return;
    if (g.p.author == c->user->id) {
        buf_append(c->reply, "You can't repeat your own post.");
        goto out;
    }
    if ((r = store_is_blocked(c->bot->store, g.p.author, c->user->id)) != 0 ||
        (r = store_repeat_of(c->bot->store, a->num, c->user->id, &id)) != 0) {
        if (r < 0)
            cmd_failed(c);
        else if (id != 0)
            buf_printf(c->reply, "You already repeated #%lld.",
                       (long long)a->num);
        else
            buf_printf(c->reply, "You can't repeat %s's posts.", g.nick);
        goto out;
    }
    body = xasprintf("%s: %s", g.nick, g.body);
    p.author = c->user->id;
    p.body = body;
    p.created = c->bot->now();
    p.kind = POST_REPEAT;
    p.repeat_of = a->num;
    p.repeat_author = g.p.author;
    r = store_post_add(c->bot->store, &p, &id, NULL);
    free(body);
    if (r < 0) {
        cmd_failed(c);
        goto out;
    }
    delivery_post_committed(c->bot->delivery, id);
    buf_printf(c->reply, "Repeated #%lld to your followers.",
               (long long)a->num);
    /* The author hears of it once: a post is repeated once per user. */
    if (store_user_by_id(c->bot->store, g.p.author, &author) == 1 &&
        author.active && author.deliver && !author.banned) {
        note = xasprintf("%s repeated your #%lld.", c->user->nick,
                         (long long)a->num);
        c->bot->reply(c->bot, author.jid, note);
        free(note);
    }
out:
    free(g.body);
}

static void mute(struct cmd_ctx *c, const struct cmd_args *a, bool on)
{
    int r = store_mute(c->bot->store, c->user->id, a->num, on);

    if (r < 0)
        cmd_failed(c);
    else if (r == 2)
        buf_printf(c->reply, "No post #%lld.", (long long)a->num);
    else if (on)
        buf_printf(c->reply,
                   r == 0 ? "Muted the thread of #%lld: its replies no "
                            "longer reach you."
                          : "The thread of #%lld is muted already.",
                   (long long)a->num);
    else
        buf_printf(c->reply,
                   r == 0 ? "Unmuted the thread of #%lld."
                          : "The thread of #%lld is not muted.",
                   (long long)a->num);
}

void cmd_mute(struct cmd_ctx *c, const struct cmd_args *a)
{
    mute(c, a, true);
}

void cmd_unmute(struct cmd_ctx *c, const struct cmd_args *a)
{
    mute(c, a, false);
}
