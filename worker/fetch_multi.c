/* fetch_multi — see fetch_multi.h. */
#include "worker/fetch_multi.h"

#include <stddef.h>

static struct {
    struct evcurl *ec;
    CURLM *multi;                       /* ec's */
    unsigned busy;                      /* transfers in it */
} shard[FETCH_SHARDS];
static int nshards;                     /* 0: not initialised */

static int shard_new(struct event_base *base, const struct fetch_opts *o,
                     evcurl_done_cb done)
{
    struct evcurl *ec = evcurl_new(base, done);
    CURLM *m;

    if (ec == NULL)
        return -1;
    m = evcurl_multi(ec);
    if (o->after_io != NULL)
        evcurl_on_after(ec, o->after_io, o->after_io_arg);
    if ((o->max_connects > 0 &&
         curl_multi_setopt(m, CURLMOPT_MAXCONNECTS,
                           o->max_connects) != CURLM_OK) ||
        curl_multi_setopt(m, CURLMOPT_PIPELINING,
                          o->http2 ? (long)CURLPIPE_MULTIPLEX
                                   : (long)CURLPIPE_NOTHING) != CURLM_OK) {
        evcurl_free(ec);
        return -1;
    }
    shard[nshards].ec = ec;
    shard[nshards].multi = m;
    shard[nshards].busy = 0;
    nshards++;
    return 0;
}

int fetch_multi_init(struct event_base *base, const struct fetch_opts *o,
                     evcurl_done_cb done)
{
    int n = o->http2 ? 1 : FETCH_SHARDS;

    if (nshards > 0)
        return -1;
    while (nshards < n)
        if (shard_new(base, o, done) != 0) {
            fetch_multi_free();
            return -1;
        }
    return 0;
}

int fetch_multi_add(CURL *easy)
{
    int s = 0;

    for (int i = 1; i < nshards; i++)
        if (shard[i].busy < shard[s].busy)
            s = i;
    if (nshards == 0 || curl_multi_add_handle(shard[s].multi, easy) != CURLM_OK)
        return -1;
    shard[s].busy++;
    return s;
}

void fetch_multi_remove(CURL *easy, int s)
{
    curl_multi_remove_handle(shard[s].multi, easy);
    shard[s].busy--;
}

void fetch_multi_free(void)
{
    while (nshards > 0) {
        nshards--;
        evcurl_free(shard[nshards].ec);
        shard[nshards].ec = NULL;
        shard[nshards].multi = NULL;
    }
}
