/*
 * listen — the listening sockets, opened by the master before any fork.
 *
 * Two roles: the bind list's listeners serve the apps; the metrics_bind
 * list's serve only /metrics, /healthz and /readyz (worker.h).
 *
 * Sources, in order of precedence:
 *  - systemd socket activation (LISTEN_PID == our pid, LISTEN_FDS = n):
 *    fds 3..3+n-1 are used instead of the bind list;
 *  - LLMFORK_FDS=3,4 (a re-executed master inheriting its parent's
 *    sockets): an inherited fd whose address matches a bind or
 *    metrics_bind address is reused instead of binding again; the others
 *    are closed;
 *  - otherwise every address is bound: TCP v4/v6, unix:/path, or fd://N
 *    (an fd inherited from whoever started us).
 * metrics_bind is opened in every case, systemd's sockets or not.
 * The environment variables are consumed (unset) so that children do not
 * see them.
 *
 * Ownership: a listen_set owns its fds (close-on-exec, non-blocking) and,
 * for unix sockets it created itself, the socket file, which listen_close
 * removes. Forked workers inherit copies of the fds; they own those copies.
 */
#ifndef LLMFORK_LISTEN_H
#define LLMFORK_LISTEN_H

#include <stddef.h>
#include <sys/types.h>

#include "common/addr.h"
#include "common/cfg.h"

#define LISTEN_MAX (2 * CFG_MAX_BINDS) /* bind + metrics_bind */

enum listen_role { LISTEN_APP,
                   LISTEN_METRICS };

struct listener {
    int fd;
    enum listen_role role; /* from the list that names it now */
    struct addr addr;      /* as configured; as found when adopted */
    char url[160];         /* "http://127.0.0.1:8000", "unix:/run/x.sock" */
    int owns_path;         /* unix socket file created by us */
    pid_t handed_by;       /* the master that handed it over (USR2), whose
                               socket file it stays while that one lives;
                               0: ours */
};

struct listen_set {
    struct listener l[LISTEN_MAX];
    int n;
    int activated; /* the first n came from systemd (LISTEN_APP);
                               the bind list is ignored */
};

/* Opens (or adopts) every listener for cfg into an empty ls. Returns 0, or
 * -1 with a message such as "cannot bind 127.0.0.1:8000: Address already
 * in use" in err; nothing stays open on failure. */
int listen_open(struct listen_set *ls, const struct cfg *cfg,
                char *err, size_t errlen);

/* Reload: makes ls match cfg's bind and metrics_bind lists. Listeners
 * whose address is still listed stay open (same fd; the role is the list's
 * now); new ones are bound; ones no longer wanted
 * are moved to *removed (not closed: old workers may still serve on them;
 * the caller closes them later with listen_close). On failure returns -1
 * with err set and leaves ls as it was and *removed empty. */
int listen_update(struct listen_set *ls, const struct cfg *cfg,
                  struct listen_set *removed, char *err, size_t errlen);

/* Copies the fds with that role into fds[LISTEN_MAX]; returns how many. */
int listen_fds(const struct listen_set *ls, enum listen_role role, int *fds);

/* Closes every fd and removes the unix socket files we own: not one an
 * old master handed over while that master still runs (it still serves
 * on it: a rolled back or failed upgrade). */
void listen_close(struct listen_set *ls);

/* Checks that every bind and metrics_bind address parses and that no
 * address is in both; appends "bad bind address 'X': reason\n" lines to
 * *errors (malloc'd, caller frees). Returns the problem count. */
int listen_check(const struct cfg *cfg, char **errors);

#endif
