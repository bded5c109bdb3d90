/*
 * cors — preflights and response headers for allowed origins (cors.h).
 */
#include "worker/cors.h"

#include <string.h>

#include "common/cfg.h"

/* Starlette's ALL_METHODS, what allow_methods=["*"] stands for. */
static const char cors__methods[] = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";

/* 1 when s is one of the configured values. */
static int cors__listed(const struct cfg_list *origins, const char *s)
{
    for (int i = 0; i < origins->n; i++)
        if (strcmp(origins->v[i], s) == 0)
            return 1;
    return 0;
}

static int cors__allowed(const struct cfg_list *origins, const char *origin)
{
    return cors__listed(origins, "*") || cors__listed(origins, origin);
}

/* The method as a whole word of cors__methods (case-sensitive, as
 * Starlette compares). */
static int cors__method_known(const char *m)
{
    size_t n = strlen(m);

    for (const char *p = cors__methods; n > 0 && (p = strstr(p, m)) != NULL; p += n)
        if ((p == cors__methods || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

int cors_is_preflight(const struct http_req *r, const struct cfg_list *origins)
{
    return origins->n > 0 && strcmp(http_req_method(r), "OPTIONS") == 0 &&
           http_req_header(r, "Origin") != NULL &&
           http_req_header(r, "Access-Control-Request-Method") != NULL;
}

void cors_preflight(struct http_req *r, const struct cfg_list *origins)
{
    const char *origin = http_req_header(r, "Origin");
    const char *method = http_req_header(r, "Access-Control-Request-Method");
    const char *hdrs = http_req_header(r, "Access-Control-Request-Headers");
    int ok_origin = cors__allowed(origins, origin);
    int ok_method = cors__method_known(method);

    /* With credentials allowed the origin is always named, never "*". */
    if (ok_origin)
        http_resp_header(r, "Access-Control-Allow-Origin", origin);
    http_resp_header(r, "Vary", "Origin");
    http_resp_header(r, "Access-Control-Allow-Methods", cors__methods);
    http_resp_header(r, "Access-Control-Max-Age", "600");
    if (hdrs != NULL)
        http_resp_header(r, "Access-Control-Allow-Headers", hdrs);
    http_resp_header(r, "Access-Control-Allow-Credentials", "true");
    if (ok_origin && ok_method)
        http_resp_send(r, 204, NULL, "", 0);
    else
        http_resp_error(r, 400, !ok_origin && !ok_method ? "Disallowed CORS origin, method" : !ok_origin ? "Disallowed CORS origin"
                                                                                                         : "Disallowed CORS method");
}

void cors_response(struct http_req *r, const struct cfg_list *origins)
{
    const char *origin = http_req_header(r, "Origin");

    if (origins->n == 0 || origin == NULL || !cors__allowed(origins, origin))
        return;
    if (cors__listed(origins, "*") && http_req_header(r, "Cookie") == NULL &&
        http_req_header(r, "Authorization") == NULL)
        http_resp_header(r, "Access-Control-Allow-Origin", "*");
    else {
        http_resp_header(r, "Access-Control-Allow-Origin", origin);
        http_resp_header(r, "Vary", "Origin");
    }
    http_resp_header(r, "Access-Control-Allow-Credentials", "true");
}
