/*
 * token.h — the mock's Entra ID token endpoints (tests/mock/token.c), so
 * llmfork's token acquisition (worker/model/auth/entra.h) is tested end to end.
 *
 *   --token SPEC   comma-separated options:
 *       require     the chat and embeddings endpoints accept only
 *                   "Authorization: Bearer T" with T issued here for
 *                   https://cognitiveservices.azure.com and not expired,
 *                   the search endpoints only one issued for
 *                   https://search.azure.com (API keys are refused)
 *       ttl=S       expires_in of issued tokens (default 3600)
 *       secret=X    the only client secret accepted (default: any)
 *       fail=NNN    every token request gets that status, AAD error shape
 *       delay_ms=N  token answers wait N ms (requests pile up meanwhile)
 *       only=S      fail and delay_ms apply only to token requests whose
 *                   scope (or resource) contains S, e.g. only=search
 *
 * Endpoints (their real shapes):
 *   POST /{tenant}/oauth2/v2.0/token   client credentials (client_secret,
 *        or client_assertion_type jwt-bearer + client_assertion): AAD's
 *        {"token_type","expires_in","ext_expires_in","access_token"}
 *   GET  /msi/token?api-version=2019-08-01&resource=R   App Service /
 *        Container Apps, header X-IDENTITY-HEADER: {"access_token",
 *        "expires_on" (string, epoch s),"resource","token_type","client_id"}
 *   GET  /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R
 *        IMDS, header Metadata: true: expires_in/expires_on as strings
 *   GET  /_mock/tokens   {"requests","issued","refused","last":{method,
 *        path,query,headers (lower-case),form},"issued_for":{audience:
 *        tokens issued for it (among the last 4096)},"latest":{audience:
 *        the last token issued for it}}
 * An issued token remembers its audience: the scope (or managed
 * identity resource) it was asked for, without "/.default".
 *
 * Ownership: token.c owns the issued-token table, the last request and
 * the delayed answers (freed when sent or when their client goes away).
 */
#ifndef LLMFORK_MOCK_TOKEN_H
#define LLMFORK_MOCK_TOKEN_H

struct evhttp_request;

/* Parses --token. Returns 0, or -1 on a bad spec. */
int token_config(const char *spec);
/* Serves the endpoints above. Returns 0 if path was one of them. */
int token_route(struct evhttp_request *req, const char *path,
                const char *query);
/* 1 when --token require was given. */
int token_required(void);
/* 0 when req carries a valid token; otherwise the 401 has been sent. */
int token_auth(struct evhttp_request *req);

#define TOKEN_AUD_COGNITIVE "https://cognitiveservices.azure.com"
#define TOKEN_AUD_SEARCH "https://search.azure.com"

/* 0 when req carries an unexpired token issued here for aud; else -1,
 * counted as refused, and the caller sends its own 401. */
int token_check(struct evhttp_request *req, const char *aud);

#endif
