/*
 * ragpg — the rag-postgres-openai-python backend (rag = postgres): its
 * /chat and /chat/stream over a product catalogue in PostgreSQL, and the
 * item routes (worker/apps/items.h). The app is listed before chat_app,
 * so with rag = postgres its routes are the ones that answer.
 *
 * Request (the sample's ChatRequest; "messages" is taken too):
 *   {"input": [{"role":"user","content":"..."} | {"type":"message","role",
 *               "content":[{"type":"input_text"|"output_text","text"}]}...],
 *    "context": {"overrides": {"top": 3, "temperature": 0.3,
 *      "retrieval_mode": "hybrid"|"text"|"vectors", "use_advanced_flow":
 *      true, "prompt_template": null}}}
 * The last item is the user's question; the others are the history.
 *
 * Flow (rag_simple.py / rag_advanced.py):
 *   advanced: the model is asked, with the search_database tool, for the
 *     search's arguments (search_query, price_filter, brand_filter); a
 *     model that answers without the tool gives its text as the query (or
 *     the question when it gives none);
 *   simple: the question is the query;
 *   then the search (worker/pg/pgstore.h), and the answer is asked with
 *   the sample's prompt, the history and "QUESTIONSources:\n[id]:Name:..."
 *
 * Answers:
 *   /chat/stream  application/x-ndjson: {"type":"response.context",
 *                 "delta":null,"context":{"data_points":{ID:item},
 *                 "thoughts":[{title,description,props}]}}, then
 *                 {"type":"response.output_text.delta","delta":"...",
 *                 "context":null} per token; a failure after the start is
 *                 a last {"error":"..."} line.
 *   /chat         {"output_text":"...","context":{data_points, thoughts}}
 * Errors before the answer starts are {"error"} with 400 (a bad field,
 * named; vectors asked where they cannot be had), 5xx from the model or
 * the database. A client that leaves cancels whatever runs: the model
 * call, the embedding, or the query (on the server too).
 *
 * Ownership: the app's state (model, catalogue, prompts) lives from
 * startup to shutdown; one struct ragpg per request, freed when its
 * calls are over and the response has ended (relay.h).
 */
#ifndef LLMFORK_RAGPG_H
#define LLMFORK_RAGPG_H

#include "worker/app.h"

extern const struct app ragpg_app;

#endif
