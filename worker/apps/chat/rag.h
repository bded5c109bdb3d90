/*
 * rag — the azure-search-openai-demo flow ("chat read-retrieve-read") for
 * the chat app when rag = search. Per question:
 *
 *   1. the model rewrites the conversation's last question into a search
 *      query (non-streaming, temperature 0, the sample's rewrite prompt;
 *      a reasoning model refuses temperature 0 and max_tokens with a 400
 *      naming them, and then gets, from this worker, neither);
 *      at the same time, when an embedding deployment is configured, the
 *      original question is embedded for the vector query (a design
 *      choice: embedding the question rather than the rewritten query lets
 *      both calls run in parallel, saving one round trip);
 *   2. the search (worker/apps/chat/search.h): text query + vector query;
 *   3. the answer call's body: the sample's grounding system prompt, the
 *      past messages, and the question followed by "Sources:" and one
 *      "sourcepage: content" line per document, for [sourcepage] citations.
 *
 * The demo's context.overrides (overrides.h) shape each step: top,
 * retrieval_mode (text: no embedding call; vectors: no text query),
 * the semantic ranker, captions and query rewriting, the minimum scores,
 * the category filter, the answer's prompt (prompt_template, the
 * follow-up instruction) and reasoning_effort.
 *
 * The context it hands back (for the first stream line, or /chat's reply):
 *   "data_points": {"text": ["sourcepage: content", ...],
 *                   "citations": ["sourcepage", ...]},
 *   "followup_questions": null,
 *   "thoughts": [{"title", "description", "props": {..., "start_ms",
 *                 "duration_ms"}}, ...]   (the sample's ThoughtStep shape;
 *                 start_ms from the question's arrival, so the parallel
 *                 steps show as such)
 *
 * Failures of any step end the run with the status and message for the
 * client (502/504, 400 for a rejected request, 429 with the Retry-After
 * for a busy model, embeddings deployment or search service).
 *
 * Search and embeddings without keys take Entra ID tokens (search.h,
 * embed.h) from the model's token source: with provider azure or azure-v1
 * and no AZURE_OPENAI_API_KEY. A token that cannot be had fails the run
 * with 502 before the answer starts.
 *
 * Ownership: struct rag (per worker) borrows the cfg and the model, and
 * holds a reference to the worker's struct entra when the model uses it.
 * struct rag_run is this module's: valid until one of its callbacks
 * returns or rag_cancel (which cancels every call in flight, no callback).
 * It copies what it needs from the chat_input. ready's body (malloc'd) and
 * context (a cJSON object) become the caller's.
 */
#ifndef LLMFORK_RAG_H
#define LLMFORK_RAG_H

#include <stddef.h>

struct cfg;
struct cJSON;
struct model;
struct chat_input;
struct rag;
struct rag_run;

struct rag_cbs {
    /* followups: the client asked for follow-up questions (cut them out
     * of the answer: followup.h) */
    void (*ready)(void *arg, char *body, size_t len, struct cJSON *context,
                  int followups);
    /* retry_after: the Retry-After for a 429, else NULL; valid during
     * the call. */
    void (*fail)(void *arg, int status, const char *msg,
                 const char *retry_after);
};

/* NULL and err when the search settings are incomplete. */
struct rag *rag_init(const struct cfg *c, struct model *m, char *err,
                     size_t errlen);
void rag_free(struct rag *g);

/* Starts the steps for in (whose last message must be the user's
 * question). stream: the answer body asks for a stream. NULL when the
 * request does not fit (err says why, for a 400), or when out of memory
 * or a call cannot start (err empty); no callback then. */
struct rag_run *rag_start(struct rag *g, const struct chat_input *in,
                          int stream, const struct rag_cbs *cbs, void *arg,
                          char *err, size_t errlen);
void rag_cancel(struct rag_run *run);

#endif
