/*
 * model — the provider behind the apps (see model.h).
 *
 * Real providers are one fetch each; the built-in mock is a loop timer.
 * Both report through the same model_cbs, with the provider's wire format.
 */
#include "worker/model/model.h"
#include "worker/model/model_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/str.h"
#include "worker/apptimer.h"
#include "worker/model/auth/entra.h"
#include "worker/model/failover.h"
#include "worker/model/mockmodel.h"
#include "worker/fetch/retry.h"

/* A body several attempts share (failover), freed by the last holder. */
struct sbody {
    unsigned refs;
    char data[];
};

struct model_call {
    struct model *m;
    const struct model_cbs *cbs;
    void *arg;
    struct fetch *f;
    struct mockmodel_call *mc;
    /* a real provider's call, until its fetch starts or between attempts */
    char *body; /* owned, or sb's data */
    size_t len;
    struct sbody *sb;        /* failover: shared with the attempts */
    struct entra_wait *w;    /* waiting for a token */
    struct app_timer *timer; /* waiting for an endpoint to come back */
    long long t0;            /* ms, monotonic: the call's start */
    int ep;                  /* failover: endpoint of this attempt */
    unsigned tried;          /* failover: endpoints tried, bit mask */
    int retries;             /* failover: waits made */
    enum model_api api;
    unsigned swallow : 1; /* this attempt's failure goes elsewhere */
};

struct model *model_init(const struct cfg *c, char *err, size_t errlen)
{
    struct model *m = calloc(1, sizeof(*m));
    int h = 0;

    if (!m)
        return NULL;
    m->cfg = c;
    if (model__setup(m, c, err, errlen) < 0) {
        model_free(m);
        return NULL;
    }
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
    entra_close(m->entra);
    failover_free(&m->fo);
    free(m);
}

const char *model_name(const struct model *m)
{
    return m->name;
}

const char *model_body_name(const struct model *m)
{
    return m->kind == K_AZURE ? NULL : m->name;
}

int model_fill(const struct model *m, cJSON *body)
{
    const char *name = model_body_name(m);

    cJSON_DeleteItemFromObjectCaseSensitive(body, "model");
    if (name == NULL)
        return 0;
    return cJSON_AddStringToObject(body, "model", name) ? 0 : -1;
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int failing_over(const struct model *m)
{
    return m->fo.n > 1;
}

static void sbody_unref(void *p)
{
    struct sbody *b = (struct sbody *)((char *)p - offsetof(struct sbody, data));

    if (--b->refs == 0)
        free(b);
}

static void call_free(struct model_call *c)
{
    if (c->w)
        entra_cancel(c->w);
    app_timer_free(c->timer);
    if (c->sb)
        sbody_unref(c->sb->data);
    else
        free(c->body);
    free(c);
}

/* Ends the call with r; c is freed. */
static void deliver(struct model_call *c, const struct fetch_result *r)
{
    c->cbs->on_done(c, r, c->arg);
    call_free(c);
}

static int attempt(struct model_call *c, const char *token);
static void on_token(const char *token, const char *err, void *arg);

/* Starts the next attempt, with a token first when Entra ID is in use.
 * Returns -1 when it could not be started. */
static int go(struct model_call *c)
{
    const char *token = NULL;

    if (c->m->entra && !(token = entra_peek(c->m->entra,
                                            ENTRA_SCOPE_COGNITIVE))) {
        c->w = entra_get(c->m->entra, ENTRA_SCOPE_COGNITIVE, on_token, c);
        return c->w ? 0 : -1;
    }
    return attempt(c, token);
}

static void on_token(const char *token, const char *err, void *arg)
{
    struct model_call *c = arg;

    c->w = NULL;
    if (!token) {
        deliver(c, &(struct fetch_result){ FETCH_EINVAL, 0, 0, err });
        return;
    }
    if (attempt(c, token) < 0)
        deliver(c, &(struct fetch_result){ FETCH_EINVAL, 0, 0,
                                           "cannot start the model call" });
}

/* Whether a failure of this attempt can go elsewhere: an untried endpoint
 * is up, or a wait for one is left within the retries and the time. */
static int can_move(struct model_call *c)
{
    struct model *m = c->m;
    long long now = mono_ms(), wait;
    long long left = (long long)m->cfg->total_timeout * 1000 - (now - c->t0);

    for (int i = 0; i < m->fo.n; i++)
        if (!(c->tried & (1u << i)) && m->fo.ep[i].cool_until <= now)
            return 1;
    failover_soonest(&m->fo, now, &wait);
    return c->retries < m->cfg->max_retries && wait < left;
}

static void on_timer(void *arg)
{
    struct model_call *c = arg;

    app_timer_free(c->timer);
    c->timer = NULL;
    c->tried = 0;
    c->ep = -1;
    if (go(c) < 0)
        deliver(c, &(struct fetch_result){ FETCH_EINVAL, 0, 0,
                                           "cannot start the model call" });
}

/* After a swallowed failure: the next endpoint now, or after a wait. */
static void move_on(struct model_call *c, const struct fetch_result *r)
{
    struct model *m = c->m;
    long long now = mono_ms(), wait;

    c->ep = failover_pick(&m->fo, c->tried, now);
    if (c->ep >= 0 && go(c) == 0)
        return;
    if (c->ep < 0) {
        failover_soonest(&m->fo, now, &wait);
        c->retries++;
        c->timer = app_timer_new(on_timer, c);
        if (c->timer && app_timer_after(c->timer, (long)wait) == 0)
            return;
    }
    deliver(c, r);
}

static void on_headers(struct fetch *f, int status, void *arg)
{
    struct model_call *c = arg;
    struct model *m = c->m;

    if (failing_over(m) && retry_status(status,
                                        fetch_header(f, "x-should-retry"))) {
        failover_fail(&m->fo, c->ep, mono_ms(), status,
                      fetch_header(f, "retry-after-ms"),
                      fetch_header(f, "retry-after"), time(NULL));
        if ((c->swallow = can_move(c))) {
            log_info("model: %s answered %d; trying another endpoint",
                     m->fo.ep[c->ep].url, status);
            return;
        }
    }
    if (c->cbs->on_headers)
        c->cbs->on_headers(c, status, c->arg);
}

static void on_data(struct fetch *f, const char *p, size_t n, void *arg)
{
    struct model_call *c = arg;
    (void)f;
    if (!c->swallow && c->cbs->on_data)
        c->cbs->on_data(c, p, n, c->arg);
}

static void on_done(struct fetch *f, const struct fetch_result *r, void *arg)
{
    struct model_call *c = arg;
    struct model *m = c->m;

    if (failing_over(m) && !c->swallow && fetch_status(f) == 0 &&
        (r->rc == FETCH_ECONNECT || r->rc == FETCH_ETIMEOUT_CONNECT)) {
        failover_fail(&m->fo, c->ep, mono_ms(), 0, NULL, NULL, 0);
        if ((c->swallow = can_move(c)))
            log_info("model: %s: %s; trying another endpoint",
                     m->fo.ep[c->ep].url, r->msg);
    }
    if (c->swallow) {
        c->swallow = 0;
        c->f = NULL; /* fetch frees it when this returns */
        move_on(c, r);
        return;
    }
    deliver(c, r);
}

static const struct fetch_cbs fetch_cbs = { on_headers, on_data, on_done };

int model_has_api(const struct model *m, enum model_api api)
{
    const char *d = m->cfg->embedding_deployment;

    switch (api) {
    case MODEL_RESPONSES:
        return m->kind == K_OPENAI || m->kind == K_AZURE_V1;
    case MODEL_EMBEDDINGS:
        return m->kind != K_MOCK && (m->kind != K_AZURE || (d && *d));
    default:
        return 1;
    }
}

/* The URL of api on the endpoint whose chat URL is chat (malloc'd):
 * "/chat/completions" becomes "/responses" or "/embeddings"; for azure
 * deployments the deployment becomes embedding_deployment. */
static char *api_url(const struct model *m, const char *chat,
                     enum model_api api)
{
    static const char tail[] = "/chat/completions";
    static const char dep[] = "/openai/deployments/";
    const char *t = strstr(chat, tail), *d;

    if (!t)
        return NULL;
    if (api == MODEL_RESPONSES)
        return str_fmt("%.*s/responses%s", (int)(t - chat), chat,
                       t + sizeof(tail) - 1);
    if (m->kind != K_AZURE)
        return str_fmt("%.*s/embeddings%s", (int)(t - chat), chat,
                       t + sizeof(tail) - 1);
    if (!(d = strstr(chat, dep)))
        return NULL;
    return str_fmt("%.*s%s/embeddings%s", (int)(d + sizeof(dep) - 1 - chat),
                   chat, m->cfg->embedding_deployment, t + sizeof(tail) - 1);
}

/* One attempt on the endpoint c->ep (or m->url). Failover attempts make no
 * retries of their own: the next one goes to another endpoint. */
static int attempt(struct model_call *c, const char *token)
{
    struct model *m = c->m;
    char *bearer = token ? str_fmt("Authorization: Bearer %s", token) : NULL;
    char *url = NULL;
    const char *hdrs[] = { m->headers[0], bearer ? bearer : m->headers[1],
                           NULL };
    struct fetch_req req = {
        .method = "POST",
        .url = m->url,
        .headers = hdrs,
        .body = c->body,
        .body_len = c->len,
        .body_free = free,
    };

    if (token && !bearer)
        return -1;
    if (failing_over(m)) {
        long long left = (long long)m->cfg->total_timeout * 1000 -
                         (mono_ms() - c->t0);
        if (c->ep < 0)
            c->ep = failover_pick(&m->fo, c->tried, mono_ms());
        if (c->ep < 0)
            c->ep = failover_soonest(&m->fo, mono_ms(), &(long long){ 0 });
        c->tried |= 1u << c->ep;
        req.url = m->fo.ep[c->ep].url;
        if (m->fo.ep[c->ep].auth)
            hdrs[1] = m->fo.ep[c->ep].auth;
        req.max_retries = FETCH_NONE;
        req.total_ms = left > 0 ? left : 1;
        req.body_free = sbody_unref;
        c->sb->refs++;
    }
    if (c->api != MODEL_CHAT && !(req.url = url = api_url(m, req.url, c->api))) {
        free(bearer);
        if (failing_over(m))
            c->sb->refs--;
        return -1;
    }
    c->f = fetch_start(&req, &fetch_cbs, c);
    free(url);
    free(bearer);
    if (!failing_over(m))
        c->body = NULL; /* taken by fetch, even when it failed */
    return c->f ? 0 : -1;
}

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

/* Failover attempts share one copy of the body. */
static int share_body(struct model_call *c)
{
    struct sbody *b = malloc(sizeof(*b) + c->len + 1);

    if (!b)
        return -1;
    b->refs = 1;
    memcpy(b->data, c->body, c->len);
    b->data[c->len] = '\0';
    free(c->body);
    c->body = b->data;
    c->sb = b;
    return 0;
}

static struct model_call *start(struct model *m, enum model_api api,
                                char *body, size_t len, int stream,
                                int include_usage,
                                const struct model_cbs *cbs, void *arg)
{
    struct model_call *c = calloc(1, sizeof(*c));

    if (!c) {
        free(body);
        return NULL;
    }
    c->api = api;
    c->m = m;
    c->cbs = cbs;
    c->arg = arg;
    c->body = body;
    c->len = len;
    c->ep = -1;
    c->t0 = mono_ms();
    if (m->kind == K_MOCK) {
        struct mockmodel_opts o = {
            m->cfg->mock_tokens,
            m->cfg->mock_delay_ms,
            stream,
            include_usage,
            m->name,
        };
        c->mc = mockmodel_start(&o, &mock_cbs, c, NULL);
    } else if ((!failing_over(m) || share_body(c) == 0) && go(c) == 0) {
        return c;
    }
    if (!c->mc) {
        call_free(c);
        return NULL;
    }
    free(c->body);
    c->body = NULL;
    return c;
}

struct model_call *model_start(struct model *m, char *body, size_t len,
                               int stream, int include_usage,
                               const struct model_cbs *cbs, void *arg)
{
    return start(m, MODEL_CHAT, body, len, stream, include_usage, cbs, arg);
}

struct model_call *model_start_api(struct model *m, enum model_api api,
                                   char *body, size_t len, int stream,
                                   const struct model_cbs *cbs, void *arg)
{
    if (!model_has_api(m, api)) {
        free(body);
        return NULL;
    }
    return start(m, api, body, len, stream, 0, cbs, arg);
}

void model_cancel(struct model_call *c)
{
    if (c->f)
        fetch_cancel(c->f);
    else if (c->mc)
        mockmodel_cancel(c->mc);
    call_free(c);
}

void model_pause(struct model_call *c)
{
    if (c->f)
        fetch_pause(c->f);
    else if (c->mc)
        mockmodel_pause(c->mc);
}

void model_resume(struct model_call *c)
{
    if (c->f)
        fetch_resume(c->f);
    else if (c->mc)
        mockmodel_resume(c->mc);
}

const char *model_header(const struct model_call *c, const char *name)
{
    return c->f ? fetch_header(c->f, name) : NULL;
}
