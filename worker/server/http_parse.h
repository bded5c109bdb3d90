/*
 * http_parse — pure HTTP/1.1 request parsing: the request head (with
 * Gunicorn's limits) and the framing of its body; the field-line rules
 * and the chunked decoder are worker/http1/h1f's, which the upstream
 * client shares. No I/O, no allocation;
 * the caller owns every buffer, and every pointer this module hands back
 * points into a buffer the caller passed in.
 *
 * Use: feed the growing input to http_scan_head() until it returns the
 * head's length (or an error status); copy that many bytes and parse the
 * copy in place with http_parse_head(), with room for the scanner's
 * field count (st.fields).
 */
#ifndef LLMFORK_HTTP_PARSE_H
#define LLMFORK_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "worker/http1/h1f.h"

/* Whatever the limits say, a head never exceeds this (431). */
#define HTTP_HEAD_HARD_MAX (1024 * 1024)
#define HTTP_FIELDS_MAX 32768

/* Gunicorn's meanings: line and field_size 0 = unlimited (up to the hard
 * cap), fields 0 = HTTP_FIELDS_MAX. */
struct http_limits {
    size_t line;       /* limit_request_line: request line bytes */
    int fields;        /* limit_request_fields */
    size_t field_size; /* limit_request_field_size: one header line */
};

struct http_scan {
    size_t pos;        /* bytes examined so far */
    size_t line_start; /* offset of the line being read */
    int in_fields;     /* past the request line */
    int fields;        /* header lines seen: room http_parse_head needs */
};

/* Scans buf[0..len) (the same start each call; len only grows) for the end
 * of the head, checking limits as bytes arrive, so an oversized line is
 * refused before it ends. Returns the head's length including its empty
 * line, 0 when more input is needed, or -414, -431, -400. */
long http_scan_head(struct http_scan *st, const char *buf, size_t len,
                    const struct http_limits *lim);

struct http_head {
    const char *method;
    char *target; /* as sent */
    int minor;    /* HTTP/1.minor */
    struct h1f_field *fields;
    int nfields;
};

/* Parses a whole head of len bytes (as found by http_scan_head) in place,
 * writing NULs into buf. fields has room for maxfields entries. Returns 0,
 * or -400 (malformed), -505 (HTTP version other than 1.x). */
int http_parse_head(char *buf, size_t len, struct http_head *h,
                    struct h1f_field *fields, int maxfields);

/* First field with that name (case-insensitive), or NULL. */
const char *http_head_get(const struct http_head *h, const char *name);

/* 1 when the head's Host fields are as RFC 9112 3.2 asks: exactly one in
 * HTTP/1.1, at most one in 1.0, and its value empty or uri-host [":"
 * port] (RFC 3986 3.2.2: a reg-name, an IPv4 address or an [IPv6]
 * literal); nginx answers anything else with 400. */
int http_head_host_ok(const struct http_head *h);

/* Where the origin-form part of a request target starts: for the
 * absolute-form ("http://host:port/p?q", which a server must accept, RFC
 * 9112 3.2.2) just after the authority, so "/p?q", or "" or "?q" when it
 * has no path; otherwise target itself. */
const char *http_target_origin(const char *target);

/* Whether the connection may stay open after this request: HTTP/1.1
 * unless "Connection: close", HTTP/1.0 only with "keep-alive". */
int http_head_keepalive(const struct http_head *h);

enum http_body { HTTP_BODY_NONE,
                 HTTP_BODY_LENGTH,
                 HTTP_BODY_CHUNKED };

/* How the request body is framed. Returns 0 (and *length for
 * HTTP_BODY_LENGTH), -400 (bad or conflicting Content-Length, both
 * Content-Length and Transfer-Encoding) or -501 (a transfer coding other
 * than chunked). */
int http_head_body(const struct http_head *h, enum http_body *kind,
                   uint64_t *length);

#endif
