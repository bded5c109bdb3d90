/* evmem — see evmem.h. */
#include "common/evmem.h"

#include <malloc.h>
#include <stdlib.h>

#include <event2/event.h>

/* libevent's MIN_BUFFER_SIZE on 64-bit systems: the size of the chain a
 * small write gets. */
#define CHAIN 1024

static void *kept[EVMEM_KEEP];
static size_t nkept;

static void *ev_malloc(size_t n)
{
    if (n == CHAIN && nkept > 0)
        return kept[--nkept];
    return malloc(n);
}

static void *ev_realloc(void *p, size_t n)
{
    return realloc(p, n);
}

/* Any block that holds a chain will do: malloc_usable_size says. Larger
 * ones go back to malloc, so the stack holds at most ~EVMEM_KEEP KiB. */
static void ev_free(void *p)
{
    size_t u;

    if (p != NULL && nkept < EVMEM_KEEP &&
        (u = malloc_usable_size(p)) >= CHAIN && u < 2 * CHAIN) {
        kept[nkept++] = p;
        return;
    }
    free(p);
}

void evmem_install(void)
{
    event_set_mem_functions(ev_malloc, ev_realloc, ev_free);
}
