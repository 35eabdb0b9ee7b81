/*
 * commands.h - the command table (SPEC 5) and the pure parser that turns a
 * chat message into a command and its arguments.
 *
 * cmd_parse() does no I/O and allocates nothing: it is unit-tested with
 * every form and fuzzed.  cmd_run() executes a parsed command for a user
 * and writes the reply into ctx->reply.
 */
#ifndef STARLING_COMMANDS_H
#define STARLING_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bot.h"

/* Argument shapes; the parser checks a message against its command's. */
enum cmd_shape {
    ARGS_NONE,          /* followers */
    ARGS_OPT_WORD,      /* help [CMD] */
    ARGS_TEXT,          /* post TEXT, bio TEXT, search WORDS */
    ARGS_NICK,          /* follow NICK */
    ARGS_NICK_TEXT,     /* d NICK TEXT */
    ARGS_NICK_OPT_TEXT, /* ban NICK [REASON] */
    ARGS_POSTNUM,       /* show #N, delete #N */
    ARGS_POSTNUM_TEXT,  /* reply #N TEXT */
    ARGS_ONOFF,         /* away on|off */
    ARGS_WORD,          /* track WORD */
    ARGS_LAST,          /* last [NICK|#tag] [N] */
    ARGS_FOLLOW,        /* follow NICK [digest] */
    ARGS_TERM,          /* track WORD|#tag */
    ARGS_OPT_ZONE,      /* tz [ZONE] */
    ARGS_QUIET,         /* quiet [HH:MM-HH:MM|off] */
    ARGS_OPT_CLOCK,     /* digest [HH:MM] */
    ARGS_CODE,          /* delete me [CODE] */
};

struct cmd_args {
    char nick[NICK_MAX + 1]; /* "" if none */
    int64_t num;             /* post number, or 0 */
    int count;               /* last: N, 0 if not given */
    bool flag;               /* ARGS_ONOFF; follow: digest; tz, quiet,
                                digest, delete me: an argument was given */
    char word[64];           /* help CMD, track WORD (lower-case), a tag
                                with its '#', tz ZONE (as typed), a
                                confirmation code */
    const char *text;        /* points into the parsed message */
    int start_min, end_min;  /* quiet, digest (start): minutes of the day;
                                -1 for "off" */
};

struct cmd_ctx;
typedef void (*cmd_fn)(struct cmd_ctx *ctx, const struct cmd_args *a);

struct cmd_entry {
    const char *name;
    const char *alias; /* or NULL */
    enum cmd_shape shape;
    bool admin;        /* admin only (stats, ban, unban, broadcast) */
    const char *usage; /* "follow NICK" */
    const char *help;  /* one sentence */
    cmd_fn fn;
    const char *example; /* for "help CMD", or NULL */
};

enum cmd_result {
    CMD_POST,  /* not a command: post the whole text */
    CMD_OK,    /* a command with valid arguments */
    CMD_USAGE, /* a command with wrong arguments */
};

struct cmd_parsed {
    enum cmd_result result;
    const struct cmd_entry *cmd; /* CMD_OK / CMD_USAGE */
    struct cmd_args args;
};

/* Parse a trimmed message.  Pure; msg must outlive parsed->args.text. */
void cmd_parse(const char *msg, struct cmd_parsed *parsed);
/* true for a command whose near misses are never posted (SPEC 5): one
 * that takes a post number (show, reply, delete) or an admin command. */
bool cmd_guarded(const struct cmd_entry *e);
/* The table, terminated by an entry with name NULL.  Test hook: the unit
 * tests walk it (the bot finds entries with cmd_find()). */
const struct cmd_entry *cmd_table(void);
const struct cmd_entry *cmd_find(const char *name);

/* What a handler needs. */
struct cmd_ctx {
    struct bot *bot;
    struct user *user; /* the sender, a registered user */
    bool admin;
    const char *stanza_id; /* for post de-duplication */
    const char *origin_id; /* XEP-0359 origin-id of the message, or NULL */
    struct buf *reply;     /* the handler's answer */
};

/*
 * Handle one message from a registered user: parse, check admin rights,
 * run, or post the text.  Writes the reply into ctx->reply.
 */
void cmd_handle(struct cmd_ctx *ctx, char *msg);

/*
 * The gestures of SPEC 9, for dispatch: a correction of the message with
 * id replace_id to text (edits the post it made, or runs a corrected
 * command); a retraction of the message retract_id (deletes the post it
 * made); a reply to the message reply_id (false when that id names no
 * post: then text is an ordinary message); reactions to the message
 * reaction_id, passed on to the post's author.  Each writes its answer
 * into ctx->reply (cmd_react answers nothing).  text is modified.
 */
void cmd_correct(struct cmd_ctx *ctx, const char *replace_id, char *text);
void cmd_retract(struct cmd_ctx *ctx, const char *retract_id);
bool cmd_reply_to_message(struct cmd_ctx *ctx, const char *reply_id,
                          char *text);
void cmd_react(struct cmd_ctx *ctx, const char *reaction_id,
               const char *const *emoji, size_t n);

/* A private message to nick, as "d NICK TEXT" sends it (SPEC 10: a
 * message written to a user's NICK@domain). */
void cmd_private(struct cmd_ctx *ctx, const char *nick, const char *text);

/*
 * The end of an "export" handed to bot->upload: url is the file's GET
 * URL, sent as a XEP-0066 link after a line saying what it is; NULL when
 * the upload failed: the document (borrowed) then goes as chat messages
 * if it fits them, else the user is told and may export again at once.
 */
void cmd_export_done(struct bot *b, const char *to, const struct buf *doc,
                     const char *url);

/* Post text (already trimmed) as ctx->user; used by post/reply/handler.
 * reply_to 0 for none.  Writes "Posted #N." or the refusal. */
void cmd_post_text(struct cmd_ctx *ctx, const char *text, int64_t reply_to);

#endif
