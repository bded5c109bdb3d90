/*
 * test_oaimsgs — the gateway's checks of "messages": what OpenAI refuses
 * is refused with its code, param and text; what it accepts (parts
 * arrays, a null assistant content with tool_calls, every role) passes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "worker/apps/oaimsgs.h"

/* Checks the body json: 0, or -1 with code, param and msg. */
static void check(const char *json, const char *code, const char *param,
                  const char *msg)
{
    cJSON *root = cJSON_Parse(json);
    struct oaimsgs_error e;
    int rc;

    assert_non_null(root);
    rc = oaimsgs_check(root, &e);
    cJSON_Delete(root);
    if (code == NULL) {
        assert_int_equal(rc, 0);
        return;
    }
    assert_int_equal(rc, -1);
    assert_string_equal(e.code, code);
    assert_string_equal(e.param, param);
    assert_string_equal(e.msg, msg);
}

static void test_refused(void **state)
{
    (void)state;
    check("{}", "missing_required_parameter", "messages",
          "Missing required parameter: 'messages'.");
    check("{\"messages\":\"hi\"}", "invalid_type", "messages",
          "Invalid type for 'messages': expected an array, but got a "
          "string instead.");
    check("{\"messages\":[]}", "empty_array", "messages",
          "Invalid 'messages': empty array. Expected an array with minimum "
          "length 1, but got an empty array instead.");
    check("{\"messages\":[\"hi\"]}", "invalid_type", "messages[0]",
          "Invalid type for 'messages[0]': expected an object, but got a "
          "string instead.");
    check("{\"messages\":[{\"content\":\"hi\"}]}",
          "missing_required_parameter", "messages[0].role",
          "Missing required parameter: 'messages[0].role'.");
    check("{\"messages\":[{\"role\":1,\"content\":\"hi\"}]}", "invalid_type",
          "messages[0].role", "Invalid type for 'messages[0].role': expected "
                              "a string, but got an integer instead.");
    check("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
          "{\"role\":\"bot\",\"content\":\"hi\"}]}",
          "invalid_value",
          "messages[1].role", "Invalid value: 'bot'. Supported values are: "
                              "'system', 'assistant', 'user', 'function', 'tool', and "
                              "'developer'.");
    check("{\"messages\":[{\"role\":\"user\",\"content\":{\"text\":\"hi\"}}]}",
          "invalid_type", "messages[0].content",
          "Invalid type for 'messages[0].content': expected one of a string "
          "or array of objects, but got an object instead.");
    check("{\"messages\":[{\"role\":\"user\",\"content\":2.5}]}",
          "invalid_type", "messages[0].content",
          "Invalid type for 'messages[0].content': expected one of a string "
          "or array of objects, but got a decimal instead.");
    check("{\"messages\":[{\"role\":\"user\",\"content\":null}]}",
          "invalid_type", "messages[0].content",
          "Invalid type for 'messages[0].content': expected one of a string "
          "or array of objects, but got null instead.");
    check("{\"messages\":[{\"role\":\"user\"}]}", "missing_required_parameter",
          "messages[0].content",
          "Missing required parameter: 'messages[0].content'.");
    check("{\"messages\":[{\"role\":\"user\",\"content\":[\"hi\"]}]}",
          "invalid_type", "messages[0].content[0]",
          "Invalid type for 'messages[0].content[0]': expected an object, "
          "but got a string instead.");
}

static void test_accepted(void **state)
{
    (void)state;
    check("{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
          "{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
          "\"text\":\"d\"}]},"
          "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"},"
          "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:,\"}},"
          "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"\","
          "\"format\":\"wav\"}}]},"
          "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
          "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
          "\"arguments\":\"{}\"}}]},"
          "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"42\"},"
          "{\"role\":\"assistant\",\"function_call\":{\"name\":\"f\","
          "\"arguments\":\"{}\"}},"
          "{\"role\":\"function\",\"name\":\"f\",\"content\":null},"
          "{\"role\":\"user\",\"content\":\"\"}]}",
          NULL, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
