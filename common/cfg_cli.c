/*
 * cfg_cli — the command line, the --help text and value listings, all
 * derived from the settings table in cfg.c: every key is --key-with-dashes,
 * plus the Gunicorn spellings its row lists (-b, --pid, --access-logfile).
 */
#include <stdio.h>
#include <string.h>

#include "common/cfg_int.h"
#include "common/log.h"

enum act { A_CONFIG,
           A_CHECK,
           A_VERSION,
           A_HELP,
           NACTS };

static const struct {
    const char *flags, *arg, *help;
} actions[NACTS] = {
    [A_CONFIG] = { "-c --config", "FILE", "config file (INI); default $LLMFORK_CONFIG" },
    [A_CHECK] = { "--check-config", NULL, "check the configuration, exit 0 if valid, else 2" },
    [A_VERSION] = { "-v --version", NULL, "print the version and exit" },
    [A_HELP] = { "-h --help", NULL, "print this help and exit" },
};

/* '-' and '_' are the same in option names: Gunicorn spells one option
 * --limit-request-field_size, and either spelling works for every option. */
static int name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (a[i] != b[i] && !(strchr("-_", a[i]) && strchr("-_", b[i])))
            return 0;
    return 1;
}

/* Is opt one of the space-separated spellings in flags? */
static int spelled(const char *flags, const char *opt, size_t optlen)
{
    const char *w;
    size_t n;

    while (cfg__next_word(&flags, &w, &n))
        if (name_eq(w, n, opt, optlen))
            return 1;
    return 0;
}

static const struct cfg_key *cli_key(const char *opt, size_t optlen)
{
    for (size_t i = 0; i < cfg__nkeys; i++) {
        const struct cfg_key *k = &cfg__keys[i];
        if (spelled(k->flags, opt, optlen) || (optlen > 2 && opt[1] == '-' && name_eq(opt + 2, optlen - 2, k->name, strlen(k->name))))
            return k;
    }
    return NULL;
}

static int cli_action(const char *opt, size_t optlen)
{
    for (int i = 0; i < NACTS; i++)
        if (spelled(actions[i].flags, opt, optlen))
            return i;
    return -1;
}

void cfg__cli_parse(struct cfg_loader *L, struct cfg_cli *cl, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        int len = 2;

        if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0) {
            cfg__report(L, "command line: unexpected argument '%s'", a);
            continue;
        }
        if (a[1] == '-')
            len = (int)strcspn(a, "=");
        if (a[len] != '\0')
            val = a + len + (a[1] == '-');
        int act = cli_action(a, (size_t)len);
        const struct cfg_key *k = act < 0 ? cli_key(a, (size_t)len) : NULL;
        if (act < 0 && k == NULL) {
            cfg__report(L, "command line: unknown option '%.*s'", len, a);
            continue;
        }
        int wants = k != NULL || act == A_CONFIG;
        if (!wants && val != NULL) {
            cfg__report(L, "command line: %.*s: takes no value", len, a);
            continue;
        }
        /* The next word is an option, not a value, as argparse reads it:
         * "--pid --check-config" must not name a pid file and serve.
         * "--pid=--x" still can. */
        if (wants && val == NULL &&
            (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
            cfg__report(L, "command line: %.*s: needs a value", len, a);
            continue;
        }
        if (wants && val == NULL)
            val = argv[++i];
        if (k != NULL)
            cl->ops[cl->n++] = (struct cfg_cli_op){ k, a, len, val };
        else if (act == A_CONFIG)
            cl->config = val;
        else if (act == A_CHECK && cl->action < CFG_CHECK)
            cl->action = CFG_CHECK;
        else if (act == A_VERSION && cl->action < CFG_VERSION)
            cl->action = CFG_VERSION;
        else if (act == A_HELP)
            cl->action = CFG_HELP;
    }
}

void cfg__cli_apply(struct cfg_loader *L, const struct cfg_cli *cl)
{
    char where[96];

    L->level = LV_CLI;
    for (int i = 0; i < cl->n; i++) {
        const struct cfg_cli_op *op = &cl->ops[i];
        snprintf(where, sizeof(where), "command line: %.*s", op->optlen, op->opt);
        cfg__set_value(L, op->k, op->val, where);
    }
}

/* "  -b, --bind ADDR" padded, then the help. */
static void usage_line(FILE *f, const char *flags, const char *name,
                       const char *arg, const char *help, const char *def)
{
    char spell[128] = "", dashed[64];
    size_t n = 0, t;
    const char *w;

    while (cfg__next_word(&flags, &w, &t) && n < sizeof(spell))
        n += (size_t)snprintf(spell + n, sizeof(spell) - n, "%s%.*s",
                              n ? ", " : "", (int)t, w);
    if (name != NULL && n < sizeof(spell)) {
        for (t = 0; name[t] != '\0' && t + 1 < sizeof(dashed); t++)
            dashed[t] = name[t] == '_' ? '-' : name[t];
        dashed[t] = '\0';
        n += (size_t)snprintf(spell + n, sizeof(spell) - n, "%s--%s",
                              n ? ", " : "", dashed);
    }
    if (arg != NULL && n < sizeof(spell))
        snprintf(spell + n, sizeof(spell) - n, " %s", arg);
    /* a long list of spellings gets the help on a line of its own */
    if (strlen(spell) > 36)
        fprintf(f, "  %s\n%39s", spell, "");
    else
        fprintf(f, "  %-36s ", spell);
    fputs(help, f);
    if (name != NULL)
        fprintf(f, " [%s]", def ? def : "none");
    fputc('\n', f);
}

const char *cfg_usage(void)
{
    static char *text; /* built once, kept for the process's life */
    size_t len;

    if (text != NULL)
        return text;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return "usage: llmfork [OPTIONS]\n";
    fprintf(f, "usage: llmfork [OPTIONS]\n\n");
    for (int i = 0; i < NACTS; i++)
        usage_line(f, actions[i].flags, NULL, actions[i].arg, actions[i].help, NULL);
    fputc('\n', f);
    for (size_t i = 0; i < cfg__nkeys; i++) {
        const struct cfg_key *k = &cfg__keys[i];
        usage_line(f, k->flags, k->name, k->arg, k->help, k->def);
    }
    fprintf(f, "\nEvery option is also a config file key (with '_' for '-'):"
               " timeout = 30,\nand an environment variable: LLMFORK_TIMEOUT=30."
               " Precedence: defaults < file\n< environment < command line."
               " WEB_CONCURRENCY sets workers too.\n");
    fclose(f);
    return text;
}

const char *cfg_key_name(int i)
{
    return i >= 0 && (size_t)i < cfg__nkeys ? cfg__keys[i].name : NULL;
}

void cfg_value_text(const struct cfg *c, int i, char *buf, size_t n)
{
    const struct cfg_key *k = &cfg__keys[i];
    const void *field = (const char *)c + k->off;
    int v = *(const int *)field;

    switch (k->type) {
    case K_STR:
        snprintf(buf, n, "%s", *(char *const *)field ? *(char *const *)field : "");
        break;
    case K_LIST: {
        const struct cfg_list *l = field;
        size_t used = 0;
        buf[0] = '\0';
        for (int j = 0; j < l->n && used < n; j++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", j ? "," : "", l->v[j]);
        break;
    }
    case K_SIZE:
        snprintf(buf, n, "%ld", *(const long *)field);
        break;
    case K_MODE:
        snprintf(buf, n, "%04o", v);
        break;
    case K_LEVEL:
        snprintf(buf, n, "%s", log_level_name(v));
        break;
    case K_WORKERS:
        snprintf(buf, n, v == CFG_WORKERS_AUTO ? "auto" : "%d", v);
        break;
    default:
        snprintf(buf, n, "%d", v);
        break;
    }
}
