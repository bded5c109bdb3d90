/* jsoncall — a JSON POST with its reply parsed (see jsoncall.h). */
#include "worker/apps/chat/jsoncall.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/json.h"
#include "common/str.h"
#include "worker/model/auth/entra.h"
#include "worker/fetch/fetch.h"

struct jsoncall {
    const struct jsoncall_svc *svc;
    struct fetch *f;
    struct entra_wait *w;    /* waiting for a token */
    char *json;              /* the request body until the POST starts */
    struct str_buf body;     /* the reply */
    unsigned with_token : 1; /* sent with an Entra ID token */
    jsoncall_cb cb;
    void *arg;
    char what[64];
};

static void call_free(struct jsoncall *jc)
{
    if (jc->w)
        entra_cancel(jc->w);
    free(jc->json);
    str_buf_free(&jc->body);
    free(jc);
}

static void on_data(struct fetch *f, const char *p, size_t n, void *arg)
{
    struct jsoncall *jc = arg;
    (void)f;

    if (jc->body.len + n <= JSONCALL_MAX)
        str_buf_add(&jc->body, p, n);
}

/* The service's own words: {"error":{"message":...}} as Azure and OpenAI
 * send them. */
static void service_message(cJSON *reply, char *out, size_t n)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(reply, "error"), "message");

    snprintf(out, n, "%s%s", cJSON_IsString(m) ? ": " : "",
             cJSON_IsString(m) ? m->valuestring : "");
}

/* A 429's wait for the client, in whole seconds: Retry-After, else
 * retry-after-ms rounded up (Azure OpenAI sends both, OpenAI may send only
 * the latter); NULL when the service sent neither, or nonsense. */
static const char *retry_after(struct fetch *f, char *buf, size_t n)
{
    const char *s = fetch_header(f, "retry-after");
    const char *ms = fetch_header(f, "retry-after-ms");
    char *end;
    double v;

    if (s && *s)
        return s;
    if (!ms || (v = strtod(ms, &end), end == ms) || v < 0 || v >= 86400000.0)
        return NULL;
    snprintf(buf, n, "%ld", (long)((v + 999.0) / 1000.0));
    return buf;
}

static void on_done(struct fetch *f, const struct fetch_result *res,
                    void *arg)
{
    struct jsoncall *jc = arg;
    cJSON *reply = json_parse(str_buf_cstr(&jc->body), jc->body.len,
                              NULL, 0);
    char msg[600], detail[400], wait[24];
    const char *after = NULL;
    int status = 502;

    if (res->rc == FETCH_OK && reply) {
        jc->cb(jc->arg, reply, 200, NULL, NULL);
        reply = NULL;
    } else {
        if (res->rc == FETCH_OK)
            snprintf(msg, sizeof(msg), "%s sent a reply that is not JSON",
                     jc->what);
        else if (res->rc == FETCH_EHTTP &&
                 (res->status == 401 || res->status == 403))
            snprintf(msg, sizeof(msg), "%s refused this server's credentials"
                                       " (HTTP %d)%s%s",
                     jc->what, res->status,
                     jc->with_token && jc->svc->token_hint ? ": " : "",
                     jc->with_token && jc->svc->token_hint
                         ? jc->svc->token_hint
                         : "");
        else if (res->rc == FETCH_EHTTP && res->status == 429) {
            service_message(reply, detail, sizeof(detail));
            status = 429;
            after = retry_after(f, wait, sizeof(wait));
            snprintf(msg, sizeof(msg), "%s is busy; retry later%s", jc->what,
                     detail);
        } else if (res->rc == FETCH_EHTTP) {
            service_message(reply, detail, sizeof(detail));
            snprintf(msg, sizeof(msg), "%s failed (HTTP %d)%s", jc->what,
                     res->status, detail);
        } else {
            status = res->rc >= FETCH_ETIMEOUT_CONNECT &&
                             res->rc <= FETCH_ETIMEOUT_TOTAL
                         ? 504
                         : 502;
            snprintf(msg, sizeof(msg), "%s %s: %s", jc->what, status == 504 ? "timed out" : "could not be reached", res->msg);
        }
        jc->cb(jc->arg, NULL, status, msg, after);
    }
    cJSON_Delete(reply);
    call_free(jc);
}

static const struct fetch_cbs cbs = { NULL, on_data, on_done };

/* Starts the POST, with "Authorization: Bearer token" when token is set.
 * The body goes to fetch (even when it fails). Returns -1 when the
 * transfer could not start. */
static int send_body(struct jsoncall *jc, const char *token)
{
    char *bearer = NULL;
    const char *headers[] = { "Content-Type: application/json",
                              jc->svc->auth, NULL };
    struct fetch_req req = {
        .method = "POST",
        .url = jc->svc->url,
        .headers = headers,
        .body = jc->json,
        .body_len = strlen(jc->json),
        .body_free = free,
    };

    if (token && asprintf(&bearer, "Authorization: Bearer %s", token) < 0)
        return -1;
    if (bearer)
        headers[1] = bearer;
    jc->with_token = bearer != NULL;
    jc->json = NULL;
    jc->f = fetch_start(&req, &cbs, jc);
    free(bearer);
    return jc->f ? 0 : -1;
}

static void on_token(const char *token, const char *err, void *arg)
{
    struct jsoncall *jc = arg;
    char msg[600];

    jc->w = NULL;
    if (token && send_body(jc, token) == 0)
        return;
    snprintf(msg, sizeof(msg), "%s: %s", jc->what,
             token ? "the call could not be started" : err);
    jc->cb(jc->arg, NULL, 502, msg, NULL);
    call_free(jc);
}

struct jsoncall *jsoncall_start(const struct jsoncall_svc *svc,
                                cJSON *body, jsoncall_cb cb, void *arg)
{
    struct jsoncall *jc = calloc(1, sizeof(*jc));
    char *json = body ? cJSON_PrintUnformatted(body) : NULL;
    const char *token = NULL;

    cJSON_Delete(body);
    if (!jc || !json) {
        free(jc);
        free(json);
        return NULL;
    }
    jc->svc = svc;
    jc->json = json;
    jc->cb = cb;
    jc->arg = arg;
    snprintf(jc->what, sizeof(jc->what), "%s", svc->what);
    if (!svc->auth && svc->entra &&
        !(token = entra_peek(svc->entra, svc->scope))) {
        if ((jc->w = entra_get(svc->entra, svc->scope, on_token, jc)))
            return jc;
    } else if (send_body(jc, token) == 0) {
        return jc;
    }
    call_free(jc);
    return NULL;
}

void jsoncall_cancel(struct jsoncall *jc)
{
    if (jc->f)
        fetch_cancel(jc->f);
    call_free(jc);
}

int jsoncall_svc_url(struct jsoncall_svc *svc, const char *base,
                     const char *path_fmt, ...)
{
    size_t n = str_base_len(base);
    char *path;
    va_list ap;
    int rc;

    va_start(ap, path_fmt);
    rc = vasprintf(&path, path_fmt, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    rc = asprintf(&svc->url, "%.*s%s", (int)n, base, path);
    free(path);
    if (rc < 0)
        svc->url = NULL;
    return rc < 0 ? -1 : 0;
}

void jsoncall_svc_free(struct jsoncall_svc *svc)
{
    free(svc->url);
    free(svc->auth);
}
