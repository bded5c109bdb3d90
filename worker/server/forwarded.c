/* forwarded — see forwarded.h. */
#include "worker/server/forwarded.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"

struct ip {
    int family;
    unsigned char b[16];
};

static int ip_parse(const char *s, size_t len, struct ip *ip)
{
    char buf[INET6_ADDRSTRLEN + 1];

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, ip->b) == 1)
        ip->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, ip->b) == 1)
        ip->family = AF_INET6;
    else
        return -1;
    return 0;
}

static int prefix_match(const struct ip *a, const struct ip *net, int bits)
{
    int bytes = bits / 8, rest = bits % 8;

    if (memcmp(a->b, net->b, (size_t)bytes) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a->b[bytes] & mask) == (net->b[bytes] & mask);
}

/* One entry: "*", an IP, or IP/bits. */
static int entry_match(const char *e, const struct ip *ip)
{
    const char *slash = strchr(e, '/');
    size_t len = slash ? (size_t)(slash - e) : strlen(e);
    struct ip net;

    if (strcmp(e, "*") == 0)
        return 1;
    if (ip_parse(e, len, &net) < 0 || net.family != ip->family)
        return 0;
    int max = ip->family == AF_INET ? 32 : 128, bits = max;
    if (slash != NULL) {
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0' || v < 0 || v > max)
            return 0;
        bits = (int)v;
    }
    return prefix_match(ip, &net, bits);
}

static int trusted_ip(const struct cfg_list *allow, const struct ip *ip)
{
    for (int i = 0; i < allow->n; i++)
        if (entry_match(allow->v[i], ip))
            return 1;
    return 0;
}

int forwarded_trusted(const struct cfg_list *allow, const char *ip)
{
    struct ip a;

    if (strcmp(ip, "unix") == 0)
        return 1;
    return ip_parse(ip, strlen(ip), &a) == 0 && trusted_ip(allow, &a);
}

/* The last element of the comma list [start, end), trimmed, in
 * [*item, *item_end); returns where its raw text begins (after the comma,
 * or start). */
static const char *last_item(const char *start, const char *end,
                             const char **item, const char **item_end)
{
    const char *raw = end;

    while (raw > start && raw[-1] != ',')
        raw--;
    const char *p = raw;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *item = p;
    *item_end = end;
    return raw;
}

int forwarded_client(const struct cfg_list *allow, const char *peer,
                     const char *xff, char *out, size_t n)
{
    const char *end, *raw, *pick, *pick_end;
    struct ip ip;

    if (xff == NULL || !forwarded_trusted(allow, peer))
        return 0;
    for (end = xff + strlen(xff);; end = raw - 1) {
        raw = last_item(xff, end, &pick, &pick_end);
        if (ip_parse(pick, (size_t)(pick_end - pick), &ip) < 0)
            return 0; /* garbage: believe none of it */
        if (!trusted_ip(allow, &ip) || raw == xff)
            break;
    }
    size_t len = (size_t)(pick_end - pick);
    if (len >= n)
        return 0;
    memcpy(out, pick, len);
    out[len] = '\0';
    return 1;
}
