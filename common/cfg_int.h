/*
 * cfg internals, shared by cfg.c (the settings table, values, the file,
 * the environment, cfg_load) and cfg_cli.c (the command line, --help).
 * No other module includes this.
 */
#ifndef LLMFORK_CFG_INT_H
#define LLMFORK_CFG_INT_H

#include <stdio.h>
#include <string.h>

#include "common/cfg.h"
#include "common/scoreboard.h"

/* HUP runs two generations at once: half the scoreboard, less one. */
#define CFG_MAX_WORKERS (SB_SLOTS / 2 - 1)
#define CFG_MAX_KEYS 128

enum cfg_ktype {
    K_INT,     /* int within [min, max] */
    K_SIZE,    /* long bytes within [min, max]; k/m/g suffixes */
    K_BOOL,    /* int 0/1 */
    K_STR,     /* char *; empty = NULL unless min >= 1 */
    K_LIST,    /* struct cfg_list; min 1 = not empty; max items (0 = any) */
    K_WORKERS, /* int >= min, or "auto" = CFG_WORKERS_AUTO */
    K_MODE,    /* int, octal */
    K_LEVEL,   /* int, enum log_level */
};

typedef int (*cfg_item_check_fn)(const char *item, char *msg, size_t len);

struct cfg_key {
    const char *name;
    enum cfg_ktype type;
    size_t off;
    const char *def; /* as written in the file; NULL = none */
    long min, max;
    cfg_item_check_fn check; /* K_LIST: validates one item */
    const char *env;         /* other names, space-separated, read in order
                               before LLMFORK_<KEY>: the later one wins */
    const char *flags;       /* other command-line spellings, e.g. "-b" */
    const char *arg;         /* placeholder in --help */
    const char *help;
};

extern const struct cfg_key cfg__keys[];
extern const size_t cfg__nkeys;

/* LV_SAMPLE: the samples' environment names (cfg_samples.c), which set
 * only what no level above the defaults set. */
enum cfg_level { LV_DEFAULT,
                 LV_FILE,
                 LV_ENV,
                 LV_SAMPLE,
                 LV_CLI };

struct cfg_loader {
    struct cfg *c;
    FILE *err; /* open_memstream over errbuf */
    char *errbuf;
    size_t errlen;
    int nerr;
    enum cfg_level level;
    int set_at[CFG_MAX_KEYS]; /* level that last wrote each key, or -1 */
    /* file reading */
    const char *file;
    FILE *fp;
    int line;
    int prev_key;               /* an indented line continues that key */
    int cont;                   /* the line being read continues one */
    int key_line[CFG_MAX_KEYS]; /* this file's line that set a one-value
                                   key, or 0 */
    int first_syntax;           /* first line we reported as malformed */
};

struct cfg_cli_op {
    const struct cfg_key *k;
    const char *opt; /* as typed; optlen excludes "=value" */
    int optlen;
    const char *val;
};

struct cfg_cli {
    struct cfg_cli_op *ops;
    int n;
    const char *config;
    enum cfg_action action;
};

/* Steps through a space-separated list such as cfg_key.flags: sets the
 * next word and its length, advances *p; 0 at the end. */
static inline int cfg__next_word(const char **p, const char **w, size_t *n)
{
    if (*p == NULL || **p == '\0')
        return 0;
    *w = *p;
    *n = strcspn(*p, " ");
    *p += *n + ((*p)[*n] == ' ');
    return 1;
}

/* Writes a value problem into msg; returns -1 (for `return cfg__bad(...)`). */
int cfg__bad(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void cfg__report(struct cfg_loader *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets one value; `where` prefixes any message ("FILE:LINE: key"). */
void cfg__set_value(struct cfg_loader *L, const struct cfg_key *k,
                    const char *v, const char *where);

/* Records what argv asks for (the file's name, the action, the values);
 * cfg__cli_apply() sets the values once the file and environment are read. */
void cfg__cli_parse(struct cfg_loader *L, struct cfg_cli *cl, int argc, char **argv);
void cfg__cli_apply(struct cfg_loader *L, const struct cfg_cli *cl);

/* Reads the Azure samples' environment names into the keys still at
 * their defaults (cfg_samples.c); after the environment, before the
 * command line. */
void cfg__samples_apply(struct cfg_loader *L);

#endif
