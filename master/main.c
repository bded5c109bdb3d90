/*
 * llmfork's entry: load and check the configuration, open the listeners,
 * hand over to the arbiter. Exit codes: 0 done, 1 could not start
 * (bind, log file, pid file), 2 configuration errors, 3 a worker failed
 * to boot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "common/evmem.h"
#include "common/log.h"
#include "master/arbiter.h"
#include "master/listen.h"
#include "master/proctitle.h"
#include "master/spawn.h"
#include "common/version.h"

/* The process title overwrites argv's memory; a reload re-parses the
 * command line, so keep a copy. Lives as long as the process. */
static char **copy_argv(int argc, char **argv)
{
    char **v = calloc((size_t)argc + 1, sizeof(*v));
    if (v == NULL)
        return NULL;
    for (int i = 0; i < argc; i++)
        if ((v[i] = strdup(argv[i])) == NULL) {
            while (i-- > 0)
                free(v[i]);
            free(v);
            return NULL;
        }
    return v;
}

static void free_argv(char **v)
{
    for (int i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* Every problem, as `nginx -t` would list them; 0 when none. */
static int load(struct cfg *cfg, int argc, char **argv)
{
    char *errors = NULL;
    int problems = cfg_load(cfg, argc, argv, &errors);

    if (problems == 0 && cfg->action != CFG_HELP && cfg->action != CFG_VERSION && (problems = listen_check(cfg, &errors)) != 0)
        cfg_free(cfg);
    if (problems != 0)
        fputs(errors != NULL ? errors : "configuration invalid\n", stderr);
    free(errors);
    return problems;
}

/* A failure to start goes to the error log and, when that is a file, to
 * the terminal too: whoever started us should see why we are not up. */
static void start_error(const struct cfg *cfg, const char *msg)
{
    log_error("%s", msg);
    if (cfg->errorlog != NULL && strcmp(cfg->errorlog, "-") != 0)
        fprintf(stderr, "llmfork: %s\n", msg);
}

static int serve(struct cfg *cfg, int argc, char **argv)
{
    struct listen_set ls;
    char err[512];

    if (log_open(cfg->errorlog, cfg->accesslog, cfg->loglevel) < 0) {
        fprintf(stderr, "llmfork: cannot open the log files: %m\n");
        cfg_free(cfg);
        return 1;
    }
    spawn_chown_logs(cfg);
    log_info("Starting llmfork %s", LLMFORK_VERSION);
    if (listen_open(&ls, cfg, err, sizeof(err)) < 0) {
        start_error(cfg, err);
        cfg_free(cfg);
        return 1;
    }
    return arbiter_run(cfg, &ls, argc, argv);
}

/* Takes cfg: frees it, or hands it to the arbiter. */
static int act(struct cfg *cfg, int argc, char **argv)
{
    switch (cfg->action) {
    case CFG_RUN:
        return serve(cfg, argc, argv);
    case CFG_HELP:
        fputs(cfg_usage(), stdout);
        break;
    case CFG_VERSION:
        printf("llmfork %s\n", LLMFORK_VERSION);
        break;
    case CFG_CHECK:
        if (cfg->config_path != NULL)
            printf("%s: configuration OK\n", cfg->config_path);
        else
            printf("configuration OK\n");
        break;
    }
    cfg_free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    struct cfg cfg;
    char **args = copy_argv(argc, argv);
    int rc = 2;

    if (args == NULL) {
        fputs("llmfork: out of memory\n", stderr);
        return 1;
    }
    evmem_install();
    proctitle_init(argc, argv);
    if (load(&cfg, argc, args) == 0)
        rc = act(&cfg, argc, args);
    log_close();
    free_argv(args);
    return rc;
}
