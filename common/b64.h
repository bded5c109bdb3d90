/*
 * b64 — base64 (RFC 4648 section 4) and base64url (section 5), for JWTs
 * (worker/model/auth/jwt.h) and Shared Key signatures (worker/apps/blob.h).
 *
 * Ownership: the caller's buffers only; nothing is allocated.
 */
#ifndef LLMFORK_B64_H
#define LLMFORK_B64_H

#include <stddef.h>

/* The bytes n characters of base64 decode to, at most. */
#define B64_DECODED_MAX(n) ((n) / 4 * 3 + 3)

/* Decodes s[0..n): either alphabet ('+' '/' or '-' '_'), '=' padding
 * optional, no whitespace. Writes at most cap bytes into out. Returns the
 * byte count, or -1 for a character outside the alphabet, a bad length or
 * padding, or no room. */
long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap);

/* Encodes p[0..n) in the standard alphabet with padding, NUL-terminated.
 * out needs 4 * ((n + 2) / 3) + 1 bytes. Returns the length, or -1 when
 * cap is too small. */
long b64_encode(const unsigned char *p, size_t n, char *out, size_t cap);

#endif
