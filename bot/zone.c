/*
 * zone.c - local time in another zone, without changing the program's.
 *
 * C offers one way to convert between UTC and a named zone: set the TZ
 * environment variable, call tzset() and use localtime_r().  Every
 * conversion here happens between enter() and leave(), which point TZ at
 * the zone's file (":/usr/share/zoneinfo/NAME", the same file
 * zone_valid() checked) and put the previous value back (or unset it)
 * before returning, so the rest of the program never sees another zone.
 * The bot is single-threaded; nothing else may call localtime(), mktime()
 * or tzset() concurrently.  Each switch makes glibc read the zone file
 * again, so callers convert when they need a local wall clock, not for
 * every age ("5h" needs none).
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "zone.h"

#define DAY (24 * 60 * 60)

static bool name_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;

    if (n == 0 || n > ZONE_NAME_MAX || name[0] == '/' || name[n - 1] == '/' ||
        strstr(name, "..") != NULL || strstr(name, "//") != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];

        if (!(isalnum(c) || c == '_' || c == '-' || c == '+' || c == '/'))
            return false;
    }
    /* Not zones: the host's own zone and the POSIX default rules. */
    return strcmp(name, "localtime") != 0 && strcmp(name, "posixrules") != 0;
}

/* A regular file starting with the TZif magic. */
static bool tzif_file(const char *path)
{
    char magic[4];
    struct stat sb;
    bool ok;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0)
        return false;
    ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
         read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
         memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

bool zone_valid(const char *name)
{
    char path[sizeof(ZONE_DIR) + ZONE_NAME_MAX + 2];

    if (!name_ok(name))
        return false;
    snprintf(path, sizeof(path), "%s/%s", ZONE_DIR, name);
    return tzif_file(path);
}

/* The entry of directory dir matching part (n bytes) in any case, exact
 * spelling preferred; copied to out.  false if none. */
static bool find_entry(const char *dir, const char *part, size_t n, char *out,
                       size_t outlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;

    if (d == NULL)
        return false;
    while ((e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != n || n >= outlen ||
            strncasecmp(e->d_name, part, n) != 0)
            continue;
        memcpy(out, e->d_name, n + 1);
        found = true;
        if (strncmp(e->d_name, part, n) == 0)
            break;
    }
    closedir(d);
    return found;
}

int zone_canonical(const char *name, char *out)
{
    char dir[sizeof(ZONE_DIR) + ZONE_NAME_MAX + 2], entry[ZONE_NAME_MAX + 1];
    const char *p = name;
    size_t len = 0;

    if (!name_ok(name))
        return -1;
    snprintf(dir, sizeof(dir), "%s", ZONE_DIR);
    out[0] = '\0';
    while (*p != '\0') {
        size_t n = strcspn(p, "/");

        if (!find_entry(dir, p, n, entry, sizeof(entry)) ||
            len + n + (len > 0) > ZONE_NAME_MAX)
            return -1;
        len += (size_t)snprintf(out + len, ZONE_NAME_MAX + 1 - len, "%s%s",
                                len > 0 ? "/" : "", entry);
        snprintf(dir, sizeof(dir), "%s/%s", ZONE_DIR, out);
        p += n;
        if (*p == '/')
            p++;
    }
    return zone_valid(out) ? 0 : -1;
}

/* TZ as it was before enter(). */
struct saved {
    char *tz;
    bool zoned; /* false: the name was not a zone, UTC is used */
};

static void enter(const char *name, struct saved *sv)
{
    const char *old = getenv("TZ");
    char spec[sizeof(ZONE_DIR) + ZONE_NAME_MAX + 3];

    sv->tz = NULL;
    sv->zoned = zone_valid(name);
    if (!sv->zoned)
        return;
    if (old != NULL)
        sv->tz = xstrdup(old);
    snprintf(spec, sizeof(spec), ":%s/%s", ZONE_DIR, name);
    setenv("TZ", spec, 1);
    tzset();
}

static void leave(struct saved *sv)
{
    if (!sv->zoned)
        return;
    if (sv->tz != NULL)
        setenv("TZ", sv->tz, 1);
    else
        unsetenv("TZ");
    tzset();
    free(sv->tz);
    sv->tz = NULL;
}

static void local_at(const struct saved *sv, time_t t, struct tm *tm)
{
    if (sv->zoned)
        localtime_r(&t, tm);
    else
        gmtime_r(&t, tm);
}

static long second_of_day(const struct tm *tm)
{
    return tm->tm_hour * 3600L + tm->tm_min * 60L + tm->tm_sec;
}

void zone_local(const char *name, time_t t, struct tm *out)
{
    struct saved sv;

    enter(name, &sv);
    local_at(&sv, t, out);
    leave(&sv);
}

void zone_when(const char *name, time_t t, time_t now, char *out, size_t len)
{
    long long ago = (long long)now - (long long)t;
    struct tm tm;

    if (ago < 60)
        snprintf(out, len, "now");
    else if (ago < 3600)
        snprintf(out, len, "%lldm", ago / 60);
    else if (ago < DAY)
        snprintf(out, len, "%lldh", ago / 3600);
    else if (ago < 7 * DAY)
        snprintf(out, len, "%lldd", ago / DAY);
    else {
        zone_local(name, t, &tm);
        strftime(out, len, "%Y-%m-%d", &tm);
    }
}

/* Whether the search for a wall-clock time stops at an offset change,
 * given the local time a second before it and at it. */
typedef bool (*stop_fn)(const struct tm *before, const struct tm *at,
                        const int *arg);

/*
 * The first instant after t at which the local wall clock shows
 * minute:00, or the first offset change before it at which stop() says
 * so.  Within one offset the wall clock runs with real time, so the
 * distance is the wall-clock difference; when the offset differs at the
 * candidate, the change is found by bisection (offsets hold for months:
 * at most one change lies within a day) and the search goes on from it.
 */
static time_t next_wall(const struct saved *sv, time_t t, int minute,
                        stop_fn stop, const int *arg)
{
    for (int i = 0; i < 8; i++) {
        struct tm lt, ct;
        long d;
        time_t c, lo, hi;

        local_at(sv, t, &lt);
        d = minute * 60L - second_of_day(&lt);
        /* From an offset change (i > 0) the minute may be shown now. */
        if (d < 0 || (d == 0 && i == 0))
            d += DAY;
        c = t + d;
        local_at(sv, c, &ct);
        if (ct.tm_gmtoff == lt.tm_gmtoff)
            return c;
        lo = t;
        hi = c;
        while (hi - lo > 1) {
            time_t mid = lo + (hi - lo) / 2;

            local_at(sv, mid, &ct);
            if (ct.tm_gmtoff == lt.tm_gmtoff)
                lo = mid;
            else
                hi = mid;
        }
        local_at(sv, hi - 1, &lt);
        local_at(sv, hi, &ct);
        if (stop(&lt, &ct, arg))
            return hi;
        t = hi;
    }
    return t; /* not reached with real zones */
}

static bool in_window(int m, int start, int end)
{
    return start < end ? m >= start && m < end : m >= start || m < end;
}

/* Quiet hours end at an offset change that lands outside them. */
static bool leaves_window(const struct tm *before, const struct tm *at,
                          const int *win)
{
    (void)before;
    return !in_window(at->tm_hour * 60 + at->tm_min, win[0], win[1]);
}

/* A forward jump over the minute (or onto it) shows it at the jump. */
static bool jumps_over(const struct tm *before, const struct tm *at,
                       const int *minute)
{
    long from = second_of_day(before), to = second_of_day(at);
    long jump = ((to - from) % DAY + DAY) % DAY;
    long dist = ((*minute * 60L - from) % DAY + DAY) % DAY;

    return at->tm_gmtoff > before->tm_gmtoff && dist > 0 && dist <= jump;
}

static bool minute_ok(int m)
{
    return m >= 0 && m < 24 * 60;
}

bool zone_quiet(const char *name, int start, int end, time_t now, time_t *ends)
{
    struct saved sv;
    struct tm tm;
    int win[2] = {start, end};
    bool quiet;

    if (ends != NULL)
        *ends = 0;
    if (!minute_ok(start) || !minute_ok(end) || start == end)
        return false;
    enter(name, &sv);
    local_at(&sv, now, &tm);
    quiet = in_window(tm.tm_hour * 60 + tm.tm_min, start, end);
    if (quiet && ends != NULL)
        *ends = next_wall(&sv, now, end, leaves_window, win);
    leave(&sv);
    return quiet;
}

time_t zone_next(const char *name, int minute, time_t now)
{
    struct saved sv;
    time_t t;

    if (!minute_ok(minute))
        return 0;
    enter(name, &sv);
    t = next_wall(&sv, now, minute, jumps_over, &minute);
    leave(&sv);
    return t;
}
