/*
 * upgrade — binary upgrade without closing a socket, as Gunicorn and nginx
 * do it:
 *   USR2   this master renames its pid file to PIDFILE.oldbin and starts a
 *          new master (the binary at argv[0], same command line) that
 *          inherits the listeners, metrics_bind's too (LLMFORK_FDS=3,4,
 *          and LISTEN_FDS for the ones systemd gave us). Both sets of
 *          workers serve.
 *   WINCH  (only while that new master runs) this master's workers stop
 *          gracefully; HUP brings them back if the new binary misbehaves.
 *   TERM   to the old master once the new one is trusted.
 * If the new master exits while this one runs, the pid file name is
 * restored and nothing else changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "common/log.h"
#include "master/arbiter_int.h"
#include "master/notify.h"
#include "master/signals.h"

#define OLDBIN ".oldbin"

/* In the child, before exec: the listeners stay open across it. systemd's
 * sockets go as LISTEN_FDS (still fds 3..3+n-1), ours as LLMFORK_FDS, which
 * the new master matches by address against both of its lists. */
static void export_listeners(const struct listen_set *ls)
{
    char list[LISTEN_MAX * 12] = "", num[16];

    for (int i = 0; i < ls->n; i++) {
        int fl = fcntl(ls->l[i].fd, F_GETFD);
        if (fl >= 0)
            fcntl(ls->l[i].fd, F_SETFD, fl & ~FD_CLOEXEC);
        if (i < ls->activated)
            continue;
        snprintf(num, sizeof(num), "%s%d", list[0] ? "," : "", ls->l[i].fd);
        strcat(list, num);
    }
    if (ls->activated) {
        snprintf(num, sizeof(num), "%d", ls->activated);
        setenv("LISTEN_FDS", num, 1);
        snprintf(num, sizeof(num), "%d", (int)getpid()); /* kept by exec */
        setenv("LISTEN_PID", num, 1);
    }
    if (list[0] != '\0')
        setenv("LLMFORK_FDS", list, 1);
    notify_export();
}

static void rename_pidfile(struct arbiter *a, int to_oldbin)
{
    if (a->pid_path == NULL)
        return;
    size_t n = strlen(a->pid_path), k = strlen(OLDBIN);
    int is_old = n > k && strcmp(a->pid_path + n - k, OLDBIN) == 0;
    if (is_old == to_oldbin)
        return;
    char *to = malloc(n + k + 1);
    if (to == NULL)
        return;
    if (to_oldbin)
        snprintf(to, n + k + 1, "%s%s", a->pid_path, OLDBIN);
    else
        snprintf(to, n + 1, "%.*s", (int)(n - k), a->pid_path);
    if (rename(a->pid_path, to) < 0) {
        log_error("cannot rename %s to %s: %m", a->pid_path, to);
        free(to);
        return;
    }
    free(a->pid_path);
    a->pid_path = to;
}

void arbiter__upgrade_start(struct arbiter *a)
{
    sigset_t old;

    if (a->new_master > 0) {
        log_warn("USR2 ignored: a new master (pid %d) is already running",
                 (int)a->new_master);
        return;
    }
    rename_pidfile(a, 1);
    signals_block(&old);
    pid_t pid = fork();
    if (pid == 0) {
        signals_child();
        export_listeners(&a->ls);
        execvp(a->argv[0], a->argv);
        log_error("cannot run %s: %m", a->argv[0]);
        _exit(127);
    }
    int e = errno;
    signals_restore(&old);
    if (pid < 0) {
        errno = e;
        log_error("fork for a new master: %m");
        rename_pidfile(a, 0);
        return;
    }
    a->new_master = pid;
    notify_mute(1); /* the new master speaks to systemd now */
    log_info("Started a new master (pid %d) on the same listeners", (int)pid);
}

void arbiter__upgrade_winch(struct arbiter *a)
{
    /* A terminal resize sends WINCH too: never stop serving for that. */
    if (a->new_master <= 0) {
        log_info("WINCH ignored: no new master is running");
        return;
    }
    a->winched = 1;
    log_info("Stopping the workers gracefully; HUP starts them again");
}

int arbiter__upgrade_reaped(struct arbiter *a, pid_t pid, int status)
{
    if (pid != a->new_master)
        return 0;
    /* The exit code says why (2: configuration, 3: a worker cannot boot),
     * not the raw wait status (768 for 3). */
    if (WIFSIGNALED(status))
        log_warn("The new master (pid %d) was killed by SIG%s; this master "
                 "stays",
                 (int)pid, sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        log_warn("The new master (pid %d) exited with code %d; this master "
                 "stays",
                 (int)pid, WEXITSTATUS(status));
    a->new_master = 0;
    rename_pidfile(a, 0);
    notify_mute(0);
    if (!a->stopping) /* systemd's main pid is ours again */
        notify_send("READY=1\nMAINPID=%d\n", (int)getpid());
    return 1;
}
