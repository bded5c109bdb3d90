/*
 * reload — HUP: re-read the configuration with the original command line
 * and start a new generation of workers on it. A configuration with
 * problems is logged and ignored; the running one keeps serving.
 * Listeners stay open throughout; ones dropped from the bind list close
 * when the old generation is gone (supervise.c).
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "master/arbiter_int.h"
#include "master/notify.h"
#include "master/pidfile.h"
#include "master/spawn.h"

static void log_lines(const char *text)
{
    const char *p = text;
    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        log_error("%.*s", len, p);
        p = nl ? nl + 1 : NULL;
    }
}

static int load_new_cfg(struct arbiter *a, struct cfg *nc)
{
    char *errors = NULL;
    int bad = cfg_load(nc, a->argc, a->argv, &errors) != 0;

    if (!bad && listen_check(nc, &errors) != 0) {
        cfg_free(nc);
        bad = 1;
    }
    if (bad) {
        log_error("Reload failed; the running configuration stays");
        log_lines(errors);
    }
    free(errors);
    return bad ? -1 : 0;
}

static void adopt_removed(struct arbiter *a, struct listen_set *removed)
{
    for (int i = 0; i < removed->n; i++) {
        if (a->closing.n < LISTEN_MAX) {
            a->closing.l[a->closing.n++] = removed->l[i];
        } else { /* HUP storm: no room to wait; close now */
            struct listen_set one = { .n = 1 };
            one.l[0] = removed->l[i];
            listen_close(&one);
        }
    }
}

static void apply_pidfile(struct arbiter *a, const char *path)
{
    if ((a->pid_path == NULL && path == NULL) || (a->pid_path != NULL && path != NULL && strcmp(a->pid_path, path) == 0))
        return;
    char *copy = path != NULL ? strdup(path) : NULL;
    if (path != NULL && (copy == NULL || pidfile_write(path) < 0)) {
        log_error("cannot write pid file %s: %m", path);
        free(copy);
        return;
    }
    if (a->pid_path != NULL)
        pidfile_remove(a->pid_path);
    free(a->pid_path);
    a->pid_path = copy;
}

void arbiter__reload_config(struct arbiter *a)
{
    struct cfg nc;
    struct listen_set removed;
    char err[512];

    notify_send("RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=reloading\n",
                (long long)sb_now_ms() * 1000);
    if (load_new_cfg(a, &nc) < 0)
        goto done;
    if (listen_update(&a->ls, &nc, &removed, err, sizeof(err)) < 0) {
        log_error("Reload failed; the running configuration stays");
        log_error("%s", err);
        cfg_free(&nc);
        goto done;
    }
    adopt_removed(a, &removed);
    if (log_open(nc.errorlog, nc.accesslog, nc.loglevel) < 0)
        log_error("reload: cannot open the log files: %m");
    spawn_chown_logs(&nc);
    apply_pidfile(a, nc.pidfile);
    /* A count set with TTIN/TTOU survives unless the file changed it. */
    if (nc.workers != a->cfg.workers)
        a->target = cfg_workers(&nc);
    if (a->target > MAX_WORKERS)
        a->target = MAX_WORKERS;
    cfg_free(&a->cfg);
    a->cfg = nc;
    a->generation++;
    a->reload_ms = sb_now_ms();
    __atomic_fetch_add(&a->sb->master.reloads, 1, __ATOMIC_RELAXED);
    a->winched = 0;
    memset(a->backoff, 0, sizeof(a->backoff));
    arbiter__set_title(a);
    arbiter__log_listeners(a);
    log_info("Reloaded the configuration; starting generation %d "
             "(%d workers)",
             a->generation, a->target);
done:
    a->ready_sent = 0; /* READY=1 again once the workers accept */
}
