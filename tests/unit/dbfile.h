/*
 * dbfile.h - remove a test's database file with the files SQLite keeps
 * beside it in WAL mode.
 */
#ifndef STARLING_TEST_DBFILE_H
#define STARLING_TEST_DBFILE_H

#include <stdio.h>
#include <unistd.h>

static inline void dbfile_remove(const char *path)
{
    char name[256];

    for (const char *const *sfx =
             (const char *const[]){"", "-wal", "-shm", NULL};
         *sfx != NULL; sfx++) {
        snprintf(name, sizeof(name), "%s%s", path, *sfx);
        unlink(name);
    }
}

#endif
