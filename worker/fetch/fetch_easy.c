/* fetch_easy — see fetch_easy.h. */
#include "worker/fetch/fetch_easy.h"

#include <stdlib.h>
#include <string.h>

#include "worker/fetch/fetch_int.h"

static int is(const char *method, const char *name)
{
    return method != NULL && strcmp(method, name) == 0;
}

static int build_headers(const struct fetch_req *req, int has_body,
                         struct curl_slist **hdrs)
{
    struct curl_slist *l;
    const char *const *h;

    /* Listed, the line is copied; from CURLOPT_ACCEPT_ENCODING alone curl
     * would print it anew for every transfer (~2k instructions). */
    if ((l = curl_slist_append(*hdrs, "Accept-Encoding: identity")) == NULL)
        return -1;
    *hdrs = l;
    /* a body must not wait a round trip for "100 Continue" */
    if (has_body) {
        if ((l = curl_slist_append(*hdrs, "Expect:")) == NULL)
            return -1;
        *hdrs = l;
    }
    for (h = req->headers; h != NULL && *h != NULL; h++) {
        if ((l = curl_slist_append(*hdrs, *h)) == NULL)
            return -1;
        *hdrs = l;
    }
    return 0;
}

#define SET(opt, val)                           \
    do {                                        \
        if (rc == CURLE_OK)                     \
            rc = curl_easy_setopt(e, opt, val); \
    } while (0)

static int setup_method(CURL *e, const struct fetch_req *req,
                        const void *body, struct curl_slist **hdrs)
{
    const char *m = req->method;
    int has_body = req->body_len > 0 || is(m, "POST") || is(m, "PUT") ||
                   is(m, "PATCH");
    CURLcode rc = CURLE_OK;

    if (build_headers(req, has_body, hdrs) != 0)
        return -1;
    SET(CURLOPT_HTTPHEADER, *hdrs);
    if (has_body) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, body != NULL ? body : "");
    }
    if (is(m, "HEAD"))
        SET(CURLOPT_NOBODY, 1L);
    else if (m != NULL && !is(m, has_body ? "POST" : "GET"))
        SET(CURLOPT_CUSTOMREQUEST, m);
    return rc == CURLE_OK ? 0 : -1;
}

/* ---- parsed URLs ---- */

/* curl parses a transfer's URL string anew for every transfer (~10k
 * instructions with its printf of the normalised result; callgrind,
 * /chat/stream). The model's and the search service's URLs are a few
 * fixed strings: each is parsed once, as curl parses it, into a CURLU
 * handed over with CURLOPT_CURLU beside the same string as CURLOPT_URL
 * (what curl reports as the transfer's URL). Bounded: URLs past URLS_MAX,
 * and any curl's parser refuses, are left to curl as before. */
#define URLS_MAX 16
static struct {
    char *url;
    CURLU *h;
} urls[URLS_MAX];
static int nurls;

static CURLU *parsed(const char *url)
{
    CURLU *h;
    char *copy;

    for (int i = 0; i < nurls; i++)
        if (strcmp(urls[i].url, url) == 0)
            return urls[i].h;
    if (nurls == URLS_MAX)
        return NULL;
    h = curl_url();
    copy = strdup(url);
    if (h == NULL || copy == NULL ||
        curl_url_set(h, CURLUPART_URL, url,
                     CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        curl_url_cleanup(h);
        free(copy);
        return NULL;
    }
    urls[nurls].url = copy;
    urls[nurls++].h = h;
    return h;
}

static void urls_free(void)
{
    while (nurls > 0) {
        nurls--;
        curl_url_cleanup(urls[nurls].h);
        free(urls[nurls].url);
    }
}

/* Whether curl could find a proxy in the environment: the variables its
 * proxy detection reads (for http and https URLs). Read once; a worker's
 * environment does not change. */
int fetch_easy_env_proxy(void)
{
    static const char *const vars[] = {
        "http_proxy",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    };
    static int found = -1;

    if (found < 0) {
        found = 0;
        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
            const char *v = getenv(vars[i]);

            if (v != NULL && *v != '\0')
                found = 1;
        }
    }
    return found;
}

int fetch_easy_setup(CURL *e, const struct fetch_req *req,
                     const struct fetch_opts *o, const void *body,
                     struct curl_slist **hdrs)
{
    long connect_ms = fetch_easy_pick(req->connect_ms, o->connect_ms);
    CURLcode rc = CURLE_OK;

    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_CURLU, parsed(req->url));
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_BUFFERSIZE, o->buffer_size);
    /* the smallest curl allows: large bodies are rare, streams many */
    SET(CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    SET(CURLOPT_HTTP_VERSION, o->http2 ? (long)CURL_HTTP_VERSION_2TLS
                                       : (long)CURL_HTTP_VERSION_1_1);
    /* h2: wait for a connection being set up rather than open another */
    SET(CURLOPT_PIPEWAIT, o->http2 ? 1L : 0L);
    SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    /* Nothing is asked for compressed (build_headers), but a server or a
     * gateway in front of it may compress anyway (RFC 9110 12.5.3); the
     * option makes curl decode such a body, so the apps always get the
     * JSON or SSE itself. */
    SET(CURLOPT_ACCEPT_ENCODING, "identity");
    if (connect_ms > 0)
        SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    if (o->ca_file != NULL)
        SET(CURLOPT_CAINFO, o->ca_file);
    if (o->user_agent != NULL)
        SET(CURLOPT_USERAGENT, o->user_agent);
    /* Without proxy variables, say "no proxy" outright: otherwise curl
     * reads the environment five times per transfer (~1.5k instructions
     * of a /chat/stream request's ~225k, callgrind). */
    if (!fetch_easy_env_proxy()) {
        SET(CURLOPT_PROXY, "");
        SET(CURLOPT_NOPROXY, "");
    }
    if (rc != CURLE_OK)
        return -1;
    return setup_method(e, req, body, hdrs);
}

/* ---- defaults ---- */

void fetch_opts_default(struct fetch_opts *o)
{
    memset(o, 0, sizeof *o);
    /* curl counts busy connections against the limit: below the streams
     * in flight, every finished transfer closes its connection and the
     * next one dials. Its own (4 x the transfers running) does that too
     * as a wave of streams ends; the worker passes worker_connections. */
    o->max_connects = 0;
    o->buffer_size = 1024;
    o->connect_ms = 10000;
    o->first_byte_ms = 60000;
    o->idle_ms = 60000;
    o->total_ms = 600000;
    o->max_retries = 2;
    o->native_http = 1;
}

static char *dup_opt(const char *s, int *err)
{
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        *err = 1;
    return d;
}

int fetch_opts_copy(struct fetch_opts *dst, const struct fetch_opts *src)
{
    int err = 0;

    if (src != NULL)
        *dst = *src;
    else
        fetch_opts_default(dst);
    if (dst->buffer_size <= 0)
        dst->buffer_size = 1024;
    dst->ca_file = dup_opt(dst->ca_file, &err);
    dst->user_agent = dup_opt(dst->user_agent, &err);
    if (err)
        fetch_opts_free(dst);
    return err ? -1 : 0;
}

void fetch_opts_free(struct fetch_opts *o)
{
    free((char *)o->ca_file);
    free((char *)o->user_agent);
    o->ca_file = o->user_agent = NULL;
}

/* ---- the handle pool ---- */

/* Idle handles kept for the next transfers: curl_easy_reset is cheaper
 * than curl_easy_cleanup + curl_easy_init (a 5 KB calloc and curl's
 * defaults: ~15k instructions against the reset's ~3k), and libcurl
 * recommends reusing handles. The pool follows the load: streams end and
 * start in batches (hundreds in one loop turn at 1,000 connections), and
 * a pool of 64 made 64 % of the transfers at 600 connections take a new
 * handle. So handles given back are kept up to POOL_MAX, and
 * fetch_easy_trim, on the worker's heartbeat (at most a second apart),
 * frees as many as no transfer took since the last one: a burst's
 * handles do not outlive it by more than two heartbeats. 256 leaves 13 %
 * of the transfers making a handle; 4,096 left 8-10 % but cost ~0.07 KiB
 * more per held stream at 10,000 streams (long@10000 /chat/stream 15.74
 * KiB with 64, 15.77 with 256, 15.81 with 4,096), where the 16 KiB
 * target has little to spare. A handle comes back with no receive
 * buffer (curl 7.88 frees it in multi_done, also when a transfer is
 * removed early), which is what lets CURLOPT_BUFFERSIZE be set again:
 * curl refuses it, and so fetch_start fails, if a buffer were left. */
#define POOL_MAX 256
static CURL *pool[POOL_MAX];
static int npool;
static int pool_low; /* the fewest idle since the last trim */

CURL *fetch_easy_get(void)
{
    if (npool == 0)
        return curl_easy_init();
    if (--npool < pool_low)
        pool_low = npool;
    return pool[npool];
}

void fetch_easy_put(CURL *e)
{
    if (e == NULL)
        return;
    if (npool == POOL_MAX) {
        curl_easy_cleanup(e);
        return;
    }
    curl_easy_reset(e);
    pool[npool++] = e;
}

int fetch_easy_trim(void)
{
    int freed = pool_low;

    while (pool_low > 0) {
        curl_easy_cleanup(pool[--npool]);
        pool_low--;
    }
    pool_low = npool;
    return freed;
}

void fetch_easy_drain(void)
{
    while (npool > 0)
        curl_easy_cleanup(pool[--npool]);
    pool_low = 0;
    urls_free();
}

/* ---- results ---- */

static const char *const rc_names[FETCH_RC_COUNT] = {
    [FETCH_OK] = "ok",
    [FETCH_EHTTP] = "http error",
    [FETCH_ECONNECT] = "connect error",
    [FETCH_ETIMEOUT_CONNECT] = "connect timeout",
    [FETCH_ETIMEOUT_FIRST_BYTE] = "first byte timeout",
    [FETCH_ETIMEOUT_IDLE] = "idle timeout",
    [FETCH_ETIMEOUT_TOTAL] = "total timeout",
    [FETCH_ERECV] = "response broken off",
    [FETCH_EINVAL] = "invalid request",
    [FETCH_ECANCELLED] = "cancelled",
};

const char *fetch_rc_str(enum fetch_rc rc)
{
    return (unsigned)rc < FETCH_RC_COUNT ? rc_names[rc] : "unknown";
}

enum fetch_rc fetch_easy_rc(CURLcode code, int status, int head_done)
{
    switch (code) {
    case CURLE_OK:
        return status >= 400 ? FETCH_EHTTP : FETCH_OK;
    case CURLE_OPERATION_TIMEDOUT: /* fetch sets only connect's */
        return FETCH_ETIMEOUT_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return FETCH_ECONNECT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return FETCH_EINVAL;
    default:
        /* sent/received but broke: before the head counts as connecting */
        return head_done ? FETCH_ERECV : FETCH_ECONNECT;
    }
}

int fetch_easy_retryable(CURLcode code, enum fetch_rc rc)
{
    /* a certificate refused once will be refused again */
    if (code == CURLE_PEER_FAILED_VERIFICATION ||
        code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CERTPROBLEM)
        return 0;
    return rc == FETCH_ECONNECT || rc == FETCH_ETIMEOUT_CONNECT;
}

int fetch_easy_body_sent(CURL *e)
{
    curl_off_t len = -1, sent = 0;

    if (curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &len) !=
            CURLE_OK ||
        curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &sent) != CURLE_OK)
        return 0;
    return len >= 0 && sent >= len;
}

/* ---- a transfer's callbacks (fetch_int.h) ---- */

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct fetch *f = ud;
    long status = 0;

    (void)size;
    if (f->state != S_RUNNING)
        return 0;
    fetch__got_byte(f);
    /* only the blank line that ends a head matters here */
    if (f->head_done || n > 2 || (p[0] != '\r' && p[0] != '\n'))
        return n;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200)
        return n; /* 100 Continue and friends */
    return fetch__head_in(f, (int)status) == 0 ? n : 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct fetch *f = ud;

    (void)size;
    if (f->state != S_RUNNING)
        return 0;
    f->last_ms = fetch__now_ms();
    if (f->swallow)
        return n;
    if (f->want_pause) {
        /* curl keeps these bytes and hands them over again on resume */
        f->tr_paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (f->cbs->on_data != NULL)
        f->cbs->on_data(f, p, n, f->arg);
    return f->state == S_RUNNING ? n : 0;
}

/* ---- the transport (fetch_int.h) ---- */

static int begin(struct fetch *f, const char **why)
{
    if (curl_multi_add_handle(fetch__multi(), f->easy) != CURLM_OK) {
        *why = "curl_multi_add_handle failed";
        return -1;
    }
    f->in_multi = 1;
    return 0;
}

static void stop(struct fetch *f)
{
    if (f->in_multi) {
        curl_multi_remove_handle(fetch__multi(), f->easy);
        f->in_multi = 0;
    }
}

/* Nothing to do now: on_body pauses curl when the next bytes come. */
static void pause_(struct fetch *f)
{
    (void)f;
}

/* May call on_body (and so the caller's on_data) before returning. */
static void resume(struct fetch *f)
{
    curl_easy_pause(f->easy, CURLPAUSE_CONT);
}

/* curl read the header list and the body only to write the request; the
 * pointers it keeps are never read again. */
static void drop_request(struct fetch *f)
{
    curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(f->hdrs);
    f->hdrs = NULL;
    if (f->body_free != NULL && fetch_easy_body_sent(f->easy)) {
        f->body_free(f->body);
        f->body_free = NULL;
        f->body = NULL;
    }
}

static const char *url(const struct fetch *f, char *buf, size_t n)
{
    const char *u = NULL;

    (void)buf, (void)n;
    curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &u);
    return u;
}

static const char *header(const struct fetch *f, const char *name)
{
    struct curl_header *h;

    if (curl_easy_header(f->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

static const void *header_next(const struct fetch *f, const void *cursor,
                               const char **name, const char **value)
{
    struct curl_header *h = curl_easy_nextheader(f->easy, CURLH_HEADER, -1,
                                                 (struct curl_header *)cursor);

    if (h != NULL) {
        *name = h->name;
        *value = h->value;
    }
    return h;
}

static void release(struct fetch *f)
{
    fetch_easy_put(f->easy);
    f->easy = NULL;
    curl_slist_free_all(f->hdrs);
    f->hdrs = NULL;
}

static const struct fetch_transport transport = {
    .begin = begin,
    .stop = stop,
    .pause = pause_,
    .resume = resume,
    .drop_request = drop_request,
    .url = url,
    .header = header,
    .header_next = header_next,
    .release = release,
};

int fetch__easy_attach(struct fetch *f, const struct fetch_req *req,
                       const struct fetch_opts *o)
{
    CURL *e = f->easy = fetch_easy_get();

    f->tr = &transport;
    if (e == NULL ||
        fetch_easy_setup(e, req, o, f->body, &f->hdrs) != 0 ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, f) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERDATA, f) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, f) != CURLE_OK)
        return -1;
    return 0;
}

void fetch__easy_done(CURL *easy, CURLcode code)
{
    char *priv = NULL;
    struct fetch *f;
    enum fetch_rc rc;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    f = (struct fetch *)priv;
    /* a cancelled transfer is torn down by its pending tick */
    if (f == NULL || f->state != S_RUNNING)
        return;
    rc = fetch_easy_rc(code, f->status, f->head_done);
    fetch__attempt_end(f, rc, fetch_easy_retryable(code, rc),
                       code != CURLE_OK ? curl_easy_strerror(code) : NULL);
}
