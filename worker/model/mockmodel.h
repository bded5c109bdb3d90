/*
 * mockmodel — the built-in mock provider: a canned answer streamed from a
 * loop timer, in OpenAI's wire format, with no network. It lets `make run`
 * work with no credentials.
 *
 * The answer for N tokens is the first N words of mockmodel_word(i)
 * joined by single spaces (words cycle).
 *
 * Ownership: struct mockmodel_call is owned by this module; the pointer is
 * valid until the done callback returns or mockmodel_cancel is called.
 * Cancel is safe from inside its own callbacks (the free is deferred until
 * the callback returns).
 */
#ifndef LLMFORK_MOCKMODEL_H
#define LLMFORK_MOCKMODEL_H

#include "worker/model/model.h"

struct mockmodel_call;

struct mockmodel_opts {
    int tokens;
    int delay_ms;
    int stream;
    int include_usage;
    const char *model; /* echoed in "model"; must outlive the call */
};

/* Events go to cbs with owner as the call pointer. */
struct mockmodel_call *mockmodel_start(const struct mockmodel_opts *o,
                                       const struct model_cbs *cbs,
                                       struct model_call *owner, void *arg);
void mockmodel_cancel(struct mockmodel_call *mc);
void mockmodel_pause(struct mockmodel_call *mc);
void mockmodel_resume(struct mockmodel_call *mc);

/* Word i of the canned answer (cycling). */
const char *mockmodel_word(int i);

#endif
