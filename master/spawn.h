/*
 * spawn — making one worker process.
 *
 * The master fills the worker's scoreboard slot (number, generation,
 * times) before calling spawn_worker; the child inherits the mapping and
 * the listening fds, resets the master's signal handling, sets its process
 * title, drops privileges (user/group) and runs worker_run. It never
 * returns into the master's code: it _exits with worker_run's code, or
 * with WORKER_EXIT_BOOT_ERROR and slot->boot_error set when it cannot
 * start.
 *
 * Ownership: the child owns its copies of the listening fds (worker.h);
 * it closes its copies of `closing` (listeners on their way out after a
 * reload) at once. The master keeps its own copies of both.
 */
#ifndef LLMFORK_SPAWN_H
#define LLMFORK_SPAWN_H

#include <sys/types.h>

struct cfg;
struct scoreboard;
struct sb_slot;
struct listen_set;

/* Forks one worker into slot (one of sb's). Returns its pid in the
 * master, or -1 (errno set). */
pid_t spawn_worker(const struct cfg *cfg, struct scoreboard *sb,
                   struct sb_slot *slot,
                   const struct listen_set *ls,
                   const struct listen_set *closing);

/* With `user` set, gives the log files to the workers' user and group
 * (nginx and Gunicorn do so too): the workers reopen them by path on
 * USR1, after the master created the new ones. Call after opening or
 * reopening the logs, before signalling the workers. */
void spawn_chown_logs(const struct cfg *cfg);

#endif
