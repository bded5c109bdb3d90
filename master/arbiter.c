/*
 * arbiter — see arbiter.h; the state is in arbiter_int.h.
 *
 * One loop, no threads: poll the signal pipe with a timeout set by the
 * nearest deadline (a backoff ending, a SIGKILL due), then in order:
 * check heartbeats and bring the workers to the wanted count
 * (supervise.c), send SIGKILL where a deadline passed, wait, act on queued
 * signals, reap.
 */
#include "master/arbiter.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "master/arbiter_int.h"
#include "master/notify.h"
#include "master/pidfile.h"
#include "master/proctitle.h"
#include "master/signals.h"
#include "master/spawn.h"

#define QUICK_STOP_MS 1000

void arbiter__set_title(const struct arbiter *a)
{
    proctitle_set("%s: master", a->cfg.proc_name ? a->cfg.proc_name : "llmfork");
}

void arbiter__log_listeners(const struct arbiter *a)
{
    for (int i = 0; i < a->ls.n; i++)
        log_info("%s at: %s (%d)", a->ls.l[i].role == LISTEN_METRICS ? "Metrics" : "Listening", a->ls.l[i].url, (int)getpid());
}

int64_t arbiter__graceful_ms(const struct arbiter *a)
{
    return (int64_t)a->cfg.graceful_timeout * 1000;
}

/* After USR2 the socket files belong to the new master: leave them. */
static void close_listeners(struct arbiter *a)
{
    if (a->new_master > 0)
        for (int i = 0; i < a->ls.n; i++)
            a->ls.l[i].owns_path = 0;
    listen_close(&a->ls);
    listen_close(&a->closing);
}

/* Closes the listeners at once (no new connection reaches a stopping
 * server) and tells every worker to stop; the loop ends when all are
 * reaped, SIGKILL making sure of that after grace_ms. */
void arbiter__stop(struct arbiter *a, int sig, int64_t grace_ms, int code)
{
    if (code != 0 && a->exit_code == 0)
        a->exit_code = code;
    if (a->stopping == SIGQUIT && sig == SIGTERM)
        return; /* already stopping faster */
    if (!a->stopping)
        notify_send("STOPPING=1\nSTATUS=stopping\n");
    a->stopping = sig;
    close_listeners(a);
    arbiter__supervise_signal_all(a, sig, grace_ms);
}

static void set_target(struct arbiter *a, int n)
{
    if (n < 1)
        n = 1; /* TTOU never goes below one worker */
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    a->target = n;
    log_info("Number of workers: %d", n);
}

static void reopen_logs(struct arbiter *a)
{
    if (log_reopen() < 0)
        log_error("reopening the log files: %m");
    spawn_chown_logs(&a->cfg);
    for (int i = 0; i < SB_SLOTS; i++)
        if (a->child[i].pid > 0)
            kill(a->child[i].pid, SIGUSR1);
}

static void on_signal(struct arbiter *a, int sig)
{
    if (sig != SIGCHLD)
        log_info("Handling signal: %s", signals_name(sig));
    if (a->stopping && sig != SIGINT && sig != SIGQUIT && sig != SIGUSR1)
        return;
    switch (sig) {
    case SIGTERM:
        arbiter__stop(a, SIGTERM, arbiter__graceful_ms(a), 0);
        break;
    case SIGINT:
    case SIGQUIT:
        arbiter__stop(a, SIGQUIT, QUICK_STOP_MS, 0);
        break;
    case SIGHUP:
        arbiter__reload_config(a);
        break;
    case SIGTTIN:
        set_target(a, a->target + 1);
        break;
    case SIGTTOU:
        set_target(a, a->target - 1);
        break;
    case SIGUSR1:
        reopen_logs(a);
        break;
    case SIGUSR2:
        arbiter__upgrade_start(a);
        break;
    case SIGWINCH:
        arbiter__upgrade_winch(a);
        break;
    default:
        break; /* SIGCHLD: the loop reaps every turn */
    }
}

/* Workers accepting and streams in progress, for systemctl status. */
static void status_line(const struct arbiter *a, char *buf, size_t n)
{
    int ready = 0;
    long long streams = 0;

    for (int i = 0; i < SB_SLOTS; i++) {
        const struct sb_slot *s = &a->sb->slot[i];
        if (a->child[i].pid == 0)
            continue;
        ready += __atomic_load_n(&s->state, __ATOMIC_RELAXED) == SB_READY;
        streams += __atomic_load_n(&s->streams, __ATOMIC_RELAXED);
    }
    snprintf(buf, n, "%s%d/%d workers accepting, %lld active streams",
             a->stopping ? "stopping: " : a->reload_ms ? "reloading: "
                                                       : "",
             ready, a->winched ? 0 : a->target, streams);
}

/* STATUS= when it changed, WATCHDOG=1 when due; returns how long the
 * loop may sleep (max_ms, or less when a ping comes due first). */
static int tell_systemd(struct arbiter *a, int64_t now, int max_ms)
{
    int64_t every = notify_watchdog_ms();
    char st[sizeof(a->status)];

    status_line(a, st, sizeof(st));
    /* Until READY=1 the line waits: the workers' states are read again
     * here, after arbiter__supervise_manage, and "3/3 accepting" must not reach
     * systemd before the READY=1 that says the same. */
    int starting = !a->ready_sent && !a->reload_ms && !a->stopping;
    if (!starting && strcmp(st, a->status) != 0) {
        notify_send("STATUS=%s\n", st);
        memcpy(a->status, st, sizeof(st));
    }
    if (every == 0)
        return max_ms;
    /* The loop turning is the master's health: a ping from here means
     * signals are handled and workers supervised. */
    if (now >= a->watchdog_at_ms) {
        notify_send("WATCHDOG=1\n");
        a->watchdog_at_ms = now + every;
    }
    int64_t left = a->watchdog_at_ms - now;
    return left < max_ms ? (int)left : max_ms;
}

static void loop(struct arbiter *a, int sigfd)
{
    for (;;) {
        int64_t now = sb_now_ms();
        if (!a->stopping) {
            arbiter__supervise_check(a, now);
            arbiter__supervise_manage(a, now);
        }
        arbiter__supervise_deadlines(a, now);
        if (a->stopping && a->nchildren == 0)
            return;
        int wait_ms = tell_systemd(a, now,
                                   arbiter__supervise_poll_timeout(a, now));
        struct pollfd pfd = { .fd = sigfd, .events = POLLIN };
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
            log_error("poll: %m");
        int sig;
        while ((sig = signals_next()) != 0)
            on_signal(a, sig);
        arbiter__supervise_reap(a);
    }
}

static int start(struct arbiter *a, int *sigfd)
{
    if ((a->sb = sb_create()) == NULL) {
        log_error("cannot create the scoreboard: %m");
        return -1;
    }
    if ((*sigfd = signals_init()) < 0) {
        log_error("cannot set up signal handling: %m");
        return -1;
    }
    if (a->cfg.pidfile != NULL) {
        long other = pidfile_owner(a->cfg.pidfile);
        if (other > 0) {
            log_error("already running on pid %ld (pid file %s)", other,
                      a->cfg.pidfile);
            return -1;
        }
        if (pidfile_write(a->cfg.pidfile) < 0 || (a->pid_path = strdup(a->cfg.pidfile)) == NULL) {
            log_error("cannot write pid file %s: %m", a->cfg.pidfile);
            return -1;
        }
    }
    return 0;
}

static void finish(struct arbiter *a)
{
    close_listeners(a);
    if (a->pid_path != NULL)
        pidfile_remove(a->pid_path);
    free(a->pid_path);
    sb_destroy(a->sb);
    cfg_free(&a->cfg);
}

int arbiter_run(struct cfg *cfg, struct listen_set *ls, int argc, char **argv)
{
    static struct arbiter arb; /* large; lives for the process */
    struct arbiter *a = &arb;
    int sigfd = -1;

    a->cfg = *cfg;
    a->ls = *ls;
    a->argc = argc;
    a->argv = argv;
    a->generation = 1;
    a->target = cfg_workers(cfg);
    if (a->target > MAX_WORKERS)
        a->target = MAX_WORKERS;
    notify_init();
    arbiter__set_title(a);
    if (start(a, &sigfd) < 0) {
        a->exit_code = 1;
    } else {
        arbiter__log_listeners(a);
        log_info("Using worker: event (%d workers)", a->target);
        loop(a, sigfd);
        log_info("Shutting down: Master");
    }
    finish(a);
    return a->exit_code;
}
