/*
 * items — the rag-postgres sample's item routes (rag = postgres), over
 * the worker's catalogue (worker/pg/pgstore.h):
 *
 *   GET /items/{id}       the item, or 404 {"error": "Item with ID N not found."}
 *   GET /similar?id=&n=5  the n nearest items, each with "distance"
 *   GET /search?query=&top=5&enable_vector_search=true&enable_text_search=true
 *                         the sample's search_and_embed: the best top items
 *
 * A bad parameter is a 400 naming it; vector search where it cannot be
 * had is a 400 saying what is missing. A client that leaves cancels its
 * query (on the server too).
 *
 * Ownership: struct items_req (one per request) is this file's: freed
 * when the answer is sent or the client leaves. The pgstore is borrowed
 * from the app that registered the routes.
 */
#include "worker/apps/items.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/str.h"
#include "worker/pg/pgsearch.h"
#include "worker/pg/pgstore.h"

#define TOP_MAX 100

struct items_req {
    struct http_req *r;
    struct pgstore_call *sc;
};

static void on_close(struct http_req *r, void *arg)
{
    struct items_req *ir = arg;

    pgstore_cancel(ir->sc);
    free(ir);
    http_resp_error(r, 503, "the client went away"); /* ends it */
}

static void on_items(void *arg, cJSON *items, int status, const char *msg)
{
    struct items_req *ir = arg;
    char *text = NULL;

    http_req_on_close(ir->r, NULL, NULL);
    if (!items) {
        http_resp_error(ir->r, status, msg);
    } else {
        /* /items/{id} answers the item, not a list of one */
        const char *path = http_req_path(ir->r);
        const cJSON *out = strncmp(path, "/items/", 7) ? items
                                                       : cJSON_GetArrayItem(items, 0);

        if ((text = cJSON_PrintUnformatted(out)))
            http_resp_send(ir->r, 200, "application/json", text, strlen(text));
        else
            http_resp_error(ir->r, 500, "out of memory");
    }
    free(text);
    cJSON_Delete(items);
    free(ir);
}

/* Starts the answer's wait: the call made by start, or a 503/500. */
static void wait_for(struct http_req *r, struct pgstore_call *(*start)(struct pgstore *, void *, struct items_req *),
                     struct pgstore *s, void *how)
{
    struct items_req *ir = calloc(1, sizeof(*ir));

    if (!ir) {
        http_resp_error(r, 500, "out of memory");
        return;
    }
    ir->r = r;
    if (!(ir->sc = start(s, how, ir))) {
        free(ir);
        http_resp_error(r, 503, "the database is busy");
        return;
    }
    http_req_on_close(r, on_close, ir);
}

/* An integer parameter within [lo, hi]: 0, or -1 after a 400. */
static int int_param(struct http_req *r, const char *name, const char *text,
                     long long lo, long long hi, long long *v)
{
    char *end;
    char msg[128];

    errno = 0;
    *v = strtoll(text, &end, 10);
    if (!*text || *end || errno || *v < lo || *v > hi) {
        snprintf(msg, sizeof(msg), "%s: an integer from %lld to %lld is"
                                   " required",
                 name, lo, hi);
        http_resp_error(r, 400, msg);
        return -1;
    }
    return 0;
}

/* A query parameter into buf; def when absent. 0, or -1 after a 400. */
static int param(struct http_req *r, const char *name, char *buf, size_t n,
                 const char *def)
{
    char msg[128];
    int len = str_query_param(http_req_query(r), name, buf, n);

    if (len == -1 && def) {
        snprintf(buf, n, "%s", def);
        return 0;
    }
    if (len < 0) {
        snprintf(msg, sizeof(msg), "%s: %s", name, len == -1 ? "the query parameter is required" : "too long or badly encoded");
        http_resp_error(r, 400, msg);
        return -1;
    }
    return 0;
}

static int bool_param(struct http_req *r, const char *name, int *v)
{
    char buf[8], msg[128];

    if (param(r, name, buf, sizeof(buf), "true") < 0)
        return -1;
    if (!strcmp(buf, "true") || !strcmp(buf, "1") || !strcmp(buf, "yes") ||
        !strcmp(buf, "on"))
        return *v = 1, 0;
    if (!strcmp(buf, "false") || !strcmp(buf, "0") || !strcmp(buf, "no") ||
        !strcmp(buf, "off"))
        return *v = 0, 0;
    snprintf(msg, sizeof(msg), "%s: true or false is required", name);
    http_resp_error(r, 400, msg);
    return -1;
}

/* ---- GET /items/{id}, GET /similar ------------------------------------- */

struct by_id {
    long long id, n;
};

static struct pgstore_call *start_item(struct pgstore *s, void *how,
                                       struct items_req *ir)
{
    return pgstore_item(s, ((struct by_id *)how)->id, on_items, ir);
}

static struct pgstore_call *start_similar(struct pgstore *s, void *how,
                                          struct items_req *ir)
{
    struct by_id *b = how;

    return pgstore_similar(s, b->id, (int)b->n, on_items, ir);
}

static void handle_item(struct http_req *r, void *state)
{
    struct by_id b = { 0, 0 };

    if (int_param(r, "id", http_req_path(r) + 7, -(1LL << 62), 1LL << 62,
                  &b.id) == 0)
        wait_for(r, start_item, state, &b);
}

static void handle_similar(struct http_req *r, void *state)
{
    struct by_id b;
    char id[32], n[16];
    const char *why = pgstore_no_vectors(state, 0);

    if (param(r, "id", id, sizeof(id), NULL) < 0 ||
        int_param(r, "id", id, -(1LL << 62), 1LL << 62, &b.id) < 0 ||
        param(r, "n", n, sizeof(n), "5") < 0 ||
        int_param(r, "n", n, 1, TOP_MAX, &b.n) < 0)
        return;
    if (why) {
        http_resp_error(r, 400, why);
        return;
    }
    wait_for(r, start_similar, state, &b);
}

/* ---- GET /search -------------------------------------------------------- */

struct search_how {
    struct pgs_args a;
    int text, vector;
    long long top;
};

static struct pgstore_call *start_search(struct pgstore *s, void *how,
                                         struct items_req *ir)
{
    struct search_how *h = how;

    return pgstore_search(s, &h->a, h->text, h->vector, (int)h->top,
                          on_items, ir);
}

static void handle_search(struct http_req *r, void *state)
{
    struct search_how h = { .a = { 0 } };
    char query[4096], top[16];
    const char *why = pgstore_no_vectors(state, 1);

    if (param(r, "query", query, sizeof(query), NULL) < 0 ||
        param(r, "top", top, sizeof(top), "5") < 0 ||
        int_param(r, "top", top, 1, TOP_MAX, &h.top) < 0 ||
        bool_param(r, "enable_vector_search", &h.vector) < 0 ||
        bool_param(r, "enable_text_search", &h.text) < 0)
        return;
    if (!h.vector && !h.text) {
        http_resp_error(r, 400, "enable_vector_search, enable_text_search:"
                                " at least one must be true");
        return;
    }
    if (h.vector && why) {
        char msg[256];

        snprintf(msg, sizeof(msg), "enable_vector_search: %s", why);
        http_resp_error(r, 400, msg);
        return;
    }
    h.a.query = query;
    wait_for(r, start_search, state, &h);
}

int items_routes(struct app_ctx *ctx, struct pgstore *s)
{
    if (app_route(ctx, "GET", "/items/*", handle_item, s) < 0 ||
        app_route(ctx, "GET", "/similar", handle_similar, s) < 0 ||
        app_route(ctx, "GET", "/search", handle_search, s) < 0)
        return -1;
    return 0;
}
