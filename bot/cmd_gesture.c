/*
 * cmd_gesture.c - what the gestures of today's clients mean (SPEC 9).
 *
 * A correction (XEP-0308) edits the post the corrected message made, or
 * runs a corrected command again; a retraction (XEP-0424) deletes the
 * post; a reply (XEP-0461, or a "> " quote of a delivered update) is a
 * reply to the update's post; a reaction (XEP-0444) is passed on to the
 * author.  Messages are found by the id they went out under: a post by
 * the origin-id or stanza id of the message that made it, a delivered
 * copy by its stable id (delivery_post_of_id()), a command by the ring of
 * recent commands in struct bot.  Nothing a client wraps around a gesture
 * is ever posted: unknown or late gestures are answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "match.h"
#include "../common/text.h"

#define REACTIONS_PER_POST 16 /* distinct reactions of one user to a post */
#define EMOJI_MAX_BYTES    32

void cmd_remember(struct cmd_ctx *c)
{
    const char *id = c->origin_id != NULL ? c->origin_id : c->stanza_id;
    struct recent_cmd *r;

    if (id == NULL || id[0] == '\0' || strlen(id) >= sizeof(r->id))
        return;
    r = &c->bot->recent[c->bot->recent_next++ % BOT_RECENT_CMDS];
    r->user = c->user->id;
    r->at = c->bot->now();
    memcpy(r->id, id, strlen(id) + 1);
}

/* Was id a command of c->user within the edit window? */
static bool recent_command(struct cmd_ctx *c, const char *id)
{
    time_t since = c->bot->now() - c->bot->cfg->bot.edit_minutes * 60;

    for (size_t i = 0; i < BOT_RECENT_CMDS; i++) {
        const struct recent_cmd *r = &c->bot->recent[i];

        if (r->user == c->user->id && r->at >= since && strcmp(r->id, id) == 0)
            return true;
    }
    return false;
}

/* The post a message id names for c->user: a copy delivered to them, or
 * one of their own posts.  0 if none. */
static int64_t post_of(struct cmd_ctx *c, const char *id, bool own_only)
{
    int64_t post = own_only ? 0 : delivery_post_of_id(id);

    if (post == 0 &&
        store_post_by_msgid(c->bot->store, c->user->id, id, &post) < 0)
        return -1;
    return post;
}

void cmd_correct(struct cmd_ctx *c, const char *replace_id, char *text)
{
    int64_t post = post_of(c, replace_id, true);
    const struct config *cfg = c->bot->cfg;
    struct post_parts parts = {0};
    struct post_new edit = {.author = c->user->id, .body = text};
    enum post_check check;
    struct cmd_got g;
    int r;

    text_trim(text);
    if (post < 0) {
        cmd_failed(c);
        return;
    }
    if (post == 0) {
        if (recent_command(c, replace_id))
            cmd_handle(c, text);
        else
            buf_append(c->reply, "I can't find the message you corrected, "
                                 "so nothing was changed.");
        return;
    }
    if (cmd_refuse_banned(c) || !cmd_get_post(c, post, &g, false))
        return;
    free(g.body);
    if (c->bot->now() - g.p.created > (time_t)cfg->bot.edit_minutes * 60) {
        buf_printf(c->reply,
                   "Too late to correct #%lld: posts can be corrected for "
                   "%d minutes. Nothing was changed.",
                   (long long)post, cfg->bot.edit_minutes);
        return;
    }
    check = text_check_post(text, (size_t)cfg->bot.post_max_chars);
    if (check != POST_OK) {
        buf_append(c->reply, text_post_check_reason(check));
        buf_printf(c->reply, " #%lld was not changed.", (long long)post);
        return;
    }
    if (g.p.kind == POST_PUBLIC)
        cmd_post_parts(text, &parts, &edit);
    r = store_post_edit(c->bot->store, post, &edit);
    cmd_post_parts_free(&parts);
    if (r < 0 || (r == 0 && delivery_post_edited(c->bot->delivery, post,
                                                 c->bot->now()) < 0)) {
        cmd_failed(c);
        return;
    }
    buf_printf(c->reply, "Edited #%lld.", (long long)post);
}

void cmd_retract(struct cmd_ctx *c, const char *retract_id)
{
    int64_t post = post_of(c, retract_id, true);
    int r;

    if (post < 0) {
        cmd_failed(c);
        return;
    }
    if (post == 0) {
        buf_append(c->reply, "That message was not a post of yours, so "
                             "nothing was deleted.");
        return;
    }
    r = delivery_post_delete(c->bot->delivery, post, c->bot->now());
    if (r < 0)
        cmd_failed(c);
    else if (r == 1)
        buf_printf(c->reply, "Post #%lld is already gone.", (long long)post);
    else
        buf_printf(c->reply, "Deleted #%lld.", (long long)post);
}

bool cmd_reply_to_message(struct cmd_ctx *c, const char *reply_id, char *text)
{
    int64_t post = post_of(c, reply_id, false);
    struct cmd_args a = {0};
    struct user to;
    struct cmd_got g;

    if (post <= 0) {
        if (post < 0)
            cmd_failed(c);
        return post < 0;
    }
    text_trim(text);
    if (!cmd_get_post(c, post, &g, false)) {
        buf_append(c->reply, " Nothing was posted.");
        return true;
    }
    free(g.body);
    switch (g.p.kind) {
    case POST_DM:
        /* Answering a private message privately: to the other side. */
        if (g.p.author == c->user->id) {
            if (store_user_by_id(c->bot->store, g.p.to_user, &to) != 1) {
                cmd_failed(c);
                return true;
            }
            utf8_copy(a.nick, sizeof(a.nick), to.nick);
        } else {
            utf8_copy(a.nick, sizeof(a.nick), g.nick);
        }
        a.text = text;
        cmd_dm(c, &a);
        return true;
    case POST_PUBLIC:
        cmd_post_text(c, text, post);
        return true;
    case POST_BROADCAST:
    default:
        return false; /* an announcement: an ordinary message */
    }
}

/* "> alice: hi (#12)\nme too": the quote's last line ends with "(#N)" of a
 * delivered update and text follows.  1, *post and *rest (into msg). */
int cmd_quoted_reply(const char *msg, int64_t *post, const char **rest)
{
    const char *p = msg, *last = NULL, *end;
    long long n;
    int used = 0;

    while (strncmp(p, "> ", 2) == 0 || strncmp(p, ">\n", 2) == 0) {
        last = p;
        end = strchr(p, '\n');
        if (end == NULL)
            return 0; /* all quote, no text */
        p = end + 1;
    }
    if (last == NULL)
        return 0;
    end = p - 1; /* the newline after the last quote line */
    while (end > last && (end[-1] == ' ' || end[-1] == '\r'))
        end--;
    if (end - last < 4 || end[-1] != ')')
        return 0;
    for (p = end - 2; p > last && p[-1] >= '0' && p[-1] <= '9'; p--)
        ;
    if (p - last < 3 || p[-1] != '#' || p[-2] != '(' ||
        sscanf(p, "%lld)%n", &n, &used) != 1 || p + used != end || n <= 0)
        return 0;
    *post = (int64_t)n;
    *rest = end + 1;
    while (**rest == '\n' || **rest == ' ' || **rest == '\r')
        (*rest)++;
    return **rest != '\0';
}

static bool emoji_ok(const char *e)
{
    size_t n = strlen(e);

    if (n == 0 || n > EMOJI_MAX_BYTES || text_check_post(e, 8) != POST_OK)
        return false;
    return strpbrk(e, " \n\t") == NULL;
}

void cmd_react(struct cmd_ctx *c, const char *reaction_id,
               const char *const *emoji, size_t n)
{
    int64_t post = post_of(c, reaction_id, false);
    struct user author;
    struct cmd_got g;
    struct buf ignored = {0}, *reply = c->reply;
    bool found;
    int r, blocked;

    if (post <= 0)
        return;
    /* Reactions are never answered, not even "No post #N.". */
    c->reply = &ignored;
    found = cmd_get_post(c, post, &g, true);
    c->reply = reply;
    buf_free(&ignored);
    if (!found)
        return;
    free(g.body);
    if (g.p.author == c->user->id ||
        store_user_by_id(c->bot->store, g.p.author, &author) != 1 ||
        !author.active || author.banned || !author.deliver)
        return;
    blocked = store_is_blocked(c->bot->store, author.id, c->user->id);
    if (blocked != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        int64_t had;
        char *note;

        if (!emoji_ok(emoji[i]) ||
            store_reactions_count(c->bot->store, post, c->user->id, &had) < 0 ||
            had >= REACTIONS_PER_POST)
            return;
        r = store_reaction_add(c->bot->store, post, c->user->id, emoji[i]);
        if (r != 0)
            continue; /* told before, or an error */
        note = xasprintf("%s reacted %s to #%lld", c->user->nick, emoji[i],
                         (long long)post);
        c->bot->reply(c->bot, author.jid, note);
        free(note);
    }
}
