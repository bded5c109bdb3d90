/*
 * search — Azure AI Search's query API (POST {endpoint}/indexes/{index}/
 * docs/search?api-version=...) on the worker's loop, and the embedding of
 * a question for its vector query (worker/apps/chat/embed.h).
 *
 * Settings (cfg, the azure-search-openai-demo's names): AZURE_SEARCH_ENDPOINT
 * or AZURE_SEARCH_SERVICE (https://{service}.search.windows.net),
 * AZURE_SEARCH_INDEX, AZURE_SEARCH_KEY (the api-key header; empty: an
 * Entra ID token for https://search.azure.com/.default), search_top,
 * the filter (search_start's), search_semantic_config (queryType semantic with that
 * configuration; search_captions adds extractive captions),
 * search_vector_field. The request body:
 *   {"search": TEXT, "top": N, "select": "SOURCEPAGE,CONTENT",
 *    ["filter": F,] ["queryType": "semantic", "semanticConfiguration": C,
 *    ["captions": "extractive|highlight-false",]]
 *    ["vectorQueries": [{"kind": "vector", "vector": [...],
 *                        "fields": FIELD, "k": 50}]]}
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

/* vector: an array of numbers, or NULL for a text-only query; filter:
 * the OData filter (search_filter and the user's security filter), or
 * NULL. */
struct search_call *search_start(struct search *s, const char *text,
                                 const struct cJSON *vector,
                                 const char *filter, search_cb cb, void *arg);
void search_cancel(struct search_call *sc);

#endif
