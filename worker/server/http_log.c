/*
 * http_log — the access log line of a request whose response ended, in
 * Gunicorn's combined format, with what the client wrote escaped as nginx
 * escapes it. The line is built on the stack (malloc only past 1 KiB) and
 * handed to common/log.c, which owns the file.
 */
#include "worker/server/http_int.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

static void access_time(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(buf, n, "%d/%b/%Y:%H:%M:%S %z", &tm);
}

/* What one access-log line says; method is NULL when the request line
 * could not be read (a 400/414/431 before parsing), logged as "-" like
 * nginx does. */
struct access {
    const char *client, *method, *target, *ref, *ua;
    int minor, status;
    uint64_t bytes;
    double secs;
};

/* A line being built into buf (n bytes): writes what fits and counts all,
 * as snprintf does, so a short buffer tells access_write what to allocate. */
struct line {
    char *buf;
    size_t n, len;
};

static char *line_at(const struct line *l, size_t *room)
{
    *room = l->len < l->n ? l->n - l->len : 0;
    return *room > 0 ? l->buf + l->len : NULL;
}

__attribute__((format(printf, 2, 3))) static void line_fmt(struct line *l, const char *fmt, ...)
{
    size_t room;
    char *at = line_at(l, &room);
    va_list ap;

    va_start(ap, fmt);
    int k = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (k > 0)
        l->len += (size_t)k;
}

static void line_put(struct line *l, const char *s)
{
    size_t room, k = strlen(s);
    char *at = line_at(l, &room);

    if (k < room)
        memcpy(at, s, k + 1);
    l->len += k;
}

/* What the client wrote, escaped (log_escape): a '"' or a byte nginx would
 * not log raw cannot end a field early and forge the rest of the line. */
static void line_esc(struct line *l, const char *s)
{
    size_t room;
    char *at = line_at(l, &room);

    l->len += log_escape(at, room, s);
}

static int access_format(char *buf, size_t n, const struct access *a)
{
    char t[40], bytes[24] = "-";
    struct line l = { buf, n, 0 };

    access_time(t, sizeof(t));
    if (a->bytes > 0)
        snprintf(bytes, sizeof(bytes), "%" PRIu64, a->bytes);
    line_esc(&l, a->client);
    line_put(&l, " - - [");
    line_put(&l, t);
    line_put(&l, "] \"");
    if (a->method == NULL) {
        line_put(&l, "-");
    } else {
        char ver[] = " HTTP/1.0"; /* the parser took one digit */
        ver[sizeof(ver) - 2] = (char)('0' + (a->minor % 10));
        line_esc(&l, a->method);
        line_put(&l, " ");
        line_esc(&l, a->target);
        line_put(&l, ver);
    }
    line_fmt(&l, "\" %d %s \"", a->status, bytes);
    line_esc(&l, a->ref ? a->ref : "-");
    line_put(&l, "\" \"");
    line_esc(&l, a->ua ? a->ua : "-");
    line_fmt(&l, "\" %.6f\n", a->secs);
    return l.len > INT_MAX ? -1 : (int)l.len;
}

static void access_write(const struct access *a)
{
    char stack[1024];

    if (!log_access_enabled())
        return;
    int n = access_format(stack, sizeof(stack), a);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(stack)) {
        log_access_line(stack, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1); /* a long target or agent */
    if (big == NULL)
        return;
    access_format(big, (size_t)n + 1, a);
    log_access_line(big, (size_t)n);
    free(big);
}

void http__access_log(const struct http_req *r)
{
    struct access a = {
        r->client,
        r->head.method,
        r->head.target,
        http_req_header(r, "Referer"),
        http_req_header(r, "User-Agent"),
        r->head.minor,
        r->status,
        r->body_queued,
        (double)(http__now_us() - r->start_us) / 1e6,
    };
    access_write(&a);
}

void http__access_log_raw(const char *client, int status, uint64_t bytes)
{
    struct access a = { client, NULL, NULL, NULL, NULL, 1, status, bytes, 0 };

    access_write(&a);
}
