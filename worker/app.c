/*
 * app — the router and the app contexts behind app.h and apps.h.
 * Routes are matched in registration order, exact or by prefix.
 */
#include "worker/apps.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "common/log.h"
#include "worker/cors.h"

struct route {
    char *method; /* "GET", ... or "*" */
    char *path;   /* without the trailing '*' */
    size_t plen;
    int prefix;
    http_handler handler;
    void *state;
};

struct app_ctx {
    struct apps *apps;
    const struct app *app;
    void *state;
    char err[256];
};

struct apps {
    const struct cfg *cfg;
    struct route *routes;
    int nroutes;
    struct app_ctx *ctx; /* one per app */
    int started;         /* apps whose startup succeeded */
};

int app_route(struct app_ctx *ctx, const char *method, const char *path,
              http_handler handler, void *state)
{
    struct apps *a = ctx->apps;
    struct route *v = realloc(a->routes, sizeof(*v) * (size_t)(a->nroutes + 1));
    if (v == NULL)
        return -1;
    a->routes = v;
    struct route *rt = &v[a->nroutes];
    size_t len = strlen(path);
    rt->prefix = len > 0 && path[len - 1] == '*';
    rt->plen = rt->prefix ? len - 1 : len;
    rt->method = strdup(method);
    rt->path = strndup(path, rt->plen);
    if (rt->method == NULL || rt->path == NULL) {
        free(rt->method);
        free(rt->path);
        return -1;
    }
    rt->handler = handler;
    rt->state = state;
    a->nroutes++;
    return 0;
}

void app_fail(struct app_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
    va_end(ap);
}

const struct cfg *app_cfg(const struct app_ctx *ctx)
{
    return ctx->apps->cfg;
}
void app_set_state(struct app_ctx *ctx, void *state)
{
    ctx->state = state;
}
void *app_state(const struct app_ctx *ctx)
{
    return ctx->state;
}

/* ---- lifespan ---- */

static void apps_free(struct apps *a)
{
    for (int i = a->started - 1; i >= 0; i--)
        if (a->ctx[i].app->shutdown)
            a->ctx[i].app->shutdown(&a->ctx[i]);
    for (int i = 0; i < a->nroutes; i++) {
        free(a->routes[i].method);
        free(a->routes[i].path);
    }
    free(a->routes);
    free(a->ctx);
    free(a);
}

struct apps *apps_start(const struct cfg *cfg,
                        const struct app *const *list, int n,
                        char *err, size_t errlen)
{
    struct apps *a = calloc(1, sizeof(*a));
    if (a == NULL || (a->ctx = calloc((size_t)(n ? n : 1), sizeof(*a->ctx))) == NULL) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    for (int i = 0; i < n; i++) {
        struct app_ctx *ctx = &a->ctx[i];
        ctx->apps = a;
        ctx->app = list[i];
        if (list[i]->startup && list[i]->startup(ctx) < 0) {
            snprintf(err, errlen, "app %s: %s", list[i]->name,
                     ctx->err[0] ? ctx->err : "startup failed");
            apps_free(a);
            return NULL;
        }
        a->started++;
    }
    return a;
}

void apps_stop(struct apps *a)
{
    if (a)
        apps_free(a);
}

/* ---- routing ---- */

static int path_match(const struct route *rt, const char *path)
{
    if (rt->prefix)
        return strncmp(path, rt->path, rt->plen) == 0;
    return strcmp(path, rt->path) == 0;
}

static int method_match(const char *route, const char *m)
{
    return strcmp(route, "*") == 0 || strcmp(route, m) == 0 ||
           (strcmp(m, "HEAD") == 0 && strcmp(route, "GET") == 0);
}

/* Appends method to the Allow list unless present. */
static void allow_add(char *buf, size_t n, const char *method)
{
    size_t ml = strlen(method);
    for (const char *p = buf; (p = strstr(p, method)) != NULL; p += ml)
        if ((p == buf || (p >= buf + 2 && p[-2] == ',')) && (p[ml] == ',' || p[ml] == '\0'))
            return;
    size_t used = strlen(buf);
    snprintf(buf + used, n - used, "%s%s", used ? ", " : "", method);
}

/* 1 when an app's route names path. The root catch-all (the static
 * files') does not count: a preflight elsewhere is a 404. */
static int path_routed(const struct apps *a, const char *path)
{
    for (int i = 0; i < a->nroutes; i++)
        if (path_match(&a->routes[i], path) &&
            !(a->routes[i].prefix && a->routes[i].plen <= 1))
            return 1;
    return 0;
}

void apps_handle(struct http_req *r, void *arg)
{
    struct apps *a = arg;
    const char *m = http_req_method(r), *path = http_req_path(r);
    char allow[256] = "";

    if (cors_is_preflight(r, &a->cfg->allowed_origins)) {
        if (path_routed(a, path))
            cors_preflight(r, &a->cfg->allowed_origins);
        else
            http_resp_error(r, 404, "not found");
        return;
    }
    cors_response(r, &a->cfg->allowed_origins);
    for (int i = 0; i < a->nroutes; i++) {
        const struct route *rt = &a->routes[i];
        if (!path_match(rt, path))
            continue;
        /* A route named for this path, with other methods, wins over a
         * later catch-all prefix: GET /chat is 405, not the static files'
         * 404, and PUT /chat's Allow does not list the catch-all's GET. */
        if (rt->prefix && allow[0] != '\0')
            break;
        if (method_match(rt->method, m)) {
            rt->handler(r, rt->state);
            return;
        }
        allow_add(allow, sizeof(allow), rt->method);
        if (strcmp(rt->method, "GET") == 0)
            allow_add(allow, sizeof(allow), "HEAD");
    }
    if (allow[0] == '\0') {
        http_resp_error(r, 404, "not found");
        return;
    }
    http_resp_header(r, "Allow", allow);
    http_resp_error(r, 405, "method not allowed");
}
