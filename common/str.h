/*
 * str — small string helpers the modules share, and struct str_buf, the
 * growable byte buffer apps build bodies and lines in (they do not touch
 * libevent's evbuffer).
 *
 * Ownership: str_fmt returns a malloc'd string the caller frees. A
 * str_buf is the caller's (on its stack or in its struct, zeroed to
 * start); its bytes are its own, freed by str_buf_free.
 */
#ifndef LLMFORK_STR_H
#define LLMFORK_STR_H

#include <stdarg.h>
#include <stddef.h>

/* A formatted string (vasprintf), or NULL when out of memory. */
char *str_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The length of a base URL without its trailing '/'s, so that
 * "%.*s/path" joins it with a path whatever the user wrote. */
size_t str_base_len(const char *url);

/* The value of parameter name in a raw query string ("a=1&b=x%20y"),
 * percent- and '+'-decoded into out (n bytes). Returns its length, -1
 * when absent, -2 when it does not fit or is badly encoded. */
int str_query_param(const char *query, const char *name, char *out,
                    size_t n);

/* A growable byte buffer; { 0 } is an empty one. Once an append fails
 * (out of memory), oom stays set and later appends do nothing, so a
 * builder checks once at the end. */
struct str_buf {
    char *p; /* len bytes, then a NUL when cap > 0 */
    size_t len, cap;
    int oom;
};

/* Appends n bytes. Returns 0 or -1 (out of memory). */
int str_buf_add(struct str_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. Returns 0 or -1. */
int str_buf_puts(struct str_buf *b, const char *s);
/* Appends printf output. Returns 0 or -1. */
int str_buf_printf(struct str_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int str_buf_vprintf(struct str_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The bytes, NUL-terminated (the NUL not counted in len): "" when empty.
 * Valid until the next append, reset or free. */
const char *str_buf_cstr(const struct str_buf *b);
/* Empties b, keeping its memory (and clearing oom). */
void str_buf_reset(struct str_buf *b);
/* Frees b's bytes; b is empty again. */
void str_buf_free(struct str_buf *b);

#endif
