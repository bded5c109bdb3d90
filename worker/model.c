/*
 * model — the provider behind the apps (see model.h).
 *
 * Real providers are one fetch each; the built-in mock is a loop timer.
 * Both report through the same model_cbs, with the provider's wire format.
 */
#include "worker/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "worker/mockmodel.h"

enum kind { K_MOCK, K_AZURE, K_AZURE_V1, K_OPENAI };

static const char *const kind_names[] = { "mock", "azure", "azure-v1", "openai" };

struct model {
    enum kind kind;
    struct event_base *base;
    const struct cfg *cfg;
    char *url;
    char *name;                 /* model or deployment */
    char *auth;                 /* "api-key: K" or "Authorization: Bearer K" */
    const char *headers[4];     /* NULL-terminated; points into this struct */
};

struct model_call {
    struct model *m;
    const struct model_cbs *cbs;
    void *arg;
    struct fetch *f;
    struct mockmodel_call *mc;
};

static char *trim_slash(const char *s)
{
    char *d = strdup(s);
    size_t n = d ? strlen(d) : 0;

    while (n > 0 && d[n - 1] == '/')
        d[--n] = '\0';
    return d;
}

static char *strf(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static int need(const char *v, const char *env, char *err, size_t n)
{
    if (v && *v)
        return 0;
    snprintf(err, n, "provider needs %s", env);
    return -1;
}

static int setup_azure(struct model *m, const struct cfg *c, char *err, size_t n)
{
    if (need(c->azure_endpoint, "AZURE_OPENAI_ENDPOINT", err, n) ||
        need(c->azure_deployment, "AZURE_OPENAI_CHAT_DEPLOYMENT", err, n) ||
        need(c->azure_api_key, "AZURE_OPENAI_API_KEY", err, n))
        return -1;
    char *ep = trim_slash(c->azure_endpoint);
    if (!ep)
        return -1;
    if (m->kind == K_AZURE)
        m->url = strf("%s/openai/deployments/%s/chat/completions?api-version=%s",
                      ep, c->azure_deployment, c->azure_api_version);
    else
        m->url = strf("%s/openai/v1/chat/completions", ep);
    free(ep);
    m->name = strdup(c->azure_deployment);
    m->auth = strf("api-key: %s", c->azure_api_key);
    return m->url && m->name && m->auth ? 0 : -1;
}

static int setup_openai(struct model *m, const struct cfg *c, char *err, size_t n)
{
    if (need(c->openai_base_url, "OPENAI_BASE_URL", err, n) ||
        need(c->openai_model, "OPENAI_MODEL", err, n))
        return -1;
    char *base = trim_slash(c->openai_base_url);
    if (!base)
        return -1;
    m->url = strf("%s/chat/completions", base);
    free(base);
    m->name = strdup(c->openai_model);
    /* Local servers (Ollama, vLLM) often take no key. */
    if (c->openai_api_key && *c->openai_api_key)
        m->auth = strf("Authorization: Bearer %s", c->openai_api_key);
    return m->url && m->name ? 0 : -1;
}

struct model *model_init(const struct cfg *c, struct event_base *base,
                         char *err, size_t errlen)
{
    struct model *m = calloc(1, sizeof(*m));
    int rc = -1;
    size_t k;

    if (!m)
        return NULL;
    m->base = base;
    m->cfg = c;
    for (k = 0; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
        if (c->provider && strcmp(c->provider, kind_names[k]) == 0)
            break;
    m->kind = (enum kind)k;
    snprintf(err, errlen, "out of memory");
    switch (k) {
    case K_MOCK:
        m->name = strdup("llmfork-mock");
        rc = m->name ? 0 : -1;
        break;
    case K_AZURE:
    case K_AZURE_V1:
        rc = setup_azure(m, c, err, errlen);
        break;
    case K_OPENAI:
        rc = setup_openai(m, c, err, errlen);
        break;
    default:
        snprintf(err, errlen, "unknown provider '%s' (mock, azure, azure-v1, "
                 "openai)", c->provider ? c->provider : "");
    }
    if (rc < 0) {
        model_free(m);
        return NULL;
    }
    int h = 0;
    m->headers[h++] = "Content-Type: application/json";
    if (m->auth)
        m->headers[h++] = m->auth;
    m->headers[h] = NULL;
    return m;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    free(m->url);
    free(m->name);
    free(m->auth);
    free(m);
}

const char *model_provider(const struct model *m)
{
    return kind_names[m->kind];
}

const char *model_name(const struct model *m)
{
    return m->name;
}

int model_fill(const struct model *m, cJSON *body)
{
    cJSON_DeleteItemFromObjectCaseSensitive(body, "model");
    if (m->kind == K_AZURE)
        return 0;
    return cJSON_AddStringToObject(body, "model", m->name) ? 0 : -1;
}

static void on_headers(struct fetch *f, int status, void *arg)
{
    struct model_call *c = arg;
    (void)f;
    if (c->cbs->on_headers)
        c->cbs->on_headers(c, status, c->arg);
}

static void on_data(struct fetch *f, const char *p, size_t n, void *arg)
{
    struct model_call *c = arg;
    (void)f;
    if (c->cbs->on_data)
        c->cbs->on_data(c, p, n, c->arg);
}

static void on_done(struct fetch *f, const struct fetch_result *r, void *arg)
{
    struct model_call *c = arg;
    (void)f;
    c->cbs->on_done(c, r, c->arg);
    free(c);
}

static const struct fetch_cbs fetch_cbs = { on_headers, on_data, on_done };

/* The mock's done comes through here too, to free the call after it. */
static void mock_done(struct model_call *c, const struct fetch_result *r,
                      void *arg)
{
    (void)arg;
    c->cbs->on_done(c, r, c->arg);
    free(c);
}

static void mock_headers(struct model_call *c, int status, void *arg)
{
    (void)arg;
    if (c->cbs->on_headers)
        c->cbs->on_headers(c, status, c->arg);
}

static void mock_data(struct model_call *c, const char *p, size_t n, void *arg)
{
    (void)arg;
    if (c->cbs->on_data)
        c->cbs->on_data(c, p, n, c->arg);
}

static const struct model_cbs mock_cbs = { mock_headers, mock_data, mock_done };

struct model_call *model_start(struct model *m, char *body, size_t len,
                               int stream, int include_usage,
                               const struct model_cbs *cbs, void *arg)
{
    struct model_call *c = calloc(1, sizeof(*c));

    if (!c) {
        free(body);
        return NULL;
    }
    c->m = m;
    c->cbs = cbs;
    c->arg = arg;
    if (m->kind == K_MOCK) {
        struct mockmodel_opts o = {
            m->cfg->mock_tokens, m->cfg->mock_delay_ms, stream,
            include_usage, m->name,
        };
        free(body);
        c->mc = mockmodel_start(m->base, &o, &mock_cbs, c, NULL);
    } else {
        struct fetch_req req = {
            .method = "POST", .url = m->url, .headers = m->headers,
            .body = body, .body_len = len, .body_free = free,
        };
        c->f = fetch_start(&req, &fetch_cbs, c);
    }
    if (!c->mc && !c->f) {
        free(c);
        return NULL;
    }
    return c;
}

void model_cancel(struct model_call *c)
{
    if (c->f)
        fetch_cancel(c->f);
    else
        mockmodel_cancel(c->mc);
    free(c);
}

void model_pause(struct model_call *c)
{
    if (c->f)
        fetch_pause(c->f);
    else
        mockmodel_pause(c->mc);
}

void model_resume(struct model_call *c)
{
    if (c->f)
        fetch_resume(c->f);
    else
        mockmodel_resume(c->mc);
}

const char *model_header(const struct model_call *c, const char *name)
{
    return c->f ? fetch_header(c->f, name) : NULL;
}
