/*
 * addr — see addr.h. Both entry points share one parser; only whether a
 * host name is looked up differs.
 */
#include "common/addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define HOST_MAX 253

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int all_digits(const char *p)
{
    return *p != '\0' && p[strspn(p, "0123456789")] == '\0';
}

static int parse_port(const char *p, int *port, char *err, size_t errlen)
{
    if (!all_digits(p))
        return fail(err, errlen, "bad port '%s'", p);
    if (strlen(p) > 5 || strtol(p, NULL, 10) > 65535)
        return fail(err, errlen, "port %s out of range (0-65535)", p);
    *port = (int)strtol(p, NULL, 10);
    return 0;
}

static int parse_fd(const char *p, struct addr *out, char *err, size_t errlen)
{
    if (!all_digits(p) || strlen(p) > 9)
        return fail(err, errlen, "bad fd '%s'", p);
    out->kind = ADDR_FD;
    out->fd = (int)strtol(p, NULL, 10);
    out->len = 0;
    snprintf(out->text, sizeof(out->text), "fd://%d", out->fd);
    return 0;
}

static int parse_unix(const char *path, struct addr *out, char *err, size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
    size_t n = strlen(path);

    if (n == 0)
        return fail(err, errlen, "empty unix socket path");
    if (n >= sizeof(sun->sun_path))
        return fail(err, errlen, "unix socket path too long (%zu bytes, max %zu)",
                    n, sizeof(sun->sun_path) - 1);
    out->kind = ADDR_UNIX;
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    snprintf(out->text, sizeof(out->text), "unix:%s", path);
    return 0;
}

/* Copies a numeric address into out and writes its canonical text. */
static void set_inet(struct addr *out, const struct sockaddr *sa, socklen_t len)
{
    char ip[INET6_ADDRSTRLEN];
    int port;

    out->kind = ADDR_TCP;
    memcpy(&out->ss, sa, len);
    out->len = len;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        port = ntohs(s6->sin6_port);
        snprintf(out->text, sizeof(out->text), "[%s]:%d", ip, port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        port = ntohs(s4->sin_port);
        snprintf(out->text, sizeof(out->text), "%s:%d", ip, port);
    }
}

static int set_v4(struct addr *out, const char *ip, int port)
{
    struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (inet_pton(AF_INET, ip, &s4.sin_addr) != 1)
        return -1;
    set_inet(out, (struct sockaddr *)&s4, sizeof(s4));
    return 0;
}

static int set_v6(struct addr *out, const char *ip, int port)
{
    struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
    if (inet_pton(AF_INET6, ip, &s6.sin6_addr) != 1)
        return -1;
    set_inet(out, (struct sockaddr *)&s6, sizeof(s6));
    return 0;
}

static int resolve(struct addr *out, const char *host, int port,
                   char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    int rc = getaddrinfo(host, NULL, &hints, &res);

    if (rc != 0)
        return fail(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
    struct sockaddr_storage ss;
    socklen_t len = res->ai_addrlen;
    memcpy(&ss, res->ai_addr, len);
    freeaddrinfo(res);
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons(port);
    set_inet(out, (struct sockaddr *)&ss, len);
    return 0;
}

static int valid_hostname(const char *h)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";
    return *h != '\0' && strlen(h) <= HOST_MAX && h[strspn(h, ok)] == '\0';
}

/* "[v6]:PORT" */
static int parse_bracketed(const char *s, struct addr *out, char *err, size_t errlen)
{
    const char *close = strchr(s, ']');
    char ip[INET6_ADDRSTRLEN + 1];
    int port = 0;

    if (close == NULL || close[1] != ':')
        return fail(err, errlen, "expected [IPv6]:PORT in '%s'", s);
    size_t n = (size_t)(close - s - 1);
    if (n >= sizeof(ip))
        return fail(err, errlen, "bad IPv6 address in '%s'", s);
    memcpy(ip, s + 1, n);
    ip[n] = '\0';
    if (parse_port(close + 2, &port, err, errlen) < 0)
        return -1;
    if (set_v6(out, ip, port) < 0)
        return fail(err, errlen, "bad IPv6 address '%s'", ip);
    return 0;
}

/* "HOST:PORT", ":PORT", "PORT" */
static int parse_hostport(const char *s, struct addr *out, int lookup,
                          char *err, size_t errlen)
{
    const char *colon = strrchr(s, ':');
    char host[HOST_MAX + 1];
    int port = 0;

    if (colon == NULL) {
        if (!all_digits(s))
            return fail(err, errlen, "expected HOST:PORT, [IPv6]:PORT, PORT,"
                                     " unix:/path or fd://N, got '%s'",
                        s);
        if (parse_port(s, &port, err, errlen) < 0)
            return -1;
        return set_v4(out, "127.0.0.1", port);
    }
    size_t n = (size_t)(colon - s);
    if (memchr(s, ':', n) != NULL)
        return fail(err, errlen, "IPv6 addresses need brackets: [IPv6]:PORT");
    if (n > HOST_MAX)
        return fail(err, errlen, "host name too long");
    memcpy(host, s, n);
    host[n] = '\0';
    if (parse_port(colon + 1, &port, err, errlen) < 0)
        return -1;
    if (n == 0)
        return set_v4(out, "0.0.0.0", port);
    if (strcmp(host, "localhost") == 0)
        return set_v4(out, "127.0.0.1", port);
    if (set_v4(out, host, port) == 0)
        return 0;
    if (!valid_hostname(host))
        return fail(err, errlen, "bad host '%s'", host);
    if (!lookup) {
        out->kind = ADDR_TCP;
        /* long names are cut: text is only for messages */
        snprintf(out->text, sizeof(out->text), "%.*s:%d",
                 (int)sizeof(out->text) - 8, host, port);
        return 0;
    }
    return resolve(out, host, port, err, errlen);
}

static int parse(const char *s, struct addr *out, int lookup, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    if (*s == '\0')
        return fail(err, errlen, "empty address");
    if (strncmp(s, "unix:", 5) == 0) {
        s += 5;
        return parse_unix(strncmp(s, "//", 2) == 0 ? s + 2 : s, out, err, errlen);
    }
    if (strncmp(s, "fd://", 5) == 0)
        return parse_fd(s + 5, out, err, errlen);
    if (strncmp(s, "tcp://", 6) == 0)
        s += 6;
    if (*s == '[')
        return parse_bracketed(s, out, err, errlen);
    return parse_hostport(s, out, lookup, err, errlen);
}

int addr_parse(const char *s, struct addr *out, char *err, size_t errlen)
{
    return parse(s, out, 1, err, errlen);
}

int addr_check(const char *s, char *err, size_t errlen)
{
    struct addr scratch;
    return parse(s, &scratch, 0, err, errlen);
}

void addr_peer_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t n)
{
    if (n == 0)
        return;
    snprintf(buf, n, "-");
    if (sa == NULL || len < sizeof(sa_family_t))
        return;
    if (sa->sa_family == AF_UNIX) {
        snprintf(buf, n, "unix");
    } else if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, n);
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        /* a v4 client on a dual-stack socket is logged as plain v4 */
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], buf, n);
        else
            inet_ntop(AF_INET6, a, buf, n);
    }
}
