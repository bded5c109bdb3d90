/* proctitle — see proctitle.h. */
#include "master/proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static char *title_start; /* argv[0] */
static size_t title_room; /* bytes we may overwrite, NUL included */

/* The environment strings directly after argv are part of the contiguous
 * region we may reuse; move them to the heap first. The copies stay listed
 * in `moved` for the life of the process, even once unsetenv drops them
 * from environ (volatile: nothing reads it, and the compiler must not drop
 * the store, or leak checkers lose track). If a copy fails, the region
 * simply stops before it. */
static char **volatile moved;

static char *move_environ(char *end)
{
    int n = 0;
    while (environ[n] != NULL)
        n++;
    char **copies = calloc((size_t)n + 1, sizeof(*copies));
    if ((moved = copies) == NULL)
        return end;
    for (int i = 0; i < n && environ[i] == end + 1; i++) {
        size_t len = strlen(environ[i]);
        if ((copies[i] = strdup(environ[i])) == NULL)
            break;
        environ[i] = copies[i];
        end = end + 1 + len;
    }
    return end;
}

void proctitle_init(int argc, char **argv)
{
    if (argc < 1 || argv[0] == NULL)
        return;
    char *end = argv[0] + strlen(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (argv[i] != end + 1)
            break;
        end = argv[i] + strlen(argv[i]);
    }
    end = move_environ(end);
    title_start = argv[0];
    title_room = (size_t)(end - argv[0]) + 1;
}

void proctitle_set(const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);

    prctl(PR_SET_NAME, buf, 0, 0, 0);
    if (title_start == NULL || title_room < 2)
        return;
    size_t n = strlen(buf);
    if (n > title_room - 1)
        n = title_room - 1;
    memcpy(title_start, buf, n);
    /* Zero the rest so ps does not show leftovers of the old argv. */
    memset(title_start + n, 0, title_room - n);
}
