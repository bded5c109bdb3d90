/* master/listen and master/pidfile on real loopback sockets and temporary
 * files: binding, flags, unix socket modes and stale files, reload
 * updates, inherited fds, and pid file ownership. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "master/listen.h"
#include "master/pidfile.h"

/* A port nobody listens on right now (bound, read, released). */
static int free_port(void)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/* A cfg with just what listen reads; binds point into `texts`. */
static void make_cfg(struct cfg *c, char **texts, int n)
{
    memset(c, 0, sizeof(*c));
    c->bind.v = texts;
    c->bind.n = n;
    c->backlog = 16;
    c->unix_socket_mode = 0600;
}

/* A cfg binding one free 127.0.0.1 port; c points into b. */
struct one_bind {
    char text[64];
    char *v[1];
};

static void make_cfg_one(struct cfg *c, struct one_bind *b)
{
    snprintf(b->text, sizeof(b->text), "127.0.0.1:%d", free_port());
    b->v[0] = b->text;
    make_cfg(c, b->v, 1);
}

static int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void test_tcp_bind_flags_and_url(void **state)
{
    (void)state;
    char want[160];
    struct one_bind b;
    struct cfg c;
    struct listen_set ls;
    char err[256];

    make_cfg_one(&c, &b);
    assert_int_equal(listen_open(&ls, &c, err, sizeof(err)), 0);
    assert_int_equal(ls.n, 1);
    int fd = ls.l[0].fd, on = 0;
    socklen_t len = sizeof(on);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len), 0);
    assert_int_equal(on, 1);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    snprintf(want, sizeof(want), "http://%s", b.text);
    assert_string_equal(ls.l[0].url, want);

    /* The same address again: a clear message, nothing left open. */
    struct listen_set ls2;
    assert_int_equal(listen_open(&ls2, &c, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "cannot bind %s: Address already in use",
             b.text);
    assert_string_equal(err, want);
    assert_int_equal(ls2.n, 0);
    listen_close(&ls);
}

static void test_ipv6_is_v6only(void **state)
{
    (void)state;
    char *texts[] = { "[::1]:0" };
    struct cfg c;
    struct listen_set ls;
    char err[256];

    make_cfg(&c, texts, 1);
    if (listen_open(&ls, &c, err, sizeof(err)) != 0)
        skip(); /* no IPv6 loopback on this machine */
    int on = 0;
    socklen_t len = sizeof(on);
    assert_int_equal(getsockopt(ls.l[0].fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len), 0);
    assert_int_equal(on, 1);
    assert_true(strncmp(ls.l[0].url, "http://[::1]:", 13) == 0);
    listen_close(&ls);
}

static void tmp_sock_path(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/llmfork-test-listen-%d.sock", (int)getpid());
    unlink(buf);
}

static void test_unix_mode_stale_and_cleanup(void **state)
{
    (void)state;
    char path[108], t[128];
    tmp_sock_path(path, sizeof(path));
    snprintf(t, sizeof(t), "unix:%s", path);
    char *texts[] = { t };
    struct cfg c;
    struct listen_set ls;
    struct stat st;
    char err[256];

    /* A stale socket file (its listener gone) is replaced. */
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    strcpy(sun.sun_path, path);
    int old = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(old, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(old);

    make_cfg(&c, texts, 1);
    assert_int_equal(listen_open(&ls, &c, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_string_equal(ls.l[0].url, t);

    /* A live one is not taken over. */
    struct listen_set ls2;
    assert_int_equal(listen_open(&ls2, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Address already in use"));
    assert_int_equal(stat(path, &st), 0);

    listen_close(&ls);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_update_keeps_adds_and_removes(void **state)
{
    (void)state;
    char a[64], b[64], k[64];
    snprintf(a, sizeof(a), "127.0.0.1:%d", free_port());
    snprintf(b, sizeof(b), "127.0.0.1:%d", free_port());
    snprintf(k, sizeof(k), "127.0.0.1:%d", free_port());
    char *first[] = { a, k }, *second[] = { k, b };
    struct cfg c;
    struct listen_set ls, removed;
    char err[256];

    make_cfg(&c, first, 2);
    assert_int_equal(listen_open(&ls, &c, err, sizeof(err)), 0);
    int kept_fd = ls.l[1].fd, a_fd = ls.l[0].fd;

    make_cfg(&c, second, 2);
    assert_int_equal(listen_update(&ls, &c, &removed, err, sizeof(err)), 0);
    assert_int_equal(ls.n, 2);
    assert_int_equal(ls.l[0].fd, kept_fd); /* same socket, no rebind */
    assert_string_equal(ls.l[1].addr.text, b);
    assert_int_equal(removed.n, 1);
    assert_int_equal(removed.l[0].fd, a_fd); /* still open for old workers */
    assert_int_equal(fcntl(a_fd, F_GETFD) >= 0, 1);
    listen_close(&removed);

    /* A failed update (a port someone else listens on) changes nothing. */
    int other = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(other, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(other, 1), 0);
    char taken[64];
    snprintf(taken, sizeof(taken), "127.0.0.1:%d", port_of(other));
    char *third[] = { taken };
    int b_fd = ls.l[1].fd;
    make_cfg(&c, third, 1);
    assert_int_equal(listen_update(&ls, &c, &removed, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Address already in use"));
    assert_int_equal(ls.n, 2);
    assert_int_equal(ls.l[0].fd, kept_fd);
    assert_int_equal(ls.l[1].fd, b_fd);
    assert_int_equal(removed.n, 0);
    close(other);
    listen_close(&ls);
}

static void test_inherited_fds_are_reused(void **state)
{
    (void)state;
    char env[32];
    struct one_bind b;
    struct cfg c;
    struct listen_set ls;
    char err[256];

    /* What a master started by USR2 finds: an open, listening socket. */
    make_cfg_one(&c, &b);
    assert_int_equal(listen_open(&ls, &c, err, sizeof(err)), 0);
    int fd = ls.l[0].fd;
    int stray = socket(AF_INET, SOCK_STREAM, 0); /* not wanted: closed */
    snprintf(env, sizeof(env), "%d,%d", fd, stray);
    setenv("LLMFORK_FDS", env, 1);

    struct listen_set again;
    assert_int_equal(listen_open(&again, &c, err, sizeof(err)), 0);
    assert_int_equal(again.l[0].fd, fd);
    assert_null(getenv("LLMFORK_FDS"));
    assert_int_equal(fcntl(stray, F_GETFD), -1);
    listen_close(&again);
}

static void test_systemd_vars_for_another_pid_are_ignored(void **state)
{
    (void)state;
    struct one_bind b;
    struct cfg c;
    struct listen_set ls;
    char err[256];

    make_cfg_one(&c, &b);
    setenv("LISTEN_PID", "1", 1);
    setenv("LISTEN_FDS", "2", 1);
    assert_int_equal(listen_open(&ls, &c, err, sizeof(err)), 0);
    assert_int_equal(ls.activated, 0);
    assert_string_equal(ls.l[0].addr.text, b.text);
    assert_null(getenv("LISTEN_PID"));
    assert_null(getenv("LISTEN_FDS"));
    listen_close(&ls);
}

static void test_check_reports_unresolvable_hosts(void **state)
{
    (void)state;
    char *texts[] = { "127.0.0.1:80", "no-such-host.invalid:80" };
    struct cfg c;
    char *errors = NULL;

    make_cfg(&c, texts, 2);
    assert_int_equal(listen_check(&c, &errors), 1);
    assert_non_null(errors);
    assert_non_null(strstr(errors, "'no-such-host.invalid:80'"));
    assert_int_equal(errors[strlen(errors) - 1], '\n');
    free(errors);
}

static void test_pidfile(void **state)
{
    (void)state;
    char path[64], text[32];
    snprintf(path, sizeof(path), "/tmp/llmfork-test-%d.pid", (int)getpid());

    assert_int_equal(pidfile_write(path), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(text, sizeof(text), f));
    fclose(f);
    assert_int_equal(atol(text), (long)getpid());
    pidfile_remove(path);
    assert_int_equal(access(path, F_OK), -1);

    /* Another master's pid file is left alone. */
    f = fopen(path, "w");
    fprintf(f, "%d\n", (int)getpid() + 1);
    fclose(f);
    pidfile_remove(path);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_bind_flags_and_url),
        cmocka_unit_test(test_ipv6_is_v6only),
        cmocka_unit_test(test_unix_mode_stale_and_cleanup),
        cmocka_unit_test(test_update_keeps_adds_and_removes),
        cmocka_unit_test(test_inherited_fds_are_reused),
        cmocka_unit_test(test_systemd_vars_for_another_pid_are_ignored),
        cmocka_unit_test(test_check_reports_unresolvable_hosts),
        cmocka_unit_test(test_pidfile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
