/*
 * apps — the worker's side of the app interface (app.h): starts the apps
 * in order, routes each request to the first matching route, and shuts
 * the apps down in reverse order.
 *
 * Ownership: struct apps owns the route table (copies of the method and
 * path strings) and one app_ctx per app; apps_stop() calls each started
 * app's shutdown once and frees them all.
 */
#ifndef LLMFORK_APPS_H
#define LLMFORK_APPS_H

#include <stddef.h>

#include "worker/app.h"

struct apps;

/* The apps every worker runs: health.c, metrics.c, chat.c, gateway.c,
 * auth_setup.c, content.c, static.c. */
extern const struct app health_app;
extern const struct app metrics_app;      /* /metrics, /readyz */
extern const struct app metrics_port_app; /* the same on metrics_bind */
extern const struct app ragpg_app;        /* rag = postgres: /chat, /items... */
extern const struct app chat_app;
extern const struct app gateway_app;
extern const struct app auth_setup_app; /* /auth_setup, /redirect */
extern const struct app content_app;    /* /content/<path> */
extern const struct app static_app;     /* last: takes every other GET */

/* Runs startup of list[0..n) in order. On a failure, shuts down the apps
 * already started, writes "app NAME: reason" into err and returns NULL. */
struct apps *apps_start(const struct cfg *cfg,
                        const struct app *const *list, int n,
                        char *err, size_t errlen);

/* The http_handler that routes (arg is the struct apps). 404 when no
 * route's path matches; 405 with Allow when one matches another method.
 * HEAD is served by GET routes. With allowed_origins set, CORS first
 * (cors.h): a preflight on an app route's path is answered there (on
 * any other path: 404), and other requests get their CORS headers. */
void apps_handle(struct http_req *r, void *arg);

void apps_stop(struct apps *a);

#endif
