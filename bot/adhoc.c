/*
 * adhoc.c - the ad-hoc command menu (XEP-0050) and its data forms
 * (XEP-0004), as plain C: which commands exist and who may run them, the
 * fields of their forms, the open sessions, and the chat texts a
 * submitted form stands for.
 *
 * A form never does anything itself: it is translated into the chat
 * commands a user would type ("off", "nick ann", "track word"), which
 * dispatch_command() runs through cmd_handle().  That is what keeps the
 * menu and the chat commands the same, checks, audit and replies
 * included.  Adding a setting is a row in a field list below (and, if the
 * form shows its current value, a line in dispatch.c's form_values());
 * adding a command is a row in the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adhoc.h"
#include "commands.h"

/* The settings form: each field runs its own command when changed. */
static const struct adhoc_field settings_fields[] = {
    {.var = "deliver",
     .type = ADHOC_BOOLEAN,
     .label = "Deliver updates",
     .map = ADHOC_SET,
     .on = "on",
     .off = "off"},
    {.var = "away",
     .type = ADHOC_BOOLEAN,
     .label = "Also while away or extended away",
     .map = ADHOC_SET,
     .on = "away on",
     .off = "away off"},
    {.var = "nick",
     .type = ADHOC_TEXT_SINGLE,
     .label = "Nick",
     .required = true,
     .one_word = true,
     .map = ADHOC_SET,
     .on = "nick"},
    {.var = "bio",
     .type = ADHOC_TEXT_SINGLE,
     .label = "Bio",
     .map = ADHOC_SET,
     .on = "bio",
     .off = "bio -"}, /* an emptied field clears the bio */
    {.var = "notices",
     .type = ADHOC_BOOLEAN,
     .label = "Tell me when someone follows me",
     .map = ADHOC_SET,
     .on = "notices on",
     .off = "notices off"},
    {.var = "tz",
     .type = ADHOC_TEXT_SINGLE,
     .label = "Time zone (an IANA name: Europe/Berlin)",
     .one_word = true,
     .map = ADHOC_SET,
     .on = "tz",
     .off = "tz UTC"},
    {.var = "quiet",
     .type = ADHOC_TEXT_SINGLE,
     .label = "Quiet hours (23:00-07:00; empty for none)",
     .one_word = true,
     .map = ADHOC_SET,
     .on = "quiet",
     .off = "quiet off"},
    {.var = "digest",
     .type = ADHOC_TEXT_SINGLE,
     .label = "Daily digest at (HH:MM)",
     .required = true,
     .one_word = true,
     .map = ADHOC_SET,
     .on = "digest"},
    {0},
};

static const struct adhoc_field tracking_fields[] = {
    {.var = "words",
     .type = ADHOC_TEXT_MULTI,
     .label = "Tracked words",
     .map = ADHOC_WORDS,
     .on = "track",
     .off = "untrack"},
    {0},
};

/* The user an admin command acts on. */
/* A nick to act on: not called "nick", which a form would show filled
 * with the user's own (every form shows the settings' values). */
#define USER_ARG                                                               \
    {                                                                          \
        .var = "user", .type = ADHOC_TEXT_SINGLE, .label = "Nick",             \
        .required = true, .one_word = true, .map = ADHOC_ARG                   \
    }

static const struct adhoc_field user_fields[] = {USER_ARG, {0}};

static const struct adhoc_field ban_fields[] = {
    USER_ARG,
    {.var = "reason",
     .type = ADHOC_TEXT_SINGLE,
     .label = "Reason (they are told)",
     .map = ADHOC_ARG},
    {0},
};

static const struct adhoc_field broadcast_fields[] = {
    {.var = "text",
     .type = ADHOC_TEXT_MULTI,
     .label = "Announcement",
     .required = true,
     .map = ADHOC_ARG},
    {0},
};

/* Issue 15's commands.  A list-single of chat commands comes first: its
 * choice is the keyword, the fields after it its arguments.  Only the
 * chat command's parser judges a post number, a code or a listing's
 * argument, so a bad one gets the chat command's own answer. */
#define POST_ARG                                                               \
    {                                                                          \
        .var = "post", .type = ADHOC_TEXT_SINGLE,                              \
        .label = "Post number (12 or #12)", .required = true, .map = ADHOC_ARG \
    }

/* The chat command, among opts, that the fields after it are arguments
 * of. */
#define ACTION_ARG(opts)                                                       \
    {                                                                          \
        .var = "action", .type = ADHOC_LIST_SINGLE, .label = "What to do",     \
        .required = true, .map = ADHOC_ARG, .options = opts                    \
    }

/* The user a command of one's own acts on ("nick" is the settings'
 * field, which a form would show filled with one's own nick). */
static const struct adhoc_option repeat_actions[] = {
    {"rt", "Repeat it to my followers", NULL},
    {"fav", "Add it to my favourites", NULL},
    {"unfav", "Take it out of my favourites", NULL},
    {NULL, NULL, NULL},
};

static const struct adhoc_field repeat_fields[] = {
    ACTION_ARG(repeat_actions), POST_ARG, {0}};

static const struct adhoc_option mute_actions[] = {
    {"mute", "Mute the thread", NULL},
    {"unmute", "Unmute the thread", NULL},
    {NULL, NULL, NULL},
};

static const struct adhoc_field mute_fields[] = {
    ACTION_ARG(mute_actions), POST_ARG, {0}};

static const struct adhoc_option follow_modes[] = {
    {"live", "Each post as it comes", ""},
    {"digest", "Gathered into my daily digest", NULL},
    {NULL, NULL, NULL},
};

static const struct adhoc_field follow_fields[] = {
    USER_ARG,
    {.var = "mode",
     .type = ADHOC_LIST_SINGLE,
     .label = "Their posts reach me",
     .map = ADHOC_ARG,
     .options = follow_modes},
    {0},
};

static const struct adhoc_option listings[] = {
    {"last", "Latest posts: my timeline, or the nick's or #tag's below", NULL},
    {"show", "A post and its replies (its number below)", NULL},
    {"search", "Posts containing the words below", NULL},
    {"mentions", "Posts that mention me", NULL},
    {"favs", "My favourites", NULL},
    {"dms", "My private messages", NULL},
    {"followers", "Who follows me", NULL},
    {"following", "Whom I follow", NULL},
    {"more", "More of the last listing", NULL},
    {NULL, NULL, NULL},
};

static const struct adhoc_field read_fields[] = {
    {.var = "list",
     .type = ADHOC_LIST_SINGLE,
     .label = "Listing",
     .required = true,
     .map = ADHOC_ARG,
     .options = listings},
    {.var = "arg",
     .type = ADHOC_TEXT_SINGLE,
     .label = "Nick, #tag, post number or words (if the listing takes one)",
     .map = ADHOC_ARG},
    {0},
};

static const struct adhoc_field delete_fields[] = {
    {.var = "code",
     .type = ADHOC_TEXT_SINGLE,
     .label = "Confirmation code (empty: send me one)",
     .map = ADHOC_ARG},
    {0},
};

static const struct adhoc_command table[] = {
    {"settings", "Settings", false,
     "Deliveries off: nothing is sent or held until you turn them on. "
     "A nick is a-z, 0-9 and _, at most 32; a bio is one line of at most "
     "160 characters.  During quiet hours updates wait for you; the daily "
     "digest gathers the posts of those you follow with \"follow NICK "
     "digest\".",
     NULL, settings_fields},
    {"tracking", "Tracked words", false,
     "One word per line, at most 20: every post containing one of them "
     "reaches you.",
     NULL, tracking_fields},
    {"export", "Export my data", false,
     "Your export comes in chat: a link to a file, or messages whose texts "
     "you join in order.",
     "export", NULL},
    {"repeat", "Repeat or favourite a post", false,
     "A repeat passes the post on to your followers, once; a favourite "
     "keeps it in your favourites.  Its author is told.",
     NULL, repeat_fields},
    {"mute", "Mute a thread", false,
     "Replies in a muted thread no longer reach you.", NULL, mute_fields},
    {"follow", "Follow", false,
     "A daily digest gathers the posts into one message a day, at the "
     "time set in Settings.",
     "follow", follow_fields},
    {"remove", "Remove a follower", false,
     "They stop following you, without being blocked.", "remove", user_fields},
    {"read", "Read", false,
     "The listing comes back here; \"More of the last listing\" "
     "continues it.",
     NULL, read_fields},
    {"delete", "Delete my account", false,
     "This erases your posts, follows, followers, favourites and settings "
     "for good.  Leave the code empty to be sent one, then run this again "
     "with it.",
     "delete me", delete_fields},
    {"stats", "Statistics", true, NULL, "stats", NULL},
    {"ban", "Ban a user", true,
     "A banned user cannot post, follow or message, and is told so.", "ban",
     ban_fields},
    {"unban", "Unban a user", true, NULL, "unban", user_fields},
    {"broadcast", "Broadcast an announcement", true,
     "Sent to every active user, by the usual presence rules.", "broadcast",
     broadcast_fields},
    {NULL, NULL, false, NULL, NULL, NULL},
};

const struct adhoc_command *adhoc_table(void)
{
    return table;
}

const struct adhoc_command *adhoc_find(const char *node)
{
    if (node == NULL)
        return NULL;
    for (const struct adhoc_command *c = table; c->node != NULL; c++)
        if (strcmp(c->node, node) == 0)
            return c;
    return NULL;
}

size_t adhoc_list(bool admin, const struct adhoc_command **out, size_t max)
{
    size_t n = 0;

    for (const struct adhoc_command *c = table; c->node != NULL && n < max; c++)
        if (admin || !c->admin)
            out[n++] = c;
    return n;
}

const char *adhoc_ftype_name(enum adhoc_ftype t)
{
    static const char *const names[] = {
        [ADHOC_BOOLEAN] = "boolean",       [ADHOC_TEXT_SINGLE] = "text-single",
        [ADHOC_TEXT_MULTI] = "text-multi", [ADHOC_LIST_SINGLE] = "list-single",
        [ADHOC_FIXED] = "fixed",
    };

    return names[t];
}

/* Values ------------------------------------------------------------------ */

int adhoc_values_set(struct adhoc_values *v, const char *var, const char *value)
{
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->v[i].var, var) == 0) {
            free(v->v[i].value);
            v->v[i].value = xstrdup(value);
            return 0;
        }
    }
    if (v->n == ADHOC_VALUES_MAX)
        return -1;
    v->v[v->n].var = xstrdup(var);
    v->v[v->n].value = xstrdup(value);
    v->n++;
    return 0;
}

const char *adhoc_values_get(const struct adhoc_values *v, const char *var)
{
    for (size_t i = 0; var != NULL && i < v->n; i++)
        if (strcmp(v->v[i].var, var) == 0)
            return v->v[i].value;
    return NULL;
}

void adhoc_values_free(struct adhoc_values *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->v[i].var);
        free(v->v[i].value);
    }
    v->n = 0;
}

enum adhoc_action adhoc_action_parse(const char *s)
{
    static const char *const names[] = {
        [ADHOC_EXECUTE] = "execute", [ADHOC_COMPLETE] = "complete",
        [ADHOC_NEXT] = "next",       [ADHOC_PREV] = "prev",
        [ADHOC_CANCEL] = "cancel",
    };

    if (s == NULL)
        return ADHOC_EXECUTE;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0)
            return (enum adhoc_action)i;
    return ADHOC_MALFORMED;
}

void adhoc_fail(struct adhoc_response *r, enum adhoc_error e, const char *text)
{
    adhoc_response_free(r);
    r->status = ADHOC_FAILED;
    r->error = e;
    r->error_text = text != NULL ? xstrdup(text) : NULL;
    r->cmd = NULL;
}

void adhoc_response_free(struct adhoc_response *r)
{
    free(r->error_text);
    r->error_text = NULL;
    adhoc_values_free(&r->values);
    buf_free(&r->note);
}

/* Sessions ---------------------------------------------------------------- */

static struct adhoc_session *session_find(struct adhoc_sessions *s,
                                          const char *id)
{
    for (size_t i = 0; i < ADHOC_SESSIONS_MAX; i++)
        if (s->s[i].at != 0 && strcmp(s->s[i].id, id) == 0)
            return &s->s[i];
    return NULL;
}

/* A session id: the time and a counter, unique within this run and
 * unlikely to repeat one of an earlier run.  (Sessions are bound to their
 * requester's JID, so an id need not be secret.) */
static void new_id(struct adhoc_sessions *s, time_t now,
                   char out[ADHOC_SESSIONID_MAX])
{
    snprintf(out, ADHOC_SESSIONID_MAX, "%lld-%llu", (long long)now,
             (unsigned long long)++s->next);
}

/* A new session of bare for cmd (XEP-0050 lets several be open):
 * in the slot bare used longest ago once it holds ADHOC_SESSIONS_PER_JID,
 * else in the slot used longest ago (a free or expired one first: their
 * times are the oldest). */
static void session_open(struct adhoc_sessions *s, const char *bare,
                         const struct adhoc_command *cmd, time_t now,
                         struct adhoc_response *resp)
{
    struct adhoc_session *slot = &s->s[0], *own = NULL;
    size_t mine = 0;

    for (size_t i = 0; i < ADHOC_SESSIONS_MAX; i++) {
        struct adhoc_session *e = &s->s[i];

        if (e->at != 0 && strcmp(e->bare, bare) == 0) {
            mine++;
            if (own == NULL || e->at < own->at)
                own = e;
        }
        if (e->at < slot->at)
            slot = e;
    }
    if (mine >= ADHOC_SESSIONS_PER_JID)
        slot = own;
    new_id(s, now, slot->id);
    snprintf(slot->bare, sizeof(slot->bare), "%s", bare);
    slot->cmd = cmd;
    slot->at = now;
    memcpy(resp->sessionid, slot->id, sizeof(resp->sessionid));
}

enum adhoc_step adhoc_begin(struct adhoc_sessions *s,
                            const struct adhoc_request *req, const char *bare,
                            bool admin, time_t now, struct adhoc_response *resp)
{
    const struct adhoc_command *cmd = adhoc_find(req->node);
    struct adhoc_session *open;

    if (cmd == NULL) {
        adhoc_fail(resp, ADHOC_ERR_NOT_FOUND, "No such command.");
        return ADHOC_STEP_DONE;
    }
    if (cmd->admin && !admin) {
        adhoc_fail(resp, ADHOC_ERR_FORBIDDEN, "Not permitted.");
        return ADHOC_STEP_DONE;
    }
    if (req->action == ADHOC_MALFORMED) {
        adhoc_fail(resp, ADHOC_ERR_MALFORMED_ACTION, NULL);
        return ADHOC_STEP_DONE;
    }
    resp->cmd = cmd;
    if (req->sessionid == NULL || req->sessionid[0] == '\0') {
        if (req->action == ADHOC_CANCEL) {
            resp->status = ADHOC_CANCELED;
            return ADHOC_STEP_DONE;
        }
        if (req->action != ADHOC_EXECUTE) {
            adhoc_fail(resp, ADHOC_ERR_BAD_SESSIONID, NULL);
            return ADHOC_STEP_DONE;
        }
        if (cmd->fields == NULL) { /* nothing to ask: run it */
            new_id(s, now, resp->sessionid);
            resp->status = ADHOC_COMPLETED;
            return ADHOC_STEP_RUN;
        }
        session_open(s, bare, cmd, now, resp);
        resp->status = ADHOC_EXECUTING;
        return ADHOC_STEP_FORM;
    }
    open = session_find(s, req->sessionid);
    if (open == NULL || open->cmd != cmd || strcmp(open->bare, bare) != 0) {
        adhoc_fail(resp, ADHOC_ERR_BAD_SESSIONID, NULL);
        return ADHOC_STEP_DONE;
    }
    if (open->at + ADHOC_SESSION_SECONDS < now) {
        open->at = 0;
        adhoc_fail(resp, ADHOC_ERR_SESSION_EXPIRED,
                   "This form has expired; open the command again.");
        return ADHOC_STEP_DONE;
    }
    if (req->action == ADHOC_NEXT || req->action == ADHOC_PREV) {
        adhoc_fail(resp, ADHOC_ERR_BAD_ACTION, NULL);
        return ADHOC_STEP_DONE;
    }
    memcpy(resp->sessionid, open->id, sizeof(resp->sessionid));
    open->at = 0;
    if (req->action == ADHOC_CANCEL) {
        resp->status = ADHOC_CANCELED;
        return ADHOC_STEP_DONE;
    }
    resp->status = ADHOC_COMPLETED;
    return ADHOC_STEP_RUN;
}

/* Translation ------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The value trimmed, as a new string ("" for NULL). */
static char *trimmed(const char *value)
{
    char *copy = xstrdup(value != NULL ? value : "");

    text_trim(copy);
    return copy;
}

static bool boolean_value(const char *s, bool *out)
{
    if (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0)
        *out = true;
    else if (strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0)
        *out = false;
    else
        return false;
    return true;
}

static int add_text(struct adhoc_texts *out, char *text, struct buf *why)
{
    if (out->n == ADHOC_TEXTS_MAX) {
        free(text);
        buf_printf(why, "Too many changes at once (at most %d).",
                   ADHOC_TEXTS_MAX);
        return -1;
    }
    out->v[out->n++] = text;
    return 0;
}

/* The words of a list, ASCII lower-cased, each once. */
struct words {
    size_t n;
    char *v[ADHOC_TEXTS_MAX + 1];
};

static int split_words(const char *s, struct words *w, struct buf *why)
{
    w->n = 0;
    while (s != NULL && *s != '\0') {
        size_t len = 0;
        char *word;
        bool seen = false;

        while (*s != '\0' && (is_space(*s) || *s == ','))
            s++;
        while (s[len] != '\0' && !is_space(s[len]) && s[len] != ',')
            len++;
        if (len == 0)
            break;
        word = xstrndup(s, len);
        s += len;
        for (char *p = word; *p != '\0'; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        for (size_t i = 0; i < w->n && !seen; i++)
            seen = strcmp(w->v[i], word) == 0;
        if (seen) {
            free(word);
            continue;
        }
        if (w->n == ADHOC_TEXTS_MAX) {
            free(word);
            buf_printf(why, "Too many words (at most %d).", ADHOC_TEXTS_MAX);
            return -1;
        }
        w->v[w->n++] = word;
    }
    return 0;
}

static void words_free(struct words *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i]);
    w->n = 0;
}

static bool words_have(const struct words *w, const char *word)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i], word) == 0)
            return true;
    return false;
}

/* "off W" for the words of was not in now, then "on W" for the words of
 * now not in was: dropping first keeps room under the limit. */
static int words_diff(const struct adhoc_field *f, const char *was,
                      const char *now, struct adhoc_texts *out, struct buf *why)
{
    struct words a = {0}, b = {0};
    int r = -1;

    if (split_words(was, &a, why) < 0 || split_words(now, &b, why) < 0)
        goto done;
    for (size_t i = 0; i < a.n; i++)
        if (!words_have(&b, a.v[i]) &&
            add_text(out, xasprintf("%s %s", f->off, a.v[i]), why) < 0)
            goto done;
    for (size_t i = 0; i < b.n; i++)
        if (!words_have(&a, b.v[i]) &&
            add_text(out, xasprintf("%s %s", f->on, b.v[i]), why) < 0)
            goto done;
    r = 0;
done:
    words_free(&a);
    words_free(&b);
    return r;
}

/* Check one submitted value (trimmed) against its field. */
static int check_value(const struct adhoc_field *f, const char *value,
                       struct buf *why)
{
    bool flag;

    if (f->required && value[0] == '\0') {
        buf_printf(why, "%s is required.", f->label);
        return -1;
    }
    if (value[0] == '\0')
        return 0;
    if (f->type == ADHOC_BOOLEAN && !boolean_value(value, &flag)) {
        buf_printf(why, "%s: \"%s\" is neither on (1) nor off (0).", f->label,
                   value);
        return -1;
    }
    if (f->one_word)
        for (const char *p = value; *p != '\0'; p++)
            if (is_space(*p)) {
                buf_printf(why, "%s must be one word.", f->label);
                return -1;
            }
    if (f->type == ADHOC_LIST_SINGLE) {
        for (const struct adhoc_option *o = f->options;
             o != NULL && o->value != NULL; o++)
            if (strcmp(o->value, value) == 0)
                return 0;
        buf_printf(why, "%s: \"%s\" is not one of the choices.", f->label,
                   value);
        return -1;
    }
    return 0;
}

/* One ADHOC_SET field: its command when the value changed. */
static int set_text(const struct adhoc_field *f, const char *value,
                    const char *current, struct adhoc_texts *out,
                    struct buf *why)
{
    bool now, was;

    if (f->type == ADHOC_BOOLEAN) {
        boolean_value(value, &now);
        if (current != NULL && boolean_value(current, &was) && was == now)
            return 0;
        return add_text(out, xstrdup(now ? f->on : f->off), why);
    }
    if (current != NULL && strcmp(current, value) == 0)
        return 0;
    if (value[0] == '\0' && f->off != NULL)
        return add_text(out, xstrdup(f->off), why);
    return add_text(out, xasprintf("%s %s", f->on, value), why);
}

/* A text must read as the command name names (NULL: its first word), and
 * never as a post. */
static int check_reads_as_command(const char *text, const char *name,
                                  struct buf *why)
{
    struct cmd_parsed p;
    char keyword[32];
    size_t n = strcspn(text, " ");

    snprintf(keyword, sizeof(keyword), "%.*s", (int)n, text);
    if (name == NULL)
        name = keyword;
    cmd_parse(text, &p);
    if (p.result == CMD_POST || p.cmd != cmd_find(name)) {
        const struct cmd_entry *e = cmd_find(name);

        buf_printf(why, "Usage: %s", e != NULL ? e->usage : name);
        return -1;
    }
    return 0;
}

/* An ADHOC_ARG value (checked) onto the line: a chosen option's text, or
 * the value itself; nothing when that is empty. */
static void arg_append(struct buf *line, const struct adhoc_field *f,
                       const char *value)
{
    for (const struct adhoc_option *o = f->options;
         o != NULL && o->value != NULL; o++)
        if (strcmp(o->value, value) == 0) {
            if (o->text != NULL)
                value = o->text;
            break;
        }
    if (value[0] != '\0')
        buf_printf(line, "%s%s", line->len > 0 ? " " : "", value);
}

int adhoc_texts(const struct adhoc_command *cmd,
                const struct adhoc_values *submitted,
                const struct adhoc_values *current, struct adhoc_texts *out,
                struct buf *why)
{
    struct buf line = {0};
    int r = -1;

    memset(out, 0, sizeof(*out));
    if (cmd->keyword != NULL)
        buf_append(&line, cmd->keyword);
    for (const struct adhoc_field *f = cmd->fields; f != NULL && f->label;
         f++) {
        const char *given = adhoc_values_get(submitted, f->var);
        char *value;
        int ok = 0;

        if (f->map == ADHOC_SHOW || (given == NULL && f->map != ADHOC_ARG))
            continue; /* a field not sent back is left as it is */
        value = trimmed(given);
        if (f->map == ADHOC_WORDS)
            ok = words_diff(f, adhoc_values_get(current, f->var), value, out,
                            why);
        else if ((ok = check_value(f, value, why)) == 0 && f->map == ADHOC_SET)
            ok =
                set_text(f, value, adhoc_values_get(current, f->var), out, why);
        else if (ok == 0)
            arg_append(&line, f, value);
        free(value);
        if (ok < 0)
            goto done;
    }
    /* The ADHOC_ARG line runs last; it reads as the command's keyword. */
    if ((cmd->keyword != NULL || line.len > 0) &&
        add_text(out, xstrdup(buf_str(&line)), why) < 0)
        goto done;
    for (size_t i = 0; i < out->n; i++)
        if (check_reads_as_command(
                out->v[i], i + 1 == out->n ? cmd->keyword : NULL, why) < 0)
            goto done;
    r = 0;
done:
    buf_free(&line);
    if (r < 0)
        adhoc_texts_free(out);
    return r;
}

void adhoc_texts_free(struct adhoc_texts *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    t->n = 0;
}
