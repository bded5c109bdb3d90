/*
 * forwarded — the client behind a trusted proxy (X-Forwarded-For).
 *
 * Only a peer in forwarded_allow_ips ("*", IPs, networks such as
 * 10.0.0.0/8 or fd00::/8) may name the client; a unix-socket peer is a
 * local proxy and always trusted (as Gunicorn and Uvicorn). The client is
 * the rightmost address in X-Forwarded-For that is not itself a trusted
 * proxy (Uvicorn's rule: what a chain of trusted proxies vouches for), or
 * the leftmost when all are trusted.
 *
 * Pure: no allocation, no I/O; strings are only read.
 */
#ifndef LLMFORK_FORWARDED_H
#define LLMFORK_FORWARDED_H

#include <stddef.h>

struct cfg_list;

/* 1 when ip (text) matches an entry of allow. */
int forwarded_trusted(const struct cfg_list *allow, const char *ip);

/* Writes the client address into out (n bytes) and returns 1 when peer is
 * trusted and xff names a valid one; else returns 0, out untouched. */
int forwarded_client(const struct cfg_list *allow, const char *peer,
                     const char *xff, char *out, size_t n);

#endif
