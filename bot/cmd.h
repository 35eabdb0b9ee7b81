/*
 * cmd.h - what the command handlers share (internal to commands.c and
 * cmd_*.c): their prototypes and the small helpers that format replies
 * the same way everywhere.
 */
#ifndef STARLING_CMD_H
#define STARLING_CMD_H

#include "commands.h"

/* Handlers: one per command of the table (commands.c). */
void cmd_help(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_post(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_follow(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_unfollow(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_followers(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_following(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_on(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_off(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_away(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_last(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_show(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_reply(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_delete(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_repeat(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_mute(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_unmute(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_dm(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_whois(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_nick(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_bio(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_mentions(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_track(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_untrack(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_tracking(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_search(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_block(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_unblock(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_stats(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_ban(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_unban(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_broadcast(struct cmd_ctx *c, const struct cmd_args *a);

/* Gestures of today's clients (cmd_gesture.c), called by cmd_handle()
 * and dispatch. */
void cmd_remember(struct cmd_ctx *c);
int cmd_quoted_reply(const char *msg, int64_t *post, const char **rest);

/* A post fetched with its text copied: free body. */
struct got {
    struct post p;
    char *body;
    char nick[NICK_MAX + 1];
};
/* Fetch post id into *g; replies "No post #N." and returns false when
 * there is none (or it is not public and public_only). */
bool cmd_get_post(struct cmd_ctx *c, int64_t id, struct got *g,
                  bool public_only);

/* Nicks mentioned in a text (lower-case, no '@'), at most MENTIONS_MAX. */
struct collected {
    char **v;
    size_t n;
};
void cmd_collect_mentions(const char *text, struct collected *out);
void cmd_collected_free(struct collected *c);

/* "Sorry, something went wrong..." for a store failure. */
void cmd_failed(struct cmd_ctx *c);
/* Look up a nick for a command; replies "No user NICK." and returns
 * false when there is none. */
bool cmd_user_arg(struct cmd_ctx *c, const char *nick, struct user *out);
/* A banned user is told so (with the reason); true if they were. */
bool cmd_refuse_banned(struct cmd_ctx *c);
/* Append "#N nick: text" (with "(re #M)") as one line. */
void cmd_format_post(struct buf *b, const struct post *p);
/* Store a post of any kind from c->user and reply; used by post, reply,
 * dm and broadcast.  Returns the new post id, or 0 if nothing was stored. */
int64_t cmd_store_post(struct cmd_ctx *c, const char *text, enum post_kind kind,
                       int64_t reply_to, int64_t to_user);
/* Record an admin act: audit table and the log. */
void cmd_audit(struct cmd_ctx *c, const char *action, const char *detail);

#endif
