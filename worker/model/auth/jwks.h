/*
 * jwks — a tenant's token-signing keys (the JSON Web Key Set at
 * {authority}/{tenant}/discovery/v2.0/keys), fetched on the worker's loop
 * and cached, for checking users' access tokens (jwt.h).
 *
 *   EVP_PKEY *key;
 *   switch (jwks_lookup(k, kid, &key, on_keys, arg, &wait)) {
 *   case 1:  ... key is kid's: verify now ...
 *   case 0:  ... a fetch runs: on_keys(arg) comes from the loop; then
 *                look up again (it will not fetch again) ...
 *   default: ... kid is unknown (jwks_error says why when the keys
 *                could not be had) ...
 *   }
 *
 * Rotation: Entra ID rolls its keys and publishes the next one ahead, so
 * the set is refetched in the background once it is JWKS_MAX_AGE_S old
 * (the old set serves meanwhile, and on after a failed fetch), and at once
 * when a token names a kid the set lacks, at most once per
 * JWKS_REFETCH_MIN_S: tokens with made-up kids cannot make the worker
 * hammer the tenant. However many requests wait, one fetch is in flight.
 * A fetch is bounded (JWKS_TIMEOUT_MS); a reply that is not a key set
 * leaves the old set in place.
 *
 * Ownership: struct jwks (one per worker: login.c's) owns its URL, its
 * keys (EVP_PKEY), the fetch in flight and its waiters. A key from
 * jwks_lookup is valid until control returns to the loop. A struct
 * jwks_wait is valid until its callback returns or jwks_cancel; jwks_free
 * drops waiters without calling them, and must not be called from a
 * waiter's callback.
 */
#ifndef LLMFORK_JWKS_H
#define LLMFORK_JWKS_H

#define JWKS_MAX_AGE_S (24 * 3600)
#define JWKS_REFETCH_MIN_S 5
#define JWKS_TIMEOUT_MS 10000
#define JWKS_BODY_MAX (256 * 1024)

typedef struct evp_pkey_st EVP_PKEY;
struct jwks;
struct jwks_wait;

typedef void (*jwks_cb)(void *arg);

/* NULL when out of memory. url is copied. */
struct jwks *jwks_new(const char *url);
void jwks_free(struct jwks *k);

/* See above. *w is set when 0 is returned (NULL otherwise). */
int jwks_lookup(struct jwks *k, const char *kid, EVP_PKEY **key,
                jwks_cb cb, void *arg, struct jwks_wait **w);
void jwks_cancel(struct jwks_wait *w);

/* Why the last fetch failed, or "" after a good one. */
const char *jwks_error(const struct jwks *k);
/* 1 once a set was fetched. */
int jwks_loaded(const struct jwks *k);

#endif
