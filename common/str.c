/* str — small string helpers (see str.h). */
#include "common/str.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *str_fmt(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

size_t str_base_len(const char *url)
{
    size_t n = strlen(url);

    while (n > 0 && url[n - 1] == '/')
        n--;
    return n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int str_query_param(const char *query, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);

    for (const char *p = query; p && *p; p = strchr(p, '&'), p = p ? p + 1 : p) {
        size_t len = 0;
        const char *v;

        if (strncmp(p, name, nl) || (p[nl] != '=' && p[nl] != '&' && p[nl]))
            continue;
        v = p[nl] == '=' ? p + nl + 1 : p + nl;
        for (; *v && *v != '&'; v++) {
            int c = (unsigned char)*v;

            if (c == '+') {
                c = ' ';
            } else if (c == '%') {
                int hi = hexval(v[1]), lo = hi < 0 ? -1 : hexval(v[2]);

                if (lo < 0)
                    return -2;
                c = hi * 16 + lo;
                v += 2;
            }
            if (len + 1 >= n)
                return -2;
            out[len++] = (char)c;
        }
        out[len] = '\0';
        return (int)len;
    }
    return -1;
}

/* Room for n more bytes and a NUL. */
static int reserve(struct str_buf *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->oom)
        return -1;
    if (b->len + n < b->cap)
        return 0;
    if (n > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return -1;
    }
    for (cap = b->cap ? b->cap : 256; cap <= b->len + n; cap *= 2)
        ;
    if ((p = realloc(b->p, cap)) == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int str_buf_add(struct str_buf *b, const void *p, size_t n)
{
    if (reserve(b, n) != 0)
        return -1;
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int str_buf_puts(struct str_buf *b, const char *s)
{
    return str_buf_add(b, s, strlen(s));
}

int str_buf_vprintf(struct str_buf *b, const char *fmt, va_list ap)
{
    size_t room = b->oom || b->cap == 0 ? 0 : b->cap - b->len;
    va_list again;
    int n;

    /* Usually it fits in the room left: one vsnprintf. */
    va_copy(again, ap);
    n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, again);
    va_end(again);
    if (n >= 0 && (size_t)n < room) {
        b->len += (size_t)n;
        return 0;
    }
    if (n < 0 || reserve(b, (size_t)n) != 0) {
        if (b->cap > 0)
            b->p[b->len] = '\0';
        b->oom = 1;
        return -1;
    }
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int str_buf_printf(struct str_buf *b, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = str_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

const char *str_buf_cstr(const struct str_buf *b)
{
    return b->cap > 0 ? b->p : "";
}

void str_buf_reset(struct str_buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->cap > 0)
        b->p[0] = '\0';
}

void str_buf_free(struct str_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
