/*
 * health — the /healthz app: 200 {"status":"ok"} while the worker serves.
 * Load balancers and the system tests poll it.
 */
#include "worker/apps.h"

static void healthz(struct http_req *r, void *state)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    (void)state;
    http_resp_send(r, 200, "application/json", ok, sizeof(ok) - 1);
}

static int health_startup(struct app_ctx *ctx)
{
    return app_route(ctx, "GET", "/healthz", healthz, NULL);
}

const struct app health_app = { "health", health_startup, NULL };
