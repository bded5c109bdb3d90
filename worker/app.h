/*
 * app — the "ASGI-like" interface: how an app plugs into a worker.
 *
 * An app is a struct of callbacks. The server owns the loop, the sockets
 * and every request; the app owns its own state.
 *
 *   lifespan  startup(ctx) once per worker after fork: register routes with
 *             app_route(), build state. Return 0, or -1 after
 *             app_fail(ctx, "why") — the worker then fails to boot and the
 *             master stops with that message (exit 3).
 *             shutdown(ctx) once when the worker exits.
 *   handle    a route's handler(req, state) is called once per request; it
 *             may answer at once (http_resp_send) or later from any loop
 *             callback (http_resp_start / http_resp_write / http_resp_end),
 *             see http.h for the request and response calls.
 *
 * Example — an app that answers GET /hello:
 *
 *   static void hello(struct http_req *r, void *state) {
 *       (void)state;
 *       http_resp_send(r, 200, "text/plain", "hi\n", 3);
 *   }
 *   static int hello_startup(struct app_ctx *ctx) {
 *       return app_route(ctx, "GET", "/hello", hello, NULL);
 *   }
 *   const struct app hello_app = { "hello", hello_startup, NULL };
 *
 * Registering: declare it in apps.h (extern const struct app hello_app;)
 * and add &hello_app to app_table in worker/worker.c, before static_app;
 * a new worker/hello.c is built by make as it is. worker/apps/testhooks.c is
 * a small app of this kind the system tests use: a timer-driven stream
 * with backpressure (http_resp_on_drain) and close handling
 * (http_req_on_close). Outbound calls go through fetch.h: pause the
 * transfer when http_resp_write returns 1, resume it in the drain
 * callback, cancel it in the close callback.
 *
 * Apps do not touch libevent: timers are worker/apptimer.h's, byte
 * buffers common/str.h's (struct str_buf).
 *
 * Handlers and callbacks run on the worker's loop: one that blocks stalls
 * every client of that worker, and past `timeout` seconds the master
 * kills the worker.
 *
 * Ownership: routes live in the worker's router (freed at exit). The
 * app_ctx is owned by the worker and valid from startup to shutdown.
 */
#ifndef LLMFORK_APP_H
#define LLMFORK_APP_H

#include "worker/server/http.h"

struct cfg;
struct app_ctx;

struct app {
    const char *name;
    int (*startup)(struct app_ctx *ctx);
    void (*shutdown)(struct app_ctx *ctx);
};

/* Registers handler for method ("GET", "POST", ... or "*") and path. A path
 * ending in '*' matches by prefix ("/static/" then '*'). First match wins,
 * except that a path named exactly by an earlier route with other methods
 * gets 405 with Allow rather than falling through to a prefix route. A
 * path that matches no route gets 404. Returns 0 or -1. */
int app_route(struct app_ctx *ctx, const char *method, const char *path,
              http_handler handler, void *state);

/* Records why startup failed (copied). */
void app_fail(struct app_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const struct cfg *app_cfg(const struct app_ctx *ctx);
/* Per-app state pointer, for shutdown to find what startup built. */
void app_set_state(struct app_ctx *ctx, void *state);
void *app_state(const struct app_ctx *ctx);

#endif
