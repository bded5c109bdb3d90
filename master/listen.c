/* listen — see listen.h. */
#include "master/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SD_LISTEN_FDS_START 3

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

/* The URL logged at start ("Listening at: ..."), from the socket itself so
 * that adopted sockets and port 0 show what is really bound. */
static void sock_url(int fd, char *buf, size_t n)
{
    struct sockaddr_storage ss = { 0 };
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN];

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        snprintf(buf, n, "fd://%d", fd);
    } else if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(buf, n, "http://%s:%u", host, ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(buf, n, "http://[%s]:%u", host, ntohs(sin6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
        snprintf(buf, n, "unix:%s", sun->sun_path);
    } else {
        snprintf(buf, n, "fd://%d", fd);
    }
}

static int sockaddr_same(const struct sockaddr_storage *a,
                         const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    if (a->ss_family == AF_UNIX) {
        const struct sockaddr_un *x = (const void *)a, *y = (const void *)b;
        return strcmp(x->sun_path, y->sun_path) == 0;
    }
    return 0;
}

/* A unix socket file left by a master that died: nobody accepts on it any
 * more, so connecting is refused. A live one is in use: leave it alone. */
static int unix_clear_stale(const struct sockaddr_un *sun)
{
    struct stat st;
    if (lstat(sun->sun_path, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
    close(fd);
    if (rc == 0) {
        errno = EADDRINUSE;
        return -1;
    }
    return unlink(sun->sun_path);
}

static int bind_socket(struct listener *l, const struct cfg *cfg)
{
    const struct addr *a = &l->addr;
    int family = a->ss.ss_family, one = 1;

    if (family == AF_UNIX && unix_clear_stale((const struct sockaddr_un *)&a->ss) < 0)
        return -1;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
        goto fail;
    if (family == AF_UNIX) {
        l->owns_path = 1;
        if (chmod(((const struct sockaddr_un *)&a->ss)->sun_path,
                  (mode_t)cfg->unix_socket_mode) < 0)
            goto fail;
    }
    if (listen(fd, cfg->backlog) < 0)
        goto fail;
    l->fd = fd;
    return 0;
fail:;
    int e = errno;
    close(fd);
    if (l->owns_path)
        unlink(((const struct sockaddr_un *)&a->ss)->sun_path);
    l->owns_path = 0;
    errno = e;
    return -1;
}

/* fd://N, a systemd socket or an LLMFORK_FDS socket: already bound; make
 * sure it is a stream socket and listening. */
static int adopt_fd(struct listener *l, int fd, int backlog)
{
    int type = 0, listening = 0;
    socklen_t len = sizeof(type);

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return -1;
    if (type != SOCK_STREAM) {
        errno = ENOTSOCK;
        return -1;
    }
    len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
        return -1;
    if (!listening && listen(fd, backlog) < 0)
        return -1;
    if (set_flags(fd) < 0)
        return -1;
    l->fd = fd;
    return 0;
}

static int fail_msg(char *err, size_t errlen, const char *what,
                    const char *text)
{
    snprintf(err, errlen, "cannot %s %s: %s", what, text, strerror(errno));
    return -1;
}

/* Parses "3,4,5" from LLMFORK_FDS into fds[]; returns the count. */
static int inherited_fds(int *fds, int max)
{
    const char *s = getenv("LLMFORK_FDS");
    int n = 0;

    while (s != NULL && *s != '\0' && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 65535)
            break;
        fds[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    unsetenv("LLMFORK_FDS");
    return n;
}

/* Takes an inherited fd bound to a's address out of fds[] (-1 marks it
 * taken). Returns the fd or -1. */
static int take_inherited(int *fds, int n, const struct addr *a)
{
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (fds[i] < 0 || getsockname(fds[i], (struct sockaddr *)&ss, &len) < 0)
            continue;
        if (sockaddr_same(&ss, &a->ss)) {
            int fd = fds[i];
            fds[i] = -1;
            return fd;
        }
    }
    return -1;
}

/* Opens one configured address into l (addr already parsed). */
static int open_one(struct listener *l, const struct cfg *cfg,
                    int *inh, int ninh, char *err, size_t errlen)
{
    int fd;

    l->owns_path = 0;
    l->handed_by = 0;
    if (l->addr.kind == ADDR_FD) {
        if (adopt_fd(l, l->addr.fd, cfg->backlog) < 0)
            return fail_msg(err, errlen, "use", l->addr.text);
    } else if ((fd = take_inherited(inh, ninh, &l->addr)) >= 0) {
        if (adopt_fd(l, fd, cfg->backlog) < 0)
            return fail_msg(err, errlen, "use", l->addr.text);
        l->owns_path = l->addr.kind == ADDR_UNIX;
        l->handed_by = getppid(); /* USR2: the old master is our parent */
    } else if (bind_socket(l, cfg) < 0) {
        return fail_msg(err, errlen, "bind", l->addr.text);
    }
    sock_url(l->fd, l->url, sizeof(l->url));
    return 0;
}

static int systemd_fds(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int n = 0;

    if (pid != NULL && fds != NULL && strtol(pid, NULL, 10) == (long)getpid())
        n = (int)strtol(fds, NULL, 10);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return n < 0 ? 0 : n;
}

static int open_activated(struct listen_set *ls, int n, const struct cfg *cfg,
                          char *err, size_t errlen)
{
    if (n > CFG_MAX_BINDS) {
        snprintf(err, errlen, "systemd passed %d sockets; at most %d are "
                              "supported",
                 n, CFG_MAX_BINDS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        struct listener *l = &ls->l[ls->n];
        memset(l, 0, sizeof(*l));
        l->addr.kind = ADDR_FD;
        l->addr.fd = SD_LISTEN_FDS_START + i;
        snprintf(l->addr.text, sizeof(l->addr.text), "fd://%d", l->addr.fd);
        if (adopt_fd(l, l->addr.fd, cfg->backlog) < 0) {
            fail_msg(err, errlen, "use systemd socket", l->addr.text);
            listen_close(ls);
            return -1;
        }
        sock_url(l->fd, l->url, sizeof(l->url));
        ls->n++;
        ls->activated++;
    }
    return 0;
}

static const char *const role_key[] = { "bind", "metrics_bind" };

static int parse_bind(const char *text, enum listen_role role, struct addr *a,
                      char *err, size_t errlen)
{
    char why[128];
    if (addr_parse(text, a, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "bad %s address '%s': %s", role_key[role], text,
             why);
    return -1;
}

static int find_addr(const struct listen_set *ls, const struct addr *a)
{
    for (int i = 0; i < ls->n; i++)
        if (ls->l[i].addr.kind == a->kind && strcmp(ls->l[i].addr.text, a->text) == 0)
            return i;
    return -1;
}

static const struct cfg_list *role_list(const struct cfg *cfg,
                                        enum listen_role role)
{
    return role == LISTEN_APP ? &cfg->bind : &cfg->metrics_bind;
}

/* Appends the addresses of one list to next: one open in cur keeps its fd,
 * others are taken from inh[] or bound, and recorded in fresh (when given)
 * so that a failure can close them. */
static int open_list(struct listen_set *next, struct listen_set *fresh,
                     const struct listen_set *cur, enum listen_role role,
                     const struct cfg *cfg, int *inh, int ninh,
                     char *err, size_t errlen)
{
    const struct cfg_list *list = role_list(cfg, role);

    for (int i = 0; i < list->n; i++) {
        struct listener *l = &next->l[next->n];
        int k;
        if (parse_bind(list->v[i], role, &l->addr, err, errlen) < 0)
            return -1;
        if (cur != NULL && (k = find_addr(cur, &l->addr)) >= 0)
            *l = cur->l[k];
        else if (open_one(l, cfg, inh, ninh, err, errlen) < 0)
            return -1;
        else if (fresh != NULL)
            fresh->l[fresh->n++] = *l;
        l->role = role;
        next->n++;
    }
    return 0;
}

int listen_open(struct listen_set *ls, const struct cfg *cfg,
                char *err, size_t errlen)
{
    int inh[LISTEN_MAX], ninh, nsd = systemd_fds(), rc = 0;

    memset(ls, 0, sizeof(*ls));
    if (nsd > 0 && open_activated(ls, nsd, cfg, err, errlen) < 0)
        return -1;
    ninh = inherited_fds(inh, LISTEN_MAX);
    if (!ls->activated)
        rc = open_list(ls, NULL, NULL, LISTEN_APP, cfg, inh, ninh, err, errlen);
    if (rc == 0)
        rc = open_list(ls, NULL, NULL, LISTEN_METRICS, cfg, inh, ninh, err,
                       errlen);
    for (int i = 0; i < ninh; i++) /* inherited but no longer wanted */
        if (inh[i] >= 0)
            close(inh[i]);
    if (rc < 0)
        listen_close(ls);
    return rc;
}

int listen_update(struct listen_set *ls, const struct cfg *cfg,
                  struct listen_set *removed, char *err, size_t errlen)
{
    struct listen_set next, fresh;

    memset(removed, 0, sizeof(*removed));
    memset(&next, 0, sizeof(next));
    memset(&fresh, 0, sizeof(fresh));
    /* systemd owns its sockets: they stay, and the bind list is moot */
    for (; next.n < ls->activated; next.n++)
        next.l[next.n] = ls->l[next.n];
    next.activated = ls->activated;
    if ((!next.activated && open_list(&next, &fresh, ls, LISTEN_APP, cfg, NULL, 0, err,
                                      errlen) < 0) ||
        open_list(&next, &fresh, ls, LISTEN_METRICS, cfg, NULL, 0, err,
                  errlen) < 0) {
        listen_close(&fresh);
        return -1;
    }
    for (int i = 0; i < ls->n; i++)
        if (find_addr(&next, &ls->l[i].addr) < 0)
            removed->l[removed->n++] = ls->l[i];
    *ls = next;
    return 0;
}

int listen_fds(const struct listen_set *ls, enum listen_role role, int *fds)
{
    int n = 0;
    for (int i = 0; i < ls->n; i++)
        if (ls->l[i].role == role)
            fds[n++] = ls->l[i].fd;
    return n;
}

void listen_close(struct listen_set *ls)
{
    for (int i = 0; i < ls->n; i++) {
        struct listener *l = &ls->l[i];
        close(l->fd);
        /* Reparented once the old master exits: the file is ours then. */
        if (l->owns_path && (l->handed_by == 0 || getppid() != l->handed_by))
            unlink(((struct sockaddr_un *)&l->addr.ss)->sun_path);
    }
    ls->n = 0;
}

/* Appends line and "\n" to the malloc'd text at *errors (len bytes). */
static void add_line(char **errors, size_t *len, const char *line)
{
    size_t k = strlen(line);
    char *p = realloc(*errors, *len + k + 2);
    if (p == NULL)
        return;
    memcpy(p + *len, line, k);
    *len += k;
    memcpy(p + *len, "\n", 2);
    *len += 1;
    *errors = p;
}

/* A metrics_bind address also in bind would serve the apps too. */
static int in_bind(const struct cfg *cfg, const struct addr *a)
{
    for (int i = 0; i < cfg->bind.n; i++) {
        struct addr b;
        char why[128];
        if (addr_parse(cfg->bind.v[i], &b, why, sizeof(why)) == 0 && b.kind == a->kind && strcmp(b.text, a->text) == 0)
            return 1;
    }
    return 0;
}

int listen_check(const struct cfg *cfg, char **errors)
{
    size_t len = 0;
    int problems = 0;
    char line[512];

    *errors = NULL;
    for (int role = LISTEN_APP; role <= LISTEN_METRICS; role++) {
        const struct cfg_list *list = role_list(cfg, role);
        for (int i = 0; i < list->n; i++) {
            struct addr a;
            if (parse_bind(list->v[i], role, &a, line, sizeof(line)) == 0) {
                if (role == LISTEN_APP || !in_bind(cfg, &a))
                    continue;
                snprintf(line, sizeof(line), "metrics_bind address '%s' is "
                                             "in bind too",
                         list->v[i]);
            }
            add_line(errors, &len, line);
            problems++;
        }
    }
    return problems;
}
