/*
 * test_json — the string escaper of the streaming path, against cJSON's
 * printer: for every single byte and for mixed text, json_esc() and
 * json_esc_append() write what cJSON_PrintUnformatted writes inside the
 * quotes, and json_esc() says when the buffer is too small.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
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
    assert_int_equal(json_esc(buf, 9, "a\x01" "b", 3), 8);
    assert_string_equal(buf, "a\\u0001b");
    assert_int_equal(json_esc(buf, 8, "a\x01" "b", 3), (size_t)-1);
    assert_int_equal(json_esc(buf, 3, "\"", 1), 2);
    assert_int_equal(json_esc(buf, 2, "\"", 1), (size_t)-1);
}

#define VALID(lit) json_utf8_valid(lit, sizeof(lit) - 1)

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(VALID(""));
    assert_true(VALID("plain \x01\x7f"));
    assert_true(VALID("a\0b"));                   /* NUL is a character */
    assert_true(VALID("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82"));
    assert_true(VALID("\xc2\x80\xdf\xbf"));         /* U+0080, U+07FF */
    assert_true(VALID("\xe0\xa0\x80\xed\x9f\xbf")); /* U+0800, U+D7FF */
    assert_true(VALID("\xee\x80\x80\xef\xbf\xbf")); /* U+E000, U+FFFF */
    assert_true(VALID("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf")); /* U+10000, U+10FFFF */

    assert_false(VALID("\x80"));                   /* lone continuation */
    assert_false(VALID("\xff\xfe"));
    assert_false(VALID("\xc0\xaf"));               /* overlong '/' */
    assert_false(VALID("\xc1\xbf"));
    assert_false(VALID("\xe0\x9f\xbf"));           /* overlong */
    assert_false(VALID("\xed\xa0\x80"));           /* surrogate U+D800 */
    assert_false(VALID("\xf0\x8f\xbf\xbf"));       /* overlong */
    assert_false(VALID("\xf4\x90\x80\x80"));       /* U+110000 */
    assert_false(VALID("\xf5\x80\x80\x80"));
    assert_false(VALID("\xc3"));                   /* cut short */
    assert_false(VALID("\xe2\x82"));
    assert_false(VALID("\xe2\x82x"));
    assert_false(VALID("ok \xf0\x9f\x99"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_utf8_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
