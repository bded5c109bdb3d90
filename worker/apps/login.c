/* login — users' access tokens for /chat* (see login.h). */
#include "worker/apps/login.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/str.h"
#include "worker/model/auth/jwks.h"
#include "worker/model/auth/jwt.h"

#define LOGIN_V1_ISSUER "https://sts.windows.net/%s/"

struct login_wait;

struct login {
    const struct cfg *cfg;
    struct jwks *keys;
    char *issuers[4]; /* NULL-terminated */
    char *audiences[3];
    struct login_wait *waits; /* checks waiting for the keys */
};

struct login_wait {
    struct login_wait *prev, *next;
    struct login *l;
    struct http_req *r;
    struct jwks_wait *w;
    char *token;
    login_cb go;
    void *arg;
};

static void login__deny(struct http_req *r, int status, const char *why)
{
    char msg[400];

    if (status == 401) {
        http_resp_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        snprintf(msg, sizeof(msg), "unauthorized: %s", why);
    } else {
        snprintf(msg, sizeof(msg), "%s", why);
    }
    log_info("login: %s %s: %s", http_req_method(r), http_req_path(r), why);
    http_resp_error(r, status, msg);
}

struct login *login_open(const struct cfg *c, char *err, size_t errlen)
{
    const char *host = c->auth_authority_host;
    int hl = (int)str_base_len(host);
    struct login *l;
    char *url;

    err[0] = '\0';
    if (!c->use_authentication) {
        if (c->enforce_access_control)
            snprintf(err, errlen, "enforce_access_control needs"
                                  " use_authentication (AZURE_USE_AUTHENTICATION)");
        return NULL;
    }
    if (!c->server_app_id || !c->auth_tenant_id) {
        snprintf(err, errlen, "use_authentication needs server_app_id"
                              " (AZURE_SERVER_APP_ID) and auth_tenant_id"
                              " (AZURE_AUTH_TENANT_ID)");
        return NULL;
    }
    if (!(l = calloc(1, sizeof(*l))))
        return snprintf(err, errlen, "out of memory"), NULL;
    l->cfg = c;
    url = str_fmt("%.*s/%s/discovery/v2.0/keys", hl, host, c->auth_tenant_id);
    l->keys = url ? jwks_new(url) : NULL;
    free(url);
    /* Tokens of an app registration with requestedAccessTokenVersion 1
     * carry the v1 issuer and the bare id as audience; version 2 the v2
     * issuer and either audience. Behind an authority other than the
     * public cloud's, its v2 issuer is taken too. */
    l->issuers[0] = str_fmt("https://login.microsoftonline.com/%s/v2.0",
                            c->auth_tenant_id);
    l->issuers[1] = str_fmt(LOGIN_V1_ISSUER, c->auth_tenant_id);
    l->issuers[2] = str_fmt("%.*s/%s/v2.0", hl, host, c->auth_tenant_id);
    l->audiences[0] = str_fmt("api://%s", c->server_app_id);
    l->audiences[1] = strdup(c->server_app_id);
    if (!l->keys || !l->issuers[0] || !l->issuers[1] || !l->issuers[2] ||
        !l->audiences[0] || !l->audiences[1]) {
        login_close(l);
        return snprintf(err, errlen, "out of memory"), NULL;
    }
    log_info("login: tokens of tenant %s for app %s%s", c->auth_tenant_id,
             c->server_app_id, c->enforce_access_control ? "; searches filtered by oids and groups" : "");
    return l;
}

static void login__unlink(struct login_wait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->l->waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

static void login__wait_free(struct login_wait *w)
{
    login__unlink(w);
    if (w->w)
        jwks_cancel(w->w);
    free(w->token);
    free(w);
}

void login_close(struct login *l)
{
    if (!l)
        return;
    while (l->waits)
        login__wait_free(l->waits);
    jwks_free(l->keys);
    for (size_t i = 0; i < sizeof(l->issuers) / sizeof(l->issuers[0]); i++)
        free(l->issuers[i]);
    for (size_t i = 0; i < sizeof(l->audiences) / sizeof(l->audiences[0]); i++)
        free(l->audiences[i]);
    free(l);
}

/* The token of the request, as the sample's get_token_auth_header finds
 * it; NULL with why. */
static const char *login__token(struct http_req *r, char *buf, size_t n,
                                const char **why)
{
    const char *h = http_req_header(r, "Authorization");
    const char *p, *end;

    if (!h || !*h) {
        if ((h = http_req_header(r, "x-ms-token-aad-access-token")) && *h)
            return h;
        *why = "Authorization header is expected";
        return NULL;
    }
    p = h + strspn(h, " \t");
    if (strncasecmp(p, "bearer", 6) != 0 || (p[6] && p[6] != ' ' &&
                                             p[6] != '\t')) {
        *why = "Authorization header must start with Bearer";
        return NULL;
    }
    p += 6;
    p += strspn(p, " \t");
    end = p + strcspn(p, " \t");
    if (p == end) {
        *why = "Token not found";
        return NULL;
    }
    if (end[strspn(end, " \t")] != '\0') {
        *why = "Authorization header must be Bearer token";
        return NULL;
    }
    if ((size_t)(end - p) >= n) {
        *why = "token too long";
        return NULL;
    }
    memcpy(buf, p, (size_t)(end - p));
    buf[end - p] = '\0';
    return buf;
}

/* Checks token with the keys at hand. Returns 1 and calls go for a good
 * token; 0 after answering r; -1 when its kid is being fetched: *w is
 * the wait, wait_arg its argument. With wait_arg NULL (a look after a
 * fetch) it never waits. */
static int login__verify(struct login *l, struct http_req *r,
                         const char *token, login_cb go, void *go_arg,
                         void *wait_arg, struct jwks_wait **w);

static void login__on_keys(void *arg)
{
    struct login_wait *lw = arg;
    struct jwks_wait *none;

    lw->w = NULL;
    /* The app's close callback was not there to see the client leave. */
    if (http_req_gone(lw->r))
        http_resp_error(lw->r, 400, "the client went away");
    else
        login__verify(lw->l, lw->r, lw->token, lw->go, lw->arg, NULL, &none);
    login__wait_free(lw);
}

static int login__verify(struct login *l, struct http_req *r,
                         const char *token, login_cb go, void *go_arg,
                         void *wait_arg, struct jwks_wait **w)
{
    char err[300];
    struct jwt j;
    EVP_PKEY *key = NULL;
    int rc = 0;

    *w = NULL;
    if (jwt_parse(token, &j, err, sizeof(err)) < 0) {
        login__deny(r, 401, err);
    } else {
        int found = jwks_lookup(l->keys, jwt_kid(&j), &key, login__on_keys,
                                wait_arg, w);
        if (found == 0 && !wait_arg) {
            /* Only a first look waits: a second one after a fetch
             * must not. */
            jwks_cancel(*w);
            *w = NULL;
            found = -1;
        }
        if (found == 0) {
            rc = -1;
        } else if (found < 0 && !jwks_loaded(l->keys) &&
                   jwks_error(l->keys)[0]) {
            snprintf(err, sizeof(err), "the tenant's signing keys could not"
                                       " be fetched: %s",
                     jwks_error(l->keys));
            login__deny(r, 502, err);
        } else if (found < 0) {
            snprintf(err, sizeof(err), "signing key %.80s is not the"
                                       " tenant's",
                     jwt_kid(&j) ? jwt_kid(&j) : "(no kid)");
            login__deny(r, 401, err);
        } else if (jwt_verify(&j, key, err, sizeof(err)) < 0 ||
                   jwt_check_claims(&j, (const char *const *)l->issuers,
                                    (const char *const *)l->audiences,
                                    time(NULL), err, sizeof(err)) < 0) {
            login__deny(r, 401, err);
        } else {
            const cJSON *c = jwt_claims(&j);
            const cJSON *oid = cJSON_GetObjectItemCaseSensitive(c, "oid");
            const cJSON *groups = cJSON_GetObjectItemCaseSensitive(c, "groups");
            struct login_user u = {
                cJSON_IsString(oid) ? oid->valuestring : "",
                cJSON_IsArray(groups) ? groups : NULL,
            };
            go(r, &u, go_arg);
            rc = 1;
        }
    }
    jwt_free(&j);
    return rc;
}

void login_check(struct login *l, struct http_req *r, login_cb go, void *arg)
{
    char buf[JWT_MAX_LEN + 1];
    const char *why = NULL, *token;
    struct login_wait *lw;

    if (!l) {
        go(r, NULL, arg);
        return;
    }
    if (!(token = login__token(r, buf, sizeof(buf), &why))) {
        login__deny(r, 401, why);
        return;
    }
    if (!(lw = calloc(1, sizeof(*lw))) || !(lw->token = strdup(token))) {
        free(lw);
        http_resp_error(r, 500, "out of memory");
        return;
    }
    lw->l = l;
    lw->r = r;
    lw->go = go;
    lw->arg = arg;
    if (login__verify(l, r, token, go, arg, lw, &lw->w) < 0) {
        lw->next = l->waits;
        if (l->waits)
            l->waits->prev = lw;
        l->waits = lw;
        return;
    }
    free(lw->token);
    free(lw);
}

/* s with each ' doubled, as OData string literals want it. */
static int login__odata(cJSON *parts, const char *s)
{
    size_t n = strlen(s), q = 0;
    char *out;

    for (size_t i = 0; i < n; i++)
        q += s[i] == '\'';
    if (!(out = malloc(n + q + 1)))
        return -1;
    for (size_t i = 0, o = 0; i <= n; i++) {
        out[o++] = s[i];
        if (s[i] == '\'')
            out[o++] = '\'';
    }
    cJSON *v = cJSON_CreateString(out);
    free(out);
    return v && cJSON_AddItemToArray(parts, v) ? 0 : -1;
}

static int login__override(const cJSON *overrides, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(overrides, name));
}

int login_filter(const struct login *l, const struct login_user *u,
                 const cJSON *overrides, char **out)
{
    int oids, groups, rc = -1;
    cJSON *ids;
    const cJSON *g;
    char *joined = NULL, *oid = NULL, *grp = NULL;
    size_t len = 0;

    *out = NULL;
    if (!l || !u)
        return 0;
    oids = l->cfg->enforce_access_control ||
           login__override(overrides, "use_oid_security_filter");
    groups = l->cfg->enforce_access_control ||
             login__override(overrides, "use_groups_security_filter");
    if (!oids && !groups)
        return 0;
    /* The values go between quotes: escaped, though Entra's are GUIDs. */
    if (!(ids = cJSON_CreateArray()) || login__odata(ids, u->oid) < 0)
        goto done;
    cJSON_ArrayForEach(g, u->groups) if (cJSON_IsString(g) && login__odata(ids, g->valuestring) < 0) goto done;
    for (g = ids->child->next; g; g = g->next)
        len += strlen(g->valuestring) + 2;
    if (!(joined = malloc(len + 1)))
        goto done;
    joined[0] = '\0';
    for (g = ids->child->next; g; g = g->next)
        strcat(strcat(joined, g == ids->child->next ? "" : ", "),
               g->valuestring);
    oid = oids ? str_fmt("oids/any(g:search.in(g, '%s'))",
                         ids->child->valuestring)
               : NULL;
    grp = groups ? str_fmt("groups/any(g:search.in(g, '%s'))", joined) : NULL;
    if ((oids && !oid) || (groups && !grp))
        goto done;
    *out = oid && grp ? str_fmt("(%s or %s)", oid, grp)
                      : strdup(oid ? oid : grp);
    rc = *out ? 0 : -1;
done:
    cJSON_Delete(ids);
    free(joined);
    free(oid);
    free(grp);
    return rc;
}

cJSON *login_setup_json(const struct cfg *c)
{
    const char *tenant = c->auth_tenant_id ? c->auth_tenant_id : "";
    const char *server = c->server_app_id ? c->server_app_id : "";
    int hl = (int)str_base_len(c->auth_authority_host);
    char *authority = str_fmt("%.*s/%s", hl, c->auth_authority_host, tenant);
    char *scope = str_fmt("api://%s/access_as_user", server);
    cJSON *root = cJSON_CreateObject();
    cJSON *msal = cJSON_AddObjectToObject(root, "msalConfig");
    cJSON *auth = cJSON_AddObjectToObject(msal, "auth");
    cJSON *cache = cJSON_AddObjectToObject(msal, "cache");
    cJSON *login = cJSON_AddObjectToObject(root, "loginRequest");
    cJSON *token = cJSON_AddObjectToObject(root, "tokenRequest");
    const char *default_scope = ".default";
    int ok = authority && scope && auth && cache && login && token;

    cJSON_AddBoolToObject(root, "useLogin", c->use_authentication);
    cJSON_AddBoolToObject(root, "requireAccessControl",
                          c->use_authentication && c->enforce_access_control);
    cJSON_AddBoolToObject(root, "enableUnauthenticatedAccess", 0);
    if (c->client_app_id)
        cJSON_AddStringToObject(auth, "clientId", c->client_app_id);
    else
        cJSON_AddNullToObject(auth, "clientId");
    cJSON_AddStringToObject(auth, "authority", authority ? authority : "");
    cJSON_AddStringToObject(auth, "redirectUri", "/redirect");
    cJSON_AddStringToObject(auth, "postLogoutRedirectUri", "/");
    cJSON_AddBoolToObject(auth, "navigateToLoginRequestUrl", 0);
    cJSON_AddStringToObject(cache, "cacheLocation", "localStorage");
    cJSON_AddBoolToObject(cache, "storeAuthStateInCookie", 0);
    cJSON_AddItemToObject(login, "scopes",
                          cJSON_CreateStringArray(&default_scope, 1));
    cJSON_AddItemToObject(token, "scopes", cJSON_CreateStringArray((const char *const *)&scope, 1));
    free(authority);
    free(scope);
    if (!ok || !cJSON_GetObjectItemCaseSensitive(token, "scopes")) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
