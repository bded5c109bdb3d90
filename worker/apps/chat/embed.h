/*
 * embed — the embedding of a question, for the RAG flow's vector query:
 * POST {AZURE_OPENAI_ENDPOINT}/openai/deployments/{emb}/embeddings?
 * api-version=... (providers azure, azure-v1; api-key header, or without
 * a key an Entra ID token for the cognitiveservices scope, as the chat
 * calls take it) or
 * {OPENAI_BASE_URL}/embeddings with "model": emb (provider openai;
 * Bearer key). emb is embedding_deployment (AZURE_OPENAI_EMB_DEPLOYMENT);
 * embedding_dimensions, when set, is sent as "dimensions".
 *
 * Ownership: struct embed (per worker) owns its URL and headers and
 * borrows the entra, which must outlive it. struct
 * embed_call is valid until the callback returns or embed_cancel. The
 * vector handed to the callback becomes the caller's (cJSON_Delete it).
 */
#ifndef LLMFORK_EMBED_H
#define LLMFORK_EMBED_H

#include <stddef.h>

struct cfg;
struct cJSON;
struct entra;
struct embed;
struct embed_call;

/* vector: an array of numbers, or NULL with status, msg and retry_after
 * (a 429's Retry-After, else NULL), as jsoncall.h gives them. */
typedef void (*embed_cb)(void *arg, struct cJSON *vector, int status,
                         const char *msg, const char *retry_after);

/* entra: the worker's token source (borrowed, may be NULL), used by
 * azure providers without a key. NULL and err when the provider cannot
 * embed (the built-in mock) or the settings are incomplete. */
struct embed *embed_init(const struct cfg *c, struct entra *entra,
                         char *err, size_t errlen);
void embed_free(struct embed *e);

struct embed_call *embed_start(struct embed *e, const char *text,
                               embed_cb cb, void *arg);
void embed_cancel(struct embed_call *ec);

#endif
