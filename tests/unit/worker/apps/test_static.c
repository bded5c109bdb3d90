/*
 * test_static — the static-files app's pure parts: URL path cleaning (the
 * way out of static_dir must be closed for every spelling), content types,
 * HTTP dates and the conditional-request decision.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "worker/apps/static.h"

static void clean_ok(const char *in, const char *want)
{
    char out[256];
    if (static_clean_path(in, out, sizeof(out)) != 0)
        fail_msg("'%s' refused, want '%s'", in, want);
    if (strcmp(out, want) != 0)
        fail_msg("'%s' -> '%s', want '%s'", in, out, want);
}

static void clean_bad(const char *in)
{
    char out[256] = "";
    if (static_clean_path(in, out, sizeof(out)) == 0)
        fail_msg("'%s' accepted as '%s'", in, out);
}

static void test_clean_plain(void **state)
{
    (void)state;
    clean_ok("/", "index.html");
    clean_ok("/app.js", "app.js");
    clean_ok("/css/site.css", "css/site.css");
    clean_ok("//css///site.css", "css/site.css");
    clean_ok("/docs/", "docs/index.html");
    clean_ok("/docs//", "docs/index.html");
    clean_ok("/a%20b.txt", "a b.txt");
    clean_ok("/caf%C3%A9.html", "caf\xc3\xa9.html");
    clean_ok("/x..y", "x..y"); /* dots inside a name are fine */
    clean_ok("/v1.2/a", "v1.2/a");
}

static void test_clean_refuses_ways_out(void **state)
{
    (void)state;
    clean_bad("");
    clean_bad("index.html"); /* not absolute */
    clean_bad("http://h/x");
    clean_bad("/..");
    clean_bad("/../etc/passwd");
    clean_bad("/a/../../etc/passwd");
    clean_bad("/a/..");
    clean_bad("/a/./b");
    clean_bad("/.");
    clean_bad("/%2e%2e/etc/passwd");
    clean_bad("/%2E%2E/etc/passwd");
    clean_bad("/.%2e/x");
    clean_bad("/%2e./x");
    clean_bad("/a%2f..%2f..%2fetc"); /* encoded slashes */
    clean_bad("/a%2F..%2F..%2Fetc");
    clean_bad("/..%5c..%5cetc"); /* encoded backslashes */
    clean_bad("/a%5cb");
    clean_bad("/index.html%00.png"); /* NUL */
    clean_bad("/.git/config");       /* hidden files */
    clean_bad("/.env");
    clean_bad("/a/.htaccess");
    clean_bad("/%2egit/config");
    clean_bad("/bad%zzescape"); /* malformed escapes */
    clean_bad("/bad%");
    clean_bad("/bad%4");
}

static void test_clean_bounds(void **state)
{
    char out[16];
    (void)state;
    assert_int_equal(static_clean_path("/0123456789abcd", out, sizeof(out)), 0);
    assert_string_equal(out, "0123456789abcd");
    assert_int_equal(static_clean_path("/0123456789abcdef", out, sizeof(out)), -1);
    assert_int_equal(static_clean_path("/012345/", out, 16), -1); /* +index.html */
    assert_int_equal(static_clean_path("/0123/", out, 16), 0);
    assert_string_equal(out, "0123/index.html");
    /* A separator that does not fit must not join two names. */
    assert_int_equal(static_clean_path("/0123456789abcde/f", out, sizeof(out)), -1);
    assert_int_equal(static_clean_path("/", out, 10), -1);
    assert_int_equal(static_clean_path("/", out, 11), 0);
}

static void test_content_types(void **state)
{
    (void)state;
    assert_string_equal(static_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(static_content_type("a/b/app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(static_content_type("style.CSS"), "text/css; charset=utf-8");
    assert_string_equal(static_content_type("chat.png"), "image/png");
    assert_string_equal(static_content_type("logo.svg"), "image/svg+xml");
    assert_string_equal(static_content_type("x.json"), "application/json");
    assert_string_equal(static_content_type("README"), "application/octet-stream");
    assert_string_equal(static_content_type("v1.2/README"), "application/octet-stream");
    assert_string_equal(static_content_type("a.tar.gz"), "application/octet-stream");
}

static void test_http_date(void **state)
{
    char buf[40];
    (void)state;
    static_http_date(784111777, buf, sizeof(buf));
    assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    static_http_date(0, buf, sizeof(buf));
    assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static void test_not_modified(void **state)
{
    const char *tag = "\"1f-abc\"";
    const time_t t = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    (void)state;

    assert_false(static_not_modified(tag, t, NULL, NULL));
    assert_true(static_not_modified(tag, t, "\"1f-abc\"", NULL));
    assert_true(static_not_modified(tag, t, "W/\"1f-abc\"", NULL));
    assert_true(static_not_modified(tag, t, "\"x\", \"1f-abc\" ,\"y\"", NULL));
    assert_true(static_not_modified(tag, t, "*", NULL));
    assert_false(static_not_modified(tag, t, "\"1f-abd\"", NULL));
    assert_false(static_not_modified(tag, t, "\"1f-ab\"", NULL));
    assert_false(static_not_modified(tag, t, "", NULL));
    /* If-None-Match decides alone, even when the date would match. */
    assert_false(static_not_modified(tag, t, "\"other\"",
                                     "Sun, 06 Nov 1994 08:49:37 GMT"));
    assert_true(static_not_modified(tag, t, NULL, "Sun, 06 Nov 1994 08:49:37 GMT"));
    assert_true(static_not_modified(tag, t, NULL, "Mon, 07 Nov 1994 00:00:00 GMT"));
    assert_false(static_not_modified(tag, t, NULL, "Sun, 06 Nov 1994 08:49:36 GMT"));
    assert_false(static_not_modified(tag, t, NULL, "yesterday"));
    assert_false(static_not_modified(tag, t, NULL, "Sun, 06 Nov 1994 08:49:37 GMT x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_plain),
        cmocka_unit_test(test_clean_refuses_ways_out),
        cmocka_unit_test(test_clean_bounds),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_http_date),
        cmocka_unit_test(test_not_modified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
