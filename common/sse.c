/*
 * sse — incremental text/event-stream parser. See sse.h for the contract.
 *
 * The hot path: each line is found with memchr in the caller's bytes and
 * parsed where it lies. Only a line cut by the end of a piece is copied
 * (into p->line), and only data that must outlive the sse_feed() call or
 * that spans several lines is copied (into p->data). Event type and id are
 * short and copied into reused buffers.
 */
#include "common/sse.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define BOM_DONE 3
static const char utf8_bom[BOM_DONE] = { '\xEF', '\xBB', '\xBF' };

/* Grows b to hold need bytes. Callers never need more than max, so the
 * doubling stops there and a buffer never exceeds max_event. */
static int buf_reserve(struct sse_buf *b, size_t need, size_t max)
{
    size_t cap;
    char *np;

    if (need <= b->cap)
        return SSE_OK;
    cap = b->cap ? b->cap * 2 : 256;
    if (cap < need)
        cap = need;
    if (cap > max)
        cap = max;
    np = realloc(b->ptr, cap);
    if (np == NULL)
        return SSE_ENOMEM;
    b->ptr = np;
    b->cap = cap;
    return SSE_OK;
}

static int buf_append(struct sse_buf *b, const char *s, size_t n, size_t max)
{
    if (n == 0)
        return SSE_OK;
    if (n > max - b->len)
        return SSE_ETOOBIG;
    if (buf_reserve(b, b->len + n, max) != SSE_OK)
        return SSE_ENOMEM;
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
    return SSE_OK;
}

static int buf_set(struct sse_buf *b, const char *s, size_t n, size_t max)
{
    b->len = 0;
    return buf_append(b, s, n, max);
}

static void buf_free(struct sse_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

/* A held stream waits between events far longer than it parses: a copy
 * buffer is given back once drained, so an idle parser holds no heap.
 * Copies are the rare path (a line cut by a read, multi-line data). */
static void buf_release(struct sse_buf *b)
{
    if (b->len == 0 && b->ptr != NULL)
        buf_free(b);
}

static int field_is(const char *f, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(f, name, n) == 0;
}

/* Moves pending data out of the caller's bytes before they go away or
 * before a second data line is joined to it. */
static int materialize(struct sse_parser *p)
{
    const char *v = p->view;

    if (v == NULL)
        return SSE_OK;
    p->view = NULL;
    return buf_append(&p->data, v, p->view_len, p->max);
}

/* borrowed: v lies in the caller's bytes, valid until sse_feed() returns. */
static int on_data(struct sse_parser *p, const char *v, size_t n,
                   int borrowed)
{
    int rc;

    if (!p->have_data && borrowed) {
        p->view = v;
        p->view_len = n;
        p->have_data = 1;
        return SSE_OK;
    }
    if ((rc = materialize(p)) != SSE_OK)
        return rc;
    if (p->have_data && (rc = buf_append(&p->data, "\n", 1, p->max)) != SSE_OK)
        return rc;
    p->have_data = 1;
    return buf_append(&p->data, v, n, p->max);
}

static void on_retry(struct sse_parser *p, const char *v, size_t n)
{
    long ms = 0;
    size_t i;

    if (n == 0)
        return;
    for (i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return;
        ms = ms > (LONG_MAX - 9) / 10 ? LONG_MAX : ms * 10 + (v[i] - '0');
    }
    p->retry = ms;
}

static int dispatch(struct sse_parser *p)
{
    struct sse_event ev;
    int rc;

    if (!p->have_data) {
        p->type.len = 0;
        return SSE_OK;
    }
    if (p->view != NULL) {
        ev.data = p->view;
        ev.data_len = p->view_len;
    } else {
        ev.data = p->data.len ? p->data.ptr : "";
        ev.data_len = p->data.len;
    }
    ev.type = p->type.len ? p->type.ptr : "message";
    ev.type_len = p->type.len ? p->type.len : strlen("message");
    ev.id = p->id.len ? p->id.ptr : "";
    ev.id_len = p->id.len;
    ev.retry = p->retry;
    ev.done = ev.data_len == 6 && memcmp(ev.data, "[DONE]", 6) == 0;
    /* Buffers are only marked empty: their bytes stay put until the
     * callback returns. */
    p->have_data = 0;
    p->view = NULL;
    p->data.len = 0;
    p->type.len = 0;
    rc = p->cb(&ev, p->arg) ? SSE_STOPPED : SSE_OK;
    buf_release(&p->data);
    buf_release(&p->type);
    return rc;
}

static int process_line(struct sse_parser *p, const char *s, size_t n,
                        int borrowed)
{
    const char *colon, *v;
    size_t flen, vlen;

    if (n == 0)
        return dispatch(p);
    if (s[0] == ':')
        return SSE_OK; /* comment */
    colon = memchr(s, ':', n);
    flen = colon ? (size_t)(colon - s) : n;
    v = colon ? colon + 1 : s + n;
    vlen = (size_t)(s + n - v);
    if (vlen > 0 && *v == ' ') {
        v++;
        vlen--;
    }
    if (field_is(s, flen, "data"))
        return on_data(p, v, vlen, borrowed);
    if (field_is(s, flen, "event"))
        return buf_set(&p->type, v, vlen, p->max);
    if (field_is(s, flen, "id"))
        return memchr(v, '\0', vlen) ? SSE_OK : buf_set(&p->id, v, vlen, p->max);
    if (field_is(s, flen, "retry"))
        on_retry(p, v, vlen);
    return SSE_OK;
}

/* A complete line [s, s+n) from the caller's bytes; it may finish a line
 * begun in an earlier piece. */
static int take_line(struct sse_parser *p, const char *s, size_t n)
{
    int rc;

    if (p->line.len == 0)
        return n > p->max ? SSE_ETOOBIG : process_line(p, s, n, 1);
    if ((rc = buf_append(&p->line, s, n, p->max)) != SSE_OK)
        return rc;
    n = p->line.len;
    p->line.len = 0;
    rc = process_line(p, p->line.ptr, n, 0);
    buf_release(&p->line);
    return rc;
}

/* The next CR or LF in [s, end), or NULL. *lf caches the next LF so that a
 * CR-only stream is not rescanned to its end for each line. */
static const char *find_eol(const char *s, const char *end, const char **lf)
{
    const char *cr;

    if (*lf == NULL || *lf < s) {
        *lf = memchr(s, '\n', (size_t)(end - s));
        if (*lf == NULL)
            *lf = end;
    }
    cr = memchr(s, '\r', (size_t)(*lf - s));
    if (cr != NULL)
        return cr;
    return *lf < end ? *lf : NULL;
}

/* Consumes a leading BOM, which may itself be split across pieces. Bytes
 * that began like a BOM but were not one are content of the first line. */
static int skip_bom(struct sse_parser *p, const char **sp, const char *end)
{
    const char *s = *sp;
    size_t k;

    while (p->bom < BOM_DONE && s < end) {
        if (*s != utf8_bom[p->bom]) {
            k = p->bom;
            p->bom = BOM_DONE;
            *sp = s;
            return buf_append(&p->line, utf8_bom, k, p->max);
        }
        p->bom++;
        s++;
    }
    *sp = s;
    return SSE_OK;
}

void sse_init(struct sse_parser *p, size_t max_event, sse_event_cb cb,
              void *arg)
{
    memset(p, 0, sizeof(*p));
    p->cb = cb;
    p->arg = arg;
    p->max = max_event ? max_event : SSE_MAX_EVENT_DEFAULT;
    p->retry = -1;
}

int sse_feed(struct sse_parser *p, const char *buf, size_t len)
{
    const char *s = buf, *end, *eol, *lf = NULL;
    int rc = p->status;

    if (rc != SSE_OK || len == 0)
        return rc;
    end = buf + len;
    if (p->bom < BOM_DONE)
        rc = skip_bom(p, &s, end);
    while (rc == SSE_OK && s < end) {
        if (p->skip_lf) {
            p->skip_lf = 0;
            if (*s == '\n') {
                s++;
                continue;
            }
        }
        eol = find_eol(s, end, &lf);
        if (eol == NULL) {
            rc = buf_append(&p->line, s, (size_t)(end - s), p->max);
            break;
        }
        rc = take_line(p, s, (size_t)(eol - s));
        p->skip_lf = *eol == '\r';
        s = eol + 1;
    }
    if (rc == SSE_OK)
        rc = materialize(p);
    p->status = rc;
    return rc;
}

int sse_finish(struct sse_parser *p)
{
    int cut = p->status < 0 || p->line.len > 0 || p->have_data ||
              p->type.len > 0 || (p->bom > 0 && p->bom < BOM_DONE);

    p->line.len = p->data.len = p->type.len = p->id.len = 0;
    p->view = NULL;
    p->view_len = 0;
    p->retry = -1;
    p->status = SSE_OK;
    p->bom = 0;
    p->skip_lf = 0;
    p->have_data = 0;
    return cut;
}

void sse_free(struct sse_parser *p)
{
    buf_free(&p->line);
    buf_free(&p->data);
    buf_free(&p->type);
    buf_free(&p->id);
    p->view = NULL;
}
