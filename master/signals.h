/*
 * signals — the master's signal handling: a self-pipe.
 *
 * Handlers only write the signal number, one byte, to a non-blocking pipe;
 * the arbiter's loop polls the read end and acts on the numbers in order,
 * outside signal context. SIGPIPE is ignored (in workers too: the
 * disposition is inherited across fork and exec).
 *
 * Ownership: this module owns the pipe (both ends close-on-exec). A forked
 * child must call signals_child() first: it closes the pipe and puts every
 * handled signal back to its default, so that nothing the child receives
 * lands in the master's queue.
 */
#ifndef LLMFORK_SIGNALS_H
#define LLMFORK_SIGNALS_H

#include <signal.h>

/* Installs the handlers (TERM INT QUIT HUP TTIN TTOU USR1 USR2 WINCH CHLD).
 * Returns the fd to poll for reading, or -1 with errno set. */
int signals_init(void);

/* Next queued signal number, or 0 when none is pending. */
int signals_next(void);

/* Blocks every signal around fork; *old gets the previous mask. */
void signals_block(sigset_t *old);
void signals_restore(const sigset_t *old);

/* In a child after fork: default handlers, pipe closed, empty mask. */
void signals_child(void);

/* "term", "hup", ... for "Handling signal: hup" log lines. */
const char *signals_name(int sig);

#endif
