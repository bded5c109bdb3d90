/*
 * arbiter — see arbiter.h.
 *
 * One loop, no threads: poll the signal pipe with a timeout set by the
 * nearest deadline (a backoff ending, a SIGKILL due), then in order:
 * act on queued signals, reap, check heartbeats, bring the workers to the
 * wanted count, and send SIGKILL where a deadline passed.
 *
 * The master keeps its own record of each child (struct child, indexed
 * like the scoreboard slot it runs in): pids and deadlines are never taken
 * from shared memory a worker can write.
 */
#include "master/arbiter.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/scoreboard.h"
#include "master/listen.h"
#include "master/pidfile.h"
#include "master/proctitle.h"
#include "master/signals.h"
#include "master/spawn.h"
#include "worker/worker.h"

#define TICK_MS          1000
#define RELOAD_TICK_MS   100    /* poll faster while new workers come up */
#define QUICK_STOP_MS    1000
#define ABORT_GRACE_MS   2000   /* SIGABRT, then SIGKILL after this */
#define CRASH_WINDOW_MS  1000   /* a death this soon after start is a crash loop */
#define STABLE_MS        5000   /* lived this long: forget the backoff */
#define BACKOFF_MIN_MS   100
#define BACKOFF_MAX_MS   30000
#define MAX_WORKERS      (SB_SLOTS / 2 - 1)   /* room for a HUP overlap */

struct child {
    pid_t pid;              /* 0: no child in this slot */
    int number;
    int generation;
    int64_t started_ms;
    int64_t kill_at_ms;     /* SIGKILL when still alive then; 0: none */
    int retiring;           /* asked (or chose) to stop: exit is expected */
    int killed;             /* SIGKILL sent */
};

struct backoff {
    int delay_ms;
    int64_t not_before_ms;
};

struct arbiter {
    struct cfg cfg;
    int argc;
    char **argv;
    struct scoreboard *sb;
    struct listen_set ls;
    struct listen_set closing;      /* removed by a reload, old workers' */
    struct child child[SB_SLOTS];
    struct backoff backoff[MAX_WORKERS + 1];    /* by worker number */
    int nchildren;
    int target;                     /* workers wanted */
    int generation;
    int64_t reload_ms;              /* a reload's start; 0: none pending */
    int stopping;                   /* 0, or the signal sent to workers */
    int exit_code;
};

static void set_title(const struct arbiter *a)
{
    proctitle_set("%s: master", a->cfg.proc_name ? a->cfg.proc_name : "llmfork");
}

static void kill_child(struct child *c, int sig, int64_t grace_ms)
{
    int64_t at = sb_now_ms() + grace_ms;

    if (kill(c->pid, sig) < 0 && errno != ESRCH)
        log_error("kill(%d, %d): %m", (int)c->pid, sig);
    c->retiring = 1;
    if (c->kill_at_ms == 0 || at < c->kill_at_ms)
        c->kill_at_ms = at;
}

static void signal_all(struct arbiter *a, int sig, int64_t grace_ms)
{
    for (int i = 0; i < SB_SLOTS; i++)
        if (a->child[i].pid > 0)
            kill_child(&a->child[i], sig, grace_ms);
}

/* Closes the listeners at once (no new connections reach a stopping
 * server) and tells every worker to stop; the loop ends when all are
 * reaped, SIGKILL making sure of that after grace_ms. */
static void stop(struct arbiter *a, int sig, int64_t grace_ms, int code)
{
    if (code != 0 && a->exit_code == 0)
        a->exit_code = code;
    if (a->stopping == SIGQUIT && sig == SIGTERM)
        return;                 /* already stopping faster */
    a->stopping = sig;
    listen_close(&a->ls);
    listen_close(&a->closing);
    signal_all(a, sig, grace_ms);
}

static int64_t graceful_ms(const struct arbiter *a)
{
    return (int64_t)a->cfg.graceful_timeout * 1000;
}

static void spawn(struct arbiter *a, int number)
{
    int i = sb_claim(a->sb);
    if (i < 0) {
        log_error("no free scoreboard slot for worker %d", number);
        return;
    }
    struct sb_slot *slot = &a->sb->slot[i];
    int64_t now = sb_now_ms();
    slot->number = number;
    slot->generation = a->generation;
    slot->started_ms = now;
    slot->stamp_ms = now;

    pid_t pid = spawn_worker(&a->cfg, slot, &a->ls, &a->closing);
    if (pid < 0) {
        log_error("fork for worker %d: %m", number);
        sb_release(a->sb, i);
        a->backoff[number].not_before_ms = now + BACKOFF_MIN_MS;
        return;
    }
    slot->pid = pid;
    a->child[i] = (struct child){ .pid = pid, .number = number,
                                  .generation = a->generation,
                                  .started_ms = now };
    a->nchildren++;
    log_info("Booting worker with pid: %d (worker %d)", (int)pid, number);
}

static void log_exit(const struct child *c, int status)
{
    int pid = (int)c->pid;

    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGKILL && !c->killed)
            log_error("Worker (pid:%d) was sent SIGKILL! Perhaps out of "
                      "memory?", pid);
        else
            log_error("Worker (pid:%d) was sent SIG%s!", pid,
                      sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    } else if (WEXITSTATUS(status) != 0) {
        log_error("Worker (pid:%d) exited with code %d", pid,
                  WEXITSTATUS(status));
    } else {
        log_info("Worker (pid:%d) exited (worker %d)", pid, c->number);
    }
}

/* A worker of the current generation that died on its own soon after
 * starting makes its slot wait, twice as long each time. */
static void update_backoff(struct arbiter *a, const struct child *c,
                           int crashed, int64_t now)
{
    struct backoff *b = &a->backoff[c->number];
    int64_t lived = now - c->started_ms;

    if (c->number > MAX_WORKERS || c->generation != a->generation)
        return;
    if (!crashed || lived >= STABLE_MS) {
        b->delay_ms = 0;
        b->not_before_ms = 0;
    }
    if (!crashed || lived >= CRASH_WINDOW_MS)
        return;
    b->delay_ms = b->delay_ms == 0 ? BACKOFF_MIN_MS : b->delay_ms * 2;
    if (b->delay_ms > BACKOFF_MAX_MS)
        b->delay_ms = BACKOFF_MAX_MS;
    b->not_before_ms = now + b->delay_ms;
    log_warn("Worker %d died %lld ms after start; backing off %.1f s before "
             "restarting it", c->number, (long long)lived,
             b->delay_ms / 1000.0);
}

static void on_exit_status(struct arbiter *a, int i, int status)
{
    struct child *c = &a->child[i];
    struct sb_slot *slot = &a->sb->slot[i];
    int64_t now = sb_now_ms();
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

    if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_BOOT_ERROR
        && !c->retiring) {
        slot->boot_error[SB_ERRLEN - 1] = '\0';
        log_error("Worker failed to boot: %s", slot->boot_error[0] != '\0'
                  ? slot->boot_error : "(no reason given)");
        if (!a->stopping)
            log_info("Shutting down: worker failed to boot");
        stop(a, SIGTERM, graceful_ms(a), 3);
    } else {
        log_exit(c, status);
        update_backoff(a, c, !clean && !c->retiring, now);
    }
    sb_release(a->sb, i);
    memset(c, 0, sizeof(*c));
    a->nchildren--;
}

static void reap(struct arbiter *a)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < SB_SLOTS; i++) {
            if (a->child[i].pid == pid) {
                on_exit_status(a, i, status);
                break;
            }
        }
    }
    if (pid < 0 && errno != ECHILD)
        log_error("waitpid: %m");
}

/* Liveness: the stamp comes from the worker's event loop, so a long stream
 * keeps it fresh and only a loop that stopped turning goes stale. A worker
 * still starting gets `timeout` from its start. A worker that started
 * draining on its own (max_requests) is replaced now, not when it exits. */
static void check_children(struct arbiter *a, int64_t now)
{
    int64_t limit = (int64_t)a->cfg.timeout * 1000;

    for (int i = 0; i < SB_SLOTS; i++) {
        struct child *c = &a->child[i];
        struct sb_slot *slot = &a->sb->slot[i];
        if (c->pid == 0 || c->retiring)
            continue;
        if (__atomic_load_n(&slot->state, __ATOMIC_RELAXED) == SB_DRAINING) {
            c->retiring = 1;
            c->kill_at_ms = now + graceful_ms(a) + ABORT_GRACE_MS;
            continue;
        }
        int64_t ref = __atomic_load_n(&slot->stamp_ms, __ATOMIC_RELAXED);
        if (ref < c->started_ms)
            ref = c->started_ms;
        if (limit > 0 && now - ref > limit) {
            log_crit("WORKER TIMEOUT (pid:%d)", (int)c->pid);
            kill_child(c, SIGABRT, ABORT_GRACE_MS);
        }
    }
}

static void enforce_deadlines(struct arbiter *a, int64_t now)
{
    for (int i = 0; i < SB_SLOTS; i++) {
        struct child *c = &a->child[i];
        if (c->pid == 0 || c->killed || c->kill_at_ms == 0
            || now < c->kill_at_ms)
            continue;
        log_warn("Worker (pid:%d) did not stop in time; sending SIGKILL",
                 (int)c->pid);
        kill(c->pid, SIGKILL);
        c->killed = 1;
    }
}

/* After a reload, the old generation keeps serving until every new worker
 * accepts (or the boot allowance, `timeout`, is spent); then it drains. */
static void retire_old_generation(struct arbiter *a, int64_t now,
                                  const int *ready)
{
    int64_t bound = (a->cfg.timeout > 0 ? a->cfg.timeout : 30) * 1000LL;
    int all_ready = 1;

    for (int n = 1; n <= a->target; n++)
        all_ready &= ready[n];
    if (!all_ready && now - a->reload_ms < bound)
        return;
    for (int i = 0; i < SB_SLOTS; i++) {
        struct child *c = &a->child[i];
        if (c->pid > 0 && !c->retiring && c->generation != a->generation)
            kill_child(c, SIGTERM, graceful_ms(a));
    }
    a->reload_ms = 0;
}

/* Old listeners go once no worker of an older generation is left. */
static void close_old_listeners(struct arbiter *a)
{
    if (a->closing.n == 0)
        return;
    for (int i = 0; i < SB_SLOTS; i++)
        if (a->child[i].pid > 0 && a->child[i].generation != a->generation)
            return;
    listen_close(&a->closing);
}

static void manage(struct arbiter *a, int64_t now)
{
    int busy[MAX_WORKERS + 1] = { 0 }, ready[MAX_WORKERS + 1] = { 0 };

    for (int i = 0; i < SB_SLOTS; i++) {
        struct child *c = &a->child[i];
        if (c->pid == 0 || c->retiring || c->generation != a->generation)
            continue;
        if (c->number > a->target) {        /* TTOU */
            kill_child(c, SIGTERM, graceful_ms(a));
            continue;
        }
        busy[c->number] = 1;
        ready[c->number] = __atomic_load_n(&a->sb->slot[i].state,
                                           __ATOMIC_RELAXED) == SB_READY;
    }
    for (int n = 1; n <= a->target; n++) {
        if (!busy[n] && now >= a->backoff[n].not_before_ms) {
            spawn(a, n);
            busy[n] = 1;
        }
    }
    if (a->reload_ms != 0)
        retire_old_generation(a, now, ready);
    close_old_listeners(a);
}

/* ---- reload (HUP) ---- */

static void log_lines(const char *prefix, const char *text)
{
    const char *p = text;
    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        log_error("%s%.*s", prefix, len, p);
        p = nl ? nl + 1 : NULL;
    }
}

static int load_new_cfg(struct arbiter *a, struct cfg *nc)
{
    char *errors = NULL;

    if (cfg_load(nc, a->argc, a->argv, &errors) != 0) {
        log_error("Reload failed; the running configuration stays");
        log_lines("", errors);
        free(errors);
        return -1;
    }
    if (listen_check(nc, &errors) != 0) {
        log_error("Reload failed; the running configuration stays");
        log_lines("", errors);
        free(errors);
        cfg_free(nc);
        return -1;
    }
    return 0;
}

static void adopt_removed(struct arbiter *a, struct listen_set *removed)
{
    for (int i = 0; i < removed->n; i++) {
        if (a->closing.n < LISTEN_MAX) {
            a->closing.l[a->closing.n++] = removed->l[i];
        } else {                /* HUP storm: no room to wait; close now */
            struct listen_set one = { .n = 1 };
            one.l[0] = removed->l[i];
            listen_close(&one);
        }
    }
}

static void apply_pidfile(const struct cfg *old, const struct cfg *nc)
{
    const char *o = old->pidfile, *n = nc->pidfile;
    if ((o == NULL && n == NULL) || (o && n && strcmp(o, n) == 0))
        return;
    if (n != NULL && pidfile_write(n) < 0)
        log_error("cannot write pid file %s: %m", n);
    if (o != NULL)
        pidfile_remove(o);
}

static void reload(struct arbiter *a)
{
    struct cfg nc;
    struct listen_set removed;
    char err[512];

    if (load_new_cfg(a, &nc) < 0)
        return;
    if (listen_update(&a->ls, &nc, &removed, err, sizeof(err)) < 0) {
        log_error("Reload failed; the running configuration stays");
        log_error("%s", err);
        cfg_free(&nc);
        return;
    }
    adopt_removed(a, &removed);
    if (log_open(nc.errorlog, nc.accesslog, nc.loglevel) < 0)
        log_error("reload: cannot open the log files: %m");
    apply_pidfile(&a->cfg, &nc);
    if (nc.workers != a->cfg.workers)
        a->target = cfg_workers(&nc);
    if (a->target > MAX_WORKERS)
        a->target = MAX_WORKERS;
    cfg_free(&a->cfg);
    a->cfg = nc;
    a->generation++;
    a->reload_ms = sb_now_ms();
    memset(a->backoff, 0, sizeof(a->backoff));
    set_title(a);
    for (int i = 0; i < a->ls.n; i++)
        log_info("Listening at: %s (%d)", a->ls.l[i].url, (int)getpid());
    log_info("Reloaded configuration; starting %d workers (generation %d)",
             a->target, a->generation);
}

/* ---- signals ---- */

static void on_signal(struct arbiter *a, int sig)
{
    if (sig != SIGCHLD)
        log_info("Handling signal: %s", signals_name(sig));
    switch (sig) {
    case SIGCHLD:
        break;                  /* the loop reaps every turn */
    case SIGTERM:
        stop(a, SIGTERM, graceful_ms(a), 0);
        break;
    case SIGINT:
    case SIGQUIT:
        stop(a, SIGQUIT, QUICK_STOP_MS, 0);
        break;
    case SIGHUP:
        if (!a->stopping)
            reload(a);
        break;
    case SIGTTIN:
        if (a->target < MAX_WORKERS)
            a->target++;
        log_info("Number of workers: %d", a->target);
        break;
    case SIGTTOU:
        if (a->target > 1)
            a->target--;
        log_info("Number of workers: %d", a->target);
        break;
    case SIGUSR1:
        if (log_reopen() < 0)
            log_error("reopening the log files: %m");
        for (int i = 0; i < SB_SLOTS; i++)
            if (a->child[i].pid > 0)
                kill(a->child[i].pid, SIGUSR1);
        break;
    default:
        log_warn("signal %s is not supported yet; ignored",
                 signals_name(sig));
        break;
    }
}

/* ---- the loop ---- */

static int poll_timeout(const struct arbiter *a, int64_t now)
{
    int64_t next = now + (a->reload_ms ? RELOAD_TICK_MS : TICK_MS);

    for (int i = 0; i < SB_SLOTS; i++) {
        const struct child *c = &a->child[i];
        if (c->pid > 0 && !c->killed && c->kill_at_ms && c->kill_at_ms < next)
            next = c->kill_at_ms;
    }
    for (int n = 1; !a->stopping && n <= a->target; n++) {
        int64_t t = a->backoff[n].not_before_ms;
        if (t > now && t < next)
            next = t;
    }
    return next > now ? (int)(next - now) : 0;
}

static void loop(struct arbiter *a, int sigfd)
{
    for (;;) {
        int64_t now = sb_now_ms();
        if (!a->stopping) {
            check_children(a, now);
            manage(a, now);
        }
        enforce_deadlines(a, now);
        if (a->stopping && a->nchildren == 0)
            return;
        struct pollfd pfd = { .fd = sigfd, .events = POLLIN };
        if (poll(&pfd, 1, poll_timeout(a, now)) < 0 && errno != EINTR)
            log_error("poll: %m");
        int sig;
        while ((sig = signals_next()) != 0)
            on_signal(a, sig);
        reap(a);
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
    if (a->cfg.pidfile != NULL && pidfile_write(a->cfg.pidfile) < 0) {
        log_error("cannot write pid file %s: %m", a->cfg.pidfile);
        return -1;
    }
    return 0;
}

int arbiter_run(struct cfg *cfg, struct listen_set *ls, int argc, char **argv)
{
    static struct arbiter arb;     /* large; lives for the process */
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
    set_title(a);
    if (start(a, &sigfd) < 0) {
        a->exit_code = 1;
    } else {
        for (int i = 0; i < a->ls.n; i++)
            log_info("Listening at: %s (%d)", a->ls.l[i].url, (int)getpid());
        log_info("Using worker: event (%d workers)", a->target);
        loop(a, sigfd);
        log_info("Shutting down: Master");
    }
    listen_close(&a->ls);
    listen_close(&a->closing);
    if (a->cfg.pidfile != NULL)
        pidfile_remove(a->cfg.pidfile);
    sb_destroy(a->sb);
    cfg_free(&a->cfg);
    return a->exit_code;
}
