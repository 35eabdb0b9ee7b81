/*
 * zone.h - local time in a user's IANA time zone: validating a zone name
 * against the system zone database, "3m / 5h / 2d / 2026-03-04" ages for
 * listings, quiet hours and the next time a wall clock shows HH:MM.
 *
 * Pure functions of their arguments and the zone files: no clock is read
 * (callers pass now) and nothing they change stays visible to the rest
 * of the program (see zone.c on TZ).  A name that is NULL, empty or not
 * a valid zone means UTC.  Minutes of the day run 0..1439.
 */
#ifndef STARLING_ZONE_H
#define STARLING_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define ZONE_NAME_MAX 63
#define ZONE_DIR      "/usr/share/zoneinfo"

/* true if name is a zone of the system database: letters, digits and
 * "_-+/" only (never ".." or a leading '/'), naming a regular TZif file
 * under ZONE_DIR. */
bool zone_valid(const char *name);
/* The zone's name as the database spells it ("europe/berlin" ->
 * "Europe/Berlin"): 0 and out (ZONE_NAME_MAX + 1 bytes) if name is a
 * valid zone in any letter case, else -1. */
int zone_canonical(const char *name, char *out);

/* Broken-down local time of t in zone name (tm_gmtoff set). */
void zone_local(const char *name, time_t t, struct tm *out);

/* How long before now t was, for a listing line: "now" (under a minute,
 * or in the future), "3m", "5h", "2d" (under a week), else the local date
 * of t in zone name, "2026-03-04". */
void zone_when(const char *name, time_t t, time_t now, char *out, size_t len);

/*
 * Quiet hours from minute start to minute end of the local day (end <
 * start spans midnight: 23:00-07:00).  true if now is inside them; then
 * *ends (if not NULL) is the first instant they are over: when the wall
 * clock shows end, or earlier when a daylight-saving change jumps out of
 * them.  false, and *ends = 0, outside them or when start == end or a
 * minute is out of range.
 */
bool zone_quiet(const char *name, int start, int end, time_t now, time_t *ends);

/* The first instant after now at which the local wall clock shows minute
 * (HH:MM:00); on a day that skips it (daylight saving starts), the
 * instant of the jump.  A minute that occurs twice (daylight saving ends)
 * occurs twice here too. */
time_t zone_next(const char *name, int minute, time_t now);

#endif
