/*
 * search.c — Azure AI Search's query API over a small index from a JSON
 * file, and the embeddings API, so the RAG flow runs end to end.
 *
 *   POST /indexes/{index}/docs/search?api-version=V
 *   POST /indexes('{index}')/docs/search.post.search?api-version=V
 *        auth: api-key: KEY or Authorization: Bearer TOKEN (the mock's
 *        --key list; none = any), or a token issued here (token.h) for
 *        the endpoint's audience; with --token require, only an Entra ID
 *        token issued for https://search.azure.com (token.h). Body: search ("*" or empty: every
 *        document), top (default 50), filter ("FIELD eq 'v'" / "ne",
 *        "FIELD/any(g:search.in(g, 'a, b'))", parenthesised groups,
 *        joined by " and " or " or "; 'it''s' quoting), select, queryType
 *        "semantic" (needs semanticConfiguration; adds
 *        @search.rerankerScore; semanticQuery accepted), captions
 *        "extractive..." (adds @search.captions), queryRewrites (needs
 *        queryType semantic and queryLanguage, as the service says), vectorQueries
 *        [{kind:"vector", vector:[...], fields, k}].
 *        Score: query words (case-folded, 3+ letters) counted in content
 *        (or the index file's "text_field"); a vector query adds the
 *        cosine with the document's fake vector.
 *        Errors as the service sends them: {"error":{"code":"","message"}}
 *        (400 bad body or filter, or a select naming a field no document
 *        has, 403 bad key, 404 unknown index); with
 *        --search-fault NNN[:ms=N] every search gets that status in this
 *        shape, with Retry-After (seconds) when ms is set (429: 1000).
 *   POST /openai/deployments/{dep}/embeddings?api-version=V   (Azure)
 *   POST /v1/embeddings, /embeddings, /openai/v1/embeddings
 *        ("model" required)                                   (OpenAI)
 *        auth as search, but with --token require the token must be for
 *        https://cognitiveservices.azure.com, as the chat endpoints'.
 *        input: a string, strings, token ids or lists of them (none
 *        empty; else 400 '$.input' is invalid), dimensions (default
 *        1536), encoding_format float (default) or base64 (the float32
 *        bytes, little-endian, as the OpenAI SDKs ask by default);
 *        usage counts words (or ids); errors in OpenAI's or Azure's
 *        shape (error_reply). Vectors are deterministic: hashed words,
 *        normalised, so texts sharing words are close. --embed-fault NNN[:ms=N]: every embeddings
 *        request gets that fault as the chat endpoints would (x-mock-fault).
 *
 * Ownership: the index (a cJSON tree) lives from search_load to
 * search_free. Replies are built per request and freed after sending.
 */
#include "tests/mock/mock.h"
#include "tests/mock/token.h"
#include "common/b64.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define DEFAULT_DIMS 1536

static cJSON *index_doc; /* {"name": ..., "value": [...]} */

/* The field searched and embedded: the index's "text_field" (the mock's
 * stand-in for a schema's searchable field), else "content". */
static const char *text_field(void)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(index_doc, "text_field");

    return cJSON_IsString(f) ? f->valuestring : "content";
}

int search_load(const char *file)
{
    FILE *f = fopen(file, "r");
    char *text = NULL;
    size_t len = 0;

    if (f) {
        FILE *m = open_memstream(&text, &len);
        int c;

        while (m && (c = fgetc(f)) != EOF)
            fputc(c, m);
        if (m)
            fclose(m);
        fclose(f);
    }
    cJSON_Delete(index_doc);
    index_doc = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(index_doc, "value")) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(index_doc, "name"))) {
        fprintf(stderr, "llmfork-mock: %s: not an index ({\"name\", "
                        "\"value\":[...]})\n",
                file);
        return -1;
    }
    return 0;
}

void search_free(void)
{
    cJSON_Delete(index_doc);
    index_doc = NULL;
}

static void reply_json(struct evhttp_request *req, int status, cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    struct evbuffer *b = evbuffer_new();

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json; odata.metadata=minimal");
    if (b && text)
        evbuffer_add(b, text, strlen(text));
    evhttp_send_reply(req, status, status < 400 ? "OK" : "Error", b);
    if (status >= 400)
        mock_stats.errors++;
    else
        mock_stats.completed++;
    if (b)
        evbuffer_free(b);
    free(text);
    cJSON_Delete(o);
}

static void reply_error(struct evhttp_request *req, int status,
                        const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");

    cJSON_AddStringToObject(e, "code", "");
    cJSON_AddStringToObject(e, "message", msg);
    reply_json(req, status, o);
}

static void reply_token_error(struct evhttp_request *req, const char *aud)
{
    char msg[200];

    snprintf(msg, sizeof(msg), "Unauthorized. Access token is missing, "
                               "invalid, audience is incorrect (%s), or have expired.",
             aud);
    reply_error(req, 401, msg);
}

/* A key, or (as the real services take either) a token issued here for
 * the endpoint's audience. */
static int authorised(struct evhttp_request *req, const char *const *keys,
                      int nkeys, const char *aud)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *k = evhttp_find_header(h, "api-key");
    const char *a = evhttp_find_header(h, "Authorization");
    int bearer = !k && a && !strncasecmp(a, "Bearer ", 7);

    if (bearer)
        k = a + 7;
    for (int i = 0; i < nkeys; i++)
        if (k && !strcmp(k, keys[i]))
            return 1;
    return nkeys == 0 || (bearer && token_check(req, aud) == 0);
}

/* ---- words and fake vectors ---------------------------------------- */

/* The next word (letters and digits, 3+ long) from *p, lower-cased. */
static int next_word(const char **p, char *w, size_t cap)
{
    for (;;) {
        size_t n = 0;

        while (**p && !isalnum((unsigned char)**p))
            (*p)++;
        if (!**p)
            return 0;
        while (isalnum((unsigned char)**p)) {
            if (n + 1 < cap)
                w[n++] = (char)tolower((unsigned char)**p);
            (*p)++;
        }
        w[n] = '\0';
        if (n >= 3)
            return 1;
    }
}

static void fake_vector(const char *text, double *v, int dims)
{
    char w[64];
    double norm = 0;

    memset(v, 0, sizeof(*v) * (size_t)dims);
    while (next_word(&text, w, sizeof(w))) {
        unsigned h = 2166136261u;

        for (const char *c = w; *c; c++)
            h = (h ^ (unsigned char)*c) * 16777619u;
        v[h % (unsigned)dims] += 1;
    }
    for (int i = 0; i < dims; i++)
        norm += v[i] * v[i];
    norm = norm > 0 ? sqrt(norm) : 1;
    for (int i = 0; i < dims; i++)
        v[i] /= norm;
}

static int count_word(const char *text, const char *word)
{
    char w[64];
    int n = 0;

    while (next_word(&text, w, sizeof(w)))
        n += !strcmp(w, word);
    return n;
}

/* ---- search ---------------------------------------------------------- */

static const char *field_str(const cJSON *doc, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(doc, name);

    return cJSON_IsString(f) ? f->valuestring : "";
}

/* The filter grammar the service is asked with (OData, the subset the
 * sample sends): clauses joined by " and " or " or " (one kind per level),
 * each FIELD eq|ne 'v', FIELD/any(g:search.in(g, 'a, b')) for a
 * collection (security trimming: any value of the document's FIELD among
 * the listed ones, split at commas and spaces), or a parenthesised group.
 * Each returns 1 match, 0 no match, -1 unsupported; *pp moves past it. */
static int filter_expr(const cJSON *doc, const char **pp);

static int listed(const char *list, const char *v)
{
    size_t n = strlen(v);

    for (const char *p = list; *p;) {
        p += strspn(p, ", ");
        size_t w = strcspn(p, ", ");
        if (w == n && n && !strncmp(p, v, n))
            return 1;
        p += w;
    }
    return 0;
}

/* An OData string literal at *pp ('...' with '' for a quote) into out;
 * -1 when it is not one or does not fit. */
static int quoted(const char **pp, char *out, size_t cap)
{
    const char *p = *pp;
    size_t n = 0;

    if (*p++ != '\'')
        return -1;
    for (;; p++) {
        if (!*p)
            return -1;
        if (*p == '\'' && p[1] != '\'')
            break;
        if (*p == '\'')
            p++; /* '' is one quote */
        if (n + 1 >= cap)
            return -1;
        out[n++] = *p;
    }
    out[n] = '\0';
    *pp = p + 1;
    return 0;
}

static int filter_clause(const cJSON *doc, const char **pp)
{
    char field[64], op[3], val[128], list[1024];
    const cJSON *coll, *e;
    int used = 0, r;

    if (**pp == '(') {
        (*pp)++;
        if ((r = filter_expr(doc, pp)) < 0 || **pp != ')')
            return -1;
        (*pp)++;
        return r;
    }
    static const char any[] = "/any(g:search.in(g, '";
    size_t fl = strspn(*pp, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                            "vwxyz0123456789_");
    const char *q;

    if (fl && fl < sizeof(field) && !strncmp(*pp + fl, any, sizeof(any) - 1) && (q = strchr(*pp + fl + sizeof(any) - 1, '\'')) &&
        !strncmp(q, "'))", 3) &&
        (size_t)(q - *pp) - fl - (sizeof(any) - 1) < sizeof(list)) {
        const char *l = *pp + fl + sizeof(any) - 1;
        memcpy(field, *pp, fl);
        field[fl] = '\0';
        memcpy(list, l, (size_t)(q - l));
        list[q - l] = '\0';
        *pp = q + 3;
        r = 0;
        coll = cJSON_GetObjectItemCaseSensitive(doc, field);
        cJSON_ArrayForEach(e, coll)
            r |= cJSON_IsString(e) && listed(list, e->valuestring);
        return r;
    }
    if (sscanf(*pp, "%63[A-Za-z0-9_] %2s %n", field, op, &used) != 2 ||
        (strcmp(op, "eq") && strcmp(op, "ne")))
        return -1;
    *pp += used;
    if (quoted(pp, val, sizeof(val)) < 0)
        return -1;
    return !strcmp(field_str(doc, field), val) == !strcmp(op, "eq");
}

static int filter_expr(const cJSON *doc, const char **pp)
{
    const char *join = NULL;
    int ok = 0, r;

    for (;;) {
        if ((r = filter_clause(doc, pp)) < 0)
            return -1;
        ok = !join ? r : !strcmp(join, "and") ? ok && r
                                              : ok || r;
        if (strncmp(*pp, " and ", 5) && strncmp(*pp, " or ", 4))
            return ok;
        const char *j = (*pp)[1] == 'a' ? "and" : "or";
        if (join && strcmp(join, j))
            return -1; /* mixed without parentheses */
        join = j;
        *pp += strlen(j) + 2;
    }
}

static int filter_match(const cJSON *doc, const char *filter)
{
    const char *p = filter;
    int r = filter_expr(doc, &p);

    return *p ? -1 : r;
}

static double text_score(const cJSON *doc, const char *query)
{
    const char *content = field_str(doc, text_field());
    char w[64];
    double s = 0;

    if (!*query || !strcmp(query, "*"))
        return 1;
    while (next_word(&query, w, sizeof(w)))
        s += count_word(content, w);
    return s;
}

static double vector_score(const cJSON *doc, const double *qv, int dims)
{
    double *dv = malloc(sizeof(*dv) * (size_t)dims), s = 0;

    if (!dv)
        return 0;
    fake_vector(field_str(doc, text_field()), dv, dims);
    for (int i = 0; i < dims; i++)
        s += dv[i] * qv[i];
    free(dv);
    return s;
}

/* The first sentence of content holding a query word, else its start. */
static cJSON *caption(const cJSON *doc, const char *query)
{
    const char *content = field_str(doc, text_field()), *s = content;
    cJSON *arr = cJSON_CreateArray(), *c = cJSON_CreateObject();

    while (*s) {
        while (*s == ' ')
            s++;
        const char *end = strchr(s, '.');
        size_t n = end ? (size_t)(end - s) + 1 : strlen(s);
        char *sentence = strndup(s, n), w[64];
        const char *q = query;
        int hit = 0;

        while (sentence && !hit && next_word(&q, w, sizeof(w)))
            hit = count_word(sentence, w) > 0;
        if (hit || !s[n]) {
            cJSON_AddStringToObject(c, "text", hit ? sentence : content);
            free(sentence);
            break;
        }
        free(sentence);
        s += n;
    }
    if (!cJSON_GetObjectItemCaseSensitive(c, "text"))
        cJSON_AddStringToObject(c, "text", content);
    cJSON_AddStringToObject(c, "highlights", "");
    cJSON_AddItemToArray(arr, c);
    return arr;
}

struct query {
    const char *search, *filter, *select;
    int top, semantic, captions, dims;
    double *vector; /* dims values, or NULL */
};

/* Reads the body into q; returns NULL or the 400 message. */
static const char *query_parse(const cJSON *body, struct query *q)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(body, "search");
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(body, "top");
    const cJSON *qt = cJSON_GetObjectItemCaseSensitive(body, "queryType");
    const cJSON *cap = cJSON_GetObjectItemCaseSensitive(body, "captions");
    const cJSON *vqs = cJSON_GetObjectItemCaseSensitive(body, "vectorQueries");
    const cJSON *vq = cJSON_GetArrayItem(vqs, 0), *vec, *x;

    memset(q, 0, sizeof(*q));
    if (!cJSON_IsObject(body))
        return "The request is invalid. Details: the body is not JSON.";
    q->search = cJSON_IsString(s) ? s->valuestring : "";
    q->filter = field_str(body, "filter");
    q->select = field_str(body, "select");
    q->top = cJSON_IsNumber(top) ? top->valueint : 50;
    q->semantic = cJSON_IsString(qt) && !strcmp(qt->valuestring, "semantic");
    q->captions = cJSON_IsString(cap) &&
                  !strncmp(cap->valuestring, "extractive", 10);
    if (q->semantic && !*field_str(body, "semanticConfiguration"))
        return "The request is invalid. Details: semanticConfiguration is "
               "required with queryType semantic (the index has no default).";
    if (*field_str(body, "queryRewrites") &&
        (!q->semantic || !*field_str(body, "queryLanguage")))
        return "The request is invalid. Details: queryRewrites requires "
               "queryType semantic and a queryLanguage.";
    if (!vq)
        return NULL;
    vec = cJSON_GetObjectItemCaseSensitive(vq, "vector");
    if (strcmp(field_str(vq, "kind"), "vector") || !cJSON_IsArray(vec) ||
        !*field_str(vq, "fields") || !cJSON_GetArraySize(vec))
        return "The request is invalid. Details: a vector query needs kind "
               "'vector', a vector and fields.";
    q->dims = cJSON_GetArraySize(vec);
    if (!(q->vector = calloc((size_t)q->dims, sizeof(double))))
        return "out of memory";
    int i = 0;
    cJSON_ArrayForEach(x, vec)
        q->vector[i++] = cJSON_IsNumber(x) ? x->valuedouble : 0;
    return NULL;
}

struct hit {
    const cJSON *doc;
    double score;
};

static int by_score(const void *a, const void *b)
{
    double d = ((const struct hit *)b)->score - ((const struct hit *)a)->score;

    return d > 0 ? 1 : d < 0 ? -1
                             : 0;
}

/* One result: the selected fields (all but the vector when no select). */
static cJSON *result(const struct query *q, const struct hit *h, double max)
{
    cJSON *r = cJSON_CreateObject(), *f;

    cJSON_AddNumberToObject(r, "@search.score", h->score);
    if (q->semantic)
        cJSON_AddNumberToObject(r, "@search.rerankerScore",
                                max > 0 ? 4.0 * h->score / max : 0);
    if (q->semantic && q->captions)
        cJSON_AddItemToObject(r, "@search.captions", caption(h->doc, q->search));
    cJSON_ArrayForEach(f, h->doc)
    {
        char pat[80];

        snprintf(pat, sizeof(pat), ",%s,", f->string);
        if (!strcmp(f->string, "embedding"))
            continue;
        if (*q->select) {
            char sel[512];

            snprintf(sel, sizeof(sel), ",%s,", q->select);
            for (char *c = sel; *c; c++)
                if (*c == ' ')
                    memmove(c, c + 1, strlen(c));
            if (!strstr(sel, pat))
                continue;
        }
        cJSON_AddItemToObject(r, f->string, cJSON_Duplicate(f, 1));
    }
    return r;
}

/* The index's fields: those its documents have (the mock has no schema). */
static int has_field(const char *field)
{
    const cJSON *d;

    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(index_doc, "value")) if (cJSON_GetObjectItemCaseSensitive(d, field)) return 1;
    return 0;
}

/* As the service answers a select naming a field the index lacks: 400,
 * "Invalid expression: Could not find a property named 'X' on type
 * 'search.document'.\r\nParameter name: $select". 0 when all exist. */
static int select_unknown(const char *select, char *msg, size_t n)
{
    char field[128];
    const char *p = select;

    while (*p) {
        size_t len = strcspn(p, ",");
        const char *f = p, *end = p + len;

        while (f < end && *f == ' ')
            f++;
        while (end > f && end[-1] == ' ')
            end--;
        snprintf(field, sizeof(field), "%.*s", (int)(end - f), f);
        if (*field && strcmp(field, "*") && !has_field(field)) {
            snprintf(msg, n, "Invalid expression: Could not find a property "
                             "named '%s' on type 'search.document'.\r\nParameter "
                             "name: $select",
                     field);
            return 1;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

static void search(struct evhttp_request *req, const char *name,
                   const cJSON *body)
{
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(index_doc, "value");
    int n = cJSON_GetArraySize(docs), nh = 0;
    struct hit *hits = calloc((size_t)n + 1, sizeof(*hits));
    const char *bad;
    struct query q;
    const cJSON *d;
    char msg[300];

    if (!index_doc || strcmp(name, field_str(index_doc, "name"))) {
        snprintf(msg, sizeof(msg), "The index '%.100s' for service 'mock' "
                                   "was not found.",
                 name);
        reply_error(req, 404, msg);
    } else if ((bad = query_parse(body, &q))) {
        reply_error(req, 400, bad);
    } else if (select_unknown(q.select, msg, sizeof(msg))) {
        free(q.vector);
        reply_error(req, 400, msg);
    } else {
        cJSON_ArrayForEach(d, docs)
        {
            int f = *q.filter ? filter_match(d, q.filter) : 1;
            double s = text_score(d, q.search);

            if (f < 0) {
                nh = -1;
                break;
            }
            if (q.vector)
                s += vector_score(d, q.vector, q.dims);
            if (f && s > 0 && hits)
                hits[nh++] = (struct hit){ d, s };
        }
        if (nh < 0) {
            reply_error(req, 400, "Invalid expression: only FIELD eq|ne "
                                  "'value', FIELD/any(g:search.in(g, 'values')) and "
                                  "groups of them joined by 'and' or 'or' are "
                                  "supported.");
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON *v = cJSON_AddArrayToObject(o, "value");

            if (nh > 0)
                qsort(hits, (size_t)nh, sizeof(*hits), by_score);
            for (int i = 0; i < nh && i < q.top; i++)
                cJSON_AddItemToArray(v, result(&q, &hits[i], hits[0].score));
            reply_json(req, 200, o);
        }
        free(q.vector);
    }
    free(hits);
}

/* ---- embeddings ------------------------------------------------------ */

/* One input item's vector, as floats or (encoding_format base64) as the
 * little-endian float32 bytes in base64, the OpenAI SDKs' default. Token
 * arrays are embedded as their numbers' text. */
static void add_embedding(cJSON *data, const cJSON *item, int i, int dims,
                          int b64)
{
    double *v = malloc(sizeof(*v) * (size_t)dims);
    unsigned char *le = b64 ? malloc(4 * (size_t)dims) : NULL;
    size_t cap = 4 * (((size_t)dims * 4 + 2) / 3) + 1;
    char *text = cJSON_IsString(item) ? NULL : cJSON_PrintUnformatted(item);
    char *enc = b64 ? malloc(cap) : NULL;
    cJSON *e = cJSON_CreateObject();

    cJSON_AddStringToObject(e, "object", "embedding");
    cJSON_AddNumberToObject(e, "index", i);
    if (v && (!b64 || (le && enc))) {
        fake_vector(text ? text : item->valuestring, v, dims);
        for (int k = 0; k < dims; k++) {
            float f = (float)(v[k] = round(v[k] * 1e6) / 1e6);
            uint32_t w;

            memcpy(&w, &f, sizeof(w));
            for (int b = 0; b < 4 && le; b++)
                le[4 * k + b] = (unsigned char)(w >> (8 * b));
        }
        if (b64 && b64_encode(le, 4 * (size_t)dims, enc, cap) >= 0)
            cJSON_AddStringToObject(e, "embedding", enc);
        else if (!b64)
            cJSON_AddItemToObject(e, "embedding",
                                  cJSON_CreateDoubleArray(v, dims));
    }
    free(v);
    free(le);
    free(text);
    free(enc);
    cJSON_AddItemToArray(data, e);
}

/* A valid input item: a non-empty string or array of token ids. */
static int input_item(const cJSON *x, int tokens_only)
{
    const cJSON *t;

    if (cJSON_IsString(x) && !tokens_only)
        return x->valuestring[0] != '\0';
    if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) == 0)
        return 0;
    cJSON_ArrayForEach(t, x) if (!cJSON_IsNumber(t) || t->valuedouble < 0) return 0;
    return 1;
}

/* The usage count: words of a string, ids of a token array. */
static int item_tokens(const cJSON *x)
{
    int n = 0;

    if (cJSON_IsArray(x))
        return cJSON_GetArraySize(x);
    for (const char *p = x->valuestring; *p;) {
        p += strspn(p, " \t\r\n");
        n += *p != '\0';
        p += strcspn(p, " \t\r\n");
    }
    return n ? n : 1;
}

/* As the real service: input a string, strings, token ids or lists of
 * them (none empty), in one request; errors in the flavour's shape. */
static void embeddings(struct evhttp_request *req, const cJSON *body,
                       const char *model, enum flavour fl)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(body, "input"), *x;
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(body, "dimensions");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(body,
                                                        "encoding_format");
    int nd = cJSON_IsNumber(dims) ? dims->valueint : DEFAULT_DIMS, i = 0;
    int ok = in != NULL, tokens = 0, b64 = 0;
    cJSON *o, *data, *u;

    if (cJSON_IsArray(in)) {
        const cJSON *first = cJSON_GetArrayItem(in, 0);

        ok = first != NULL;
        if (cJSON_IsNumber(first)) /* one token array */
            ok = input_item(in, 1);
        else
            cJSON_ArrayForEach(x, in)
                ok = ok && input_item(x, 0);
    } else if (in)
        ok = input_item(in, 0);
    if (!in) {
        error_reply(req, fl, 400, "'input' is a required property",
                    "invalid_request_error", NULL, NULL);
        return;
    }
    if (!ok) {
        error_reply(req, fl, 400, "'$.input' is invalid. Please check the "
                                  "API reference: https://platform.openai.com/docs/"
                                  "api-reference.",
                    "invalid_request_error", NULL, NULL);
        return;
    }
    if (fmt && !(cJSON_IsString(fmt) && (!strcmp(fmt->valuestring, "float") || (b64 = !strcmp(fmt->valuestring, "base64"))))) {
        error_reply(req, fl, 400, "'encoding_format' must be one of "
                                  "['float', 'base64']",
                    "invalid_request_error",
                    "encoding_format", NULL);
        return;
    }
    if (nd < 1 || nd > 3072) {
        error_reply(req, fl, 400, "dimensions must be between 1 and 3072",
                    "invalid_request_error", "dimensions", NULL);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    data = cJSON_AddArrayToObject(o, "data");
    if (!cJSON_IsArray(in) || cJSON_IsNumber(cJSON_GetArrayItem(in, 0))) {
        add_embedding(data, in, 0, nd, b64);
        tokens = item_tokens(in);
    } else
        cJSON_ArrayForEach(x, in)
        {
            add_embedding(data, x, i++, nd, b64);
            tokens += item_tokens(x);
        }
    cJSON_AddStringToObject(o, "model", model);
    u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", tokens);
    cJSON_AddNumberToObject(u, "total_tokens", tokens);
    reply_json(req, 200, o);
}

/* --search-fault: the status in the search service's error shape. */
static void search_fault_reply(struct evhttp_request *req,
                               const struct fault *f)
{
    char v[24], msg[120];

    if (f->retry_ms >= 0) {
        snprintf(v, sizeof(v), "%d", (f->retry_ms + 999) / 1000);
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Retry-After", v);
    }
    snprintf(msg, sizeof(msg), "Mock fault: the search service answered "
                               "HTTP %d.",
             f->status);
    mock_stats.faults++;
    reply_error(req, f->status, msg);
}

/* ---- routing ---------------------------------------------------------- */

/* "/indexes/NAME/docs/search" or "/indexes('NAME')/docs/search.post.search" */
static int index_name(const char *path, char *name)
{
    int n = 0;

    if (sscanf(path, "/indexes('%127[^']')/docs/search.post.search%n", name,
               &n) == 1 &&
        !path[n] && n)
        return 0;
    n = 0;
    if (sscanf(path, "/indexes/%127[^/]/docs/search%n", name, &n) == 1 &&
        !path[n] && n)
        return 0;
    return -1;
}

/* "/openai/deployments/DEP/embeddings": DEP; "/v1/embeddings" (and
 * Azure's v1 "/openai/v1/embeddings"): "". */
static int embeddings_path(const char *path, char *dep)
{
    int n = 0;

    dep[0] = '\0';
    if (!strcmp(path, "/v1/embeddings") || !strcmp(path, "/embeddings") ||
        !strcmp(path, "/openai/v1/embeddings"))
        return 0;
    if (sscanf(path, "/openai/deployments/%127[^/]/embeddings%n", dep,
               &n) == 1 &&
        n && !path[n])
        return 0;
    return -1;
}

int search_route(struct evhttp_request *req, const char *path,
                 const char *query, const char *const *keys, int nkeys)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char name[128], dep[128];
    int is_search = index_name(path, name) == 0;
    const char *aud;
    cJSON *body;

    if (!is_search && embeddings_path(path, dep) < 0)
        return -1;
    stats_record(req, path, query, len ? (char *)evbuffer_pullup(in, -1) : "",
                 len);
    body = cJSON_ParseWithLength(len ? (char *)evbuffer_pullup(in, -1) : "",
                                 len);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST)
        reply_error(req, 405, "Method not allowed");
    else if ((is_search || dep[0]) && !strstr(query, "api-version="))
        reply_error(req, 400, "The api-version query parameter "
                              "(?api-version=) is required for all requests.");
    else if (token_required() &&
             token_check(req, aud = is_search ? TOKEN_AUD_SEARCH
                                              : TOKEN_AUD_COGNITIVE) < 0)
        reply_token_error(req, aud);
    else if (!token_required() &&
             !authorised(req, keys, nkeys, is_search ? TOKEN_AUD_SEARCH : TOKEN_AUD_COGNITIVE))
        reply_error(req, is_search ? 403 : 401, "Access denied: invalid key.");
    else if (is_search && mock_opts.search_fault.kind == FAULT_STATUS)
        search_fault_reply(req, &mock_opts.search_fault);
    else if (!is_search && mock_opts.embed_fault.kind == FAULT_STATUS) {
        mock_stats.faults++;
        fault_reply(req, dep[0] ? FL_AZURE : FL_OPENAI,
                    &mock_opts.embed_fault);
    } else if (is_search)
        search(req, name, body);
    else if (!dep[0] && !*field_str(body, "model"))
        error_reply(req, FL_OPENAI, 400, "you must provide a model parameter",
                    "invalid_request_error", NULL, NULL);
    else
        embeddings(req, body, dep[0] ? dep : field_str(body, "model"),
                   dep[0] ? FL_AZURE : FL_OPENAI);
    cJSON_Delete(body);
    return 0;
}
