/* spawn — see spawn.h. */
#include "master/spawn.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/scoreboard.h"
#include "master/listen.h"
#include "master/proctitle.h"
#include "master/signals.h"
#include "worker/worker.h"

static void __attribute__((format(printf, 2, 3), noreturn))
boot_fail(struct sb_slot *slot, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(slot->boot_error, sizeof(slot->boot_error), fmt, ap);
    va_end(ap);
    _exit(WORKER_EXIT_BOOT_ERROR);
}

/* Workers run unprivileged; the master keeps its rights so that a reload
 * can bind new privileged ports and reopen root-owned logs (as nginx). */
static void drop_privileges(const struct cfg *cfg, struct sb_slot *slot)
{
    struct passwd *pw = NULL;
    gid_t gid = getgid();

    if (cfg->user != NULL) {
        if ((pw = getpwnam(cfg->user)) == NULL)
            boot_fail(slot, "unknown user '%s'", cfg->user);
        gid = pw->pw_gid;
    }
    if (cfg->group != NULL) {
        struct group *gr = getgrnam(cfg->group);
        if (gr == NULL)
            boot_fail(slot, "unknown group '%s'", cfg->group);
        gid = gr->gr_gid;
    }
    if (cfg->user == NULL && cfg->group == NULL)
        return;
    if (setgid(gid) < 0)
        boot_fail(slot, "setgid(%d): %s", (int)gid, strerror(errno));
    if (pw != NULL && initgroups(pw->pw_name, gid) < 0)
        boot_fail(slot, "initgroups(%s): %s", pw->pw_name, strerror(errno));
    if (pw != NULL && setuid(pw->pw_uid) < 0)
        boot_fail(slot, "setuid(%d): %s", (int)pw->pw_uid, strerror(errno));
}

void spawn_chown_logs(const struct cfg *cfg)
{
    struct passwd *pw = cfg->user != NULL ? getpwnam(cfg->user) : NULL;
    struct group *gr = cfg->group != NULL ? getgrnam(cfg->group) : NULL;

    /* No user: the workers keep our uid and can reopen what we open. An
     * unknown name is the workers' boot error to report. */
    if (pw == NULL || (cfg->group != NULL && gr == NULL))
        return;
    if (log_chown(pw->pw_uid, gr != NULL ? gr->gr_gid : pw->pw_gid) < 0)
        log_warn("cannot give the log files to user %s: %m; workers will "
                 "not be able to reopen them",
                 cfg->user);
}

static void __attribute__((noreturn))
child_main(const struct cfg *cfg, struct scoreboard *sb, struct sb_slot *slot,
           const struct listen_set *ls, const struct listen_set *closing)
{
    int fds[LISTEN_MAX], mfds[LISTEN_MAX];
    int n = listen_fds(ls, LISTEN_APP, fds);
    int nm = listen_fds(ls, LISTEN_METRICS, mfds);

    signals_child();
    sb_attach(sb, slot);
    for (int i = 0; i < closing->n; i++)
        close(closing->l[i].fd);
    proctitle_set("%s: worker %d", cfg->proc_name ? cfg->proc_name : "llmfork",
                  (int)slot->number);
    drop_privileges(cfg, slot);
    _exit(worker_run(cfg, slot, fds, n, mfds, nm));
}

pid_t spawn_worker(const struct cfg *cfg, struct scoreboard *sb,
                   struct sb_slot *slot,
                   const struct listen_set *ls,
                   const struct listen_set *closing)
{
    sigset_t old;

    /* Blocked across fork so that no signal meant for the master runs
     * the master's handler in the child before signals_child(). */
    signals_block(&old);
    pid_t pid = fork();
    if (pid == 0)
        child_main(cfg, sb, slot, ls, closing);
    int e = errno;
    signals_restore(&old);
    errno = e;
    return pid;
}
