/*
 * gateway — an OpenAI-compatible endpoint in front of the configured
 * provider (LiteLLM-style):
 *
 *   POST /v1/chat/completions
 *   POST /openai/v1/chat/completions          (Azure's v1 API shape)
 *   POST /openai/deployments/{deployment}/chat/completions?api-version=...
 *   GET  /v1/models, /openai/v1/models
 *
 * Clients authenticate with "Authorization: Bearer KEY" or "api-key: KEY"
 * against gateway_keys (compared in constant time); the provider's key
 * stays on the server. The request is forwarded with the model mapped to
 * the configured model or deployment; a stream comes back as the
 * provider's SSE, byte for byte, each piece written as soon as it
 * arrives; a whole reply comes back whole. Errors use OpenAI's shape
 * {"error":{"message","type","code"}} so the SDKs raise the right class.
 *
 * Ownership: struct gw (one per request) is owned by this file, freed when
 * the model call is over and the client response has ended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "common/cfg.h"
#include "common/json.h"
#include "worker/app.h"
#include "worker/model/relay.h"

struct gw_app {
    const struct cfg *cfg;
    struct model *model;
};

struct gw {
    struct relay rl;
    unsigned stream : 1;
    unsigned head_ok : 1;       /* a 2xx/3xx stream head came; not sent yet */
};

/* OpenAI's error object; param "" is null. */
static void oai_error_json(struct evbuffer *b, const char *type,
                           const char *code, const char *param,
                           const char *msg)
{
    evbuffer_add_printf(b, "{\"error\":{\"message\":\"");
    json_esc_append(b, msg, strlen(msg));
    evbuffer_add_printf(b, "\",\"type\":\"%s\",\"param\":", type);
    if (param[0]) {
        evbuffer_add(b, "\"", 1);
        json_esc_append(b, param, strlen(param));
        evbuffer_add(b, "\"", 1);
    } else {
        evbuffer_add(b, "null", 4);
    }
    evbuffer_add(b, ",\"code\":\"", 9);
    json_esc_append(b, code, strlen(code));
    evbuffer_add(b, "\"}}", 3);
}

static void send_error(struct http_req *r, int status, const char *type,
                       const char *code, const char *param, const char *msg)
{
    struct evbuffer *b = evbuffer_new();

    if (!b) {
        http_resp_error(r, 500, "out of memory");
        return;
    }
    oai_error_json(b, type, code, param, msg);
    http_resp_send(r, status, "application/json", evbuffer_pullup(b, -1),
                   evbuffer_get_length(b));
    evbuffer_free(b);
}

static void send_oai_error(struct http_req *r, int status, const char *type,
                           const char *code, const char *msg)
{
    send_error(r, status, type, code, "", msg);
}

/* 1 when key matches one of gateway_keys; every key is compared. */
static int key_ok(const struct cfg *c, const char *key)
{
    size_t kl = key ? strlen(key) : 0;
    int ok = 0;

    for (int i = 0; i < c->gateway_keys.n; i++) {
        const char *k = c->gateway_keys.v[i];
        size_t n = strlen(k);
        if (n == kl && CRYPTO_memcmp(k, key, n) == 0)
            ok = 1;
    }
    return ok;
}

static int authorized(const struct gw_app *app, struct http_req *r)
{
    const char *auth = http_req_header(r, "Authorization");
    const char *key = http_req_header(r, "api-key");

    if (app->cfg->gateway_keys.n == 0)
        return 1;
    if (!key && auth && strncasecmp(auth, "Bearer ", 7) == 0)
        key = auth + 7;
    if (key_ok(app->cfg, key))
        return 1;
    send_oai_error(r, 401, "invalid_request_error", "invalid_api_key",
                   key ? "Incorrect API key provided." :
                   "Missing API key: send Authorization: Bearer KEY or api-key: KEY.");
    return 0;
}

static void gw_free(struct relay *rl)
{
    struct gw *g = (struct gw *)rl;

    relay_free(&g->rl);
    free(g);
}

/* The upstream's request id goes back as OpenAI's x-request-id: the SDKs
 * keep it (_request_id) for the support requests both providers ask it
 * in. Azure sends apim-request-id, and x-request-id not always. */
static void pass_request_id(struct gw *g, struct model_call *c)
{
    const char *id = model_header(c, "x-request-id");

    if (id == NULL || *id == '\0')
        id = model_header(c, "apim-request-id");
    if (id != NULL && *id != '\0')
        http_resp_header(g->rl.req, "x-request-id", id);
}

/* The stream's head goes out with its first bytes, as nginx's
 * postpone_output sends a proxied head: one write, not two, and the
 * client has nothing to read before then anyway. */
static void start_stream(struct gw *g, struct model_call *c)
{
    pass_request_id(g, c);
    http_resp_header(g->rl.req, "Cache-Control", "no-cache");
    http_resp_header(g->rl.req, "X-Accel-Buffering", "no");
    http_resp_start(g->rl.req, 200, "text/event-stream; charset=utf-8");
    g->rl.started = 1;
}

static void on_headers(struct model_call *c, int status, void *arg)
{
    struct gw *g = arg;

    (void)c;
    g->rl.status = status;
    g->head_ok = status < 400 && g->stream;
}

static void on_data(struct model_call *c, const char *p, size_t n, void *arg)
{
    struct gw *g = arg;

    if (!g->rl.started && g->head_ok)
        start_stream(g, c);
    if (g->rl.started)
        relay_write(&g->rl, p, n);
    else
        relay_collect(&g->rl, p, n);
}

/* A failure after the stream began: one last SSE event the SDKs raise. */
static void stream_error(struct gw *g, const struct relay_error *e)
{
    struct evbuffer *b = evbuffer_new();

    if (!b)
        return;
    evbuffer_add(b, "data: ", 6);
    oai_error_json(b, e->type, e->code, e->param, e->msg);
    evbuffer_add(b, "\n\n", 2);
    relay_write(&g->rl, evbuffer_pullup(b, -1), evbuffer_get_length(b));
    evbuffer_free(b);
}

static void on_done(struct model_call *c, const struct fetch_result *res,
                    void *arg)
{
    struct gw *g = arg;
    struct relay_error e;

    if (!g->rl.started)
        pass_request_id(g, c);
    if (relay_error(&g->rl, res, &e)) {
        if (g->rl.started) {
            stream_error(g, &e);
        } else {
            if (e.retry_after)
                http_resp_header(g->rl.req, "Retry-After", e.retry_after);
            /* the SDKs wait it, finer than Retry-After's seconds */
            if (e.retry_after_ms)
                http_resp_header(g->rl.req, "retry-after-ms", e.retry_after_ms);
            send_error(g->rl.req, e.status, e.type, e.code, e.param, e.msg);
            g->rl.ended = 1;
        }
    } else if (!g->rl.started && g->head_ok) {
        start_stream(g, c);     /* a stream with no events: head and end */
    } else if (!g->rl.started) {
        size_t len;
        const char *body = relay_body(&g->rl, &len);
        http_resp_send(g->rl.req, 200, "application/json", body, len);
        g->rl.ended = 1;
    }
    g->rl.call = NULL;
    relay_finish(&g->rl);
}

static const struct model_cbs cbs = { on_headers, on_data, on_done };

static int bool_item(const cJSON *o, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static void forward(struct http_req *r, struct gw_app *app)
{
    char err[256];
    int status;
    cJSON *root = relay_parse_json(r, &status, err, sizeof(err));

    if (!root) {
        send_oai_error(r, status, "invalid_request_error", "invalid_body", err);
        return;
    }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "messages"))) {
        cJSON_Delete(root);
        send_oai_error(r, 400, "invalid_request_error", "missing_messages",
                       "messages: required array");
        return;
    }
    int stream = bool_item(root, "stream");
    int usage = bool_item(cJSON_GetObjectItemCaseSensitive(root,
                          "stream_options"), "include_usage");
    char *body = NULL;
    if (model_fill(app->model, root) == 0)
        body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    struct gw *g = body ? calloc(1, sizeof(*g)) : NULL;
    if (!g) {
        free(body);
        send_oai_error(r, 500, "server_error", "out_of_memory", "out of memory");
        return;
    }
    g->stream = stream;
    relay_init(&g->rl, r, gw_free);
    g->rl.call = model_start(app->model, body, strlen(body), stream, usage,
                             &cbs, g);
    if (!g->rl.call) {
        send_oai_error(r, 500, "server_error", "upstream_error",
                       "could not start the model call");
        g->rl.ended = 1;
        relay_finish(&g->rl);
    }
}

static void handle_v1(struct http_req *r, void *state)
{
    if (authorized(state, r))
        forward(r, state);
}

/* 1 when the query has a non-empty api-version parameter. */
static int has_api_version(const char *q)
{
    static const char name[] = "api-version=";

    for (;;) {
        if (strncmp(q, name, sizeof(name) - 1) == 0)
            return q[sizeof(name) - 1] != '\0' && q[sizeof(name) - 1] != '&';
        if (!(q = strchr(q, '&')))
            return 0;
        q++;
    }
}

/* /openai/deployments/{deployment}/chat/completions?api-version=... */
static void handle_azure(struct http_req *r, void *state)
{
    const char *path = http_req_path(r);
    const char *dep = path + strlen("/openai/deployments/");
    const char *slash = strchr(dep, '/');

    if (!slash || slash == dep || strcmp(slash, "/chat/completions") != 0) {
        send_oai_error(r, 404, "invalid_request_error", "404",
                       "Resource not found");
        return;
    }
    if (!has_api_version(http_req_query(r))) {
        send_oai_error(r, 400, "invalid_request_error", "missing_api_version",
                       "api-version query parameter is required");
        return;
    }
    if (authorized(state, r))
        forward(r, state);
}

static void handle_models(struct http_req *r, void *state)
{
    struct gw_app *app = state;
    struct evbuffer *b;

    if (!authorized(app, r))
        return;
    b = evbuffer_new();
    if (!b) {
        http_resp_error(r, 500, "out of memory");
        return;
    }
    evbuffer_add_printf(b, "{\"object\":\"list\",\"data\":[{\"id\":\"");
    json_esc_append(b, model_name(app->model), strlen(model_name(app->model)));
    evbuffer_add_printf(b, "\",\"object\":\"model\",\"created\":0,"
                        "\"owned_by\":\"%s\"}]}", model_provider(app->model));
    http_resp_send(r, 200, "application/json", evbuffer_pullup(b, -1),
                   evbuffer_get_length(b));
    evbuffer_free(b);
}

static int gw_startup(struct app_ctx *ctx)
{
    char err[256];
    struct gw_app *app = calloc(1, sizeof(*app));

    if (!app)
        return app_fail(ctx, "out of memory"), -1;
    app->cfg = app_cfg(ctx);
    app_set_state(ctx, app);
    app->model = model_init(app->cfg, app_base(ctx), err, sizeof(err));
    if (!app->model)
        return app_fail(ctx, "gateway: %s", err), -1;
    if (app_route(ctx, "POST", "/v1/chat/completions", handle_v1, app) < 0 ||
        app_route(ctx, "POST", "/openai/deployments/*", handle_azure, app) < 0 ||
        app_route(ctx, "GET", "/v1/models", handle_models, app) < 0 ||
        app_route(ctx, "POST", "/openai/v1/chat/completions", handle_v1,
                  app) < 0 ||
        app_route(ctx, "GET", "/openai/v1/models", handle_models, app) < 0)
        return app_fail(ctx, "gateway: cannot add routes"), -1;
    return 0;
}

static void gw_shutdown(struct app_ctx *ctx)
{
    struct gw_app *app = app_state(ctx);

    if (!app)
        return;
    model_free(app->model);
    free(app);
}

const struct app gateway_app = { "gateway", gw_startup, gw_shutdown };
