/*
 * h1_inflate — a response body's Content-Encoding undone for h1: gzip and
 * deflate (zlib-wrapped, or raw as some servers send it), with zlib.
 * libcurl decoded these for the transfers it made (CURLOPT_ACCEPT_ENCODING);
 * fetch asks for identity, so this is for servers that compress anyway.
 *
 * Ownership: the caller owns a struct h1_inflate from h1_inflate_new to
 * h1_inflate_free. Inflated bytes are passed to out from a buffer of this
 * module, valid during that call only.
 */
#ifndef LLMFORK_H1_INFLATE_H
#define LLMFORK_H1_INFLATE_H

#include <stddef.h>

struct h1_inflate;

/* For a Content-Encoding value (NULL: none): NULL with *why NULL when
 * there is nothing to undo; NULL with *why set when it cannot be undone
 * (another coding, out of memory); else the decoder. */
struct h1_inflate *h1_inflate_new(const char *coding, const char **why);

/* Inflates p[0..n) to out (which returns nonzero to stop). Returns 0, -1
 * when out stopped, -2 when the bytes are not in the coding. Bytes after
 * the compressed stream's end are ignored. */
int h1_inflate_feed(struct h1_inflate *z, const char *p, size_t n,
                    int (*out)(void *arg, const char *p, size_t n),
                    void *arg);

void h1_inflate_free(struct h1_inflate *z);

#endif
