/*
 * queries.h - counts the SQL statements the store runs, for tests that
 * bound the number of queries an operation costs (never its time).
 *
 * The store's calls to sqlite3_step() resolve at link time to the
 * definition below (the test program's own symbol wins over the shared
 * library's), which counts every step that starts a statement afresh (a
 * statement not already part-way through its rows) and calls the
 * library's.  Include it in one file of a test program.
 */
#ifndef STARLING_TEST_QUERIES_H
#define STARLING_TEST_QUERIES_H

#include <dlfcn.h>

struct sqlite3_stmt;
int sqlite3_step(struct sqlite3_stmt *st);
int sqlite3_stmt_busy(struct sqlite3_stmt *st);

/* Statements run so far (a walk over many rows counts once). */
static unsigned long queries;

int sqlite3_step(struct sqlite3_stmt *st)
{
    static int (*real)(struct sqlite3_stmt *);

    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "sqlite3_step");
    if (!sqlite3_stmt_busy(st))
        queries++;
    return real(st);
}

#endif
