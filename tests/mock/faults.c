/*
 * faults.c — parsing x-mock-fault, the fail-count table, and the error
 * replies in each service's shape (OpenAI: {"error":{message,type,param,
 * code}}; Azure: {"error":{code,message}}, with the content filter's
 * OpenAI-like body as Azure sends it).
 */
#include "tests/mock/mock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct seen {
    struct seen *next;
    long n;
    char key[];
};

static struct seen *seen_keys;

struct known_error {
    int status;
    const char *oa_message, *oa_type, *oa_code;
    const char *az_code, *az_message;
};

static const struct known_error known[] = {
    { 401, "Incorrect API key provided: mock-fault. You can find your API "
           "key at https://platform.openai.com/account/api-keys.",
      "invalid_request_error", "invalid_api_key",
      "401", "Access denied due to invalid subscription key or wrong API "
             "endpoint. Make sure to provide a valid key for an active "
             "subscription and use a correct regional API endpoint for your "
             "resource." },
    { 404, "The model does not exist or you do not have access to it.",
      "invalid_request_error", "model_not_found",
      "DeploymentNotFound", "The API deployment for this resource does not "
                            "exist. If you created the deployment within the last 5 "
                            "minutes, please wait a moment and try again." },
    { 429, "Rate limit reached for requests. Please try again later.",
      "requests", "rate_limit_exceeded",
      "429", "Requests to the ChatCompletions_Create Operation under Azure "
             "OpenAI API version 2024-10-21 have exceeded call rate limit of "
             "your current OpenAI S0 pricing tier. Please retry after 1 "
             "second. Please go here: https://aka.ms/oai/quotaincrease if you "
             "would like to further increase the default rate limit." },
    { 500, "The server had an error while processing your request. Sorry "
           "about that!",
      "server_error", NULL,
      "InternalServerError", "Backend returned unexpected response. Please "
                             "contact Microsoft for help." },
    { 503, "The engine is currently overloaded, please try again later.",
      "server_error", NULL,
      "ServiceUnavailable", "The service is temporarily unable to process "
                            "your request. Please try again later." },
};

static const char filter_body[] =
    "{\"error\":{\"message\":\"The response was filtered due to the prompt "
    "triggering Azure OpenAI's content management policy. Please modify "
    "your prompt and retry. To learn more about our content filtering "
    "policies please read our documentation: "
    "https://go.microsoft.com/fwlink/?linkid=2198766\",\"type\":null,"
    "\"param\":\"prompt\",\"code\":\"content_filter\",\"status\":400,"
    "\"innererror\":{\"code\":\"ResponsibleAIPolicyViolation\","
    "\"content_filter_result\":{"
    "\"hate\":{\"filtered\":false,\"severity\":\"safe\"},"
    "\"jailbreak\":{\"filtered\":false,\"detected\":false},"
    "\"self_harm\":{\"filtered\":false,\"severity\":\"safe\"},"
    "\"sexual\":{\"filtered\":true,\"severity\":\"medium\"},"
    "\"violence\":{\"filtered\":false,\"severity\":\"safe\"}}}}}";

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* "ms=N" / "ms=none" / "after=N" / "only=ms", comma-separated. */
static int parse_options(char *opts, struct fault *f)
{
    for (char *save = NULL, *kv = strtok_r(opts, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');

        if (!eq)
            return -1;
        *eq++ = '\0';
        if (!strcmp(kv, "ms") && !strcmp(eq, "none")) {
            f->retry_ms = -1; /* as OpenAI's 429s often come */
            continue;
        }
        if (!strcmp(kv, "ms") && !parse_int(eq, 0, 3600000, &f->retry_ms))
            continue;
        if (!strcmp(kv, "after") && !parse_int(eq, 0, 1000000, &f->after))
            continue;
        if (!strcmp(kv, "only") && !strcmp(eq, "ms")) {
            f->ms_only = 1;
            continue;
        }
        return -1;
    }
    return 0;
}

int fault_parse(const char *spec, struct fault *f)
{
    static const struct {
        const char *name;
        enum fault_kind kind;
    } names[] = {
        { "content_filter", FAULT_FILTER },
        { "cut", FAULT_CUT },
        { "malformed", FAULT_MALFORMED },
        { "stall", FAULT_STALL },
        { "error_event", FAULT_EVENT },
        { "filter_mid", FAULT_FILTER_MID },
    };
    char buf[128], *opts;

    memset(f, 0, sizeof *f);
    f->after = -1;
    f->retry_ms = -1;
    if (!spec || !*spec || !strcmp(spec, "none"))
        return 0;
    if (strlen(spec) >= sizeof buf)
        return -1;
    strcpy(buf, spec);
    if ((opts = strchr(buf, ':')))
        *opts++ = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(buf, names[i].name))
            f->kind = names[i].kind;
    if (f->kind == FAULT_NONE) {
        if (parse_int(buf, 400, 599, &f->status))
            return -1;
        f->kind = FAULT_STATUS;
    }
    if (f->retry_ms < 0 && f->status == 429)
        f->retry_ms = 1000;
    return opts ? parse_options(opts, f) : 0;
}

int fault_due(const char *key, long count)
{
    struct seen *s;

    if (count < 0)
        return 1;
    for (s = seen_keys; s && strcmp(s->key, key); s = s->next)
        ;
    if (!s) {
        size_t len = strlen(key) + 1;

        if (!(s = malloc(sizeof *s + len)))
            return 1;
        memcpy(s->key, key, len);
        s->n = 0;
        s->next = seen_keys;
        seen_keys = s;
    }
    return ++s->n <= count;
}

void fault_reset(void)
{
    while (seen_keys) {
        struct seen *s = seen_keys;

        seen_keys = s->next;
        free(s);
    }
}

static void send_body(struct evhttp_request *req, enum flavour fl, int status,
                      const char *body, size_t len)
{
    struct evbuffer *b = evbuffer_new();

    reply_headers(req, fl, "application/json", status == 429 ? 0 : 9999);
    if (!b || evbuffer_add(b, body, len)) {
        evhttp_send_error(req, 500, NULL);
    } else {
        /* evhttp's phrase table stops at 417 */
        evhttp_send_reply(req, status,
                          status == 429 ? "Too Many Requests" : NULL, b);
    }
    if (b)
        evbuffer_free(b);
    mock_stats.errors++;
}

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

void error_reply(struct evhttp_request *req, enum flavour fl, int status,
                 const char *message, const char *type, const char *param,
                 const char *code)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    char *text = NULL, status_code[8];

    if (e) {
        if (fl == FL_AZURE) {
            snprintf(status_code, sizeof status_code, "%d", status);
            cJSON_AddStringToObject(e, "code", code ? code : status_code);
            cJSON_AddStringToObject(e, "message", message);
        } else {
            cJSON_AddStringToObject(e, "message", message);
            cJSON_AddItemToObject(e, "type", str_or_null(type));
            cJSON_AddItemToObject(e, "param", str_or_null(param));
            cJSON_AddItemToObject(e, "code", str_or_null(code));
        }
        text = cJSON_PrintUnformatted(root);
    }
    if (text)
        send_body(req, fl, status, text, strlen(text));
    else
        evhttp_send_error(req, 500, NULL);
    cJSON_free(text);
    cJSON_Delete(root);
}

static void retry_headers(struct evhttp_request *req, int ms, int ms_only)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char v[24];

    snprintf(v, sizeof v, "%d", (ms + 999) / 1000);
    if (!ms_only)
        evhttp_add_header(h, "retry-after", v);
    snprintf(v, sizeof v, "%d", ms);
    evhttp_add_header(h, "retry-after-ms", v);
}

void fault_reply(struct evhttp_request *req, enum flavour fl,
                 const struct fault *f)
{
    const struct known_error *k = NULL;
    char generic[64];

    if (f->kind == FAULT_FILTER) {
        send_body(req, fl, 400, filter_body, sizeof filter_body - 1);
        return;
    }
    if (f->retry_ms >= 0)
        retry_headers(req, f->retry_ms, f->ms_only);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].status == f->status)
            k = &known[i];
    if (k) {
        if (fl == FL_AZURE)
            error_reply(req, fl, f->status, k->az_message, NULL, NULL,
                        k->az_code);
        else
            error_reply(req, fl, f->status, k->oa_message, k->oa_type, NULL,
                        k->oa_code);
        return;
    }
    snprintf(generic, sizeof generic, "Mock fault: HTTP %d", f->status);
    error_reply(req, fl, f->status, generic,
                f->status < 500 ? "invalid_request_error" : "server_error",
                NULL, NULL);
}
