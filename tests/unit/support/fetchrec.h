/*
 * fetchrec — a fetch client for the unit tests that records what its
 * callbacks saw, and can cancel or pause from inside them.
 *
 * Ownership: a struct fetchrec is the test's (fetchrec_new, then free());
 * it must outlive its transfer. It runs on testsrv_base.
 */
#ifndef LLMFORK_FETCHREC_H
#define LLMFORK_FETCHREC_H

#include <stddef.h>
#include <stdint.h>

#include "worker/fetch/fetch.h"

struct fetchrec {
    int headers, status, data_calls, done;
    int data_before_headers;
    enum fetch_rc rc;
    int done_status, attempts;
    char body[256 * 1024];
    size_t len;
    char hdr[64], hdr_done[64]; /* a header read in on_headers/done */
    const char *hdr_name;
    int cancel_in_headers, cancel_in_data;
    struct fetch *cancel_other;
    int pause_in_data, paused, data_while_paused;
    struct fetch *f;
    int64_t t0, t_done; /* fetchrec_now_ms() */
};

/* Records into the struct fetchrec passed as arg; on_done breaks the
 * loop. */
extern const struct fetch_cbs fetchrec_cbs;

void fetchrec_on_done(struct fetch *f, const struct fetch_result *res,
                      void *arg);

/* Zeroed; fails the test when out of memory. */
struct fetchrec *fetchrec_new(void);

int64_t fetchrec_now_ms(void);

/* Starts one transfer and runs the loop until its on_done. */
void fetchrec_run(struct fetch_req *req, struct fetchrec *r);

/* Runs the loop until it is broken; fails the test after 10 s. */
void fetchrec_loop(void);

#endif
