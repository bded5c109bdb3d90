/*
 * jsoncall — one JSON POST to a service other than the model (the search
 * service, the embeddings API) on the worker's loop: the body collected
 * (bounded), parsed, and a failure mapped to the status and message the
 * chat client gets (502, or 504 for timeouts, naming the service; the
 * service's own error message is passed on, except for 401/403).
 *
 * Ownership: struct jsoncall is this module's; the caller's pointer is
 * valid until its callback returns or jsoncall_cancel is called. The
 * request body (malloc'd) is taken. The reply tree passed to the callback
 * becomes the caller's (cJSON_Delete it); msg is valid during the call.
 */
#ifndef LLMFORK_JSONCALL_H
#define LLMFORK_JSONCALL_H

#define JSONCALL_MAX (8 * 1024 * 1024)

struct cJSON;
struct jsoncall;

/* reply: the parsed body of a 2xx reply, else NULL with status (the
 * client's) and msg set. */
typedef void (*jsoncall_cb)(void *arg, struct cJSON *reply, int status,
                            const char *msg);

/* what names the service in messages ("the search service"). The strings
 * are copied. Returns NULL (body freed) when the call cannot start. */
struct jsoncall *jsoncall_start(const char *what, const char *url,
                                const char *const *headers, char *body,
                                jsoncall_cb cb, void *arg);
void jsoncall_cancel(struct jsoncall *jc);

#endif
