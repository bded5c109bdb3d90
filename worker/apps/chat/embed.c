/* embed — the embeddings API client (see embed.h). */
#include "worker/apps/chat/embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "worker/model/auth/entra.h"
#include "worker/apps/chat/jsoncall.h"

struct embed {
    const struct cfg *cfg;
    struct jsoncall_svc svc;
    unsigned with_model : 1; /* OpenAI: the model goes in the body */
};

struct embed_call {
    struct jsoncall *jc;
    embed_cb cb;
    void *arg;
};

static int setup(struct embed *e, const struct cfg *c, struct entra *entra,
                 char *err, size_t n)
{
    int azure = !strcmp(c->provider, "azure") || !strcmp(c->provider, "azure-v1");
    const char *base = azure ? c->azure_endpoint : c->openai_base_url;
    const char *key = azure ? c->azure_api_key : c->openai_api_key;
    int rc;

    if (key && !*key)
        key = NULL;
    if (!azure && strcmp(c->provider, "openai"))
        return snprintf(err, n, "embedding_deployment needs provider azure, "
                                "azure-v1 or openai"),
               -1;
    if (!base || (azure && !key && !entra))
        return snprintf(err, n, "embedding_deployment needs %s", azure ? "AZURE_OPENAI_ENDPOINT, and AZURE_OPENAI_API_KEY "
                                                                         "or Entra ID"
                                                                       : "OPENAI_BASE_URL"),
               -1;
    if (azure)
        rc = jsoncall_svc_url(&e->svc, base, "/openai/deployments/%s/"
                                             "embeddings?api-version=%s",
                              c->embedding_deployment, c->azure_api_version);
    else
        rc = jsoncall_svc_url(&e->svc, base, "/embeddings");
    if (rc < 0 || (key && asprintf(&e->svc.auth, azure ? "api-key: %s" : "Authorization: Bearer %s", key) < 0)) {
        e->svc.auth = NULL; /* asprintf leaves it undefined */
        return snprintf(err, n, "out of memory"), -1;
    }
    e->with_model = !azure;
    if (azure && !key) {
        e->svc.entra = entra;
        e->svc.scope = ENTRA_SCOPE_COGNITIVE;
        e->svc.token_hint = "with an Entra ID token this identity needs the "
                            "Cognitive Services OpenAI User role on the resource";
    }
    return 0;
}

struct embed *embed_init(const struct cfg *c, struct entra *entra,
                         char *err, size_t errlen)
{
    struct embed *e = calloc(1, sizeof(*e));

    if (!e)
        return snprintf(err, errlen, "out of memory"), NULL;
    e->cfg = c;
    e->svc.what = "the embedding model";
    if (setup(e, c, entra, err, errlen) < 0) {
        embed_free(e);
        return NULL;
    }
    return e;
}

void embed_free(struct embed *e)
{
    if (!e)
        return;
    jsoncall_svc_free(&e->svc);
    free(e);
}

static void on_reply(void *arg, cJSON *reply, int status, const char *msg,
                     const char *retry_after)
{
    struct embed_call *ec = arg;
    cJSON *first = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(reply, "data"), 0);
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(first, "embedding");
    int vector = cJSON_IsArray(v); /* v is the callee's once passed */

    if (!vector)
        cJSON_Delete(v);
    if (reply && !vector)
        ec->cb(ec->arg, NULL, 502, "the embedding model's reply had no "
                                   "data[0].embedding",
               NULL);
    else
        ec->cb(ec->arg, vector ? v : NULL, status, msg, retry_after);
    cJSON_Delete(reply);
    free(ec);
}

struct embed_call *embed_start(struct embed *e, const char *text,
                               embed_cb cb, void *arg)
{
    struct embed_call *ec = calloc(1, sizeof(*ec));
    cJSON *b;

    if (!ec)
        return NULL;
    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "input", text);
    if (e->with_model)
        cJSON_AddStringToObject(b, "model", e->cfg->embedding_deployment);
    if (e->cfg->embedding_dimensions)
        cJSON_AddNumberToObject(b, "dimensions", e->cfg->embedding_dimensions);
    ec->cb = cb;
    ec->arg = arg;
    if (!(ec->jc = jsoncall_start(&e->svc, b, on_reply, ec))) {
        free(ec);
        return NULL;
    }
    return ec;
}

void embed_cancel(struct embed_call *ec)
{
    jsoncall_cancel(ec->jc);
    free(ec);
}
