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

#endif
