/*
 * proctitle — what `ps` shows for the master and the workers
 * ("llmfork: master", "llmfork: worker 2").
 *
 * Linux has no setproctitle(3): the title is rewritten in place over the
 * memory of argv (and, when that is too short, of the environment strings
 * that follow it, which proctitle_init first copies to the heap and points
 * environ at). The comm name (PR_SET_NAME, 15 characters) is set too, for
 * top and `ps -o comm`.
 *
 * Ownership: proctitle_init takes over the argv/environ string memory for
 * the life of the process. Callers that still need the command line (a
 * config reload re-parses it) must copy argv before the first
 * proctitle_set.
 */
#ifndef LLMFORK_PROCTITLE_H
#define LLMFORK_PROCTITLE_H

/* Call once, early in main, before anything caches environment strings. */
void proctitle_init(int argc, char **argv);

void proctitle_set(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
