/*
 * fetch_int — what fetch.c shares with its transports: the transfer's
 * struct and the steps of an attempt that both take. fetch.c drives
 * libcurl itself; fetch_h1.c drives h1.c, fetch's own HTTP/1.1 client for
 * the plain-http upstreams it serves (h1.h says which).
 *
 * Ownership: as fetch.h says. For a native transfer, f->rq (the request
 * head fetch_h1 builds) and f->h1 are fetch_h1's, freed by
 * fetch_h1_drop_request (the head, once the response head is in) and
 * fetch_h1_free.
 */
#ifndef LLMFORK_FETCH_INT_H
#define LLMFORK_FETCH_INT_H

#include <stdint.h>

#include <curl/curl.h>
#include <event2/event_struct.h>

#include "worker/fetch/fetch.h"

struct h1;

enum state {
    S_WAITING,      /* before an attempt: first one, or a retry's wait */
    S_RUNNING,      /* the easy handle is in the multi */
    S_DONE,         /* inside on_done */
    S_CANCELLED,    /* teardown pending on the next tick */
};

/* What the transfer's event is waiting for. */
enum wake { W_NONE, W_ATTEMPT, W_TOTAL, W_FIRST_BYTE, W_IDLE };

struct fetch {
    struct fetch *prev, *next;          /* g.live, for fetch_cleanup */
    CURL *easy;                         /* the curl transport, or */
    struct h1 *h1;                      /* fetch's own (f->native) */
    struct curl_slist *hdrs;
    char *rq;                           /* native: the request head */
    size_t rqlen, body_len;
    char key[64];                       /* native: h1's address key */
    void *body;
    void (*body_free)(void *);
    const struct fetch_cbs *cbs;
    void *arg;
    struct event ev;
    int64_t start_ms;                   /* fetch_start */
    int64_t attempt_ms;                 /* this attempt's start */
    int64_t last_ms;                    /* last response byte */
    int64_t wake_ms;                    /* next attempt (S_WAITING) */
    long connect_ms, first_byte_ms, idle_ms, total_ms;  /* <= 0: none */
    int max_retries;
    int attempts;
    int status;
    unsigned char state;
    unsigned in_multi : 1;
    unsigned native : 1;                /* h1, not curl */
    unsigned head_req : 1;              /* native: a HEAD request */
    unsigned kicked : 1;                /* f->ev activated: tick pending */
    unsigned got_byte : 1;              /* this attempt got a byte */
    unsigned head_done : 1;             /* this attempt's final head is in */
    unsigned delivered : 1;             /* a callback reached the caller */
    unsigned swallow : 1;               /* this attempt will be retried */
    unsigned want_pause : 1;            /* the caller paused */
    unsigned curl_paused : 1;           /* the transport holds back what
                                         * comes: curl's paused write, h1's
                                         * pause */
};

/* ---- fetch.c, for the transports ---- */

int64_t fetch_now_ms(void);

/* Re-arms f's deadlines. Only arms: safe inside any callback. */
void fetch_arm(struct fetch *f);

/* A response byte came: from the first-byte deadline to the idle one. */
void fetch_got_byte(struct fetch *f);

/* The attempt's final head is in, with status: delivered to the caller,
 * or swallowed for a retry. Returns 0, or -1 when the caller stopped the
 * transfer inside on_headers. */
int fetch_head_in(struct fetch *f, int status);

/* The attempt ended (outside the transport's callbacks' stack frames that
 * would touch f again): retried when retryable and nothing reached the
 * caller, else the transfer ends with rc. msg NULL: rc's own words. */
void fetch_attempt_end(struct fetch *f, enum fetch_rc rc, int retryable,
                       const char *msg);

/* ---- fetch_easy.c ---- */

/* Gives f an easy handle from the pool (f->easy, f's to put back even
 * when this fails), pointed at req with o, its head and body callbacks
 * at f. Returns 0 or -1. */
int fetch_easy_attach(struct fetch *f, const struct fetch_req *req,
                      const struct fetch_opts *o);

/* ---- fetch_h1.c ---- */

/* Makes f native when h1 serves req's URL: 0, or 1 when it does not (use
 * curl), or -1 when out of memory. */
int fetch_h1_setup(struct fetch *f, const struct fetch_req *req,
                   const char *user_agent);
int fetch_h1_begin(struct fetch *f);
void fetch_h1_pause(struct fetch *f);
void fetch_h1_resume(struct fetch *f);
void fetch_h1_drop_request(struct fetch *f);
/* "http://host:port/target" into buf, from the request head (alive until
 * the head is delivered, so for every retry); for logs. */
const char *fetch_h1_url(const struct fetch *f, char *buf, size_t n);
/* Ends the running attempt, keeping the response head readable. */
void fetch_h1_stop(struct fetch *f);
void fetch_h1_free(struct fetch *f);
const char *fetch_h1_header(const struct fetch *f, const char *name);
const void *fetch_h1_header_next(const struct fetch *f, const void *cursor,
                                 const char **name, const char **value);

#endif
