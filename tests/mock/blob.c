/*
 * blob.c — the mock's Azure Blob Storage, for llmfork's /content route
 * (worker/apps/blob.h), as the service answers Get Blob:
 *
 *   --blobs ACCOUNT:DIR[:KEY]   GET /ACCOUNT/CONTAINER/NAME serves the file
 *        DIR/CONTAINER/NAME (path-style, as Azurite serves
 *        http://127.0.0.1:10000/devstoreaccount1/...).
 *
 *   Needs x-ms-version (else 400 MissingRequiredHeader) and either
 *   "Authorization: Bearer T" with a token issued here for
 *   https://storage.azure.com (token.h), or, when KEY (base64) is given,
 *   "Authorization: SharedKey ACCOUNT:SIG" with SIG checked against the
 *   request as the service canonicalises it (the eleven standard headers,
 *   the x-ms- headers sorted, /ACCOUNT + path); no header is a 401
 *   NoAuthenticationInformation, a wrong one a 403 AuthenticationFailed.
 *   Range: bytes=A-B, A- or -N: 206 with Content-Range, 416 InvalidRange
 *   past the end. A missing file is a 404 BlobNotFound (a missing
 *   container folder, ContainerNotFound). Errors are the service's XML
 *   <Error><Code>..</Code><Message>..</Message></Error>. The blob's
 *   Content-Type: application/pdf for .pdf, text/plain for .txt, else
 *   application/octet-stream (what an upload without a type gets).
 *   Recorded like API requests (/_mock/requests).
 *
 * Ownership: the spec strings are argv's; the decoded key is static; each
 * reply's buffers are evhttp's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/hmac.h>

#include "common/b64.h"
#include "tests/mock/mock.h"
#include "tests/mock/token.h"

#define AUD_STORAGE "https://storage.azure.com"

static char account[64];
static const char *root;
static unsigned char key[128];
static long keylen = -1;

int blob_config(const char *spec)
{
    const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    static char dir[4096];

    if (!c1 || (size_t)(c1 - spec) >= sizeof(account) || c1 == spec)
        return -1;
    memcpy(account, spec, (size_t)(c1 - spec));
    account[c1 - spec] = '\0';
    snprintf(dir, sizeof(dir), "%.*s", c2 ? (int)(c2 - c1 - 1) : (int)strlen(c1 + 1), c1 + 1);
    root = dir;
    if (c2 && (keylen = b64_decode(c2 + 1, strlen(c2 + 1), key,
                                   sizeof(key))) <= 0)
        return -1;
    return 0;
}

static void xml_error(struct evhttp_request *req, int status,
                      const char *reason, const char *code, const char *msg)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/xml");
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "x-ms-error-code", code);
    evbuffer_add_printf(out, "\xef\xbb\xbf<?xml version=\"1.0\" encoding="
                             "\"utf-8\"?><Error><Code>%s</Code><Message>%s\n"
                             "RequestId:00000000-0000-0000-0000-000000000000\n"
                             "Time:2026-01-01T00:00:00.0000000Z</Message></Error>",
                        code, msg);
    evhttp_send_reply(req, status, reason, NULL);
    mock_stats.errors++;
}

static const char *hdr(struct evhttp_request *req, const char *name)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       name);
    return v ? v : "";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The service's string to sign for req (Blob, Shared Key, 2009-09-19+). */
static void canonical(struct evhttp_request *req, const char *path,
                      struct evbuffer *s)
{
    static const char *const std[] = {
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-MD5",
        "Content-Type",
        "Date",
        "If-Modified-Since",
        "If-Match",
        "If-None-Match",
        "If-Unmodified-Since",
        "Range",
    };
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    struct evkeyval *kv;
    char *lines[64];
    int n = 0;

    evbuffer_add_printf(s, "GET\n");
    for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
        const char *v = hdr(req, std[i]);
        /* Content-Length 0 is written as empty. */
        evbuffer_add_printf(s, "%s\n", i == 2 && !strcmp(v, "0") ? "" : v);
    }
    TAILQ_FOREACH(kv, h, next)
    {
        if (strncasecmp(kv->key, "x-ms-", 5) || n == 64)
            continue;
        char *l = malloc(strlen(kv->key) + strlen(kv->value) + 2);
        if (!l)
            continue;
        sprintf(l, "%s:%s", kv->key, kv->value);
        for (char *p = l; *p != ':'; p++)
            *p = (char)tolower((unsigned char)*p);
        lines[n++] = l;
    }
    if (n > 1)
        qsort(lines, (size_t)n, sizeof(lines[0]), by_name);
    for (int i = 0; i < n; i++) {
        evbuffer_add_printf(s, "%s\n", lines[i]);
        free(lines[i]);
    }
    evbuffer_add_printf(s, "/%s%s", account, path);
}

/* 0 when req is authorised; else the error was sent. */
static int authorised(struct evhttp_request *req, const char *path)
{
    const char *a = hdr(req, "Authorization");
    char want[200], sig[64];
    unsigned char mac[64];
    unsigned int maclen = 0;
    struct evbuffer *s;

    if (!*a) {
        xml_error(req, 401, "Unauthorized", "NoAuthenticationInformation",
                  "Server failed to authenticate the request. Please refer "
                  "to the information in the www-authenticate header.");
        return -1;
    }
    if (!strncasecmp(a, "Bearer ", 7) && token_check(req, AUD_STORAGE) == 0)
        return 0;
    if (keylen > 0 && !strncmp(a, "SharedKey ", 10) && (s = evbuffer_new())) {
        canonical(req, path, s);
        size_t len = evbuffer_get_length(s);
        HMAC(EVP_sha256(), key, (int)keylen, evbuffer_pullup(s, -1), len,
             mac, &maclen);
        evbuffer_free(s);
        b64_encode(mac, maclen, sig, sizeof(sig));
        snprintf(want, sizeof(want), "SharedKey %s:%s", account, sig);
        if (!strcmp(a, want))
            return 0;
    }
    xml_error(req, 403, "Server failed to authenticate the request",
              "AuthenticationFailed", "Server failed to authenticate the "
                                      "request. Make sure the value of Authorization header is formed"
                                      " correctly including the signature.");
    return -1;
}

/* "bytes=A-B" etc. against size: 1 with [*from, *to], 0 none, -1 bad. */
static int range_of(const char *r, long long size, long long *from,
                    long long *to)
{
    long long a = -1, b = -1;
    int used = 0;

    if (!*r)
        return 0;
    if (sscanf(r, "bytes=-%lld%n", &b, &used) == 1 && !r[used] && b > 0) {
        *from = size > b ? size - b : 0;
        *to = size - 1;
    } else if (sscanf(r, "bytes=%lld-%n", &a, &used) == 1 && !r[used]) {
        *from = a;
        *to = size - 1;
    } else if (sscanf(r, "bytes=%lld-%lld%n", &a, &b, &used) == 2 &&
               !r[used] && b >= a) {
        *from = a;
        *to = b < size ? b : size - 1;
    } else {
        return 0; /* the service ignores what it cannot read */
    }
    return *from < size && size > 0 ? 1 : -1;
}

int blob_route(struct evhttp_request *req, const char *path,
               const char *query)
{
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    size_t al = strlen(account);
    char file[8192 + 4096], cdir[8192], buf[64];
    const char *cont, *slash;
    struct stat st;
    long long from = 0, to = 0;
    int rr;
    FILE *f;

    if (!root || strncmp(path, "/", 1) || strncmp(path + 1, account, al) ||
        path[al + 1] != '/')
        return -1;
    stats_record(req, path, query, "", 0);
    evhttp_add_header(oh, "x-ms-request-id", "00000000-0000-0000-0000-000000000000");
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        xml_error(req, 405, "Method Not Allowed", "UnsupportedHttpVerb",
                  "The resource doesn't support specified Http Verb.");
        return 0;
    }
    if (!*hdr(req, "x-ms-version")) {
        xml_error(req, 400, "An HTTP header that's mandatory for this request"
                            " is not specified.",
                  "MissingRequiredHeader", "An HTTP "
                                           "header that's mandatory for this request is not specified.");
        return 0;
    }
    evhttp_add_header(oh, "x-ms-version", hdr(req, "x-ms-version"));
    if (authorised(req, path) < 0)
        return 0;
    cont = path + al + 2;
    slash = strchr(cont, '/');
    char *name = slash ? evhttp_uridecode(slash + 1, 0, NULL) : NULL;
    snprintf(cdir, sizeof(cdir), "%s/%.*s", root,
             (int)(slash ? slash - cont : (long)strlen(cont)), cont);
    snprintf(file, sizeof(file), "%s/%.4000s", cdir, name ? name : "");
    if (stat(cdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        free(name);
        xml_error(req, 404, "The specified container does not exist.",
                  "ContainerNotFound", "The specified container does not "
                                       "exist.");
        return 0;
    }
    if (!name || strstr(name, "..") || stat(file, &st) < 0 ||
        !S_ISREG(st.st_mode) || !(f = fopen(file, "rb"))) {
        free(name);
        xml_error(req, 404, "The specified blob does not exist.",
                  "BlobNotFound", "The specified blob does not exist.");
        return 0;
    }
    rr = range_of(hdr(req, "Range"), st.st_size, &from, &to);
    if (rr < 0) {
        fclose(f);
        free(name);
        xml_error(req, 416, "The range specified is invalid for the current "
                            "size of the resource.",
                  "InvalidRange", "The range "
                                  "specified is invalid for the current size of the resource.");
        return 0;
    }
    if (rr == 0)
        to = st.st_size - 1;
    const char *dot = strrchr(name, '.');
    evhttp_add_header(oh, "Content-Type", dot && !strcmp(dot, ".pdf") ? "application/pdf" : dot && !strcmp(dot, ".txt") ? "text/plain"
                                                                                                                        : "application/octet-stream");
    free(name);
    evhttp_add_header(oh, "Accept-Ranges", "bytes");
    snprintf(buf, sizeof(buf), "\"0x8D%llX\"", (long long)st.st_mtime);
    evhttp_add_header(oh, "ETag", buf);
    evhttp_add_header(oh, "Last-Modified", "Thu, 01 Jan 2026 00:00:00 GMT");
    evhttp_add_header(oh, "x-ms-blob-type", "BlockBlob");
    if (rr) {
        snprintf(buf, sizeof(buf), "bytes %lld-%lld/%lld", from, to,
                 (long long)st.st_size);
        evhttp_add_header(oh, "Content-Range", buf);
    }
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    fseek(f, (long)from, SEEK_SET);
    for (long long left = to - from + 1; left > 0;) {
        char chunk[16384];
        size_t got = fread(chunk, 1, left < (long long)sizeof(chunk) ? (size_t)left : sizeof(chunk), f);
        if (got == 0)
            break;
        evbuffer_add(out, chunk, got);
        left -= (long long)got;
    }
    fclose(f);
    evhttp_send_reply(req, rr ? 206 : 200, rr ? "Partial Content" : "OK", NULL);
    mock_stats.completed++;
    return 0;
}
