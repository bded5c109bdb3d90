/*
 * str — small string helpers the modules share.
 *
 * Ownership: str_fmt returns a malloc'd string the caller frees.
 */
#ifndef LLMFORK_STR_H
#define LLMFORK_STR_H

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

#endif
