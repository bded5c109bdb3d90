/* evmem — see evmem.h. */
#include "common/evmem.h"

#include <malloc.h>
#include <stdlib.h>

#include <event2/event.h>

/* libevent's MIN_BUFFER_SIZE on 64-bit systems: a chain is this size, or
 * (when the last chain is full, or the write is larger) a power of two
 * above it. Kept: CHAIN << 0 .. CHAIN << (CLASSES - 1). */
#define CHAIN 1024
#define CLASSES 3

static struct {
    void *block[EVMEM_KEEP];
    size_t n;
} kept[CLASSES];

/* The class a request of n bytes is served from, or -1. */
static int class_of_request(size_t n)
{
    for (int c = 0; c < CLASSES; c++)
        if (n == (size_t)CHAIN << c)
            return c;
    return -1;
}

/* The largest class whose requests p can serve, or -1. */
static int class_of_block(void *p)
{
    size_t u = malloc_usable_size(p);

    for (int c = CLASSES - 1; c >= 0; c--)
        if (u >= (size_t)CHAIN << c)
            return u < (size_t)CHAIN << (c + 1) ? c : -1;
    return -1;
}

static void *ev_malloc(size_t n)
{
    int c = class_of_request(n);

    if (c >= 0 && kept[c].n > 0)
        return kept[c].block[--kept[c].n];
    return malloc(n);
}

static void ev_free(void *p)
{
    int c = p != NULL ? class_of_block(p) : -1;

    if (c >= 0 && kept[c].n < EVMEM_KEEP) {
        kept[c].block[kept[c].n++] = p;
        return;
    }
    free(p);
}

void evmem_install(void)
{
    /* a kept block is an ordinary malloc block: realloc takes it as is */
    event_set_mem_functions(ev_malloc, realloc, ev_free);
}
