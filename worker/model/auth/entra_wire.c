/*
 * entra_wire — credential choice, token request and answer (see
 * entra_wire.h). The shapes follow azure-identity and MSAL.
 */
#include "worker/model/auth/entra_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "common/str.h"

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

static int set(const char *s)
{
    return s && *s;
}

int entra_cred_from_cfg(const struct cfg *c, struct entra_cred *cred,
                        char *err, size_t errlen)
{
    memset(cred, 0, sizeof(*cred));
    cred->tenant = c->azure_tenant_id;
    cred->client_id = set(c->azure_client_id) ? c->azure_client_id : NULL;
    cred->secret = c->azure_client_secret;
    cred->authority = c->azure_authority_host;
    cred->token_file = c->azure_federated_token_file;
    cred->identity_endpoint = c->identity_endpoint;
    cred->identity_header = c->identity_header;
    cred->imds_host = c->azure_imds_host;
    if (set(cred->secret) || set(cred->token_file)) {
        cred->kind = set(cred->secret) ? ENTRA_SECRET : ENTRA_WORKLOAD;
        if (set(cred->tenant) && cred->client_id)
            return 0;
        snprintf(err, errlen, "%s needs AZURE_TENANT_ID and AZURE_CLIENT_ID",
                 set(cred->secret) ? "AZURE_CLIENT_SECRET"
                                   : "AZURE_FEDERATED_TOKEN_FILE");
        return -1;
    }
    if (set(cred->identity_endpoint) != set(cred->identity_header)) {
        snprintf(err, errlen, "IDENTITY_ENDPOINT and IDENTITY_HEADER go "
                              "together (App Service / Container Apps managed identity)");
        return -1;
    }
    cred->kind = set(cred->identity_endpoint) ? ENTRA_APP_SERVICE : ENTRA_IMDS;
    return 0;
}

const char *entra_kind_name(enum entra_kind k)
{
    static const char *const names[] = {
        "client secret",
        "workload identity",
        "managed identity (App Service)",
        "managed identity (IMDS)",
    };
    return names[k];
}

char *entra_form_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *o = out;

    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch)) {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    return out;
}

/* "a=%s&b=%s..." with every %s escaped: args are pairs of name, value,
 * ending with NULL; a NULL value skips the pair. */
static char *form(const char *first, ...)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    va_list ap;
    int ok = f != NULL, n = 0;

    va_start(ap, first);
    for (const char *k = first; k && ok; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        char *e = v ? entra_form_escape(v) : NULL;
        if (v && !e)
            ok = 0;
        else if (v)
            fprintf(f, "%s%s=%s", n++ ? "&" : "", k, e);
        free(e);
    }
    va_end(ap);
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Managed identity's resource: the scope without its "/.default". */
static char *resource_of(const char *scope)
{
    size_t n = strlen(scope), d = strlen("/.default");

    if (n > d && strcmp(scope + n - d, "/.default") == 0)
        n -= d;
    return strndup(scope, n);
}

static int build_managed(const struct entra_cred *c, const char *scope,
                         struct entra_http *h)
{
    char *res = resource_of(scope);
    char *q = NULL;

    if (!res)
        return -1;
    if (c->kind == ENTRA_APP_SERVICE) {
        q = form("api-version", "2019-08-01", "resource", res, "client_id",
                 c->client_id, NULL);
        h->url = q ? str_fmt("%s%s%s", c->identity_endpoint,
                             strchr(c->identity_endpoint, '?') ? "&" : "?", q)
                   : NULL;
        h->header = str_fmt("X-IDENTITY-HEADER: %s", c->identity_header);
    } else {
        size_t n = str_base_len(c->imds_host);
        q = form("api-version", "2018-02-01", "resource", res, "client_id",
                 c->client_id, NULL);
        h->url = q ? str_fmt("%.*s/metadata/identity/oauth2/token?%s", (int)n,
                             c->imds_host, q)
                   : NULL;
        h->header = strdup("Metadata: true");
    }
    free(q);
    free(res);
    return h->url && h->header ? 0 : -1;
}

int entra_http_build(const struct entra_cred *c, const char *scope,
                     const char *assertion, struct entra_http *h)
{
    memset(h, 0, sizeof(*h));
    if (c->kind == ENTRA_APP_SERVICE || c->kind == ENTRA_IMDS)
        return build_managed(c, scope, h);
    size_t n = str_base_len(c->authority);
    char *tenant = entra_form_escape(c->tenant);
    h->url = tenant ? str_fmt("%.*s/%s/oauth2/v2.0/token", (int)n, c->authority,
                              tenant)
                    : NULL;
    free(tenant);
    h->header = strdup("Content-Type: application/x-www-form-urlencoded");
    if (c->kind == ENTRA_SECRET)
        h->body = form("grant_type", "client_credentials", "client_id",
                       c->client_id, "client_secret", c->secret, "scope",
                       scope, NULL);
    else
        h->body = form("grant_type", "client_credentials", "client_id",
                       c->client_id, "client_assertion_type", JWT_BEARER,
                       "client_assertion", assertion ? assertion : "",
                       "scope", scope, NULL);
    if (h->url && h->header && h->body)
        return 0;
    entra_http_free(h);
    return -1;
}

void entra_http_free(struct entra_http *h)
{
    free(h->url);
    free(h->header);
    free(h->body);
    memset(h, 0, sizeof(*h));
}

/* A number, or a string of digits (managed identity sends strings). */
static int num_item(const cJSON *o, const char *name, long long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    char *end;

    if (cJSON_IsNumber(v)) {
        *out = (long long)v->valuedouble;
        return 0;
    }
    if (!cJSON_IsString(v) || !*v->valuestring)
        return -1;
    *out = strtoll(v->valuestring, &end, 10);
    return *end == '\0' ? 0 : -1;
}

/* AAD: {"error":"invalid_client","error_description":"AADSTS..."};
 * App Service: {"error":{"code":..,"message":..}} or {"message":..}. */
static void error_text(const cJSON *root, int status, char *err, size_t n)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root,
                                                      "error_description");
    const char *code = cJSON_IsString(e) ? e->valuestring : NULL;
    const char *desc = cJSON_IsString(d) ? d->valuestring : NULL;

    if (cJSON_IsObject(e)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
        code = cJSON_IsString(c) ? c->valuestring : NULL;
        desc = cJSON_IsString(m) ? m->valuestring : NULL;
    } else if (!desc) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
        desc = cJSON_IsString(m) ? m->valuestring : NULL;
    }
    snprintf(err, n, "HTTP %d%s%s%s%.300s", status, code ? " " : "",
             code ? code : "", desc ? ": " : "", desc ? desc : "");
}

int entra_parse(int status, const char *body, size_t len, long long now_ms,
                struct entra_token *t, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, "access_token");
    long long v;
    int rc = -1;

    memset(t, 0, sizeof(*t));
    if (status < 200 || status >= 300)
        error_text(root, status, err, errlen);
    else if (!cJSON_IsString(at) || !*at->valuestring)
        snprintf(err, errlen, "HTTP %d without an access_token", status);
    else if (num_item(root, "expires_in", &v) == 0 && v > 0)
        t->expires_ms = now_ms + v * 1000;
    else if (num_item(root, "expires_on", &v) == 0 && v > 0)
        t->expires_ms = v * 1000;
    else
        snprintf(err, errlen, "the token answer has no expires_in or "
                              "expires_on");
    if (t->expires_ms > now_ms) {
        t->access_token = strdup(at->valuestring);
        rc = t->access_token ? 0 : -1;
        if (rc < 0)
            snprintf(err, errlen, "out of memory");
    } else if (t->expires_ms) {
        snprintf(err, errlen, "the token has already expired");
    }
    cJSON_Delete(root);
    return rc;
}

long long entra_refresh_at(long long got_ms, long long exp_ms)
{
    long long life = exp_ms - got_ms;

    return life > 600000 ? exp_ms - 300000 : got_ms + life / 2;
}

long long entra_usable_until(long long got_ms, long long exp_ms)
{
    long long skew = (exp_ms - got_ms) / 10;

    return exp_ms - (skew > 30000 ? 30000 : skew);
}
