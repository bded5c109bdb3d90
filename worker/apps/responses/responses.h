/*
 * responses — OpenAI's Responses API over a provider that speaks only chat
 * completions: the request's "input" becomes chat messages, and the chat
 * answer (SSE chat.completion.chunk events, or one chat.completion)
 * becomes the event sequence the real service streams, or its "response"
 * object. The gateway (/v1/responses, translated way) and the chat app
 * ("input" requests) both use it.
 *
 * Events, each with its sequence_number (from 0), in the real service's
 * order:
 *   response.created, response.in_progress        (the response object,
 *                                                  status "in_progress")
 *   for a reasoning model's thinking (delta.reasoning_content, or
 *   "<think>...</think>" at the start of the content, split by
 *   worker/apps/chat/reasoning.h), a reasoning item:
 *     response.output_item.added {item: type "reasoning", id "rs_..."},
 *     response.content_part.added {part: type "reasoning_text"},
 *     response.reasoning_text.delta..., response.reasoning_text.done,
 *     response.content_part.done, response.output_item.done
 *   the answer, a message item (id "msg_..."):
 *     response.output_item.added, response.content_part.added
 *     {part: type "output_text", text "", annotations []},
 *     response.output_text.delta {item_id, output_index, content_index,
 *     delta, logprobs []}..., response.output_text.done {text},
 *     response.content_part.done, response.output_item.done
 *   response.completed (status "completed", usage when the upstream sent
 *   it), or response.incomplete (finish_reason "length": reason
 *   "max_output_tokens"; "content_filter": reason "content_filter"), or
 *   response.failed (status "failed", error {code, message}) when the
 *   upstream fails mid-stream.
 * Every answer has a message item, empty when the model said nothing.
 *
 * Pure: no I/O, no libevent; tests/unit/worker/apps/responses/ covers it.
 *
 * Ownership: the caller owns struct responses_stream (embed it) and frees
 * what it holds with responses_free. The JSON handed to emit is the
 * stream's and valid only during the call. Request conversions return
 * cJSON trees the caller owns (they copy what they take from the input).
 */
#ifndef LLMFORK_RESPONSES_H
#define LLMFORK_RESPONSES_H

#include <stddef.h>

#include "worker/apps/chat/delta.h"
#include "worker/apps/chat/reasoning.h"

struct cJSON;

/* One event: its JSON object (no framing) and its "type". */
typedef void (*responses_emit)(void *arg, const char *type, const char *json,
                               size_t len);

/* Private growable text; read through the functions below. */
struct responses_buf {
    char *p;
    size_t n, cap;
};

struct responses_stream {
    responses_emit emit; /* NULL: nothing is emitted (whole answer) */
    void *arg;
    char id[48], msg_id[48], rs_id[48];
    char model[160]; /* JSON-escaped */
    long long created;
    long seq;     /* the next sequence_number */
    int nout;     /* output items opened so far */
    int open;     /* 0 none, 1 reasoning, 2 message */
    int msg_done; /* a message item was closed */
    long in_tok, out_tok, cached_tok, reasoning_tok;
    const char *incomplete;      /* the incomplete_details reason, or NULL */
    struct responses_buf text;   /* the open item's text, raw */
    struct responses_buf answer; /* every message item's text, raw */
    struct responses_buf items;  /* finished output items' JSON, ','-joined */
    struct responses_buf line;   /* scratch: one event */
    struct reasoning split;
    struct delta_memo memo;
    unsigned has_usage : 1;
    unsigned ended : 1; /* completed, incomplete or failed went out */
    unsigned oom : 1;
};

/* model: the model the answer names; created: Unix seconds; n: a number
 * that makes the ids unique in this process (with created). */
void responses_init(struct responses_stream *s, const char *model,
                    long long created, unsigned long long n,
                    responses_emit emit, void *arg);
void responses_free(struct responses_stream *s);

/* response.created and response.in_progress. */
void responses_begin(struct responses_stream *s);

/* One upstream chat.completion.chunk (an SSE event's data, not [DONE]).
 * Returns 0, or -1 when the chunk is an error or not JSON: then
 * response.failed has gone out and the stream is over. */
int responses_chunk(struct responses_stream *s, const char *data, size_t len);

/* [DONE]: the open items close, then response.completed or
 * response.incomplete. */
void responses_done(struct responses_stream *s);

/* The upstream failed mid-stream: response.failed with error {code,
 * message}. A no-op once the stream has ended. */
void responses_fail(struct responses_stream *s, const char *code,
                    const char *msg);

/* A whole chat.completion body -> the "response" object (malloc'd,
 * NUL-terminated, *len set), on a stream made with emit NULL. NULL when
 * the body is not a chat completion with a message (err says why) or
 * when out of memory (err "out of memory"). */
char *responses_whole(struct responses_stream *s, const char *body,
                      size_t len, char *err, size_t errlen);

/* The answer's text so far (raw, NUL-terminated): the message item's,
 * for /chat's output_text. Valid until the stream is used again. */
const char *responses_output_text(struct responses_stream *s);

/* Responses "input" (a string, or message items: {"type":"message"} or
 * {"role","content"}, content a string or input_text/output_text parts;
 * roles user, assistant, system, developer) and "instructions" (a string
 * or NULL) -> a chat "messages" array of {role, content string}. NULL
 * with err naming the field ("input[1].content[0].type: ...") for a 400,
 * or "out of memory". */
struct cJSON *responses_messages(const struct cJSON *input,
                                 const struct cJSON *instructions,
                                 char *err, size_t errlen);

/* A Responses request -> the chat-completions body: messages, stream
 * (with stream_options.include_usage), max_output_tokens as max_tokens,
 * temperature, top_p. No "model": the caller fills it. NULL and err as
 * responses_messages, or for a bad parameter. */
struct cJSON *responses_chat_body(const struct cJSON *req, char *err,
                                  size_t errlen);

#endif
