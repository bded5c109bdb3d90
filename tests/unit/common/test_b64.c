/*
 * test_b64 — base64 and base64url: RFC 4648's test vectors both ways,
 * both alphabets, optional padding, and what must be refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/b64.h"

static const char *const vec[][2] = {
    { "", "" },
    { "f", "Zg==" },
    { "fo", "Zm8=" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" },
    { "fooba", "Zm9vYmE=" },
    { "foobar", "Zm9vYmFy" },
};

static void test_rfc4648_vectors(void **state)
{
    char enc[32];
    unsigned char dec[32];
    (void)state;

    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        size_t n = strlen(vec[i][0]);
        assert_int_equal(b64_encode((const unsigned char *)vec[i][0], n, enc,
                                    sizeof(enc)),
                         (long)strlen(vec[i][1]));
        assert_string_equal(enc, vec[i][1]);
        assert_int_equal(b64_decode(vec[i][1], strlen(vec[i][1]), dec,
                                    sizeof(dec)),
                         (long)n);
        assert_memory_equal(dec, vec[i][0], n);
        /* base64url drops the padding */
        size_t unpadded = strcspn(vec[i][1], "=");
        assert_int_equal(b64_decode(vec[i][1], unpadded, dec, sizeof(dec)),
                         (long)n);
    }
}

static void test_both_alphabets(void **state)
{
    const unsigned char bytes[] = { 0xfb, 0xff, 0xbf };
    unsigned char dec[8];
    char enc[8];
    (void)state;

    assert_int_equal(b64_encode(bytes, 3, enc, sizeof(enc)), 4);
    assert_string_equal(enc, "+/+/");
    assert_int_equal(b64_decode("+/+/", 4, dec, sizeof(dec)), 3);
    assert_memory_equal(dec, bytes, 3);
    assert_int_equal(b64_decode("-_-_", 4, dec, sizeof(dec)), 3);
    assert_memory_equal(dec, bytes, 3);
}

static void test_refusals(void **state)
{
    unsigned char dec[8];
    char enc[4];
    (void)state;

    assert_int_equal(b64_decode("Zm9v YmFy", 9, dec, sizeof(dec)), -1);
    assert_int_equal(b64_decode("Z", 1, dec, sizeof(dec)), -1);
    assert_int_equal(b64_decode("Zm=v", 4, dec, sizeof(dec)), -1);
    assert_int_equal(b64_decode("Zh==", 4, dec, sizeof(dec)), -1); /* bits */
    assert_int_equal(b64_decode("Zm9vYmFy", 8, dec, 5), -1);       /* room */
    assert_int_equal(b64_encode((const unsigned char *)"foo", 3, enc,
                                sizeof(enc)),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_both_alphabets),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
