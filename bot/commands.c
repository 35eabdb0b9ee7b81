/*
 * commands.c - the command table, the pure parser, and the posting
 * pipeline every command that stores a post goes through.
 *
 * A message is a command only when it fits a command's form (SPEC 5).
 * When the first word is a keyword but the message has more words than
 * the command can take ("on my way", "follow me on twitter"), it reads as
 * a post; when it has the right number of words but one is malformed, or
 * a required one is missing, the sender gets the usage line instead.
 * An accidental public post is the worst outcome of a typo, so a keyword
 * that takes a post number (show, reply, delete) or an admin keyword never
 * reads as a post: whatever follows it that does not fit gets the usage
 * line with the hint to send "post TEXT" ("delete #5 please").
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "../common/log.h"
#include "match.h"
#include "../common/text.h"

#define LAST_DEFAULT 10
#define LAST_MAX     50
#define MENTIONS_MAX 50
#define WORDS_MAX    200
#define TAGS_MAX     20 /* tags indexed per post */
#define TAG_BYTES    62 /* longest tag indexed: "#tag" fits cmd_args.word */

static const struct cmd_entry table[] = {
    {"help", NULL, ARGS_OPT_WORD, false, "help [COMMAND]",
     "List the commands, or explain one.", cmd_help, "help follow"},
    {"post", NULL, ARGS_TEXT, false, "post TEXT",
     "Post TEXT even if it reads like a command.", cmd_post,
     "post follow the white rabbit"},
    {"follow", NULL, ARGS_FOLLOW, false, "follow NICK [digest]",
     "Receive NICK's posts as they come, or with digest gathered into one "
     "message a day.",
     cmd_follow, "follow alice digest"},
    {"unfollow", NULL, ARGS_NICK, false, "unfollow NICK",
     "Stop receiving NICK's posts.", cmd_unfollow, "unfollow alice"},
    {"followers", NULL, ARGS_NONE, false, "followers", "Who follows you.",
     cmd_followers, "followers"},
    {"following", NULL, ARGS_NONE, false, "following", "Whom you follow.",
     cmd_following, "following"},
    {"remove", NULL, ARGS_NICK, false, "remove NICK",
     "Stop NICK following you, without blocking them.", cmd_remove,
     "remove bob"},
    {"notices", NULL, ARGS_ONOFF, false, "notices on|off",
     "Whether you are told when someone follows you.", cmd_notices,
     "notices off"},
    {"on", NULL, ARGS_NONE, false, "on", "Resume all deliveries to you.",
     cmd_on, "on"},
    {"off", NULL, ARGS_NONE, false, "off",
     "Pause all deliveries to you; nothing is held meanwhile.", cmd_off, "off"},
    {"away", NULL, ARGS_ONOFF, false, "away on|off",
     "Whether updates reach you while you are away or xa.", cmd_away,
     "away on"},
    {"last", NULL, ARGS_LAST, false, "last [NICK|#tag] [N]",
     "The last N posts (default 10, at most 50) of your timeline, of NICK, "
     "or tagged #tag (\"#tag\" alone does the same), newest first.",
     cmd_last, "last #xmpp 20"},
    {"more", NULL, ARGS_NONE, false, "more",
     "Continue the last listing where it stopped.", cmd_more, "more"},
    {"show", NULL, ARGS_POSTNUM, false, "show #N",
     "Post N with its replies (\"#N\" alone does the same).", cmd_show, "#12"},
    {"reply", NULL, ARGS_POSTNUM_TEXT, false, "reply #N TEXT",
     "Reply to post N (\"#N TEXT\" does the same).", cmd_reply, "#12 I agree"},
    {"rt", "repeat", ARGS_POSTNUM, false, "rt #N",
     "Pass post N on to your followers (\"repeat #N\" does the same).",
     cmd_repeat, "rt #12"},
    {"mute", NULL, ARGS_POSTNUM, false, "mute #N",
     "Replies in the thread of post N no longer reach you.", cmd_mute,
     "mute #12"},
    {"unmute", NULL, ARGS_POSTNUM, false, "unmute #N",
     "Replies in the thread of post N reach you again.", cmd_unmute,
     "unmute #12"},
    {"delete", NULL, ARGS_POSTNUM, false, "delete #N", "Delete your post N.",
     cmd_delete, "delete #12"},
    {"delete me", NULL, ARGS_CODE, false, "delete me [CODE]",
     "Leave for good: erase your posts, follows, followers, favourites and "
     "settings.  Asks for a code first.",
     cmd_delete_me, "delete me"},
    {"d", "dm", ARGS_NICK_TEXT, false, "d NICK TEXT",
     "A private message to NICK, who must follow you.", cmd_dm,
     "d alice see you at 8?"},
    {"whois", NULL, ARGS_NICK, false, "whois NICK",
     "Who NICK is: bio, joined, posts, followers, following.", cmd_whois,
     "whois alice"},
    {"nick", NULL, ARGS_NICK, false, "nick NEW",
     "Change your nick (a-z, 0-9 and _, at most 32).", cmd_nick, "nick ally"},
    {"bio", NULL, ARGS_TEXT, false, "bio TEXT, or bio - to clear it",
     "Set your bio (at most 160 characters); \"bio -\" clears it.", cmd_bio,
     "bio Gardener and XMPP fan"},
    {"mentions", NULL, ARGS_NONE, false, "mentions",
     "The last posts that mention you.", cmd_mentions, "mentions"},
    {"dms", NULL, ARGS_NONE, false, "dms",
     "Your private messages, sent and received, newest first.", cmd_dms, "dms"},
    {"fav", NULL, ARGS_POSTNUM, false, "fav #N",
     "Keep post N among your favourites; its author is told.", cmd_fav,
     "fav #12"},
    {"unfav", NULL, ARGS_POSTNUM, false, "unfav #N",
     "Take post N out of your favourites.", cmd_unfav, "unfav #12"},
    {"favs", NULL, ARGS_NONE, false, "favs",
     "Your favourite posts, newest first.", cmd_favs, "favs"},
    {"track", NULL, ARGS_TERM, false, "track WORD|#tag",
     "Receive every post containing WORD, or tagged #tag (at most 20).",
     cmd_track, "track #xmpp"},
    {"untrack", NULL, ARGS_TERM, false, "untrack WORD|#tag",
     "Stop tracking WORD or #tag.", cmd_untrack, "untrack #xmpp"},
    {"tracking", NULL, ARGS_NONE, false, "tracking", "The words you track.",
     cmd_tracking, "tracking"},
    {"search", NULL, ARGS_TEXT, false, "search WORDS",
     "Posts containing all of WORDS, newest first.", cmd_search,
     "search xmpp bots"},
    {"block", NULL, ARGS_NICK, false, "block NICK",
     "NICK can no longer follow, mention or message you.", cmd_block,
     "block spammer"},
    {"unblock", NULL, ARGS_NICK, false, "unblock NICK", "Undo block NICK.",
     cmd_unblock, "unblock spammer"},
    {"tz", NULL, ARGS_OPT_ZONE, false, "tz [ZONE]",
     "Show or set your time zone (an IANA name), for quiet hours, digests "
     "and dates.",
     cmd_tz, "tz Europe/Berlin"},
    {"quiet", NULL, ARGS_QUIET, false, "quiet [HH:MM-HH:MM|off]",
     "Show or set the hours of your day when updates wait for you.", cmd_quiet,
     "quiet 23:00-07:00"},
    {"export", NULL, ARGS_NONE, false, "export",
     "Everything the service holds about you, as one JSON document (once "
     "an hour).",
     cmd_export, "export"},
    {"digest", NULL, ARGS_OPT_CLOCK, false, "digest [HH:MM]",
     "Show or set the time of your daily digest (see follow).", cmd_digest,
     "digest 08:00"},
    {"stats", NULL, ARGS_NONE, true, "stats",
     "Users, posts, follows, held deliveries, uptime.", cmd_stats, "stats"},
    {"ban", NULL, ARGS_NICK_OPT_TEXT, true, "ban NICK [REASON]",
     "NICK can no longer post, follow or message.", cmd_ban,
     "ban spammer links to malware"},
    {"unban", NULL, ARGS_NICK, true, "unban NICK", "Lift a ban.", cmd_unban,
     "unban spammer"},
    {"broadcast", NULL, ARGS_TEXT, true, "broadcast TEXT",
     "An announcement to every active user.", cmd_broadcast,
     "broadcast maintenance at 22:00 UTC"},
    {"erase", NULL, ARGS_NICK, true, "erase NICK",
     "Erase NICK's account as \"delete me\" does (audited).", cmd_erase,
     "erase spammer"},
    {NULL, NULL, ARGS_NONE, false, NULL, NULL, NULL, NULL},
};

const struct cmd_entry *cmd_table(void)
{
    return table;
}

static const struct cmd_entry *find_n(const char *name, size_t len)
{
    for (const struct cmd_entry *e = table; e->name != NULL; e++) {
        if (strlen(e->name) == len && strncasecmp(e->name, name, len) == 0)
            return e;
        if (e->alias != NULL && strlen(e->alias) == len &&
            strncasecmp(e->alias, name, len) == 0)
            return e;
    }
    return NULL;
}

const struct cmd_entry *cmd_find(const char *name)
{
    return find_n(name, strlen(name));
}

/* The parser ------------------------------------------------------------ */

static bool is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_sep(const char *p)
{
    while (*p != '\0' && is_sep(*p))
        p++;
    return p;
}

/* Up to max word spans of s; returns the total number of words. */
struct span {
    const char *s;
    size_t n;
};

static size_t words(const char *s, struct span *w, size_t max)
{
    size_t count = 0;

    for (s = skip_sep(s); *s != '\0'; s = skip_sep(s)) {
        const char *start = s;

        while (*s != '\0' && !is_sep(*s))
            s++;
        if (count < max) {
            w[count].s = start;
            w[count].n = (size_t)(s - start);
        }
        count++;
    }
    return count;
}

/* "#12" or "12" -> 12; 0 for anything else (0, negative, overflow). */
static int64_t post_number(const char *s, size_t n)
{
    int64_t v = 0;

    if (n > 0 && *s == '#') {
        s++;
        n--;
    }
    if (n == 0 || n > 19)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (v > (INT64_MAX - (s[i] - '0')) / 10)
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

static bool nick_arg(const struct span *w, char *out)
{
    char tmp[NICK_MAX + 3];

    if (w->n == 0 || w->n > NICK_MAX + 1)
        return false;
    memcpy(tmp, w->s, w->n);
    tmp[w->n] = '\0';
    return nick_parse(tmp, out) == 0;
}

/* A track word: letters, digits, _ (any non-ASCII byte counts as a
 * letter); ASCII lower-cased here, fully by the handler. */
static bool word_arg(const struct span *w, char *out, size_t size)
{
    if (w->n == 0 || w->n >= size)
        return false;
    for (size_t i = 0; i < w->n; i++) {
        unsigned char ch = (unsigned char)w->s[i];

        if (!(isalnum(ch) || ch == '_' || ch >= 0x80))
            return false;
        out[i] = (char)tolower(ch);
    }
    out[w->n] = '\0';
    return utf8_valid(out, w->n);
}

/* "#word" (word as for word_arg, not all digits) -> "#word", ASCII
 * lower-cased here, fully by the handler. */
static bool tag_arg(const struct span *w, char *out, size_t size)
{
    struct span word = {w->s + 1, w->n - 1};

    if (w->n < 2 || w->s[0] != '#' || all_digits(word.s, word.n))
        return false;
    out[0] = '#';
    return word_arg(&word, out + 1, size - 1);
}

/* A time zone name as typed (the handler checks the database). */
static bool zone_arg(const struct span *w, char *out, size_t size)
{
    if (w->n == 0 || w->n >= size)
        return false;
    for (size_t i = 0; i < w->n; i++) {
        unsigned char ch = (unsigned char)w->s[i];

        if (!(isalnum(ch) || ch == '_' || ch == '-' || ch == '+' || ch == '/'))
            return false;
    }
    memcpy(out, w->s, w->n);
    out[w->n] = '\0';
    return true;
}

/* "7:05", "07:05" -> minute of the day 425. */
static bool clock_n(const char *s, size_t n, int *out)
{
    size_t colon = n >= 4 && s[n - 3] == ':' ? n - 3 : 0;
    int64_t h, m;

    if (colon == 0 || colon > 2 || !all_digits(s, colon) ||
        !all_digits(s + colon + 1, 2))
        return false;
    h = post_number(s, colon);
    m = post_number(s + colon + 1, 2);
    if (h > 23 || m > 59)
        return false;
    *out = (int)(h * 60 + m);
    return true;
}

static bool clock_arg(const struct span *w, int *out)
{
    return clock_n(w->s, w->n, out);
}

/* quiet's argument words: "23:00-07:00", "23:00 07:00", "23:00 - 07:00",
 * "23:00 to 07:00". */
static bool range_arg(const struct span *arg, size_t nargs, int *from, int *to)
{
    const char *dash;

    if (nargs == 1) {
        dash = memchr(arg[0].s, '-', arg[0].n);
        return dash != NULL &&
               clock_n(arg[0].s, (size_t)(dash - arg[0].s), from) &&
               clock_n(dash + 1, arg[0].n - (size_t)(dash - arg[0].s) - 1,
                       to) &&
               *from != *to;
    }
    if (nargs == 3 && !((arg[1].n == 1 && arg[1].s[0] == '-') ||
                        (arg[1].n == 2 && strncasecmp(arg[1].s, "to", 2) == 0)))
        return false;
    return (nargs == 2 || nargs == 3) && clock_arg(&arg[0], from) &&
           clock_arg(&arg[nargs - 1], to) && *from != *to;
}

static bool is_word(const struct span *w, const char *word)
{
    return w->n == strlen(word) && strncasecmp(w->s, word, w->n) == 0;
}

static bool onoff_arg(const struct span *w, bool *out)
{
    if (w->n == 2 && strncasecmp(w->s, "on", 2) == 0)
        *out = true;
    else if (w->n == 3 && strncasecmp(w->s, "off", 3) == 0)
        *out = false;
    else
        return false;
    return true;
}

static bool count_arg(const struct span *w, int *out)
{
    int64_t v = post_number(w->s, w->n);

    if (!all_digits(w->s, w->n) || v < 1 || v > LAST_MAX)
        return false;
    *out = (int)v;
    return true;
}

/* Fit the arguments (words w[1..nw-1], rest = text after the keyword). */
static enum cmd_result fit(const struct cmd_entry *e, const struct span *w,
                           size_t nw, const char *rest, struct cmd_args *a)
{
    size_t nargs = nw - 1;
    const struct span *arg = w + 1;

    switch (e->shape) {
    case ARGS_NONE:
        return nargs == 0 ? CMD_OK : CMD_POST;
    case ARGS_OPT_WORD:
        /* "help delete me" */
        if (nargs == 2 && is_word(&arg[0], "delete") &&
            is_word(&arg[1], "me")) {
            snprintf(a->word, sizeof(a->word), "delete me");
            return CMD_OK;
        }
        if (nargs > 1)
            return CMD_POST;
        if (nargs == 1 && !word_arg(&arg[0], a->word, sizeof(a->word)))
            return CMD_USAGE;
        return CMD_OK;
    case ARGS_TEXT:
        a->text = rest;
        return *rest != '\0' ? CMD_OK : CMD_USAGE;
    case ARGS_NICK:
        if (nargs > 1)
            return CMD_POST;
        return nargs == 1 && nick_arg(&arg[0], a->nick) ? CMD_OK : CMD_USAGE;
    case ARGS_NICK_TEXT:
    case ARGS_NICK_OPT_TEXT:
        if (nargs == 0 || !nick_arg(&arg[0], a->nick))
            return CMD_USAGE;
        a->text = skip_sep(arg[0].s + arg[0].n);
        if (e->shape == ARGS_NICK_TEXT && *a->text == '\0')
            return CMD_USAGE;
        return CMD_OK;
    case ARGS_POSTNUM:
        if (nargs > 1)
            return CMD_POST;
        if (nargs == 0 || (a->num = post_number(arg[0].s, arg[0].n)) == 0)
            return CMD_USAGE;
        return CMD_OK;
    case ARGS_POSTNUM_TEXT:
        if (nargs < 2 || (a->num = post_number(arg[0].s, arg[0].n)) == 0)
            return CMD_USAGE;
        a->text = skip_sep(arg[0].s + arg[0].n);
        return CMD_OK;
    case ARGS_ONOFF:
        if (nargs > 1)
            return CMD_POST;
        return nargs == 1 && onoff_arg(&arg[0], &a->flag) ? CMD_OK : CMD_USAGE;
    case ARGS_WORD:
        if (nargs > 1)
            return CMD_POST;
        return nargs == 1 && word_arg(&arg[0], a->word, sizeof(a->word))
                   ? CMD_OK
                   : CMD_USAGE;
    case ARGS_LAST:
        if (nargs > 2)
            return CMD_POST;
        if (nargs == 0)
            return CMD_OK;
        if (nargs == 1 && all_digits(arg[0].s, arg[0].n))
            return count_arg(&arg[0], &a->count) ? CMD_OK : CMD_USAGE;
        if (!(arg[0].s[0] == '#' ? tag_arg(&arg[0], a->word, sizeof(a->word))
                                 : nick_arg(&arg[0], a->nick)))
            return CMD_USAGE;
        return nargs == 1 || count_arg(&arg[1], &a->count) ? CMD_OK : CMD_USAGE;
    case ARGS_FOLLOW:
        if (nargs > 2 ||
            (nargs == 2 &&
             !(arg[1].n == 6 && strncasecmp(arg[1].s, "digest", 6) == 0)))
            return CMD_POST;
        a->flag = nargs == 2;
        return nargs >= 1 && nick_arg(&arg[0], a->nick) ? CMD_OK : CMD_USAGE;
    case ARGS_TERM:
        if (nargs > 1)
            return CMD_POST;
        if (nargs == 0)
            return CMD_USAGE;
        return (arg[0].s[0] == '#'
                    ? tag_arg(&arg[0], a->word, sizeof(a->word))
                    : word_arg(&arg[0], a->word, sizeof(a->word)))
                   ? CMD_OK
                   : CMD_USAGE;
    case ARGS_OPT_ZONE:
        if (nargs > 1)
            return CMD_POST;
        a->flag = nargs == 1;
        return nargs == 0 || zone_arg(&arg[0], a->word, sizeof(a->word))
                   ? CMD_OK
                   : CMD_USAGE;
    case ARGS_QUIET:
        a->flag = nargs > 0;
        a->start_min = a->end_min = -1;
        if (nargs == 0 || (nargs == 1 && arg[0].n == 3 &&
                           strncasecmp(arg[0].s, "off", 3) == 0))
            return CMD_OK;
        if (range_arg(arg, nargs, &a->start_min, &a->end_min))
            return CMD_OK;
        /* "quiet night tonight" is a post; "quiet 23:00 till 7" is not. */
        return nargs == 1 || clock_n(arg[0].s, strcspn(arg[0].s, "- \t\n"),
                                     &a->start_min)
                   ? CMD_USAGE
                   : CMD_POST;
    case ARGS_CODE:
        if (nargs > 1)
            return CMD_USAGE;
        a->flag = nargs == 1;
        if (nargs == 0)
            return CMD_OK;
        if (arg[0].n != CMD_CODE_DIGITS || !all_digits(arg[0].s, arg[0].n))
            return CMD_USAGE;
        memcpy(a->word, arg[0].s, arg[0].n);
        a->word[arg[0].n] = '\0';
        return CMD_OK;
    case ARGS_OPT_CLOCK:
        if (nargs > 1)
            return CMD_POST;
        a->flag = nargs == 1;
        a->start_min = -1;
        return nargs == 0 || clock_arg(&arg[0], &a->start_min) ? CMD_OK
                                                               : CMD_USAGE;
    }
    return CMD_POST;
}

bool cmd_guarded(const struct cmd_entry *e)
{
    return e->admin || e->shape == ARGS_POSTNUM ||
           e->shape == ARGS_POSTNUM_TEXT || e->shape == ARGS_CODE;
}

/* The command a first word names; "?" and "help?" are help too. */
static const struct cmd_entry *keyword(const char *s, size_t n)
{
    if ((n == 1 && s[0] == '?') || (n == 5 && strncasecmp(s, "help?", 5) == 0))
        return cmd_find("help");
    return find_n(s, n);
}

void cmd_parse(const char *msg, struct cmd_parsed *p)
{
    struct span w[4];
    size_t nw;
    const char *rest;

    memset(p, 0, sizeof(*p));
    p->result = CMD_POST;
    nw = words(msg, w, 4);
    if (nw == 0)
        return;

    /* "#tag" alone lists the posts tagged so ("last #tag"). */
    if (nw == 1 && tag_arg(&w[0], p->args.word, sizeof(p->args.word))) {
        p->cmd = cmd_find("last");
        p->result = CMD_OK;
        return;
    }
    /* "#N" shows post N, "#N TEXT" replies to it. */
    if (w[0].s[0] == '#' && all_digits(w[0].s + 1, w[0].n - 1)) {
        p->args.num = post_number(w[0].s, w[0].n);
        rest = skip_sep(w[0].s + w[0].n);
        p->cmd = cmd_find(*rest == '\0' ? "show" : "reply");
        p->args.text = *rest != '\0' ? rest : NULL;
        p->result = p->args.num > 0 ? CMD_OK : CMD_USAGE;
        return;
    }
    if ((p->cmd = keyword(w[0].s, w[0].n)) == NULL)
        return;
    /* "delete me [CODE]": two words name the command (its form reads one
     * argument word, w[2]). */
    if (nw >= 2 && strcmp(p->cmd->name, "delete") == 0 &&
        is_word(&w[1], "me")) {
        p->cmd = cmd_find("delete me");
        rest = skip_sep(w[1].s + w[1].n);
        p->result = fit(p->cmd, w + 1, nw - 1, rest, &p->args);
        return;
    }
    rest = skip_sep(w[0].s + w[0].n);
    /* fit() looks at no more than the first three words. */
    p->result = fit(p->cmd, w, nw, rest, &p->args);
    if (p->result == CMD_POST && cmd_guarded(p->cmd))
        p->result = CMD_USAGE;
    if (p->result == CMD_POST) {
        p->cmd = NULL;
        memset(&p->args, 0, sizeof(p->args));
    }
}

/* Running commands ------------------------------------------------------- */

void cmd_handle(struct cmd_ctx *c, char *msg)
{
    struct cmd_parsed p;
    const char *rest;
    int64_t quoted;

    text_trim(msg);
    /* A client that quotes instead of replying (XEP-0461): a reply. */
    if (cmd_quoted_reply(msg, &quoted, &rest)) {
        struct cmd_args a = {.num = quoted, .text = rest};

        cmd_reply(c, &a);
        return;
    }
    cmd_parse(msg, &p);
    if (p.result != CMD_POST)
        cmd_remember(c);
    if (p.result != CMD_POST && p.cmd->admin && !c->admin) {
        buf_append(c->reply, "Not permitted.");
        return;
    }
    switch (p.result) {
    case CMD_POST:
        cmd_post_text(c, msg, 0);
        break;
    case CMD_USAGE:
        buf_printf(c->reply, "Usage: %s", p.cmd->usage);
        if (cmd_guarded(p.cmd))
            buf_append(c->reply, " (to post this text, send: post TEXT)");
        break;
    case CMD_OK:
        p.cmd->fn(c, &p.args);
        break;
    }
}

void cmd_failed(struct cmd_ctx *c)
{
    buf_reset(c->reply);
    /* A full disk is not the user's doing, and it passes: say so. */
    buf_append(c->reply, store_writable(c->bot->store)
                             ? "Sorry, something went wrong; please try again."
                             : BOT_STORE_REFUSAL);
}

bool cmd_user_arg(struct cmd_ctx *c, const char *nick, struct user *out)
{
    int r = store_user_by_nick(c->bot->store, nick, out);

    if (r < 0)
        cmd_failed(c);
    else if (r == 0)
        buf_printf(c->reply, "No user %s.", nick);
    return r == 1;
}

void cmd_format_post(struct buf *b, const struct post *p, const char *when)
{
    if (b->len > 0)
        buf_append(b, "\n");
    buf_printf(b, "#%lld %s", (long long)p->id, p->author_nick);
    if (p->reply_to > 0)
        buf_printf(b, " (re #%lld)", (long long)p->reply_to);
    if (when != NULL)
        buf_printf(b, " \xc2\xb7 %s", when);
    buf_printf(b, ": %s", p->body);
}

void cmd_audit(struct cmd_ctx *c, const char *action, const char *detail)
{
    store_audit(c->bot->store, c->user->jid, action, detail, c->bot->now());
    log_info("admin %s: %s %s", c->user->jid, action, detail);
}

static int collect(void *ud, const char *item)
{
    struct collected *list = ud;

    list->v[list->n++] = xstrdup(item);
    return 0;
}

static void collected_free(struct collected *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i]);
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static int got_post(void *ud, const struct post *p)
{
    struct cmd_got *g = ud;

    g->p = *p;
    g->body = xstrdup(p->body);
    utf8_copy(g->nick, sizeof(g->nick), p->author_nick);
    g->p.body = g->body;
    g->p.author_nick = g->nick;
    return 0;
}

bool cmd_get_post(struct cmd_ctx *c, int64_t id, struct cmd_got *g,
                  bool public_only)
{
    int r;

    memset(g, 0, sizeof(*g));
    r = store_post_get(c->bot->store, id, got_post, g);
    if (r < 0) {
        cmd_failed(c);
        return false;
    }
    if (r == 0 || g->body == NULL ||
        (public_only && g->p.kind != POST_PUBLIC)) {
        free(g->body);
        g->body = NULL;
        buf_printf(c->reply, "No post #%lld.", (long long)id);
        return false;
    }
    return true;
}

/* A tag is indexed as itself and tracked as "#tag" among the words, so
 * that "track #tag" matches the tag and not every use of the word. */
struct tagged {
    struct collected *tags, *words;
};

static int collect_tag(void *ud, const char *tag)
{
    struct tagged *t = ud;

    if (strlen(tag) <= TAG_BYTES) {
        t->tags->v[t->tags->n++] = xstrdup(tag);
        t->words->v[t->words->n++] = xasprintf("#%s", tag);
    }
    return 0;
}

void cmd_post_parts(const char *text, struct post_parts *pp, struct post_new *p)
{
    struct tagged tagged = {&pp->tags, &pp->words};

    pp->mentions.v = xcalloc(MENTIONS_MAX, sizeof(char *));
    match_mentions(text, MENTIONS_MAX, collect, &pp->mentions);
    /* Room for the tags too, which are tracked as "#tag" words. */
    pp->words.v = xcalloc(WORDS_MAX + TAGS_MAX, sizeof(char *));
    match_words(text, WORDS_MAX, collect, &pp->words);
    pp->tags.v = xcalloc(TAGS_MAX, sizeof(char *));
    match_tags(text, TAGS_MAX, collect_tag, &tagged);
    p->mentions = (const char *const *)pp->mentions.v;
    p->n_mentions = pp->mentions.n;
    p->words = (const char *const *)pp->words.v;
    p->n_words = pp->words.n;
    p->tags = (const char *const *)pp->tags.v;
    p->n_tags = pp->tags.n;
}

void cmd_post_parts_free(struct post_parts *pp)
{
    collected_free(&pp->mentions);
    collected_free(&pp->words);
    collected_free(&pp->tags);
}

bool cmd_refuse_banned(struct cmd_ctx *c)
{
    if (!c->user->banned)
        return false;
    buf_printf(c->reply, "You are banned%s%s%s.",
               c->user->ban_reason[0] ? " (" : "", c->user->ban_reason,
               c->user->ban_reason[0] ? ")" : "");
    return true;
}

int64_t cmd_store_post(struct cmd_ctx *c, const char *text, enum post_kind kind,
                       int64_t reply_to, int64_t to_user)
{
    const struct config *cfg = c->bot->cfg;
    enum post_check check;
    struct post_new p = {0};
    struct post_parts parts = {0};
    int64_t id = 0, recent;
    int r;

    if (cmd_refuse_banned(c))
        return 0;
    check = text_check_post(text, (size_t)cfg->bot.post_max_chars);
    if (check != POST_OK) {
        buf_append(c->reply, text_post_check_reason(check));
        if (check == POST_TOO_LONG)
            buf_printf(c->reply, " The limit is %d characters.",
                       cfg->bot.post_max_chars);
        buf_append(c->reply, " Nothing was posted.");
        return 0;
    }
    p.author = c->user->id;
    p.body = text;
    p.created = c->bot->now();
    p.reply_to = reply_to;
    p.kind = kind;
    p.to_user = to_user;
    p.stanza_id = c->stanza_id;
    p.origin_id = c->origin_id;
    /* A resend (SPEC 4) gets its number again, even at the rate limit. */
    if ((r = store_post_dup(c->bot->store, &p, &id)) != 0) {
        if (r < 0)
            cmd_failed(c);
        return r < 0 ? 0 : id;
    }
    if (kind != POST_BROADCAST) {
        if (store_posts_since(c->bot->store, c->user->id, p.created - 60,
                              &recent) < 0) {
            cmd_failed(c);
            return 0;
        }
        if (recent >= cfg->bot.posts_per_minute) {
            buf_printf(c->reply,
                       "You are posting too fast (at most %d a minute); "
                       "nothing was posted.",
                       cfg->bot.posts_per_minute);
            return 0;
        }
    }
    if (kind == POST_PUBLIC)
        cmd_post_parts(text, &parts, &p);
    r = store_post_add(c->bot->store, &p, &id, NULL);
    cmd_post_parts_free(&parts);
    if (r < 0) {
        cmd_failed(c);
        return 0;
    }
    /* Stored (r == 1: stored before).  Inside the loop's batch nothing
     * this queues leaves before the batch commits (main.c). */
    if (r == 0)
        delivery_post_committed(c->bot->delivery, id);
    return id;
}

void cmd_post_text(struct cmd_ctx *c, const char *text, int64_t reply_to)
{
    int64_t id = cmd_store_post(c, text, POST_PUBLIC, reply_to, 0);

    if (id == 0)
        return;
    if (reply_to > 0)
        buf_printf(c->reply, "Replied to #%lld as #%lld.", (long long)reply_to,
                   (long long)id);
    else
        buf_printf(c->reply, "Posted #%lld.", (long long)id);
}

void cmd_post(struct cmd_ctx *c, const struct cmd_args *a)
{
    cmd_post_text(c, a->text, 0);
}

void cmd_help(struct cmd_ctx *c, const struct cmd_args *a)
{
    const struct cmd_entry *e;

    if (a->word[0] != '\0') {
        e = cmd_find(a->word);
        if (e == NULL || (e->admin && !c->admin))
            buf_printf(c->reply, "No command %s. Send help for the list.",
                       a->word);
        else {
            buf_printf(c->reply, "%s - %s", e->usage, e->help);
            if (e->example != NULL)
                buf_printf(c->reply, "\nExample: %s", e->example);
        }
        return;
    }
    buf_append(c->reply, "Send any text to post it. Commands:");
    for (e = table; e->name != NULL; e++)
        if (!e->admin)
            buf_printf(c->reply, "\n  %s", e->usage);
    if (c->admin) {
        buf_append(c->reply, "\nAdmin:");
        for (e = table; e->name != NULL; e++)
            if (e->admin)
                buf_printf(c->reply, "\n  %s", e->usage);
        buf_append(c->reply, "\n  delete #N (any post), whois NICK (with JID)");
    }
    buf_append(c->reply, "\n\"help COMMAND\" explains one.");
}
