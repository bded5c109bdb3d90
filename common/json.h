/*
 * json — writing JSON strings without building a cJSON tree, and reading
 * JSON text as strictly as RFC 8259 asks.
 *
 * The streaming path writes one NDJSON line per upstream token; its shape is
 * fixed, so it is cheaper to escape the token into the output buffer than
 * to build, print and free a tree per chunk (DESIGN.md, performance notes).
 *
 * Ownership: the caller owns every buffer passed in.
 */
#ifndef LLMFORK_JSON_H
#define LLMFORK_JSON_H

#include <stddef.h>

struct str_buf;
struct cJSON;

/* Appends s[0..len) to out as the inside of a JSON string (no quotes):
 * '"', '\\' and control characters escaped, other bytes copied (UTF-8 is
 * passed through). Returns 0 or -1 on allocation failure. */
int json_esc_append(struct str_buf *out, const char *s, size_t len);

/* The same into a fixed buffer; writes at most cap-1 bytes plus a NUL and
 * returns the length written, or (size_t)-1 when it did not fit. */
size_t json_esc(char *dst, size_t cap, const char *s, size_t len);

/* 1 if s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0. JSON text must be UTF-8
 * (RFC 8259 8.1), and a model provider refuses a body that is not. */
int json_utf8_valid(const char *s, size_t len);

/* Parses s[0..len) as one JSON text (RFC 8259), which is stricter than
 * cJSON alone: nothing but blanks may follow the value, and a byte below
 * 0x20 is refused both inside a string (it must be escaped there) and
 * between tokens (only space, tab, CR and LF are blanks; cJSON skips any
 * such byte). Returns the tree, which the caller owns (cJSON_Delete), or
 * NULL with why in err, to be prefixed by what the text was (e.g. "not
 * valid JSON: raw control character U+000A in a string at byte 12";
 * offsets count from 0). err may be NULL with errlen 0. */
struct cJSON *json_parse(const char *s, size_t len, char *err, size_t errlen);

#endif
