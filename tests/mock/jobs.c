/*
 * jobs.c — answering later: one timer per stream (ttft, then one token per
 * delay, on absolute deadlines), the stream faults (cut, malformed, stall, error event), and
 * telling a client that left from one that was served.
 *
 * Close detection: once a reply has started, evhttp reads the socket and
 * calls the connection's close callback on EOF; before that (a
 * non-streaming reply still being "generated") evhttp does not read, so the
 * job watches the fd itself and peeks for EOF.
 */
#include "tests/mock/mock.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

/* Stop writing while this much is queued for a client that does not read,
 * as a real server's TCP send buffer would. */
#define PENDING_MAX (64 * 1024)

static struct job *live;
static struct evbuffer *scratch;

static void job_unlink(struct job *j)
{
    event_del(&j->timer);
    if (event_initialized(&j->watch))
        event_del(&j->watch);
    if (j->prev)
        j->prev->next = j->next;
    else
        live = j->next;
    if (j->next)
        j->next->prev = j->prev;
    mock_stats.active--;
    script_free(j->script);
    free(j->whole);
    free(j);
}

static void arm(struct job *j, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    event_add(&j->timer, &tv);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next stream step at j->next_ms, an absolute deadline: a step that
 * runs late does not push the ones after it, so a stream lasts ttft +
 * tokens x delay however busy the loop is. */
static void arm_next(struct job *j, int step_ms)
{
    int64_t left;

    j->next_ms += step_ms;
    left = j->next_ms - now_ms();
    arm(j, left > 0 ? (int)left : 0);
}

static void job_done(struct job *j)
{
    evhttp_connection_set_closecb(j->evcon, NULL, NULL);
    mock_stats.completed++;
    job_unlink(j);
}

/* evhttp's close callback: the client went away before the reply ended.
 * If evhttp detached the request from the connection, it is ours to free. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct job *j = arg;

    (void)evcon;
    if (evhttp_request_get_connection(j->req) == NULL)
        evhttp_request_free(j->req);
    mock_stats.cancelled++;
    job_unlink(j);
}

/* Drops the connection without ending the reply (cut, or client gone). */
static void drop(struct job *j)
{
    struct evhttp_connection *evcon = j->evcon;

    evhttp_connection_set_closecb(evcon, NULL, NULL);
    job_unlink(j);
    evhttp_connection_free(evcon);
}

static void on_cut_flushed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    drop(arg);
}

/* Writes what evhttp queued now, in this turn. Left to the bufferevent,
 * every chunk cost two epoll_ctl (evhttp enables the write event, the
 * drained buffer disables it), 44 per stream at 20 tokens: the mock is
 * the bench's ceiling, and that was a share of its time. With the base's
 * changelist (mock.c), an enable and a disable in one turn cost none. */
static void write_now(struct job *j)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(j->evcon);
    struct evbuffer *out = bufferevent_get_output(bev);
    int n;

    /* A socket bufferevent freezes its output's front but while it
     * writes; a failed write is left for it to meet and report. */
    evbuffer_unfreeze(out, 1);
    n = evbuffer_write(out, bufferevent_getfd(bev));
    evbuffer_freeze(out, 1);
    if (n >= 0 && evbuffer_get_length(out) == 0)
        bufferevent_disable(bev, EV_WRITE);
}

/* Queues what scratch holds as one HTTP chunk. scratch must end empty
 * even if evhttp declined it, or it would leak into the next job's reply. */
static void queue(struct job *j)
{
    evhttp_send_reply_chunk(j->req, scratch);
    evbuffer_drain(scratch, evbuffer_get_length(scratch));
}

static void flush(struct job *j)
{
    queue(j);
    write_now(j);
}

static size_t pending(const struct job *j)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(j->evcon);

    return evbuffer_get_length(bufferevent_get_output(bev));
}

/* Closes once what was sent has reached the socket, so the client sees
 * whole chunks, then EOF without the terminating chunk or [DONE]. */
static void cut(struct job *j)
{
    if (evbuffer_get_length(scratch)) {
        evhttp_send_reply_chunk_with_cb(j->req, scratch, on_cut_flushed, j);
        return;
    }
    if (pending(j)) {
        arm(j, 1);
        return;
    }
    drop(j);
}

static void stream_finish(struct job *j, const char *reason)
{
    if (j->responses) {
        resp_write_finish(j, scratch);
        flush(j);
        evhttp_send_reply_end(j->req);
        job_done(j);
        return;
    }
    chunk_write(j, scratch, "{}", reason, 0);
    if (j->include_usage)
        chunk_write_usage(j, scratch);
    evbuffer_add(scratch, "data: [DONE]\n\n", 14);
    flush(j);
    evhttp_send_reply_end(j->req);
    job_done(j);
}

/* A well-framed end without [DONE]: the error event, then the last chunk. */
static void error_event(struct job *j)
{
    if (j->responses)
        resp_write_failed(j, scratch);
    else
        chunk_write_error(scratch);
    flush(j);
    evhttp_send_reply_end(j->req);
    evhttp_connection_set_closecb(j->evcon, NULL, NULL);
    mock_stats.errors++;
    job_unlink(j);
}

static void stream_token(struct job *j)
{
    if (j->responses) {
        resp_write_token(j, scratch, j->fault.kind == FAULT_MALFORMED && j->sent == j->fault.after);
    } else if (j->fault.kind == FAULT_MALFORMED && j->sent == j->fault.after) {
        chunk_write_malformed(j, scratch);
    } else if (j->script) {
        chunk_write(j, scratch, script_delta(j->script, j->sent), NULL, 1);
    } else {
        char delta[80];

        snprintf(delta, sizeof delta, "{\"content\":\"%s\"}",
                 answer_token_json(j->sent));
        chunk_write(j, scratch, delta, NULL, 1);
    }
    j->sent++;
}

static void stream_step(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;

    (void)fd, (void)what;
    if (pending(j) > PENDING_MAX) {
        /* a client that does not read sets the pace from here on */
        j->next_ms = now_ms();
        arm_next(j, j->delay_ms ? j->delay_ms : 1);
        return;
    }
    if (!j->role_sent && j->responses) {
        resp_write_open(j, scratch);
        j->role_sent = 1;
    } else if (!j->role_sent) {
        chunk_write(j, scratch, j->fl == FL_AZURE ? "{\"content\":\"\",\"refusal\":null,\"role\":\"assistant\"}" : "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
                    NULL, 0);
        j->role_sent = 1;
    }
    if (j->fault.kind == FAULT_STALL && j->sent == j->fault.after) {
        flush(j);
        return; /* no timer: silent until the client goes */
    }
    if (j->fault.kind == FAULT_CUT && j->sent == j->fault.after) {
        cut(j);
        return;
    }
    if (j->fault.kind == FAULT_EVENT && j->sent == j->fault.after) {
        error_event(j);
        return;
    }
    /* Azure's output filter: the answer stops, the stream ends well. */
    if (j->fault.kind == FAULT_FILTER_MID && j->sent == j->fault.after) {
        stream_finish(j, "content_filter");
        return;
    }
    if (j->sent < j->tokens) {
        /* Behind schedule (10,000 streams load the mock past its core),
         * the tokens already due go out in one write, each its own chunk,
         * as the bufferevent's deferred writes batched them: a write per
         * token there took a third more of the mock's time. */
        do {
            stream_token(j);
            queue(j);
            j->next_ms += j->delay_ms;
        } while (j->sent < j->tokens && j->delay_ms > 0 &&
                 j->fault.kind == FAULT_NONE && j->next_ms <= now_ms());
        write_now(j);
        arm_next(j, 0);
        return;
    }
    stream_finish(j, j->length_cut ? "length" : "stop");
}

static void reply_whole(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;

    (void)fd, (void)what;
    if (j->fault.kind == FAULT_CUT) {
        drop(j);
        return;
    }
    event_del(&j->watch);
    reply_headers(j->req, j->fl, "application/json", 9999);
    if (j->whole)
        evbuffer_add(scratch, j->whole, strlen(j->whole));
    else if (j->responses)
        resp_write_body(j, scratch);
    else
        body_write(j, scratch);
    if (j->fault.kind == FAULT_MALFORMED) {
        struct evbuffer *half = evbuffer_new();

        if (half)
            evbuffer_remove_buffer(scratch, half,
                                   evbuffer_get_length(scratch) / 2);
        evbuffer_drain(scratch, evbuffer_get_length(scratch));
        evhttp_send_reply(j->req, 200, "OK", half ? half : scratch);
        if (half)
            evbuffer_free(half);
    } else {
        evhttp_send_reply(j->req, 200, "OK", scratch);
    }
    job_done(j);
}

/* Non-streaming: evhttp is not reading, so look for the client's EOF. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    (void)what;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        event_add(&j->watch, NULL);
        return;
    }
    if (n > 0)
        return; /* a pipelined request: stop watching */
    mock_stats.cancelled++;
    drop(j);
}

void job_start(struct job *j)
{
    struct event_base *base;

    if (!scratch && !(scratch = evbuffer_new())) {
        evhttp_send_error(j->req, 500, "out of memory");
        free(j);
        return;
    }
    j->evcon = evhttp_request_get_connection(j->req);
    base = evhttp_connection_get_base(j->evcon);
    j->next = live;
    if (live)
        live->prev = j;
    live = j;
    mock_stats.active++;
    evhttp_connection_set_closecb(j->evcon, on_close, j);
    if (!j->stream) {
        int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(j->evcon));

        event_assign(&j->timer, base, -1, 0, reply_whole, j);
        event_assign(&j->watch, base, fd, EV_READ, on_watch, j);
        event_add(&j->watch, NULL);
        if (j->fault.kind != FAULT_STALL)
            arm(j, j->ttft_ms + j->tokens * j->delay_ms);
        return;
    }
    event_assign(&j->timer, base, -1, 0, stream_step, j);
    reply_headers(j->req, j->fl, "text/event-stream; charset=utf-8", 9999);
    evhttp_send_reply_start(j->req, 200, "OK");
    if (j->responses) {
        resp_write_start(j, scratch);
        flush(j);
    } else if (j->fl == FL_AZURE) {
        chunk_write_prompt_filter(scratch);
        flush(j);
    }
    j->next_ms = now_ms();
    arm_next(j, j->ttft_ms);
}

void job_free_all(void)
{
    while (live)
        job_unlink(live);
    if (scratch)
        evbuffer_free(scratch);
    scratch = NULL;
}
