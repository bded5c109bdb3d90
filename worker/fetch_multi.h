/*
 * fetch_multi — the worker's curl multis, each on the loop through
 * evcurl.c, for fetch.c.
 *
 * curl finds a connection to reuse by walking the host's connections in
 * its multi until an idle one, which takes as long as the transfers in
 * flight (28k instructions per transfer at 600; callgrind, curl 7.88). A
 * transfer goes to the least busy of FETCH_SHARDS multis, each with its
 * own connections, so a walk is a quarter as long (16k); sequential
 * requests all go to the first multi and reuse its connection. HTTP/2
 * multiplexes streams on one connection: then there is one multi.
 *
 * Ownership: this module owns the multis (and through evcurl their
 * sockets' events and timers). The caller owns the easy handles: it adds
 * them with fetch_multi_add and removes them with fetch_multi_remove,
 * never inside a curl callback.
 */
#ifndef LLMFORK_FETCH_MULTI_H
#define LLMFORK_FETCH_MULTI_H

#include <curl/curl.h>

#include "worker/evcurl.h"
#include "worker/fetch.h"

#define FETCH_SHARDS 4

struct event_base;

/* The multis on base, with o's connection limit, multiplexing and
 * after_io hook; done gets every finished transfer. Returns 0 or -1. */
int fetch_multi_init(struct event_base *base, const struct fetch_opts *o,
                     evcurl_done_cb done);

/* Adds easy to the least busy multi. Returns the multi's index, or -1. */
int fetch_multi_add(CURL *easy);

/* Removes easy from multi shard (fetch_multi_add's answer). */
void fetch_multi_remove(CURL *easy, int shard);

/* Every easy handle must have been removed. Closes cached connections. */
void fetch_multi_free(void);

#endif
