/*
 * cmd_social.c - what Juick and identi.ca regulars expect beyond SPEC 5
 * (issue 15): favourites, removing a follower, follow notices, time
 * zone, quiet hours and the digest time.
 *
 * Settings are stored here; acting on them (holding updates during
 * quiet hours, gathering digests) is the delivery engine's, which reads
 * them with store_prefs_get() and computes with zone_quiet() and
 * zone_next().  Notices to other users ("alice faved #12", "alice now
 * follows you") go out through bot->notice, each at most once per
 * (user, post) or (follower, user): the store remembers what was told.
 * "export" hands export.h's document over once an hour: as a file through
 * the server's upload service (XEP-0363, bot->upload) when there is one
 * that takes it, else, or when that fails, as chat messages of bounded
 * size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "export.h"
#include "zone.h"

#define EXPORT_EVERY    3600 /* seconds between two exports of a user */
#define EXPORT_PIECE    3000 /* bytes of the document a chat message */
#define EXPORT_PIECES   100  /* messages at most: larger needs a file */
#define EXPORT_CHAT_MAX ((size_t)EXPORT_PIECE * EXPORT_PIECES)
#define EXPORT_FILE_MAX ((size_t)10 << 20) /* as a file, at most */

void cmd_clock(int minute, char *out)
{
    if (minute < 0 || minute >= 24 * 60)
        minute = 0;
    snprintf(out, 6, "%02d:%02d", minute / 60, minute % 60);
}

int cmd_copy_word(void *ud, const char *item)
{
    size_t n = strlen(item);

    if (n < 63)
        memcpy(ud, item, n + 1);
    return 1;
}

bool cmd_prefs(struct cmd_ctx *c, struct prefs *out)
{
    if (store_prefs_get(c->bot->store, c->user->id, out) < 0) {
        cmd_failed(c);
        return false;
    }
    return true;
}

static bool save_prefs(struct cmd_ctx *c, const struct prefs *p)
{
    if (store_prefs_put(c->bot->store, c->user->id, p) < 0) {
        cmd_failed(c);
        return false;
    }
    return true;
}

/* Quiet hours, the digest time or the zone they are read in changed: the
 * delivery engine looks again at what it holds for the user. */
static void hours_changed(struct cmd_ctx *c)
{
    delivery_user_changed(c->bot->delivery, c->user->id);
}

void cmd_notice(struct cmd_ctx *c, const struct user *to, const char *text)
{
    struct bot *b = c->bot;

    if (b->notice != NULL)
        b->notice(b, to->jid, text);
    else
        b->reply(b, to->jid, text);
}

/* Favourites ------------------------------------------------------------ */

/* "alice faved #12" to the author, once per user and post, unless the
 * author is the faver, gone, or blocks them. */
static void tell_faved(struct cmd_ctx *c, const struct cmd_got *g)
{
    struct store *st = c->bot->store;
    struct user author;
    char *text;

    if (g->p.author == c->user->id ||
        store_user_by_id(st, g->p.author, &author) != 1 || !author.active ||
        author.banned || store_is_blocked(st, author.id, c->user->id) != 0 ||
        store_told_once(st, TOLD_FAV, c->user->id, g->p.id) != 1)
        return;
    text = xasprintf("%s faved #%lld.", c->user->nick, (long long)g->p.id);
    cmd_notice(c, &author, text);
    free(text);
}

void cmd_fav(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct cmd_got g;
    int r;

    if (cmd_refuse_banned(c) || !cmd_get_post(c, a->num, &g, true))
        return;
    r = store_fav_add(c->bot->store, c->user->id, a->num, c->bot->now());
    if (r < 0)
        cmd_failed(c);
    else if (r == 1)
        buf_printf(c->reply, "#%lld is already among your favourites.",
                   (long long)a->num);
    else {
        buf_printf(c->reply, "Faved #%lld.", (long long)a->num);
        tell_faved(c, &g);
    }
    free(g.body);
}

void cmd_unfav(struct cmd_ctx *c, const struct cmd_args *a)
{
    int r = store_fav_del(c->bot->store, c->user->id, a->num);

    if (r < 0)
        cmd_failed(c);
    else if (r == 1)
        buf_printf(c->reply, "#%lld is not among your favourites.",
                   (long long)a->num);
    else
        buf_printf(c->reply, "Unfaved #%lld.", (long long)a->num);
}

/* Followers ------------------------------------------------------------- */

void cmd_remove(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct user t;
    int r;

    if (!cmd_user_arg(c, a->nick, &t))
        return;
    if (t.id == c->user->id) {
        buf_append(c->reply, "You don't follow yourself.");
        return;
    }
    r = store_unfollow(c->bot->store, t.id, c->user->id);
    if (r < 0)
        cmd_failed(c);
    else if (r == 1)
        buf_printf(c->reply, "%s doesn't follow you.", t.nick);
    else
        buf_printf(c->reply,
                   "%s no longer follows you (and may follow you again; "
                   "\"block %s\" stops that).",
                   t.nick, t.nick);
}

void cmd_notices(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct prefs p;

    if (!cmd_prefs(c, &p))
        return;
    p.notices = a->flag;
    if (save_prefs(c, &p))
        buf_append(c->reply, a->flag
                                 ? "You will be told when someone follows you."
                                 : "You will no longer be told when someone "
                                   "follows you.");
}

/* Time zone, quiet hours, digest ------------------------------------------ */

/* " (Europe/Berlin)" or " (UTC; set your time zone with \"tz ZONE\")" */
static void zone_note(struct buf *b, const struct prefs *p)
{
    if (p->tz[0] != '\0')
        buf_printf(b, " (%s)", p->tz);
    else
        buf_append(b, " (UTC; set your time zone with \"tz ZONE\")");
}

void cmd_tz(struct cmd_ctx *c, const struct cmd_args *a)
{
    char name[ZONE_NAME_MAX + 1], at[8];
    struct prefs p;
    struct tm tm;

    if (!cmd_prefs(c, &p))
        return;
    if (a->flag) {
        if (zone_canonical(a->word, name) < 0) {
            buf_printf(c->reply,
                       "Unknown time zone %s. Use a name of the IANA time "
                       "zone database, such as Europe/Berlin or "
                       "America/New_York.",
                       a->word);
            return;
        }
        snprintf(p.tz, sizeof(p.tz), "%s", name);
        if (!save_prefs(c, &p))
            return;
        hours_changed(c);
    }
    if (p.tz[0] == '\0') {
        buf_append(c->reply, "Your time zone is UTC (not set). Set it with "
                             "\"tz ZONE\", for example \"tz Europe/Berlin\".");
        return;
    }
    zone_local(p.tz, c->bot->now(), &tm);
    cmd_clock(tm.tm_hour * 60 + tm.tm_min, at);
    buf_printf(c->reply, "Your time zone is %s%s (local time %s).",
               a->flag ? "now " : "", p.tz, at);
}

void cmd_quiet(struct cmd_ctx *c, const struct cmd_args *a)
{
    char from[8], to[8], until[8];
    struct prefs p;
    time_t ends;
    struct tm tm;

    if (!cmd_prefs(c, &p))
        return;
    if (a->flag) {
        p.quiet_start = a->start_min;
        p.quiet_end = a->end_min;
        if (!save_prefs(c, &p))
            return;
        hours_changed(c);
    }
    if (p.quiet_start < 0) {
        buf_append(c->reply, a->flag ? "Quiet hours off."
                                     : "No quiet hours. Set them with "
                                       "\"quiet 23:00-07:00\".");
        return;
    }
    cmd_clock(p.quiet_start, from);
    cmd_clock(p.quiet_end, to);
    buf_printf(c->reply, "Quiet hours %s-%s", from, to);
    zone_note(c->reply, &p);
    buf_append(c->reply, ": updates wait during them and come when they end.");
    if (zone_quiet(p.tz, p.quiet_start, p.quiet_end, c->bot->now(), &ends)) {
        zone_local(p.tz, ends, &tm);
        cmd_clock(tm.tm_hour * 60 + tm.tm_min, until);
        buf_printf(c->reply, " Quiet now, until %s.", until);
    }
}

void cmd_digest(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct prefs p;
    char at[8];

    if (!cmd_prefs(c, &p))
        return;
    if (a->flag) {
        p.digest_at = a->start_min;
        if (!save_prefs(c, &p))
            return;
        hours_changed(c);
    }
    cmd_clock(p.digest_at, at);
    buf_printf(c->reply, "Your daily digest comes at %s", at);
    zone_note(c->reply, &p);
    buf_append(c->reply, ". \"follow NICK digest\" puts NICK's posts in it.");
}

/* Export ---------------------------------------------------------------- */

/* The document goes out as a first message saying how to read it, then
 * the pieces in order; each piece is whole UTF-8. */
static void send_pieces(struct bot *b, const char *to, const struct buf *doc)
{
    size_t n = 0, off, len;
    char *text;

    for (off = 0; off < doc->len; off += len, n++)
        len = export_piece(doc->s + off, doc->len - off, EXPORT_PIECE);
    text = xasprintf("Your export: a JSON document of %zu bytes in the %zu "
                     "message%s below; join their texts in order. Its "
                     "format is \"starling-export\" version 1.",
                     doc->len, n, n == 1 ? "" : "s");
    b->reply(b, to, text);
    free(text);
    for (off = 0; off < doc->len; off += len) {
        len = export_piece(doc->s + off, doc->len - off, EXPORT_PIECE);
        text = xstrndup(doc->s + off, len);
        b->reply(b, to, text);
        free(text);
    }
}

/* The largest document the bot can hand over as a file now (0: none). */
static size_t file_max(struct bot *b)
{
    size_t max;

    if (b->upload == NULL || b->upload_max == NULL)
        return 0;
    max = b->upload_max(b);
    return max > EXPORT_FILE_MAX ? EXPORT_FILE_MAX : max;
}

/* No file: chat messages if the document fits them; else nothing was
 * sent, and the hour's export is given back. */
static void export_fallback(struct bot *b, const char *to,
                            const struct buf *doc)
{
    struct user u;
    struct prefs p;
    char *text;

    if (doc->len <= EXPORT_CHAT_MAX) {
        send_pieces(b, to, doc);
        return;
    }
    if (store_user_by_jid(b->store, to, &u) == 1 &&
        store_prefs_get(b->store, u.id, &p) == 0) {
        p.exported = 0;
        store_prefs_put(b->store, u.id, &p);
    }
    text = xasprintf("Sorry, your export (%zu KB) could not be uploaded as a "
                     "file, and it is too large for chat messages; nothing "
                     "was sent. Please try again later.",
                     (doc->len + 999) / 1000);
    b->reply(b, to, text);
    free(text);
}

void cmd_export_done(struct bot *b, const char *to, const struct buf *doc,
                     const char *url)
{
    char *text;

    if (url == NULL) {
        export_fallback(b, to, doc);
        return;
    }
    text = xasprintf("Your export: a JSON document of %zu bytes, format "
                     "\"starling-export\" version 1 (the link below).",
                     doc->len);
    b->reply(b, to, text);
    free(text);
    if (b->link != NULL)
        b->link(b, to, url);
    else
        b->reply(b, to, url);
}

void cmd_export(struct cmd_ctx *c, const struct cmd_args *a)
{
    struct bot *b = c->bot;
    time_t now = b->now();
    size_t fmax = file_max(b);
    struct buf doc = {0};
    struct prefs p;
    char *name;
    int r;

    (void)a;
    if (!cmd_prefs(c, &p))
        return;
    if (p.exported != 0 && now < p.exported + EXPORT_EVERY) {
        buf_printf(c->reply,
                   "You can export once an hour; try again in %lld "
                   "minutes.",
                   (long long)(p.exported + EXPORT_EVERY - now + 59) / 60);
        return;
    }
    r = export_json(b->store, c->user, now,
                    fmax > EXPORT_CHAT_MAX ? fmax : EXPORT_CHAT_MAX, &doc);
    if (r < 0) {
        cmd_failed(c);
    } else if (r == 1 && fmax == 0) {
        buf_printf(c->reply,
                   "Your data is more than %zu KB, too much to send as chat "
                   "messages, and this server offers no file upload.",
                   EXPORT_CHAT_MAX / 1000);
    } else if (r == 1) {
        buf_printf(c->reply,
                   "Your data is more than %zu KB, too much to send as chat "
                   "messages or as a file (this server takes files up to "
                   "%zu KB).",
                   (fmax > EXPORT_CHAT_MAX ? fmax : EXPORT_CHAT_MAX) / 1000,
                   fmax / 1000);
    } else {
        p.exported = now;
        if (save_prefs(c, &p)) {
            /* A file when the server takes it, else chat messages. */
            name = xasprintf("starling-export-%s.json", c->user->nick);
            if (doc.len > fmax ||
                b->upload(b, c->user->jid, name, "application/json", &doc) < 0)
                export_fallback(b, c->user->jid, &doc);
            free(name);
        }
    }
    buf_free(&doc);
}
