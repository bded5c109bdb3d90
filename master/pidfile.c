/* pidfile — see pidfile.h. */
#include "master/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

int pidfile_write(const char *path)
{
    char tmp[4096], text[32];
    int n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    errno = 0;
    if (write(fd, text, (size_t)len) != len || close(fd) != 0) {
        int saved = errno ? errno : EIO;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return 0;
}

/* Up to n - 1 bytes of a file, NUL-terminated into buf; their count or -1. */
static ssize_t read_text(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, buf, n - 1);
    close(fd);
    if (got < 0)
        return -1;
    buf[got] = '\0';
    return got;
}

static long pid_in(const char *path)
{
    char text[32];

    return read_text(path, text, sizeof(text)) > 0 ? strtol(text, NULL, 10) : 0;
}

long pidfile_owner(const char *path)
{
    char proc[64], title[256];
    long pid = pid_in(path);

    if (pid <= 0 || pid == (long)getpid() || pid == (long)getppid())
        return 0;
    if (kill((pid_t)pid, 0) < 0 && errno != EPERM)
        return 0;
    snprintf(proc, sizeof(proc), "/proc/%ld/cmdline", pid);
    if (read_text(proc, title, sizeof(title)) <= 0)
        return 0;
    /* argv is NUL-separated; the title (proctitle.h) is one string */
    return strstr(title, ": master") != NULL ? pid : 0;
}

void pidfile_remove(const char *path)
{
    if (pid_in(path) == (long)getpid())
        unlink(path);
}
