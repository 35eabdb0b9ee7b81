/*
 * dispatch.c - where a received stanza goes.
 *
 * The session layer hands over plain C strings; this file decides what
 * they mean for the service: chat messages from users go to the command
 * layer, presence goes to the presence table and wakes the delivery
 * engine, subscription requests pass the policy and become users.  It is
 * also the first line of defence: ignored message types, auto-replies,
 * oversized bodies and per-JID floods stop here, and so does what today's
 * clients send that must never become a post (SPEC 9): encrypted messages
 * are refused, and corrections, retractions, reactions and replies go to
 * the command layer's gesture handlers, never their fallback bodies.  A
 * XEP-0184 receipt request is answered here, once the message is handled.
 */
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "dispatch.h"
#include "../common/log.h"
#include "../common/text.h"
#include "../common/util.h"

/* A body longer than this is refused before any parsing. */
#define BODY_MAX_BYTES 16384

/* OTR ("?OTR...") is encryption: the session layer marks it so. */
static const char *const auto_prefixes[] = {
    "[auto-reply]",
    "auto-reply:",
    "auto-response",
    "[auto-response]",
    "automatic reply",
    "autoreply:",
    NULL,
};

enum msg_class dispatch_classify(const struct inmsg *m)
{
    const char *type = m->type, *body = m->body, *p;

    if (type != NULL &&
        (strcmp(type, "error") == 0 || strcmp(type, "groupchat") == 0 ||
         strcmp(type, "headline") == 0))
        return MSG_IGNORE_TYPE;
    /* Whatever the body says, it is a fallback or a ciphertext. */
    if (m->crypto != CRYPTO_NONE)
        return MSG_ENCRYPTED;
    if (m->retract_id != NULL)
        return MSG_RETRACTION;
    if (m->reaction_id != NULL)
        return MSG_REACTION;
    if (m->replace_id != NULL)
        return MSG_CORRECTION;
    if (body == NULL || body[0] == '\0')
        return MSG_IGNORE_NOBODY;
    /* White space only is an (empty) post, refused with a reason. */
    for (p = body; *p != '\0' && isspace((unsigned char)*p); p++)
        ;
    for (size_t i = 0; auto_prefixes[i] != NULL; i++)
        if (strncasecmp(p, auto_prefixes[i], strlen(auto_prefixes[i])) == 0)
            return MSG_IGNORE_AUTO;
    return MSG_HANDLE;
}

static void welcome(struct bot *b, const struct user *u)
{
    char *text = xasprintf(
        "Welcome to Starling, %s! Anything you send me is posted to your "
        "followers. Three commands to start with: \"follow NICK\" to "
        "follow someone, \"last\" to read your timeline, \"help\" for "
        "everything else.",
        u->nick);

    b->reply(b, u->jid, text);
    free(text);
}

static bool policy_allows(const struct bot *b, const char *bare)
{
    if (config_is_admin(b->cfg, bare))
        return true;
    switch (b->cfg->bot.subscription) {
    case SUB_OPEN:
        return true;
    case SUB_ALLOWLIST:
        return b->allow != NULL && match_allow(b->allow, bare);
    case SUB_CLOSED:
        return false;
    }
    return false;
}

/* Make bare an active user (new or returning).  Returns 1 if it was not
 * active before, 0 if it already was, -1 on error. */
static int activate(struct bot *b, const char *bare, struct user *u)
{
    char nick[NICK_MAX + 1];
    int found = store_user_by_jid(b->store, bare, u);

    if (found < 0)
        return -1;
    if (found == 1 && u->active)
        return 0;
    nick_from_jid(bare, nick);
    if (store_user_create(b->store, bare, nick, nick_reserved(nick, b->self),
                          b->cfg->delivery.deliver_when_away, b->now(), u) < 0)
        return -1;
    return 1;
}

static void deactivate_user(struct bot *b, const struct user *u)
{
    if (store_user_set_flag(b->store, u->id, USER_ACTIVE, false) < 0)
        return;
    store_outbox_clear_user(b->store, u->id);
    delivery_forget_user(b->delivery, u->id);
    log_info("user %s (%s) left", u->nick, u->jid);
}

static void deactivate(struct bot *b, const char *bare)
{
    struct user u;

    if (store_user_by_jid(b->store, bare, &u) == 1 && u.active)
        deactivate_user(b, &u);
}

/* Charge a subscription request of bare to its JID's budget, then to its
 * domain's (admins are exempt).  true if it may be approved.  Only the
 * first request over a budget is logged, not every one. */
static bool subscription_budget(struct bot *b, const char *bare)
{
    const char *domain = strchr(bare, '@') + 1;
    time_t now = b->now();

    if (config_is_admin(b->cfg, bare))
        return true;
    switch (budget_charge(b->subs_jid, bare, now)) {
    case BUDGET_OK:
        break;
    case BUDGET_WARN:
        log_info("%s sent more than %d subscription requests in a minute; "
                 "refusing its requests for %d s",
                 bare, SUBS_PER_JID_MINUTE, SUBS_JID_MUTE_SECONDS);
        return false;
    case BUDGET_MUTE:
        return false;
    }
    switch (budget_charge(b->subs_domain, domain, now)) {
    case BUDGET_OK:
        return true;
    case BUDGET_WARN:
        log_info("more than %d subscription requests in a minute from %s; "
                 "refusing the domain's requests for %d s",
                 SUBS_PER_DOMAIN_MINUTE, domain, SUBS_DOMAIN_MUTE_SECONDS);
        return false;
    case BUDGET_MUTE:
        return false;
    }
    return false;
}

/* The nick a message, presence or subscription addressed to: 1 and nick
 * when to is NICK@ the bot's domain (SPEC 10 per-user addresses, which
 * the session passes on only when they are in use), 0 when it is the
 * bot's own address. */
static int user_address(const struct bot *b, const char *to, char *nick)
{
    const char *domain = strchr(b->self, '@');
    char bare[JID_MAX + 1];
    const char *at;

    domain = domain != NULL ? domain + 1 : b->self;
    if (to == NULL || jid_bare(to, bare, sizeof(bare)) < 0 ||
        strcmp(bare, b->self) == 0 || (at = strchr(bare, '@')) == NULL ||
        strcmp(at + 1, domain) != 0 || (size_t)(at - bare) > NICK_MAX)
        return 0;
    memcpy(nick, bare, (size_t)(at - bare));
    nick[at - bare] = '\0';
    return nick_valid(nick);
}

/* A subscription to NICK@domain follows NICK, its removal unfollows
 * (SPEC 10); the address answers for itself. */
static void follow_by_address(struct bot *b, const char *bare, const char *to,
                              const char *nick, enum sub_kind kind)
{
    struct user u, t;
    bool refuse;

    if (kind == SUB_SUBSCRIBED)
        return;
    if (store_user_by_nick(b->store, nick, &t) != 1) {
        if (kind == SUB_SUBSCRIBE)
            b->subscription_from(b, to, bare, "unsubscribed");
        return;
    }
    if (kind != SUB_SUBSCRIBE) {
        if (store_user_by_jid(b->store, bare, &u) == 1 &&
            store_unfollow(b->store, u.id, t.id) == 0)
            log_info("%s unfollowed %s by removing its address", u.nick,
                     t.nick);
        return;
    }
    /* Not a user yet: joining comes first, with its budget and policy. */
    if (store_user_by_jid(b->store, bare, &u) != 1 || !u.active) {
        dispatch_subscription(b, bare, b->self, SUB_SUBSCRIBE);
        if (store_user_by_jid(b->store, bare, &u) != 1 || !u.active)
            return;
    }
    refuse = u.banned || u.id == t.id ||
             store_is_blocked(b->store, t.id, u.id) != 0 ||
             store_follow(b->store, u.id, t.id, b->now()) < 0;
    b->subscription_from(b, to, bare, refuse ? "unsubscribed" : "subscribed");
    if (!refuse)
        b->presence_from(b, to, bare, t.bio, true);
}

void dispatch_probe(struct bot *b, const char *from_bare, const char *to)
{
    char nick[NICK_MAX + 1];
    struct user t;

    if (user_address(b, to, nick) != 1)
        return;
    if (store_user_by_nick(b->store, nick, &t) == 1)
        b->presence_from(b, to, from_bare, t.bio, true);
    else
        b->presence_from(b, to, from_bare, NULL, false);
}

void dispatch_subscription(struct bot *b, const char *from_bare, const char *to,
                           enum sub_kind kind)
{
    char bare[JID_MAX + 1], nick[NICK_MAX + 1];
    struct user u;
    int r;

    if (jid_bare(from_bare, bare, sizeof(bare)) < 0 ||
        strchr(bare, '@') == NULL || strcmp(bare, b->self) == 0)
        return;
    if (user_address(b, to, nick) == 1) {
        follow_by_address(b, bare, to, nick, kind);
        return;
    }

    switch (kind) {
    case SUB_SUBSCRIBE:
        /* A user asking again (a client that reconnected, or one that
         * answers the bot's own request with one of its own) is approved
         * again: nothing new, nothing charged. */
        if (store_user_by_jid(b->store, bare, &u) == 1 && u.active) {
            b->subscription(b, bare, "subscribed");
            b->subscription(b, bare, "subscribe");
            return;
        }
        /* Over budget: refused like the policy does, so that the request
         * does not stay pending on the server (which would not pass on
         * the same request again) and can be made again later. */
        if (!subscription_budget(b, bare)) {
            b->subscription(b, bare, "unsubscribed");
            return;
        }
        if (!policy_allows(b, bare)) {
            log_info("subscription of %s refused by policy", bare);
            b->subscription(b, bare, "unsubscribed");
            return;
        }
        if ((r = activate(b, bare, &u)) < 0)
            return; /* no approval: the request is asked again later */
        b->subscription(b, bare, "subscribed");
        b->subscription(b, bare, "subscribe");
        if (b->contact != NULL)
            b->contact(b, bare);
        if (r == 1) {
            log_info("new user %s (%s)", u.nick, u.jid);
            welcome(b, &u);
        }
        break;
    case SUB_UNSUBSCRIBE:
    case SUB_UNSUBSCRIBED:
        deactivate(b, bare);
        break;
    case SUB_SUBSCRIBED:
        break;
    }
}

/* Roster reconciliation ------------------------------------------------ */

struct roster_item {
    char *jid;       /* bare */
    bool subscribed; /* "from" or "both": the contact has our presence */
    bool active;     /* an active user already (found by the walk) */
};

struct roster {
    struct roster_item *v;
    size_t n, cap;
};

void dispatch_roster_item(struct bot *b, const char *bare,
                          const char *subscription)
{
    struct roster *r;

    if (strchr(bare, '@') == NULL || strcmp(bare, b->self) == 0)
        return;
    if (b->roster == NULL)
        b->roster = xcalloc(1, sizeof(*b->roster));
    r = b->roster;
    if (r->n == r->cap) {
        r->cap = r->cap != 0 ? r->cap * 2 : 64;
        r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    r->v[r->n].jid = xstrdup(bare);
    r->v[r->n].subscribed =
        strcmp(subscription, "from") == 0 || strcmp(subscription, "both") == 0;
    r->v[r->n].active = false;
    r->n++;
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const struct roster_item *)a)->jid,
                  ((const struct roster_item *)b)->jid);
}

/* The walk over active users: ids of those the roster no longer has
 * subscribed to us. */
struct walk {
    struct roster *roster;
    int64_t *gone;
    size_t n_gone, cap_gone;
};

static int walk_active(void *ud, const struct user *u)
{
    struct walk *w = ud;
    struct roster_item key = {.jid = (char *)u->jid}, *it = NULL;

    if (w->roster->n > 0)
        it = bsearch(&key, w->roster->v, w->roster->n, sizeof(key), item_cmp);
    if (it != NULL && it->subscribed) {
        it->active = true;
        return 0;
    }
    if (w->n_gone == w->cap_gone) {
        w->cap_gone = w->cap_gone != 0 ? w->cap_gone * 2 : 64;
        w->gone = xrealloc(w->gone, w->cap_gone * sizeof(*w->gone));
    }
    w->gone[w->n_gone++] = u->id;
    return 0;
}

static void roster_free(struct roster *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].jid);
    free(r->v);
    free(r);
}

void dispatch_roster_done(struct bot *b)
{
    struct roster empty = {0}, *r = b->roster != NULL ? b->roster : &empty;
    struct walk w = {.roster = r};
    size_t joined = 0;
    struct user u;

    /* One walk over the active users (not a lookup each): sorted items
     * are searched in memory. */
    if (r->n > 0)
        qsort(r->v, r->n, sizeof(*r->v), item_cmp);
    if (store_users_active(b->store, walk_active, &w) < 0)
        goto out;
    if (r->n == 0 && w.n_gone > 0) {
        /* More likely a server whose roster storage was changed or lost
         * than every user leaving at once. */
        log_warnx("the server sent an empty roster while %zu users are "
                  "active: none of them is made inactive",
                  w.n_gone);
        w.n_gone = 0;
    }
    for (size_t i = 0; i < w.n_gone; i++)
        if (store_user_by_id(b->store, w.gone[i], &u) == 1)
            deactivate_user(b, &u);
    /* Subscribed while we were away, or our database is new. */
    for (size_t i = 0; i < r->n; i++) {
        if (!r->v[i].subscribed || r->v[i].active ||
            !policy_allows(b, r->v[i].jid))
            continue;
        if (activate(b, r->v[i].jid, &u) == 1) {
            log_info("new user %s (%s) from the roster", u.nick, u.jid);
            welcome(b, &u);
            joined++;
        }
    }
    log_info("roster reconciled: %zu contacts, %zu users left, %zu joined",
             r->n, w.n_gone, joined);
out:
    free(w.gone);
    roster_free(b->roster);
    b->roster = NULL;
}

void dispatch_presence(struct bot *b, const char *from_full, enum show show,
                       int priority, bool unavailable)
{
    char bare[JID_MAX + 1];
    struct user u;
    bool changed;

    if (jid_bare(from_full, bare, sizeof(bare)) < 0 ||
        strcmp(bare, b->self) == 0)
        return;
    if (store_user_by_jid(b->store, bare, &u) != 1 || !u.active)
        return;
    if (unavailable)
        changed = presence_remove(b->presence, from_full);
    else
        changed = presence_update(b->presence, from_full, show, priority);
    if (changed)
        delivery_user_seen(b->delivery, &u);
}

static void handle_user_message(struct bot *b, struct user *u,
                                const struct inmsg *m)
{
    struct buf reply = {0};
    struct cmd_ctx ctx = {
        .bot = b,
        .user = u,
        .admin = config_is_admin(b->cfg, u->jid),
        .stanza_id = m->id,
        .origin_id = m->origin_id,
        .reply = &reply,
    };
    char *text = xstrdup(m->body != NULL ? m->body : "");
    char nick[NICK_MAX + 1];

    /* SPEC 9: what a client wraps around a gesture is never posted. */
    if (m->retract_id != NULL)
        cmd_retract(&ctx, m->retract_id);
    else if (m->replace_id != NULL)
        cmd_correct(&ctx, m->replace_id, text);
    else if (m->reaction_id != NULL)
        cmd_react(&ctx, m->reaction_id, m->reactions, m->n_reactions);
    else if (user_address(b, m->to, nick) == 1) {
        /* Written to NICK@domain: a private message (SPEC 10). */
        cmd_private(&ctx, nick, text_trim(text));
    } else if (m->reply_id == NULL ||
               !cmd_reply_to_message(&ctx, m->reply_id, text))
        cmd_handle(&ctx, text);
    if (reply.len > 0)
        b->reply(b, u->jid, buf_str(&reply));
    buf_free(&reply);
    free(text);
}

/* The sender of an encrypted message is told once in a while that the
 * bot cannot read it; nothing is posted. */
static void refuse_encrypted(struct bot *b, const struct user *u,
                             const struct inmsg *m)
{
    static const char *const names[] = {
        [CRYPTO_NONE] = "plain", [CRYPTO_OMEMO] = "OMEMO",
        [CRYPTO_OX] = "OpenPGP", [CRYPTO_PGP] = "legacy PGP",
        [CRYPTO_OTR] = "OTR",    [CRYPTO_OTHER] = "encrypted",
    };

    log_info("%s message from %s not posted: the bot cannot read it",
             names[m->crypto], u->nick);
    if (budget_tell_once(b->budget, u->jid, b->now()))
        b->reply(b, u->jid,
                 "I can't read encrypted messages; please turn encryption "
                 "off for this contact.");
}

/* A message from bare (charged to its budget) that the bot acts on.
 * true when it was handled, false when a store error left it undone. */
static bool handle_message(struct bot *b, const char *bare,
                           const struct inmsg *m, enum msg_class cls)
{
    struct user u;
    int found;

    found = store_user_by_jid(b->store, bare, &u);
    if (found < 0) {
        b->reply(b, bare, "Sorry, something went wrong; please try again.");
        return false;
    }
    if (found == 0 || !u.active) {
        char *text = xasprintf("Hi! Add me (%s) to your contacts first, "
                               "then say \"help\".",
                               b->self);

        b->reply(b, bare, text);
        free(text);
        return true;
    }
    if (cls == MSG_ENCRYPTED) {
        refuse_encrypted(b, &u, m);
        return true;
    }
    /* A retraction or a reaction may come without a body. */
    if (m->body != NULL && strlen(m->body) > BODY_MAX_BYTES) {
        b->reply(b, u.jid,
                 "That message is far too long; nothing was "
                 "posted.");
        return true;
    }
    log_debug("message from %s: %s", u.nick, m->body != NULL ? m->body : "");
    handle_user_message(b, &u, m);
    return true;
}

void dispatch_message(struct bot *b, const struct inmsg *m)
{
    enum msg_class cls = dispatch_classify(m);
    char bare[JID_MAX + 1];

    if (cls == MSG_IGNORE_TYPE || cls == MSG_IGNORE_NOBODY ||
        cls == MSG_IGNORE_AUTO)
        return;
    if (m->from == NULL || jid_bare(m->from, bare, sizeof(bare)) < 0 ||
        strchr(bare, '@') == NULL || strcmp(bare, b->self) == 0)
        return; /* servers, ourselves and garbage get no answer */

    switch (budget_charge(b->budget, bare, b->now())) {
    case BUDGET_OK:
        break;
    case BUDGET_WARN:
        log_info("%s is over its message budget; muted for %d s", bare,
                 BUDGET_MUTE_SECONDS);
        b->reply(b, bare,
                 "You are sending too many messages; I will not answer "
                 "you for a few minutes.");
        return;
    case BUDGET_MUTE:
        return;
    }

    /* Handled, even if refused (rate limit, encryption, a usage line):
     * the receipt says the bot has it.  For a post it follows the
     * commit: see bot_receipt() in main.c. */
    if (handle_message(b, bare, m, cls) && m->receipt_request &&
        m->id != NULL && m->id[0] != '\0' && b->receipt != NULL)
        b->receipt(b, m->from, m->id);
}

/* XEP-0050 ad-hoc commands --------------------------------------------- */

/* The registered active user behind a full JID: 1 and *u, 0 if there is
 * none, -1 on a store error.  A user's JID is also charged to the message
 * budget when charge is set: -2 if it is over. */
static int command_user(struct bot *b, const char *from, bool charge,
                        struct user *u)
{
    char bare[JID_MAX + 1];
    int found;

    if (from == NULL || jid_bare(from, bare, sizeof(bare)) < 0 ||
        strchr(bare, '@') == NULL || strcmp(bare, b->self) == 0)
        return 0;
    /* A command costs what a chat message costs. */
    if (charge && budget_charge(b->budget, bare, b->now()) != BUDGET_OK)
        return -2;
    found = store_user_by_jid(b->store, bare, u);
    return found == 1 && !u->active ? 0 : found;
}

size_t dispatch_command_list(struct bot *b, const char *from,
                             const struct adhoc_command **out, size_t max)
{
    struct user u;

    if (command_user(b, from, false, &u) != 1)
        return 0;
    return adhoc_list(config_is_admin(b->cfg, u.jid), out, max);
}

static int add_line(void *ud, const char *word)
{
    struct buf *lines = ud;

    buf_printf(lines, "%s%s", lines->len > 0 ? "\n" : "", word);
    return 0;
}

/* What the forms show as current: the user's settings (adhoc.c's field
 * vars).  0, or -1 on a store error. */
static int form_values(struct bot *b, const struct user *u,
                       struct adhoc_values *v)
{
    struct buf words = {0};
    struct prefs p;
    char hours[48] = "", digest[24];
    int r = store_tracking(b->store, u->id, add_line, &words);

    if (r == 0)
        r = store_prefs_get(b->store, u->id, &p);
    adhoc_values_set(v, "deliver", u->deliver ? "1" : "0");
    adhoc_values_set(v, "away", u->away ? "1" : "0");
    adhoc_values_set(v, "nick", u->nick);
    adhoc_values_set(v, "bio", u->bio);
    adhoc_values_set(v, "words", buf_str(&words));
    buf_free(&words);
    if (r < 0)
        return -1;
    if (p.quiet_start >= 0)
        snprintf(hours, sizeof(hours), "%02d:%02d-%02d:%02d",
                 p.quiet_start / 60, p.quiet_start % 60, p.quiet_end / 60,
                 p.quiet_end % 60);
    snprintf(digest, sizeof(digest), "%02d:%02d", p.digest_at / 60,
             p.digest_at % 60);
    adhoc_values_set(v, "notices", p.notices ? "1" : "0");
    adhoc_values_set(v, "tz", p.tz[0] != '\0' ? p.tz : "UTC");
    adhoc_values_set(v, "quiet", hours);
    adhoc_values_set(v, "digest", digest);
    return 0;
}

/* Run chat texts as u typed them; their replies, one per line, in note. */
static void run_texts(struct bot *b, struct user *u,
                      const struct adhoc_texts *t, struct buf *note)
{
    for (size_t i = 0; i < t->n; i++) {
        struct buf reply = {0};
        struct cmd_ctx ctx = {
            .bot = b,
            .user = u,
            .admin = config_is_admin(b->cfg, u->jid),
            .reply = &reply,
        };
        char *text = xstrdup(t->v[i]);

        log_debug("command from %s: %s", u->nick, text);
        cmd_handle(&ctx, text);
        if (reply.len > 0)
            buf_printf(note, "%s%s", note->len > 0 ? "\n" : "",
                       buf_str(&reply));
        buf_free(&reply);
        free(text);
    }
}

void dispatch_command(struct bot *b, const struct adhoc_request *req,
                      struct adhoc_response *resp)
{
    struct adhoc_values current = {0};
    struct adhoc_texts texts;
    struct user u;
    enum adhoc_step step;
    int found = command_user(b, req->from, true, &u);

    if (found == -2) {
        adhoc_fail(resp, ADHOC_ERR_BUSY,
                   "You are sending too many requests; try again in a few "
                   "minutes.");
        return;
    }
    if (found < 0) {
        adhoc_fail(resp, ADHOC_ERR_INTERNAL,
                   "Sorry, something went wrong; please try again.");
        return;
    }
    if (found == 0) {
        char *text = xasprintf("Add me (%s) to your contacts first.", b->self);

        adhoc_fail(resp, ADHOC_ERR_FORBIDDEN, text);
        free(text);
        return;
    }
    step = adhoc_begin(&b->adhoc, req, u.jid, config_is_admin(b->cfg, u.jid),
                       b->now(), resp);
    if (step == ADHOC_STEP_DONE)
        return;
    if (form_values(b, &u, &current) < 0) {
        adhoc_values_free(&current);
        adhoc_fail(resp, ADHOC_ERR_INTERNAL,
                   "Sorry, something went wrong; please try again.");
        return;
    }
    if (step == ADHOC_STEP_FORM) {
        resp->values = current;
        return;
    }
    if (adhoc_texts(resp->cmd, &req->fields, &current, &texts, &resp->note) < 0)
        resp->note_type = ADHOC_NOTE_ERROR;
    else if (texts.n == 0)
        buf_append(&resp->note, "Nothing changed.");
    run_texts(b, &u, &texts, &resp->note);
    if (resp->note.len == 0 && resp->cmd->fields == NULL &&
        resp->cmd->instructions != NULL)
        buf_append(&resp->note, resp->cmd->instructions);
    adhoc_texts_free(&texts);
    adhoc_values_free(&current);
}
