/*
 * chatreq — the chat app's request: validation of the
 * @microsoft/ai-chat-protocol body and the upstream body built from it.
 *
 *   {"messages":[{"role":"user","content":"Hi"}, ...],
 *    "context":{"overrides":{"temperature":0.2,"max_tokens":200,"seed":1}},
 *    "session_state": <any JSON>}          ("sessionState" is accepted too)
 *
 * Pure: no I/O, so tests/unit/worker/apps/chat/test_chatreq.c covers every rule.
 *
 * Ownership: struct chat_input borrows from the cJSON tree it was parsed
 * from; the tree must outlive it. chatreq_body() and chatreq_head() return
 * malloc'd strings the caller owns.
 */
#ifndef LLMFORK_CHATREQ_H
#define LLMFORK_CHATREQ_H

#include <stddef.h>

struct cJSON;
struct cfg;
struct model;

struct chat_input {
    struct cJSON *messages;      /* validated array of {role, content} */
    struct cJSON *context;       /* object or NULL */
    struct cJSON *session_state; /* any JSON or NULL */
    const char *security_filter; /* not parsed: the user's search filter
                                   (login.h), set by chat.c; NULL = none */
    double temperature;
    int max_tokens;
    long long seed;
    unsigned has_temperature : 1;
    unsigned has_max_tokens : 1;
    unsigned has_seed : 1;
};

/* Validates root. Returns 0, or -1 with a message naming the field
 * ("messages[1].role: unknown role 'bot'") for a 400. */
int chatreq_parse(struct cJSON *root, const struct cfg *c,
                  struct chat_input *in, char *err, size_t errlen);

/* The upstream chat.completions body: system prompt, the messages, the
 * overrides, "stream" and the model as the provider wants it, as the
 * Azure chat samples send it (no stream_options: the chat app reads no
 * usage, and asking for it costs every stream one more event). Returns
 * NULL when out of memory. */
char *chatreq_body(const struct chat_input *in, const struct cfg *c,
                   const struct model *m, int stream, size_t *len);

/* The first line of a chat response (NDJSON, '\n' included) and the
 * envelope of /chat's answer:
 *   {"delta":{"role":"assistant"},"context":{"provider":..,"model":..},
 *    "session_state":<the request's, or null>}
 * Returns a malloc'd string the caller owns, or NULL when out of memory. */
char *chatreq_head(const struct chat_input *in, const char *provider,
                   const char *model);

#endif
