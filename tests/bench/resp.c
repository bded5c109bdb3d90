/*
 * resp — incremental HTTP/1.1 response reader for llmfork-load; see resp.h.
 */
#include "tests/bench/resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEAD_MAX 16384

enum chunk { K_SIZE,
             K_DATA,
             K_DATA_END,
             K_TRAILER };

static const char *marker = "";
static size_t markerlen;

void resp_marker(const char *m)
{
    marker = m;
    markerlen = strlen(m);
}

void resp_reset(struct resp *r)
{
    free(r->head);
    memset(r, 0, sizeof(*r));
}

int resp_ends_at_close(const struct resp *r)
{
    return r->in_body && r->fr == RESP_CLOSE;
}

/* Body bytes: looks for the marker, also across read boundaries. */
static void see_body(struct resp *r, const char *p, size_t n, uint64_t t)
{
    size_t keep = markerlen ? markerlen - 1 : 0, k;
    char buf[2 * RESP_MARKER_MAX];

    if (r->t_first || n == 0)
        return;
    if (!markerlen) {
        r->t_first = t;
        return;
    }
    k = n < keep ? n : keep;
    memcpy(buf, r->tail, r->taillen);
    memcpy(buf + r->taillen, p, k);
    if (memmem(buf, r->taillen + k, marker, markerlen) ||
        memmem(p, n, marker, markerlen)) {
        r->t_first = t;
        return;
    }
    if (n >= keep) {
        memcpy(r->tail, p + n - keep, keep);
        r->taillen = keep;
    } else {
        size_t all = r->taillen + n, drop = all > keep ? all - keep : 0;

        memcpy(buf, r->tail, r->taillen);
        memcpy(buf + r->taillen, p, n);
        memcpy(r->tail, buf + drop, all - drop);
        r->taillen = all - drop;
    }
}

/* Collects one LF-terminated line; returns its length (CRLF removed), or
 * -1 if more input is needed, -2 if it is too long. *used is advanced. */
static int take_line(struct resp *r, const char *p, size_t n, size_t *used)
{
    const char *nl = memchr(p, '\n', n);
    size_t k = nl ? (size_t)(nl - p) + 1 : n;

    if (r->linelen + k > sizeof(r->line) - 1)
        return -2;
    memcpy(r->line + r->linelen, p, k);
    r->linelen += k;
    *used += k;
    if (!nl)
        return -1;
    int len = (int)r->linelen;
    r->linelen = 0;
    while (len > 0 && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r'))
        len--;
    r->line[len] = '\0';
    return len;
}

/* A chunk-size, chunk-end or trailer line. Returns 0 or -1. */
static int chunk_line(struct resp *r, int len, int *end)
{
    char *e;

    if (r->ck == K_SIZE) {
        r->left = strtoull(r->line, &e, 16);
        if (e == r->line)
            return -1;
        r->ck = r->left ? K_DATA : K_TRAILER;
    } else if (r->ck == K_DATA_END) {
        if (len != 0)
            return -1;
        r->ck = K_SIZE;
    } else if (len == 0) {
        *end = 1; /* the empty line after the last chunk */
    }
    return 0;
}

static long feed_chunked(struct resp *r, const char *p, size_t n, uint64_t t,
                         int *end)
{
    size_t used = 0;

    while (used < n && !*end) {
        if (r->ck == K_DATA) {
            size_t k = n - used < r->left ? n - used : (size_t)r->left;

            see_body(r, p + used, k, t);
            used += k;
            r->left -= k;
            if (r->left == 0)
                r->ck = K_DATA_END;
            continue;
        }
        int len = take_line(r, p + used, n - used, &used);
        if (len == -2 || (len >= 0 && chunk_line(r, len, end)))
            return -1;
        if (len == -1)
            break;
    }
    return (long)used;
}

static long feed_body(struct resp *r, const char *p, size_t n, uint64_t t,
                      int *end)
{
    size_t k = n;

    if (r->fr == RESP_CHUNKED)
        return feed_chunked(r, p, n, t, end);
    if (r->fr == RESP_LENGTH && k > r->left)
        k = (size_t)r->left;
    see_body(r, p, k, t);
    if (r->fr == RESP_LENGTH) {
        r->left -= k;
        *end = r->left == 0;
    }
    return (long)k;
}

static int header_is(const char *line, const char *name, const char **value)
{
    size_t len = strlen(name);

    if (strncasecmp(line, name, len) || line[len] != ':')
        return 0;
    *value = line + len + 1;
    while (**value == ' ' || **value == '\t')
        (*value)++;
    return 1;
}

/* Parses the head in r->head (NUL-terminated, blank line cut off). */
static int parse_head(struct resp *r)
{
    char *save, *line = strtok_r(r->head, "\r\n", &save);
    const char *v;
    int minor;

    if (!line || sscanf(line, "HTTP/1.%d %d", &minor, &r->status) != 2)
        return -1;
    r->fr = RESP_CLOSE;
    r->close_after = minor == 0;
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        if (header_is(line, "content-length", &v) && r->fr != RESP_CHUNKED) {
            r->fr = RESP_LENGTH;
            r->left = strtoull(v, NULL, 10);
        } else if (header_is(line, "transfer-encoding", &v) &&
                   strcasestr(v, "chunked")) {
            r->fr = RESP_CHUNKED;
            r->ck = K_SIZE;
        } else if (header_is(line, "connection", &v)) {
            r->close_after = strcasestr(v, "close") != NULL;
        }
    }
    if (r->fr == RESP_CLOSE)
        r->close_after = 1;
    if (r->status == 204 || r->status == 304 || r->status / 100 == 1) {
        r->fr = RESP_LENGTH;
        r->left = 0;
    }
    return 0;
}

/* Head bytes. Returns bytes used or -1; sets in_body at the blank line. */
static long feed_head(struct resp *r, const char *p, size_t n)
{
    size_t room = HEAD_MAX - r->headlen, k = n < room ? n : room;
    size_t from = r->headlen > 3 ? r->headlen - 3 : 0;

    if (!r->head && !(r->head = malloc(HEAD_MAX + 1)))
        return -1;
    memcpy(r->head + r->headlen, p, k);
    r->headlen += k;
    r->head[r->headlen] = '\0';
    char *end = strstr(r->head + from, "\r\n\r\n");
    if (!end)
        return r->headlen == HEAD_MAX ? -1 : (long)k;
    size_t used = (size_t)(end + 4 - r->head) - (r->headlen - k);
    *end = '\0';
    int rc = parse_head(r);
    free(r->head);
    r->head = NULL;
    r->headlen = 0;
    r->in_body = 1;
    return rc ? -1 : (long)used;
}

long resp_feed(struct resp *r, const char *p, size_t n, uint64_t t, int *end)
{
    size_t off = 0;

    *end = 0;
    while (off < n && !*end) {
        long used = r->in_body ? feed_body(r, p + off, n - off, t, end)
                               : feed_head(r, p + off, n - off);
        if (used < 0)
            return -1;
        off += (size_t)used;
        if (r->in_body && r->fr == RESP_LENGTH && r->left == 0)
            *end = 1;
    }
    return (long)off;
}
