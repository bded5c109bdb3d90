/*
 * test_delta — the chunk fast path against cJSON, which it must agree
 * with: whenever delta_scan() says DELTA_OK, cJSON parses the same bytes,
 * finds no "error", no content_filter, no reasoning_content or refusal,
 * and the same choices[0].delta.content once decoded. Checked on a table of real and
 * odd chunks, then on every truncation and on single-byte mutations of
 * real chunks (OpenAI's and Azure's shapes). Each of those is scanned
 * twice, in full and with a memo primed by the real chunk, and both
 * scans must give the same answer: a mutation after the memo's prefix
 * is read by the resumed scan, one inside it by a full scan.
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

#include "tests/unit/support/delta_oracle.h"
#include "worker/apps/chat/delta.h"

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

/* Scans s; when it says OK, cJSON must agree. Returns the scan result and
 * the decoded content (malloc'ed, or NULL) in *text. */
static int scan_one(const char *s, size_t n, struct delta_memo *memo,
                    char **text)
{
    struct delta d;
    char *want;
    int rc = delta_scan(s, n, &d, memo);

    *text = NULL;
    if (rc != DELTA_OK)
        return rc;
    assert_true(delta_oracle(s, n, &want));
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

/* scan_one in full, then resumed from a memo of primer (NULL: s itself,
 * scanned before): the answers must be the same. */
static int scan_primed(const char *s, size_t n, const char *primer,
                       char **text)
{
    struct delta_memo memo = { 0 };
    struct delta d;
    char *again;
    int rc = scan_one(s, n, NULL, text);

    if (primer == NULL) {
        primer = s;
        if (rc != DELTA_OK) /* nothing to remember */
            primer = "";
    }
    delta_scan(primer, strlen(primer), &d, &memo);
    assert_int_equal(scan_one(s, n, &memo, &again), rc);
    if (*text != NULL || again != NULL)
        assert_string_equal(again, *text);
    free(again);
    delta_memo_free(&memo);
    return rc;
}

static int scan_checked(const char *s, size_t n, char **text)
{
    return scan_primed(s, n, NULL, text);
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
           "\"content\":\"\",\"refusal\":null}}]}",
           DELTA_OK, "");
    expect("{\"choices\":[],\"prompt_filter_results\":[{\"prompt_index\":0}]}",
           DELTA_OK, NULL);
    expect("{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
           "\"stop\"}]}",
           DELTA_OK, NULL);
    expect("{\"choices\":[],\"usage\":{\"prompt_tokens\":3}}", DELTA_OK, NULL);
    expect(" {\"choices\":[{\"delta\":null}]} \r\n", DELTA_OK, NULL);
    expect("{\"choices\":[{\"delta\":{\"content\":null,"
           "\"reasoning_content\":\"\"}}]}",
           DELTA_OK, NULL);
}

static void test_escapes(void **state)
{
    (void)state;
    expect("{\"choices\":[{\"delta\":{\"content\":\"\\b\\f\\n\\r\\t\\/\\\\"
           "\\u0041\\u00FF\\u20ac\"}}]}",
           DELTA_OK,
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
           "\"content_filter\"}]}",
           DELTA_OTHER, NULL);
    expect("{\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}",
           DELTA_OTHER, NULL);
    /* a refusal (content null) is the answer, for chat.c to show */
    expect("{\"choices\":[{\"delta\":{\"content\":null,\"refusal\":\"No.\"}}]}",
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
           "901234}",
           DELTA_OTHER, NULL);
    expect("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]"
           "]]]]]]]]]]]]}",
           DELTA_OTHER, NULL);
    expect("{\"a\":tru}", DELTA_OTHER, NULL);
    expect("{\"a\":1,}", DELTA_OTHER, NULL);
    expect("{\"a\" 1}", DELTA_OTHER, NULL);
}

static void test_first_key_wins(void **state)
{
    (void)state;
    expect("{\"choices\":[{\"delta\":{\"content\":\"one\",\"content\":\"two\"}}],"
           "\"choices\":[{\"delta\":{\"content\":\"three\"}}]}",
           DELTA_OK, "one");
    expect("{\"choices\":[{\"delta\":{\"content\":7,\"content\":\"two\"}}]}",
           DELTA_OK, NULL);
    expect("{\"choices\":[{\"delta\":{\"content\":\"a\"}},"
           "{\"delta\":{\"content\":\"b\"}}]}",
           DELTA_OK, "a");
}

/* The memo holds the bytes up to the delta's value and is used: with its
 * bytes overwritten, a chunk that starts with the new bytes is read from
 * the mark on (a full scan would reject it). A chunk that differs
 * earlier replaces the memo. */
static void test_memo(void **state)
{
    static const char a[] = "{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}";
    static const char mark[] = "{\"choices\":[{\"delta\":";
    struct delta_memo memo = { 0 };
    struct delta d;
    char chunk[64];
    (void)state;

    assert_int_equal(delta_scan(a, strlen(a), &d, &memo), DELTA_OK);
    assert_int_equal(memo.n, strlen(mark));
    assert_memory_equal(memo.prefix, mark, memo.n);
    memset(memo.prefix, '#', memo.n);
    snprintf(chunk, sizeof(chunk), "%.*s{\"content\":\"b\"}}]}",
             (int)memo.n, memo.prefix);
    assert_int_equal(delta_scan(chunk, strlen(chunk), &d, NULL), DELTA_OTHER);
    assert_int_equal(delta_scan(chunk, strlen(chunk), &d, &memo), DELTA_OK);
    assert_int_equal(d.content_len, 1);
    assert_memory_equal(d.content, "b", 1);
    assert_int_equal(delta_scan(openai, strlen(openai), &d, &memo), DELTA_OK);
    assert_int_equal(memo.n, strstr(openai, "\"delta\":") + 8 - openai);
    assert_memory_equal(memo.prefix, openai, memo.n);
    delta_memo_free(&memo);
    assert_null(memo.prefix);
}

/* A prefix longer than DELTA_MEMO_MAX is not kept; the scan still is. */
static void test_memo_bound(void **state)
{
    struct delta_memo memo = { 0 };
    struct delta d;
    size_t pad = DELTA_MEMO_MAX, n;
    char *chunk = malloc(pad + 64);
    (void)state;

    assert_non_null(chunk);
    n = (size_t)sprintf(chunk, "{\"x\":\"%0*d\",\"choices\":[{\"delta\":"
                               "{\"content\":\"a\"}}]}",
                        (int)pad, 0);
    assert_int_equal(delta_scan(chunk, n, &d, &memo), DELTA_OK);
    assert_int_equal(d.content_len, 1);
    assert_int_equal(memo.n, 0);
    assert_null(memo.prefix);
    free(chunk);
}

/* A chunk with blanks after the memo's mark (fuzz_delta's find: the memo
 * of `"delta":{` and a chunk with `"delta": {`) is resumed past them, as
 * the full scan reads it. */
static void test_memo_blanks(void **state)
{
    static const char blank[] =
        "{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\","
        "\"created\":1732600000,\"model\":\"gpt-4o-mini\","
        "\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,"
        "\"delta\": \t{\"\x94nt\":\"fp_;\",\"content\":\"b\"}}]}";
    char *text;
    (void)state;

    assert_int_equal(scan_primed(blank, strlen(blank), openai, &text),
                     DELTA_OK);
    assert_string_equal(text, "b");
    free(text);
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
            assert_int_equal(scan_primed(buf, i, chunks[k], &text),
                             DELTA_OTHER);
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < sizeof(subst) - 1; j++) {
                memcpy(buf, chunks[k], n);
                buf[i] = subst[j];
                scan_primed(buf, n, chunks[k], &text);
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
        cmocka_unit_test(test_memo),
        cmocka_unit_test(test_memo_bound),
        cmocka_unit_test(test_memo_blanks),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
