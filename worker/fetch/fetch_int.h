/*
 * fetch_int — what fetch.c shares with its two transports: the transfer's
 * struct, the table of functions a transport is to fetch.c (struct
 * fetch_transport), and the steps of an attempt that both take.
 * fetch_easy.c is the libcurl transport (an easy handle in the multi of
 * evcurl.c); fetch_h1.c drives h1.c, fetch's own HTTP/1.1 client for the
 * plain-http upstreams it serves (h1.h says which). fetch.c calls a
 * transport only through f->tr.
 *
 * Ownership: as fetch.h says. What a transport holds in struct fetch is
 * its own and freed by its release: for curl f->easy (back to the pool)
 * and f->hdrs; for h1 f->h1 and f->rq (the request head fetch_h1 builds,
 * freed early by drop_request once the response head is in). f->body is
 * fetch.c's; drop_request frees it early when the transport has sent it.
 */
#ifndef LLMFORK_FETCH_INT_H
#define LLMFORK_FETCH_INT_H

#include <stdint.h>

#include <curl/curl.h>
#include <event2/event_struct.h>

#include "worker/fetch/fetch.h"

struct h1;
struct fetch;

/* A transport, as fetch.c sees it. Every function is called from the loop
 * (never from inside the transport's own callbacks) except pause and
 * drop_request, which may be, and header/header_next/url, which read. */
struct fetch_transport {
    /* Starts an attempt. Returns 0, or -1 with *why. */
    int (*begin)(struct fetch *f, const char **why);
    /* Ends the running attempt, if any; the response head stays
     * readable (header, header_next). */
    void (*stop)(struct fetch *f);
    /* The caller paused (f->want_pause): hold back what comes, setting
     * f->tr_paused when the transport now holds it. */
    void (*pause)(struct fetch *f);
    /* Hands over what was held back; may call the caller's on_data. */
    void (*resume)(struct fetch *f);
    /* The head is delivered, nothing is retried: drop what only writing
     * the request needed. */
    void (*drop_request)(struct fetch *f);
    /* The URL of the attempt, for logs (into buf, or the transport's
     * own), or NULL. */
    const char *(*url)(const struct fetch *f, char *buf, size_t n);
    const char *(*header)(const struct fetch *f, const char *name);
    const void *(*header_next)(const struct fetch *f, const void *cursor,
                               const char **name, const char **value);
    /* Frees what the transport holds in f; f's attempt is stopped. */
    void (*release)(struct fetch *f);
};

enum state {
    S_WAITING,   /* before an attempt: first one, or a retry's wait */
    S_RUNNING,   /* the easy handle is in the multi */
    S_DONE,      /* inside on_done */
    S_CANCELLED, /* teardown pending on the next tick */
};

/* What the transfer's event is waiting for. */
enum wake { W_NONE,
            W_ATTEMPT,
            W_TOTAL,
            W_FIRST_BYTE,
            W_IDLE };

struct fetch {
    struct fetch *prev, *next;        /* g.live, for fetch_cleanup */
    const struct fetch_transport *tr; /* NULL until one is chosen */
    CURL *easy;                       /* the curl transport, or */
    struct h1 *h1;                    /* fetch's own */
    struct curl_slist *hdrs;
    char *rq; /* h1: the request head */
    size_t rqlen, body_len;
    char key[64]; /* h1: its address key */
    void *body;
    void (*body_free)(void *);
    const struct fetch_cbs *cbs;
    void *arg;
    struct event ev;
    int64_t start_ms;                                  /* fetch_start */
    int64_t attempt_ms;                                /* this attempt's start */
    int64_t last_ms;                                   /* last response byte */
    int64_t wake_ms;                                   /* next attempt (S_WAITING) */
    long connect_ms, first_byte_ms, idle_ms, total_ms; /* <= 0: none */
    int max_retries;
    int attempts;
    int status;
    unsigned char state;
    unsigned in_multi : 1;   /* curl: the easy is in the multi */
    unsigned head_req : 1;   /* h1: a HEAD request */
    unsigned kicked : 1;     /* f->ev activated: tick pending */
    unsigned got_byte : 1;   /* this attempt got a byte */
    unsigned head_done : 1;  /* this attempt's final head is in */
    unsigned delivered : 1;  /* a callback reached the caller */
    unsigned swallow : 1;    /* this attempt will be retried */
    unsigned want_pause : 1; /* the caller paused */
    unsigned tr_paused : 1;  /* the transport holds back what
                                         * comes: curl's paused write, h1's
                                         * pause */
};

/* ---- fetch.c, for the transports ---- */

int64_t fetch__now_ms(void);

/* Re-arms f's deadlines. Only arms: safe inside any callback. */
void fetch__arm(struct fetch *f);

/* A response byte came: from the first-byte deadline to the idle one. */
void fetch__got_byte(struct fetch *f);

/* The attempt's final head is in, with status: delivered to the caller,
 * or swallowed for a retry. Returns 0, or -1 when the caller stopped the
 * transfer inside on_headers. */
int fetch__head_in(struct fetch *f, int status);

/* The attempt ended (outside the transport's callbacks' stack frames that
 * would touch f again): retried when retryable and nothing reached the
 * caller, else the transfer ends with rc. msg NULL: rc's own words. */
void fetch__attempt_end(struct fetch *f, enum fetch_rc rc, int retryable,
                        const char *msg);

/* The worker's multi (evcurl's), for the curl transport. */
CURLM *fetch__multi(void);

/* ---- fetch_easy.c ---- */

/* Makes f a curl transfer: an easy handle from the pool (f->easy, put
 * back by release even when this fails), pointed at req with o, its head
 * and body callbacks at f. Returns 0 or -1. */
int fetch__easy_attach(struct fetch *f, const struct fetch_req *req,
                       const struct fetch_opts *o);

/* evcurl's done callback: the attempt of easy's transfer ended. */
void fetch__easy_done(CURL *easy, CURLcode code);

/* ---- fetch_h1.c ---- */

/* Makes f an h1 transfer when h1 serves req's URL: 0, or 1 when it does
 * not (use curl), or -1 when out of memory (f->tr set: release frees). */
int fetch__h1_setup(struct fetch *f, const struct fetch_req *req,
                    const char *user_agent);

#endif
