/*
 * resp — reads one HTTP/1.1 response as its bytes arrive: the head, then a
 * body framed by Content-Length, chunked encoding or the connection's
 * close; and notes when a marker (the first token's text) first shows up
 * in the body, even split across reads. Used by llmfork-load (load.c).
 *
 * Ownership: a struct resp belongs to one connection. It holds a head
 * buffer (malloc'd) only while the head is incomplete; resp_reset frees it
 * and readies the struct for the next response.
 */
#ifndef LLMFORK_BENCH_RESP_H
#define LLMFORK_BENCH_RESP_H

#include <stddef.h>
#include <stdint.h>

#define RESP_MARKER_MAX 64

enum resp_framing { RESP_LENGTH,
                    RESP_CHUNKED,
                    RESP_CLOSE };

struct resp {
    int status;
    int close_after; /* the server will close after it */
    int in_body;
    enum resp_framing fr;
    int ck;           /* where in the chunked framing we are */
    uint64_t left;    /* body or chunk bytes still to come */
    uint64_t t_first; /* when the marker was seen; 0 = not yet */
    char *head;
    size_t headlen;
    char line[64]; /* a chunk-size or trailer line in pieces */
    size_t linelen;
    char tail[RESP_MARKER_MAX]; /* last body bytes, for a split marker */
    size_t taillen;
};

/* The marker to look for (len < RESP_MARKER_MAX); "" = any body byte. */
void resp_marker(const char *marker);

void resp_reset(struct resp *r);

/* Feeds n bytes read at time t (ns). Returns the bytes used (all of them
 * unless the response ended early), or -1 on a malformed response. Sets
 * *end when the response is complete. */
long resp_feed(struct resp *r, const char *p, size_t n, uint64_t t, int *end);

/* A close-framed body: EOF is its normal end. */
int resp_ends_at_close(const struct resp *r);

#endif
