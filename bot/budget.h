/*
 * budget.h - a per-JID message budget, so that nobody can use the bot to
 * flood itself or others (reflection).
 *
 * Each bare JID may send BUDGET_PER_MINUTE messages in a sliding minute;
 * the first one over gets a warning, then the JID is ignored for
 * BUDGET_MUTE_SECONDS.  The same entries remember, for
 * BUDGET_TELL_SECONDS, that a JID was given a notice it needs only once.
 * Memory stays bounded: idle entries are dropped.
 */
#ifndef STARLING_BUDGET_H
#define STARLING_BUDGET_H

#include <stdbool.h>
#include <time.h>

#define BUDGET_PER_MINUTE   30
#define BUDGET_MUTE_SECONDS 300
#define BUDGET_TELL_SECONDS 600 /* see budget_tell_once() */

enum budget_verdict {
    BUDGET_OK,   /* handle the message */
    BUDGET_WARN, /* over budget: send one warning, handle nothing */
    BUDGET_MUTE, /* muted: ignore silently */
};

struct budget;
struct budget *budget_new(void);
void budget_free(struct budget *b);
/* Account one message from bare at time now. */
enum budget_verdict budget_charge(struct budget *b, const char *bare,
                                  time_t now);
/*
 * For a notice that should reach bare at most once in a while (the bot
 * cannot read encrypted messages): true if bare was not told within the
 * last BUDGET_TELL_SECONDS, and records now as told.  Call it after
 * budget_charge() for the same message.
 */
bool budget_tell_once(struct budget *b, const char *bare, time_t now);

#endif
