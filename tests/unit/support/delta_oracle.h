/*
 * delta_oracle — cJSON's reading of a streamed chunk, as chat.c reads
 * one when the fast path (worker/apps/chat/delta.h) says DELTA_OTHER:
 * what delta_scan() must agree with. Used by test_delta and by the
 * fuzz target tests/fuzz/fuzz_delta.c.
 *
 * Ownership: *text is malloc'ed for the caller to free (or NULL).
 */
#ifndef LLMFORK_DELTA_ORACLE_H
#define LLMFORK_DELTA_ORACLE_H

#include <stddef.h>

/* 1 when s[0..n) is JSON cJSON parses and the chunk is plain (no error,
 * no filter stop, no thinking), with choices[0].delta.content (or NULL)
 * in *text; else 0. */
int delta_oracle(const char *s, size_t n, char **text);

#endif
