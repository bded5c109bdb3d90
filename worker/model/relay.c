/* relay — client request <-> model call plumbing (see relay.h). */
#include "worker/model/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>

#include "common/json.h"

static int is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;

    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

struct cJSON *relay_parse_json(struct http_req *r, int *status,
                               char *msg, size_t msglen)
{
    size_t len;
    const char *body = http_req_body(r, &len);
    char why[96];
    cJSON *root;

    if (!is_json_type(http_req_header(r, "Content-Type"))) {
        *status = 415;
        snprintf(msg, msglen, "Content-Type must be application/json");
        return NULL;
    }
    *status = 400;
    if (len == 0) {
        snprintf(msg, msglen, "request body is empty");
        return NULL;
    }
    /* cJSON copies bytes through: invalid UTF-8 would reach the provider,
     * whose refusal would come back as a 502 instead of the client's 400. */
    if (!json_utf8_valid(body, len)) {
        snprintf(msg, msglen, "request body is not valid UTF-8");
        return NULL;
    }
    if (!(root = json_parse(body, len, why, sizeof(why)))) {
        snprintf(msg, msglen, "request body is %s", why);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(msg, msglen, "request body must be a JSON object");
        return NULL;
    }
    return root;
}

static void on_close(struct http_req *r, void *arg)
{
    struct relay *rl = arg;
    (void)r;

    rl->gone = 1;
    if (rl->call) {
        model_cancel(rl->call);
        rl->call = NULL;
    }
    relay_finish(rl);
}

void relay_init(struct relay *rl, struct http_req *req,
                void (*destroy)(struct relay *rl))
{
    memset(rl, 0, sizeof(*rl));
    rl->req = req;
    rl->destroy = destroy;
    http_req_on_close(req, on_close, rl);
}

void relay_finish(struct relay *rl)
{
    if (!rl->ended) {
        rl->ended = 1;
        if (rl->started)
            http_resp_end(rl->req);
    }
    if (!rl->call)
        rl->destroy(rl);
}

static void on_drain(struct http_req *r, void *arg)
{
    struct relay *rl = arg;
    (void)r;

    rl->paused = 0;
    if (rl->call)
        model_resume(rl->call);
}

int relay_write(struct relay *rl, const void *p, size_t n)
{
    int rc = http_resp_write(rl->req, p, n);

    if (rc == 1 && !rl->paused && rl->call) {
        rl->paused = 1;
        model_pause(rl->call);
        http_resp_on_drain(rl->req, on_drain, rl);
    }
    return rc < 0 ? -1 : 0;
}

void relay_write_line(struct relay *rl, struct str_buf *scratch,
                      const char *pre, const char *s, size_t len,
                      const char *post)
{
    char line[2048];
    size_t np = strlen(pre), nq = strlen(post), ne;

    if (np + nq < sizeof(line) &&
        (ne = json_esc(line + np, sizeof(line) - np - nq, s, len)) != (size_t)-1) {
        memcpy(line, pre, np);
        memcpy(line + np + ne, post, nq);
        relay_write(rl, line, np + ne + nq);
        return;
    }
    str_buf_add(scratch, pre, np);
    json_esc_append(scratch, s, len);
    str_buf_add(scratch, post, nq);
    if (!scratch->oom)
        relay_write(rl, scratch->p, scratch->len);
    str_buf_reset(scratch);
}

int relay_collect(struct relay *rl, const char *p, size_t n)
{
    if (rl->body_nul)
        return -1;
    if (rl->body.len + n > RELAY_BODY_MAX) {
        rl->overflow = 1;
        return -1;
    }
    return str_buf_add(&rl->body, p, n);
}

const char *relay_body(struct relay *rl, size_t *len)
{
    /* NUL-terminated for the caller's convenience; nothing is added
     * after this. */
    rl->body_nul = 1;
    *len = rl->body.len;
    return str_buf_cstr(&rl->body);
}

/* The upstream's own error message, code and param, from its JSON error
 * body: the code and param go into e. */
static void upstream_detail(struct relay *rl, char *msg, size_t n,
                            struct relay_error *e)
{
    size_t len;
    const char *body = relay_body(rl, &len);
    cJSON *root = cJSON_ParseWithLength(body, len);
    cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
    cJSON *c = cJSON_GetObjectItemCaseSensitive(err, "code");
    cJSON *p = cJSON_GetObjectItemCaseSensitive(err, "param");

    msg[0] = '\0';
    if (cJSON_IsString(m))
        snprintf(msg, n, "%s", m->valuestring);
    if (cJSON_IsString(c))
        snprintf(e->code_buf, sizeof(e->code_buf), "%s", c->valuestring);
    if (cJSON_IsString(p))
        snprintf(e->param, sizeof(e->param), "%s", p->valuestring);
    cJSON_Delete(root);
}

/* The client's Retry-After: the upstream's, else its retry-after-ms
 * rounded up to whole seconds (OpenAI may send only the latter); and
 * retry-after-ms itself when it is a number, which the SDKs prefer. */
static void retry_after(struct relay *rl, struct relay_error *e)
{
    const char *ms;
    char *end;
    double v;

    if (!rl->call)
        return;
    e->retry_after = model_header(rl->call, "retry-after");
    ms = model_header(rl->call, "retry-after-ms");
    if (ms == NULL || (v = strtod(ms, &end), end == ms) || v < 0 ||
        v >= 86400000.0)
        return;
    if (*end == '\0')
        e->retry_after_ms = ms;
    if (e->retry_after == NULL) {
        snprintf(e->retry_buf, sizeof(e->retry_buf), "%ld",
                 (long)((v + 999.0) / 1000.0));
        e->retry_after = e->retry_buf;
    }
}

static void http_failure(struct relay *rl, int status, struct relay_error *e)
{
    char up[400];
    const char *code = e->code_buf;

    upstream_detail(rl, up, sizeof(up), e);
    e->type = "upstream_error";
    e->code = "upstream_error";
    if (status == 429) {
        e->status = 429;
        e->type = "requests";
        e->code = "rate_limit_exceeded";
        retry_after(rl, e);
        snprintf(e->msg, sizeof(e->msg), "the model is busy; retry later%s%s",
                 up[0] ? ": " : "", up);
    } else if (status == 400 && strcmp(code, "content_filter") == 0) {
        e->status = 400;
        e->type = "invalid_request_error";
        e->code = "content_filter";
        snprintf(e->msg, sizeof(e->msg), "%s", up[0] ? up : "the content was filtered by the model provider");
    } else if (status == 401 || status == 403) {
        /* Never pass the provider's text on: it may quote the key. */
        e->status = 502;
        e->code = "upstream_auth";
        snprintf(e->msg, sizeof(e->msg),
                 "the model provider refused this server's credentials "
                 "(HTTP %d)",
                 status);
    } else if (status == 400) {
        e->status = 400;
        e->type = "invalid_request_error";
        /* The SDKs' users branch on it (context_length_exceeded, ...). */
        e->code = code[0] ? code : "bad_request";
        snprintf(e->msg, sizeof(e->msg), "the model provider rejected the "
                                         "request%s%s",
                 up[0] ? ": " : "", up);
    } else {
        e->status = 502;
        snprintf(e->msg, sizeof(e->msg), "the model provider failed (HTTP "
                                         "%d)%s%s",
                 status, up[0] ? ": " : "", up);
    }
    if (e->status != 400)
        e->param[0] = '\0'; /* it names a field of the client's request */
}

int relay_error(struct relay *rl, const struct fetch_result *res,
                struct relay_error *e)
{
    memset(e, 0, sizeof(*e));
    switch (res->rc) {
    case FETCH_OK:
        if (!rl->overflow)
            return 0;
        /* A cut answer is not an answer: never pass on part of it. */
        e->status = 502;
        e->type = "upstream_error";
        e->code = "upstream_too_large";
        snprintf(e->msg, sizeof(e->msg), "the model's answer is larger "
                                         "than this server takes (%d MiB)",
                 RELAY_BODY_MAX >> 20);
        return 1;
    case FETCH_EHTTP:
        http_failure(rl, res->status, e);
        return 1;
    case FETCH_ECONNECT:
        e->status = 502;
        e->code = "upstream_unreachable";
        break;
    case FETCH_ETIMEOUT_CONNECT:
    case FETCH_ETIMEOUT_FIRST_BYTE:
    case FETCH_ETIMEOUT_IDLE:
    case FETCH_ETIMEOUT_TOTAL:
        e->status = 504;
        e->code = "upstream_timeout";
        break;
    default:
        e->status = 502;
        break;
    }
    if (!e->code)
        e->code = "upstream_error";
    e->type = "upstream_error";
    snprintf(e->msg, sizeof(e->msg), "the model provider %s: %s",
             e->status == 504 ? "timed out" : "could not be reached",
             res->msg);
    if (res->rc == FETCH_ERECV || res->rc == FETCH_EINVAL)
        snprintf(e->msg, sizeof(e->msg), "the model call failed: %s", res->msg);
    return 1;
}

void relay_free(struct relay *rl)
{
    str_buf_free(&rl->body);
}
