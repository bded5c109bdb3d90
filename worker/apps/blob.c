/* blob — one blob streamed from Blob Storage to a client (see blob.h). */
#include "worker/apps/blob.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/b64.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/str.h"
#include "worker/apps/static.h"
#include "worker/fetch/fetch.h"
#include "worker/model/auth/entra.h"

#define BLOB_KEY_MAX 128

struct blob {
    char *base;  /* endpoint + "/" + container, no '/' after */
    char *path0; /* base's path part, for the signature */
    char *account;
    unsigned char key[BLOB_KEY_MAX];
    size_t keylen; /* 0: Entra ID tokens */
    struct entra *entra;
};

struct blob_get {
    struct blob *b;
    struct http_req *r;
    struct fetch *f;
    struct entra_wait *w;
    char *name;      /* decoded, for the type and the log */
    char *path;      /* the URL's path, percent-encoded */
    char range[128]; /* the client's Range, or "" */
    int status;
    unsigned started : 1; /* the client's response has started */
    unsigned ended : 1;   /* the client's response has ended */
    unsigned paused : 1;
};

char *blob_string_to_sign(const char *range, const char *date,
                          const char *version, const char *account,
                          const char *path)
{
    /* VERB, then Content-Encoding, -Language, -Length, -MD5, -Type, Date,
     * If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since
     * (all empty), Range. */
    return str_fmt("GET\n\n\n\n\n\n\n\n\n\n\n%s\nx-ms-date:%s\n"
                   "x-ms-version:%s\n/%s%s",
                   range ? range : "", date,
                   version, account, path);
}

int blob_sign(const unsigned char *key, size_t keylen, const char *sts,
              char *out, size_t cap)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;

    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)sts,
              strlen(sts), mac, &maclen))
        return -1;
    return b64_encode(mac, maclen, out, cap) < 0 ? -1 : 0;
}

struct blob *blob_open(const struct cfg *c, char *err, size_t errlen)
{
    struct blob *b;
    char *ep;
    const char *p;
    long n = 0;

    err[0] = '\0';
    if (!c->storage_account)
        return NULL;
    if (!c->storage_container) {
        snprintf(err, errlen, "AZURE_STORAGE_ACCOUNT needs"
                              " AZURE_STORAGE_CONTAINER");
        return NULL;
    }
    if (!(b = calloc(1, sizeof(*b))))
        return snprintf(err, errlen, "out of memory"), NULL;
    if (c->storage_key && (n = b64_decode(c->storage_key,
                                          strlen(c->storage_key), b->key,
                                          sizeof(b->key))) <= 0) {
        snprintf(err, errlen, "AZURE_STORAGE_KEY is not a base64 account"
                              " key");
        blob_close(b);
        return NULL;
    }
    b->keylen = c->storage_key ? (size_t)n : 0;
    ep = c->storage_endpoint ? strdup(c->storage_endpoint)
                             : str_fmt("https://%s.blob.core.windows.net", c->storage_account);
    b->base = ep ? str_fmt("%.*s/%s", (int)str_base_len(ep), ep,
                           c->storage_container)
                 : NULL;
    free(ep);
    b->account = strdup(c->storage_account);
    /* The path after scheme://host, which the signature covers. */
    p = b->base ? strstr(b->base, "://") : NULL;
    p = p ? p + 3 + strcspn(p + 3, "/") : NULL;
    b->path0 = p ? strdup(p) : NULL;
    if (!b->base || !b->account || !b->path0) {
        snprintf(err, errlen, b->base && !p ? "storage_endpoint %s is not a"
                                              " URL"
                                            : "out of memory",
                 c->storage_endpoint);
        blob_close(b);
        return NULL;
    }
    if (!b->keylen && !(b->entra = entra_open(c, err, errlen))) {
        blob_close(b);
        return NULL;
    }
    log_info("content: blobs of %s (%s)", b->base, b->keylen ? "Shared Key" : entra_source(b->entra));
    return b;
}

void blob_close(struct blob *b)
{
    if (!b)
        return;
    if (b->entra)
        entra_close(b->entra);
    OPENSSL_cleanse(b->key, sizeof(b->key));
    free(b->base);
    free(b->path0);
    free(b->account);
    free(b);
}

/* ---- one download --------------------------------------------------- */

static void blob__free(struct blob_get *g)
{
    if (g->w)
        entra_cancel(g->w);
    free(g->name);
    free(g->path);
    free(g);
}

/* Ends the client's response once; frees g when the transfer is over. */
static void blob__finish(struct blob_get *g, int status, const char *msg)
{
    if (!g->ended) {
        g->ended = 1;
        if (g->started)
            http_resp_end(g->r);
        else
            http_resp_error(g->r, status, msg);
    }
    if (!g->f)
        blob__free(g);
}

static void blob__on_close(struct http_req *r, void *arg)
{
    struct blob_get *g = arg;
    (void)r;

    if (g->f) {
        fetch_cancel(g->f);
        g->f = NULL;
    }
    blob__finish(g, 400, "the client went away");
}

static void blob__on_drain(struct http_req *r, void *arg)
{
    struct blob_get *g = arg;
    (void)r;

    if (g->paused && g->f) {
        g->paused = 0;
        fetch_resume(g->f);
    }
}

static void blob__pass(struct blob_get *g, const char *name)
{
    const char *v = fetch_header(g->f, name);

    if (v && *v)
        http_resp_header(g->r, name, v);
}

static void blob__on_headers(struct fetch *f, int status, void *arg)
{
    struct blob_get *g = arg;
    const char *type = fetch_header(f, "Content-Type");

    g->status = status;
    if (status != 200 && status != 206)
        return; /* the body is the service's error */
    if (!type || !*type || !strcasecmp(type, "application/octet-stream"))
        type = static_content_type(g->name);
    blob__pass(g, "Content-Range");
    blob__pass(g, "Accept-Ranges");
    blob__pass(g, "ETag");
    blob__pass(g, "Last-Modified");
    http_resp_header(g->r, "X-Content-Type-Options", "nosniff");
    http_resp_start(g->r, status, type);
    http_resp_on_drain(g->r, blob__on_drain, g);
    g->started = 1;
}

static void blob__on_data(struct fetch *f, const char *p, size_t n, void *arg)
{
    struct blob_get *g = arg;

    if (!g->started)
        return;
    if (http_resp_write(g->r, p, n) == 1) {
        g->paused = 1;
        fetch_pause(f);
    }
}

static void blob__on_done(struct fetch *f, const struct fetch_result *res,
                          void *arg)
{
    struct blob_get *g = arg;
    char msg[300], shown[200];
    (void)f;

    g->f = NULL;
    log_escape(shown, sizeof(shown), g->name);
    if (res->rc == FETCH_OK) {
        blob__finish(g, 200, NULL);
        return;
    }
    if (g->started) /* cut off mid-body: the client sees it */
        log_warn("content: %s: %s", shown, res->msg);
    if (res->rc == FETCH_EHTTP && res->status == 404) {
        blob__finish(g, 404, "not found");
        return;
    }
    if (res->rc == FETCH_EHTTP && res->status == 416) {
        blob__finish(g, 416, "range not satisfiable");
        return;
    }
    snprintf(msg, sizeof(msg), "the blob storage %s%s",
             res->rc == FETCH_EHTTP ? "refused the download: " : "could not"
                                                                 " be reached: ",
             res->msg);
    if (!g->started)
        log_warn("content: %s: %s", shown, msg);
    blob__finish(g, 502, msg);
}

static const struct fetch_cbs blob_cbs = {
    blob__on_headers, blob__on_data, blob__on_done
};

/* Starts the GET with the token, or a Shared Key signature when token is
 * NULL. */
static void blob__start(struct blob_get *g, const char *token)
{
    struct blob *b = g->b;
    char date[40], auth[BLOB_KEY_MAX + 300], sig[64], range[160];
    char *url = str_fmt("%.*s%s", (int)(strlen(b->base) - strlen(b->path0)),
                        b->base, g->path);
    char *sts = NULL, *bearer = NULL;
    const char *hdrs[6];
    int n = 0;

    static_http_date(time(NULL), date, sizeof(date));
    hdrs[n++] = "x-ms-version: " BLOB_API_VERSION;
    char xdate[64];
    snprintf(xdate, sizeof(xdate), "x-ms-date: %s", date);
    hdrs[n++] = xdate;
    if (g->range[0]) {
        snprintf(range, sizeof(range), "Range: %s", g->range);
        hdrs[n++] = range;
    }
    if (token) {
        bearer = str_fmt("Authorization: Bearer %s", token);
        hdrs[n++] = bearer;
    } else if ((sts = blob_string_to_sign(g->range[0] ? g->range : NULL,
                                          date, BLOB_API_VERSION,
                                          b->account, g->path)) &&
               blob_sign(b->key, b->keylen, sts, sig, sizeof(sig)) == 0) {
        snprintf(auth, sizeof(auth), "Authorization: SharedKey %s:%s",
                 b->account, sig);
        hdrs[n++] = auth;
    }
    hdrs[n] = NULL;
    struct fetch_req req = { .method = "GET", .url = url, .headers = hdrs };
    if (url && (token ? bearer != NULL : sts != NULL))
        g->f = fetch_start(&req, &blob_cbs, g);
    free(url);
    free(sts);
    free(bearer);
    if (!g->f)
        blob__finish(g, 500, "could not start the download");
}

static void blob__on_token(const char *token, const char *err, void *arg)
{
    struct blob_get *g = arg;
    char msg[400];

    g->w = NULL;
    if (token) {
        blob__start(g, token);
        return;
    }
    snprintf(msg, sizeof(msg), "the blob storage: %s", err);
    blob__finish(g, 502, msg);
}

/* The blob's name percent-encoded for the URL, '/' kept. */
static char *blob__encode(const char *prefix, const char *name)
{
    size_t pl = strlen(prefix), n = strlen(name);
    char *out = malloc(pl + 1 + 3 * n + 1), *o;

    if (!out)
        return NULL;
    o = out + sprintf(out, "%s/", prefix);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (isalnum(*p) || strchr("-._~/", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return out;
}

void blob_serve(struct blob *b, struct http_req *r, const char *name)
{
    struct blob_get *g = calloc(1, sizeof(*g));
    const char *range = http_req_header(r, "Range");
    const char *token = NULL;

    if (!g || !(g->name = strdup(name)) ||
        !(g->path = blob__encode(b->path0, name))) {
        if (g)
            blob__free(g);
        http_resp_error(r, 500, "out of memory");
        return;
    }
    if (range && strlen(range) >= sizeof(g->range)) {
        blob__free(g);
        http_resp_error(r, 416, "range not satisfiable");
        return;
    }
    snprintf(g->range, sizeof(g->range), "%s", range ? range : "");
    g->b = b;
    g->r = r;
    http_req_on_close(r, blob__on_close, g);
    if (b->keylen == 0 && !(token = entra_peek(b->entra, ENTRA_SCOPE_STORAGE))) {
        if (!(g->w = entra_get(b->entra, ENTRA_SCOPE_STORAGE, blob__on_token,
                               g)))
            blob__finish(g, 500, "out of memory");
        return;
    }
    blob__start(g, token);
}
