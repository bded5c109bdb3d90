/*
 * entra — Entra ID (Azure AD) bearer tokens for the worker's outbound
 * calls, when no API key is configured: Azure OpenAI (scope
 * ENTRA_SCOPE_COGNITIVE) and Azure AI Search (ENTRA_SCOPE_SEARCH).
 * Which credential is used, and how it is asked, is in entra_wire.h.
 *
 * One token cache per worker process, per scope: entra_open() returns the
 * process's struct entra (created on first use, reference-counted), so the
 * chat app, the gateway and the RAG search share tokens.
 *
 *   const char *tok = entra_peek(e, ENTRA_SCOPE_COGNITIVE);
 *   if (tok)
 *       ... use it now ("Authorization: Bearer " tok) ...
 *   else
 *       w = entra_get(e, ENTRA_SCOPE_COGNITIVE, on_token, state);
 *
 *   static void on_token(const char *token, const char *err, void *arg)
 *   { token != NULL: use it; else err says why (for the 502 and the log) }
 *
 * Behaviour:
 *  - entra_peek returns a cached token while it is usable (a little before
 *    expiry); past its refresh time (5 min before expiry, or half-life for
 *    short tokens) it also starts one refresh in the background, so callers
 *    rarely wait. A failed background refresh is logged and tried again at
 *    most every 30 s (sooner for short tokens) while the old token lasts.
 *  - entra_get queues the caller. However many wait, one token request is
 *    in flight per scope; all waiters get its outcome. cb is called exactly
 *    once, from the loop, never from inside entra_get; a failure is
 *    logged once per request, not once per waiter.
 *  - A token request is bounded (ENTRA_TIMEOUT_MS in total, retries as
 *    fetch does them), so a waiter never hangs.
 *
 * Ownership: struct entra and its cache belong to this module; the
 * caller's pointer is valid until its entra_close. A struct entra_wait is
 * valid until its callback returns or entra_cancel is called. The token
 * string passed to cb or returned by entra_peek is valid until control
 * returns to the loop: copy it if it must live longer. Not thread-safe
 * (one loop per process); entra_close must not be called from inside cb.
 */
#ifndef LLMFORK_ENTRA_H
#define LLMFORK_ENTRA_H

#include <stddef.h>

struct cfg;
struct entra;
struct entra_wait;

#define ENTRA_SCOPE_COGNITIVE "https://cognitiveservices.azure.com/.default"
#define ENTRA_SCOPE_SEARCH "https://search.azure.com/.default"
#define ENTRA_TIMEOUT_MS 15000

typedef void (*entra_cb)(const char *token, const char *err, void *arg);

/* The process's token source for cfg's credential (after fetch_init).
 * Returns NULL and writes why into err when the settings are half there.
 * cfg must outlive the last entra_close. */
struct entra *entra_open(const struct cfg *c, char *err, size_t errlen);
/* Drops one reference; the last cancels a token request in flight and
 * forgets waiters without calling them. */
void entra_close(struct entra *e);

/* "client secret", "workload identity", "managed identity (...)". */
const char *entra_source(const struct entra *e);

const char *entra_peek(struct entra *e, const char *scope);
/* NULL only when out of memory. */
struct entra_wait *entra_get(struct entra *e, const char *scope,
                             entra_cb cb, void *arg);
void entra_cancel(struct entra_wait *w);

#endif
