/*
 * test_jwt — the access token checks on tokens made here: an RSA key
 * generated with OpenSSL, published as a JWK's n and e (jwt_rsa_key),
 * tokens signed with it; then every way a token must fail: signature
 * (other key, changed claims), algorithm, shape, issuer, audience, exp
 * and nbf around the allowed skew.
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
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "common/b64.h"
#include "worker/model/auth/jwt.h"

#define NOW 1800000000L
static const char *const issuers[] = {
    "https://login.microsoftonline.com/t/v2.0", "https://sts.windows.net/t/",
    NULL
};
static const char *const audiences[] = { "api://app", "app", NULL };

static EVP_PKEY *priv, *other, *pub;

/* base64url without padding of p[0..n). */
static void b64url(const unsigned char *p, size_t n, char *out, size_t cap)
{
    b64_encode(p, n, out, cap);
    for (char *c = out; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_'
                                         : *c;
    out[strcspn(out, "=")] = '\0';
}

static char *make(EVP_PKEY *k, const char *header, const char *claims)
{
    static char tok[8192];
    unsigned char sig[512];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t o;

    b64url((const unsigned char *)header, strlen(header), tok, sizeof(tok));
    o = strlen(tok);
    tok[o++] = '.';
    b64url((const unsigned char *)claims, strlen(claims), tok + o,
           sizeof(tok) - o);
    o += strlen(tok + o);
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &siglen, (unsigned char *)tok,
                                    o),
                     1);
    EVP_MD_CTX_free(md);
    tok[o++] = '.';
    b64url(sig, siglen, tok + o, sizeof(tok) - o);
    return tok;
}

static char *claims(const char *iss, const char *aud, long exp, long nbf)
{
    static char c[512];
    snprintf(c, sizeof(c), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%ld,"
                           "\"nbf\":%ld,\"oid\":\"u-1\"}",
             iss, aud, exp, nbf);
    return c;
}

#define RS256 "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}"

/* 0 when the token passes every check; else -1 and err names the
 * failure. */
static int check(const char *token, char *err, size_t n)
{
    struct jwt j;
    int rc = jwt_parse(token, &j, err, n) == 0 &&
                     jwt_verify(&j, pub, err, n) == 0 &&
                     jwt_check_claims(&j, issuers, audiences, NOW, err, n) == 0
                 ? 0
                 : -1;
    jwt_free(&j);
    return rc;
}

static void fails(const char *token, const char *why)
{
    char err[300] = "";
    if (check(token, err, sizeof(err)) == 0)
        fail_msg("accepted, want '%s'", why);
    if (!strstr(err, why))
        fail_msg("error '%s', want '%s'", err, why);
}

static int setup(void **state)
{
    BIGNUM *n = NULL, *e = NULL;
    unsigned char nb[512], eb[8];
    char ns[800], es[16];
    (void)state;

    priv = EVP_RSA_gen(2048);
    other = EVP_RSA_gen(2048);
    assert_non_null(priv);
    EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_RSA_E, &e);
    b64url(nb, (size_t)BN_bn2bin(n, nb), ns, sizeof(ns));
    b64url(eb, (size_t)BN_bn2bin(e, eb), es, sizeof(es));
    BN_free(n);
    BN_free(e);
    pub = jwt_rsa_key(ns, es);
    assert_non_null(pub);
    assert_null(jwt_rsa_key("", es));
    assert_null(jwt_rsa_key("not base64!", es));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(priv);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pub);
    return 0;
}

static void test_good_tokens(void **state)
{
    char err[300] = "";
    struct jwt j;
    (void)state;

    assert_int_equal(check(make(priv, RS256, claims(issuers[0], "app", NOW + 60, NOW - 60)),
                           err, sizeof(err)),
                     0);
    assert_int_equal(check(make(priv, RS256, claims(issuers[1], "api://app", NOW + 60, NOW - 60)),
                           err, sizeof(err)),
                     0);
    /* Within the skew either way. */
    assert_int_equal(check(make(priv, RS256, claims(issuers[0], "app", NOW - JWT_SKEW_S + 1, NOW + JWT_SKEW_S)),
                           err, sizeof(err)),
                     0);
    assert_int_equal(jwt_parse(make(priv, RS256, claims(issuers[0], "app", NOW, NOW)), &j, err,
                               sizeof(err)),
                     0);
    assert_string_equal(jwt_kid(&j), "k1");
    assert_string_equal(cJSON_GetObjectItem(jwt_claims(&j), "oid")
                            ->valuestring,
                        "u-1");
    jwt_free(&j);
}

static void test_bad_signatures(void **state)
{
    char *tok, *dot, copy[8192];
    (void)state;

    fails(make(other, RS256, claims(issuers[0], "app", NOW + 60, NOW)),
          "signature");
    /* The claims changed after signing. */
    tok = make(priv, RS256, claims(issuers[0], "app", NOW + 60, NOW));
    snprintf(copy, sizeof(copy), "%s", tok);
    dot = strchr(copy, '.') + 1;
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    fails(copy, "");
    fails(make(priv, "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
               claims(issuers[0], "app", NOW + 60, NOW)),
          "not RS256");
    fails(make(priv, "{\"alg\":\"none\"}",
               claims(issuers[0], "app", NOW + 60, NOW)),
          "not RS256");
}

static void test_bad_shapes(void **state)
{
    (void)state;
    fails("", "three");
    fails("a.b", "three");
    fails("a.b.c.d", "three");
    fails("!!.e30.c2ln", "header");
    fails("e30.!!.c2ln", "claims");
    fails("e30.e30.", "signature");
    fails("W10.e30.c2ln", "header"); /* [] is no object */
}

static void test_bad_claims(void **state)
{
    (void)state;
    fails(make(priv, RS256, claims("https://login.microsoftonline.com/x/v2.0", "app", NOW + 60, NOW)), "issuer");
    fails(make(priv, RS256, claims(issuers[0], "api://other", NOW + 60, NOW)),
          "audience");
    fails(make(priv, RS256, claims(issuers[0], "app", NOW - JWT_SKEW_S, NOW)),
          "expired");
    fails(make(priv, RS256, claims(issuers[0], "app", NOW + 600, NOW + JWT_SKEW_S + 1)), "not valid yet");
    fails(make(priv, RS256, "{\"iss\":\"https://sts.windows.net/t/\","
                            "\"aud\":\"app\"}"),
          "without exp");
    fails(make(priv, RS256, "{\"iss\":\"https://sts.windows.net/t/\","
                            "\"aud\":[\"app\"],\"exp\":1}"),
          "audience");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_tokens),
        cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_bad_claims),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
