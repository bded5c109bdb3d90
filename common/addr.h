/*
 * addr — listen addresses as written by users: "HOST:PORT", "[v6]:PORT",
 * "PORT" alone (127.0.0.1), "unix:/path", "fd://N". Pure parsing; no I/O.
 * As Gunicorn, "unix://path" and "tcp://HOST:PORT" are accepted too, and
 * an empty host (":PORT") means every IPv4 interface. Port 0 is allowed
 * (the kernel picks one).
 */
#ifndef LLMFORK_ADDR_H
#define LLMFORK_ADDR_H

#include <sys/socket.h>
#include <stddef.h>

enum addr_kind { ADDR_TCP,
                 ADDR_UNIX,
                 ADDR_FD };

struct addr {
    enum addr_kind kind;
    struct sockaddr_storage ss; /* ADDR_TCP, ADDR_UNIX */
    socklen_t len;
    int fd;         /* ADDR_FD */
    char text[128]; /* canonical text, for logs and messages */
};

/* Parses one address. Returns 0, or -1 and writes a short reason ("bad
 * port 'x'") into err. Host names are resolved with getaddrinfo (first
 * result); "localhost" and numeric forms need no resolver. */
int addr_parse(const char *s, struct addr *out, char *err, size_t errlen);

/* The same checks as addr_parse without resolving host names: for
 * validating a config (--check-config) without touching the network. */
int addr_check(const char *s, char *err, size_t errlen);

/* Formats a connected peer ("1.2.3.4", "::1", "unix") into buf. */
void addr_peer_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t n);

#endif
