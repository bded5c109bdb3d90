/* jwt — Entra ID access token checks (see jwt.h). */
#include "worker/model/auth/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "common/b64.h"

/* Decodes one base64url part into a malloc'd buffer (NUL-terminated). */
static unsigned char *jwt__part(const char *s, size_t len, size_t *out)
{
    unsigned char *buf = malloc(B64_DECODED_MAX(len) + 1);
    long got = buf ? b64_decode(s, len, buf, B64_DECODED_MAX(len)) : -1;

    if (got < 0) {
        free(buf);
        return NULL;
    }
    buf[got] = '\0';
    *out = (size_t)got;
    return buf;
}

static cJSON *jwt__json(const char *s, size_t len)
{
    size_t n;
    unsigned char *raw = jwt__part(s, len, &n);
    cJSON *v = raw ? cJSON_ParseWithLength((const char *)raw, n) : NULL;

    free(raw);
    if (v && !cJSON_IsObject(v)) {
        cJSON_Delete(v);
        v = NULL;
    }
    return v;
}

int jwt_parse(const char *token, struct jwt *j, char *err, size_t n)
{
    const char *d1, *d2;
    size_t len = strnlen(token, JWT_MAX_LEN + 1);

    memset(j, 0, sizeof(*j));
    j->token = token;
    if (len > JWT_MAX_LEN)
        return snprintf(err, n, "token too long"), -1;
    if (!(d1 = strchr(token, '.')) || !(d2 = strchr(d1 + 1, '.')) ||
        strchr(d2 + 1, '.'))
        return snprintf(err, n, "not a JWT (three dot-separated parts)"), -1;
    j->signed_len = (size_t)(d2 - token);
    if (!(j->header = jwt__json(token, (size_t)(d1 - token))))
        return snprintf(err, n, "the token's header is not base64url JSON"), -1;
    if (!(j->claims = jwt__json(d1 + 1, (size_t)(d2 - d1 - 1))))
        return snprintf(err, n, "the token's claims are not base64url JSON"), -1;
    if (!(j->sig = jwt__part(d2 + 1, strlen(d2 + 1), &j->sig_len)) ||
        j->sig_len == 0)
        return snprintf(err, n, "the token's signature is not base64url"), -1;
    return 0;
}

static const char *jwt__str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *jwt_kid(const struct jwt *j)
{
    return jwt__str(j->header, "kid");
}

const cJSON *jwt_claims(const struct jwt *j)
{
    return j->claims;
}

int jwt_verify(const struct jwt *j, EVP_PKEY *key, char *err, size_t n)
{
    const char *alg = jwt__str(j->header, "alg");
    EVP_MD_CTX *md;
    int ok;

    if (!alg || strcmp(alg, "RS256") != 0)
        return snprintf(err, n, "token algorithm %s is not RS256",
                        alg ? alg : "(none)"),
               -1;
    if (!(md = EVP_MD_CTX_new()))
        return snprintf(err, n, "out of memory"), -1;
    ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
         EVP_DigestVerify(md, j->sig, j->sig_len,
                          (const unsigned char *)j->token,
                          j->signed_len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok)
        return snprintf(err, n, "bad token signature"), -1;
    return 0;
}

static int jwt__listed(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(v, *list) == 0)
            return 1;
    return 0;
}

int jwt_check_claims(const struct jwt *j, const char *const *issuers,
                     const char *const *audiences, time_t now,
                     char *err, size_t n)
{
    const char *iss = jwt__str(j->claims, "iss");
    const char *aud = jwt__str(j->claims, "aud");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j->claims, "exp");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(j->claims, "nbf");

    if (!iss || !jwt__listed(iss, issuers))
        return snprintf(err, n, "issuer %.200s is not this tenant's",
                        iss ? iss : "(none)"),
               -1;
    if (!aud || !jwt__listed(aud, audiences))
        return snprintf(err, n, "audience %.200s is not this API's",
                        aud ? aud : "(none)"),
               -1;
    if (!cJSON_IsNumber(exp))
        return snprintf(err, n, "token without exp"), -1;
    if (exp->valuedouble + JWT_SKEW_S <= (double)now)
        return snprintf(err, n, "token expired"), -1;
    if (nbf && !cJSON_IsNumber(nbf))
        return snprintf(err, n, "token nbf is not a number"), -1;
    if (nbf && nbf->valuedouble - JWT_SKEW_S > (double)now)
        return snprintf(err, n, "token not valid yet (nbf)"), -1;
    return 0;
}

void jwt_free(struct jwt *j)
{
    cJSON_Delete(j->header);
    cJSON_Delete(j->claims);
    free(j->sig);
    memset(j, 0, sizeof(*j));
}

static BIGNUM *jwt__bn(const char *s)
{
    size_t len = strlen(s), got;
    unsigned char *raw = len ? jwt__part(s, len, &got) : NULL;
    BIGNUM *bn = raw && got ? BN_bin2bn(raw, (int)got, NULL) : NULL;

    free(raw);
    return bn;
}

EVP_PKEY *jwt_rsa_key(const char *n_b64url, const char *e_b64url)
{
    BIGNUM *bn_n = jwt__bn(n_b64url), *bn_e = jwt__bn(e_b64url);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;

    if (bn_n && bn_e && bld &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) &&
        EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return key;
}
