/*
 * notify — systemd's readiness protocol (sd_notify) for Type=notify units,
 * without linking libsystemd: one datagram per message to $NOTIFY_SOCKET.
 *
 * The master says READY=1 when its workers accept, RELOADING=1 on HUP
 * (READY=1 again once the new workers accept), STOPPING=1 on stop, and a
 * STATUS= line. With WATCHDOG_USEC set (WatchdogSec=), the loop pings
 * WATCHDOG=1 at half that interval. Without NOTIFY_SOCKET every call is
 * a no-op. After USR2 the old master goes quiet (notify_mute): the new
 * master speaks for the service, and the old one's STOPPING=1 must not
 * make systemd think the service is stopping.
 *
 * Ownership: notify_init takes NOTIFY_SOCKET out of the environment (the
 * workers must not talk to systemd) and keeps the address; the datagram
 * socket is opened per message and closed at once.
 */
#ifndef LLMFORK_NOTIFY_H
#define LLMFORK_NOTIFY_H

#include <stdint.h>

void notify_init(void);

/* Puts NOTIFY_SOCKET back into the environment: for a new master started
 * by USR2, which takes over talking to systemd. */
void notify_export(void);

/* Sends "KEY=VALUE\n..." as given (printf-style). Errors are ignored:
 * systemd not listening must not stop the server. */
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or 0
 * when systemd does not watch this process. */
int64_t notify_watchdog_ms(void);

/* 1: drop every message from now on; 0: speak again. */
void notify_mute(int on);

#endif
