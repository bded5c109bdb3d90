/*
 * log — the error log and the access log, shared by master and workers.
 *
 * Error log lines look like Gunicorn's:
 *   [2026-11-26 04:46:33 +0000] [1234] [INFO] Booting worker 2
 * so that ops tooling written for Gunicorn reads them.
 *
 * Ownership: this module owns the two log fds (process-global). "-" means
 * stderr for the error log and stdout for the access log; those are never
 * closed. log_reopen() (USR1) reopens the named files in place with dup2 so
 * that an fd number taken before stays valid across rotation.
 * Writes are single write(2) calls of one whole line, so lines from
 * several processes appending to one file do not interleave.
 */
#ifndef LLMFORK_LOG_H
#define LLMFORK_LOG_H

#include <stddef.h>
#include <sys/types.h>

enum log_level {
    LOG_LVL_DEBUG,
    LOG_LVL_INFO,
    LOG_LVL_WARNING,
    LOG_LVL_ERROR,
    LOG_LVL_CRITICAL,
};

/* "debug" | "info" | "warning" | "error" | "critical" -> level, or -1. */
int log_level_parse(const char *name);

/* level -> its name as log_level_parse takes it; "?" when out of range. */
const char *log_level_name(int level);

/* Opens both logs. error_path NULL or "-" = stderr; access_path NULL = no
 * access log, "-" = stdout. Returns 0, or -1 with errno set. */
int log_open(const char *error_path, const char *access_path, int level);

/* USR1: reopen named log files (append). Returns 0 or -1. */
int log_reopen(void);

/* Gives the named log files (not stderr/stdout) to uid:gid, so that
 * workers that dropped to that user can reopen them by path on USR1.
 * Returns 0, or -1 with errno set. */
int log_chown(uid_t uid, gid_t gid);

/* Closes files (not stdout/stderr). */
void log_close(void);

void log_set_level(int level);
int log_enabled(int level);

void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_crit(...) log_msg(LOG_LVL_CRITICAL, __VA_ARGS__)

/* 1 when an access log is open. */
int log_access_enabled(void);

/* Writes one already-formatted access line (must end in '\n'). */
void log_access_line(const char *line, size_t len);

/* Copies src into dst (n bytes, NUL-terminated when n > 0) with '"', '\\',
 * bytes below 0x20 and bytes from 0x7f up written as \xHH, as nginx
 * escapes its access log: what a client sends cannot end a quoted field or
 * a line, nor put terminal escapes in front of whoever reads the log.
 * Returns the escaped length without the NUL, like snprintf, so a caller
 * whose dst was short knows what to ask for; an escape that does not fit
 * whole is left out. */
size_t log_escape(char *dst, size_t n, const char *src);

#endif
