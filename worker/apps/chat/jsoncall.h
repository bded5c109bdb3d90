/*
 * jsoncall — one JSON POST to a service other than the model (the search
 * service, the embeddings API) on the worker's loop: the body collected
 * (bounded), parsed, and a failure mapped to the status and message the
 * chat client gets (502, or 504 for timeouts, naming the service; the
 * service's own error message is passed on, except for 401/403). A 429
 * that outlived fetch's retries stays a 429 with the service's
 * Retry-After, as a busy model's does: the client should wait, not give up.
 *
 * A service without a key may take Entra ID tokens (worker/model/auth/entra.h): the
 * call then sends "Authorization: Bearer T" for the service's scope,
 * waiting on the loop for the worker's one token request when none is
 * cached; a token that cannot be had ends the call with 502 and entra's
 * reason, before anything was sent to the service.
 *
 * Ownership: struct jsoncall is this module's; the caller's pointer is
 * valid until its callback returns or jsoncall_cancel is called (which
 * also leaves a token wait). The request body tree is taken. The reply
 * tree passed to the callback becomes the caller's (cJSON_Delete it); msg
 * is valid during the call. The svc must outlive its calls.
 */
#ifndef LLMFORK_JSONCALL_H
#define LLMFORK_JSONCALL_H

#define JSONCALL_MAX (8 * 1024 * 1024)

struct cJSON;
struct entra;
struct jsoncall;

/* A service: what names it in messages ("the search service", a static
 * string), its URL and its auth header line ("api-key: K"; may be NULL),
 * both malloc'd and freed by jsoncall_svc_free. Without auth, entra (a
 * reference the svc's owner holds and closes; may be NULL) gives tokens
 * for scope (a static string). */
struct jsoncall_svc {
    const char *what;
    char *url;
    char *auth;
    struct entra *entra;
    const char *scope;
    /* Added to a 401/403 met with a token (static, may be NULL): what the
     * service needs before it takes one, which its refusal does not say. */
    const char *token_hint;
};

/* url = base without its trailing slashes, then the formatted path.
 * Returns -1 when out of memory. */
int jsoncall_svc_url(struct jsoncall_svc *svc, const char *base,
                     const char *path_fmt, ...)
    __attribute__((format(printf, 3, 4)));
void jsoncall_svc_free(struct jsoncall_svc *svc);

/* reply: the parsed body of a 2xx reply, else NULL with status (the
 * client's) and msg set; retry_after: for a 429, the seconds the client
 * should wait (the service's Retry-After, else its retry-after-ms rounded
 * up), else NULL. msg and retry_after are valid during the call. */
typedef void (*jsoncall_cb)(void *arg, struct cJSON *reply, int status,
                            const char *msg, const char *retry_after);

/* POSTs body (a tree, taken and deleted here; NULL for out of memory)
 * to svc with Content-Type and auth (or a token). Returns NULL when the
 * call cannot start; no callback then. */
struct jsoncall *jsoncall_start(const struct jsoncall_svc *svc,
                                struct cJSON *body, jsoncall_cb cb,
                                void *arg);
void jsoncall_cancel(struct jsoncall *jc);

#endif
