/*
 * oaimsgs — checks a chat-completions request's "messages" as OpenAI
 * does, so that the gateway answers a malformed one itself (400, with
 * OpenAI's message, code and param) instead of spending an upstream call
 * on it: "messages" a non-empty array of objects, each with a role of
 * system, developer, user, assistant, tool or function, and a content
 * that is a string or an array of objects (the parts: text, image_url,
 * input_audio, file, refusal ... are left to the provider). An assistant
 * may have no content or a null one (its tool_calls carry the turn), and
 * a function message a null one. Nothing else is checked: what OpenAI
 * accepts is never refused here.
 *
 * Ownership: reads the caller's tree; fills the caller's struct.
 */
#ifndef LLMFORK_OAIMSGS_H
#define LLMFORK_OAIMSGS_H

struct cJSON;

struct oaimsgs_error {
    const char *code; /* OpenAI's: "empty_array", "invalid_type",
                               "invalid_value", "missing_required_parameter" */
    char param[64];   /* e.g. "messages[0].role" */
    char msg[256];
};

/* 0 when root's messages pass, else -1 with e filled. */
int oaimsgs_check(const struct cJSON *root, struct oaimsgs_error *e);

#endif
