/*
 * search — Azure AI Search's query API (POST {endpoint}/indexes/{index}/
 * docs/search?api-version=...) on the worker's loop, and the embedding of
 * a question for its vector query (worker/apps/chat/embed.h).
 *
 * Settings (cfg, the azure-search-openai-demo's names): AZURE_SEARCH_ENDPOINT
 * or AZURE_SEARCH_SERVICE (https://{service}.search.windows.net),
 * AZURE_SEARCH_INDEX, AZURE_SEARCH_KEY (the api-key header; empty: an
 * Entra ID token for https://search.azure.com/.default),
 * search_vector_field; the rest is the query's (struct search_query,
 * what the demo's overrides ask: overrides.h). The request body, as the
 * sample's SDK call sends it:
 *   {"search": TEXT ("" for vectors only), "top": N,
 *    "select": "SOURCEPAGE,CONTENT", ["filter": F,]
 *    ["queryType": "semantic", "semanticConfiguration": C,
 *     "semanticQuery": QUERY, ["captions": "extractive|highlight-false",]
 *     ["queryRewrites": "generative", "queryLanguage": "en-us",]]
 *    ["vectorQueries": [{"kind": "vector", "vector": [...],
 *                        "fields": FIELD, "k": 50}]]}
 * The reply's documents under min_score (@search.score) or
 * min_reranker_score (@search.rerankerScore, absent counts as 0) are
 * dropped, as the sample's search() drops them.
 * SOURCEPAGE and CONTENT are search_sourcepage_field and
 * search_content_field (KB_FIELDS_SOURCEPAGE, KB_FIELDS_CONTENT; the
 * sample's sourcepage and content by default): the citation and the text.
 *
 * Ownership: struct search (per worker) owns its URL and header lines;
 * it borrows the entra, which must outlive it.
 * struct search_call is this module's: valid until the callback returns or
 * search_cancel. The vector passed to search_start is only read there.
 */
#ifndef LLMFORK_SEARCH_H
#define LLMFORK_SEARCH_H

#include <stddef.h>

struct cfg;
struct cJSON;
struct entra;
struct search;
struct search_call;

/* docs: the reply's "value" array (the callee's until the callback
 * returns), or NULL with status, msg and retry_after (a 429's Retry-After,
 * else NULL) for the client, as jsoncall.h gives them. */
typedef void (*search_cb)(void *arg, const struct cJSON *docs, int status,
                          const char *msg, const char *retry_after);

/* entra: the worker's token source (borrowed, may be NULL), used when
 * AZURE_SEARCH_KEY is empty. NULL and err when the settings are
 * incomplete. */
struct search *search_init(const struct cfg *c, struct entra *entra,
                           char *err, size_t errlen);
void search_free(struct search *s);

struct search_query {
    const char *text;           /* the query */
    int text_search;            /* 0: "search" is "" (vectors only) */
    const struct cJSON *vector; /* array of numbers, or NULL: no vector */
    const char *filter;         /* OData filter, or NULL */
    int top;
    const char *semantic_config; /* NULL: no semantic ranker */
    int captions, rewrites;      /* with the semantic ranker only */
    double min_score, min_reranker_score;
};

/* Everything q points to is only read here. */
struct search_call *search_start(struct search *s,
                                 const struct search_query *q,
                                 search_cb cb, void *arg);
void search_cancel(struct search_call *sc);

#endif
