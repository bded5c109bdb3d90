/*
 * sse — an incremental parser of text/event-stream, as the WHATWG HTML
 * standard interprets it ("Server-sent events": event stream
 * interpretation), for the upstream streams of LLM APIs.
 *
 * Bytes arrive in arbitrary pieces (libcurl write callbacks); feed each
 * piece with sse_feed() and the parser calls back once per complete event.
 * Lines end in LF, CRLF or CR (a CR at the end of one piece and an LF at the
 * start of the next are one line end). A leading UTF-8 BOM is skipped.
 * Fields: data (several lines joined with "\n"), event, id (ignored when it
 * holds a NUL), retry (ASCII digits only); lines starting with ':' are
 * comments; a line with no colon is a field with an empty value; one space
 * after the colon is dropped; unknown fields are ignored. A blank line ends
 * an event; an event with no data line is not dispatched (spec), but an
 * event whose data lines are empty ("data:") is, with empty data.
 *
 * Speed: no allocation per event. An event whose data is one line and that
 * arrives whole within one sse_feed() call is handed to the callback as a
 * pointer into the caller's bytes, not copied. Otherwise the parser copies
 * into buffers it owns, which grow up to max_event; the partial-line, data
 * and type buffers are freed again once drained, so a parser between events
 * holds no heap (a held stream waits far longer than it parses).
 *
 * Memory is bounded: a line longer than max_event bytes (without its line
 * end), or an event whose joined data is longer, makes sse_feed() return
 * SSE_ETOOBIG instead of growing further. Each of the parser's four buffers
 * (partial line, data, event type, id) stays within max_event bytes.
 *
 * Ownership: the caller owns the struct sse_parser (embed it anywhere; it
 * holds no fd, no timer) and the bytes it passes to sse_feed(), which the
 * parser only reads during that call and never keeps a pointer to. The
 * parser owns its buffers, freed by sse_free(). The struct sse_event and
 * every pointer in it are valid only until the callback returns: they point
 * into the caller's bytes or into the parser's buffers. The strings in it
 * are NOT NUL-terminated; use the lengths (cJSON_ParseWithLength takes one).
 * The callback must not call sse_feed(), sse_finish() or sse_free() on the
 * parser that called it; to end the stream, return nonzero and tear down
 * after sse_feed() returns.
 *
 * Typical use, in a libcurl write callback:
 *
 *   static int on_event(const struct sse_event *ev, void *arg) {
 *       if (ev->done)
 *           return 0;                 // OpenAI's "data: [DONE]"
 *       return forward(arg, ev->data, ev->data_len);   // nonzero stops
 *   }
 *   sse_init(&s->sse, 0, on_event, s);              // once per stream
 *   rc = sse_feed(&s->sse, ptr, size * nmemb);      // per curl write
 *   if (rc < 0) ... malformed/oversized upstream, abort the transfer
 *   if (sse_finish(&s->sse)) ... stream was cut before an event ended
 *   sse_free(&s->sse);
 */
#ifndef LLMFORK_SSE_H
#define LLMFORK_SSE_H

#include <stddef.h>

#define SSE_MAX_EVENT_DEFAULT (1024 * 1024)

/* sse_feed() results. */
enum {
    SSE_OK = 0,
    SSE_STOPPED = 1,  /* the callback returned nonzero */
    SSE_ETOOBIG = -1, /* a line or an event's data passed max_event */
    SSE_ENOMEM = -2,
};

struct sse_event {
    const char *data; /* data lines joined with "\n" (no final "\n") */
    size_t data_len;
    const char *type; /* "message" unless the event named one */
    size_t type_len;
    const char *id; /* last event id seen in the stream, or "" */
    size_t id_len;
    long retry; /* last valid retry (ms), or -1; saturates */
    int done;   /* 1 when data is exactly "[DONE]" (OpenAI) */
};

/* Called once per dispatched event. Return 0 to go on; nonzero stops the
 * parser: sse_feed() returns SSE_STOPPED and ignores the rest. */
typedef int (*sse_event_cb)(const struct sse_event *ev, void *arg);

/* Growable byte buffer; private to the parser. */
struct sse_buf {
    char *ptr;
    size_t len;
    size_t cap;
};

/* Private: read nothing here but through the functions below. */
struct sse_parser {
    sse_event_cb cb;
    void *arg;
    size_t max;
    struct sse_buf line; /* a line split across sse_feed() calls */
    struct sse_buf data; /* the pending event's data, when copied */
    struct sse_buf type;
    struct sse_buf id;
    const char *view; /* pending data still in the caller's bytes */
    size_t view_len;
    long retry;
    int status;              /* sticky: SSE_STOPPED or an error */
    unsigned char bom;       /* BOM bytes matched; 3 = past the start */
    unsigned char skip_lf;   /* last byte seen was a CR */
    unsigned char have_data; /* the pending event has a data line */
};

/* Prepares p; allocates nothing. max_event 0 means SSE_MAX_EVENT_DEFAULT. */
void sse_init(struct sse_parser *p, size_t max_event, sse_event_cb cb,
              void *arg);

/* Parses len bytes, calling back for each event they complete. Returns
 * SSE_OK; SSE_STOPPED after the callback returned nonzero; or an error.
 * Once it returned nonzero, it returns the same value again without parsing
 * until sse_finish(). */
int sse_feed(struct sse_parser *p, const char *buf, size_t len);

/* End of stream. A pending event not closed by a blank line is dropped, as
 * the spec says. Returns 1 when the stream was cut: a partial line or an
 * unfinished event was pending, or sse_feed() had failed; else 0 (also
 * after SSE_STOPPED). Then resets p to parse
 * a new stream (status, id, retry and BOM state too), keeping its buffers. */
int sse_finish(struct sse_parser *p);

/* Frees the parser's buffers. p may be sse_init()ed again afterwards. */
void sse_free(struct sse_parser *p);

#endif
