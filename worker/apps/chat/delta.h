/*
 * delta — reads the one thing the chat app needs from a streamed
 * chat.completion.chunk, choices[0].delta.content, without building a
 * JSON tree: one pass over the chunk, no allocation. Per token, cJSON's
 * parse + delete (a node, a key and a value string malloc'ed per member)
 * was most of the worker's instructions.
 *
 * It is a fast path, not a second JSON parser to trust: delta_scan()
 * accepts only chunks that it validates in full (RFC 8259 syntax) and
 * whose meaning is plain, and says DELTA_OTHER for everything else, for
 * the caller to parse with cJSON as before. DELTA_OTHER covers: invalid
 * JSON, bytes after the value, nesting deeper than DELTA_MAX_DEPTH,
 * numbers longer than 63 characters, control characters or "\u0000" or
 * an invalid surrogate in any string, an escaped key on the path read, a
 * top-level "error", "choices" that is not an array or whose first item
 * is not an object, a "delta" that is neither an object nor null, a
 * non-empty string "reasoning_content" or "refusal", and finish_reason
 * "content_filter" or escaped. Where a key repeats, the first counts, as
 * with cJSON_GetObjectItemCaseSensitive.
 *
 * A stream's chunks repeat their first bytes (id, object, created, model
 * ... up to "delta":) byte for byte, and a scan is a function of the
 * bytes it has read: struct delta_memo keeps the last accepted chunk's
 * bytes up to choices[0].delta's value with the scan's state there, and
 * a chunk that starts with the same bytes is scanned from that point on.
 * The answer is the same as a full scan's; a chunk that differs earlier
 * is scanned in full and becomes the memo when accepted.
 *
 * Ownership: the result points into the caller's bytes. The caller owns
 * the memo (zeroed to start, one per stream, delta_memo_free at the end);
 * its prefix is a heap copy it owns.
 */
#ifndef LLMFORK_DELTA_H
#define LLMFORK_DELTA_H

#include <stddef.h>

#define DELTA_MAX_DEPTH 32

enum { DELTA_OK = 0,
       DELTA_OTHER = -1 };

struct delta {
    const char *content; /* the string's raw JSON text, between quotes;
                               NULL when absent, null or not a string */
    size_t content_len;
    int escaped; /* content holds backslash escapes */
};

/* Longer prefixes are not kept (real ones are ~220 bytes, OpenAI's, to
 * ~400, Azure's with content filter results): a held stream's memo stays
 * small whatever the upstream sends. */
#define DELTA_MEMO_MAX 1024

struct delta_memo {
    char *prefix;  /* malloc'ed; the first n bytes are the memo */
    size_t n, cap; /* n == 0: none */
    unsigned seen; /* private: the scan's keys seen at the mark */
};

/* memo may be NULL (every scan in full). */
int delta_scan(const char *s, size_t n, struct delta *d,
               struct delta_memo *memo);
void delta_memo_free(struct delta_memo *memo);

/* Decodes a JSON string's text that delta_scan() accepted (so its escapes
 * are valid) into dst, which has room for n bytes (decoding never grows
 * it). Returns the decoded length; UTF-16 escapes become UTF-8. */
size_t delta_unescape(const char *s, size_t n, char *dst);

#endif
