/* search — the Azure AI Search client (see search.h). */
#include "worker/apps/chat/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "common/log.h"
#include "worker/model/auth/entra.h"
#include "worker/apps/chat/jsoncall.h"

#define VECTOR_K 50 /* neighbours the vector query brings to ranking */

struct search {
    const struct cfg *cfg;
    struct jsoncall_svc svc; /* auth: "api-key: K", or Entra tokens */
};

struct search_call {
    struct jsoncall *jc;
    search_cb cb;
    void *arg;
    double min_score, min_reranker_score;
};

struct search *search_init(const struct cfg *c, struct entra *entra,
                           char *err, size_t errlen)
{
    struct search *s = calloc(1, sizeof(*s));
    char *ep = NULL;
    int rc = -1, keyed = c->search_key && *c->search_key;

    if (!s)
        return snprintf(err, errlen, "out of memory"), NULL;
    s->cfg = c;
    s->svc.what = "the search service";
    s->svc.entra = keyed ? NULL : entra;
    s->svc.scope = ENTRA_SCOPE_SEARCH;
    /* A new search service takes API keys only, and says no more than
     * 401/403 to a token. */
    s->svc.token_hint = "with an Entra ID token the service must allow "
                        "role-based access (Keys: role-based access control, or both) and "
                        "this identity needs the Search Index Data Reader role";
    if (c->search_endpoint)
        ep = strdup(c->search_endpoint);
    else if (c->search_service &&
             asprintf(&ep, "https://%s.search.windows.net",
                      c->search_service) < 0)
        ep = NULL;
    if (!ep)
        snprintf(err, errlen, "rag = search needs AZURE_SEARCH_ENDPOINT or "
                              "AZURE_SEARCH_SERVICE");
    else if (!c->search_index)
        snprintf(err, errlen, "rag = search needs AZURE_SEARCH_INDEX");
    else if (jsoncall_svc_url(&s->svc, ep, "/indexes/%s/docs/search?"
                                           "api-version=%s",
                              c->search_index,
                              c->search_api_version) == 0 &&
             (!keyed || asprintf(&s->svc.auth, "api-key: %s",
                                 c->search_key) >= 0))
        rc = 0;
    else {
        s->svc.auth = NULL; /* asprintf leaves it undefined */
        snprintf(err, errlen, "out of memory");
    }
    free(ep);
    if (rc < 0) {
        search_free(s);
        return NULL;
    }
    if (s->svc.entra)
        log_info("search: no AZURE_SEARCH_KEY; Entra ID tokens from %s",
                 entra_source(entra));
    return s;
}

void search_free(struct search *s)
{
    if (!s)
        return;
    jsoncall_svc_free(&s->svc);
    free(s);
}

static double number(const cJSON *doc, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Drops the documents under the minimum scores. */
static void qualify(cJSON *docs, double min_score, double min_reranker)
{
    cJSON *d = docs ? docs->child : NULL, *next;

    for (; d; d = next) {
        next = d->next;
        if (number(d, "@search.score") < min_score ||
            number(d, "@search.rerankerScore") < min_reranker)
            cJSON_Delete(cJSON_DetachItemViaPointer(docs, d));
    }
}

static void on_reply(void *arg, cJSON *reply, int status, const char *msg,
                     const char *retry_after)
{
    struct search_call *sc = arg;
    cJSON *docs = cJSON_GetObjectItemCaseSensitive(reply, "value");

    if (reply && !cJSON_IsArray(docs)) {
        sc->cb(sc->arg, NULL, 502, "the search service's reply had no "
                                   "\"value\" array",
               NULL);
    } else {
        qualify(docs, sc->min_score, sc->min_reranker_score);
        sc->cb(sc->arg, docs, status, msg, retry_after);
    }
    cJSON_Delete(reply);
    free(sc);
}

static cJSON *query_body(const struct cfg *c, const struct search_query *q)
{
    cJSON *b = cJSON_CreateObject(), *vq, *v;
    char *select = NULL;

    if (asprintf(&select, "%s,%s", c->search_sourcepage_field,
                 c->search_content_field) < 0)
        select = NULL;
    cJSON_AddStringToObject(b, "search", q->text_search ? q->text : "");
    cJSON_AddNumberToObject(b, "top", q->top);
    if (select)
        cJSON_AddStringToObject(b, "select", select);
    free(select);
    if (q->filter)
        cJSON_AddStringToObject(b, "filter", q->filter);
    if (q->semantic_config) {
        cJSON_AddStringToObject(b, "queryType", "semantic");
        cJSON_AddStringToObject(b, "semanticConfiguration",
                                q->semantic_config);
        cJSON_AddStringToObject(b, "semanticQuery", q->text);
        if (q->captions)
            cJSON_AddStringToObject(b, "captions", "extractive|highlight-false");
        if (q->rewrites) {
            /* the service rewrites only with a query language */
            cJSON_AddStringToObject(b, "queryRewrites", "generative");
            cJSON_AddStringToObject(b, "queryLanguage", "en-us");
        }
    }
    if (q->vector) {
        vq = cJSON_AddArrayToObject(b, "vectorQueries");
        v = cJSON_CreateObject();
        cJSON_AddItemToArray(vq, v);
        cJSON_AddStringToObject(v, "kind", "vector");
        cJSON_AddItemToObject(v, "vector", cJSON_Duplicate(q->vector, 1));
        cJSON_AddStringToObject(v, "fields", c->search_vector_field);
        cJSON_AddNumberToObject(v, "k", VECTOR_K);
    }
    return b;
}

struct search_call *search_start(struct search *s,
                                 const struct search_query *q,
                                 search_cb cb, void *arg)
{
    struct search_call *sc = calloc(1, sizeof(*sc));

    if (!sc)
        return NULL;
    sc->cb = cb;
    sc->arg = arg;
    sc->min_score = q->min_score;
    sc->min_reranker_score = q->min_reranker_score;
    sc->jc = jsoncall_start(&s->svc, query_body(s->cfg, q), on_reply, sc);
    if (!sc->jc) {
        free(sc);
        return NULL;
    }
    return sc;
}

void search_cancel(struct search_call *sc)
{
    jsoncall_cancel(sc->jc);
    free(sc);
}
