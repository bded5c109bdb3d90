/*
 * h1 — fetch's own HTTP/1.1 client, for plain http:// upstreams named by
 * an IP address or "localhost" (a model server on the same box or network:
 * Ollama, vLLM, a sidecar; the bench's mock). Everything else (https,
 * host names, proxies, userinfo) stays with libcurl. Why: at 1,000
 * streams libcurl's per-transfer setup and per-read bookkeeping were
 * two-thirds of a worker's instructions (docs/performance.md,
 * docs/design-notes.md); this client does what nginx's upstream module
 * does and no more: keep-alive connections per address, the request in one
 * writev, one recv per readable event, the body's framing decoded in place
 * (h1_parse.c), gzip and deflate bodies inflated (zlib), as curl does.
 *
 * Ownership:
 *  - Idle keep-alive connections belong to this module (per address, this
 *    process only), until h1_addr_trim or h1_addr_cleanup closes them.
 *  - A transfer (struct h1) is the caller's from h1_start to h1_free. It
 *    owns its connection while the response runs and gives it back to the
 *    idle pool when the response ended cleanly and the server allows it;
 *    otherwise it closes it.
 *  - The request (head and body) is borrowed: it must live until the head
 *    callback (by then all of it was written) or h1_free.
 *  - Pieces passed to data, the head and its fields are valid only during
 *    the callback, except the head's fields, which stay valid until
 *    h1_free.
 */
#ifndef LLMFORK_H1_H
#define LLMFORK_H1_H

#include <stddef.h>

#include "worker/fetch/h1/h1_parse.h"

struct event_base;
struct h1;

enum h1_err {
    H1_OK,
    H1_ECONNECT, /* connect failed, or the connection broke (or
                         * closed) before a response head */
    H1_ETIMEOUT_CONNECT,
    H1_ERECV, /* the response broke off or was malformed */
};

struct h1_cbs {
    /* The final head (1xx heads are skipped). Return 0 to go on, -1 when
     * the caller has stopped the transfer: h1 then closes the connection
     * and calls nothing more. */
    int (*head)(void *arg, const struct h1_head *head);
    /* A piece of the body, decoded; same return as head. */
    int (*data)(void *arg, const char *p, size_t n);
    /* The end: the last thing h1 does with the transfer (h1_free may be
     * called inside). msg is a human-readable reason, never NULL. */
    void (*done)(void *arg, enum h1_err err, const char *msg);
};

/* Sets up this process's client on base. after (may be NULL) is called
 * after each socket event's callbacks, as fetch_opts.after_io. */
void h1_init(struct event_base *base, void (*after)(void *), void *arg);

/* Which URLs h1 serves, their address keys, the idle connections and
 * their trimming and cleanup: h1_addr.h. */

/* Starts a transfer on a connection to key (from h1_addr_url): an idle
 * one or a new one. Callbacks come from the loop only, never from inside h1_start,
 * h1_pause, h1_resume or h1_free. head_req: the method is HEAD. Returns
 * NULL when out of memory or key's address cannot be used. */
struct h1 *h1_start(const char *key, const char *head, size_t headlen,
                    const void *body, size_t bodylen, int head_req,
                    long connect_ms, const struct h1_cbs *cbs, void *arg);

/* Backpressure: no data callback until h1_resume (received bytes are
 * kept; nothing more is read from the connection meanwhile). */
void h1_pause(struct h1 *h);
void h1_resume(struct h1 *h);

/* The response head (the final one), or NULL before it came. */
const struct h1_head *h1_response(const struct h1 *h);

/* Ends the transfer if it runs, closing its connection, with no callback;
 * the response head stays readable until h1_free. */
void h1_stop(struct h1 *h);

/* Ends the transfer if it runs (closing its connection) and frees it. */
void h1_free(struct h1 *h);

#endif
