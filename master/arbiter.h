/*
 * arbiter — the master's supervision loop (Gunicorn's Arbiter).
 *
 * Keeps `workers` worker processes alive in numbered slots 1..N, replaces
 * the dead (backing off a slot that keeps dying at start), kills workers
 * whose event loop stopped stamping the scoreboard for `timeout` seconds,
 * and acts on signals with Gunicorn's meanings: TERM graceful stop,
 * INT/QUIT quick stop, HUP reload, TTIN/TTOU one worker more/less, USR1
 * reopen logs, USR2 start a new master (binary upgrade) on the same
 * listeners, WINCH (after USR2) stop the workers gracefully. It tells
 * systemd READY/RELOADING/STOPPING when NOTIFY_SOCKET is set. The master
 * itself never serves a request.
 *
 * Ownership: arbiter_run takes the loaded cfg and the open listeners and
 * owns them until it returns (it frees the cfg and closes the listeners,
 * removing unix socket files and the pid file). argv is the caller's copy
 * of the command line, re-parsed on each reload; it must outlive the call.
 */
#ifndef LLMFORK_ARBITER_H
#define LLMFORK_ARBITER_H

struct cfg;
struct listen_set;

/* Runs until the master stops. Returns the process exit code: 0 after a
 * stop by signal, 1 if it could not start (scoreboard, pid file),
 * 3 when a worker failed to boot. */
int arbiter_run(struct cfg *cfg, struct listen_set *ls, int argc, char **argv);

#endif
