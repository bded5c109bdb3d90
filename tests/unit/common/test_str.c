/* Unit tests for common/str: str_query_param (a parameter's value decoded
 * ('+' and %XX), found by its whole name, absent (-1), bad or too long
 * (-2)) and struct str_buf, the byte buffer apps build bodies in (growth
 * across its first size, printf, reset, a NUL after the bytes, NULs inside
 * them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/str.h"

static void test_query_param(void **st)
{
    char v[16];
    (void)st;

    assert_int_equal(str_query_param("query=red+shoes%21&top=3", "query", v,
                                     sizeof v),
                     10);
    assert_string_equal(v, "red shoes!");
    assert_int_equal(str_query_param("topx=1&top=2", "top", v, sizeof v), 1);
    assert_string_equal(v, "2");
    assert_int_equal(str_query_param("a=1&flag&b=2", "flag", v, sizeof v), 0);
    assert_string_equal(v, "");
    assert_int_equal(str_query_param("a=1", "top", v, sizeof v), -1);
    assert_int_equal(str_query_param("", "top", v, sizeof v), -1);
    assert_int_equal(str_query_param("top=%zz", "top", v, sizeof v), -2);
    assert_int_equal(str_query_param("top=%4", "top", v, sizeof v), -2);
    assert_int_equal(str_query_param("q=0123456789abcdef", "q", v, sizeof v),
                     -2);
    assert_int_equal(str_query_param("q=%E2%82%AC", "q", v, sizeof v), 3);
    assert_string_equal(v, "\xe2\x82\xac");
}

static void test_str_buf(void **state)
{
    struct str_buf b = { 0 };
    char big[1000];

    (void)state;
    assert_string_equal(str_buf_cstr(&b), "");
    assert_int_equal(str_buf_add(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(str_buf_cstr(&b), "a\0b", 4);
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 10; i++)
        assert_int_equal(str_buf_add(&b, big, sizeof big), 0);
    assert_int_equal(b.len, 10003);
    assert_int_equal(str_buf_cstr(&b)[b.len], '\0');
    str_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(str_buf_cstr(&b), "");
    assert_int_equal(str_buf_printf(&b, "%s=%d;", "n", 42), 0);
    assert_int_equal(str_buf_puts(&b, "end"), 0);
    assert_string_equal(str_buf_cstr(&b), "n=42;end");
    assert_int_equal(b.len, 8);
    /* a printf past the room left grows the buffer and writes it whole */
    str_buf_free(&b);
    str_buf_add(&b, big, 253);
    assert_int_equal(b.cap - b.len, 3);
    assert_int_equal(str_buf_printf(&b, "%s", "0123456789"), 0);
    assert_memory_equal(str_buf_cstr(&b) + b.len - 10, "0123456789", 11);
    str_buf_free(&b);
    assert_int_equal(b.len, 0);
    assert_null(b.p);
    assert_false(b.oom);
}

static void test_str_base_len(void **state)
{
    (void)state;
    assert_int_equal(str_base_len("http://h/v1//"), strlen("http://h/v1"));
    assert_int_equal(str_base_len("http://h"), strlen("http://h"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_param),
        cmocka_unit_test(test_str_buf),
        cmocka_unit_test(test_str_base_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
