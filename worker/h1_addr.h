/*
 * h1_addr — the addresses h1 talks to (from http:// URLs naming an IP
 * address or "localhost"), and each one's idle keep-alive connections.
 *
 * Ownership: the table and the idle fds in it belong to this module, in
 * the process that filled it (a worker). h1_addr_take hands an fd to the
 * caller, who gives it back with h1_addr_put or closes it. Entries live
 * until h1_addr_cleanup; pointers to them stay valid until then.
 */
#ifndef LLMFORK_H1_ADDR_H
#define LLMFORK_H1_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

struct h1_addr;

/* See h1_url (h1.h): also makes sure the key's entry exists. */
int h1_addr_url(const char *url, char *key, size_t keysz,
                const char **target);

/* The entry made by h1_addr_url for key, or NULL. */
struct h1_addr *h1_addr_get(const char *key);

/* Its socket addresses, in the order to try (one, or two for localhost). */
int h1_addr_count(const struct h1_addr *a);
const struct sockaddr_storage *h1_addr_sockaddr(const struct h1_addr *a,
                                                int i);

/* An idle connection, the most recently used, or -1. */
int h1_addr_take(struct h1_addr *a);

/* Keeps fd idle: 0, or -1 when the pool is full (the caller closes). */
int h1_addr_put(struct h1_addr *a, int fd);

/* Closes, in every entry, as many idle connections as stayed idle since
 * the last call (the oldest first). */
void h1_addr_trim(void);

/* Closes every idle connection and empties the table. */
void h1_addr_cleanup(void);

#endif
