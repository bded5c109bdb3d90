/*
 * token.c — Entra ID token endpoints of the mock (see token.h).
 */
#include "tests/mock/token.h"
#include "tests/mock/mock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#define TOKENS_MAX 4096
#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

static struct {
    int require, ttl, fail, delay_ms;
    char secret[128];
    char only[96]; /* fail and delay only these scopes */
} opt = { 0, 3600, 0, 0, "", "" };

static struct issued {
    char token[48];
    char aud[96];
    long long exp_ms;
} issued[TOKENS_MAX];
static long n_requests, n_issued, n_refused;
static cJSON *last;

/* An answer held for delay_ms. */
struct later {
    struct event *ev;
    struct evhttp_request *req;
    struct evhttp_connection *con;
    int status;
    char *body;
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int token_config(const char *spec)
{
    char buf[256], *save = NULL;

    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
        return -1;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "require"))
            opt.require = 1;
        else if (!strncmp(t, "ttl=", 4) && atoi(t + 4) > 0)
            opt.ttl = atoi(t + 4);
        else if (!strncmp(t, "fail=", 5) && atoi(t + 5) >= 400)
            opt.fail = atoi(t + 5);
        else if (!strncmp(t, "delay_ms=", 9) && atoi(t + 9) >= 0)
            opt.delay_ms = atoi(t + 9);
        else if (!strncmp(t, "secret=", 7) && t[7])
            snprintf(opt.secret, sizeof opt.secret, "%s", t + 7);
        else if (!strncmp(t, "only=", 5) && t[5])
            snprintf(opt.only, sizeof opt.only, "%s", t + 5);
        else
            return -1;
    }
    return 0;
}

int token_required(void)
{
    return opt.require;
}

static void send_now(struct evhttp_request *req, int status, const char *body)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json; charset=utf-8");
    evbuffer_add(out, body, strlen(body));
    evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", NULL);
}

static void later_free(struct later *l)
{
    evhttp_connection_set_closecb(l->con, NULL, NULL);
    event_free(l->ev);
    free(l->body);
    free(l);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    struct later *l = arg;
    (void)fd, (void)what;

    send_now(l->req, l->status, l->body);
    later_free(l);
}

static void on_later_close(struct evhttp_connection *con, void *arg)
{
    struct later *l = arg;
    (void)con;

    if (evhttp_request_get_connection(l->req) == NULL)
        evhttp_request_free(l->req);
    later_free(l);
}

/* Sends body (taken), after delay_ms when set. */
static void answer(struct evhttp_request *req, int status, char *body,
                   int delay_ms)
{
    struct evhttp_connection *con = evhttp_request_get_connection(req);
    struct later *l = delay_ms && body ? calloc(1, sizeof *l) : NULL;

    if (!body) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    if (l && (l->ev = evtimer_new(evhttp_connection_get_base(con), on_later,
                                  l))) {
        struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
        *l = (struct later){ l->ev, req, con, status, body };
        evhttp_connection_set_closecb(con, on_later_close, l);
        evtimer_add(l->ev, &tv);
        return;
    }
    free(l);
    send_now(req, status, body);
    free(body);
}

static char *aad_error(int status, const char *code, const char *desc)
{
    cJSON *o = cJSON_CreateObject();
    char *s;

    cJSON_AddStringToObject(o, "error", code);
    cJSON_AddStringToObject(o, "error_description", desc);
    cJSON_AddItemToObject(o, "error_codes", cJSON_CreateIntArray(&status, 1));
    cJSON_AddStringToObject(o, "trace_id", "00000000-0000-0000-0000-000000000000");
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* A new token for aud (a scope's "/.default" dropped). */
static const char *issue(const char *aud, long long *exp_ms)
{
    struct issued *t = &issued[n_issued % TOKENS_MAX];
    size_t n = strlen(aud);

    if (n > 9 && !strcmp(aud + n - 9, "/.default"))
        n -= 9;
    snprintf(t->token, sizeof t->token, "mock-entra-%ld-%lld", ++n_issued,
             now_ms() % 100000);
    snprintf(t->aud, sizeof t->aud, "%.*s", (int)n, aud);
    t->exp_ms = now_ms() + (long long)opt.ttl * 1000;
    *exp_ms = t->exp_ms;
    return t->token;
}

static void record(struct evhttp_request *req, const char *path,
                   const char *query, struct evkeyvalq *form)
{
    struct evkeyval *kv;
    cJSON *h = cJSON_CreateObject(), *f = cJSON_CreateObject();

    cJSON_Delete(last);
    last = cJSON_CreateObject();
    cJSON_AddStringToObject(last, "method", evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET");
    cJSON_AddStringToObject(last, "path", path);
    cJSON_AddStringToObject(last, "query", query);
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
    {
        char name[128];
        size_t i;
        for (i = 0; i < sizeof name - 1 && kv->key[i]; i++)
            name[i] = (char)tolower((unsigned char)kv->key[i]);
        name[i] = '\0';
        cJSON_AddStringToObject(h, name, kv->value);
    }
    TAILQ_FOREACH(kv, form, next)
    cJSON_AddStringToObject(f, kv->key, kv->value);
    cJSON_AddItemToObject(last, "headers", h);
    cJSON_AddItemToObject(last, "form", f);
}

static char *aad_token(struct evkeyvalq *form)
{
    const char *grant = evhttp_find_header(form, "grant_type");
    const char *client = evhttp_find_header(form, "client_id");
    const char *scope = evhttp_find_header(form, "scope");
    const char *secret = evhttp_find_header(form, "client_secret");
    const char *atype = evhttp_find_header(form, "client_assertion_type");
    const char *assertion = evhttp_find_header(form, "client_assertion");
    long long exp;
    char *s;

    if (!grant || strcmp(grant, "client_credentials") || !client || !*client ||
        !scope || !*scope)
        return NULL;
    if (secret ? (!*secret || (opt.secret[0] && strcmp(secret, opt.secret)))
               : (!atype || strcmp(atype, JWT_BEARER) || !assertion ||
                  !*assertion))
        return NULL;
    const char *tok = issue(scope, &exp);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "token_type", "Bearer");
    cJSON_AddNumberToObject(o, "expires_in", opt.ttl);
    cJSON_AddNumberToObject(o, "ext_expires_in", opt.ttl);
    cJSON_AddStringToObject(o, "access_token", tok);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* App Service (app = 1) or IMDS: expires_* as strings, as they send them. */
static char *mi_token(struct evhttp_request *req, struct evkeyvalq *q, int app)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *ver = evhttp_find_header(q, "api-version");
    const char *res = evhttp_find_header(q, "resource");
    const char *hv = evhttp_find_header(h, app ? "X-IDENTITY-HEADER"
                                               : "Metadata");
    char num[32];
    long long exp;
    char *s;

    if (!ver || strcmp(ver, app ? "2019-08-01" : "2018-02-01") || !res ||
        !*res || !hv || (app ? !*hv : strcmp(hv, "true")))
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "access_token", issue(res, &exp));
    snprintf(num, sizeof num, "%lld", exp / 1000);
    cJSON_AddStringToObject(o, "expires_on", num);
    if (!app) {
        snprintf(num, sizeof num, "%d", opt.ttl);
        cJSON_AddStringToObject(o, "expires_in", num);
        cJSON_AddStringToObject(o, "ext_expires_in", num);
    }
    cJSON_AddStringToObject(o, "resource", res);
    cJSON_AddStringToObject(o, "token_type", "Bearer");
    cJSON_AddStringToObject(o, "client_id", "mock-managed-identity");
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* {audience: tokens issued for it}, over the table's last TOKENS_MAX;
 * latest: {audience: the last token issued for it}. */
static cJSON *issued_for(cJSON *latest)
{
    cJSON *o = cJSON_CreateObject(), *n;

    for (int i = 0; i < TOKENS_MAX && i < n_issued; i++) {
        if ((n = cJSON_GetObjectItemCaseSensitive(o, issued[i].aud)))
            cJSON_SetNumberValue(n, n->valuedouble + 1);
        else
            cJSON_AddNumberToObject(o, issued[i].aud, 1);
    }
    for (long k = n_issued - 1; k >= 0 && k > n_issued - 1 - TOKENS_MAX; k--) {
        const struct issued *t = &issued[k % TOKENS_MAX];

        if (!cJSON_GetObjectItemCaseSensitive(latest, t->aud))
            cJSON_AddStringToObject(latest, t->aud, t->token);
    }
    return o;
}

static void stats(struct evhttp_request *req)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "requests", (double)n_requests);
    cJSON_AddNumberToObject(o, "issued", (double)n_issued);
    cJSON_AddNumberToObject(o, "refused", (double)n_refused);
    cJSON_AddItemToObject(o, "last", last ? cJSON_Duplicate(last, 1) : cJSON_CreateNull());
    cJSON *latest = cJSON_CreateObject();

    cJSON_AddItemToObject(o, "issued_for", issued_for(latest));
    cJSON_AddItemToObject(o, "latest", latest);
    char *body = cJSON_PrintUnformatted(o);

    cJSON_Delete(o);
    if (body)
        send_now(req, 200, body);
    else
        evhttp_send_error(req, 500, "out of memory");
    free(body);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

int token_route(struct evhttp_request *req, const char *path,
                const char *query)
{
    int aad = ends_with(path, "/oauth2/v2.0/token");
    int app = !strcmp(path, "/msi/token");
    int imds = !strcmp(path, "/metadata/identity/oauth2/token");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    struct evkeyvalq q, form;
    const char *scope;
    char *body = NULL, *raw;
    size_t len;
    int hit, delay;

    if (!strcmp(path, "/_mock/tokens")) {
        stats(req);
        return 0;
    }
    if (!aad && !app && !imds)
        return -1;
    n_requests++;
    len = evbuffer_get_length(in);
    raw = strndup(len ? (const char *)evbuffer_pullup(in, -1) : "", len);
    TAILQ_INIT(&q);
    TAILQ_INIT(&form);
    evhttp_parse_query_str(query, &q);
    if (aad && raw)
        evhttp_parse_query_str(raw, &form);
    record(req, path, query, aad ? &form : &q);
    scope = evhttp_find_header(aad ? &form : &q, aad ? "scope" : "resource");
    hit = !opt.only[0] || (scope && strstr(scope, opt.only));
    delay = hit ? opt.delay_ms : 0;
    if (opt.fail && hit)
        answer(req, opt.fail, aad_error(opt.fail, "temporarily_unavailable", "AADSTS50000: llmfork-mock was told to fail token requests."),
               delay);
    else if (aad && !(body = aad_token(&form)))
        answer(req, 401, aad_error(7000215, "invalid_client", "AADSTS7000215:"
                                                              " Invalid client secret provided, or the request is not a "
                                                              "client credentials request this mock accepts."),
               delay);
    else if (!aad && !(body = mi_token(req, &q, app)))
        answer(req, 400, aad_error(400, "invalid_request", "Required metadata"
                                                           " header, api-version or resource missing or wrong."),
               delay);
    else
        answer(req, 200, body, delay);
    evhttp_clear_headers(&q);
    evhttp_clear_headers(&form);
    free(raw);
    return 0;
}

int token_check(struct evhttp_request *req, const char *aud)
{
    const char *a = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       "Authorization");
    long long now = now_ms();

    if (a && !strncasecmp(a, "Bearer ", 7))
        for (int i = 0; i < TOKENS_MAX && i < n_issued; i++)
            if (!strcmp(issued[i].token, a + 7) &&
                !strcmp(issued[i].aud, aud) && now < issued[i].exp_ms)
                return 0;
    n_refused++;
    return -1;
}

int token_auth(struct evhttp_request *req)
{
    if (token_check(req, TOKEN_AUD_COGNITIVE) == 0)
        return 0;
    error_reply(req, FL_AZURE, 401, "Unauthorized. Access token is missing, "
                                    "invalid, audience is incorrect "
                                    "(" TOKEN_AUD_COGNITIVE "), or have expired.",
                NULL, NULL, NULL);
    return -1;
}
