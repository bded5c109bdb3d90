/*
 * http_server — the lifecycle of the worker's HTTP/1.1 server (see
 * http.h for what apps use of it): created on the worker's loop, given
 * listening fds, drained, freed. Only worker.c calls these.
 *
 * Ownership:
 *  - struct http_server is owned by the worker (http_server_new/free). It
 *    owns its evconnlistener objects; the listening fds themselves belong
 *    to the worker process (inherited from the master) and are closed when
 *    the server is freed.
 *  - Each client connection (fd, bufferevent-free evbuffers, timers) is
 *    owned by the server and freed when the connection closes.
 */
#ifndef LLMFORK_HTTP_SERVER_H
#define LLMFORK_HTTP_SERVER_H

#include "worker/server/http.h"

struct event_base;
struct cfg;
struct sb_slot;
struct http_server;

/* slot may be NULL (unit tests). cfg must outlive the server. */
struct http_server *http_server_new(struct event_base *base,
                                    const struct cfg *cfg,
                                    struct sb_slot *slot,
                                    http_handler handler, void *arg);

/* Starts accepting on a listening fd (already bound and listening). The
 * server takes ownership of fd. Returns 0 or -1. */
int http_server_listen(struct http_server *s, int fd);

/* Graceful stop: stops accepting, closes idle keep-alive connections,
 * answers in-flight requests with Connection: close. Calls done(arg) once,
 * from the loop, when no connection is left. */
void http_server_drain(struct http_server *s, void (*done)(void *), void *arg);

int http_server_connections(const struct http_server *s);
void http_server_free(struct http_server *s);

#endif
