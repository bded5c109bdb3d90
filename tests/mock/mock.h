/*
 * mock.h — internals shared by the mock upstream's modules (tests/mock/).
 * The user-facing description (endpoints, controls, faults, the answer's
 * words) is at the top of tests/mock/mock.c.
 *
 * Ownership:
 *  - struct job is one API request being answered later (a stream, or a
 *    non-streaming reply that waits ttft + tokens x delay). jobs.c owns it:
 *    it holds the job's timer and EOF watch, and frees the job when the
 *    reply ended, the client went away, or the server shuts down (evhttp_free
 *    closes every connection, whose close callback frees its job).
 *  - The evhttp_request belongs to evhttp while it is attached to its
 *    connection; a job whose client went away mid-stream holds a detached
 *    request and frees it (libevent 2.1 hands detached requests to the user).
 *  - stats.c owns the counters, the per-path table and the ring of recent
 *    requests; faults.c owns the fail-count table. All live until exit.
 */
#ifndef LLMFORK_MOCK_H
#define LLMFORK_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <event2/event.h>
#include <event2/event_struct.h>

struct evhttp_request;
struct evhttp_connection;
struct evbuffer;

enum flavour { FL_OPENAI,
               FL_AZURE };

enum fault_kind {
    FAULT_NONE,
    FAULT_STATUS,     /* an HTTP error status with the service's body */
    FAULT_FILTER,     /* 400 content_filter */
    FAULT_CUT,        /* stream `after` tokens, then close without [DONE] */
    FAULT_MALFORMED,  /* chunk number `after` is invalid JSON */
    FAULT_STALL,      /* send `after` tokens, then nothing; keep it open */
    FAULT_EVENT,      /* stream `after` tokens, then an error event, end */
    FAULT_FILTER_MID, /* stream `after` tokens, then finish content_filter */
};

struct fault {
    enum fault_kind kind;
    int status;   /* FAULT_STATUS */
    int retry_ms; /* 429/503: retry-after-ms (retry-after = ceil s) */
    int after;    /* token index; -1 = the kind's default */
    int ms_only;  /* send retry-after-ms without retry-after */
};

/* ---- faults.c ---- */
/* Parses an x-mock-fault value. Returns 0, or -1 on a bad spec. */
int fault_parse(const char *spec, struct fault *f);
/* The fail-count rule: 1 if the request numbered by `key` is one of the
 * first `count` seen with that key (count < 0: always). */
int fault_due(const char *key, long count);
void fault_reset(void);
/* Sends the error reply an injected status / content_filter fault means. */
void fault_reply(struct evhttp_request *req, enum flavour fl,
                 const struct fault *f);
/* An error reply in the flavour's shape. OpenAI: message, type, param,
 * code (NULL -> null); Azure: code (NULL -> the status) and message. */
void error_reply(struct evhttp_request *req, enum flavour fl, int status,
                 const char *message, const char *type, const char *param,
                 const char *code);

/* ---- format.c: the canned answer and the wire formats ---- */
#define ANSWER_WORDS 20
void answer_init(void);
/* Token i's text as JSON-escaped string content (no quotes). */
const char *answer_token_json(int i);
/* Appends the raw (unescaped) answer of ntokens tokens. */
void answer_append_raw(struct evbuffer *out, int ntokens);
/* JSON-escapes NUL-terminated s into dst (cap bytes incl. NUL); stops
 * early rather than split an escape. Returns the length written. */
size_t json_escape(char *dst, size_t cap, const char *s);
/* Adds the headers the real services send with every reply. */
void reply_headers(struct evhttp_request *req, enum flavour fl,
                   const char *content_type, int remaining);

/* ---- jobs.c ---- */
struct job {
    struct event timer;
    struct event watch; /* non-streaming: client EOF before reply */
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    struct job *prev, *next; /* all live jobs, for shutdown */
    enum flavour fl;
    struct fault fault;
    int stream, include_usage;
    int obfuscate; /* OpenAI's "obfuscation" padding field */
    int tokens, delay_ms, ttft_ms;
    int sent;        /* content tokens written */
    int64_t next_ms; /* stream: the next step's deadline,
                                    CLOCK_MONOTONIC ms */
    int role_sent;
    int responses; /* the Responses API (responses.c) */
    int seq;       /* responses: the next sequence_number */
    int prompt_tokens;
    int length_cut; /* max_tokens < tokens: finish "length" */
    time_t created;
    char id[40];
    char model[128];       /* JSON-escaped */
    struct script *script; /* NULL: the canned words (script.c) */
    char *whole;           /* non-streaming: this body (a tool
                                    call's, tools.c), else built */
};

/* Takes a filled job (req, fl, fault, stream, counts, model) and runs it. */
void job_start(struct job *j);
/* Frees every live job (shutdown, after evhttp_free). */
void job_free_all(void);

/* ---- format.c (continued) ---- */
/* The whole non-streaming chat.completion body. */
void body_write(const struct job *j, struct evbuffer *out);
/* One SSE chunk. delta: the delta object's JSON; finish: NULL or the
 * finish_reason; full_cfr: Azure's per-content filter results. */
void chunk_write(const struct job *j, struct evbuffer *out, const char *delta,
                 const char *finish, int full_cfr);
void chunk_write_usage(const struct job *j, struct evbuffer *out);
void chunk_write_prompt_filter(struct evbuffer *out);
/* The error event OpenAI sends when it fails mid-stream. */
void chunk_write_error(struct evbuffer *out);
/* The first bytes of chunk i, cut inside its JSON (the malformed fault). */
void chunk_write_malformed(const struct job *j, struct evbuffer *out);

/* ---- responses.c: the Responses API's events and object ---- */
void resp_write_start(struct job *j, struct evbuffer *out);
void resp_write_open(struct job *j, struct evbuffer *out);
/* Token j->sent's delta; malformed: its JSON cut off. */
void resp_write_token(struct job *j, struct evbuffer *out, int malformed);
void resp_write_finish(struct job *j, struct evbuffer *out);
void resp_write_failed(struct job *j, struct evbuffer *out);
/* The whole response object (non-streaming). */
void resp_write_body(struct job *j, struct evbuffer *out);

/* ---- directive.c ---- */
struct cJSON;
#define DIRECTIVE_MAX 8
/* "[mock k=v ...]" from the last user message; key/val point into buf. */
struct directive {
    char buf[256];
    const char *key[DIRECTIVE_MAX], *val[DIRECTIVE_MAX];
    int n;
};
/* Fills d (n = 0 when there is none). Returns -1 on a malformed directive
 * or an unknown key. body may be NULL. */
int directive_parse(const struct cJSON *body, struct directive *d);
/* The value for key, or NULL. */
const char *directive_get(const struct directive *d, const char *key);

/* tools.c: the chat.completion with a tool call for a request offering
 * tools (malloc'd JSON), or NULL when it gets another answer. */
char *tools_reply(const struct cJSON *body, const struct directive *d,
                  const char *model);

/* ---- script.c: reasoning streams and the RAG prompts' answers ---- */
struct script;
/* Picks the job's answer from the body and the reasoning control (NULL,
 * "think", "field" or "none"); sets j->script and j->tokens when it is not
 * the canned one. Returns -1 on a bad control or no memory. */
int script_fill(struct job *j, const struct cJSON *body, const char *mode);
/* Chunk i's delta object (JSON). */
const char *script_delta(const struct script *sc, int i);
/* The non-streaming message's content (escaped, no quotes); with
 * reasoning_content it closes the content string and opens that one. */
void script_body(const struct script *sc, struct evbuffer *out);
void script_free(struct script *sc);
/* The RAG rewrite prompt's query for q (the text after "Generate search
 * query for: "): q's first line without bracketed text. */
void script_rewrite(struct evbuffer *out, const char *q);

/* ---- search.c: Azure AI Search and the embeddings API ---- */
/* Loads the index served at /indexes/{name}/docs/search (JSON: {"name",
 * "value":[documents]}). Returns 0, or -1 with a message on stderr. */
int search_load(const char *file);
/* Serves the search and embeddings requests (recorded like API requests).
 * Returns 0 if path was one of them. */
int search_route(struct evhttp_request *req, const char *path,
                 const char *query, const char *const *keys, int nkeys);
void search_free(void);

/* ---- jwks.c: the tenant's signing keys (--jwks FILE) ---- */
void jwks_config(const char *file);
/* Serves GET /{tenant}/discovery/v2.0/keys. Returns 0 if path was it. */
int jwks_route(struct evhttp_request *req, const char *path,
               const char *query);

/* ---- blob.c: Blob Storage's Get Blob (--blobs ACCOUNT:DIR[:KEY]) ---- */
int blob_config(const char *spec);
/* Serves GET /ACCOUNT/CONTAINER/NAME. Returns 0 if path was it. */
int blob_route(struct evhttp_request *req, const char *path,
               const char *query);

/* ---- mock.c ---- */
/* Process defaults (command line); a request may override each. */
struct mock_opts {
    int tokens, delay_ms, ttft_ms;
    const char *fault;         /* --fault: the default x-mock-fault */
    struct fault search_fault; /* --search-fault: kind NONE or STATUS */
    struct fault embed_fault;  /* --embed-fault: likewise */
};
extern struct mock_opts mock_opts;

/* ---- api.c ---- */
/* Answers one chat-completions request (or the 404/405 for other paths).
 * keys: the accepted API keys; nkeys 0 accepts any. */
void api_handle(struct evhttp_request *req, const char *path,
                const char *query, const char *const *keys, int nkeys);

/* ---- stats.c ---- */
struct mock_stats {
    long requests, completed, cancelled, active, errors, faults;
    long connections; /* TCP connections accepted */
};
extern struct mock_stats mock_stats;
/* Keeps a copy of an API request for /_mock/requests and last_request. */
void stats_record(struct evhttp_request *req, const char *path,
                  const char *query, const char *body, size_t blen);
/* Serves GET /_mock/stats, GET /_mock/requests, POST /_mock/reset,
 * GET /_mock/answer?tokens=N. Returns 0 if path was one of them. */
int stats_route(struct evhttp_request *req, const char *path,
                const char *query);
void stats_free(void);

#endif
