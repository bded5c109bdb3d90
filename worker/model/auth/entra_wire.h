/*
 * entra_wire — the pure half of Entra ID token acquisition (worker/model/auth/entra.h
 * has the live half): which credential the settings describe, the HTTP
 * request that asks for a token, the parsing of the answer, and when a
 * token should be refreshed. No I/O, no loop; unit-tested alone.
 *
 * Credentials, in DefaultAzureCredential's order:
 *   secret      AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET:
 *               POST {authority}/{tenant}/oauth2/v2.0/token, form body
 *               grant_type=client_credentials, client_id, client_secret,
 *               scope
 *   workload    AZURE_FEDERATED_TOKEN_FILE + AZURE_TENANT_ID +
 *               AZURE_CLIENT_ID: the same POST with client_assertion_type
 *               =urn:ietf:params:oauth:client-assertion-type:jwt-bearer and
 *               client_assertion = the file's contents (re-read each time:
 *               Kubernetes rotates it)
 *   app service IDENTITY_ENDPOINT + IDENTITY_HEADER (App Service, Container
 *               Apps): GET {endpoint}?api-version=2019-08-01&resource=R
 *               [&client_id=AZURE_CLIENT_ID], header X-IDENTITY-HEADER
 *   imds        otherwise: GET {AZURE_POD_IDENTITY_AUTHORITY_HOST, default
 *               http://169.254.169.254}/metadata/identity/oauth2/token
 *               ?api-version=2018-02-01&resource=R[&client_id=...],
 *               header Metadata: true
 * Managed identity takes a resource, the scope without "/.default".
 *
 * Ownership: struct entra_cred points into the struct cfg it was read from
 * (or the caller's strings); entra_http owns its three strings.
 */
#ifndef LLMFORK_ENTRA_WIRE_H
#define LLMFORK_ENTRA_WIRE_H

#include <stddef.h>

struct cfg;

enum entra_kind { ENTRA_SECRET,
                  ENTRA_WORKLOAD,
                  ENTRA_APP_SERVICE,
                  ENTRA_IMDS };

struct entra_cred {
    enum entra_kind kind;
    const char *tenant;
    const char *client_id; /* may be NULL for managed identity */
    const char *secret;
    const char *authority; /* https://login.microsoftonline.com */
    const char *token_file;
    const char *identity_endpoint;
    const char *identity_header;
    const char *imds_host; /* http://169.254.169.254 */
};

/* Picks the credential the settings describe. Returns -1 and writes why
 * into err when they are half there (a secret without a tenant, ...). */
int entra_cred_from_cfg(const struct cfg *c, struct entra_cred *cred,
                        char *err, size_t errlen);

/* "client secret", "workload identity", "managed identity (App Service)",
 * "managed identity (IMDS)". */
const char *entra_kind_name(enum entra_kind k);

struct entra_http {
    char *url;
    char *header; /* one "Name: value" line, or NULL */
    char *body;   /* form body for POST, NULL for GET */
};

/* Builds the token request for scope. assertion: the federated token
 * (workload identity only). Returns 0, or -1 out of memory. */
int entra_http_build(const struct entra_cred *c, const char *scope,
                     const char *assertion, struct entra_http *h);
void entra_http_free(struct entra_http *h);

/* Percent-encodes s (RFC 3986 unreserved kept) into a malloc'd string. */
char *entra_form_escape(const char *s);

struct entra_token {
    char *access_token;   /* malloc'd */
    long long expires_ms; /* wall clock, ms since the epoch */
};

/* Reads a token answer (status, body) received at now_ms: access_token
 * and expires_in (number or string) or else expires_on (epoch seconds,
 * number or string). Returns 0, or -1 with a short reason in err (the
 * service's error and error_description when it sent them). */
int entra_parse(int status, const char *body, size_t len, long long now_ms,
                struct entra_token *t, char *err, size_t errlen);

/* When to refresh a token fetched at got_ms that expires at exp_ms: five
 * minutes before expiry, or at half-life for short tokens. */
long long entra_refresh_at(long long got_ms, long long exp_ms);
/* Until when it may be sent: a little before expiry (a tenth of its life,
 * at most 30 s), so it does not expire on the way. */
long long entra_usable_until(long long got_ms, long long exp_ms);

#endif
