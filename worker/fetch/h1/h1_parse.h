/*
 * h1_parse — the pure part of the upstream HTTP/1.1 client (h1.c): a
 * response head, and the body's framing (Content-Length, chunked, or up to
 * the connection's close). No I/O, no allocation: unit-tested on its own.
 *
 * Ownership: h1_head_parse parses the caller's buffer in place (it writes
 * NULs into it) and points every name and value into it; the caller keeps
 * the buffer as long as it reads them. struct h1_body is the caller's
 * decoder state; the pieces h1_body_next returns point into the caller's
 * input.
 */
#ifndef LLMFORK_H1_PARSE_H
#define LLMFORK_H1_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "worker/http1/h1f.h"

#define H1_HDR_MAX 100 /* header lines in one response head */

enum h1_framing {
    H1_F_NONE,    /* no body: 1xx, 204, 304, HEAD */
    H1_F_LENGTH,  /* Content-Length bytes */
    H1_F_CHUNKED, /* Transfer-Encoding: chunked */
    H1_F_CLOSE,   /* up to the connection's close */
};

struct h1_head {
    int status;
    int keep_alive; /* the connection may carry another request */
    enum h1_framing framing;
    int64_t length; /* H1_F_LENGTH */
    int nfields;
    struct h1f_field field[H1_HDR_MAX];
};

/* The length of the head at the start of p[0..n), its blank line
 * included, or 0 when the blank line has not arrived yet. Lines end with
 * CRLF or a bare LF. */
size_t h1_head_end(const char *p, size_t n);

/* Parses the head buf[0..len) (from h1_head_end) of the answer to a
 * request with method head_req (1 for HEAD). Returns 0, or -1 with *why
 * set when it is not a valid HTTP/1.x response head; a head with both
 * Transfer-Encoding and Content-Length is not (RFC 9112 6.3: such a
 * response may be a smuggling attempt, and its connection is not
 * reused). */
int h1_head_parse(char *buf, size_t len, int head_req, struct h1_head *h,
                  const char **why);

/* The first field of that name (case-insensitive), or NULL. */
const char *h1_head_get(const struct h1_head *h, const char *name);

struct h1_body {
    enum h1_framing framing;
    int64_t left;               /* H1_F_LENGTH: bytes left */
    struct h1f_chunked chunked; /* H1_F_CHUNKED */
};

enum h1_next {
    H1_MORE,  /* all input used; the body goes on */
    H1_PIECE, /* *piece / *plen: the next body bytes */
    H1_END,   /* the body is complete */
    H1_BAD,   /* framing error */
};

void h1_body_init(struct h1_body *b, const struct h1_head *h);

/* Decodes from in[0..n): *used is how much of it was consumed. Call again
 * with the rest after each H1_PIECE. For H1_F_CLOSE the end is the
 * connection's close, which the caller sees: H1_END never comes. */
enum h1_next h1_body_next(struct h1_body *b, const char *in, size_t n,
                          size_t *used, const char **piece, size_t *plen);

#endif
