/*
 * gateway — an OpenAI-compatible endpoint in front of the configured
 * provider (LiteLLM-style):
 *
 *   POST /v1/chat/completions
 *   POST /openai/v1/chat/completions          (Azure's v1 API shape)
 *   POST /openai/deployments/{deployment}/chat/completions?api-version=...
 *   POST /v1/responses, /openai/v1/responses    (the Responses API)
 *   POST /v1/embeddings, /openai/v1/embeddings,
 *        /openai/deployments/{deployment}/embeddings?api-version=...
 *   GET  /v1/models, /openai/v1/models
 *
 * /v1/responses goes to the provider's own Responses API (native: openai,
 * azure-v1; relayed as chat completions are) or, with responses_upstream
 * chat (auto: for mock and azure deployments), is translated: the input
 * becomes a chat-completions request and its answer the Responses events
 * (worker/apps/responses/responses.h), as SSE "event:" + "data:" lines;
 * a failure after the stream began is response.failed. Embeddings are
 * passed through (the model as the client named it, but for Azure, where
 * it is embedding_deployment).
 *
 * Clients authenticate with "Authorization: Bearer KEY" or "api-key: KEY"
 * against gateway_keys (compared in constant time); the provider's key
 * stays on the server. The request is forwarded with the model mapped to
 * the configured model or deployment; a stream comes back as the
 * provider's SSE, byte for byte, each piece written as soon as it
 * arrives; a whole reply comes back whole. Errors use OpenAI's shape
 * {"error":{"message","type","param","code"}} so the SDKs raise the right
 * class; malformed messages are answered here, as OpenAI would
 * (worker/apps/oaimsgs.h), without an upstream call.
 *
 * Ownership: struct gw (one per request) is owned by this file, freed when
 * the model call is over and the client response has ended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "common/cfg.h"
#include "common/json.h"
#include "common/sse.h"
#include "common/str.h"
#include "worker/app.h"
#include "worker/apps/oaimsgs.h"
#include "worker/apps/responses/responses.h"
#include "worker/model/relay.h"

struct gw_app {
    const struct cfg *cfg;
    struct model *model;
    int responses_native;     /* /v1/responses passed through */
    unsigned long long nresp; /* numbers the translated responses' ids */
};

struct gw {
    struct relay rl;
    struct sse_parser sse;      /* translated: the upstream's chat stream */
    struct responses_stream rs; /* translated: its Responses events */
    unsigned stream : 1;
    unsigned head_ok : 1;   /* a 2xx/3xx stream head came; not sent yet */
    unsigned translate : 1; /* /v1/responses over chat completions */
};

/* OpenAI's error object; param "" is null. */
static void oai_error_json(struct str_buf *b, const char *type,
                           const char *code, const char *param,
                           const char *msg)
{
    str_buf_puts(b, "{\"error\":{\"message\":\"");
    json_esc_append(b, msg, strlen(msg));
    str_buf_printf(b, "\",\"type\":\"%s\",\"param\":", type);
    if (param[0]) {
        str_buf_puts(b, "\"");
        json_esc_append(b, param, strlen(param));
        str_buf_puts(b, "\"");
    } else {
        str_buf_puts(b, "null");
    }
    str_buf_puts(b, ",\"code\":\"");
    json_esc_append(b, code, strlen(code));
    str_buf_puts(b, "\"}}");
}

static void send_error(struct http_req *r, int status, const char *type,
                       const char *code, const char *param, const char *msg)
{
    struct str_buf b = { 0 };

    oai_error_json(&b, type, code, param, msg);
    if (b.oom)
        http_resp_error(r, 500, "out of memory");
    else
        http_resp_send(r, status, "application/json", b.p, b.len);
    str_buf_free(&b);
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
                   key ? "Incorrect API key provided." : "Missing API key: send Authorization: Bearer KEY or api-key: KEY.");
    return 0;
}

static void gw_free(struct relay *rl)
{
    struct gw *g = (struct gw *)rl;

    relay_free(&g->rl);
    if (g->translate) {
        sse_free(&g->sse);
        responses_free(&g->rs);
    }
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

/* One Responses event as SSE. */
static void emit_event(void *arg, const char *type, const char *json,
                       size_t len)
{
    struct gw *g = arg;
    char head[96];
    int n = snprintf(head, sizeof(head), "event: %s\ndata: ", type);

    relay_write(&g->rl, head, (size_t)n);
    relay_write(&g->rl, json, len);
    relay_write(&g->rl, "\n\n", 2);
}

static int on_chat_event(const struct sse_event *ev, void *arg)
{
    struct gw *g = arg;

    if (ev->done) {
        responses_done(&g->rs);
        return 1;
    }
    return responses_chunk(&g->rs, ev->data, ev->data_len) < 0;
}

/* Translated: the chat stream in, Responses events out. The stream's
 * end (response.completed, or .failed on a bad chunk) ends the client's
 * response at once; the call runs out on its own, as the chat app's does
 * at [DONE], unless the upstream's stream was bad. */
static void translate_data(struct gw *g, struct model_call *c, const char *p,
                           size_t n)
{
    if (g->rl.ended)
        return;
    if (sse_feed(&g->sse, p, n) == SSE_OK)
        return;
    if (!g->rs.ended) {
        responses_fail(&g->rs, "server_error", g->sse.status == SSE_ETOOBIG ? "the model sent an oversized event" : "the model's stream could not be read");
    }
    if (g->rl.paused) { /* no drain will come to resume it */
        g->rl.paused = 0;
        model_resume(c);
    }
    relay_finish(&g->rl);
}

static void on_data(struct model_call *c, const char *p, size_t n, void *arg)
{
    struct gw *g = arg;

    if (!g->rl.started && g->head_ok) {
        start_stream(g, c);
        if (g->translate)
            responses_begin(&g->rs);
    }
    if (g->rl.started && g->translate)
        translate_data(g, c, p, n);
    else if (g->rl.started)
        relay_write(&g->rl, p, n);
    else
        relay_collect(&g->rl, p, n);
}

/* Translated, whole: the chat.completion as a response object. */
static void send_whole(struct gw *g)
{
    size_t len;
    char err[128];
    const char *body = relay_body(&g->rl, &len);
    char *out = g->translate ? responses_whole(&g->rs, body, len, err,
                                               sizeof(err))
                             : NULL;

    if (!g->translate)
        http_resp_send(g->rl.req, 200, "application/json", body, len);
    else if (out)
        http_resp_send(g->rl.req, 200, "application/json", out, strlen(out));
    else
        send_oai_error(g->rl.req, 502, "upstream_error", "upstream_error", err);
    free(out);
}

/* A failure after the stream began: one last SSE event the SDKs raise. */
static void stream_error(struct gw *g, const struct relay_error *e)
{
    struct str_buf b = { 0 };

    str_buf_puts(&b, "data: ");
    oai_error_json(&b, e->type, e->code, e->param, e->msg);
    str_buf_puts(&b, "\n\n");
    if (!b.oom)
        relay_write(&g->rl, b.p, b.len);
    str_buf_free(&b);
}

static void on_done(struct model_call *c, const struct fetch_result *res,
                    void *arg)
{
    struct gw *g = arg;
    struct relay_error e;

    if (!g->rl.started)
        pass_request_id(g, c);
    if (relay_error(&g->rl, res, &e)) {
        if (g->rl.started && g->translate) {
            responses_fail(&g->rs, e.code, e.msg);
        } else if (g->rl.started) {
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
        start_stream(g, c); /* a stream with no events: head and end */
        if (g->translate)
            responses_fail(&g->rs, "server_error", "the model sent no stream");
    } else if (!g->rl.started) {
        send_whole(g);
        g->rl.ended = 1;
    } else if (g->translate && !g->rl.ended) {
        sse_finish(&g->sse);
        responses_fail(&g->rs, "server_error", "the model's stream ended early");
    }
    g->rl.call = NULL;
    relay_finish(&g->rl);
}

static const struct model_cbs cbs = { on_headers, on_data, on_done };

static int bool_item(const cJSON *o, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* Starts the call of a checked request: body taken (malloc'd). */
static void start_call(struct http_req *r, struct gw_app *app,
                       enum model_api api, char *body, int stream, int usage,
                       int translate)
{
    struct gw *g = body ? calloc(1, sizeof(*g)) : NULL;

    if (!g) {
        free(body);
        send_oai_error(r, 500, "server_error", "out_of_memory", "out of memory");
        return;
    }
    g->stream = stream;
    g->translate = translate;
    if (translate) {
        sse_init(&g->sse, 0, on_chat_event, g);
        responses_init(&g->rs, model_name(app->model), (long long)time(NULL),
                       ++app->nresp ^ ((unsigned long long)getpid() << 40),
                       stream ? emit_event : NULL, g);
    }
    relay_init(&g->rl, r, gw_free);
    g->rl.call = api == MODEL_CHAT
                     ? model_start(app->model, body, strlen(body), stream, usage, &cbs, g)
                     : model_start_api(app->model, api, body, strlen(body), stream, &cbs, g);
    if (!g->rl.call) {
        send_oai_error(r, 500, "server_error", "upstream_error",
                       "could not start the model call");
        g->rl.ended = 1;
        relay_finish(&g->rl);
    }
}

/* The request body as JSON, or NULL when the error has been sent. */
static cJSON *parse_body(struct http_req *r)
{
    char err[256];
    int status;
    cJSON *root = relay_parse_json(r, &status, err, sizeof(err));

    if (!root)
        send_oai_error(r, status, "invalid_request_error", "invalid_body", err);
    return root;
}

/* Takes root; its text with the model filled, or NULL (error sent). */
static char *filled(struct http_req *r, struct gw_app *app, cJSON *root)
{
    char *body = NULL;

    if (model_fill(app->model, root) == 0)
        body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!body)
        send_oai_error(r, 500, "server_error", "out_of_memory", "out of memory");
    return body;
}

static void forward(struct http_req *r, struct gw_app *app)
{
    cJSON *root = parse_body(r);
    struct oaimsgs_error e;

    if (!root)
        return;
    if (oaimsgs_check(root, &e)) {
        cJSON_Delete(root);
        send_error(r, 400, "invalid_request_error", e.code, e.param, e.msg);
        return;
    }
    int stream = bool_item(root, "stream");
    int usage = bool_item(cJSON_GetObjectItemCaseSensitive(root,
                                                           "stream_options"),
                          "include_usage");
    char *body = filled(r, app, root);
    if (body)
        start_call(r, app, MODEL_CHAT, body, stream, usage, 0);
}

/* POST /v1/responses: native, or translated to chat completions. */
static void handle_responses(struct http_req *r, void *state)
{
    struct gw_app *app = state;
    char err[256];
    cJSON *root, *chat;

    if (!authorized(app, r) || !(root = parse_body(r)))
        return;
    int stream = bool_item(root, "stream");
    if (app->responses_native) {
        char *body = filled(r, app, root);
        if (body)
            start_call(r, app, MODEL_RESPONSES, body, stream, 0, 0);
        return;
    }
    err[0] = '\0';
    chat = responses_chat_body(root, err, sizeof(err));
    cJSON_Delete(root);
    if (!chat) {
        send_error(r, strcmp(err, "out of memory") ? 400 : 500,
                   "invalid_request_error", "invalid_value",
                   strncmp(err, "input", 5) == 0 ? "input" : "", err);
        return;
    }
    char *body = filled(r, app, chat);
    if (body)
        start_call(r, app, MODEL_CHAT, body, stream, stream, 1);
}

/* POST /v1/embeddings: passed through; Azure's names its deployment. */
static void embeddings(struct http_req *r, struct gw_app *app)
{
    cJSON *root;
    const char *dep = app->cfg->embedding_deployment;

    if (!model_has_api(app->model, MODEL_EMBEDDINGS)) {
        send_oai_error(r, 404, "invalid_request_error", "not_supported",
                       "this gateway's provider has no embeddings (azure "
                       "needs AZURE_OPENAI_EMB_DEPLOYMENT)");
        return;
    }
    if (!(root = parse_body(r)))
        return;
    if (!cJSON_GetObjectItemCaseSensitive(root, "input")) {
        cJSON_Delete(root);
        send_error(r, 400, "invalid_request_error", "missing_input", "input",
                   "input: required");
        return;
    }
    if (dep && *dep && strcmp(model_provider(app->model), "openai") != 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "model");
        if (strcmp(model_provider(app->model), "azure-v1") == 0)
            cJSON_AddStringToObject(root, "model", dep);
    }
    char *body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!body) {
        send_oai_error(r, 500, "server_error", "out_of_memory", "out of memory");
        return;
    }
    start_call(r, app, MODEL_EMBEDDINGS, body, 0, 0, 0);
}

static void handle_embeddings(struct http_req *r, void *state)
{
    if (authorized(state, r))
        embeddings(r, state);
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

    int emb = slash && strcmp(slash, "/embeddings") == 0;

    if (!slash || slash == dep ||
        (!emb && strcmp(slash, "/chat/completions") != 0)) {
        send_oai_error(r, 404, "invalid_request_error", "404",
                       "Resource not found");
        return;
    }
    if (!has_api_version(http_req_query(r))) {
        send_oai_error(r, 400, "invalid_request_error", "missing_api_version",
                       "api-version query parameter is required");
        return;
    }
    if (authorized(state, r) && emb)
        embeddings(r, state);
    else if (!emb && authorized(state, r))
        forward(r, state);
}

static void handle_models(struct http_req *r, void *state)
{
    struct gw_app *app = state;
    struct str_buf b = { 0 };

    if (!authorized(app, r))
        return;
    str_buf_puts(&b, "{\"object\":\"list\",\"data\":[{\"id\":\"");
    json_esc_append(&b, model_name(app->model), strlen(model_name(app->model)));
    str_buf_printf(&b, "\",\"object\":\"model\",\"created\":0,"
                       "\"owned_by\":\"%s\"}]}",
                   model_provider(app->model));
    if (b.oom)
        http_resp_error(r, 500, "out of memory");
    else
        http_resp_send(r, 200, "application/json", b.p, b.len);
    str_buf_free(&b);
}

static int gw_startup(struct app_ctx *ctx)
{
    char err[256];
    struct gw_app *app = calloc(1, sizeof(*app));

    if (!app)
        return app_fail(ctx, "out of memory"), -1;
    app->cfg = app_cfg(ctx);
    app_set_state(ctx, app);
    app->model = model_init(app->cfg, err, sizeof(err));
    if (!app->model)
        return app_fail(ctx, "gateway: %s", err), -1;
    app->responses_native =
        strcmp(app->cfg->responses_upstream, "native") == 0 ||
        (strcmp(app->cfg->responses_upstream, "auto") == 0 &&
         model_has_api(app->model, MODEL_RESPONSES));
    if (app->responses_native && !model_has_api(app->model, MODEL_RESPONSES))
        return app_fail(ctx, "gateway: responses_upstream native needs "
                             "provider openai or azure-v1, not %s",
                        model_provider(app->model)),
               -1;
    if (app_route(ctx, "POST", "/v1/chat/completions", handle_v1, app) < 0 ||
        app_route(ctx, "POST", "/openai/deployments/*", handle_azure, app) < 0 ||
        app_route(ctx, "GET", "/v1/models", handle_models, app) < 0 ||
        app_route(ctx, "POST", "/openai/v1/chat/completions", handle_v1,
                  app) < 0 ||
        app_route(ctx, "GET", "/openai/v1/models", handle_models, app) < 0 ||
        app_route(ctx, "POST", "/v1/responses", handle_responses, app) < 0 ||
        app_route(ctx, "POST", "/openai/v1/responses", handle_responses,
                  app) < 0 ||
        app_route(ctx, "POST", "/v1/embeddings", handle_embeddings, app) < 0 ||
        app_route(ctx, "POST", "/openai/v1/embeddings", handle_embeddings,
                  app) < 0)
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
