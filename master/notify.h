/*
 * notify — systemd's readiness protocol (sd_notify) for Type=notify units,
 * without linking libsystemd: one datagram per message to $NOTIFY_SOCKET.
 *
 * The master says READY=1 when its workers accept, RELOADING=1 on HUP
 * (READY=1 again once the new workers accept), STOPPING=1 on stop, and a
 * STATUS= line. Without NOTIFY_SOCKET every call is a no-op.
 *
 * Ownership: notify_init takes NOTIFY_SOCKET out of the environment (the
 * workers must not talk to systemd) and keeps the address; the datagram
 * socket is opened per message and closed at once.
 */
#ifndef LLMFORK_NOTIFY_H
#define LLMFORK_NOTIFY_H

void notify_init(void);

/* Puts NOTIFY_SOCKET back into the environment: for a new master started
 * by USR2, which takes over talking to systemd. */
void notify_export(void);

/* Sends "KEY=VALUE\n..." as given (printf-style). Errors are ignored:
 * systemd not listening must not stop the server. */
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
