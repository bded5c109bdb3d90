/*
 * test_content — the /content route's pure parts: the citation's page
 * part dropped as the sample drops it, and Blob Storage's Shared Key
 * string to sign and signature (HMAC-SHA256: RFC 4231 test case 2).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker/apps/blob.h"
#include "worker/apps/content.h"

static void dropped(const char *in, const char *want)
{
    char buf[128];

    snprintf(buf, sizeof(buf), "%s", in);
    content_drop_page(buf);
    assert_string_equal(buf, want);
}

static void test_drop_page(void **state)
{
    (void)state;
    dropped("Benefit_Options.pdf#page=2", "Benefit_Options.pdf");
    dropped("a#page=1.pdf#page=3", "a#page=1.pdf"); /* the last one */
    dropped("plain.txt", "plain.txt");
    dropped("#page=2", "#page=2"); /* not at the start */
    dropped("a#pages=2", "a#pages=2");
}

static void test_string_to_sign(void **state)
{
    char *s = blob_string_to_sign("bytes=0-99", "Mon, 07 Dec 2026 10:00:00 GMT",
                                  "2023-11-03", "acct", "/c/my%20doc.pdf");
    (void)state;

    assert_string_equal(s, "GET\n\n\n\n\n\n\n\n\n\n\nbytes=0-99\n"
                           "x-ms-date:Mon, 07 Dec 2026 10:00:00 GMT\n"
                           "x-ms-version:2023-11-03\n/acct/c/my%20doc.pdf");
    free(s);
    s = blob_string_to_sign(NULL, "D", "V", "a", "/a/c/b");
    assert_string_equal(s, "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:D\n"
                           "x-ms-version:V\n/a/a/c/b");
    free(s);
}

static void test_sign(void **state)
{
    char sig[64];
    (void)state;

    assert_int_equal(blob_sign((const unsigned char *)"Jefe", 4,
                               "what do ya want for nothing?", sig,
                               sizeof(sig)),
                     0);
    assert_string_equal(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    assert_int_equal(blob_sign((const unsigned char *)"k", 1, "x", sig, 10),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_page),
        cmocka_unit_test(test_string_to_sign),
        cmocka_unit_test(test_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
