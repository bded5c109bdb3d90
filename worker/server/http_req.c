/*
 * http_req — the request an app sees and the response it sends: whole or
 * chunked, with backpressure. Connections and framing are in http.c, the
 * access log line written when a response ends in http_log.c.
 */
#include "worker/server/http_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/scoreboard.h"
#include "worker/server/forwarded.h"

int64_t http__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *http__reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status < 300 ? "OK" : status < 500 ? "Error"
                                                  : "Server Error";
    }
}

/* ---- the request ---- */

/* X-Forwarded-For in several header lines is one list, in order (RFC 9110
 * 5.3): HAProxy adds its own line after the one the client sent, so the
 * last line alone, or the first, is not the chain. Joined here; without
 * memory for that, the peer stays the client. */
static void set_forwarded_client(struct http_req *r, const struct conn *c)
{
    const struct http_head *h = &r->head;
    const char *xff = NULL;
    char *joined = NULL;
    size_t len = 0;
    int lines = 0;

    for (int i = 0; i < h->nfields; i++) {
        if (strcasecmp(h->fields[i].name, "X-Forwarded-For") == 0) {
            xff = h->fields[i].value;
            len += strlen(xff) + 2;
            lines++;
        }
    }
    if (lines > 1 && (xff = joined = malloc(len + 1)) != NULL) {
        joined[0] = '\0';
        for (int i = 0; i < h->nfields; i++) {
            if (strcasecmp(h->fields[i].name, "X-Forwarded-For") != 0)
                continue;
            if (joined[0] != '\0')
                strcat(joined, ", ");
            strcat(joined, h->fields[i].value);
        }
    }
    if (xff != NULL)
        forwarded_client(&c->srv->cfg->forwarded_allow_ips, c->client, xff,
                         r->client, sizeof(r->client));
    free(joined);
}

struct http_req *http__req_new(struct conn *c, const char *head, size_t len,
                               int nfields, int *status)
{
    size_t fsz = sizeof(struct h1f_field) * (size_t)nfields;
    /* one block: the request, its fields, the head text, the path */
    struct http_req *r = calloc(1, sizeof(*r) + fsz + 2 * (len + 1));
    if (r == NULL) {
        *status = 500;
        return NULL;
    }
    struct h1f_field *fields = (struct h1f_field *)(r + 1);
    char *text = (char *)fields + fsz;
    memcpy(text, head, len);
    int st = http_parse_head(text, len, &r->head, fields, nfields);
    if (st == 0 && !http_head_host_ok(&r->head))
        st = -400;
    if (st < 0) {
        free(r);
        *status = -st;
        return NULL;
    }
    r->path = text + len + 1;
    const char *t = http_target_origin(r->head.target);
    const char *q = strchr(t, '?');
    size_t plen = q ? (size_t)(q - t) : strlen(t);
    memcpy(r->path, t, plen);
    if (plen == 0 && t != r->head.target)
        r->path[0] = '/'; /* "http://host" or "http://host?q" */
    r->query = q ? q + 1 : "";
    r->conn = c;
    r->srv = c->srv;
    memcpy(r->client, c->client, sizeof(r->client));
    set_forwarded_client(r, c);
    r->keepalive = http_head_keepalive(&r->head);
    r->head_only = strcmp(r->head.method, "HEAD") == 0;
    r->start_us = http__now_us();
    return r;
}

void http__req_free(struct http_req *r)
{
    if (r->hdrs)
        evbuffer_free(r->hdrs);
    free(r->body);
    free(r);
}

void http__req_reap(struct http_server *s)
{
    while (s->ended != NULL) {
        struct http_req *r = s->ended;
        s->ended = r->next_ended;
        http__req_free(r);
    }
}

void http__req_detach(struct http_req *r)
{
    r->conn = NULL;
    r->gone = 1;
    if (r->on_close)
        r->on_close(r, r->close_arg); /* may end (and free) r: last */
}

void http__req_check_drain(struct http_req *r)
{
    size_t half = (size_t)r->srv->cfg->stream_buffer / 2;
    if (!r->want_drain || evbuffer_get_length(r->conn->out) > half)
        return;
    r->want_drain = 0;
    if (r->on_drain)
        r->on_drain(r, r->drain_arg);
}

const char *http_req_method(const struct http_req *r)
{
    return r->head.method;
}
const char *http_req_path(const struct http_req *r)
{
    return r->path;
}
const char *http_req_query(const struct http_req *r)
{
    return r->query;
}
const char *http_req_target(const struct http_req *r)
{
    return r->head.target;
}
const char *http_req_client(const struct http_req *r)
{
    return r->client;
}
int http_req_gone(const struct http_req *r)
{
    return r->gone;
}

const char *http_req_header(const struct http_req *r, const char *name)
{
    return http_head_get(&r->head, name);
}

int http_req_header_count(const struct http_req *r)
{
    return r->head.nfields;
}

void http_req_header_at(const struct http_req *r, int i,
                        const char **name, const char **value)
{
    *name = r->head.fields[i].name;
    *value = r->head.fields[i].value;
}

const char *http_req_body(const struct http_req *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

void http_req_on_close(struct http_req *r, http_req_cb cb, void *arg)
{
    r->on_close = cb;
    r->close_arg = arg;
}

/* ---- the response ---- */

static const char *http_date(void)
{
    static char buf[40];
    static time_t last;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

/* A head line piece; "name: value\r\n" lines are built from three. */
struct piece {
    const char *s;
    size_t n;
};

#define PIECE(lit)           \
    {                        \
        lit, sizeof(lit) - 1 \
    }
#define PIECE_STR(str)   \
    {                    \
        str, strlen(str) \
    }

/* Appends the pieces to out in one contiguous write: the head is written
 * once per response, so no printf engine and no evbuffer chain per line. */
static int add_pieces(struct evbuffer *out, const struct piece *p, int np)
{
    struct evbuffer_iovec v;
    size_t total = 0, o = 0;

    for (int i = 0; i < np; i++)
        total += p[i].n;
    if (evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) < 1)
        return -1;
    for (int i = 0; i < np; i++) {
        memcpy((char *)v.iov_base + o, p[i].s, p[i].n);
        o += p[i].n;
    }
    v.iov_len = total;
    return evbuffer_commit_space(out, &v, 1);
}

static void write_head(struct evbuffer *out, int status, const char *ctype,
                       const char *framing, const char *connection,
                       struct evbuffer *extra)
{
    char st[16];
    struct piece p[16] = {
        PIECE("HTTP/1.1 "),
        { st, (size_t)snprintf(st, sizeof(st), "%d ",
                               status) },
        PIECE_STR(http__reason(status)),
        PIECE("\r\nDate: "),
        PIECE_STR(http_date()),
        PIECE("\r\nServer: llmfork\r\n"),
    };
    int np = 6;

    if (ctype) {
        p[np++] = (struct piece)PIECE("Content-Type: ");
        p[np++] = (struct piece)PIECE_STR(ctype);
        p[np++] = (struct piece)PIECE("\r\n");
    }
    if (framing) {
        p[np++] = (struct piece)PIECE_STR(framing);
        p[np++] = (struct piece)PIECE("\r\n");
    }
    if (connection) {
        p[np++] = (struct piece)PIECE("Connection: ");
        p[np++] = (struct piece)PIECE_STR(connection);
        p[np++] = (struct piece)PIECE("\r\n");
    }
    add_pieces(out, p, np);
    if (extra)
        evbuffer_add_buffer(out, extra);
    evbuffer_add(out, "\r\n", 2);
}

static void resp_head(struct http_req *r, int status, const char *ctype,
                      const char *framing)
{
    struct conn *c = r->conn;
    if (!r->keepalive || c->srv->draining)
        c->close_after = 1;
    const char *connection = c->close_after       ? "close"
                             : r->head.minor == 0 ? "keep-alive"
                                                  : NULL;
    write_head(c->out, status, ctype, framing, connection, r->hdrs);
    r->started = 1;
    /* headers can no longer be added: a held stream need not keep it */
    if (r->hdrs) {
        evbuffer_free(r->hdrs);
        r->hdrs = NULL;
    }
}

/* Writes {"error": msg} into buf (msg cut to fit); returns its length. */
static size_t json_error(char *buf, size_t n, const char *msg)
{
    size_t o = (size_t)snprintf(buf, n, "{\"error\":\"");
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 8 < n; p++) {
        if (*p == '"' || *p == '\\')
            o += (size_t)snprintf(buf + o, n - o, "\\%c", *p);
        else if (*p < 0x20)
            o += (size_t)snprintf(buf + o, n - o, "\\u%04x", *p);
        else
            buf[o++] = (char)*p;
    }
    o += (size_t)snprintf(buf + o, n - o, "\"}");
    return o;
}

/* Not freed here but once the app's callback has returned (reap_ev):
 * an app that answers twice or writes after the end in the same callback
 * is then told so in the log (req_ended) instead of writing into freed
 * memory and taking the worker, and every client on it, down. */
static void req_end(struct http_req *r)
{
    struct http_server *s = r->srv;
    http__access_log(r);
    sb_count_request(r->path, r->status, http__now_us() - r->start_us);
    if (r->streaming && s->slot)
        s->slot->streams--;
    if (r->conn)
        http__conn_response_done(r->conn);
    r->conn = NULL;
    r->ended = 1;
    if (s->ended == NULL)
        event_active(&s->reap_ev, EV_TIMEOUT, 1);
    r->next_ended = s->ended;
    s->ended = r;
}

/* 1 (and an error in the log) when the app calls a response function on
 * a request whose response has ended: the call is ignored. */
static int req_ended(const struct http_req *r, const char *call)
{
    if (!r->ended)
        return 0;
    log_error("%s %s: %s after the response ended (ignored)",
              r->head.method, r->path, call);
    return 1;
}

int http_resp_header(struct http_req *r, const char *name, const char *value)
{
    if (req_ended(r, "http_resp_header") || r->started || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return -1;
    if (r->hdrs == NULL && (r->hdrs = evbuffer_new()) == NULL)
        return -1;
    struct piece p[] = { PIECE_STR(name), PIECE(": "), PIECE_STR(value),
                         PIECE("\r\n") };
    return add_pieces(r->hdrs, p, 4);
}

void http_resp_send(struct http_req *r, int status, const char *content_type,
                    const void *body, size_t len)
{
    if (req_ended(r, "http_resp_send"))
        return;
    if (r->streaming) {
        /* The head and maybe chunks are out: a second head would be
         * read as body. Cut the stream off (no last chunk, close), so
         * the client sees it broke instead of a garbled answer. */
        log_error("%s %s: http_resp_send after http_resp_start: "
                  "stream cut off",
                  r->head.method, r->path);
        if (r->conn)
            r->conn->close_after = 1;
        req_end(r);
        return;
    }
    r->status = status;
    if (r->conn != NULL) {
        int nobody = status < 200 || status == 204 || status == 304;
        char framing[48];
        snprintf(framing, sizeof(framing), "Content-Length: %zu", len);
        resp_head(r, status, content_type, nobody ? NULL : framing);
        if (!nobody && !r->head_only) {
            evbuffer_add(r->conn->out, body, len);
            r->body_queued = len;
        }
        http__conn_flush(r->conn);
    }
    req_end(r);
}

void http_resp_error(struct http_req *r, int status, const char *msg)
{
    char buf[512];
    if (req_ended(r, "http_resp_error"))
        return;
    size_t n = json_error(buf, sizeof(buf), msg);
    http_resp_send(r, status, "application/json", buf, n);
}

void http__error_raw(struct conn *c, int status, const char *msg)
{
    char buf[512], framing[48];
    size_t n = json_error(buf, sizeof(buf), msg);
    snprintf(framing, sizeof(framing), "Content-Length: %zu", n);
    write_head(c->out, status, "application/json", framing, "close", NULL);
    evbuffer_add(c->out, buf, n);
    c->closing = 1;
    log_debug("%s: %d %s", c->client, status, msg);
    http__access_log_raw(c->client, status, n);
    sb_count_request("", status, 0);
}

/* ---- streamed responses ---- */

void http_resp_start(struct http_req *r, int status, const char *content_type)
{
    if (req_ended(r, "http_resp_start"))
        return;
    if (r->streaming) {
        log_error("%s %s: http_resp_start called twice (ignored)",
                  r->head.method, r->path);
        return;
    }
    r->status = status;
    r->streaming = 1;
    if (r->srv->slot)
        r->srv->slot->streams++;
    if (r->conn == NULL)
        return;
    /* HTTP/1.0 has no chunks: the body ends with the connection. */
    r->chunked_out = r->head.minor >= 1;
    if (!r->chunked_out)
        r->conn->close_after = 1;
    resp_head(r, status, content_type,
              r->chunked_out ? "Transfer-Encoding: chunked" : NULL);
    http__conn_hold(r->conn); /* with its first token, usually in the same read */
}

/* "<hex>\r\n" into buf (20 bytes); returns its length. On the hot path of
 * every stream, so no printf. */
static size_t chunk_size_line(char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0, o = 0;
    do {
        tmp[n++] = hex[len & 15];
        len >>= 4;
    } while (len);
    while (n)
        buf[o++] = tmp[--n];
    buf[o++] = '\r';
    buf[o++] = '\n';
    return o;
}

/* One chunk, framed. A token's chunk is framed on the stack and added in
 * one piece: one evbuffer_add instead of three. */
static void add_chunk(struct evbuffer *out, const void *data, size_t len)
{
    char buf[2048];
    size_t n = chunk_size_line(buf, len);

    if (n + len + 2 <= sizeof(buf)) {
        memcpy(buf + n, data, len);
        memcpy(buf + n + len, "\r\n", 2);
        evbuffer_add(out, buf, n + len + 2);
        return;
    }
    evbuffer_add(out, buf, n);
    evbuffer_add(out, data, len);
    evbuffer_add(out, "\r\n", 2);
}

int http_resp_write(struct http_req *r, const void *data, size_t len)
{
    struct conn *c = r->conn;
    if (req_ended(r, "http_resp_write"))
        return -1;
    if (!r->streaming) {
        log_error("%s %s: http_resp_write before http_resp_start (ignored)",
                  r->head.method, r->path);
        return -1;
    }
    if (c == NULL || c->broken || !r->started)
        return -1;
    if (len == 0 || r->head_only)
        return 0; /* an empty chunk would end the body */
    if (r->chunked_out)
        add_chunk(c->out, data, len);
    else
        evbuffer_add(c->out, data, len);
    if (r->body_queued == 0)
        sb_count_ttft(http__now_us() - r->start_us);
    r->body_queued += len;
    http__conn_hold(c);
    if (evbuffer_get_length(c->out) > (size_t)r->srv->cfg->stream_buffer) {
        r->want_drain = 1;
        return 1;
    }
    return 0;
}

void http_resp_on_drain(struct http_req *r, http_req_cb cb, void *arg)
{
    r->on_drain = cb;
    r->drain_arg = arg;
}

void http_resp_end(struct http_req *r)
{
    if (req_ended(r, "http_resp_end"))
        return;
    if (!r->streaming) {
        log_error("%s %s: response ended before it started",
                  r->head.method, r->path);
        http_resp_error(r, 500, "internal server error");
        return;
    }
    struct conn *c = r->conn;
    if (c != NULL && !c->broken && r->chunked_out && !r->head_only) {
        evbuffer_add(c->out, "0\r\n\r\n", 5);
        http__conn_flush(c);
    }
    req_end(r);
}
