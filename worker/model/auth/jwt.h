/*
 * jwt — checks an Entra ID access token (a JWS, RFC 7515/7519) as the
 * azure-search-openai-demo's AuthenticationHelper.validate_access_token
 * does: RS256 only, the signature against the key its "kid" names,
 * "iss" among the issuers, "aud" among the audiences, "exp" and "nbf"
 * with JWT_SKEW_S of clock skew.
 *
 *   struct jwt j;
 *   if (jwt_parse(token, &j, err, n) == 0) {
 *       EVP_PKEY *k = ... the key for jwt_kid(&j) (jwks.h) ...;
 *       ok = jwt_verify(&j, k, err, n) == 0 &&
 *            jwt_check_claims(&j, issuers, audiences, time(NULL), err, n) == 0;
 *       ... jwt_claims(&j): "oid", "groups" ...
 *       jwt_free(&j);
 *   }
 *
 * Pure (no I/O): tests/unit/worker/model/auth/test_jwt.c covers it.
 * The messages in err name what failed ("token expired", "audience X is
 * not this API's") and never echo more than a claim's value.
 *
 * Ownership: struct jwt owns its decoded header and claims (cJSON trees)
 * and the signature; jwt_free releases them (also after a failed
 * jwt_parse). jwt_kid and jwt_claims point into it. jwt_rsa_key returns
 * a key the caller frees with EVP_PKEY_free.
 */
#ifndef LLMFORK_JWT_H
#define LLMFORK_JWT_H

#include <stddef.h>
#include <time.h>

#define JWT_SKEW_S 60     /* clock skew allowed on exp and nbf */
#define JWT_MAX_LEN 16384 /* longer tokens are refused unread */

struct cJSON;
typedef struct evp_pkey_st EVP_PKEY;

struct jwt {
    struct cJSON *header;
    struct cJSON *claims;
    const char *token; /* the caller's string, for the signature */
    size_t signed_len; /* header "." payload */
    unsigned char *sig;
    size_t sig_len;
};

/* Splits and decodes token (three base64url parts, JSON header and
 * claims). Returns 0, or -1 with why. */
int jwt_parse(const char *token, struct jwt *j, char *err, size_t n);

/* The header's "kid", or NULL. */
const char *jwt_kid(const struct jwt *j);
const struct cJSON *jwt_claims(const struct jwt *j);

/* 0 when the header says RS256 and the signature is key's. */
int jwt_verify(const struct jwt *j, EVP_PKEY *key, char *err, size_t n);

/* 0 when iss is one of issuers and aud one of audiences (NULL-terminated
 * lists), exp is after now - skew and nbf (when present) before
 * now + skew. */
int jwt_check_claims(const struct jwt *j, const char *const *issuers,
                     const char *const *audiences, time_t now,
                     char *err, size_t n);

void jwt_free(struct jwt *j);

/* An RSA public key from a JWK's base64url "n" and "e"; NULL when they
 * are not one. */
EVP_PKEY *jwt_rsa_key(const char *n_b64url, const char *e_b64url);

#endif
