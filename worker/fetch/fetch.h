/*
 * fetch — outbound HTTP on the worker's event loop.
 *
 * Two transports behind one API. Plain http:// to an IP address or
 * localhost (a model server next to llmfork, a sidecar, the bench's mock)
 * goes through fetch's own HTTP/1.1 client, h1.h, unless
 * fetch_opts.native_http is 0 or a proxy variable is set; everything
 * else through libcurl (docs/design-notes.md says why). Retries,
 * timeouts, pause and the callbacks below are the same on both.
 *
 * One curl multi per worker process, created after fork by fetch_init()
 * and driven by the worker's event_base: curl's sockets become libevent
 * events, curl's timer one evtimer. Connections are reused across
 * transfers through the multi's connection cache (h1 keeps its own per
 * address). HTTP/1.1 by default;
 * HTTP/2 over TLS, multiplexed, when fetch_opts.http2 is set. TLS peers are
 * always verified. curl's proxy environment variables (http_proxy,
 * https_proxy, no_proxy, ...) are honoured. Only http and https; redirects
 * are not followed (a 3xx is a response like any other). Bodies are
 * asked for uncompressed (Accept-Encoding: identity); one that comes
 * gzip, deflate, br or zstd encoded anyway is decoded before on_data.
 *
 * A transfer:
 *
 *   static void on_data(struct fetch *f, const char *p, size_t n, void *a)
 *   { ... feed p[0..n) to the SSE parser ... }
 *   static void on_done(struct fetch *f, const struct fetch_result *r,
 *                       void *a)
 *   { ... r->rc, r->status, r->msg ... }
 *   static const struct fetch_cbs cbs = { on_headers, on_data, on_done };
 *
 *   const char *hdrs[] = { "Content-Type: application/json",
 *                          "api-key: ...", NULL };
 *   struct fetch_req req = { .method = "POST", .url = url, .headers = hdrs,
 *                            .body = json, .body_len = n, .body_free = free };
 *   struct fetch *f = fetch_start(&req, &cbs, state);
 *
 * Callbacks, in order: on_headers once when the final response head is in
 * (1xx heads are skipped), on_data for each piece of the body as it
 * arrives, on_done exactly once at the end with the result. A transfer
 * ended by fetch_cancel() gets no callback at all, not even on_done.
 * Callbacks are never called from inside fetch_start, fetch_cancel,
 * fetch_pause or fetch_resume, only from the loop.
 *
 * Retries: a response whose status retry_status() accepts (408, 409, 429,
 * 500, 502, 503, 504) and connection failures (resolve, connect, connect
 * timeout, TLS handshake, reset or nothing before any response) are
 * retried up to max_retries times, waiting as retry.h says, but only while
 * no callback has been delivered for this transfer: the swallowed
 * attempts' heads and bodies never reach the caller. When retries run out
 * the last response is delivered as any other (on_headers with its status
 * and headers, e.g. 429 with Retry-After, then its body). Once on_headers
 * has been called nothing is retried. First-byte and idle timeouts are not
 * retried: the server may still be working, and the caller's client is
 * waiting.
 *
 * Timeouts (ms): connect is curl's, per attempt; first byte runs from the
 * start of each attempt to the first response byte; idle runs between
 * response pieces, and stops while the caller holds the transfer paused;
 * total runs from fetch_start to on_done, across retries and their waits.
 * Each ends the transfer with its own fetch_rc.
 *
 * Ownership:
 *  - The multi, its sockets' events and its timer belong to this module
 *    (fetch_init .. fetch_cleanup), in the worker process that called
 *    fetch_init. Not thread-safe: call everything from the loop's thread.
 *  - struct fetch, its curl easy handle and its curl header list belong to
 *    this module. The caller's pointer is valid from fetch_start until
 *    on_done returns or fetch_cancel is called, whichever comes first.
 *    It is freed right after on_done returns, or on the loop turn after
 *    fetch_cancel: curl handles are never removed inside curl callbacks.
 *  - fetch_req: its strings (method, url, header lines) are copied by
 *    fetch_start. The body is never borrowed, because a cancelled
 *    transfer may still be sending until that later loop turn: it is
 *    copied, unless body_free is set; then fetch takes the body pointer
 *    and calls body_free(body) once when the transfer is freed (also when
 *    fetch_start fails), so a large JSON body built by the caller is
 *    never copied. Either way the body, and the header list, are freed
 *    early, when on_headers is called and curl has sent the whole body:
 *    from then on nothing is retried.
 *  - cbs must outlive the transfer (normally a static const struct); arg
 *    is the caller's and never touched after on_done or fetch_cancel.
 *  - Data passed to on_data, the fetch_result and its msg, and every
 *    string from fetch_header / fetch_header_next are valid only during
 *    the callback they are read in.
 */
#ifndef LLMFORK_FETCH_H
#define LLMFORK_FETCH_H

#include <stddef.h>

struct event_base;
struct fetch;

/* A per-request value of FETCH_NONE disables that timeout or retries; 0
 * means the worker default from fetch_opts. */
#define FETCH_NONE (-1)

enum fetch_rc {
    FETCH_OK = 0,   /* whole response, status < 400 */
    FETCH_EHTTP,    /* whole response, status >= 400 */
    FETCH_ECONNECT, /* resolve/connect/TLS failure, or the
                                 * connection broke before any response */
    FETCH_ETIMEOUT_CONNECT,
    FETCH_ETIMEOUT_FIRST_BYTE,
    FETCH_ETIMEOUT_IDLE,
    FETCH_ETIMEOUT_TOTAL,
    FETCH_ERECV,      /* the response broke off after it began
                                 * (cut connection, bad framing) */
    FETCH_EINVAL,     /* the request could not be made (bad URL,
                                 * protocol, out of memory) */
    FETCH_ECANCELLED, /* counted in stats only: cancelled
                                 * transfers get no on_done */
    FETCH_RC_COUNT
};

struct fetch_result {
    enum fetch_rc rc;
    int status;      /* final HTTP status, 0 if none */
    int attempts;    /* 1 + retries made */
    const char *msg; /* human-readable, never NULL */
};

struct fetch_cbs {
    /* Any may be NULL except on_done. The caller may call fetch_cancel,
     * fetch_pause and fetch_resume (on this or any transfer) and
     * fetch_start from inside any of them. */
    void (*on_headers)(struct fetch *f, int status, void *arg);
    void (*on_data)(struct fetch *f, const char *data, size_t len,
                    void *arg);
    /* f is freed when on_done returns. */
    void (*on_done)(struct fetch *f, const struct fetch_result *res,
                    void *arg);
};

struct fetch_req {
    const char *method;         /* NULL: GET, or POST when body is set */
    const char *url;            /* http:// or https:// */
    const char *const *headers; /* "Name: value" lines, NULL-terminated;
                                 * may be NULL */
    const void *body;           /* may be NULL */
    size_t body_len;
    void (*body_free)(void *); /* see Ownership above */
    /* ms; 0 = the worker default, FETCH_NONE = no limit */
    long connect_ms;
    long first_byte_ms;
    long idle_ms;
    long total_ms;
    int max_retries; /* 0 = the worker default, FETCH_NONE = 0 */
};

struct fetch_opts {
    const char *ca_file; /* CA bundle; NULL = curl's default */
    int http2;           /* 1: HTTP/2 over TLS, multiplexed */
    long max_connects;   /* connections (busy + idle) the multi
                                   keeps open; 0 = curl's own, 4 x the
                                   transfers in it (which closes idle ones
                                   as a wave of transfers ends) */
    long buffer_size;    /* per-transfer receive buffer, bytes */
    long connect_ms;     /* defaults for fetch_req's 0 values; */
    long first_byte_ms;  /* FETCH_NONE = no limit */
    long idle_ms;
    long total_ms;
    int max_retries;
    const char *user_agent;   /* NULL: none is sent */
    int native_http;          /* 1: plain http:// to an IP address or
                                   localhost goes through fetch's own
                                   HTTP/1.1 client (h1.h); 0: libcurl
                                   makes every call */
    void (*after_io)(void *); /* NULL, or called after each batch of
                                   callbacks (one upstream read), so what
                                   they wrote can go out in one go */
    void *after_io_arg;
};

struct fetch_stats {
    unsigned long started;
    unsigned long active; /* started, not yet done or cancelled */
    unsigned long retries;
    unsigned long done[FETCH_RC_COUNT]; /* by result */
};

/* Fills o with the defaults: verify TLS with curl's CA bundle, HTTP/1.1,
 * curl's own connection cache limit, 1 KiB receive buffers, curl's
 * minimum (a held stream gets ~300-byte chunks; in make bench's long@10000
 * row 8 KiB -> 2 KiB -> 1 KiB gave 22.8 -> 17.7 -> 16.8 KiB RSS per held
 * stream), connect 10 s, first
 * byte 60 s, idle 60 s, total 600 s, 2 retries. */
void fetch_opts_default(struct fetch_opts *o);

/* Creates this process's multi on base (after fork). opts NULL = defaults;
 * opts is copied (ca_file and user_agent too). Returns 0 or -1. */
int fetch_init(struct event_base *base, const struct fetch_opts *opts);

/* Ends every live transfer without callbacks and frees the multi. */
void fetch_cleanup(void);

/* Starts a transfer (it begins on the next loop turn). Returns NULL when
 * fetch_init was not called, req is invalid or memory runs out; no
 * callback is called then. */
struct fetch *fetch_start(const struct fetch_req *req,
                          const struct fetch_cbs *cbs, void *arg);

/* Stops the transfer at once: no callback for it fires after this call.
 * f must not be used afterwards. Safe inside any callback, including
 * this transfer's own. A no-op inside f's own on_done. */
void fetch_cancel(struct fetch *f);

/* Backpressure: stop receiving. Already received data for the current
 * on_data call has been delivered; no more on_data until fetch_resume.
 * The idle timeout does not run while paused; the total timeout does. */
void fetch_pause(struct fetch *f);
void fetch_resume(struct fetch *f);

/* The response's status (0 before the head is in). */
int fetch_status(const struct fetch *f);

/* The first response header with that name (case-insensitive), or NULL.
 * Valid in on_headers, on_data and on_done. */
const char *fetch_header(const struct fetch *f, const char *name);

/* Iterates the response headers: pass NULL first, then the returned
 * cursor; returns NULL after the last one. */
const void *fetch_header_next(const struct fetch *f, const void *cursor,
                              const char **name, const char **value);

const struct fetch_stats *fetch_stats(void);

/* Frees what the worker keeps idle for the next transfers (curl handles)
 * that no transfer took since the last call. The worker calls it on its
 * heartbeat, at most a second apart. */
void fetch_trim(void);

/* "ok", "http error", "connect error", "connect timeout", ... */
const char *fetch_rc_str(enum fetch_rc rc);

#endif
