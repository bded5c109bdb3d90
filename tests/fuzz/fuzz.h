/*
 * fuzz — what the libFuzzer targets in tests/fuzz/ share: each target is
 * one fuzz_<name>.c defining LLVMFuzzerTestOneInput, built by `make fuzz`
 * with clang -fsanitize=fuzzer,address,undefined and linked against the
 * project's objects built the same way (build/fuzz/).
 *
 * A target checks more than "no crash": where the code under test can be
 * fed in pieces, the answer must not depend on where the pieces are cut,
 * and where an oracle exists (cJSON, libinih) the two must agree. Any
 * disagreement calls FUZZ_CHECK, which aborts: libFuzzer saves the input.
 *
 * Ownership: nothing here allocates; a struct fuzz_cuts reads the caller's
 * bytes.
 */
#ifndef LLMFORK_FUZZ_H
#define LLMFORK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* Piece lengths drawn from a seed: the input's first byte picks how a
 * stream is cut (1 = byte by byte ... 0 = all at once). */
struct fuzz_cuts {
    unsigned seed;
};

/* The length of the next piece of a stream with left bytes to go (>= 1
 * when left >= 1). */
static inline size_t fuzz_piece(struct fuzz_cuts *c, size_t left)
{
    size_t n;

    if (c->seed == 0)
        return left;
    c->seed = c->seed * 1103515245u + 12345u;
    n = 1 + (c->seed >> 16) % (c->seed % 7 == 0 ? 64 : 5);
    return n < left ? n : left;
}

#endif
