/*
 * log.c - levelled logging to stderr, one line per message with a UTC
 * time stamp (journald adds its own, but foreground runs and test logs
 * need one).  Callers never pass passwords; bodies only to log_debug().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum log_level current = LOG_LEVEL_INFO;

static const char *const names[] = {"debug", "info", "warning", "error"};

void log_set_level(enum log_level level)
{
    current = level;
}

enum log_level log_get_level(void)
{
    return current;
}

static void vlog(enum log_level level, const char *err, const char *fmt,
                 va_list ap)
{
    char stamp[32];
    time_t now;
    struct tm tm;

    if (level < current)
        return;
    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    flockfile(stderr);
    fprintf(stderr, "%s %s: ", stamp, names[level]);
    vfprintf(stderr, fmt, ap);
    if (err != NULL)
        fprintf(stderr, ": %s", err);
    fputc('\n', stderr);
    funlockfile(stderr);
}

#define DEFINE_LOG(fn, level)                                                  \
    void fn(const char *fmt, ...)                                              \
    {                                                                          \
        va_list ap;                                                            \
        va_start(ap, fmt);                                                     \
        vlog(level, NULL, fmt, ap);                                            \
        va_end(ap);                                                            \
    }

DEFINE_LOG(log_debug, LOG_LEVEL_DEBUG)
DEFINE_LOG(log_info, LOG_LEVEL_INFO)
DEFINE_LOG(log_warnx, LOG_LEVEL_WARNING)
DEFINE_LOG(log_error, LOG_LEVEL_ERROR)

void log_warn(const char *fmt, ...)
{
    const char *err = strerror(errno);
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_LEVEL_WARNING, err, fmt, ap);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_LEVEL_ERROR, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}
