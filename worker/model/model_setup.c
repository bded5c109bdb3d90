/*
 * model__setup — the provider behind the apps, built from the settings
 * (model_int.h): its URL or failover endpoints, deployment or model name,
 * and credentials (a key, a key per endpoint, or Entra ID).
 */
#include "worker/model/model_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/str.h"
#include "worker/model/auth/entra.h"
#include "worker/model/model.h"

static const char *const kind_names[] = { "mock", "azure", "azure-v1", "openai" };

static int need(const char *v, const char *env, char *err, size_t n)
{
    if (v && *v)
        return 0;
    snprintf(err, n, "provider needs %s", env);
    return -1;
}

/* An endpoint may name its own deployment, as Azure's target URIs do
 * ("https://r.openai.azure.com/openai/deployments/gpt-4o-2"), so several
 * deployments, each with its own quota, can serve one route. What follows
 * "/openai/deployments" in ep ("/NAME" when well formed), or NULL. */
static const char *ep_deployment(const char *ep)
{
    static const char mark[] = "/openai/deployments";
    const char *d = strstr(ep, mark);

    return d ? d + sizeof(mark) - 1 : NULL;
}

/* ep (trailing '/' trimmed) can make a URL: its own deployment is a name
 * and the provider can use it, or the configured deployment stands in. */
static int check_ep(const struct model *m, const struct cfg *c,
                    const char *ep, char *err, size_t n)
{
    const char *d = ep_deployment(ep);

    if (d == NULL)
        return need(c->azure_deployment, "AZURE_OPENAI_CHAT_DEPLOYMENT",
                    err, n);
    if (m->kind != K_AZURE)
        return snprintf(err, n, "endpoint '%s' names a deployment: that "
                                "needs provider azure (azure-v1 names the model "
                                "in the body)",
                        ep),
               -1;
    if (d[0] != '/' || d[1] == '\0' || d[1 + strcspn(d + 1, "/?#")] != '\0')
        return snprintf(err, n, "endpoint '%s': a deployment's name must end "
                                "the URL (https://RESOURCE.openai.azure.com/openai/"
                                "deployments/NAME)",
                        ep),
               -1;
    return 0;
}

/* The chat completions URL on one Azure endpoint (checked by check_ep). */
static char *azure_url(const struct model *m, const struct cfg *c,
                       const char *ep)
{
    if (m->kind != K_AZURE)
        return str_fmt("%s/openai/v1/chat/completions", ep);
    if (ep_deployment(ep) != NULL)
        return str_fmt("%s/chat/completions?api-version=%s", ep,
                       c->azure_api_version);
    return str_fmt("%s/openai/deployments/%s/chat/completions?api-version=%s",
                   ep, c->azure_deployment, c->azure_api_version);
}

/* A checked endpoint's URL (ep is taken), or NULL: err says why. */
static char *endpoint_url(const struct model *m, const struct cfg *c,
                          char *ep, char *err, size_t n)
{
    char *url = ep && check_ep(m, c, ep, err, n) == 0 ? azure_url(m, c, ep)
                                                      : NULL;
    free(ep);
    return url;
}

static int setup_endpoints(struct model *m, const struct cfg *c, char *err,
                           size_t n)
{
    for (int i = 0; i < c->azure_endpoints.n; i++) {
        char *ep, *url;
        int w;
        if (failover_item(c->azure_endpoints.v[i], &ep, &w) < 0) {
            snprintf(err, n, "bad azure_endpoints item '%s'",
                     c->azure_endpoints.v[i]);
            return -1;
        }
        url = endpoint_url(m, c, ep, err, n);
        if (!url || failover_add(&m->fo, url, w) < 0) {
            free(url);
            return -1;
        }
    }
    return 0;
}

/* azure_api_keys: one api-key per endpoint, in their order, for endpoints
 * in several resources (a key is good for its own resource only). The
 * first also serves a failover set of one, through m->auth. */
static int endpoint_keys(struct model *m, const struct cfg *c, char *err,
                         size_t n)
{
    if (c->azure_api_keys.n != c->azure_endpoints.n)
        return snprintf(err, n, "AZURE_OPENAI_API_KEYS has %d key(s) for %d "
                                "AZURE_OPENAI_ENDPOINTS: one per endpoint, in order",
                        c->azure_api_keys.n, c->azure_endpoints.n),
               -1;
    for (int i = 0; i < m->fo.n; i++)
        if (!(m->fo.ep[i].auth = str_fmt("api-key: %s",
                                         c->azure_api_keys.v[i])))
            return -1;
    m->auth = strdup(m->fo.ep[0].auth);
    return m->auth ? 0 : -1;
}

/* The configured deployment, or the one the first endpoint names. */
static char *deployment_name(const struct model *m, const struct cfg *c)
{
    const char *d;

    if (c->azure_deployment && *c->azure_deployment)
        return strdup(c->azure_deployment);
    d = ep_deployment(m->url);
    return d ? strndup(d + 1, strcspn(d + 1, "/?")) : NULL;
}

static int setup_azure(struct model *m, const struct cfg *c, char *err, size_t n)
{
    if (c->azure_endpoints.n == 0 &&
        need(c->azure_endpoint, "AZURE_OPENAI_ENDPOINT", err, n))
        return -1;
    if (c->azure_endpoints.n > 0) {
        if (setup_endpoints(m, c, err, n) < 0)
            return -1;
        m->url = strdup(m->fo.ep[0].url);
    } else if (ep_deployment(c->azure_endpoint) != NULL) {
        /* the embeddings (embed.c) are called on the same resource URL */
        return snprintf(err, n, "AZURE_OPENAI_ENDPOINT '%s' is the resource's"
                                " URL; deployments named in URLs go in "
                                "AZURE_OPENAI_ENDPOINTS",
                        c->azure_endpoint),
               -1;
    } else {
        m->url = endpoint_url(m, c, strndup(c->azure_endpoint, str_base_len(c->azure_endpoint)), err, n);
    }
    if (m->url == NULL || (m->name = deployment_name(m, c)) == NULL)
        return -1;
    if (c->azure_api_keys.n > 0)
        return endpoint_keys(m, c, err, n);
    if (c->azure_api_key && *c->azure_api_key)
        m->auth = str_fmt("api-key: %s", c->azure_api_key);
    else if (!(m->entra = entra_open(c, err, n)))
        return -1;
    else
        log_info("azure: no API key; Entra ID tokens from %s",
                 entra_source(m->entra));
    return m->auth || m->entra ? 0 : -1;
}

static int setup_openai(struct model *m, const struct cfg *c, char *err, size_t n)
{
    if (need(c->openai_base_url, "OPENAI_BASE_URL", err, n) ||
        need(c->openai_model, "OPENAI_MODEL", err, n))
        return -1;
    m->url = str_fmt("%.*s/chat/completions",
                     (int)str_base_len(c->openai_base_url), c->openai_base_url);
    m->name = strdup(c->openai_model);
    /* Local servers (Ollama, vLLM) often take no key. */
    if (c->openai_api_key && *c->openai_api_key)
        m->auth = str_fmt("Authorization: Bearer %s", c->openai_api_key);
    return m->url && m->name ? 0 : -1;
}

int model__setup(struct model *m, const struct cfg *c, char *err, size_t n)
{
    size_t k;

    for (k = 0; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
        if (c->provider && strcmp(c->provider, kind_names[k]) == 0)
            break;
    m->kind = (enum model_kind)k;
    snprintf(err, n, "out of memory");
    switch (m->kind) {
    case K_MOCK:
        return (m->name = strdup("llmfork-mock")) ? 0 : -1;
    case K_AZURE:
    case K_AZURE_V1:
        return setup_azure(m, c, err, n);
    case K_OPENAI:
        return setup_openai(m, c, err, n);
    default:
        return snprintf(err, n, "unknown provider '%s' (mock, azure, "
                                "azure-v1, openai)",
                        c->provider ? c->provider : ""),
               -1;
    }
}

const char *model_provider(const struct model *m)
{
    return kind_names[m->kind];
}
