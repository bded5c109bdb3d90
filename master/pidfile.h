/*
 * pidfile — the master's pid file (--pid / pidfile).
 *
 * Removal checks that the file still holds our pid, so a master does not
 * delete the pid file of another master that has taken over the path.
 */
#ifndef LLMFORK_PIDFILE_H
#define LLMFORK_PIDFILE_H

/* Writes "PID\n" to path (created 0644, replaced if present) through a
 * temporary file and rename, so readers never see it half written.
 * Returns 0, or -1 with errno set. */
int pidfile_write(const char *path);

/* The pid in path when it is a running llmfork master's (alive, its
 * process title "NAME: master"), not ours nor our parent's (USR2 hands
 * over from the parent), else 0. Like Gunicorn, a second master refuses
 * a pid file in use rather than take it over; a stale one (a crash) is
 * replaced. */
long pidfile_owner(const char *path);

/* Removes path if it holds our pid. */
void pidfile_remove(const char *path);

#endif
