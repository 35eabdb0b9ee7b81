/*
 * notify.h - the systemd notify protocol, spoken directly: a datagram to
 * $NOTIFY_SOCKET.  Every function does nothing when it is unset.
 */
#ifndef STARLING_NOTIFY_H
#define STARLING_NOTIFY_H

#include <stdint.h>

/* Send "READY=1", "STOPPING=1", "RELOADING=1", "WATCHDOG=1", ... */
void notify_send(const char *state);
/* Watchdog interval in microseconds from $WATCHDOG_USEC, 0 if none. */
uint64_t notify_watchdog_usec(void);

#endif
