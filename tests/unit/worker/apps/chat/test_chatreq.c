/* Unit tests for worker/apps/chat/chatreq.c: every validation rule names its field,
 * the overrides' bounds, and the upstream body built from a request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "worker/apps/chat/chatreq.h"
#include "worker/model/model.h"

static struct cfg cfg_for(const char *provider)
{
    struct cfg c;

    memset(&c, 0, sizeof c);
    c.provider = (char *)provider;
    c.max_tokens_limit = 100;
    c.system_prompt = (char *)"Be terse.";
    c.openai_base_url = (char *)"http://127.0.0.1:9/v1/";
    c.openai_model = (char *)"gpt-x";
    c.azure_endpoint = (char *)"http://127.0.0.1:9";
    c.azure_deployment = (char *)"dep";
    c.azure_api_key = (char *)"k";
    c.azure_api_version = (char *)"2024-10-21";
    return c;
}

/* Parses text; returns chatreq_parse's result and the message in err. */
static int parse(const char *text, struct chat_input *in, char *err,
                 size_t n, cJSON **root)
{
    struct cfg c = cfg_for("openai");

    *root = cJSON_Parse(text);
    assert_non_null(*root);
    err[0] = '\0';
    return chatreq_parse(*root, &c, in, err, n);
}

static void expect_error(const char *text, const char *field)
{
    struct chat_input in;
    char err[256];
    cJSON *root;

    assert_int_equal(parse(text, &in, err, sizeof err, &root), -1);
    if (strncmp(err, field, strlen(field)) != 0)
        fail_msg("%s: error '%s' does not start with '%s'", text, err, field);
    cJSON_Delete(root);
}

static void valid_requests(void **state)
{
    struct chat_input in;
    char err[256];
    cJSON *root;

    (void)state;
    assert_int_equal(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                           &in, err, sizeof err, &root),
                     0);
    assert_int_equal(cJSON_GetArraySize(in.messages), 1);
    assert_null(in.context);
    assert_null(in.session_state);
    assert_false(in.has_temperature || in.has_max_tokens || in.has_seed);
    cJSON_Delete(root);

    assert_int_equal(parse("{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
                           "{\"role\":\"developer\",\"content\":\"d\"},"
                           "{\"role\":\"assistant\",\"content\":\"a\"},"
                           "{\"role\":\"user\",\"content\":\"u\"}],"
                           "\"context\":{\"overrides\":{\"temperature\":0.5,"
                           "\"max_tokens\":100,\"seed\":-7}},"
                           "\"sessionState\":{\"x\":1}}",
                           &in, err, sizeof err, &root),
                     0);
    assert_true(in.has_temperature && in.has_max_tokens && in.has_seed);
    assert_true(in.temperature == 0.5);
    assert_int_equal(in.max_tokens, 100);
    assert_int_equal(in.seed, -7);
    assert_true(cJSON_IsObject(in.session_state));
    cJSON_Delete(root);

    /* session_state wins over sessionState; null overrides are ignored */
    assert_int_equal(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"\"}],"
                           "\"session_state\":\"a\",\"sessionState\":\"b\","
                           "\"context\":{\"overrides\":{\"temperature\":null}}}",
                           &in, err, sizeof err, &root),
                     0);
    assert_string_equal(in.session_state->valuestring, "a");
    assert_false(in.has_temperature);
    cJSON_Delete(root);
}

static void invalid_requests(void **state)
{
    (void)state;
    expect_error("{}", "messages:");
    expect_error("{\"messages\":{}}", "messages:");
    expect_error("{\"messages\":[]}", "messages:");
    expect_error("{\"messages\":[1]}", "messages[0]:");
    expect_error("{\"messages\":[{\"content\":\"x\"}]}", "messages[0].role:");
    expect_error("{\"messages\":[{\"role\":null,\"content\":\"x\"}]}",
                 "messages[0].role:");
    expect_error("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                 "{\"role\":\"bot\",\"content\":\"x\"}]}",
                 "messages[1].role:");
    expect_error("{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content:");
    expect_error("{\"messages\":[{\"role\":\"user\",\"content\":[]}]}",
                 "messages[0].content:");
    expect_error("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                 "\"context\":[]}",
                 "context:");
    expect_error("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                 "\"context\":{\"overrides\":\"x\"}}",
                 "context.overrides:");
}

static void override_bounds(void **state)
{
    static const char *const bad[][2] = {
        { "\"temperature\":-0.1", "context.overrides.temperature:" },
        { "\"temperature\":2.01", "context.overrides.temperature:" },
        { "\"temperature\":\"1\"", "context.overrides.temperature:" },
        { "\"max_tokens\":0", "context.overrides.max_tokens:" },
        { "\"max_tokens\":101", "context.overrides.max_tokens:" },
        { "\"max_tokens\":1.5", "context.overrides.max_tokens:" },
        { "\"seed\":0.5", "context.overrides.seed:" },
        { "\"seed\":true", "context.overrides.seed:" },
    };
    char text[256];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "{\"messages\":[{\"role\":\"user\","
                                    "\"content\":\"x\"}],\"context\":{\"overrides\":{%s}}}",
                 bad[i][0]);
        expect_error(text, bad[i][1]);
    }
}

/* The upstream body for text with provider p, parsed back. */
static cJSON *body_for(const char *provider, const char *text, int stream)
{
    struct cfg c = cfg_for(provider);
    struct chat_input in;
    char err[256];
    size_t len = 0;
    cJSON *root = cJSON_Parse(text), *out;
    struct model *m = model_init(&c, err, sizeof err);
    char *body;

    assert_non_null(m);
    assert_int_equal(chatreq_parse(root, &c, &in, err, sizeof err), 0);
    body = chatreq_body(&in, &c, m, stream, &len);
    assert_non_null(body);
    assert_int_equal(len, strlen(body));
    out = cJSON_Parse(body);
    assert_non_null(out);
    free(body);
    cJSON_Delete(root);
    model_free(m);
    return out;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void upstream_body(void **state)
{
    cJSON *b = body_for("openai",
                        "{\"messages\":[{\"role\":\"user\",\"content\":\"q \\\"1\\\"\"},"
                        "{\"role\":\"assistant\",\"content\":\"a\",\"name\":\"dropped\"}],"
                        "\"context\":{\"overrides\":{\"temperature\":0.2,\"max_tokens\":7,"
                        "\"seed\":123456789012}},\"session_state\":\"not sent\"}",
                        1);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(b, "messages");

    (void)state;
    assert_string_equal(str(b, "model"), "gpt-x");
    assert_int_equal(cJSON_GetArraySize(msgs), 3);
    assert_string_equal(str(cJSON_GetArrayItem(msgs, 0), "role"), "system");
    assert_string_equal(str(cJSON_GetArrayItem(msgs, 0), "content"), "Be terse.");
    assert_string_equal(str(cJSON_GetArrayItem(msgs, 1), "content"), "q \"1\"");
    assert_string_equal(str(cJSON_GetArrayItem(msgs, 2), "role"), "assistant");
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(msgs, 2), "name"));
    assert_true(cJSON_GetObjectItemCaseSensitive(b, "temperature")->valuedouble == 0.2);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(b, "max_tokens")->valueint, 7);
    assert_true(cJSON_GetObjectItemCaseSensitive(b, "seed")->valuedouble == 123456789012.0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "stream")));
    /* as the samples send it: no usage asked, none is read */
    assert_null(cJSON_GetObjectItemCaseSensitive(b, "stream_options"));
    assert_null(cJSON_GetObjectItemCaseSensitive(b, "session_state"));
    assert_null(cJSON_GetObjectItemCaseSensitive(b, "context"));
    cJSON_Delete(b);
}

static void upstream_body_per_provider(void **state)
{
    static const char req[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    cJSON *b;

    (void)state;
    b = body_for("azure", req, 0);
    assert_null(cJSON_GetObjectItemCaseSensitive(b, "model"));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(b, "stream")));
    assert_null(cJSON_GetObjectItemCaseSensitive(b, "stream_options"));
    assert_null(cJSON_GetObjectItemCaseSensitive(b, "temperature"));
    cJSON_Delete(b);
    b = body_for("azure-v1", req, 1);
    assert_string_equal(str(b, "model"), "dep");
    cJSON_Delete(b);
}

/* Text that needs escaping and a number that needs 17 digits come back
 * as they went in. */
static void upstream_body_round_trips(void **state)
{
    cJSON *b = body_for("openai",
                        "{\"messages\":[{\"role\":\"user\",\"content\":"
                        "\"tab\\t nl\\n \\u0001 \\\"q\\\" \\\\ caf\\u00e9\"}],"
                        "\"context\":{\"overrides\":{\"temperature\":0.30000000000000004,"
                        "\"seed\":-9007199254740}}}",
                        0);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(b, "messages");

    (void)state;
    assert_string_equal(str(cJSON_GetArrayItem(msgs, 1), "content"),
                        "tab\t nl\n \x01 \"q\" \\ caf\xc3\xa9");
    assert_true(cJSON_GetObjectItemCaseSensitive(b, "temperature")->valuedouble == 0.1 + 0.2);
    assert_true(cJSON_GetObjectItemCaseSensitive(b, "seed")->valuedouble == -9007199254740.0);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(b, "stream")));
    cJSON_Delete(b);
}

/* The first line as the cJSON tree the chat app built before. */
static char *head_by_cjson(const struct chat_input *in, const char *provider,
                           const char *model)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *d = cJSON_AddObjectToObject(o, "delta");
    cJSON *ctx = cJSON_AddObjectToObject(o, "context");
    char *s;

    cJSON_AddStringToObject(d, "role", "assistant");
    cJSON_AddStringToObject(ctx, "provider", provider);
    cJSON_AddStringToObject(ctx, "model", model);
    if (in->session_state)
        cJSON_AddItemToObject(o, "session_state",
                              cJSON_Duplicate(in->session_state, 1));
    else
        cJSON_AddNullToObject(o, "session_state");
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Byte for byte what cJSON prints, plus the newline, with and without a
 * session state, and with names that need escaping. */
static void first_line(void **state)
{
    static const char *const reqs[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"session_state\":{\"id\":\"a\\\"b\",\"n\":[1,2.5,null,true]}}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"sessionState\":\"caf\\u00e9 \\t\"}",
    };
    static const char *const names[][2] = {
        { "openai", "gpt-4o-mini" },
        { "azure", "my \"dep\"\\\n" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        for (size_t j = 0; j < sizeof names / sizeof names[0]; j++) {
            struct chat_input in;
            char err[256];
            cJSON *root;
            char *got, *want;

            assert_int_equal(parse(reqs[i], &in, err, sizeof err, &root), 0);
            got = chatreq_head(&in, names[j][0], names[j][1]);
            want = head_by_cjson(&in, names[j][0], names[j][1]);
            assert_non_null(got);
            assert_non_null(want);
            assert_int_equal(got[strlen(got) - 1], '\n');
            got[strlen(got) - 1] = '\0';
            assert_string_equal(got, want);
            free(got);
            cJSON_free(want);
            cJSON_Delete(root);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_requests),
        cmocka_unit_test(invalid_requests),
        cmocka_unit_test(override_bounds),
        cmocka_unit_test(upstream_body),
        cmocka_unit_test(upstream_body_per_provider),
        cmocka_unit_test(upstream_body_round_trips),
        cmocka_unit_test(first_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
