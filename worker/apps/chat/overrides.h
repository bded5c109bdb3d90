/*
 * overrides — the azure-search-openai-demo's context.overrides for the
 * RAG flow (rag = search), read as the sample's chatreadretrieveread.py
 * and approach.py read them:
 *
 *   top                      int 1..50 (default search_top, the sample's 3)
 *   retrieval_mode           "text" | "vectors" | "hybrid" (default hybrid;
 *                            vectors need an embedding deployment)
 *   semantic_ranker          bool (default: search_semantic_config set)
 *   semantic_captions        bool (default search_captions)
 *   query_rewriting          bool (the service's generative rewrites)
 *   minimum_search_score,
 *   minimum_reranker_score   number >= 0 (default 0: results below dropped)
 *   include_category,
 *   exclude_category         string: "category eq 'V'" / "category ne 'V'"
 *                            joined with " and ", ' doubled (build_filter)
 *   prompt_template          string: replaces the answer's system prompt,
 *                            or is appended to it when it starts ">>>"
 *   suggest_followup_questions  bool
 *   reasoning_effort         string, sent to reasoning deployments only
 *   language                 string (the frontend's UI language; the
 *                            sample's backend reads no more of it)
 *
 * null is as absent. A value of the wrong type is a 400 naming it; other
 * keys (temperature, seed, max_tokens: chatreq.h's; the frontend's
 * use_gpt4v, vector_fields, ...) are left alone, as the sample leaves
 * them.
 *
 * Ownership: struct overrides owns its strings (copies: the RAG run
 * outlives the request's cJSON tree); overrides_free frees them, and
 * overrides_parse frees what it took when it fails.
 */
#ifndef LLMFORK_OVERRIDES_H
#define LLMFORK_OVERRIDES_H

#include <stddef.h>

struct cJSON;
struct cfg;

enum overrides_mode { OVERRIDES_HYBRID,
                      OVERRIDES_TEXT,
                      OVERRIDES_VECTORS };

struct overrides {
    int top;
    enum overrides_mode mode;
    int semantic_ranker, semantic_captions, query_rewriting;
    int followups;
    double min_search_score, min_reranker_score;
    char *filter;          /* the category clauses, or NULL */
    char *prompt_template; /* NULL: the sample's prompt */
    char *reasoning_effort;
    char *language;
};

/* ov: context.overrides (may be NULL). 0, or -1 with err for a 400
 * ("context.overrides.top: must be an integer from 1 to 50"), or -1 with
 * err "" when out of memory. */
int overrides_parse(const struct cJSON *ov, const struct cfg *c,
                    struct overrides *o, char *err, size_t errlen);
void overrides_free(struct overrides *o);

/* Whether the deployment or model named is a reasoning model (the
 * sample's gpt-5 family, and the o-series it served before): those take
 * reasoning_effort and no temperature. */
int overrides_reasoning_model(const char *name);

/* The answer's system prompt: base, replaced or extended by
 * prompt_template, then the sample's follow-up instruction when asked.
 * malloc'd, NULL when out of memory. */
char *overrides_prompt(const struct overrides *o, const char *base);

#endif
