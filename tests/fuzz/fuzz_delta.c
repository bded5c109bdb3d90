/*
 * fuzz_delta — the chunk fast path (worker/apps/chat/delta.h) against
 * cJSON, as tests/unit/worker/apps/chat/test_delta.c checks it: whenever
 * delta_scan() says DELTA_OK, cJSON parses the same bytes, finds the
 * chunk plain, and the same choices[0].delta.content once decoded. The
 * chunk is also scanned with a memo primed by a real chunk and by itself:
 * the answers must be the same as the full scan's.
 *
 * Input: the chunk, as is.
 */
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tests/unit/support/delta_oracle.h"
#include "worker/apps/chat/delta.h"

static const char real[] =
    "{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\","
    "\"created\":1732600000,\"model\":\"gpt-4o-mini\","
    "\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"x\"},\"logprobs\":null,"
    "\"finish_reason\":null}]}";

/* The scan's content decoded (malloc'ed), or NULL. */
static char *decoded(const struct delta *d, size_t *len)
{
    char *t;

    if (d->content == NULL)
        return NULL;
    t = malloc(d->content_len + 1);
    FUZZ_CHECK(t != NULL);
    *len = d->escaped ? delta_unescape(d->content, d->content_len, t)
                      : d->content_len;
    if (!d->escaped)
        memcpy(t, d->content, d->content_len);
    t[*len] = '\0';
    return t;
}

/* Scans again with a memo primed by primer: same answer as d0 / rc0. */
static void resumed(const char *s, size_t n, const char *primer, size_t pn,
                    int rc0, const struct delta *d0)
{
    struct delta_memo memo = { 0 };
    struct delta pd, d;

    (void)delta_scan(primer, pn, &pd, &memo);
    FUZZ_CHECK(delta_scan(s, n, &d, &memo) == rc0);
    if (rc0 == DELTA_OK) {
        FUZZ_CHECK(d.content == d0->content);
        FUZZ_CHECK(d.content_len == d0->content_len);
        FUZZ_CHECK(d.escaped == d0->escaped);
    }
    delta_memo_free(&memo);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct delta d;
    int rc = delta_scan(s, size, &d, NULL);

    if (rc == DELTA_OK) {
        char *want, *got;
        size_t len = 0;

        FUZZ_CHECK(delta_oracle(s, size, &want) == 1);
        got = decoded(&d, &len);
        FUZZ_CHECK((got == NULL) == (want == NULL));
        if (got != NULL) {
            FUZZ_CHECK(len == strlen(want) && memcmp(got, want, len) == 0);
            FUZZ_CHECK(strlen(got) == len); /* no NUL decoded */
        }
        free(got);
        free(want);
    }
    resumed(s, size, real, sizeof(real) - 1, rc, &d);
    resumed(s, size, s, size, rc, &d);
    return 0;
}
