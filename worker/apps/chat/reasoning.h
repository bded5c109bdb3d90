/*
 * reasoning — splits a reasoning model's thinking from its answer in the
 * streamed content, for models that think inside the content itself
 * (DeepSeek-R1: "<think>\n...\n</think>\n\nThe answer").
 *
 * Rules: "<think>" opens the thinking only at the start of the content
 * (after whitespace, which is dropped); "</think>" closes it once; the
 * whitespace right after each tag is dropped; everything after the close
 * is answer, tags included. Content that does not start with "<think>" is
 * all answer. The tags may be cut across pieces at any byte: the few bytes
 * that could be the start of a tag are held back until the next piece
 * decides, and reasoning_finish() hands out what is still held (a stream
 * cut inside "</thi" gives "</thi" as thinking).
 *
 * Models that send the thinking in a field of its own (DeepSeek's API and
 * Azure AI Foundry: delta.reasoning_content) need no splitting; the chat
 * app passes that field through as thinking.
 *
 * Pure: no I/O, no allocation. Ownership: the caller owns struct
 * reasoning (embed it); the emitted pointers point into the caller's
 * bytes or into the struct and are valid only during the callback.
 */
#ifndef LLMFORK_REASONING_H
#define LLMFORK_REASONING_H

#include <stddef.h>

#define REASONING_HOLD 32 /* whitespace kept while "<think>" may come */

/* thinking: 1 for thinking text, 0 for answer text; n > 0. */
typedef void (*reasoning_emit)(void *arg, int thinking, const char *p,
                               size_t n);

struct reasoning {
    int state; /* private */
    size_t nhold;
    char hold[REASONING_HOLD];
};

void reasoning_init(struct reasoning *r);

/* Splits the next piece of content; calls emit for each run of text. */
void reasoning_feed(struct reasoning *r, const char *p, size_t n,
                    reasoning_emit emit, void *arg);

/* End of content: emits what is held back. r is then ready for reuse. */
void reasoning_finish(struct reasoning *r, reasoning_emit emit, void *arg);

#endif
