/*
 * fetch_easy — the curl side of fetch: a fetch_req into easy options,
 * curl's result codes into fetch_rc and the retry decision; and, for
 * fetch.c, the curl transport (fetch_int.h: fetch__easy_attach, its table
 * of functions, its head and body callbacks, evcurl's done callback).
 *
 * Also fetch_opts_default (fetch.h), the defaults those options start from,
 * and the copy of the options fetch keeps.
 *
 * Ownership: the caller owns the easy handle (from fetch_easy_get, back
 * with fetch_easy_put; the pool itself belongs to this module). *hdrs
 * receives the curl header list built here (owned by the caller, freed
 * with curl_slist_free_all once the handle is put back or cleaned up,
 * also when setup fails). The parsed URLs (CURLU) that fetch_easy_setup
 * points a handle at belong to this module too: kept until
 * fetch_easy_drain, by when every handle has been reset or cleaned up.
 * body is sent as is, not copied: it must live as long as the handle.
 */
#ifndef LLMFORK_FETCH_EASY_H
#define LLMFORK_FETCH_EASY_H

#include <curl/curl.h>

#include "worker/fetch/fetch.h"

/* 1 when the environment names a proxy curl would use (http_proxy,
 * https_proxy, all_proxy and their capitals where curl reads them). Read
 * once per process. */
int fetch_easy_env_proxy(void);

/* A per-request value: 0 = dflt, FETCH_NONE (or below) = none (0). */
static inline long fetch_easy_pick(long req, long dflt)
{
    long v = req != 0 ? req : dflt;
    return v > 0 ? v : 0;
}

/* Sets URL, method, body, headers, protocol, TLS, buffer and connect
 * timeout options. Returns 0 or -1. */
int fetch_easy_setup(CURL *e, const struct fetch_req *req,
                     const struct fetch_opts *o, const void *body,
                     struct curl_slist **hdrs);

/* dst = src (or the defaults when src is NULL), with its own copies of
 * the strings (freed with fetch_opts_free). Returns 0, or -1 when out of
 * memory (dst then holds no strings). */
int fetch_opts_copy(struct fetch_opts *dst, const struct fetch_opts *src);
void fetch_opts_free(struct fetch_opts *o);

/* The result of an attempt that ended with code, after a response head
 * with status (head_done) or none. */
enum fetch_rc fetch_easy_rc(CURLcode code, int status, int head_done);

/* 1 when an attempt that failed with code (rc from fetch_easy_rc) failed
 * to connect in a way worth another try. */
int fetch_easy_retryable(CURLcode code, enum fetch_rc rc);

/* An easy handle with curl's defaults: an idle one from this process's
 * pool, or a new one (NULL when out of memory). */
CURL *fetch_easy_get(void);

/* Gives back a handle that is in no multi: reset (which drops its
 * references to option strings, lists and bodies) and kept, or cleaned
 * up when the pool is full. */
void fetch_easy_put(CURL *e);

/* Cleans up as many pooled handles as stayed idle since the last call
 * (fetch_trim, on the worker's heartbeat). Returns how many. */
int fetch_easy_trim(void);

/* Cleans up the pooled handles and the parsed URLs (fetch_cleanup, when
 * no transfer is left). */
void fetch_easy_drain(void);

/* 1 when curl has written the whole request body (of known length) to
 * the connection, so it will not read the body's bytes again. */
int fetch_easy_body_sent(CURL *e);

#endif
