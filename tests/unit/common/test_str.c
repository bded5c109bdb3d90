/*
 * test_str — str_query_param: a parameter's value decoded ('+' and %XX),
 * found by its whole name, absent (-1), bad or too long (-2).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/str.h"

static void test_query_param(void **st)
{
    char v[16];
    (void)st;

    assert_int_equal(str_query_param("query=red+shoes%21&top=3", "query", v,
                                     sizeof v), 10);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
