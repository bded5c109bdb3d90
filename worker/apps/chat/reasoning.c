/* reasoning — thinking/answer splitter for "<think>" content (see .h). */
#include "worker/apps/chat/reasoning.h"

#include <string.h>

enum {
    R_START,       /* nothing but whitespace yet; "<think>" may come */
    R_THINK_LEAD,  /* after "<think>": drop whitespace */
    R_THINK,       /* thinking; hold a partial "</think>" */
    R_ANSWER_LEAD, /* after "</think>": drop whitespace */
    R_ANSWER,      /* the rest is answer */
};

static const char open_tag[] = "<think>";
static const char close_tag[] = "</think>";
#define OPEN_LEN (sizeof(open_tag) - 1)
#define CLOSE_LEN (sizeof(close_tag) - 1)

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void reasoning_init(struct reasoning *r)
{
    r->state = R_START;
    r->nhold = 0;
}

static void flush_hold(struct reasoning *r, int thinking, reasoning_emit emit,
                       void *arg)
{
    if (r->nhold)
        emit(arg, thinking, r->hold, r->nhold);
    r->nhold = 0;
}

/* R_START, one byte. Returns 1 when c was taken, 0 when it must be seen
 * again in the new state. */
static int start_byte(struct reasoning *r, char c, reasoning_emit emit,
                      void *arg)
{
    const char *lt = memchr(r->hold, '<', r->nhold);
    size_t t = lt ? r->nhold - (size_t)(lt - r->hold) : 0;

    if (!lt && is_space(c) && r->nhold < REASONING_HOLD - OPEN_LEN) {
        r->hold[r->nhold++] = c;
        return 1;
    }
    if (c == open_tag[t]) {
        r->hold[r->nhold++] = c;
        if (t + 1 == OPEN_LEN) {
            r->nhold = 0;
            r->state = R_THINK_LEAD;
        }
        return 1;
    }
    flush_hold(r, 0, emit, arg);
    r->state = R_ANSWER;
    return 0;
}

/* R_THINK from p[i]: runs up to a '<', then the tag byte by byte. Returns
 * the new offset. */
static size_t think_bytes(struct reasoning *r, const char *p, size_t i,
                          size_t n, reasoning_emit emit, void *arg)
{
    if (r->nhold) {
        if (p[i] != close_tag[r->nhold]) {
            flush_hold(r, 1, emit, arg); /* p[i] is seen again */
            return i;
        }
        r->hold[r->nhold++] = p[i];
        if (r->nhold == CLOSE_LEN) {
            r->nhold = 0;
            r->state = R_ANSWER_LEAD;
        }
        return i + 1;
    }
    const char *lt = memchr(p + i, '<', n - i);
    size_t end = lt ? (size_t)(lt - p) : n;

    if (end > i)
        emit(arg, 1, p + i, end - i);
    if (!lt)
        return n;
    r->hold[r->nhold++] = '<';
    return end + 1;
}

void reasoning_feed(struct reasoning *r, const char *p, size_t n,
                    reasoning_emit emit, void *arg)
{
    size_t i = 0;

    while (i < n) {
        switch (r->state) {
        case R_START:
            i += (size_t)start_byte(r, p[i], emit, arg);
            break;
        case R_THINK_LEAD:
        case R_ANSWER_LEAD:
            if (is_space(p[i]))
                i++;
            else
                r->state = r->state == R_THINK_LEAD ? R_THINK : R_ANSWER;
            break;
        case R_THINK:
            i = think_bytes(r, p, i, n, emit, arg);
            break;
        default:
            emit(arg, 0, p + i, n - i);
            return;
        }
    }
}

void reasoning_finish(struct reasoning *r, reasoning_emit emit, void *arg)
{
    flush_hold(r, r->state == R_THINK, emit, arg);
    reasoning_init(r);
}
