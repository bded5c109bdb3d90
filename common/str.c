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
