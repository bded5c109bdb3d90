/*
 * jwks.c — the mock's Entra ID signing keys, for llmfork's login
 * (worker/apps/login.h):
 *
 *   --jwks FILE   GET /{tenant}/discovery/v2.0/keys answers FILE's
 *                 contents (a JSON Web Key Set the tests write from the
 *                 RSA keys they sign tokens with), read anew on every
 *                 request so a test rotates keys by rewriting it; with
 *                 the Cache-Control Entra sends. Recorded like an API
 *                 request (/_mock/requests, by_path).
 *
 * Ownership: the file's path is argv's; each reply's buffer is evhttp's.
 */
#include <stdio.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>

#include "tests/mock/mock.h"

static const char *jwks_file;

void jwks_config(const char *file)
{
    jwks_file = file;
}

int jwks_route(struct evhttp_request *req, const char *path,
               const char *query)
{
    static const char tail[] = "/discovery/v2.0/keys";
    size_t n = strlen(path), tl = sizeof(tail) - 1;
    struct evbuffer *out;
    FILE *f;
    char buf[4096];
    size_t got;

    if (!jwks_file || n <= tl + 1 || strcmp(path + n - tl, tail) != 0 ||
        memchr(path + 1, '/', n - tl - 1))
        return -1;
    stats_record(req, path, query, "", 0);
    out = evhttp_request_get_output_buffer(req);
    if (!(f = fopen(jwks_file, "r"))) {
        evhttp_send_reply(req, 500, "Internal Server Error", NULL);
        return 0;
    }
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
        evbuffer_add(out, buf, got);
    fclose(f);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json; charset=utf-8");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
                      "max-age=86400, private");
    evhttp_send_reply(req, 200, "OK", NULL);
    mock_stats.completed++;
    return 0;
}
