/*
 * jsoncall — one JSON POST to a service other than the model (the search
 * service, the embeddings API) on the worker's loop: the body collected
 * (bounded), parsed, and a failure mapped to the status and message the
 * chat client gets (502, or 504 for timeouts, naming the service; the
 * service's own error message is passed on, except for 401/403).
 *
 * Ownership: struct jsoncall is this module's; the caller's pointer is
 * valid until its callback returns or jsoncall_cancel is called. The
 * request body tree is taken. The reply tree passed to the callback
 * becomes the caller's (cJSON_Delete it); msg is valid during the call.
 */
#ifndef LLMFORK_JSONCALL_H
#define LLMFORK_JSONCALL_H

#define JSONCALL_MAX (8 * 1024 * 1024)

struct cJSON;
struct jsoncall;

/* A service: what names it in messages ("the search service", a static
 * string), its URL and its auth header line ("api-key: K"; may be NULL),
 * both malloc'd and freed by jsoncall_svc_free. */
struct jsoncall_svc {
    const char *what;
    char *url;
    char *auth;
};

/* url = base without its trailing slashes, then the formatted path.
 * Returns -1 when out of memory. */
int jsoncall_svc_url(struct jsoncall_svc *svc, const char *base,
                     const char *path_fmt, ...)
    __attribute__((format(printf, 3, 4)));
void jsoncall_svc_free(struct jsoncall_svc *svc);

/* reply: the parsed body of a 2xx reply, else NULL with status (the
 * client's) and msg set. */
typedef void (*jsoncall_cb)(void *arg, struct cJSON *reply, int status,
                            const char *msg);

/* POSTs body (a tree, taken and deleted here; NULL for out of memory)
 * to svc with Content-Type and auth. svc's strings are copied. Returns
 * NULL when the call cannot start. */
struct jsoncall *jsoncall_start(const struct jsoncall_svc *svc,
                                struct cJSON *body, jsoncall_cb cb,
                                void *arg);
void jsoncall_cancel(struct jsoncall *jc);

#endif
