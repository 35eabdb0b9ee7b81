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
/* Listings (cmd_list.c) and the issue 15 commands (cmd_social.c). */
void cmd_more(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_dms(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_favs(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_fav(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_unfav(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_remove(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_notices(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_tz(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_quiet(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_digest(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_export(struct cmd_ctx *c, const struct cmd_args *a);
/* Leaving for good (cmd_erase.c). */
void cmd_delete_me(struct cmd_ctx *c, const struct cmd_args *a);
void cmd_erase(struct cmd_ctx *c, const struct cmd_args *a);

/* Gestures of today's clients (cmd_gesture.c), called by cmd_handle()
 * and dispatch. */
void cmd_remember(struct cmd_ctx *c);
int cmd_quoted_reply(const char *msg, int64_t *post, const char **rest);

/* What a public post's text holds: mentions (lower-case nicks, no '@'),
 * words (for track) and tags, collected into pp and pointed at by p. */
struct collected {
    char **v;
    size_t n;
};
struct post_parts {
    struct collected mentions, words, tags;
};
void cmd_post_parts(const char *text, struct post_parts *pp,
                    struct post_new *p);
void cmd_post_parts_free(struct post_parts *pp);

/* "Sorry, something went wrong..." for a store failure. */
void cmd_failed(struct cmd_ctx *c);
/* Look up a nick for a command; replies "No user NICK." and returns
 * false when there is none. */
bool cmd_user_arg(struct cmd_ctx *c, const char *nick, struct user *out);
/* A banned user is told so (with the reason); true if they were. */
bool cmd_refuse_banned(struct cmd_ctx *c);
/* Append "#N nick: text" (with "(re #M)", and " · WHEN" before the colon
 * when when is not NULL) as one line. */
void cmd_format_post(struct buf *b, const struct post *p, const char *when);
/* A post fetched for a command, its strings owned (free body). */
struct cmd_got {
    struct post p;
    char *body;
    char nick[NICK_MAX + 1];
};
/* Fetch post id into *g (public_only: DMs and broadcasts count as
 * missing); replies "No post #N." (or the failure) and returns false
 * when there is none.  On true the caller frees g->body. */
bool cmd_get_post(struct cmd_ctx *c, int64_t id, struct cmd_got *g,
                  bool public_only);
/* Tell user to about someone else's act (bot->notice). */
void cmd_notice(struct cmd_ctx *c, const struct user *to, const char *text);
/* c->user's settings; false (and the failure replied) on a store
 * error. */
bool cmd_prefs(struct cmd_ctx *c, struct prefs *out);
/* "08:00" from a minute of the day; out holds 6 bytes. */
void cmd_clock(int minute, char *out);
/* A match_cb: copy the first item into ud (at least 63 bytes) if it is
 * shorter than 63 bytes (never cut: lower case can be longer than what
 * was typed), and stop. */
int cmd_copy_word(void *ud, const char *item);
/* Store a post of any kind from c->user and reply; used by post, reply,
 * dm and broadcast.  Returns the new post id, or 0 if nothing was stored. */
int64_t cmd_store_post(struct cmd_ctx *c, const char *text, enum post_kind kind,
                       int64_t reply_to, int64_t to_user);
/* Record an admin act: audit table and the log. */
void cmd_audit(struct cmd_ctx *c, const char *action, const char *detail);

#endif
