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
static socklen_t target_len;    /* 0: not under systemd */
static char saved[sizeof(target.sun_path)];

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
            target.sun_path[0] = '\0';      /* abstract namespace */
        target_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n
                                 + (path[0] == '/'));
    }
    unsetenv("NOTIFY_SOCKET");
}

void notify_export(void)
{
    if (target_len != 0)
        setenv("NOTIFY_SOCKET", saved, 1);
}

void notify_send(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (target_len == 0)
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
