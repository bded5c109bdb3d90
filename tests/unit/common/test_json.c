/*
 * test_json — the string escaper of the streaming path, against cJSON's
 * printer: for every single byte and for mixed text, json_esc() and
 * json_esc_append() write what cJSON_PrintUnformatted writes inside the
 * quotes, and json_esc() says when the buffer is too small. json_parse()
 * refuses what RFC 8259 does and cJSON lets by: raw control bytes in a
 * string or between tokens, bytes after the value.
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
#include "common/str.h"

#include "common/json.h"

/* cJSON's escaping of s (NUL-terminated), without the quotes. */
static char *cjson_escaped(const char *s)
{
    cJSON *str = cJSON_CreateString(s);
    char *out = cJSON_PrintUnformatted(str);
    size_t n = strlen(out);

    cJSON_Delete(str);
    memmove(out, out + 1, n - 2);
    out[n - 2] = '\0';
    return out;
}

static void check(const char *s)
{
    char *want = cjson_escaped(s);
    char buf[512];
    struct str_buf sb = { 0 }, *b = &sb;
    size_t n = json_esc(buf, sizeof buf, s, strlen(s));

    assert_int_not_equal(n, (size_t)-1);
    assert_string_equal(buf, want);
    assert_int_equal(json_esc_append(b, s, strlen(s)), 0);
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(str_buf_cstr(b), want, strlen(want));
    str_buf_free(b);
    free(want);
}

static void test_every_byte(void **state)
{
    char s[4];
    (void)state;

    for (int c = 1; c < 256; c++) {
        s[0] = 'a';
        s[1] = (char)c;
        s[2] = 'z';
        s[3] = '\0';
        check(s);
    }
}

static void test_text(void **state)
{
    (void)state;
    check("");
    check("Hello!");
    check("a \"quoted\" \\path\\ caf\xc3\xa9 \xf0\x9f\x99\x82\n\ttab\r\x01\x1f\x7f");
}

/* The result and its NUL must fit: one byte short is (size_t)-1. */
static void test_cap(void **state)
{
    char buf[16];
    (void)state;

    assert_int_equal(json_esc(buf, 7, "Hello!", 6), 6);
    assert_string_equal(buf, "Hello!");
    assert_int_equal(json_esc(buf, 6, "Hello!", 6), (size_t)-1);
    assert_int_equal(json_esc(buf, 9, "a\x01"
                                      "b",
                              3),
                     8);
    assert_string_equal(buf, "a\\u0001b");
    assert_int_equal(json_esc(buf, 8, "a\x01"
                                      "b",
                              3),
                     (size_t)-1);
    assert_int_equal(json_esc(buf, 3, "\"", 1), 2);
    assert_int_equal(json_esc(buf, 2, "\"", 1), (size_t)-1);
}

#define VALID(lit) json_utf8_valid(lit, sizeof(lit) - 1)

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(VALID(""));
    assert_true(VALID("plain \x01\x7f"));
    assert_true(VALID("a\0b")); /* NUL is a character */
    assert_true(VALID("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82"));
    assert_true(VALID("\xc2\x80\xdf\xbf"));                 /* U+0080, U+07FF */
    assert_true(VALID("\xe0\xa0\x80\xed\x9f\xbf"));         /* U+0800, U+D7FF */
    assert_true(VALID("\xee\x80\x80\xef\xbf\xbf"));         /* U+E000, U+FFFF */
    assert_true(VALID("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf")); /* U+10000, U+10FFFF */

    assert_false(VALID("\x80")); /* lone continuation */
    assert_false(VALID("\xff\xfe"));
    assert_false(VALID("\xc0\xaf")); /* overlong '/' */
    assert_false(VALID("\xc1\xbf"));
    assert_false(VALID("\xe0\x9f\xbf"));     /* overlong */
    assert_false(VALID("\xed\xa0\x80"));     /* surrogate U+D800 */
    assert_false(VALID("\xf0\x8f\xbf\xbf")); /* overlong */
    assert_false(VALID("\xf4\x90\x80\x80")); /* U+110000 */
    assert_false(VALID("\xf5\x80\x80\x80"));
    assert_false(VALID("\xc3")); /* cut short */
    assert_false(VALID("\xe2\x82"));
    assert_false(VALID("\xe2\x82x"));
    assert_false(VALID("ok \xf0\x9f\x99"));
}

/* json_parse on s: NULL with err == why, or a tree when why is NULL. */
static void parse(const char *s, size_t n, const char *why)
{
    char err[96] = "untouched";
    cJSON *t = json_parse(s, n, err, sizeof err);

    if (why == NULL) {
        assert_non_null(t);
        assert_string_equal(err, "untouched");
    } else {
        assert_null(t);
        assert_string_equal(err, why);
    }
    cJSON_Delete(t);
}

/* An SSE event's data is not NUL-terminated: what follows len in memory
 * (the blank line and the next event) is not part of the text. */
static void test_parse_within_len(void **state)
{
    (void)state;
    static const char buf[] = "{\"a\":1}\n\ndata: {}";
    char err[128];
    cJSON *o = json_parse(buf, 7, err, sizeof(err));

    assert_non_null(o);
    cJSON_Delete(o);
    assert_non_null(o = json_parse(buf, 9, err, sizeof(err)));
    cJSON_Delete(o);
    assert_null(json_parse(buf, 10, err, sizeof(err)));
}

static void test_parse_strict(void **state)
{
    static const char nul[] = "{\"a\":\"x\0y\"}";
    static const char fine[] =
        " {\"a\\\"\\n\":\"\\\\\",\r\n\t\"b\":[\"\\u0001\"]} \n";
    char buf[32];
    (void)state;

    /* what cJSON alone accepts */
    for (unsigned c = 1; c < 0x20; c++) {
        cJSON *t;
        char why[96];

        snprintf(buf, sizeof buf, "{\"a\":\"x%cy\"}", (char)c);
        t = cJSON_Parse(buf);
        assert_non_null(t);
        cJSON_Delete(t);
        snprintf(why, sizeof why, "not valid JSON: raw control character "
                                  "U+%04X in a string at byte 7",
                 c);
        parse(buf, strlen(buf), why);
    }
    parse(nul, sizeof nul - 1,
          "not valid JSON: raw control character U+0000 in a string at "
          "byte 7");
    parse("{\"a\":\x0b"
          "1}",
          8,
          "not valid JSON: raw control character U+000B between tokens at "
          "byte 5");
    parse("{\"a\":1}\x01", 8, "not valid JSON");
    parse("{\"a\":1} {}", 10, "not valid JSON");
    parse("{\"a\":", 5, "not valid JSON");
    /* escapes, blanks and a quote after a backslash are fine */
    parse(fine, sizeof fine - 1, NULL);
    assert_null(json_parse("[", 1, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_parse_strict),
        cmocka_unit_test(test_parse_within_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
