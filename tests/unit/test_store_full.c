/*
 * test_store_full.c - the store on a disk that fills up.
 *
 * A database file in a temporary directory (WAL, as in production) is
 * opened through a VFS that wraps the default one and fails every write
 * with SQLITE_FULL while `full` is set, as the kernel's ENOSPC does.
 * The store must then refuse changes without losing anything committed,
 * keep reading, log the condition once, and take writes again by itself
 * once space returns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbfile.h"
#include "delivery.h"
#include "store.h"
#include "util.h"

/* The full disk ----------------------------------------------------------- */

static bool full;
static sqlite3_vfs *real_vfs;
static sqlite3_vfs full_vfs;

struct full_file {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, right after this */
};

#define REAL(f) (((struct full_file *)(f))->real)

static int f_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    if (full)
        return SQLITE_FULL;
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static unsigned syncs; /* xSync calls on any file */

static int f_sync(sqlite3_file *f, int flags)
{
    syncs++;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int f_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int f_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int f_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int f_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int f_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int f_shm_map(sqlite3_file *f, int pg, int size, int extend,
                     void volatile **out)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, size, extend, out);
}

static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
    /* No memory-mapped reads: every page comes through f_read. */
    (void)f;
    (void)off;
    (void)n;
    *out = NULL;
    return SQLITE_OK;
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    (void)f;
    (void)off;
    (void)p;
    return SQLITE_OK;
}

static sqlite3_io_methods full_io = {
    .iVersion = 3,
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_reserved,
    .xFileControl = f_control,
    .xSectorSize = f_sector,
    .xDeviceCharacteristics = f_device,
    .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock,
    .xShmBarrier = f_shm_barrier,
    .xShmUnmap = f_shm_unmap,
    .xFetch = f_fetch,
    .xUnfetch = f_unfetch,
};

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
                  int flags, int *out_flags)
{
    struct full_file *ff = (struct full_file *)f;
    int rc;

    (void)vfs;
    ff->real = (sqlite3_file *)(ff + 1);
    rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    /* The wrapper is closed (and so the real file) only if it has
     * methods: none when the real open failed. */
    f->pMethods = rc == SQLITE_OK ? &full_io : NULL;
    return rc;
}

static void install_full_vfs(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    full_vfs = *real_vfs;
    full_vfs.zName = "full";
    full_vfs.szOsFile = (int)sizeof(struct full_file) + real_vfs->szOsFile;
    full_vfs.xOpen = f_open;
    sqlite3_vfs_register(&full_vfs, 1); /* the default from now on */
}

/* Fixtures ------------------------------------------------------------------
 */

static struct store *st;
static char dir[] = "/tmp/starling-full-XXXXXX";
static char path[64];

static int setup(void **state)
{
    (void)state;
    full = false;
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/s.db", dir);
    st = store_open(path);
    return st != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    full = false;
    store_close(st);
    dbfile_remove(path);
    rmdir(dir);
    strcpy(dir, "/tmp/starling-full-XXXXXX");
    return 0;
}

static int64_t mkuser(const char *jid, const char *nick)
{
    struct user u;

    assert_int_equal(store_user_create(st, jid, nick, false, false, 1000, &u),
                     0);
    return u.id;
}

static int add(int64_t author, const char *body, int64_t *id)
{
    struct post_new p = {.author = author, .body = body, .created = 2000};

    return store_post_add(st, &p, id, NULL);
}

static int64_t posts(void)
{
    struct store_stats s;

    assert_int_equal(store_stats(st, &s), 0);
    return s.posts;
}

/* stderr into a file while fn runs; the number of error lines logged. */
static int errors_logged(void (*fn)(void))
{
    FILE *tmp = tmpfile();
    int saved = dup(2), n = 0;
    char line[1024];

    assert_non_null(tmp);
    fflush(stderr);
    dup2(fileno(tmp), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    while (fgets(line, sizeof(line), tmp) != NULL)
        if (strstr(line, " error: ") != NULL)
            n++;
    fclose(tmp);
    return n;
}

/* Tests -----------------------------------------------------------------------
 */

static int64_t author, other, lost_id;

/* Group commit: the batch's units succeed (in memory), its COMMIT finds
 * the disk full; then two more changes fail on their own. */
static void fill_up(void)
{
    int64_t id;

    assert_int_equal(store_batch_begin(st), 0);
    assert_int_equal(add(author, "in the batch", &lost_id), 0);
    full = true;
    assert_int_equal(store_batch_end(st), -1);
    assert_int_equal(add(author, "alone", &id), -1);
    assert_int_equal(store_follow(st, other, author, 1), -1);
}

static int found(void *ud, const struct post *p)
{
    (void)p;
    (*(int *)ud)++;
    return 0;
}

static void test_full_disk_refuses_and_recovers(void **state)
{
    int64_t kept, id;
    int n = 0;

    (void)state;
    author = mkuser("a@x", "a");
    other = mkuser("b@x", "b");
    assert_int_equal(add(author, "kept", &kept), 0);
    assert_true(store_writable(st));

    /* Logged once, at error level, however many changes fail. */
    assert_int_equal(errors_logged(fill_up), 1);
    assert_false(store_writable(st));
    /* Nothing of the failed batch exists; what was committed is there
     * and can be read. */
    assert_int_equal(store_post_get(st, lost_id, found, &n), 0);
    assert_int_equal(store_post_get(st, kept, found, &n), 1);
    assert_int_equal(n, 1);
    assert_int_equal(posts(), 1);
    assert_int_equal(store_is_following(st, other, author), 0);
    /* A batch that only reads still commits, and proves nothing. */
    assert_int_equal(store_batch_begin(st), 0);
    assert_int_equal(posts(), 1);
    assert_int_equal(store_batch_end(st), 0);
    assert_false(store_writable(st));
    /* The probe fails while the disk is full... */
    assert_int_equal(store_probe(st), -1);
    assert_false(store_writable(st));

    /* ...and succeeds once space returns; then posts are stored again,
     * in batches too. */
    full = false;
    assert_int_equal(store_probe(st), 0);
    assert_true(store_writable(st));
    assert_int_equal(store_batch_begin(st), 0);
    assert_int_equal(add(author, "after", &id), 0);
    assert_int_equal(store_batch_end(st), 0);
    assert_int_equal(posts(), 2);
    assert_true(id > kept);
}

/* Out of a batch, the first write that works again ends the condition. */
static void test_a_stored_change_ends_it(void **state)
{
    int64_t a, id;

    (void)state;
    a = mkuser("a@x", "a");
    full = true;
    assert_int_equal(add(a, "refused", &id), -1);
    assert_false(store_writable(st));
    /* A change that leaves every byte as it was writes nothing, so it
     * succeeds on a full disk and proves nothing. */
    assert_int_equal(store_user_set_flag(st, a, USER_AWAY, false), 0);
    assert_false(store_writable(st));
    full = false;
    assert_int_equal(store_user_set_flag(st, a, USER_AWAY, false), 0);
    assert_false(store_writable(st));
    assert_int_equal(add(a, "stored", &id), 0);
    assert_true(store_writable(st));
    assert_int_equal(posts(), 1);
}

/* Issue 14: updates served from memory lose nothing to a full disk.  One
 * whose recipient went away while the disk was full, so that its held row
 * could not be written, is held once a write works again; one of a post
 * whose batch could not be committed is never sent. */
static size_t room, nsent;
static char sent_body[4][128];

static size_t op_room(void *ud)
{
    (void)ud;
    return room;
}

static int op_send(void *ud, const struct outmsg *m)
{
    (void)ud;
    if (nsent < 4)
        snprintf(sent_body[nsent], sizeof(sent_body[0]), "%s", m->body);
    nsent++;
    return 0;
}

static int op_barrier(void *ud, uint64_t *token)
{
    static uint64_t next;

    (void)ud;
    *token = ++next;
    return 0;
}

static void test_full_disk_loses_no_update_from_memory(void **state)
{
    static const struct delivery_ops ops = {op_room, op_send, op_barrier};
    struct presence *pr = presence_new();
    struct delivery *d = delivery_new(st, pr, &ops, NULL);
    int64_t a, f, id;

    (void)state;
    a = mkuser("a@x", "a");
    f = mkuser("f@x", "f");
    assert_int_equal(store_follow(st, f, a, 1), 0);
    presence_update(pr, "f@x/r", SHOW_CHAT, 0);
    room = 0;
    assert_int_equal(add(a, "one", &id), 0);
    delivery_post_committed(d, id);
    /* Away (and updates wait while away) before it could be sent, with
     * the disk full: no held row can be written. */
    full = true;
    presence_update(pr, "f@x/r", SHOW_AWAY, 0);
    room = 100;
    delivery_pump(d);
    assert_int_equal(nsent, 0);
    full = false;
    presence_update(pr, "f@x/r", SHOW_CHAT, 0);
    delivery_user_changed(d, f);
    delivery_pump(d);
    assert_int_equal(nsent, 0);
    /* The next tick writes it held, and the recipient has it. */
    delivery_tick(d, 3000);
    delivery_pump(d);
    assert_int_equal(nsent, 1);
    assert_non_null(strstr(sent_body[0], "a: one"));

    /* A post of a batch whose commit fails is not sent. */
    assert_int_equal(store_batch_begin(st), 0);
    assert_int_equal(add(a, "two", &id), 0);
    delivery_post_committed(d, id);
    full = true;
    assert_int_equal(store_batch_end(st), -1);
    delivery_requeue(d);
    delivery_pump(d);
    assert_int_equal(nsent, 1);
    full = false;
    delivery_free(d);
    presence_free(pr);
}

/* A follow in a batch that is lost never took place: the author's next
 * post does not reach the follower, though a post in the same batch did
 * (the followers kept in memory are dropped with the batch). */
static int64_t held(void)
{
    struct store_stats s;

    assert_int_equal(store_stats(st, &s), 0);
    return s.held;
}

static void test_a_lost_batch_takes_its_follows(void **state)
{
    int64_t a, b, id;

    (void)state;
    a = mkuser("a@x", "a");
    b = mkuser("b@x", "b");
    assert_int_equal(add(a, "to nobody", &id), 0);
    assert_int_equal(held(), 0);
    assert_int_equal(store_batch_begin(st), 0);
    assert_int_equal(store_follow(st, b, a, 1), 0);
    assert_int_equal(add(a, "to b, in the batch", &id), 0);
    full = true;
    assert_int_equal(store_batch_end(st), -1);
    full = false;
    assert_int_equal(store_is_following(st, b, a), 0);
    assert_int_equal(add(a, "to nobody again", &id), 0);
    assert_int_equal(held(), 0);
}

/* A post (or any change a user is told about) is on disk when its
 * transaction ends; a commit that only records confirmed deliveries
 * waits for the next one that syncs. */
static int row_id(void *ud, const struct outbox_row *r)
{
    *(int64_t *)ud = r->id;
    return 0;
}

/* A post by a to its one follower, synced; its held row's id. */
static int64_t post_held(int64_t a, const char *body)
{
    int64_t id, row = 0;
    unsigned before = syncs;

    assert_int_equal(add(a, body, &id), 0);
    assert_true(syncs > before);
    assert_int_equal(store_outbox_for_post(st, id, OUTBOX_UPDATE, row_id, &row),
                     0);
    assert_true(row > 0);
    return row;
}

static void test_only_confirmations_wait_for_a_sync(void **state)
{
    int64_t a, f, row;
    unsigned before;

    (void)state;
    a = mkuser("a@x", "a");
    f = mkuser("f@x", "f");
    before = syncs;
    assert_int_equal(store_follow(st, f, a, 1), 0);
    assert_true(syncs > before);
    /* A confirmation alone: no sync. */
    row = post_held(a, "one");
    before = syncs;
    assert_int_equal(store_outbox_done(st, &row, 1), 0);
    assert_int_equal(syncs, before);
    /* With a change a user made in the same batch: synced. */
    row = post_held(a, "two");
    before = syncs;
    assert_int_equal(store_batch_begin(st), 0);
    assert_int_equal(store_outbox_done(st, &row, 1), 0);
    assert_int_equal(store_user_set_flag(st, f, USER_AWAY, true), 0);
    assert_int_equal(store_batch_end(st), 0);
    assert_true(syncs > before);
    /* A batch of confirmations alone: no sync. */
    row = post_held(a, "three");
    before = syncs;
    assert_int_equal(store_batch_begin(st), 0);
    assert_int_equal(store_outbox_done(st, &row, 1), 0);
    assert_int_equal(store_batch_end(st), 0);
    assert_int_equal(syncs, before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_disk_refuses_and_recovers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_stored_change_ends_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_full_disk_loses_no_update_from_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_lost_batch_takes_its_follows,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_confirmations_wait_for_a_sync,
                                        setup, teardown),
    };

    install_full_vfs();
    return cmocka_run_group_tests_name("store_full", tests, NULL, NULL);
}
