/*
 * http_int — what http.c (server), http_conn.c (connections, framing,
 * I/O) and http_req.c (the request and response API, the access log)
 * share. Not for apps.
 *
 * Ownership: the server owns its connections (a list); a connection owns
 * its fd, its five events (embedded), its input buffer and its output
 * evbuffer, and the request it is reading. Once a request is dispatched the
 * app holds it until it ends the response; the request then frees itself.
 * If the connection closes first it sets req->conn = NULL, req->gone = 1,
 * and leaves the request to the app. An ended request goes on its
 * server's ended list and is freed by reap_ev once the app's callback
 * has returned, so a second answer in that callback is caught, not a
 * write into freed memory.
 *
 * Only event callbacks in http_conn.c (and drain/free in http.c) free a
 * connection. API calls from apps (http_resp_*) never do: on a write
 * error they mark the connection broken and kick it, and the write
 * callback closes it from the loop.
 */
#ifndef LLMFORK_HTTP_INT_H
#define LLMFORK_HTTP_INT_H

#include <stdint.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/buffer.h>

#include "worker/server/http.h"
#include "worker/server/http_parse.h"

enum conn_state {
    C_HEAD,   /* reading a request head (or idle between requests) */
    C_BODY,   /* reading a request body */
    C_APP,    /* request dispatched; the app has it */
    C_LINGER, /* response sent, write side shut; discarding input */
};

struct http_server {
    struct event_base *base;
    const struct cfg *cfg;
    struct sb_slot *slot;
    http_handler handler;
    void *arg;
    struct http_limits lim;
    struct evconnlistener **lev;
    int nlev;
    struct event retry; /* re-enables accepting after EMFILE */
    int accept_paused;
    struct conn *conns; /* doubly linked */
    int nconns;
    int draining;
    void (*done)(void *);
    void *done_arg;
    struct event done_ev;
    struct event reap_ev;   /* frees the ended requests (http__req_reap) */
    struct http_req *ended; /* ended, not yet freed: owned here */
};

enum { ARMED_R = 1,
       ARMED_W = 2,
       ARMED_C = 4,
       ARMED_T = 8 };

struct conn {
    struct http_server *srv;
    struct conn *prev, *next;
    int fd;
    enum conn_state state;
    struct event rev, wev, tev;
    struct event kev;    /* kicked by http__conn_kick; runs on_write */
    struct event cev;    /* EV_CLOSED while reading is paused */
    unsigned char armed; /* ARMED_*: which of rev, wev, cev, tev
                                 * are added (only http__conn_arm adds them) */
    char *in;            /* unparsed input (NULL when empty/idle) */
    size_t in_len, in_cap;
    struct evbuffer *out;
    struct http_scan scan;
    struct h1f_chunked chunk;
    uint64_t body_left; /* Content-Length bytes still to read */
    int chunked;
    int64_t deadline_ms; /* end of the head timeout */
    int head_started;    /* a request's first byte has arrived */
    int reading;         /* rev is added */
    int close_after;     /* close once the current response ends */
    int closing;         /* no more requests: flush, then linger */
    int broken;          /* write failed; close from the loop */
    int in_process;
    int nreq;                   /* requests read on this connection */
    struct http_req *req;       /* being read, or in the app's hands */
    struct conn *hprev, *hnext; /* on the held list (http_flush_held) */
    int held;                   /* output waits for http_flush_held */
    char client[64];
};

struct http_req {
    struct conn *conn; /* NULL once the client has gone */
    struct http_server *srv;
    struct http_head head;
    char *path;
    const char *query;
    char client[64];
    char *body;
    size_t body_len, body_cap;
    int keepalive;
    int head_only; /* HEAD: no body bytes */
    int gone;
    int dispatched;
    int started;     /* head sent */
    int streaming;   /* http_resp_start called */
    int chunked_out; /* body framed with chunks (else close) */
    int status;
    uint64_t body_queued; /* body bytes handed to the connection */
    int64_t start_us;
    struct evbuffer *hdrs; /* extra response header lines */
    http_req_cb on_close, on_drain;
    void *close_arg, *drain_arg;
    int want_drain;
    int ended; /* response ended; freed by http__req_reap */
    struct http_req *next_ended;
    /* head text and fields follow in the same allocation */
};

/* http_req.c */
struct http_req *http__req_new(struct conn *c, const char *head, size_t len,
                               int nfields, int *status);
void http__req_free(struct http_req *r);
/* Writes r's access log line (http_log.c); _raw: for an answer to a
 * request that was never parsed ("-" for its line). */
void http__access_log(const struct http_req *r);
void http__access_log_raw(const char *client, int status, uint64_t bytes);
/* Frees the requests that ended since the last call (s->ended). */
void http__req_reap(struct http_server *s);
/* The connection is going away under a dispatched request. */
void http__req_detach(struct http_req *r);
/* Pending output fell: fire on_drain if it is due. */
void http__req_check_drain(struct http_req *r);
/* A response from the server itself (no request, or one the app never
 * saw): JSON error, Connection: close. */
void http__error_raw(struct conn *c, int status, const char *msg);
const char *http__reason(int status);
int64_t http__now_us(void);

/* http_conn.c */
struct sockaddr;
/* Takes fd (accepted, non-blocking) as a new connection; -1 on no memory
 * (the caller still owns fd). */
int http__conn_new(struct http_server *s, int fd, const struct sockaddr *sa,
                   socklen_t salen);
/* Closes at once; only from event callbacks (and drain/free). */
void http__conn_close(struct conn *c);
/* Sets read/write interest and the timer from the connection's state. */
void http__conn_arm(struct conn *c);
/* Tries to write pending output now; never frees c. */
void http__conn_flush(struct conn *c);
/* Schedules the write callback (close if broken, next request, ...). */
void http__conn_kick(struct conn *c);
/* Puts c on the held list (its output waits for http_flush_held) and kicks
 * it, in case no upstream read ends before the loop turn does. */
void http__conn_hold(struct conn *c);
/* The current request's response has been queued in full. */
void http__conn_response_done(struct conn *c);

#endif
