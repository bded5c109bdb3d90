/* h1_addr — see h1_addr.h. */
#include "worker/fetch/h1/h1_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#define ADDRS_MAX 32  /* model, search and token URLs: a few */
#define IDLE_MAX 8192 /* idle connections kept per address */
#define KEY_MAX 64

struct h1_addr {
    char key[KEY_MAX];
    struct sockaddr_storage sa[2];
    int nsa;
    struct h1_conn **idle; /* oldest first */
    int nidle, cap;
    int low; /* the fewest idle since the last trim */
};

static struct h1_addr table[ADDRS_MAX];
static int ntable;

static int set_v4(struct sockaddr_storage *ss, const char *host, int port)
{
    struct sockaddr_in *s = (struct sockaddr_in *)ss;

    memset(ss, 0, sizeof *ss);
    s->sin_family = AF_INET;
    s->sin_port = htons((unsigned short)port);
    return inet_pton(AF_INET, host, &s->sin_addr) == 1 ? 0 : -1;
}

static int set_v6(struct sockaddr_storage *ss, const char *host, int port)
{
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((unsigned short)port);
    return inet_pton(AF_INET6, host, &s->sin6_addr) == 1 ? 0 : -1;
}

/* host ("1.2.3.4", "[::1]" or "localhost") and port into a's addresses.
 * localhost is tried as 127.0.0.1, then ::1, where curl tries both. */
static int resolve(struct h1_addr *a, const char *host, size_t hl, int port)
{
    char h[48];

    if (hl >= sizeof h)
        return -1;
    memcpy(h, host, hl);
    h[hl] = '\0';
    a->nsa = 1;
    if (strcasecmp(h, "localhost") == 0) {
        a->nsa = 2;
        return set_v4(&a->sa[0], "127.0.0.1", port) |
               set_v6(&a->sa[1], "::1", port);
    }
    if (h[0] == '[' && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        return set_v6(&a->sa[0], h + 1, port);
    }
    return set_v4(&a->sa[0], h, port);
}

/* The port after the host, 80 when none; -1 when not a port. */
static int parse_port(const char *p, const char *end)
{
    int port = 0;

    if (p == end)
        return 80;
    if (*p++ != ':' || p == end || end - p > 5)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
}

struct h1_addr *h1_addr_get(const char *key)
{
    for (int i = 0; i < ntable; i++)
        if (strcmp(table[i].key, key) == 0)
            return &table[i];
    return NULL;
}

/* The entry for the authority host[:port], made if new. */
static struct h1_addr *entry(const char *auth, size_t n)
{
    const char *end = auth + n, *colon;
    struct h1_addr *a;
    char key[KEY_MAX];
    int port;

    colon = auth[0] == '[' ? memchr(auth, ']', n) : memchr(auth, ':', n);
    if (auth[0] == '[' && colon != NULL)
        colon++;
    if (colon == NULL)
        colon = end;
    if ((port = parse_port(colon, end)) < 0 || colon == auth ||
        snprintf(key, sizeof key, "%.*s:%d", (int)(colon - auth), auth,
                 port) >= (int)sizeof key)
        return NULL;
    if ((a = h1_addr_get(key)) != NULL)
        return a;
    if (ntable == ADDRS_MAX)
        return NULL;
    a = &table[ntable];
    memset(a, 0, sizeof *a);
    if (resolve(a, auth, (size_t)(colon - auth), port) != 0)
        return NULL;
    memcpy(a->key, key, sizeof key);
    ntable++;
    return a;
}

int h1_addr_url(const char *url, char *key, size_t keysz,
                const char **target)
{
    const char *auth, *end;
    struct h1_addr *a;

    if (strncasecmp(url, "http://", 7) != 0)
        return -1;
    auth = url + 7;
    end = auth + strcspn(auth, "/?#@ \t\r\n");
    /* userinfo, a query without a path, a fragment, bytes curl would
     * encode: libcurl's business */
    if (*end != '\0' && *end != '/')
        return -1;
    if (*end == '/' && end[strcspn(end, "# \t\r\n")] != '\0')
        return -1;
    if ((a = entry(auth, (size_t)(end - auth))) == NULL ||
        strlen(a->key) >= keysz)
        return -1;
    strcpy(key, a->key);
    *target = *end == '/' ? end : "/";
    return 0;
}

int h1_addr_count(const struct h1_addr *a)
{
    return a->nsa;
}

struct h1_conn *h1_addr_take(struct h1_addr *a)
{
    if (a->nidle == 0)
        return NULL;
    if (--a->nidle < a->low)
        a->low = a->nidle;
    return a->idle[a->nidle];
}

int h1_addr_put(struct h1_addr *a, struct h1_conn *c)
{
    if (a->nidle == a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        struct h1_conn **n;

        if (cap > IDLE_MAX ||
            (n = realloc(a->idle, (size_t)cap * sizeof *n)) == NULL)
            return -1;
        a->idle = n;
        a->cap = cap;
    }
    a->idle[a->nidle++] = c;
    return 0;
}

struct h1_conn *h1_conn_dial(struct h1_addr *a, int ai, int *connected)
{
    const struct sockaddr_storage *sa = &a->sa[ai];
    struct h1_conn *c;
    int one = 1, fd, err;

    fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if ((c = calloc(1, sizeof *c)) == NULL) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    c->fd = fd;
    c->addr = a;
    /* tokens are small writes that must not wait for an ACK */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    *connected = connect(fd, (const struct sockaddr *)sa,
                         sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) == 0;
    if (*connected || errno == EINPROGRESS)
        return c;
    err = errno;
    h1_conn_close(c);
    errno = err;
    return NULL;
}

void h1_conn_close(struct h1_conn *c)
{
    if (c->on)
        event_del(&c->ev);
    close(c->fd);
    free(c);
}

void h1_addr_drop(struct h1_conn *c)
{
    struct h1_addr *a = c->addr;

    for (int i = a->nidle - 1; i >= 0; i--) {
        if (a->idle[i] != c)
            continue;
        memmove(a->idle + i, a->idle + i + 1,
                (size_t)(a->nidle - i - 1) * sizeof *a->idle);
        a->nidle--;
        if (a->low > a->nidle)
            a->low = a->nidle;
        break;
    }
    h1_conn_close(c);
}

static void close_oldest(struct h1_addr *a, int n)
{
    if (n == 0)
        return;
    for (int i = 0; i < n; i++)
        h1_conn_close(a->idle[i]);
    memmove(a->idle, a->idle + n, (size_t)(a->nidle - n) * sizeof *a->idle);
    a->nidle -= n;
}

void h1_addr_trim(void)
{
    for (int i = 0; i < ntable; i++) {
        struct h1_addr *a = &table[i];

        close_oldest(a, a->low);
        a->low = a->nidle;
    }
}

void h1_addr_cleanup(void)
{
    while (ntable > 0) {
        struct h1_addr *a = &table[--ntable];

        close_oldest(a, a->nidle);
        free(a->idle);
        memset(a, 0, sizeof *a);
    }
}
