/*
 * http — the worker's HTTP/1.1 server on its libevent loop: what apps
 * use of it, the request and the response. The server's lifecycle (what
 * worker.c calls) is http_server.h's.
 *
 * Why not evhttp: libevent 2.1's evhttp has no per-connection hook (no
 * new-request callback), no 414/431 limits, no whole-head deadline against
 * slowloris, no connection cap and no close notification before a reply
 * starts. This module keeps libevent's loop, listeners and evbuffers and
 * does the HTTP/1.1 framing itself (see http_parse.h for the parser).
 *
 * Ownership:
 *  - The server and each client connection: see http_server.h.
 *  - struct http_req is owned by the server. It is handed to the handler
 *    and stays valid until the handler has ended the response exactly once
 *    (http_resp_send, http_resp_error or http_resp_end), even if the client
 *    went away first: writes after a disconnect are dropped and return -1.
 *    Strings returned by http_req_* live as long as the request.
 *  - After the end the request is freed once the app's callback returns
 *    to the loop. Until then a call that breaks the rules (a second
 *    answer, start twice, a write or header after the end) is ignored
 *    with an error in the log ("GET /x: http_resp_send after the response
 *    ended (ignored)"); http_resp_send after http_resp_start cuts the
 *    stream off (no last chunk, connection closed). Keeping the pointer
 *    past that callback is a use after free like any other.
 *  - A request the app never ends stays open until its client leaves,
 *    and its memory is held until the app ends it (register
 *    http_req_on_close and end it there).
 */
#ifndef LLMFORK_HTTP_H
#define LLMFORK_HTTP_H

#include <stddef.h>
#include <sys/types.h>

struct http_req;

typedef void (*http_handler)(struct http_req *req, void *arg);
typedef void (*http_req_cb)(struct http_req *req, void *arg);

/* ---- the request ---- */
const char *http_req_method(const struct http_req *r);
/* The path as sent (not percent-decoded), without the query. */
const char *http_req_path(const struct http_req *r);
const char *http_req_query(const struct http_req *r);  /* after '?', or "", raw */
const char *http_req_target(const struct http_req *r); /* as sent */
/* First header with that name (case-insensitive), or NULL. */
const char *http_req_header(const struct http_req *r, const char *name);
int http_req_header_count(const struct http_req *r);
void http_req_header_at(const struct http_req *r, int i,
                        const char **name, const char **value);
/* The whole body (NUL-terminated for convenience; len excludes it). */
const char *http_req_body(const struct http_req *r, size_t *len);
/* Client address text ("127.0.0.1", "::1", "unix"). */
const char *http_req_client(const struct http_req *r);
/* Called once if the client goes away before the response ended (while
 * waiting for a first byte too). The request stays valid: end it. Not
 * called for a client already gone when it is registered: a handler that
 * registers it later (not in the handler itself) checks http_req_gone().
 * A client that half-closes (shuts down its write side) counts as gone. */
void http_req_on_close(struct http_req *r, http_req_cb cb, void *arg);
/* 1 once the client has gone away. */
int http_req_gone(const struct http_req *r);

/* ---- the response ---- */
/* Adds a response header; before send/start only. Returns 0 or -1. */
int http_resp_header(struct http_req *r, const char *name, const char *value);
/* Whole response; ends the request. */
void http_resp_send(struct http_req *r, int status, const char *content_type,
                    const void *body, size_t len);
/* {"error": msg} as application/json; ends the request. */
void http_resp_error(struct http_req *r, int status, const char *msg);
/* Starts a chunked response. The head, like every http_resp_write, is
 * held until http_flush_held() or the end of this loop turn. */
void http_resp_start(struct http_req *r, int status, const char *content_type);
/* Writes what the responses queued since the last call, one writev per
 * connection, as nginx writes once per upstream read: an upstream read
 * carrying several events (or a head and its first token) becomes one
 * segment, not one per event. Called after each upstream read
 * (fetch_opts.after_io). Not held to the end of the loop turn: then the
 * buffers of every stream active in the turn were alive at once and left
 * the heap fragmented (~0.8 KiB more RSS per held stream). arg is
 * unused. */
void http_flush_held(void *arg);
/* Writes one chunk. Returns 0 when the caller may keep writing, 1 when the
 * client's pending output passed stream_buffer (stop producing and wait for
 * the drain callback), -1 when the client is gone. */
int http_resp_write(struct http_req *r, const void *data, size_t len);
/* Called once when pending output falls below half of stream_buffer after
 * http_resp_write returned 1. */
void http_resp_on_drain(struct http_req *r, http_req_cb cb, void *arg);
/* Ends a chunked response. */
void http_resp_end(struct http_req *r);

#endif
