/*
 * log.h - levelled logging to stderr.
 *
 * Never pass a password or a message body to anything above log_debug().
 * log_warn() appends strerror(errno); log_warnx() does not (OpenSMTPD).
 * fatal() is for start-up failures and out-of-memory only: it exits 1.
 */
#ifndef STARLING_LOG_H
#define STARLING_LOG_H

enum log_level {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARNING,
    LOG_LEVEL_ERROR,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
