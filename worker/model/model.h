/*
 * model — where the model is: the configured provider and one call to it.
 *
 * Providers (cfg->provider, or LLMFORK_PROVIDER):
 *   mock      built in, no network: streams a canned answer of mock_tokens
 *             tokens, one every mock_delay_ms (worker/model/mockmodel.c)
 *   azure     {AZURE_OPENAI_ENDPOINT}/openai/deployments/{deployment}/
 *             chat/completions?api-version=..., header api-key
 *   azure-v1  {AZURE_OPENAI_ENDPOINT}/openai/v1/chat/completions with
 *             "model": deployment, header api-key
 *   openai    {OPENAI_BASE_URL}/chat/completions, Authorization: Bearer,
 *             "model": OPENAI_MODEL (any OpenAI-compatible server)
 *
 * azure and azure-v1 without a key send "Authorization: Bearer" with an
 * Entra ID token (worker/model/auth/entra.h); a call waits for the worker's one token
 * request when none is cached, and fails with FETCH_EINVAL and "could not
 * get an Entra ID token: ..." when it cannot be had (the apps answer 502).
 *
 * Failover (azure_endpoints, two or more; worker/model/failover.h): each call
 * picks an endpoint by weighted round-robin among those not cooling down.
 * A retryable status (fetch.h's list) or a connection failure before any
 * callback reached the app is swallowed and the same body goes to another
 * endpoint the call has not tried; when none is left, the call waits for
 * the first endpoint back and makes another pass, at most max_retries
 * times, within total_timeout. Failover attempts make no fetch-level
 * retries. Cool-downs live in struct model (per worker, per app). With
 * one endpoint, fetch retries as it always does. For provider azure an
 * endpoint may name its own deployment (".../openai/deployments/NAME"):
 * the call goes to it, with the same body. With azure_api_keys each
 * endpoint sends its own api-key.
 *
 * A call speaks the provider's wire format whatever the provider: on_data
 * gets the raw response body (SSE chat.completion.chunk events when
 * streaming, a chat.completion JSON object otherwise), so the apps parse
 * one format and the gateway can pass bytes through.
 *
 * Ownership: struct model is built once per worker by model_init (after
 * fetch_init) and freed by model_free; it owns its URL and header lines.
 * struct model_call is owned by this module: the caller's pointer is valid
 * until on_done returns or model_cancel is called. The body passed to
 * model_start must be malloc'd; the call takes it and frees it.
 * Callback data is valid only during the callback.
 */
#ifndef LLMFORK_MODEL_H
#define LLMFORK_MODEL_H

#include <stddef.h>
#include "worker/fetch/fetch.h"

struct cfg;
struct cJSON;
struct model;
struct model_call;

struct model_cbs {
    void (*on_headers)(struct model_call *c, int status, void *arg);
    void (*on_data)(struct model_call *c, const char *data, size_t len,
                    void *arg);
    void (*on_done)(struct model_call *c, const struct fetch_result *res,
                    void *arg);
};

/* Builds the provider from cfg. Returns NULL and writes why into err when
 * the settings are incomplete (e.g. azure without an endpoint). */
struct model *model_init(const struct cfg *c, char *err, size_t errlen);
void model_free(struct model *m);

/* "mock", "azure", "azure-v1", "openai". */
const char *model_provider(const struct model *m);
/* The model or deployment name requests go to. */
const char *model_name(const struct model *m);

/* The "model" a request body names: NULL for azure deployments (the URL
 * names the deployment). */
const char *model_body_name(const struct model *m);
/* Sets (or, for azure deployments, removes) "model" in a request body. */
int model_fill(const struct model *m, struct cJSON *body);

/* Starts a chat completion with a JSON body (malloc'd; taken). stream
 * says whether the body asks for SSE; include_usage whether it asks for
 * the usage chunk (the mock honours both). Returns NULL on failure (the
 * body is freed). */
struct model_call *model_start(struct model *m, char *body, size_t len,
                               int stream, int include_usage,
                               const struct model_cbs *cbs, void *arg);

/* Which API a call speaks: chat completions (model_start), the Responses
 * API ({base}/responses, {endpoint}/openai/v1/responses: openai and
 * azure-v1 only) or embeddings ({base}/embeddings,
 * {endpoint}/openai/v1/embeddings, or for azure the deployment
 * embedding_deployment's /embeddings). The body goes as it is. */
enum model_api { MODEL_CHAT,
                 MODEL_RESPONSES,
                 MODEL_EMBEDDINGS };
/* 1 when the provider has the API (responses: openai and azure-v1;
 * embeddings: all but mock, azure with embedding_deployment). */
int model_has_api(const struct model *m, enum model_api api);
struct model_call *model_start_api(struct model *m, enum model_api api,
                                   char *body, size_t len, int stream,
                                   const struct model_cbs *cbs, void *arg);
void model_cancel(struct model_call *c);
void model_pause(struct model_call *c);
void model_resume(struct model_call *c);
/* A response header (NULL when absent); valid during callbacks. */
const char *model_header(const struct model_call *c, const char *name);

#endif
