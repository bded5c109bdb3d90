/*
 * test_delta — the chunk fast path against cJSON, which it must agree
 * with: whenever delta_scan() says DELTA_OK, cJSON parses the same bytes,
 * finds no "error", no content_filter, no reasoning_content, and the same
 * choices[0].delta.content once decoded. Checked on a table of real and
 * odd chunks, then on every truncation and on single-byte mutations of
 * real chunks (OpenAI's and Azure's shapes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "worker/delta.h"

static const char openai[] =
    "{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\","
    "\"created\":1732600000,\"model\":\"gpt-4o-mini\","
    "\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\" a \\\"quoted\\\" caf\\u00e9 \\ud83d\\ude42\\n\"},"
    "\"logprobs\":null,\"finish_reason\":null}]}";

static const char azure[] =
    "{\"choices\":[{\"content_filter_results\":{\"hate\":{\"filtered\":false,"
    "\"severity\":\"safe\"}},\"delta\":{\"content\":\"Hello!\"},"
    "\"finish_reason\":null,\"index\":0,\"logprobs\":null}],"
    "\"created\":1732600000,\"id\":\"chatcmpl-A\",\"model\":\"gpt-4o\","
    "\"object\":\"chat.completion.chunk\",\"obfuscation\":\"x1e-3\","
    "\"usage\":{\"n\":-1.5E+3}}";

/* cJSON's view, as chat.c reads a chunk: 1 when it is plain (no error,
 * no filter stop, no thinking), with content (or NULL) in *text. */
static int oracle(const char *s, size_t n, char **text)
{
    cJSON *o = cJSON_ParseWithLength(s, n);
    const cJSON *ch, *d, *c, *t, *fin;
    int plain;

    *text = NULL;
    if (o == NULL)
        return 0;
    ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), 0);
    d = cJSON_GetObjectItemCaseSensitive(ch, "delta");
    c = cJSON_GetObjectItemCaseSensitive(d, "content");
    t = cJSON_GetObjectItemCaseSensitive(d, "reasoning_content");
    fin = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
    plain = !cJSON_GetObjectItemCaseSensitive(o, "error") &&
            !(cJSON_IsString(t) && t->valuestring[0]) &&
            !(cJSON_IsString(fin) &&
              strcmp(fin->valuestring, "content_filter") == 0);
    if (cJSON_IsString(c))
        *text = strdup(c->valuestring);
    cJSON_Delete(o);
    return plain;
}

/* Scans s; when it says OK, cJSON must agree. Returns the scan result and
 * the decoded content (malloc'ed, or NULL) in *text. */
static int scan_checked(const char *s, size_t n, char **text)
{
    struct delta d;
    char *want;
    int rc = delta_scan(s, n, &d);

    *text = NULL;
    if (rc != DELTA_OK)
        return rc;
    assert_true(oracle(s, n, &want));
    if (d.content != NULL) {
        *text = calloc(1, d.content_len + 1);
        assert_non_null(*text);
        if (d.escaped)
            delta_unescape(d.content, d.content_len, *text);
        else
            memcpy(*text, d.content, d.content_len);
        assert_non_null(want);
        assert_string_equal(*text, want);
    } else if (want != NULL) {
        /* cJSON saw a string content the scan did not report */
        fail_msg("content missed in %.*s", (int)n, s);
    }
    free(want);
    return rc;
}

static void expect(const char *s, int rc, const char *content)
{
    char *text;

    assert_int_equal(scan_checked(s, strlen(s), &text), rc);
    if (content == NULL)
        assert_null(text);
    else
        assert_string_equal(text, content);
    free(text);
}

static void test_real_chunks(void **state)
{
    (void)state;
    expect(openai, DELTA_OK, " a \"quoted\" caf\xc3\xa9 \xf0\x9f\x99\x82\n");
    expect(azure, DELTA_OK, "Hello!");
    /* the role chunk, Azure's prompt-filter chunk, the last and usage */
    expect("{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
           "\"content\":\"\",\"refusal\":null}}]}", DELTA_OK, "");
    expect("{\"choices\":[],\"prompt_filter_results\":[{\"prompt_index\":0}]}",
           DELTA_OK, NULL);
    expect("{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
           "\"stop\"}]}", DELTA_OK, NULL);
    expect("{\"choices\":[],\"usage\":{\"prompt_tokens\":3}}", DELTA_OK, NULL);
    expect(" {\"choices\":[{\"delta\":null}]} \r\n", DELTA_OK, NULL);
    expect("{\"choices\":[{\"delta\":{\"content\":null,"
           "\"reasoning_content\":\"\"}}]}", DELTA_OK, NULL);
}

static void test_escapes(void **state)
{
    (void)state;
    expect("{\"choices\":[{\"delta\":{\"content\":\"\\b\\f\\n\\r\\t\\/\\\\"
           "\\u0041\\u00FF\\u20ac\"}}]}", DELTA_OK,
           "\b\f\n\r\t/\\A\xc3\xbf\xe2\x82\xac");
    /* lone or reversed surrogates, \u0000, bad escapes: cJSON decides */
    expect("{\"choices\":[{\"delta\":{\"content\":\"\\ud83d\"}}]}",
           DELTA_OTHER, NULL);
    expect("{\"choices\":[{\"delta\":{\"content\":\"\\ude42\\ud83d\"}}]}",
           DELTA_OTHER, NULL);
    expect("{\"choices\":[{\"delta\":{\"content\":\"a\\u0000b\"}}]}",
           DELTA_OTHER, NULL);
    expect("{\"choices\":[{\"delta\":{\"content\":\"\\x41\"}}]}",
           DELTA_OTHER, NULL);
    expect("{\"choices\":[{\"delta\":{\"content\":\"\\u12G4\"}}]}",
           DELTA_OTHER, NULL);
    expect("{\"choices\":[{\"delta\":{\"content\":\"tab\there\"}}]}",
           DELTA_OTHER, NULL);
    /* an escaped key could spell "error" or "content" */
    expect("{\"\\u0065rror\":{}}", DELTA_OTHER, NULL);
    expect("{\"choices\":[{\"delta\":{\"con\\u0074ent\":\"x\"}}]}",
           DELTA_OTHER, NULL);
}

static void test_left_to_cjson(void **state)
{
    (void)state;
    expect("{\"error\":{\"message\":\"boom\"}}", DELTA_OTHER, NULL);
    expect("{\"choices\":[{\"delta\":{},\"finish_reason\":"
           "\"content_filter\"}]}", DELTA_OTHER, NULL);
    expect("{\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}",
           DELTA_OTHER, NULL);
    expect("{\"choices\":{\"0\":{}}}", DELTA_OTHER, NULL);
    expect("{\"choices\":[\"x\"]}", DELTA_OTHER, NULL);
    expect("{\"choices\":[{\"delta\":\"x\"}]}", DELTA_OTHER, NULL);
    expect("[1,2]", DELTA_OTHER, NULL);
    expect("{\"choices\":[]} x", DELTA_OTHER, NULL);
    expect("", DELTA_OTHER, NULL);
    expect("{\"n\":01}", DELTA_OTHER, NULL);
    expect("{\"n\":1.}", DELTA_OTHER, NULL);
    expect("{\"n\":-}", DELTA_OTHER, NULL);
    expect("{\"n\":1234567890123456789012345678901234567890123456789012345678"
           "901234}", DELTA_OTHER, NULL);
    expect("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]"
           "]]]]]]]]]]]]}", DELTA_OTHER, NULL);
    expect("{\"a\":tru}", DELTA_OTHER, NULL);
    expect("{\"a\":1,}", DELTA_OTHER, NULL);
    expect("{\"a\" 1}", DELTA_OTHER, NULL);
}

static void test_first_key_wins(void **state)
{
    (void)state;
    expect("{\"choices\":[{\"delta\":{\"content\":\"one\",\"content\":\"two\"}}],"
           "\"choices\":[{\"delta\":{\"content\":\"three\"}}]}", DELTA_OK, "one");
    expect("{\"choices\":[{\"delta\":{\"content\":7,\"content\":\"two\"}}]}",
           DELTA_OK, NULL);
    expect("{\"choices\":[{\"delta\":{\"content\":\"a\"}},"
           "{\"delta\":{\"content\":\"b\"}}]}", DELTA_OK, "a");
}

/* Every prefix of a chunk, and each byte replaced by each of a few
 * characters that change the structure: the scan never claims OK where
 * cJSON disagrees (scan_checked asserts it). */
static void test_mutations(void **state)
{
    static const char subst[] = "\"\\{}[],:0-eu \x01\x7f\xff";
    const char *chunks[] = { openai, azure };
    (void)state;

    for (size_t k = 0; k < 2; k++) {
        size_t n = strlen(chunks[k]);
        char *buf = malloc(n);
        char *text;

        assert_non_null(buf);
        for (size_t i = 0; i < n; i++) {
            memcpy(buf, chunks[k], i);
            assert_int_equal(scan_checked(buf, i, &text), DELTA_OTHER);
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < sizeof(subst) - 1; j++) {
                memcpy(buf, chunks[k], n);
                buf[i] = subst[j];
                scan_checked(buf, n, &text);
                free(text);
            }
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_chunks),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_left_to_cjson),
        cmocka_unit_test(test_first_key_wins),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
