/*
 * export.h - everything the service holds about one user, as one JSON
 * document (issue 15: "export").
 *
 * The document, format "starling-export" version 1 (UTF-8; times are
 * UTC, "2026-03-04T05:06:07Z"; lists newest first unless said):
 *
 *   format            "starling-export"
 *   version           1
 *   exported          time the document was made
 *   user              { nick, jid, bio, joined, active, deliver, away,
 *                       banned, ban_reason }
 *   settings          { time_zone (IANA name or null),
 *                       quiet_hours ({ from, to } as "HH:MM", or null),
 *                       digest_at ("HH:MM"), follow_notices (bool) }
 *   posts             [ { id, created, text, reply_to (id or null) } ]
 *   private_messages  [ { id, created, direction ("sent"/"received"),
 *                         peer (nick), text } ]
 *   following         [ { nick, since, digest (bool) } ]
 *   followers         [ { nick, since } ]
 *   favourites        [ { post, author, created, text } ] (by post)
 *   tracking          [ word or "#tag" ]            (alphabetical)
 *   blocking          [ nick ]
 *
 * A later version only adds members; a reader ignores what it does not
 * know.
 */
#ifndef STARLING_EXPORT_H
#define STARLING_EXPORT_H

#include <stddef.h>
#include <time.h>

#include "../common/util.h"
#include "../storage/store.h"

/*
 * Write u's document into out (appended).  0 done; 1 it would be longer
 * than max bytes (out then holds a part: discard it); -1 store error
 * (logged).
 */
int export_json(struct store *st, const struct user *u, time_t now, size_t max,
                struct buf *out);

/* The length of the first piece of s (len bytes) to send when pieces are
 * at most max bytes: max, or less so as not to cut a UTF-8 sequence (a
 * first character longer than max is the piece, whole). */
size_t export_piece(const char *s, size_t len, size_t max);

#endif
