/*
 * log — see log.h. The fds are process-global and inherited across fork;
 * each process formats its own lines and writes them whole.
 */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096

struct logfile {
    int fd;     /* -1 = closed */
    char *path; /* NULL = a standard stream we do not own */
};

static struct logfile errlog = { STDERR_FILENO, NULL };
static struct logfile acclog = { -1, NULL };
static int cur_level = LOG_LVL_INFO;

static const char *const level_names[] = {
    "debug",
    "info",
    "warning",
    "error",
    "critical",
};
static const char *const level_tags[] = {
    "DEBUG",
    "INFO",
    "WARNING",
    "ERROR",
    "CRITICAL",
};
#define NLEVELS ((int)(sizeof(level_names) / sizeof(level_names[0])))

int log_level_parse(const char *name)
{
    for (int i = 0; i < NLEVELS; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

const char *log_level_name(int level)
{
    return level >= 0 && level < NLEVELS ? level_names[level] : "?";
}

static int open_append(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* Opens path into lf; std_fd is used for "-". The old state is replaced
 * only on success, so a failed reopen (HUP with a bad path) keeps logging. */
static int logfile_set(struct logfile *lf, const char *path, int std_fd)
{
    struct logfile nl = { std_fd, NULL };

    if (path != NULL && strcmp(path, "-") != 0) {
        nl.path = strdup(path);
        if (nl.path == NULL)
            return -1;
        nl.fd = open_append(path);
        if (nl.fd < 0) {
            int e = errno;
            free(nl.path);
            errno = e;
            return -1;
        }
    }
    if (lf->path != NULL) {
        close(lf->fd);
        free(lf->path);
    }
    *lf = nl;
    return 0;
}

int log_open(const char *error_path, const char *access_path, int level)
{
    if (logfile_set(&errlog, error_path, STDERR_FILENO) < 0)
        return -1;
    if (access_path == NULL) {
        if (logfile_set(&acclog, NULL, -1) < 0)
            return -1;
    } else if (logfile_set(&acclog, access_path, STDOUT_FILENO) < 0) {
        return -1;
    }
    log_set_level(level);
    return 0;
}

/* dup2 onto the same number: fds handed out before (or inherited by
 * workers) keep pointing at the log after rotation. */
static int logfile_reopen(struct logfile *lf)
{
    if (lf->path == NULL)
        return 0;
    int fd = open_append(lf->path);
    if (fd < 0)
        return -1;
    int rc = dup3(fd, lf->fd, O_CLOEXEC);
    int e = errno;
    close(fd);
    errno = e;
    return rc < 0 ? -1 : 0;
}

int log_reopen(void)
{
    int rc = logfile_reopen(&errlog);
    if (logfile_reopen(&acclog) < 0)
        rc = -1;
    return rc;
}

static int logfile_chown(const struct logfile *lf, uid_t uid, gid_t gid)
{
    return lf->path == NULL || fchown(lf->fd, uid, gid) == 0 ? 0 : -1;
}

int log_chown(uid_t uid, gid_t gid)
{
    int rc = logfile_chown(&errlog, uid, gid);
    if (logfile_chown(&acclog, uid, gid) < 0)
        rc = -1;
    return rc;
}

void log_close(void)
{
    logfile_set(&errlog, NULL, STDERR_FILENO);
    logfile_set(&acclog, NULL, -1);
}

void log_set_level(int level)
{
    if (level >= 0 && level < NLEVELS)
        cur_level = level;
}

int log_enabled(int level)
{
    return level >= cur_level;
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere left to report a logging failure */
        p += n;
        len -= (size_t)n;
    }
}

void log_msg(int level, const char *fmt, ...)
{
    if (!log_enabled(level) || errlog.fd < 0)
        return;
    int saved_errno = errno; /* callers log and then test errno */
    char line[LINE_MAX_LEN];
    struct tm tm;
    time_t now = time(NULL);

    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "[%Y-%m-%d %H:%M:%S +0000] ", &tm);
    int k = snprintf(line + n, sizeof(line) - n, "[%d] [%s] ", (int)getpid(),
                     level_tags[level < 0 || level >= NLEVELS ? LOG_LVL_ERROR : level]);
    n += (size_t)k;

    va_list ap;
    va_start(ap, fmt);
    errno = saved_errno; /* for %m */
    k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (k > 0)
        n += (size_t)k;
    if (n > sizeof(line) - 1)
        n = sizeof(line) - 1; /* truncated: the newline still ends it */
    while (n > 0 && line[n - 1] == '\n')
        n--;
    line[n++] = '\n';
    write_all(errlog.fd, line, n);
    errno = saved_errno;
}

int log_access_enabled(void)
{
    return acclog.fd >= 0;
}

void log_access_line(const char *line, size_t len)
{
    if (acclog.fd >= 0)
        write_all(acclog.fd, line, len);
}

static int log_needs_escape(unsigned char c)
{
    return c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
}

/* Runs of bytes that need no escape (nearly all of a line) are copied
 * whole: the access line is written for every request. */
size_t log_escape(char *dst, size_t n, const char *src)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)src;
    size_t len = 0, w = 0; /* w: written; stays behind once short */

    for (;;) {
        const unsigned char *run = s;
        while (*s != '\0' && !log_needs_escape(*s))
            s++;
        size_t k = (size_t)(s - run);
        if (w == len && len + k < n) {
            memcpy(dst + w, run, k);
            w += k;
        }
        len += k;
        if (*s == '\0')
            break;
        if (w == len && len + 4 < n) {
            dst[w] = '\\';
            dst[w + 1] = 'x';
            dst[w + 2] = hex[*s >> 4];
            dst[w + 3] = hex[*s & 15];
            w += 4;
        }
        len += 4;
        s++;
    }
    if (n > 0)
        dst[w] = '\0';
    return len;
}
