/*
 * api.c — one chat-completions request: route (OpenAI / Azure URL shapes),
 * api-version, auth, the controls (x-mock-* headers, query parameters,
 * the body's directive), request validation, then a job
 * (jobs.c) or an injected error (faults.c). Runs once per request; the JSON
 * body is parsed here once and dropped before the job starts.
 */
#include "tests/mock/mock.h"
#include "tests/mock/token.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define DEFAULT_MODEL "gpt-4o-mini"

struct route {
    enum flavour fl;
    int needs_model;   /* OpenAI and Azure v1 take the model in the body */
    int needs_version; /* Azure deployments need ?api-version= */
    int responses;     /* the Responses API (tests/mock/responses.c) */
    char deployment[128];
};

struct controls {
    int tokens, delay_ms, ttft_ms;
    long fail_count;
    const char *fault_key;
    struct fault fault;
};

static int route_match(const char *path, struct route *r)
{
    static const char dep[] = "/openai/deployments/";
    static const char tail[] = "/chat/completions";
    const char *name, *slash;

    memset(r, 0, sizeof *r);
    r->responses = !strcmp(path, "/v1/responses") ||
                   !strcmp(path, "/responses") ||
                   !strcmp(path, "/openai/v1/responses");
    if (r->responses) {
        r->fl = path[1] == 'o' ? FL_AZURE : FL_OPENAI;
        r->needs_model = 1;
        return 0;
    }
    if (!strcmp(path, "/v1/chat/completions") ||
        !strcmp(path, "/chat/completions")) {
        r->fl = FL_OPENAI;
        r->needs_model = 1;
        return 0;
    }
    r->fl = FL_AZURE;
    if (!strcmp(path, "/openai/v1/chat/completions")) {
        r->needs_model = 1;
        return 0;
    }
    if (strncmp(path, dep, sizeof dep - 1))
        return -1;
    name = path + sizeof dep - 1;
    slash = strchr(name, '/');
    if (!slash || slash == name || strcmp(slash, tail) ||
        (size_t)(slash - name) >= sizeof r->deployment)
        return -1;
    memcpy(r->deployment, name, (size_t)(slash - name));
    r->needs_version = 1;
    return 0;
}

static void not_found(struct evhttp_request *req, const char *path)
{
    char msg[300];

    if (!strncmp(path, "/openai/", 8)) {
        error_reply(req, FL_AZURE, 404, "Resource not found", NULL, NULL,
                    NULL);
        return;
    }
    snprintf(msg, sizeof msg, "Invalid URL (%s %.200s)",
             evhttp_request_get_command(req) == EVHTTP_REQ_POST
                 ? "POST"
                 : "GET",
             path);
    error_reply(req, FL_OPENAI, 404, msg, "invalid_request_error", NULL,
                NULL);
}

/* What OpenAI shows of a wrong key: a prefix, stars, the last 4. */
static void mask_key(const char *key, char *out, size_t cap)
{
    size_t len = strnlen(key, cap - 1), i;

    for (i = 0; i < len; i++)
        out[i] = (len > 8 && (i < 3 || i >= len - 4)) ? key[i] : '*';
    out[i] = '\0';
}

static int key_ok(const char *key, const char *const *keys, int nkeys)
{
    for (int i = 0; i < nkeys; i++)
        if (key && !strcmp(key, keys[i]))
            return 1;
    return nkeys == 0;
}

/* 0 when allowed; otherwise the 401 has been sent. */
static int auth(struct evhttp_request *req, enum flavour fl,
                const char *const *keys, int nkeys)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *authz = evhttp_find_header(h, "Authorization");
    const char *api_key = fl == FL_AZURE
                              ? evhttp_find_header(h, "api-key")
                              : NULL;
    const char *bearer = authz && !strncasecmp(authz, "Bearer ", 7)
                             ? authz + 7
                             : NULL;
    char msg[400], masked[160];

    if (token_required())
        return token_auth(req);
    if (key_ok(api_key ? api_key : bearer, keys, nkeys))
        return 0;
    if (fl == FL_AZURE && !api_key && bearer)
        error_reply(req, fl, 401, "Unauthorized. Access token is missing, "
                                  "invalid, audience is incorrect "
                                  "(https://cognitiveservices.azure.com), or have expired.",
                    NULL, NULL, NULL);
    else if (fl == FL_AZURE)
        error_reply(req, fl, 401, "Access denied due to invalid subscription "
                                  "key or wrong API endpoint. Make sure to provide a valid "
                                  "key for an active subscription and use a correct "
                                  "regional API endpoint for your resource.",
                    NULL, NULL, NULL);
    else if (!bearer)
        error_reply(req, fl, 401, "You didn't provide an API key. You need to "
                                  "provide your API key in an Authorization header using "
                                  "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as "
                                  "the password field (i.e. YOUR_KEY) when using HTTP Basic "
                                  "Auth. You can obtain an API key from "
                                  "https://platform.openai.com/account/api-keys.",
                    "invalid_request_error", NULL, NULL);
    else {
        mask_key(bearer, masked, sizeof masked);
        snprintf(msg, sizeof msg, "Incorrect API key provided: %s. You can "
                                  "find your API key at "
                                  "https://platform.openai.com/account/api-keys.",
                 masked);
        error_reply(req, fl, 401, msg, "invalid_request_error", NULL,
                    "invalid_api_key");
    }
    return -1;
}

/* A control's value: header, else query parameter, else body directive. */
static const char *control(struct evhttp_request *req, struct evkeyvalq *q,
                           const struct directive *d, const char *header,
                           const char *param)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       header);

    if (!v)
        v = evhttp_find_header(q, param);
    return v ? v : directive_get(d, param);
}

/* Sets *out from the control if present. Returns 0, or -1 if malformed. */
static int control_int(const char *v, long max, long *out)
{
    char *end;
    long n;

    if (!v)
        return 0;
    n = strtol(v, &end, 10);
    if (end == v || *end || n < 0 || n > max)
        return -1;
    *out = n;
    return 0;
}

static int controls_read(struct evhttp_request *req, struct evkeyvalq *q,
                         const struct directive *d, struct controls *c)
{
    long tokens = mock_opts.tokens, delay = mock_opts.delay_ms;
    long ttft = mock_opts.ttft_ms;
    const char *fault = control(req, q, d, "x-mock-fault", "fault");

    c->fail_count = -1;
    c->fault_key = control(req, q, d, "x-mock-fault-key", "fault_key");
    if (!c->fault_key)
        c->fault_key = "";
    if (control_int(control(req, q, d, "x-mock-tokens", "tokens"), 1000000,
                    &tokens) ||
        control_int(control(req, q, d, "x-mock-delay-ms", "delay_ms"), 600000,
                    &delay) ||
        control_int(control(req, q, d, "x-mock-ttft-ms", "ttft_ms"), 600000,
                    &ttft) ||
        control_int(control(req, q, d, "x-mock-fail-count", "fail_count"),
                    1000000000, &c->fail_count) ||
        fault_parse(fault ? fault : mock_opts.fault, &c->fault))
        return -1;
    c->tokens = (int)tokens;
    c->delay_ms = (int)delay;
    c->ttft_ms = (int)ttft;
    return 0;
}

static int count_words(const char *s)
{
    int n = 0, in = 0;

    for (; *s; s++) {
        int sp = isspace((unsigned char)*s);

        n += !sp && !in;
        in = !sp;
    }
    return n;
}

/* Words in every message's text: a string content or text parts. */
static int prompt_words(const cJSON *messages)
{
    const cJSON *m, *part;
    int n = 0;

    cJSON_ArrayForEach(m, messages)
    {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        const cJSON *parts = cJSON_IsArray(content) ? content : NULL;

        if (cJSON_IsString(content))
            n += count_words(content->valuestring);
        cJSON_ArrayForEach(part, parts)
        {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");

            if (cJSON_IsString(t))
                n += count_words(t->valuestring);
        }
    }
    return n;
}

static int fault_default_after(const struct fault *f, int tokens)
{
    if (f->after >= 0)
        return f->after < tokens ? f->after : tokens;
    return f->kind == FAULT_STALL ? 0 : tokens / 2;
}

static void job_fill(struct job *j, const cJSON *body, const struct route *r,
                     const struct controls *c)
{
    static unsigned long seq;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(body,
                                                        "max_completion_tokens");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(body,
                                                         "stream_options");

    if (!cJSON_IsNumber(max))
        max = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    if (r->responses)
        max = cJSON_GetObjectItemCaseSensitive(body, "max_output_tokens");
    j->responses = r->responses;
    j->fl = r->fl;
    j->fault = c->fault;
    j->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
    j->include_usage = j->stream && cJSON_IsTrue(
                                        cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
    j->obfuscate = r->fl == FL_OPENAI && !cJSON_IsFalse(
                                             cJSON_GetObjectItemCaseSensitive(opts, "include_obfuscation"));
    j->tokens = c->tokens;
    if (cJSON_IsNumber(max) && max->valuedouble >= 0 &&
        max->valuedouble < j->tokens) {
        j->tokens = (int)max->valuedouble;
        j->length_cut = 1;
    }
    j->fault.after = fault_default_after(&c->fault, j->tokens);
    j->delay_ms = c->delay_ms;
    j->ttft_ms = c->ttft_ms;
    j->prompt_tokens = prompt_words(
        cJSON_GetObjectItemCaseSensitive(body, "messages"));
    j->created = time(NULL);
    snprintf(j->id, sizeof j->id, "chatcmpl-mock%08lx%012lx",
             (unsigned long)j->created & 0xffffffffUL, ++seq);
    json_escape(j->model, sizeof j->model, cJSON_IsString(model) ? model->valuestring : r->deployment[0] ? r->deployment
                                                                                                         : DEFAULT_MODEL);
}

/* Reasoning models (o1, o3, o4-mini, gpt-5 ...; gpt-5-chat is not one),
 * by the model's name or, on Azure, the deployment's. */
static int reasoning_model(const char *name)
{
    static const char *const families[] = { "o1", "o3", "o4", "gpt-5" };

    if (!strncmp(name, "gpt-5-chat", 10))
        return 0;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (!strncmp(name, families[i], strlen(families[i])))
            return 1;
    return 0;
}

/* As OpenAI and Azure OpenAI refuse a reasoning model's max_tokens and
 * any temperature but 1: 400 in OpenAI's shape, on Azure too, with param
 * and code. 0 if the body has neither. */
static int reasoning_refusal(struct evhttp_request *req, const char *name,
                             const cJSON *body)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "temperature");
    char msg[200];

    if (!reasoning_model(name))
        return 0;
    if (cJSON_GetObjectItemCaseSensitive(body, "max_tokens")) {
        error_reply(req, FL_OPENAI, 400, "Unsupported parameter: 'max_tokens'"
                                         " is not supported with this model. Use "
                                         "'max_completion_tokens' instead.",
                    "invalid_request_error",
                    "max_tokens", "unsupported_parameter");
        return -1;
    }
    if (cJSON_IsNumber(t) && t->valuedouble != 1) {
        snprintf(msg, sizeof msg, "Unsupported value: 'temperature' does not "
                                  "support %g with this model. Only the default (1) value is "
                                  "supported.",
                 t->valuedouble);
        error_reply(req, FL_OPENAI, 400, msg, "invalid_request_error",
                    "temperature", "unsupported_value");
        return -1;
    }
    return 0;
}

/* 0 if the body is a usable request; otherwise the 400 has been sent. */
static int validate(struct evhttp_request *req, const struct route *r,
                    const cJSON *body)
{
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(body, "messages");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");

    if (!cJSON_IsObject(body)) {
        error_reply(req, r->fl, 400, "We could not parse the JSON body of "
                                     "your request. (HINT: This likely means you aren't using "
                                     "your HTTP library correctly. The OpenAI API expects a "
                                     "JSON payload, but what was sent was not valid JSON.)",
                    "invalid_request_error", NULL, NULL);
        return -1;
    }
    if (!cJSON_IsArray(messages) || !cJSON_GetArraySize(messages)) {
        const char *what = r->responses ? "input" : "messages";
        char msg[80];

        snprintf(msg, sizeof msg, "Missing required parameter: '%s'.", what);
        error_reply(req, r->fl, 400, msg, "invalid_request_error", what,
                    "missing_required_parameter");
        return -1;
    }
    if (r->needs_model && !cJSON_IsString(model)) {
        error_reply(req, r->fl, 400, "you must provide a model parameter",
                    "invalid_request_error", NULL, NULL);
        return -1;
    }
    return reasoning_refusal(req, cJSON_IsString(model) ? model->valuestring : r->deployment, body);
}

static const char *model_of(const cJSON *body, const struct route *r)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "model");

    return cJSON_IsString(m) ? m->valuestring : r->deployment;
}

/* The Responses API's input, seen as the chat messages it stands for
 * (a string is one user message; items have role and content), so the
 * directive, the prompt's words and the checks read it as they read
 * messages. The messages are the input's own items (a reference). */
static void input_as_messages(cJSON *body)
{
    cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input"), *m, *a;

    if (!cJSON_IsObject(body) ||
        cJSON_GetObjectItemCaseSensitive(body, "messages"))
        return;
    if (cJSON_IsArray(input)) {
        cJSON_AddItemReferenceToObject(body, "messages", input);
    } else if (cJSON_IsString(input) && (a = cJSON_AddArrayToObject(body, "messages")) && (m = cJSON_CreateObject())) {
        cJSON_AddItemToArray(a, m);
        cJSON_AddStringToObject(m, "role", "user");
        cJSON_AddStringToObject(m, "content", input->valuestring);
    }
}

/* After routing and auth: body, controls, faults, then the job. The body
 * is parsed first because it may carry a directive. */
static void serve(struct evhttp_request *req, const struct route *r,
                  struct evkeyvalq *q, const char *raw, size_t len)
{
    cJSON *body = cJSON_ParseWithLength(raw, len);
    struct directive d;
    struct controls c;
    struct job *j;

    if (r->responses)
        input_as_messages(body);

    if (directive_parse(body, &d) || controls_read(req, q, &d, &c)) {
        error_reply(req, r->fl, 400, "llmfork-mock: bad x-mock-* control",
                    "invalid_request_error", NULL, NULL);
        cJSON_Delete(body);
        return;
    }
    if (c.fault.kind != FAULT_NONE && !fault_due(c.fault_key, c.fail_count))
        c.fault.kind = FAULT_NONE;
    if (c.fault.kind != FAULT_NONE)
        mock_stats.faults++;
    if (c.fault.kind == FAULT_EVENT &&
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"))) {
        c.fault.kind = FAULT_STATUS; /* no stream to put it in */
        c.fault.status = 500;
    }
    if (c.fault.kind == FAULT_STATUS || c.fault.kind == FAULT_FILTER) {
        fault_reply(req, r->fl, &c.fault);
    } else if (validate(req, r, body) == 0) {
        if ((j = calloc(1, sizeof *j))) {
            j->req = req;
            job_fill(j, body, r, &c);
            /* a tool call comes after ttft_ms, as the words would */
            if ((j->whole = tools_reply(body, &d, model_of(body, r))))
                j->tokens = 0;
            if (j->whole) {
                job_start(j);
            } else if (!r->responses &&
                       script_fill(j, body, control(req, q, &d, "x-mock-reasoning", "reasoning")) < 0) {
                error_reply(req, r->fl, 400, "llmfork-mock: bad "
                                             "x-mock-reasoning",
                            "invalid_request_error",
                            NULL, NULL);
                free(j);
            } else {
                job_start(j);
            }
        } else {
            evhttp_send_error(req, 500, NULL);
        }
    }
    cJSON_Delete(body);
}

void api_handle(struct evhttp_request *req, const char *path,
                const char *query, const char *const *keys, int nkeys)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *raw = len ? (const char *)evbuffer_pullup(in, -1) : "";
    struct evkeyvalq q;
    struct route r;

    stats_record(req, path, query, raw ? raw : "", raw ? len : 0);
    if (route_match(path, &r)) {
        not_found(req, path);
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        error_reply(req, r.fl, 405, "Method not allowed",
                    "invalid_request_error", NULL, NULL);
        return;
    }
    if (evhttp_parse_query_str(query, &q)) {
        error_reply(req, r.fl, 400, "Malformed query string",
                    "invalid_request_error", NULL, NULL);
        return;
    }
    if (r.needs_version && !evhttp_find_header(&q, "api-version"))
        error_reply(req, r.fl, 404, "Resource not found", NULL, NULL, NULL);
    else if (auth(req, r.fl, keys, nkeys) == 0)
        serve(req, &r, &q, raw ? raw : "", raw ? len : 0);
    evhttp_clear_headers(&q);
}
