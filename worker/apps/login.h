/*
 * login — the azure-search-openai-demo's login, for the routes that need
 * a user (the chat app's /chat and /chat/stream), when use_authentication
 * (AZURE_USE_AUTHENTICATION) is on:
 *
 *  - the request must carry "Authorization: Bearer TOKEN" (or App
 *    Service's x-ms-token-aad-access-token header), an access token of
 *    auth_tenant_id for the server app: checked as the sample's
 *    AuthenticationHelper.validate_access_token does (jwt.h: RS256 against
 *    the tenant's keys, jwks.h; iss https://login.microsoftonline.com/
 *    TENANT/v2.0 or https://sts.windows.net/TENANT/, aud
 *    AZURE_SERVER_APP_ID or api://ID, exp, nbf). Anything else is a 401
 *    {"error": why} with WWW-Authenticate: Bearer; keys that cannot be
 *    fetched make a 502.
 *  - with enforce_access_control (AZURE_ENFORCE_ACCESS_CONTROL), or when
 *    the request's overrides ask for it (use_oid_security_filter,
 *    use_groups_security_filter), every search carries the sample's
 *    security filter on the index's oids and groups fields
 *    (login_filter).
 *
 *   login_check(l, r, go, arg);   -> go(r, user, arg), at once or later,
 *                                    only for a good token; user is NULL
 *                                    when login is off (l == NULL)
 *
 * Ownership: struct login (one per app that needs it) owns the worker's
 * key set and every check waiting for it; login_close drops those
 * without calling them (the worker is going away). The user passed to
 * the callback (and its strings) is valid during the callback only.
 * login_filter and login_setup_json return what the caller frees.
 */
#ifndef LLMFORK_LOGIN_H
#define LLMFORK_LOGIN_H

#include <stddef.h>

#include "worker/server/http.h"

struct cfg;
struct cJSON;
struct login;

struct login_user {
    const char *oid;            /* "" when the token has none */
    const struct cJSON *groups; /* array of strings, or NULL */
};

typedef void (*login_cb)(struct http_req *r, const struct login_user *u,
                         void *arg);

/* NULL with err "" when login is off; NULL with err when its settings
 * are incomplete (no server app id or tenant). */
struct login *login_open(const struct cfg *c, char *err, size_t errlen);
void login_close(struct login *l);

void login_check(struct login *l, struct http_req *r, login_cb go,
                 void *arg);

/* The security filter for u's searches, as the sample's
 * build_security_filters writes it:
 *   oids/any(g:search.in(g, 'OID'))
 *   groups/any(g:search.in(g, 'G1, G2'))
 *   (oids/any(...) or groups/any(...))        when both apply
 * overrides (the request's context.overrides, may be NULL) may ask for
 * either. Returns 0 with *out NULL when none applies (login off
 * included), 0 with a malloc'd *out, or -1 when out of memory. */
int login_filter(const struct login *l, const struct login_user *u,
                 const struct cJSON *overrides, char **out);

/* GET /auth_setup's reply (the sample's get_auth_setup_for_client), for
 * login on or off. NULL when out of memory. */
struct cJSON *login_setup_json(const struct cfg *c);

#endif
