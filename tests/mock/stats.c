/*
 * stats.c — what tests ask the mock afterwards: counters, requests per
 * path, and copies of the last RING_SIZE API requests (method, path, query,
 * lower-cased headers, body) so a test can check what llmfork sent.
 *
 * Recording copies into one malloc per request; the JSON is only built
 * when a test asks, so benchmarks pay a copy, not a tree.
 */
#include "tests/mock/mock.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define RING_SIZE 20
#define PATHS_MAX 64

struct mock_stats mock_stats;

struct rec {
    const char *method, *path, *query, *body;
    const char *hdrs; /* "name\0value\0" pairs */
    size_t hlen, blen;
    char data[];
};

struct path_count {
    char *path;
    long n;
};

static struct rec *ring[RING_SIZE];
static unsigned long ring_next;
static struct path_count paths[PATHS_MAX];
static int npaths;

static const char *method_name(enum evhttp_cmd_type c)
{
    switch (c) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    default:
        return "OTHER";
    }
}

static void count_path(const char *path)
{
    int i;

    for (i = 0; i < npaths && strcmp(paths[i].path, path); i++)
        ;
    if (i == npaths) {
        if (npaths == PATHS_MAX || !(paths[i].path = strdup(path)))
            return;
        npaths++;
    }
    paths[i].n++;
}

/* Copies s (n bytes) to *p, NUL-terminated; returns where it starts. */
static const char *put(char **p, const char *s, size_t n)
{
    char *start = *p;

    memcpy(start, s, n);
    start[n] = '\0';
    *p += n + 1;
    return start;
}

void stats_record(struct evhttp_request *req, const char *path,
                  const char *query, const char *body, size_t blen)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *method = method_name(evhttp_request_get_command(req));
    size_t hlen = 0, size;
    struct evkeyval *kv;
    struct rec *r;
    char *p;

    mock_stats.requests++;
    count_path(path);
    TAILQ_FOREACH(kv, h, next)
    hlen += strlen(kv->key) + strlen(kv->value) + 2;
    size = sizeof *r + strlen(method) + strlen(path) + strlen(query) + blen + hlen + 4;
    if (!(r = malloc(size)))
        return;
    p = r->data;
    r->method = put(&p, method, strlen(method));
    r->path = put(&p, path, strlen(path));
    r->query = put(&p, query, strlen(query));
    r->body = put(&p, body, blen);
    r->blen = blen;
    r->hdrs = p;
    r->hlen = hlen;
    TAILQ_FOREACH(kv, h, next)
    {
        char *name = (char *)put(&p, kv->key, strlen(kv->key));

        for (; *name; name++)
            *name = (char)tolower((unsigned char)*name);
        put(&p, kv->value, strlen(kv->value));
    }
    free(ring[ring_next % RING_SIZE]);
    ring[ring_next++ % RING_SIZE] = r;
}

static cJSON *rec_json(const struct rec *r)
{
    cJSON *o = cJSON_CreateObject(), *h = cJSON_AddObjectToObject(o, "headers");

    if (!h)
        return o;
    cJSON_AddStringToObject(o, "method", r->method);
    cJSON_AddStringToObject(o, "path", r->path);
    cJSON_AddStringToObject(o, "query", r->query);
    for (const char *p = r->hdrs; p < r->hdrs + r->hlen;) {
        const char *value = p + strlen(p) + 1;

        cJSON_AddStringToObject(h, p, value);
        p = value + strlen(value) + 1;
    }
    cJSON_AddStringToObject(o, "body", r->body);
    cJSON_AddItemToObject(o, "json",
                          cJSON_ParseWithLength(r->body, r->blen) ?: cJSON_CreateNull());
    return o;
}

static const struct rec *ring_at(unsigned long i)
{
    return ring[i % RING_SIZE];
}

static cJSON *stats_json(void)
{
    cJSON *o = cJSON_CreateObject(), *by = cJSON_AddObjectToObject(o, "by_path");

    if (!by)
        return o;
    cJSON_AddNumberToObject(o, "requests", mock_stats.requests);
    cJSON_AddNumberToObject(o, "completed", mock_stats.completed);
    cJSON_AddNumberToObject(o, "cancelled", mock_stats.cancelled);
    cJSON_AddNumberToObject(o, "active", mock_stats.active);
    cJSON_AddNumberToObject(o, "errors", mock_stats.errors);
    cJSON_AddNumberToObject(o, "faults", mock_stats.faults);
    cJSON_AddNumberToObject(o, "connections", mock_stats.connections);
    for (int i = 0; i < npaths; i++)
        cJSON_AddNumberToObject(by, paths[i].path, paths[i].n);
    cJSON_AddItemToObject(o, "last_request", ring_next ? rec_json(ring_at(ring_next - 1)) : cJSON_CreateNull());
    return o;
}

static cJSON *requests_json(void)
{
    cJSON *a = cJSON_CreateArray();
    unsigned long first = ring_next > RING_SIZE ? ring_next - RING_SIZE : 0;

    for (unsigned long i = first; a && i < ring_next; i++)
        cJSON_AddItemToArray(a, rec_json(ring_at(i)));
    return a;
}

static cJSON *answer_json(const char *query)
{
    struct evkeyvalq q;
    const char *t;
    int n = mock_opts.tokens;
    cJSON *o = cJSON_CreateObject();
    struct evbuffer *b = evbuffer_new();

    if (!evhttp_parse_query_str(query, &q) &&
        (t = evhttp_find_header(&q, "tokens")))
        n = atoi(t);
    evhttp_clear_headers(&q);
    if (b) {
        answer_append_raw(b, n < 0 ? 0 : n);
        evbuffer_add(b, "", 1);
        cJSON_AddNumberToObject(o, "tokens", n);
        cJSON_AddStringToObject(o, "content",
                                (char *)evbuffer_pullup(b, -1));
        evbuffer_free(b);
    }
    return o;
}

static void reset(void)
{
    long active = mock_stats.active;

    memset(&mock_stats, 0, sizeof mock_stats);
    mock_stats.active = active;
    stats_free();
    fault_reset();
}

static void send_json(struct evhttp_request *req, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    struct evbuffer *b = evbuffer_new();

    if (!text || !b || evbuffer_add(b, text, strlen(text))) {
        evhttp_send_error(req, 500, NULL);
    } else {
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Type", "application/json");
        evhttp_send_reply(req, 200, "OK", b);
    }
    if (b)
        evbuffer_free(b);
    cJSON_free(text);
    cJSON_Delete(o);
}

int stats_route(struct evhttp_request *req, const char *path,
                const char *query)
{
    int get = evhttp_request_get_command(req) == EVHTTP_REQ_GET;

    if (strncmp(path, "/_mock/", 7))
        return -1;
    if (get && !strcmp(path, "/_mock/stats"))
        send_json(req, stats_json());
    else if (get && !strcmp(path, "/_mock/requests"))
        send_json(req, requests_json());
    else if (get && !strcmp(path, "/_mock/answer"))
        send_json(req, answer_json(query));
    else if (!get && !strcmp(path, "/_mock/reset")) {
        reset();
        send_json(req, stats_json());
    } else
        evhttp_send_error(req, 404, NULL);
    return 0;
}

void stats_free(void)
{
    for (int i = 0; i < RING_SIZE; i++) {
        free(ring[i]);
        ring[i] = NULL;
    }
    ring_next = 0;
    for (int i = 0; i < npaths; i++)
        free(paths[i].path);
    npaths = 0;
}
