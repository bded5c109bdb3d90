/*
 * worker — one worker process: its event loop, HTTP server, apps,
 * heartbeat, drain and exit.
 *
 * Runs in the child right after fork. Ownership: everything the worker
 * builds (event_base, http server, apps' state, curl multi) is created here
 * after fork and owned by this process. The listening fds are inherited;
 * the worker takes ownership of its copies. The scoreboard slot is the
 * master's memory; the worker writes only its own slot.
 */
#ifndef LLMFORK_WORKER_H
#define LLMFORK_WORKER_H

struct cfg;
struct sb_slot;

/* Exit codes (Gunicorn's): 0 normal, 3 failed to boot. */
#define WORKER_EXIT_OK 0
#define WORKER_EXIT_BOOT_ERROR 3

/* Serves until drained or told to stop; returns the process exit code.
 * listen_fds[0..nfds) are listening sockets for the apps;
 * metrics_fds[0..nmetrics) (metrics_bind) get a server of their own that
 * routes only /metrics, /healthz and /readyz, and then the apps' listeners
 * answer /metrics with 404. Signals: TERM = graceful (drain within
 * graceful_timeout), INT/QUIT = immediate exit, USR1 = reopen logs. */
int worker_run(const struct cfg *cfg, struct sb_slot *slot,
               const int *listen_fds, int nfds,
               const int *metrics_fds, int nmetrics);

#endif
