/*
 * cmd_admin.c - the admin commands of SPEC 5: stats, ban, unban and
 * broadcast (delete and whois live with the user commands and do more for
 * admins).  Only reached when the sender is in bot.admins: cmd_handle()
 * answers everyone else "Not permitted.".  Every act is audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

void cmd_stats(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct store_stats s;
    long up = (long)(c->bot->now() - c->bot->started);

    (void)a;
    if (store_stats(c->bot->store, &s) < 0) {
        cmd_failed(c);
        return;
    }
    buf_printf(c->reply,
               "users %lld, active %lld, online %zu, posts %lld, follows "
               "%lld, held %lld, uptime %ldd %ldh %ldm",
               (long long)s.users, (long long)s.active,
               presence_online_count(c->bot->presence), (long long)s.posts,
               (long long)s.follows, (long long)s.held, up / 86400,
               up % 86400 / 3600, up % 3600 / 60);
    if (!store_writable(c->bot->store))
        buf_append(c->reply, "; database full or failing: posts are refused");
}

void cmd_ban(struct cmd_ctx *c, const struct cmd_args *a)
{
    const char *reason = a->text != NULL ? a->text : "";
    struct user t;
    char *note, *detail;

    if (!cmd_user_arg(c, a->nick, &t))
        return;
    if (t.id == c->user->id) {
        buf_append(c->reply, "You can't ban yourself.");
        return;
    }
    if (store_user_set_ban(c->bot->store, t.id, true, reason) < 0 ||
        store_outbox_clear_user(c->bot->store, t.id) < 0) {
        cmd_failed(c);
        return;
    }
    delivery_forget_user(c->bot->delivery, t.id);
    detail = xasprintf("%s %s", t.nick, reason);
    cmd_audit(c, "ban", detail);
    free(detail);
    note = xasprintf("You have been banned from posting%s%s.",
                     reason[0] ? ": " : "", reason);
    c->bot->reply(c->bot, t.jid, note);
    free(note);
    buf_printf(c->reply, "Banned %s.", t.nick);
}

void cmd_unban(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct user t;

    if (!cmd_user_arg(c, a->nick, &t))
        return;
    if (!t.banned) {
        buf_printf(c->reply, "%s is not banned.", t.nick);
        return;
    }
    if (store_user_set_ban(c->bot->store, t.id, false, "") < 0) {
        cmd_failed(c);
        return;
    }
    cmd_audit(c, "unban", t.nick);
    c->bot->reply(c->bot, t.jid, "Your ban has been lifted.");
    buf_printf(c->reply, "Unbanned %s.", t.nick);
}

void cmd_broadcast(struct cmd_ctx *c, const struct cmd_args *a)
{
    int64_t id = cmd_store_post(c, a->text, POST_BROADCAST, 0, 0);
    char detail[32];

    if (id == 0)
        return;
    snprintf(detail, sizeof(detail), "#%lld", (long long)id);
    cmd_audit(c, "broadcast", detail);
    buf_printf(c->reply, "Broadcast #%lld sent.", (long long)id);
}
