/* signals — see signals.h. */
#include "master/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int pipefd[2] = { -1, -1 };

static const struct {
    int sig;
    const char *name;
} handled[] = {
    { SIGTERM, "term" },
    { SIGINT, "int" },
    { SIGQUIT, "quit" },
    { SIGHUP, "hup" },
    { SIGTTIN, "ttin" },
    { SIGTTOU, "ttou" },
    { SIGUSR1, "usr1" },
    { SIGUSR2, "usr2" },
    { SIGWINCH, "winch" },
    { SIGCHLD, "chld" },
};
#define NHANDLED (sizeof(handled) / sizeof(handled[0]))

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    /* A full pipe drops the byte: the loop is far behind anyway, and
     * SIGCHLD is handled by reaping everything, not one child per byte. */
    ssize_t rc = write(pipefd[1], &b, 1);
    (void)rc;
    errno = saved;
}

int signals_init(void)
{
    struct sigaction sa;

    if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NHANDLED; i++)
        if (sigaction(handled[i].sig, &sa, NULL) < 0)
            return -1;
    return pipefd[0];
}

int signals_next(void)
{
    unsigned char b;
    ssize_t n;

    do {
        n = read(pipefd[0], &b, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 ? b : 0;
}

void signals_block(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, old);
}

void signals_restore(const sigset_t *old)
{
    sigprocmask(SIG_SETMASK, old, NULL);
}

void signals_child(void)
{
    struct sigaction sa;
    sigset_t none;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NHANDLED; i++)
        sigaction(handled[i].sig, &sa, NULL);
    close(pipefd[0]);
    close(pipefd[1]);
    pipefd[0] = pipefd[1] = -1;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

const char *signals_name(int sig)
{
    for (size_t i = 0; i < NHANDLED; i++)
        if (handled[i].sig == sig)
            return handled[i].name;
    return "unknown";
}
