/*
 * responses.c — the Responses API's wire format (POST /v1/responses,
 * /responses, /openai/v1/responses): the event sequence and the response
 * object the real service sends, for the canned answer.
 *
 * Streaming ("event: TYPE" + "data: JSON" per event, sequence_number from
 * 0): response.created and response.in_progress at once; after ttft_ms
 * response.output_item.added (a message item "msg_..."),
 * response.content_part.added (an empty output_text part) and the first
 * response.output_text.delta; one delta per token every delay_ms; then
 * response.output_text.done, response.content_part.done,
 * response.output_item.done and response.completed (usage with
 * input_tokens, output_tokens, total_tokens and their details), or
 * response.incomplete (incomplete_details.reason "max_output_tokens")
 * when max_output_tokens cut the answer. There is no [DONE]. The faults
 * work as for chat completions; error_event sends response.failed with
 * error {code "server_error", message} and ends the stream; malformed
 * makes a delta event's JSON cut off. Non-streaming: the response object.
 * The reasoning scripts do not apply here (the canned answer only).
 */
#include "tests/mock/mock.h"

#include <string.h>
#include <event2/buffer.h>

static void add(struct evbuffer *out, const char *s)
{
    evbuffer_add(out, s, strlen(s));
}

static void ev_open(struct job *j, struct evbuffer *out, const char *type)
{
    evbuffer_add_printf(out, "event: %s\ndata: {\"type\":\"%s\","
                             "\"sequence_number\":%d",
                        type, type, j->seq++);
}

static void text_write(const struct job *j, struct evbuffer *out)
{
    for (int i = 0; i < j->sent; i++)
        evbuffer_add(out, answer_token_json(i), strlen(answer_token_json(i)));
}

static void part_write(const struct job *j, struct evbuffer *out, int text)
{
    add(out, "{\"type\":\"output_text\",\"annotations\":[],"
             "\"logprobs\":[],\"text\":\"");
    if (text)
        text_write(j, out);
    add(out, "\"}");
}

static void item_write(const struct job *j, struct evbuffer *out, int done)
{
    evbuffer_add_printf(out, "{\"id\":\"msg_%s\",\"type\":\"message\","
                             "\"status\":\"%s\",\"content\":[",
                        j->id + 13,
                        done ? "completed" : "in_progress");
    if (done)
        part_write(j, out, 1);
    add(out, "],\"role\":\"assistant\"}");
}

/* status: in_progress, completed, incomplete or failed. */
static void object_write(const struct job *j, struct evbuffer *out,
                         const char *status)
{
    int done = strcmp(status, "in_progress") != 0;
    int failed = strcmp(status, "failed") == 0;

    evbuffer_add_printf(out,
                        "{\"id\":\"resp_%s\",\"object\":\"response\",\"created_at\":%ld,"
                        "\"status\":\"%s\",\"background\":false,\"error\":%s,"
                        "\"incomplete_details\":%s,\"instructions\":null,"
                        "\"max_output_tokens\":null,\"model\":\"%s\",\"output\":[",
                        j->id + 13, (long)j->created, status,
                        failed ? "{\"code\":\"server_error\",\"message\":\"The server had an "
                                 "error while processing your request. Sorry about that!\"}"
                               : "null",
                        strcmp(status, "incomplete") == 0
                            ? "{\"reason\":\"max_output_tokens\"}"
                            : "null",
                        j->model);
    if (done && !failed)
        item_write(j, out, 1);
    evbuffer_add_printf(out,
                        "],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
                        "\"reasoning\":{\"effort\":null,\"summary\":null},\"service_tier\":"
                        "\"default\",\"store\":true,\"temperature\":1.0,\"text\":{\"format\":"
                        "{\"type\":\"text\"}},\"tool_choice\":\"auto\",\"tools\":[],"
                        "\"top_p\":1.0,\"truncation\":\"disabled\",\"usage\":");
    if (done && !failed)
        evbuffer_add_printf(out,
                            "{\"input_tokens\":%d,\"input_tokens_details\":{\"cached_tokens\":0},"
                            "\"output_tokens\":%d,\"output_tokens_details\":"
                            "{\"reasoning_tokens\":0},\"total_tokens\":%d}",
                            j->prompt_tokens, j->sent, j->prompt_tokens + j->sent);
    else
        add(out, "null");
    add(out, ",\"user\":null,\"metadata\":{}}");
}

static void response_event(struct job *j, struct evbuffer *out,
                           const char *type, const char *status)
{
    ev_open(j, out, type);
    add(out, ",\"response\":");
    object_write(j, out, status);
    add(out, "}\n\n");
}

/* The fields an event of the message's text part carries. */
static void part_fields(const struct job *j, struct evbuffer *out)
{
    evbuffer_add_printf(out, ",\"item_id\":\"msg_%s\",\"output_index\":0,"
                             "\"content_index\":0",
                        j->id + 13);
}

void resp_write_start(struct job *j, struct evbuffer *out)
{
    response_event(j, out, "response.created", "in_progress");
    response_event(j, out, "response.in_progress", "in_progress");
}

void resp_write_open(struct job *j, struct evbuffer *out)
{
    ev_open(j, out, "response.output_item.added");
    add(out, ",\"output_index\":0,\"item\":");
    item_write(j, out, 0);
    add(out, "}\n\n");
    ev_open(j, out, "response.content_part.added");
    part_fields(j, out);
    add(out, ",\"part\":");
    part_write(j, out, 0);
    add(out, "}\n\n");
}

void resp_write_token(struct job *j, struct evbuffer *out, int malformed)
{
    ev_open(j, out, "response.output_text.delta");
    part_fields(j, out);
    if (malformed) {
        add(out, ",\"delta\":\n\n");
        return;
    }
    evbuffer_add_printf(out, ",\"delta\":\"%s\",\"logprobs\":[]}\n\n",
                        answer_token_json(j->sent));
}

void resp_write_finish(struct job *j, struct evbuffer *out)
{
    ev_open(j, out, "response.output_text.done");
    part_fields(j, out);
    add(out, ",\"text\":\"");
    text_write(j, out);
    add(out, "\",\"logprobs\":[]}\n\n");
    ev_open(j, out, "response.content_part.done");
    part_fields(j, out);
    add(out, ",\"part\":");
    part_write(j, out, 1);
    add(out, "}\n\n");
    ev_open(j, out, "response.output_item.done");
    add(out, ",\"output_index\":0,\"item\":");
    item_write(j, out, 1);
    add(out, "}\n\n");
    if (j->length_cut)
        response_event(j, out, "response.incomplete", "incomplete");
    else
        response_event(j, out, "response.completed", "completed");
}

void resp_write_failed(struct job *j, struct evbuffer *out)
{
    response_event(j, out, "response.failed", "failed");
}

void resp_write_body(struct job *j, struct evbuffer *out)
{
    j->sent = j->tokens;
    object_write(j, out, j->length_cut ? "incomplete" : "completed");
}
