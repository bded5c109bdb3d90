/*
 * relay — the plumbing between one client request and one model call,
 * shared by the chat app and the gateway:
 *
 *  - the client going away cancels the model call at once;
 *  - a slow client pauses the model call (backpressure) and resumes it on
 *    drain, so memory per stream stays bounded;
 *  - the response body of a failed or non-streaming call is collected,
 *    bounded, and a failure is mapped to the status and message the
 *    client gets.
 *
 * Ownership: struct relay is embedded in the app's per-request state and
 * owned by it. relay_free() releases what the relay allocated (the
 * collected body). The relay never frees the http_req (the app ends it)
 * nor the app state; it cancels the model call only on client close.
 */
#ifndef LLMFORK_RELAY_H
#define LLMFORK_RELAY_H

#include <stddef.h>
#include "common/str.h"
#include "worker/server/http.h"
#include "worker/model/model.h"

struct cJSON;

#define RELAY_BODY_MAX (4 * 1024 * 1024)

struct relay {
    struct http_req *req;
    struct model_call *call; /* NULL once done or cancelled */
    struct str_buf body;     /* collected upstream body */
    int status;              /* upstream status, 0 before the head */
    unsigned started : 1;    /* the client response has started */
    unsigned paused : 1;
    unsigned gone : 1;     /* the client went away */
    unsigned body_nul : 1; /* relay_body() closed the body */
    unsigned overflow : 1; /* body bytes were dropped at the bound */
    unsigned ended : 1;    /* the client response has ended */
    /* Frees the app's per-request state (the relay is embedded in it). */
    void (*destroy)(struct relay *rl);
};

/* Parses the request body as JSON after checking Content-Type. On error
 * writes the status (415 or 400) and a message, returns NULL. */
struct cJSON *relay_parse_json(struct http_req *r, int *status,
                               char *msg, size_t msglen);

/* Binds rl to req: client close -> cancel the call, relay_finish. */
void relay_init(struct relay *rl, struct http_req *req,
                void (*destroy)(struct relay *rl));

/* Ends the client response once (a started stream gets its end; an app
 * that replied whole sets rl->ended itself), then calls destroy when the
 * model call is over too (rl->call == NULL). rl may be gone afterwards. */
void relay_finish(struct relay *rl);

/* Writes to the client; pauses the model call when the client lags.
 * Returns -1 when the client is gone. */
int relay_write(struct relay *rl, const void *p, size_t n);

/* Writes one line of fixed shape: pre, s (len bytes) JSON-escaped, post.
 * No JSON tree is built; a short line is put together on the stack and
 * handed over as one piece, a long one in scratch (the caller's, reset
 * afterwards). Out of memory drops the line. */
void relay_write_line(struct relay *rl, struct str_buf *scratch,
                      const char *pre, const char *s, size_t len,
                      const char *post);

/* Appends upstream body bytes (bounded by RELAY_BODY_MAX; beyond it they
 * are dropped). Returns 0, or -1 when the bound was passed. */
int relay_collect(struct relay *rl, const char *p, size_t n);

/* The collected body, NUL-terminated ("" when none). */
const char *relay_body(struct relay *rl, size_t *len);

/* The error the client should see for a finished call that failed
 * (transport error or HTTP status >= 400, or a body cut at
 * RELAY_BODY_MAX): its HTTP status, an OpenAI error "type"/"code" and a
 * message. Returns 0 when res is a success. */
struct relay_error {
    int status;
    const char *type;
    const char *code;
    char msg[512];
    char code_buf[64];          /* the upstream's own code, for a 400 */
    char param[64];             /* the upstream's "param"; "": null */
    const char *retry_after;    /* upstream Retry-After for 429, or NULL */
    char retry_buf[24];         /* Retry-After made from retry-after-ms */
    const char *retry_after_ms; /* upstream retry-after-ms for 429, or NULL */
};
int relay_error(struct relay *rl, const struct fetch_result *res,
                struct relay_error *e);

void relay_free(struct relay *rl);

#endif
