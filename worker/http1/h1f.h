/*
 * h1f — the HTTP/1.1 framing rules (RFC 9112) that the server's request
 * parser (worker/server/http_parse.c) and the upstream client's response
 * parser (worker/fetch/h1/h1_parse.c) share, so the two cannot disagree:
 * cutting a head into lines, a field line (name ":" OWS value OWS), list
 * values, Content-Length, and the chunked transfer coding with its
 * trailer section.
 *
 * Strict where laxness enables smuggling (a bare CR, a NUL, whitespace
 * before ':', obs-fold, junk after a chunk size, a trailer that is not a
 * field line), lenient where it costs nothing (bare LF line ends).
 *
 * No I/O, no allocation. Ownership: every pointer handed back points into
 * a buffer the caller passed in, and the caller owns that buffer; struct
 * h1f_chunked is the caller's decoder state, plain data.
 */
#ifndef LLMFORK_H1F_H
#define LLMFORK_H1F_H

#include <stddef.h>
#include <stdint.h>

/* tchar (RFC 9110 5.6.2): the bytes of a field name or method. */
int h1f_tchar(unsigned char c);

/* A byte a field value may hold: HTAB, SP, VCHAR, obs-text (RFC 9110
 * 5.5); no other control byte, no DEL. */
int h1f_vchar(unsigned char c);

/* A hex digit's value, or -1. */
int h1f_hexval(unsigned char c);

/* Cuts the line at *p (ending in LF or CRLF) and advances *p past it.
 * Returns the line, NUL-terminated without its end, or NULL when no LF
 * is left before end or the line holds a CR elsewhere or a NUL (read as
 * a C string, a NUL would cut it short unseen). */
char *h1f_line(char **p, char *end);

struct h1f_field {
    const char *name;
    const char *value; /* optional whitespace trimmed */
};

/* Parses one field line (as h1f_line returns it) in place: a name of
 * tchars directly followed by ':' (so no whitespace before the colon and
 * no obs-fold, whose line starts with SP or HTAB), then a value of
 * h1f_vchar bytes. Returns 0, or -1 when the line breaks those rules. */
int h1f_field_parse(char *line, struct h1f_field *f);

/* The first of fields[0..n) with that name (case-insensitive), or NULL. */
const char *h1f_get(const struct h1f_field *fields, int n, const char *name);

/* 1 if the comma-separated list value holds token (case-insensitive). */
int h1f_list_has(const char *value, const char *token);

/* The Content-Length of fields[0..n): 1 with *len when present (digits
 * only, at most INT64_MAX, every such field the same), 0 when absent, -1
 * when invalid or conflicting. */
int h1f_content_length(const struct h1f_field *fields, int n, uint64_t *len);

/* ---- the chunked transfer coding (RFC 9112 7.1) ---- */

struct h1f_chunked {
    int state;
    uint64_t left;  /* bytes left in the current chunk */
    size_t linelen; /* of the size or trailer line so far */
    size_t maxline; /* longest size or trailer line */
    int digits;
    int trailers;
};

enum {
    H1F_CHUNK_BAD = -1, /* malformed framing */
    H1F_CHUNK_MORE = 0, /* all input used; the body goes on */
    H1F_CHUNK_DATA = 1, /* *data, *dlen: body bytes */
    H1F_CHUNK_DONE = 2, /* the last chunk and its trailers read */
};

/* Zeroes st; maxline bounds each size and trailer line (0 = 8190). */
void h1f_chunked_init(struct h1f_chunked *st, size_t maxline);

/* Consumes input from in[0..len) and sets *used to the bytes consumed.
 * Returns H1F_CHUNK_DATA with *data, *dlen a slice of in (call again with
 * the rest), H1F_CHUNK_MORE when all of in was consumed, H1F_CHUNK_DONE
 * after the trailer section's blank line (bytes after it are not
 * consumed; later calls consume nothing and return it again), or
 * H1F_CHUNK_BAD. A chunk-size line is hex digits, optional BWS, then
 * only ";" extensions without control bytes; each trailer line follows
 * h1f_field_parse's rules. */
int h1f_chunked_feed(struct h1f_chunked *st, const char *in, size_t len,
                     size_t *used, const char **data, size_t *dlen);

#endif
