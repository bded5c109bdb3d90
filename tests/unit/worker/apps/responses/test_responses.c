/*
 * test_responses — chat completions -> the Responses API: the request's
 * input as chat messages, and a chunk stream as the event sequence the
 * real service sends (types, order, sequence numbers, indexes, ids, the
 * final response object), with reasoning, failures and cut answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "worker/apps/responses/responses.h"

#define MAXEV 64

struct rec {
    cJSON *ev[MAXEV];
    int n;
};

static void emit(void *arg, const char *type, const char *json, size_t len)
{
    struct rec *r = arg;
    cJSON *o = cJSON_ParseWithLength(json, len);

    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, type);
    assert_true(r->n < MAXEV);
    r->ev[r->n++] = o;
}

static void rec_free(struct rec *r)
{
    for (int i = 0; i < r->n; i++)
        cJSON_Delete(r->ev[i]);
}

static const char *type_of(const struct rec *r, int i)
{
    return cJSON_GetObjectItem(r->ev[i], "type")->valuestring;
}

static const char *str_at(const cJSON *o, const char *path)
{
    char buf[128], *tok, *save;
    const cJSON *v = o;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
        v = (*tok >= '0' && *tok <= '9') ? cJSON_GetArrayItem(v, atoi(tok))
                                         : cJSON_GetObjectItem(v, tok);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_at(const cJSON *o, const char *path)
{
    char buf[128], *tok, *save;
    const cJSON *v = o;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
        v = (*tok >= '0' && *tok <= '9') ? cJSON_GetArrayItem(v, atoi(tok))
                                         : cJSON_GetObjectItem(v, tok);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void chunk(struct responses_stream *s, const char *json)
{
    assert_int_equal(responses_chunk(s, json, strlen(json)), 0);
}

#define CHUNK(delta) "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\"," \
                     "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":null}]}"

/* Sequence numbers from 0, one each, in order. */
static void check_seq(const struct rec *r)
{
    for (int i = 0; i < r->n; i++)
        assert_int_equal((int)num_at(r->ev[i], "sequence_number"), i);
}

static void test_text_stream(void **state)
{
    static const char *const want[] = {
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    };
    struct responses_stream s;
    struct rec r = { 0 };
    (void)state;

    responses_init(&s, "gpt-4o", 1700000000, 7, emit, &r);
    responses_begin(&s);
    chunk(&s, CHUNK("{\"role\":\"assistant\",\"content\":\"\"}"));
    chunk(&s, CHUNK("{\"content\":\"Hel\"}"));
    chunk(&s, CHUNK("{\"content\":\"lo \\\"x\\\"\"}"));
    chunk(&s, "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},"
              "\"finish_reason\":\"stop\"}]}");
    chunk(&s, "{\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,"
              "\"completion_tokens\":3,\"total_tokens\":8,"
              "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}");
    responses_done(&s);
    assert_int_equal(r.n, 10);
    for (int i = 0; i < r.n; i++)
        assert_string_equal(type_of(&r, i), want[i]);
    check_seq(&r);
    const char *id = str_at(r.ev[0], "response.id");
    assert_true(strncmp(id, "resp_", 5) == 0);
    assert_string_equal(str_at(r.ev[0], "response.object"), "response");
    assert_string_equal(str_at(r.ev[0], "response.status"), "in_progress");
    assert_string_equal(str_at(r.ev[0], "response.model"), "gpt-4o");
    assert_int_equal((int)num_at(r.ev[0], "response.created_at"), 1700000000);
    assert_string_equal(str_at(r.ev[2], "item.type"), "message");
    assert_string_equal(str_at(r.ev[2], "item.status"), "in_progress");
    assert_string_equal(str_at(r.ev[2], "item.role"), "assistant");
    const char *mid = str_at(r.ev[2], "item.id");
    assert_true(strncmp(mid, "msg_", 4) == 0);
    assert_string_equal(str_at(r.ev[3], "part.type"), "output_text");
    assert_string_equal(str_at(r.ev[4], "item_id"), mid);
    assert_int_equal((int)num_at(r.ev[4], "output_index"), 0);
    assert_int_equal((int)num_at(r.ev[4], "content_index"), 0);
    assert_string_equal(str_at(r.ev[4], "delta"), "Hel");
    assert_string_equal(str_at(r.ev[5], "delta"), "lo \"x\"");
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(r.ev[5], "logprobs")));
    assert_string_equal(str_at(r.ev[6], "text"), "Hello \"x\"");
    assert_string_equal(str_at(r.ev[7], "part.text"), "Hello \"x\"");
    assert_string_equal(str_at(r.ev[8], "item.status"), "completed");
    assert_string_equal(str_at(r.ev[8], "item.content.0.text"), "Hello \"x\"");
    const cJSON *resp = cJSON_GetObjectItem(r.ev[9], "response");
    assert_string_equal(str_at(resp, "id"), id);
    assert_string_equal(str_at(resp, "status"), "completed");
    assert_string_equal(str_at(resp, "output.0.content.0.text"), "Hello \"x\"");
    assert_int_equal((int)num_at(resp, "usage.input_tokens"), 5);
    assert_int_equal((int)num_at(resp, "usage.output_tokens"), 3);
    assert_int_equal((int)num_at(resp, "usage.total_tokens"), 8);
    assert_int_equal((int)num_at(resp, "usage.output_tokens_details."
                                       "reasoning_tokens"),
                     0);
    assert_string_equal(responses_output_text(&s), "Hello \"x\"");
    responses_free(&s);
    rec_free(&r);
}

/* <think> in the content, and reasoning_content: a reasoning item first. */
static void check_reasoning(const char *c1, const char *c2)
{
    struct responses_stream s;
    struct rec r = { 0 };

    responses_init(&s, "deepseek-r1", 1, 1, emit, &r);
    responses_begin(&s);
    chunk(&s, c1);
    chunk(&s, c2);
    responses_done(&s);
    check_seq(&r);
    assert_string_equal(type_of(&r, 2), "response.output_item.added");
    assert_string_equal(str_at(r.ev[2], "item.type"), "reasoning");
    assert_string_equal(str_at(r.ev[3], "part.type"), "reasoning_text");
    assert_string_equal(type_of(&r, 4), "response.reasoning_text.delta");
    assert_string_equal(str_at(r.ev[4], "delta"), "hmm");
    assert_string_equal(type_of(&r, 5), "response.reasoning_text.done");
    assert_string_equal(type_of(&r, 7), "response.output_item.done");
    assert_string_equal(str_at(r.ev[7], "item.content.0.text"), "hmm");
    assert_string_equal(str_at(r.ev[8], "item.type"), "message");
    assert_int_equal((int)num_at(r.ev[8], "output_index"), 1);
    assert_string_equal(type_of(&r, 10), "response.output_text.delta");
    assert_int_equal((int)num_at(r.ev[10], "output_index"), 1);
    assert_string_equal(str_at(r.ev[10], "delta"), "Yes.");
    const cJSON *resp = cJSON_GetObjectItem(r.ev[r.n - 1], "response");
    assert_string_equal(str_at(resp, "output.0.type"), "reasoning");
    assert_string_equal(str_at(resp, "output.1.content.0.text"), "Yes.");
    assert_string_equal(responses_output_text(&s), "Yes.");
    responses_free(&s);
    rec_free(&r);
}

static void test_reasoning(void **state)
{
    (void)state;
    check_reasoning(CHUNK("{\"content\":\"<think>\\nhmm\"}"),
                    CHUNK("{\"content\":\"</think>\\n\\nYes.\"}"));
    check_reasoning(CHUNK("{\"reasoning_content\":\"hmm\"}"),
                    CHUNK("{\"content\":\"Yes.\"}"));
}

static void test_failed(void **state)
{
    struct responses_stream s;
    struct rec r = { 0 };
    const char *e = "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\","
                    "\"code\":null}}";
    (void)state;

    responses_init(&s, "m", 1, 2, emit, &r);
    responses_begin(&s);
    chunk(&s, CHUNK("{\"content\":\"a\"}"));
    assert_int_equal(responses_chunk(&s, e, strlen(e)), -1);
    responses_done(&s);           /* no-op after the failure */
    responses_fail(&s, "x", "y"); /* likewise */
    check_seq(&r);
    assert_string_equal(type_of(&r, r.n - 1), "response.failed");
    const cJSON *resp = cJSON_GetObjectItem(r.ev[r.n - 1], "response");
    assert_string_equal(str_at(resp, "status"), "failed");
    assert_string_equal(str_at(resp, "error.code"), "server_error");
    assert_string_equal(str_at(resp, "error.message"), "boom");
    assert_string_equal(type_of(&r, r.n - 2), "response.output_item.done");
    assert_int_equal(responses_chunk(&s, "{}", 2), -1);
    responses_free(&s);
    rec_free(&r);

    r.n = 0;
    responses_init(&s, "m", 1, 3, emit, &r);
    responses_begin(&s);
    assert_int_equal(responses_chunk(&s, "{\"choices\":[", 12), -1);
    assert_string_equal(type_of(&r, r.n - 1), "response.failed");
    responses_free(&s);
    rec_free(&r);
}

static void test_incomplete(void **state)
{
    struct responses_stream s;
    struct rec r = { 0 };
    (void)state;

    responses_init(&s, "m", 1, 4, emit, &r);
    responses_begin(&s);
    chunk(&s, "{\"choices\":[{\"index\":0,\"delta\":{},"
              "\"finish_reason\":\"length\"}]}");
    responses_done(&s);
    check_seq(&r);
    /* an empty message item even when nothing was said */
    assert_string_equal(type_of(&r, 2), "response.output_item.added");
    assert_string_equal(type_of(&r, r.n - 1), "response.incomplete");
    const cJSON *resp = cJSON_GetObjectItem(r.ev[r.n - 1], "response");
    assert_string_equal(str_at(resp, "status"), "incomplete");
    assert_string_equal(str_at(resp, "incomplete_details.reason"),
                        "max_output_tokens");
    assert_string_equal(str_at(resp, "output.0.content.0.text"), "");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(resp, "usage")));
    responses_free(&s);
    rec_free(&r);
}

static void test_whole(void **state)
{
    static const char body[] =
        "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hi there\","
        "\"reasoning_content\":\"think\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":2,"
        "\"total_tokens\":4,\"prompt_tokens_details\":{\"cached_tokens\":1}}}";
    struct responses_stream s;
    char err[128];
    (void)state;

    responses_init(&s, "m", 5, 5, NULL, NULL);
    char *out = responses_whole(&s, body, strlen(body), err, sizeof(err));
    assert_non_null(out);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_string_equal(str_at(o, "object"), "response");
    assert_string_equal(str_at(o, "status"), "completed");
    assert_string_equal(str_at(o, "output.0.type"), "reasoning");
    assert_string_equal(str_at(o, "output.0.content.0.text"), "think");
    assert_string_equal(str_at(o, "output.1.type"), "message");
    assert_string_equal(str_at(o, "output.1.content.0.type"), "output_text");
    assert_string_equal(str_at(o, "output.1.content.0.text"), "Hi there");
    assert_int_equal((int)num_at(o, "usage.input_tokens_details."
                                    "cached_tokens"),
                     1);
    cJSON_Delete(o);
    free(out);
    responses_free(&s);

    responses_init(&s, "m", 5, 6, NULL, NULL);
    assert_null(responses_whole(&s, "{\"choices\":[]}", 14, err, sizeof(err)));
    assert_string_equal(err, "the model's answer had no message");
    responses_free(&s);
}

static cJSON *chat_body(const char *req, char *err, size_t n)
{
    cJSON *r = cJSON_Parse(req), *b;

    assert_non_null(r);
    err[0] = '\0';
    b = responses_chat_body(r, err, n);
    cJSON_Delete(r);
    return b;
}

static void test_request(void **state)
{
    char err[256];
    cJSON *b;
    (void)state;

    b = chat_body("{\"model\":\"x\",\"input\":\"Hi\",\"instructions\":\"Be "
                  "brief\",\"stream\":true,\"max_output_tokens\":50,"
                  "\"temperature\":0.5,\"top_p\":0.9}",
                  err, sizeof(err));
    assert_non_null(b);
    assert_string_equal(str_at(b, "messages.0.role"), "system");
    assert_string_equal(str_at(b, "messages.0.content"), "Be brief");
    assert_string_equal(str_at(b, "messages.1.role"), "user");
    assert_string_equal(str_at(b, "messages.1.content"), "Hi");
    assert_int_equal((int)num_at(b, "max_tokens"), 50);
    assert_true(num_at(b, "temperature") == 0.5);
    assert_true(num_at(b, "top_p") == 0.9);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(
        cJSON_GetObjectItem(b, "stream_options"), "include_usage")));
    assert_null(cJSON_GetObjectItem(b, "model"));
    cJSON_Delete(b);

    /* quickstart's request: message items with input_text / output_text */
    b = chat_body("{\"input\":[{\"type\":\"message\",\"role\":\"system\","
                  "\"content\":[{\"type\":\"input_text\",\"text\":\"S\"}]},"
                  "{\"type\":\"message\",\"role\":\"user\",\"content\":"
                  "[{\"type\":\"input_text\",\"text\":\"a\"},{\"type\":"
                  "\"input_text\",\"text\":\"b\"}]},{\"role\":\"assistant\","
                  "\"content\":[{\"type\":\"output_text\",\"text\":\"c\"}]},"
                  "{\"role\":\"developer\",\"content\":\"d\"}]}",
                  err, sizeof(err));
    assert_non_null(b);
    assert_string_equal(str_at(b, "messages.0.content"), "S");
    assert_string_equal(str_at(b, "messages.1.content"), "ab");
    assert_string_equal(str_at(b, "messages.2.role"), "assistant");
    assert_string_equal(str_at(b, "messages.2.content"), "c");
    assert_string_equal(str_at(b, "messages.3.role"), "developer");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(b, "stream")));
    assert_null(cJSON_GetObjectItem(b, "stream_options"));
    cJSON_Delete(b);

    static const struct {
        const char *req, *err;
    } bad[] = {
        { "{}", "input: required" },
        { "{\"input\":[]}", "input: must be a string or a non-empty array "
                            "of items" },
        { "{\"input\":[{\"role\":\"bot\",\"content\":\"x\"}]}",
          "input[0].role: must be user, assistant, system or developer" },
        { "{\"input\":[{\"type\":\"function_call\"}]}",
          "input[0].type: only message items are supported" },
        { "{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
          "\"input_image\"}]}]}",
          "input[0].content[0].type: must be "
          "input_text or output_text (this provider takes text only)" },
        { "{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
          "\"input_text\"}]}]}",
          "input[0].content[0].text: must be a "
          "string" },
        { "{\"input\":[{\"role\":\"user\",\"content\":5}]}",
          "input[0].content: must be a string or an array of parts" },
        { "{\"input\":\"x\",\"instructions\":5}",
          "instructions: must be a string" },
        { "{\"input\":\"x\",\"temperature\":3}",
          "temperature: must be a number from 0 to 2" },
        { "{\"input\":\"x\",\"max_output_tokens\":0}",
          "max_output_tokens: must be a number from 1 to 1e+09" },
        { "{\"input\":\"x\",\"stream\":\"yes\"}", "stream: must be a boolean" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(chat_body(bad[i].req, err, sizeof(err)));
        assert_string_equal(err, bad[i].err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_stream),
        cmocka_unit_test(test_reasoning),
        cmocka_unit_test(test_failed),
        cmocka_unit_test(test_incomplete),
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
