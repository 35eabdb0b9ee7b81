/*
 * cmd_erase.c - leaving for good (issue 15): "delete me" hands out a
 * confirmation code, "delete me CODE" erases the account; an admin's
 * "erase NICK" does the same for someone else, audited.
 *
 * An erasure deletes the user's posts one by one through the delivery
 * engine, as "delete #N" does: every copy delivered in the last week is
 * retracted (XEP-0424) and others' repeats go with the post.  Others'
 * replies lose their link to the erased posts.  Then the store forgets
 * everything else about the user in one transaction (store_user_erase),
 * and the bot cancels the subscription both ways.  What is left is an
 * audit line that names the user's number only.
 *
 * Codes live in memory (struct bot): a restart forgets them, and the user
 * asks for a new one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "cmd.h"
#include "../common/log.h"

#define ERASE_CODE_SECONDS 600 /* a code's validity */
#define ERASE_PAGE         256 /* posts deleted per store query */

/* Six random digits into out (CMD_CODE_DIGITS + 1 bytes). */
static bool new_code(char *out)
{
    uint32_t v;

    if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
        return false;
    snprintf(out, CMD_CODE_DIGITS + 1, "%06" PRIu32, v % 1000000u);
    return true;
}

/* The user's outstanding code, or NULL. */
static struct erase_code *code_of(struct bot *b, int64_t user)
{
    time_t since = b->now() - ERASE_CODE_SECONDS;

    for (size_t i = 0; i < BOT_ERASE_CODES; i++)
        if (b->erase[i].user == user && b->erase[i].at > since)
            return &b->erase[i];
    return NULL;
}

/* What the bot remembers of user in memory, forgotten. */
static void forget(struct bot *b, int64_t user, const char *jid)
{
    for (size_t i = 0; i < BOT_ERASE_CODES; i++)
        if (b->erase[i].user == user)
            memset(&b->erase[i], 0, sizeof(b->erase[i]));
    for (size_t i = 0; i < BOT_RECENT_CMDS; i++)
        if (b->recent[i].user == user)
            memset(&b->recent[i], 0, sizeof(b->recent[i]));
    pager_drop(b->pager, user);
    presence_remove(b->presence, jid);
    delivery_user_reset(b->delivery, user);
}

/* Erase u; *posts is how many posts went.  by and why make the audit
 * line.  false (and the failure replied) on a store error: what was
 * erased so far stays erased, and asking again finishes it. */
static bool erase(struct cmd_ctx *c, const struct user *u, const char *by,
                  const char *why, int64_t *posts)
{
    struct bot *b = c->bot;
    int64_t ids[ERASE_PAGE], before;
    char detail[64];
    int n;

    *posts = 0;
    if (store_replies_detach(b->store, u->id) < 0)
        goto fail;
    /* Page by page until none is left (each page's posts are gone). */
    do {
        if ((n = store_posts_of(b->store, u->id, ids, ERASE_PAGE)) < 0)
            goto fail;
        before = *posts;
        for (int i = 0; i < n; i++) {
            int r = delivery_post_delete(b->delivery, ids[i], b->now());

            if (r < 0)
                goto fail;
            *posts += r == 0;
        }
    } while (n > 0 && *posts > before);
    if (store_user_erase(b->store, u->id) < 0)
        goto fail;
    forget(b, u->id, u->jid);
    b->subscription(b, u->jid, "unsubscribed");
    b->subscription(b, u->jid, "unsubscribe");
    snprintf(detail, sizeof(detail), "user #%" PRId64 "%s", u->id, why);
    store_audit(b->store, by, "erase", detail, b->now());
    log_info("erased %s", detail);
    return true;
fail:
    cmd_failed(c);
    return false;
}

void cmd_delete_me(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct bot *b = c->bot;
    struct erase_code *code = code_of(b, c->user->id);
    struct user_counts n;
    int64_t posts;

    /* Erasing the account would lift the ban with it. */
    if (c->user->banned) {
        buf_append(c->reply,
                   "Your account is banned; ask an admin to erase it.");
        return;
    }
    if (!a->flag) {
        if (code == NULL) {
            code = &b->erase[b->erase_next++ % BOT_ERASE_CODES];
            if (!new_code(code->code)) {
                memset(code, 0, sizeof(*code));
                cmd_failed(c);
                return;
            }
            code->user = c->user->id;
        }
        code->at = b->now();
        if (store_user_counts(b->store, c->user->id, &n) < 0) {
            cmd_failed(c);
            return;
        }
        buf_printf(c->reply,
                   "This erases your account for good: your %" PRId64
                   " post%s, whom you follow and who follows you, your "
                   "favourites and settings.  It cannot be undone.  To go "
                   "ahead, send within 10 minutes:\ndelete me %s",
                   n.posts, n.posts == 1 ? "" : "s", code->code);
        return;
    }
    if (code == NULL || strcmp(code->code, a->word) != 0) {
        buf_append(c->reply, "That code is wrong or has expired; send "
                             "\"delete me\" for a new one.");
        return;
    }
    if (erase(c, c->user, "self", " at their request", &posts))
        buf_printf(c->reply,
                   "Your account is erased: %" PRId64 " post%s and "
                   "everything else the service held about you.  Goodbye; "
                   "to come back, add this contact again.",
                   posts, posts == 1 ? "" : "s");
}

void cmd_erase(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct user t;
    int64_t posts;

    if (!cmd_user_arg(c, a->nick, &t))
        return;
    if (erase(c, &t, c->user->jid, "", &posts))
        buf_printf(c->reply,
                   "Erased %s: %" PRId64 " post%s and everything "
                   "else the service held about them.",
                   t.nick, posts, posts == 1 ? "" : "s");
}
