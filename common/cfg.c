/*
 * cfg — see cfg.h. One row per setting in cfg__keys (cfg_keys.c): adding a setting
 * is one row (plus its field in struct cfg and its line in
 * etc/llmfork.conf). The row gives the file key, the environment name
 * (LLMFORK_<KEY>, derived) and the long option (--key-with-dashes, derived,
 * in cfg_cli.c), so the three sources cannot disagree. Defaults are written
 * as text and go through the same parser as the file, so a default is
 * always a valid value.
 */
#include "common/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/addr.h"
#include "common/cfg_int.h"
#include "common/log.h"
#include "common/scoreboard.h"


/* Sections the file may use; keys at top level are accepted too. Later
 * settings groups add their section here. */
static const char *const sections[] = { "llmfork" };

void cfg__report(struct cfg_loader *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(L->err, fmt, ap);
    va_end(ap);
    fputc('\n', L->err);
    L->nerr++;
}

int cfg__bad(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- values ---------------------------------------------------------- */

static int parse_long(const char *v, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(v, &end, 10);
    return (end == v || *end != '\0' || errno != 0) ? -1 : 0;
}

static int in_range(const struct cfg_key *k, const char *v, long n, char *msg, size_t len)
{
    if (n >= k->min && n <= k->max)
        return 0;
    return cfg__bad(msg, len, "%s out of range (%ld..%ld)", v, k->min, k->max);
}

static int parse_size(const struct cfg_key *k, const char *v, long *out,
                      char *msg, size_t len)
{
    char *end;
    int shift = 0;

    errno = 0;
    long n = strtol(v, &end, 10);
    if (end != v && *end != '\0' && end[1] == '\0') {
        const char *units = "kmg";
        const char *u = strchr(units, tolower((unsigned char)*end));
        shift = u ? 10 * (int)(u - units + 1) : -1;
        end += u != NULL;
    }
    if (end == v || *end != '\0' || shift < 0 || n < 0)
        return cfg__bad(msg, len, "expected a size in bytes (like 65536 or 64k),"
                                  " got '%s'",
                        v);
    if (errno != 0 || n > (LONG_MAX >> shift))
        return cfg__bad(msg, len, "%s out of range (%ld..%ld)", v, k->min, k->max);
    *out = n << shift;
    return in_range(k, v, *out, msg, len);
}

static int parse_bool(const char *v, int *out, char *msg, size_t len)
{
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "0", "false", "no", "off" };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *out = strcasecmp(v, yes[i]) == 0;
            return 0;
        }
    }
    return cfg__bad(msg, len, "expected true or false, got '%s'", v);
}

static void list_clear(struct cfg_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int list_add(struct cfg_list *l, const char *item)
{
    char *s = strdup(item);
    char **v = s ? realloc(l->v, sizeof(*v) * (size_t)(l->n + 1)) : NULL;
    if (v == NULL) {
        free(s);
        return -1;
    }
    v[l->n++] = s;
    l->v = v;
    return 0;
}

/* Lists split on commas and blanks. A source at a higher level replaces
 * the list; more values at the same level (bind lines, -b flags) add. */
static int set_list(struct cfg_loader *L, const struct cfg_key *k, const char *v,
                    char *msg, size_t len)
{
    struct cfg_list *l = (struct cfg_list *)((char *)L->c + k->off);
    size_t ki = (size_t)(k - cfg__keys);
    char *copy = strdup(v), *save = NULL;
    int rc = 0, count = 0;

    if (copy == NULL)
        return cfg__bad(msg, len, "out of memory");
    if (L->set_at[ki] < (int)L->level)
        list_clear(l);
    L->set_at[ki] = (int)L->level;
    for (char *t = strtok_r(copy, ", \t\r\n", &save); t != NULL && rc == 0;
         t = strtok_r(NULL, ", \t\r\n", &save), count++) {
        if (k->check != NULL && k->check(t, msg, len) < 0)
            rc = -1;
        else if (k->max > 0 && l->n >= k->max)
            rc = cfg__bad(msg, len, "too many values (at most %ld)", k->max);
        else if (list_add(l, t) < 0)
            rc = cfg__bad(msg, len, "out of memory");
    }
    free(copy);
    if (rc == 0 && count < k->min)
        rc = cfg__bad(msg, len, "must not be empty");
    return rc;
}

static int set_str(const struct cfg_key *k, char **field, const char *v,
                   char *msg, size_t len)
{
    char *s = NULL;

    if (*v == '\0' && k->min > 0)
        return cfg__bad(msg, len, "must not be empty");
    if (*v != '\0' && k->check != NULL && k->check(v, msg, len) < 0)
        return -1;
    if (*v != '\0' && (s = strdup(v)) == NULL)
        return cfg__bad(msg, len, "out of memory");
    free(*field);
    *field = s;
    return 0;
}

static int set_int_like(const struct cfg_key *k, int *field, const char *v,
                        char *msg, size_t len)
{
    long n;

    switch (k->type) {
    case K_WORKERS:
        if (strcmp(v, "auto") == 0) {
            *field = CFG_WORKERS_AUTO;
            return 0;
        }
        if (parse_long(v, &n) < 0)
            return cfg__bad(msg, len, "expected a number of workers or 'auto', got '%s'", v);
        break;
    case K_MODE:
        if (*v == '\0' || v[strspn(v, "01234567")] != '\0' || strlen(v) > 6)
            return cfg__bad(msg, len, "expected an octal mode like 0660, got '%s'", v);
        n = strtol(v, NULL, 8);
        break;
    case K_LEVEL:
        if ((n = log_level_parse(v)) < 0)
            return cfg__bad(msg, len, "expected debug, info, warning, error or"
                                      " critical, got '%s'",
                            v);
        *field = (int)n;
        return 0;
    case K_BOOL:
        return parse_bool(v, field, msg, len);
    default:
        if (parse_long(v, &n) < 0)
            return cfg__bad(msg, len, "expected an integer, got '%s'", v);
        break;
    }
    if (in_range(k, v, n, msg, len) < 0)
        return -1;
    *field = (int)n;
    return 0;
}

void cfg__set_value(struct cfg_loader *L, const struct cfg_key *k,
                    const char *v, const char *where)
{
    char msg[384];
    void *field = (char *)L->c + k->off;
    int rc;

    switch (k->type) {
    case K_LIST:
        rc = set_list(L, k, v, msg, sizeof(msg));
        break;
    case K_STR:
        rc = set_str(k, field, v, msg, sizeof(msg));
        break;
    case K_SIZE:
        rc = parse_size(k, v, field, msg, sizeof(msg));
        break;
    default:
        rc = set_int_like(k, field, v, msg, sizeof(msg));
        break;
    }
    L->set_at[k - cfg__keys] = (int)L->level;
    if (rc < 0)
        cfg__report(L, "%s: %s", where, msg);
}

static const struct cfg_key *key_find(const char *name)
{
    for (size_t i = 0; i < cfg__nkeys; i++)
        if (strcmp(cfg__keys[i].name, name) == 0)
            return &cfg__keys[i];
    return NULL;
}

/* ---- the file -------------------------------------------------------- */

static int section_known(const char *name)
{
    if (*name == '\0')
        return 1;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        if (strcmp(sections[i], name) == 0)
            return 1;
    return 0;
}

/* libinih reports only its first malformed line and gives handlers no line
 * number, so every line passes through here first: it is counted, and
 * checked the way libinih will read it, so that all problems are reported
 * with their lines. */
static void malformed(struct cfg_loader *L, const char *what)
{
    cfg__report(L, "%s:%d: %s", L->file, L->line, what);
    if (L->first_syntax == 0)
        L->first_syntax = L->line;
}

/* libinih's own rule: the first of chars, or of an inline ';' comment
 * that follows a blank. */
static char *find_or_comment(char *s, const char *chars)
{
    int was_space = 0;

    while (*s != '\0' && !strchr(chars, *s) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

static void scan_line(struct cfg_loader *L, char *raw)
{
    char *s = raw;

    if (L->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    s += strspn(s, " \t\n\v\f\r"); /* isspace(), as libinih skips */
    L->cont = 0;
    if (*s == '\0' || *s == ';' || *s == '#')
        return;
    if (s > raw && L->prev_key) {
        L->cont = 1; /* continuation line */
        return;
    }
    if (*s == '[') {
        char *end = find_or_comment(s + 1, "]");
        if (*end != ']') {
            malformed(L, "missing ']' in section header");
            return;
        }
        L->prev_key = 0;
        *end = '\0';
        if (!section_known(s + 1))
            cfg__report(L, "%s:%d: unknown section [%s]", L->file, L->line, s + 1);
        *end = ']';
        return;
    }
    char *sep = find_or_comment(s, "=:");
    if (*sep != '=' && *sep != ':') {
        malformed(L, "expected KEY = VALUE");
        return;
    }
    L->prev_key = sep > s; /* libinih continues no empty name */
}

static char *read_line(char *buf, int size, void *stream)
{
    struct cfg_loader *L = stream;
    int ch;

    if (fgets(buf, size, L->fp) == NULL)
        return NULL;
    L->line++;
    size_t n = strlen(buf);
    if (n == (size_t)size - 1 && buf[n - 1] != '\n' && !feof(L->fp)) {
        while ((ch = fgetc(L->fp)) != EOF && ch != '\n')
            ;
        cfg__report(L, "%s:%d: line too long (at most %d characters)",
                    L->file, L->line, size - 2);
        buf[0] = '\0'; /* libinih sees a blank line */
        return buf;
    }
    scan_line(L, buf);
    return buf;
}

/* A one-value key set twice in a file (or continued on an indented
 * line) is a mistake whichever value was meant, as nginx's "directive is
 * duplicate": reported, not settled by the last one. Lists add up. */
static int once_more(struct cfg_loader *L, const struct cfg_key *k)
{
    int *at = &L->key_line[k - cfg__keys];

    if (k->type == K_LIST)
        return 0;
    if (*at == 0) {
        *at = L->line;
        return 0;
    }
    if (L->cont)
        cfg__report(L, "%s:%d: %s takes one value; this indented line "
                       "continues it",
                    L->file, L->line, k->name);
    else
        cfg__report(L, "%s:%d: %s is already set at line %d", L->file,
                    L->line, k->name, *at);
    return 1;
}

/* Never returns 0: problems are reported here with their line, and
 * libinih's own error line then means only a malformed line. */
static int on_pair(void *user, const char *section, const char *name,
                   const char *value)
{
    struct cfg_loader *L = user;
    char where[PATH_MAX + 128];

    if (!section_known(section))
        return 1; /* reported once, at the header */
    const struct cfg_key *k = key_find(name);
    if (k == NULL) {
        cfg__report(L, "%s:%d: unknown key '%s'", L->file, L->line, name);
        return 1;
    }
    if (once_more(L, k))
        return 1;
    snprintf(where, sizeof(where), "%s:%d: %s", L->file, L->line, name);
    cfg__set_value(L, k, value, where);
    return 1;
}

static void load_file(struct cfg_loader *L, const char *path)
{
    memset(L->key_line, 0, sizeof(L->key_line));
    L->file = path;
    L->fp = fopen(path, "r");
    if (L->fp == NULL) {
        cfg__report(L, "%s: cannot open: %s", path, strerror(errno));
        return;
    }
    int rc = ini_parse_stream(read_line, L, on_pair, L);
    if (rc < 0)
        cfg__report(L, "%s: cannot read: out of memory", path);
    else if (rc > 0 && rc != L->first_syntax)
        cfg__report(L, "%s:%d: syntax error", path, rc);
    if (ferror(L->fp))
        cfg__report(L, "%s: cannot read: %s", path, strerror(errno));
    fclose(L->fp);
    L->fp = NULL;
}

/* ---- defaults and environment ---------------------------------------- */

static void load_defaults(struct cfg_loader *L)
{
    L->level = LV_DEFAULT;
    for (size_t i = 0; i < cfg__nkeys; i++)
        if (cfg__keys[i].def != NULL)
            cfg__set_value(L, &cfg__keys[i], cfg__keys[i].def, cfg__keys[i].name);
}

static void env_one(struct cfg_loader *L, const struct cfg_key *k, const char *name)
{
    const char *v = getenv(name);
    char where[96];

    if (v == NULL || *v == '\0') /* set-but-empty counts as unset */
        return;
    snprintf(where, sizeof(where), "environment %s", name);
    cfg__set_value(L, k, v, where);
}

static void load_env(struct cfg_loader *L)
{
    char name[64];
    size_t t;

    L->level = LV_ENV;
    for (size_t i = 0; i < cfg__nkeys; i++) {
        const struct cfg_key *k = &cfg__keys[i];
        size_t n = (size_t)snprintf(name, sizeof(name), "LLMFORK_%s", k->name);
        for (size_t j = 8; j < n && j < sizeof(name); j++)
            name[j] = (char)toupper((unsigned char)name[j]);
        for (const char *e = k->env, *w; cfg__next_word(&e, &w, &t);) {
            char other[64];
            snprintf(other, sizeof(other), "%.*s", (int)t, w);
            env_one(L, k, other);
        }
        env_one(L, k, name);
    }
}

/* ---- public ---------------------------------------------------------- */

static void load_all(struct cfg_loader *L, const struct cfg_cli *cl)
{
    const char *path = cl->config ? cl->config : getenv("LLMFORK_CONFIG");

    load_defaults(L);
    if (path != NULL && *path != '\0') {
        L->c->config_path = strdup(path);
        if (L->c->config_path == NULL)
            cfg__report(L, "out of memory");
        L->level = LV_FILE;
        load_file(L, path);
    }
    load_env(L);
    cfg__samples_apply(L);
    cfg__cli_apply(L, cl);
}

int cfg_load(struct cfg *c, int argc, char **argv, char **errors)
{
    struct cfg_loader L = { .c = c };
    struct cfg_cli cl = { 0 };

    memset(c, 0, sizeof(*c));
    *errors = NULL;
    for (size_t i = 0; i < cfg__nkeys; i++)
        L.set_at[i] = -1;
    L.err = open_memstream(&L.errbuf, &L.errlen);
    cl.ops = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*cl.ops));
    if (L.err == NULL || cl.ops == NULL) {
        if (L.err != NULL)
            fclose(L.err);
        free(L.errbuf);
        free(cl.ops);
        *errors = strdup("out of memory\n");
        return 1;
    }
    cfg__cli_parse(&L, &cl, argc, argv);
    c->action = cl.action;
    if (cl.action == CFG_HELP || cl.action == CFG_VERSION)
        L.nerr = 0; /* asked for help: give it whatever is wrong */
    else
        load_all(&L, &cl);
    free(cl.ops);
    fclose(L.err);
    if (L.nerr == 0) {
        free(L.errbuf);
        return 0;
    }
    cfg_free(c);
    *errors = L.errbuf;
    return L.nerr;
}

int cfg_workers(const struct cfg *c)
{
    if (c->workers != CFG_WORKERS_AUTO)
        return c->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > CFG_MAX_WORKERS ? CFG_MAX_WORKERS
                                           : (int)n;
}

void cfg_free(struct cfg *c)
{
    for (size_t i = 0; i < cfg__nkeys; i++) {
        void *field = (char *)c + cfg__keys[i].off;
        if (cfg__keys[i].type == K_STR)
            free(*(char **)field);
        else if (cfg__keys[i].type == K_LIST)
            list_clear(field);
    }
    free(c->config_path);
    memset(c, 0, sizeof(*c));
}
