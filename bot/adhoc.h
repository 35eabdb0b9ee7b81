/*
 * adhoc.h - XEP-0050 ad-hoc commands with XEP-0004 data forms, in plain C
 * (SPEC 9): the menu of commands as a table, the forms they show, the
 * small table of open sessions, and the translation of a submitted form
 * into the chat command(s) that do the same.  Those chat commands are run
 * through the command layer (dispatch_command()), so a form does exactly
 * what the chat command does: same checks, same audit, same replies.
 *
 * No XML here: the session layer parses a <command/> IQ into a struct
 * adhoc_request and turns a struct adhoc_response into the answer.
 * Everything in this file is pure (no I/O, no store) and unit-tested.
 *
 * Ownership: struct adhoc_values owns copies of its strings (free with
 * adhoc_values_free()); struct adhoc_response owns its values, note and
 * error text (adhoc_response_free()); table entries are static.
 */
#ifndef STARLING_ADHOC_H
#define STARLING_ADHOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/text.h"
#include "../common/util.h"

/* XEP-0004 field types. */
enum adhoc_ftype {
    ADHOC_BOOLEAN,
    ADHOC_TEXT_SINGLE,
    ADHOC_TEXT_MULTI, /* one value per line */
    ADHOC_LIST_SINGLE,
    ADHOC_FIXED, /* a line of text shown in the form: its label */
};

/* How a submitted field becomes chat text. */
enum adhoc_map {
    ADHOC_SHOW, /* nothing (fixed) */
    /* Only when the value differs from the current one: a boolean runs
     * `on` when true, `off` when false; any other field "on VALUE". */
    ADHOC_SET,
    /* A list of words (text-multi; lines, spaces or commas separate them)
     * against the current list: "off WORD" for each one dropped, then
     * "on WORD" for each one added. */
    ADHOC_WORDS,
    /* An argument of the command's keyword, in field order; run always.
     * A command without a keyword takes it from its first such field (a
     * list-single of chat commands: "rt", "fav"). */
    ADHOC_ARG,
};

struct adhoc_option {
    const char *value, *label;
    /* What the option stands for in an ADHOC_ARG line: NULL for its value,
     * "" for nothing ("follow NICK" when live updates are chosen). */
    const char *text;
};

struct adhoc_field {
    const char *var; /* NULL for fixed */
    enum adhoc_ftype type;
    const char *label; /* NULL ends a field list */
    bool required;
    bool one_word; /* the value must be one word (a nick) */
    enum adhoc_map map;
    const char *on, *off;               /* see enum adhoc_map */
    const struct adhoc_option *options; /* list-single; ends with NULL */
};

struct adhoc_command {
    const char *node; /* NULL ends the table */
    const char *name;
    bool admin; /* listed and run for bot.admins only */
    /* The form's instructions; for a command without fields, the note
     * shown when the chat command answers nothing itself. */
    const char *instructions;
    /* The chat command the ADHOC_ARG fields are arguments of (NULL: the
     * first of them names it); for a command without fields, the chat
     * text it runs. */
    const char *keyword;
    const struct adhoc_field *fields; /* NULL: runs at once, no form */
};

/* The command menu (SPEC 9), terminated by an entry with node NULL.
 * Test hook: the unit tests walk it (the bot finds entries with
 * adhoc_find() and lists them with adhoc_list()). */
const struct adhoc_command *adhoc_table(void);
/* The command with this node, or NULL (also for node NULL). */
const struct adhoc_command *adhoc_find(const char *node);
/* The commands a user may run (admins: all), in table order: at most max
 * into out; returns how many. */
size_t adhoc_list(bool admin, const struct adhoc_command **out, size_t max);
/* "boolean", "text-single", ... */
const char *adhoc_ftype_name(enum adhoc_ftype t);

/* Field values by var: a form's current values or a submission's.  A
 * text-multi value is its lines joined with '\n'. */
#define ADHOC_VALUES_MAX 32
struct adhoc_values {
    size_t n;
    struct adhoc_value {
        char *var, *value;
    } v[ADHOC_VALUES_MAX];
};
/* Set var to a copy of value (replacing an earlier one); -1 when full. */
int adhoc_values_set(struct adhoc_values *v, const char *var,
                     const char *value);
/* The value of var, or NULL if it was not given. */
const char *adhoc_values_get(const struct adhoc_values *v, const char *var);
void adhoc_values_free(struct adhoc_values *v);

enum adhoc_action {
    ADHOC_EXECUTE, /* also: no action attribute */
    ADHOC_COMPLETE,
    ADHOC_NEXT,
    ADHOC_PREV,
    ADHOC_CANCEL,
    ADHOC_MALFORMED, /* an action XEP-0050 does not define */
};
/* The action attribute (NULL: execute). */
enum adhoc_action adhoc_action_parse(const char *s);

/* A <command/> request as the session layer parsed it. */
struct adhoc_request {
    const char *from; /* full JID of the requester */
    const char *node; /* or NULL */
    enum adhoc_action action;
    const char *sessionid; /* or NULL */
    bool submitted;        /* an <x type='submit'/> came with it */
    struct adhoc_values fields;
};

enum adhoc_status {
    ADHOC_EXECUTING, /* a form to fill in */
    ADHOC_COMPLETED, /* done; the note says how it went */
    ADHOC_CANCELED,
    ADHOC_FAILED, /* an IQ error */
};

/* The errors of XEP-0050 4.6 that this service gives. */
enum adhoc_error {
    ADHOC_ERR_BAD_ACTION,       /* bad-request, bad-action */
    ADHOC_ERR_MALFORMED_ACTION, /* bad-request, malformed-action */
    ADHOC_ERR_BAD_SESSIONID,    /* bad-request, bad-sessionid */
    ADHOC_ERR_SESSION_EXPIRED,  /* not-allowed, session-expired */
    ADHOC_ERR_FORBIDDEN,        /* forbidden */
    ADHOC_ERR_NOT_FOUND,        /* item-not-found */
    ADHOC_ERR_BUSY,             /* resource-constraint */
    ADHOC_ERR_INTERNAL,         /* internal-server-error */
};

enum adhoc_note_type { ADHOC_NOTE_INFO, ADHOC_NOTE_ERROR };

#define ADHOC_SESSIONID_MAX 40

/* What to answer; the session layer builds the stanza from it. */
struct adhoc_response {
    enum adhoc_status status;
    enum adhoc_error error;          /* ADHOC_FAILED */
    char *error_text;                /* ADHOC_FAILED, or NULL */
    const struct adhoc_command *cmd; /* NULL when failed */
    char sessionid[ADHOC_SESSIONID_MAX];
    struct adhoc_values values; /* EXECUTING: what the form shows */
    enum adhoc_note_type note_type;
    struct buf note; /* empty: no note */
};
/* Make r a failure (error text may be NULL); drops what r held. */
void adhoc_fail(struct adhoc_response *r, enum adhoc_error e, const char *text);
void adhoc_response_free(struct adhoc_response *r);

/* Open sessions: a form shown and not yet submitted.  Bounded: at most
 * ADHOC_SESSIONS_PER_JID per requester and ADHOC_SESSIONS_MAX in all (the
 * oldest goes), each valid ADHOC_SESSION_SECONDS.  Zero-initialised is
 * empty. */
#define ADHOC_SESSIONS_MAX     64
#define ADHOC_SESSIONS_PER_JID 4
#define ADHOC_SESSION_SECONDS  900
struct adhoc_sessions {
    struct adhoc_session {
        char id[ADHOC_SESSIONID_MAX];
        char bare[JID_MAX + 1];
        const struct adhoc_command *cmd;
        time_t at; /* 0: free */
    } s[ADHOC_SESSIONS_MAX];
    uint64_t next;
};

enum adhoc_step {
    ADHOC_STEP_DONE, /* *resp is the whole answer (an error, canceled) */
    ADHOC_STEP_FORM, /* show resp->cmd's form: fill resp->values */
    ADHOC_STEP_RUN,  /* run adhoc_texts() of the submission: the replies
                        are resp->note */
};

/*
 * What a request from bare (a registered active user; admin if in
 * bot.admins) means, per XEP-0050: unknown node, admin node for a
 * non-admin, unknown or expired session, and actions other than execute,
 * complete and cancel are errors; execute without a session opens one and
 * shows the form (a command without fields runs at once); complete (or
 * execute) with the session runs the submission and ends the session;
 * cancel ends it.  Fills resp's status, cmd and sessionid.
 */
enum adhoc_step adhoc_begin(struct adhoc_sessions *s,
                            const struct adhoc_request *req, const char *bare,
                            bool admin, time_t now,
                            struct adhoc_response *resp);

/* The chat texts a submission stands for, in the order they run. */
#define ADHOC_TEXTS_MAX 48
struct adhoc_texts {
    size_t n;
    char *v[ADHOC_TEXTS_MAX];
};
/*
 * Translate the submitted values of cmd's form (current: what the form
 * showed, for ADHOC_SET and ADHOC_WORDS) into chat texts.  0 and *out
 * (possibly none: nothing changed); -1 with the reason in why when a
 * value is missing or malformed, or would not read as the intended
 * command; then *out is empty and nothing must run.
 */
int adhoc_texts(const struct adhoc_command *cmd,
                const struct adhoc_values *submitted,
                const struct adhoc_values *current, struct adhoc_texts *out,
                struct buf *why);
void adhoc_texts_free(struct adhoc_texts *t);

#endif
