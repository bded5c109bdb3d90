/*
 * arbiter_int — the master's state, shared by the files that make up the
 * arbiter: arbiter.c (loop, signals, stop), supervise.c (spawn, reap,
 * backoff, heartbeat, worker count), reload.c (HUP) and upgrade.c
 * (USR2/WINCH). Not for use outside master/.
 *
 * The master keeps its own record of each child (struct child, indexed
 * like the scoreboard slot it runs in): pids and deadlines are never taken
 * from shared memory a worker can write.
 *
 * Ownership: struct arbiter owns cfg, the scoreboard, both listener sets
 * and pid_path; it lives (statically) for the life of the master.
 */
#ifndef LLMFORK_ARBITER_INT_H
#define LLMFORK_ARBITER_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "common/cfg.h"
#include "common/scoreboard.h"
#include "master/listen.h"

#define MAX_WORKERS (SB_SLOTS / 2 - 1) /* room for a HUP overlap */

struct child {
    pid_t pid; /* 0: no child in this slot */
    int number;
    int generation;
    int64_t started_ms;
    int64_t kill_at_ms; /* SIGKILL when still alive then; 0: none */
    int retiring;       /* asked (or chose) to stop: exit is expected */
    int killed;         /* SIGKILL sent */
};

struct backoff {
    int delay_ms;
    int64_t not_before_ms;
};

struct arbiter {
    struct cfg cfg;
    int argc;
    char **argv; /* the command line, for HUP and USR2 */
    struct scoreboard *sb;
    struct listen_set ls;
    struct listen_set closing; /* removed by a reload, old workers' */
    struct child child[SB_SLOTS];
    struct backoff backoff[MAX_WORKERS + 1]; /* by worker number */
    int nchildren;
    int slots_short; /* no free scoreboard slot: logged */
    int target;      /* workers wanted */
    int generation;
    int64_t reload_ms; /* a reload's start; 0: none pending */
    int ready_sent;    /* READY=1 told for this generation */
    int stopping;      /* 0, or the signal sent to workers */
    int exit_code;
    int winched;            /* WINCH: no workers until HUP */
    pid_t new_master;       /* started by USR2, until it exits */
    char *pid_path;         /* pid file we wrote, or NULL */
    int64_t watchdog_at_ms; /* next WATCHDOG=1 ping due */
    char status[96];        /* last STATUS= sent */
};

/* arbiter.c */
void arbiter__stop(struct arbiter *a, int sig, int64_t grace_ms, int code);
void arbiter__set_title(const struct arbiter *a);
int64_t arbiter__graceful_ms(const struct arbiter *a);
/* "Listening at: URL" (bind) and "Metrics at: URL" (metrics_bind) lines. */
void arbiter__log_listeners(const struct arbiter *a);

/* supervise.c */
void arbiter__supervise_kill(struct child *c, int sig, int64_t grace_ms);
void arbiter__supervise_signal_all(struct arbiter *a, int sig, int64_t grace_ms);
void arbiter__supervise_reap(struct arbiter *a);
void arbiter__supervise_check(struct arbiter *a, int64_t now);
void arbiter__supervise_manage(struct arbiter *a, int64_t now);
void arbiter__supervise_deadlines(struct arbiter *a, int64_t now);
int arbiter__supervise_poll_timeout(const struct arbiter *a, int64_t now);

/* reload.c: HUP. */
void arbiter__reload_config(struct arbiter *a);

/* upgrade.c: USR2 starts a new master on the same listeners; WINCH stops
 * this master's workers gracefully; arbiter__upgrade_reaped handles the new
 * master's exit (returns 1 when pid was it). */
void arbiter__upgrade_start(struct arbiter *a);
void arbiter__upgrade_winch(struct arbiter *a);
int arbiter__upgrade_reaped(struct arbiter *a, pid_t pid, int status);

#endif
