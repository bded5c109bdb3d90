/* str — small string helpers (see str.h). */
#include "common/str.h"

#include <stdarg.h>
#include <stdio.h>
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
