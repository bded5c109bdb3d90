/*
 * supervise — keeping the wanted workers alive: spawn into numbered
 * slots, reap, back off a slot that keeps dying at start, kill workers
 * whose loop stopped stamping, replace the old generation after a reload.
 * See arbiter_int.h for the state.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "master/arbiter_int.h"
#include "master/notify.h"
#include "master/spawn.h"
#include "worker/worker.h"

#define TICK_MS 1000
#define RELOAD_TICK_MS 100   /* poll faster while new workers come up */
#define ABORT_GRACE_MS 2000  /* SIGABRT, then SIGKILL after this */
#define CRASH_WINDOW_MS 1000 /* a death this soon after start: crash loop */
#define STABLE_MS 5000       /* lived this long: forget the backoff */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000

void arbiter__supervise_kill(struct child *c, int sig, int64_t grace_ms)
{
    int64_t at = sb_now_ms() + grace_ms;

    if (kill(c->pid, sig) < 0 && errno != ESRCH)
        log_error("kill(%d, %d): %m", (int)c->pid, sig);
    c->retiring = 1;
    if (c->kill_at_ms == 0 || at < c->kill_at_ms)
        c->kill_at_ms = at;
}

void arbiter__supervise_signal_all(struct arbiter *a, int sig, int64_t grace_ms)
{
    for (int i = 0; i < SB_SLOTS; i++)
        if (a->child[i].pid > 0)
            arbiter__supervise_kill(&a->child[i], sig, grace_ms);
}

/* Every scoreboard slot is taken: workers of older generations still
 * draining hold them (HUPs closer together than graceful_timeout, with
 * streams open). Said once, not per worker per tick: the missing workers
 * start as the draining ones exit, and the older generation keeps serving
 * meanwhile (retire_old_generation). */
static void slots_full(struct arbiter *a, int number)
{
    int draining = 0;

    if (a->slots_short)
        return;
    for (int i = 0; i < SB_SLOTS; i++)
        draining += a->child[i].pid > 0 && a->child[i].retiring;
    log_error("No free scoreboard slot for worker %d: all %d are taken "
              "(%d workers, %d of them draining); the missing workers start "
              "as draining ones exit. HUPs closer together than "
              "graceful_timeout stack up generations",
              number, SB_SLOTS,
              a->nchildren, draining);
    a->slots_short = 1;
}

/* Returns 0, or -1 when no slot is free (no point trying more now). */
static int spawn(struct arbiter *a, int number)
{
    int i = sb_claim(a->sb);
    if (i < 0) {
        slots_full(a, number);
        return -1;
    }
    if (a->slots_short) {
        log_info("A scoreboard slot is free again; starting the missing "
                 "workers");
        a->slots_short = 0;
    }
    struct sb_slot *slot = &a->sb->slot[i];
    int64_t now = sb_now_ms();
    slot->number = number;
    slot->generation = a->generation;
    slot->started_ms = now;
    slot->stamp_ms = now;

    pid_t pid = spawn_worker(&a->cfg, a->sb, slot, &a->ls, &a->closing);
    if (pid < 0) {
        log_error("fork for worker %d: %m", number);
        sb_release(a->sb, i);
        a->backoff[number].not_before_ms = now + BACKOFF_MIN_MS;
        return 0;
    }
    slot->pid = pid;
    a->child[i] = (struct child){ .pid = pid, .number = number, .generation = a->generation, .started_ms = now };
    a->nchildren++;
    log_info("Booting worker with pid: %d (worker %d)", (int)pid, number);
    return 0;
}

static void log_exit(const struct child *c, int status)
{
    int pid = (int)c->pid;

    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGKILL && !c->killed)
            log_error("Worker (pid:%d) was sent SIGKILL! Perhaps out of "
                      "memory?",
                      pid);
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
             "restarting it",
             c->number, (long long)lived,
             b->delay_ms / 1000.0);
}

static void count_restart(struct arbiter *a, enum sb_cause cause)
{
    __atomic_fetch_add(&a->sb->master.restarts[cause], 1, __ATOMIC_RELAXED);
}

static void on_exit_status(struct arbiter *a, int i, int status)
{
    struct child *c = &a->child[i];
    struct sb_slot *slot = &a->sb->slot[i];
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

    if (!c->retiring && !a->stopping)
        count_restart(a, WIFSIGNALED(status) ? SB_C_SIGNAL : SB_C_EXIT);

    if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_BOOT_ERROR && !c->retiring) {
        slot->boot_error[SB_ERRLEN - 1] = '\0';
        log_error("Worker failed to boot: %s", slot->boot_error[0] != '\0'
                                                   ? slot->boot_error
                                                   : "(no reason given)");
        arbiter__stop(a, SIGTERM, arbiter__graceful_ms(a), 3);
    } else {
        log_exit(c, status);
        update_backoff(a, c, !clean && !c->retiring, sb_now_ms());
    }
    sb_release(a->sb, i);
    memset(c, 0, sizeof(*c));
    a->nchildren--;
}

void arbiter__supervise_reap(struct arbiter *a)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (arbiter__upgrade_reaped(a, pid, status))
            continue;
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
void arbiter__supervise_check(struct arbiter *a, int64_t now)
{
    int64_t limit = (int64_t)a->cfg.timeout * 1000;

    for (int i = 0; i < SB_SLOTS; i++) {
        struct child *c = &a->child[i];
        struct sb_slot *slot = &a->sb->slot[i];
        if (c->pid == 0 || c->retiring)
            continue;
        if (__atomic_load_n(&slot->state, __ATOMIC_RELAXED) == SB_DRAINING) {
            c->retiring = 1;
            c->kill_at_ms = now + arbiter__graceful_ms(a) + ABORT_GRACE_MS;
            count_restart(a, SB_C_MAX_REQUESTS);
            continue;
        }
        int64_t ref = __atomic_load_n(&slot->stamp_ms, __ATOMIC_RELAXED);
        if (ref < c->started_ms)
            ref = c->started_ms;
        if (limit > 0 && now - ref > limit) {
            log_crit("WORKER TIMEOUT (pid:%d)", (int)c->pid);
            count_restart(a, SB_C_TIMEOUT);
            arbiter__supervise_kill(c, SIGABRT, ABORT_GRACE_MS);
        }
    }
}

void arbiter__supervise_deadlines(struct arbiter *a, int64_t now)
{
    for (int i = 0; i < SB_SLOTS; i++) {
        struct child *c = &a->child[i];
        if (c->pid == 0 || c->killed || c->kill_at_ms == 0 || now < c->kill_at_ms)
            continue;
        log_warn("Worker (pid:%d) did not stop in time; sending SIGKILL",
                 (int)c->pid);
        kill(c->pid, SIGKILL);
        c->killed = 1;
    }
}

/* The oldest worker of an older generation still serving, or NULL. */
static struct child *oldest_serving(struct arbiter *a)
{
    struct child *old = NULL;

    for (int i = 0; i < SB_SLOTS; i++) {
        struct child *c = &a->child[i];
        if (c->pid > 0 && !c->retiring && c->generation != a->generation && (old == NULL || c->generation < old->generation || (c->generation == old->generation && c->started_ms < old->started_ms)))
            old = c;
    }
    return old;
}

/* After a reload, the old generation keeps serving until every new worker
 * accepts; then it drains. Past the boot allowance (`timeout`) with new
 * workers still missing (full scoreboard, a crash loop), old workers
 * drain one for each new one accepting, oldest first, so the count
 * serving never drops below what is wanted because of the reload. */
static void retire_old_generation(struct arbiter *a, int64_t now,
                                  int want, int ready)
{
    int64_t bound = (a->cfg.timeout > 0 ? a->cfg.timeout : 30) * 1000LL;
    int keep = want - ready, serving = 0;
    struct child *c;

    if (ready < want && now - a->reload_ms < bound)
        return;
    for (int i = 0; i < SB_SLOTS; i++)
        serving += a->child[i].pid > 0 && !a->child[i].retiring && a->child[i].generation != a->generation;
    for (; serving > keep && (c = oldest_serving(a)) != NULL; serving--)
        arbiter__supervise_kill(c, SIGTERM, arbiter__graceful_ms(a));
    if (serving == 0)
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

void arbiter__supervise_manage(struct arbiter *a, int64_t now)
{
    int busy[MAX_WORKERS + 1] = { 0 }, ready[MAX_WORKERS + 1] = { 0 };
    int want = a->winched ? 0 : a->target, nready = 0, nbusy = 0, room = 1;

    a->sb->master.target = want;

    for (int i = 0; i < SB_SLOTS; i++) {
        struct child *c = &a->child[i];
        if (c->pid == 0 || c->retiring || c->generation != a->generation)
            continue;
        if (c->number > want) { /* TTOU, WINCH */
            arbiter__supervise_kill(c, SIGTERM, arbiter__graceful_ms(a));
            continue;
        }
        busy[c->number] = 1;
        ready[c->number] = __atomic_load_n(&a->sb->slot[i].state,
                                           __ATOMIC_RELAXED) == SB_READY;
    }
    for (int n = 1; n <= want; n++) {
        if (!busy[n] && room && now >= a->backoff[n].not_before_ms)
            room = spawn(a, n) == 0;
        nready += ready[n];
        nbusy += busy[n];
    }
    if (nbusy == want)
        a->slots_short = 0; /* none missing (TTOU): a new shortage is news */
    if (nready == want && !a->ready_sent) {
        notify_send("READY=1\nMAINPID=%d\nSTATUS=%d workers\n",
                    (int)getpid(), want);
        a->ready_sent = 1;
    }
    if (a->reload_ms != 0)
        retire_old_generation(a, now, want, nready);
    close_old_listeners(a);
}

int arbiter__supervise_poll_timeout(const struct arbiter *a, int64_t now)
{
    int64_t next = now + (a->reload_ms || !a->ready_sent ? RELOAD_TICK_MS
                                                         : TICK_MS);

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
