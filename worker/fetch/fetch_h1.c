/*
 * fetch_h1 — a fetch transfer on h1, fetch's own HTTP/1.1 client (see
 * fetch_int.h, h1.h). The request head is built here once per transfer,
 * the way curl would send it for the same fetch_req: request line, Host,
 * Accept-Encoding: identity, User-Agent, the caller's lines, then
 * Content-Length.
 */
#include "worker/fetch/fetch_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "worker/fetch/h1/h1.h"
#include "worker/fetch/h1/h1_addr.h"

static int on_head(void *arg, const struct h1_head *head)
{
    struct fetch *f = arg;

    if (f->state != S_RUNNING)
        return -1;
    fetch__got_byte(f);
    return fetch__head_in(f, head->status);
}

static int on_data(void *arg, const char *p, size_t n)
{
    struct fetch *f = arg;

    if (f->state != S_RUNNING)
        return -1;
    f->last_ms = fetch__now_ms();
    if (f->swallow)
        return 0;
    if (f->cbs->on_data != NULL)
        f->cbs->on_data(f, p, n, f->arg);
    return f->state == S_RUNNING ? 0 : -1;
}

static void on_done(void *arg, enum h1_err err, const char *msg)
{
    struct fetch *f = arg;
    enum fetch_rc rc;

    if (f->state != S_RUNNING)
        return;
    switch (err) {
    case H1_OK:
        rc = f->status >= 400 ? FETCH_EHTTP : FETCH_OK;
        msg = NULL;
        break;
    case H1_ETIMEOUT_CONNECT:
        rc = FETCH_ETIMEOUT_CONNECT;
        break;
    case H1_ECONNECT:
        rc = FETCH_ECONNECT;
        break;
    default:
        /* as curl's errors map: before the head it is a failed connect */
        rc = f->head_done ? FETCH_ERECV : FETCH_ECONNECT;
        break;
    }
    fetch__attempt_end(f, rc, rc == FETCH_ECONNECT || rc == FETCH_ETIMEOUT_CONNECT, msg);
}

static const struct h1_cbs cbs = { on_head, on_data, on_done };

static int is(const char *method, const char *name)
{
    return method != NULL && strcmp(method, name) == 0;
}

/* The request head's size, with room for the Content-Length line. */
static size_t head_size(const struct fetch_req *req, const char *method,
                        const char *ua)
{
    size_t n = strlen(method) + strlen(req->url) + 160;

    for (const char *const *h = req->headers; h != NULL && *h != NULL; h++)
        n += strlen(*h) + 2;
    return n + (ua != NULL ? strlen(ua) + 16 : 0);
}

/* Appends the caller's lines; "Name:" with no value only removes a line
 * (curl's rule), and none of the lines h1 writes itself can be removed. */
static size_t put_lines(char *p, const struct fetch_req *req)
{
    size_t len = 0;

    for (const char *const *h = req->headers; h != NULL && *h != NULL; h++) {
        const char *c = strchr(*h, ':');
        size_t n = strlen(*h);

        if (c != NULL && c[1 + strspn(c + 1, " \t")] == '\0')
            continue;
        memcpy(p + len, *h, n);
        memcpy(p + len + n, "\r\n", 2);
        len += n + 2;
    }
    return len;
}

/* Host: the URL's authority, without ":80" as curl leaves it out. */
static int host_len(const char *key)
{
    size_t n = strlen(key);

    return n > 3 && strcmp(key + n - 3, ":80") == 0 ? (int)n - 3 : (int)n;
}

static int build(struct fetch *f, const struct fetch_req *req,
                 const char *target, const char *ua)
{
    const char *m = req->method;
    int has_body = req->body_len > 0 || is(m, "POST") || is(m, "PUT") ||
                   is(m, "PATCH");
    size_t cap, len;

    if (m == NULL)
        m = has_body ? "POST" : "GET";
    cap = head_size(req, m, ua);
    if ((f->rq = malloc(cap)) == NULL)
        return -1;
    len = (size_t)snprintf(f->rq, cap,
                           "%s %s HTTP/1.1\r\nHost: %.*s\r\n"
                           "Accept-Encoding: identity\r\n",
                           m, target,
                           host_len(f->key), f->key);
    if (ua != NULL)
        len += (size_t)snprintf(f->rq + len, cap - len,
                                "User-Agent: %s\r\n", ua);
    len += put_lines(f->rq + len, req);
    if (has_body)
        len += (size_t)snprintf(f->rq + len, cap - len,
                                "Content-Length: %zu\r\n", req->body_len);
    memcpy(f->rq + len, "\r\n", 3);
    f->rqlen = len + 2;
    f->head_req = is(m, "HEAD");
    return 0;
}

/* Lines that would change the framing h1 writes and reads are curl's
 * business, as are custom methods with their own body rules. */
static int plain(const struct fetch_req *req)
{
    static const char *const own[] = {
        "host:",
        "content-length:",
        "transfer-encoding:",
        "connection:",
        "expect:",
        "user-agent:",
        "accept-encoding:",
    };

    for (const char *const *h = req->headers; h != NULL && *h != NULL; h++)
        for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
            if (strncasecmp(*h, own[i], strlen(own[i])) == 0)
                return 0;
    return 1;
}

static int begin(struct fetch *f, const char **why)
{
    h1_free(f->h1);
    f->h1 = h1_start(f->key, f->rq, f->rqlen, f->body, f->body_len,
                     f->head_req, f->connect_ms, &cbs, f);
    if (f->h1 == NULL) {
        *why = "out of memory";
        return -1;
    }
    if (f->want_pause) {
        f->tr_paused = 1;
        h1_pause(f->h1);
    }
    return 0;
}

/* h1 holds what comes, as curl would. */
static void pause_(struct fetch *f)
{
    if (f->state == S_RUNNING && !f->tr_paused && f->h1 != NULL) {
        f->tr_paused = 1;
        h1_pause(f->h1);
    }
}

static void resume(struct fetch *f)
{
    if (f->h1 != NULL)
        h1_resume(f->h1);
}

/* h1 has written the whole request before any head comes in. */
static void drop_request(struct fetch *f)
{
    free(f->rq);
    f->rq = NULL;
    f->rqlen = 0;
    if (f->body_free != NULL) {
        f->body_free(f->body);
        f->body_free = NULL;
        f->body = NULL;
    }
}

/* From the request head (alive until the head is delivered, so for
 * every retry). */
static const char *url(const struct fetch *f, char *buf, size_t n)
{
    const char *t = f->rq != NULL ? strchr(f->rq, ' ') : NULL;
    const char *e = t != NULL ? strstr(t, " HTTP/1.1\r\n") : NULL;

    if (e == NULL)
        return NULL;
    snprintf(buf, n, "http://%s%.*s", f->key, (int)(e - t - 1), t + 1);
    return buf;
}

static void stop(struct fetch *f)
{
    if (f->h1 != NULL)
        h1_stop(f->h1);
}

static void release(struct fetch *f)
{
    h1_free(f->h1);
    f->h1 = NULL;
    free(f->rq);
    f->rq = NULL;
}

static const char *header(const struct fetch *f, const char *name)
{
    const struct h1_head *h = f->h1 != NULL ? h1_response(f->h1) : NULL;

    return h != NULL ? h1_head_get(h, name) : NULL;
}

static const void *header_next(const struct fetch *f, const void *cursor,
                               const char **name, const char **value)
{
    const struct h1_head *h = f->h1 != NULL ? h1_response(f->h1) : NULL;
    const struct h1f_field *fl = cursor;

    if (h == NULL)
        return NULL;
    fl = fl == NULL ? h->field : fl + 1;
    if (fl >= h->field + h->nfields)
        return NULL;
    *name = fl->name;
    *value = fl->value;
    return fl;
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

int fetch__h1_setup(struct fetch *f, const struct fetch_req *req,
                    const char *ua)
{
    const char *target;

    if (!plain(req) ||
        h1_addr_url(req->url, f->key, sizeof f->key, &target) != 0)
        return 1;
    f->tr = &transport;
    f->body_len = req->body_len;
    return build(f, req, target, ua);
}
