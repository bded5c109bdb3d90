/*
 * h1_addr — the addresses h1 talks to (from http:// URLs naming an IP
 * address or "localhost"), and each one's idle keep-alive connections.
 *
 * Ownership: the table and the idle connections in it (struct h1_conn:
 * its fd, its event) belong to this module, in the process that filled it
 * (a worker). h1_addr_take hands one to the caller, who gives it back
 * with h1_addr_put or closes it (h1_conn_close). Entries live until
 * h1_addr_cleanup; pointers to them stay valid until then.
 */
#ifndef LLMFORK_H1_ADDR_H
#define LLMFORK_H1_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include <event2/event_struct.h>

struct h1;
struct h1_addr;

/* A kept-alive connection. Its event stays registered (EV_READ) from the
 * first response until it is closed, across the transfers it carries, so
 * taking it from the pool and giving it back costs no epoll_ctl; while it
 * is idle (h == NULL) a readable event means the server closed it or sent
 * what nobody asked for, and h1 drops it (h1_addr_drop). */
struct h1_conn {
    int fd;
    struct event ev;
    short what;       /* EV_READ or EV_WRITE while on */
    unsigned char on; /* ev is added */
    struct h1 *h;     /* the transfer on it; NULL while idle */
    struct h1_addr *addr;
};

/* When url is one h1 serves, its address key ("host:port", at most
 * keysz bytes with the NUL) and its request target (a pointer into url),
 * the key's entry made if new. Returns 0, or -1 when the URL is for
 * libcurl. */
int h1_addr_url(const char *url, char *key, size_t keysz,
                const char **target);

/* The entry made by h1_addr_url for key, or NULL. */
struct h1_addr *h1_addr_get(const char *key);

/* How many socket addresses it has, to try in order with h1_conn_dial
 * (one, or two for localhost). */
int h1_addr_count(const struct h1_addr *a);

/* An idle connection, the most recently used, or NULL. The caller owns
 * it from here (set c->h). */
struct h1_conn *h1_addr_take(struct h1_addr *a);

/* Keeps c idle (c->h must be NULL): 0, or -1 when the pool is full and
 * the caller keeps it (to close it). */
int h1_addr_put(struct h1_addr *a, struct h1_conn *c);

/* Takes an idle c out of its pool and closes it. */
void h1_addr_drop(struct h1_conn *c);

/* A new connection to a's address ai, its connect started (non-blocking):
 * *connected is 1 when it completed at once. NULL with errno set when the
 * socket or the connect failed. The caller owns it. */
struct h1_conn *h1_conn_dial(struct h1_addr *a, int ai, int *connected);

/* Stops watching c, closes its fd and frees it. */
void h1_conn_close(struct h1_conn *c);

/* Closes, in every entry, as many idle connections as stayed idle since
 * the last call (the oldest first). */
void h1_addr_trim(void);

/* Closes every idle connection and empties the table. */
void h1_addr_cleanup(void);

#endif
