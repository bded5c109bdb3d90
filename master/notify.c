/* notify — see notify.h. */
#include "master/notify.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_un target;
static socklen_t target_len; /* 0: not under systemd */
static char saved[sizeof(target.sun_path)];
static char saved_watchdog[32];
static int64_t watchdog_ms;
static int muted;

/* WATCHDOG_PID, when set, names the process systemd watches. */
static void watchdog_init(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    char *end;
    long long v = usec != NULL ? strtoll(usec, &end, 10) : 0;

    watchdog_ms = 0;
    saved_watchdog[0] = '\0';
    if (usec == NULL || *end != '\0' || v <= 0 || (pid != NULL && strtoll(pid, NULL, 10) != (long long)getpid()))
        return;
    watchdog_ms = v / 2000 > 0 ? v / 2000 : 1;
    snprintf(saved_watchdog, sizeof(saved_watchdog), "%lld", v);
}

void notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    size_t n = path != NULL ? strlen(path) : 0;

    target_len = 0;
    if (n >= 2 && n < sizeof(target.sun_path) && (path[0] == '/' || path[0] == '@')) {
        memset(&target, 0, sizeof(target));
        target.sun_family = AF_UNIX;
        memcpy(target.sun_path, path, n);
        memcpy(saved, path, n + 1);
        if (path[0] == '@')
            target.sun_path[0] = '\0'; /* abstract namespace */
        target_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
    }
    watchdog_init();
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

int64_t notify_watchdog_ms(void)
{
    return target_len != 0 ? watchdog_ms : 0;
}

void notify_mute(int on)
{
    muted = on;
}

void notify_export(void)
{
    if (target_len != 0)
        setenv("NOTIFY_SOCKET", saved, 1);
    if (saved_watchdog[0] != '\0')
        setenv("WATCHDOG_USEC", saved_watchdog, 1);
}

void notify_send(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (target_len == 0 || muted)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    ssize_t rc = sendto(fd, msg, (size_t)n, MSG_NOSIGNAL,
                        (const struct sockaddr *)&target, target_len);
    (void)rc;
    close(fd);
}
