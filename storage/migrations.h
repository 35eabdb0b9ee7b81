/*
 * migrations.h - numbered schema steps keyed on PRAGMA user_version.
 * Internal to storage/: only store.c calls it.
 */
#ifndef STARLING_MIGRATIONS_H
#define STARLING_MIGRATIONS_H

#include <sqlite3.h>

/* Bring db up to the newest schema, one transaction per step, forward
 * only.  0, or -1 (logged) leaving db at the last complete step. */
int migrations_apply(sqlite3 *db);
/* The same, up to step target only (tests build every older schema). */
int migrations_apply_to(sqlite3 *db, int target);
/* The number of the newest step. */
int migrations_latest(void);

#endif
