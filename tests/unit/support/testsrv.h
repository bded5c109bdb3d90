/*
 * testsrv — an in-process evhttp server for the fetch unit tests, on a
 * free 127.0.0.1 port, served by the same event_base as the client (real
 * sockets, one loop, as in a worker).
 *
 * Paths:
 *   /stream?n=N&ms=M      N chunks "chunk-<i>\n", M ms apart (5, 20)
 *   /stall-after-chunk    one chunk, then nothing for 10 s
 *   /stall                never answers
 *   /cut                  one chunk, then the connection is dropped
 *   /burst                five chunks "burst-<i>\n" written at once
 *   /echo                 201 with the request body; X-Echo-Len,
 *                         X-Echo-Method (PUT or POST), X-Echo-Hdr (X-Test)
 *   /flaky?key=K&fail=F&status=S&ra_ms=..&ra=..
 *                         the first F attempts per key K (0..15) get S
 *                         (503) with "error body" and the Retry-After
 *                         headers given; later ones get 200 "ok:<body len>"
 *   anything else         404
 *
 * Ownership: testsrv_setup creates the loop (testsrv_base), the server and
 * this process's fetch multi (fetch_init); testsrv_teardown frees them all,
 * and the replies still streaming. Use them as cmocka setup/teardown.
 */
#ifndef LLMFORK_TESTSRV_H
#define LLMFORK_TESTSRV_H

struct event_base;

extern struct event_base *testsrv_base;

/* fetch_opts.native_http for the fetch multi testsrv_setup makes: 1
 * (the default) runs plain-http transfers on fetch's own client, 0 on
 * libcurl; the fetch tests run their cases both ways. */
extern int testsrv_native;

int testsrv_setup(void **state);
int testsrv_teardown(void **state);

/* The server's port. */
int testsrv_port(void);

/* "http://127.0.0.1:<port><path>"; the last eight results stay valid. */
char *testsrv_url(const char *path);

/* How many requests /flaky?key=key and /cut saw since testsrv_setup. */
int testsrv_hits(int key);
int testsrv_cut_hits(void);

/* Runs the loop for ms. */
void testsrv_spin(int ms);

#endif
