/* cfg_load: defaults, the file, the environment and the command line, their
 * precedence, and the exact text of every kind of problem. Files go to a
 * fresh temporary directory; the environment is cleared before each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/log.h"

static char dir[64];
static char path[128];

/* Writes text to dir/name; returns the path (valid until the next call). */
static const char *file(const char *name, const char *text)
{
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The environment names the samples use (cfg_samples.c) and the ones they
 * are tested against. */
static const char *const sample_env[] = {
    "OPENAI_HOST", "OPENAI_CHAT_HOST", "OLLAMA_ENDPOINT",
    "LOCAL_OPENAI_ENDPOINT", "AZURE_INFERENCE_ENDPOINT",
    "AZURE_OPENAI_SERVICE", "AZURE_OPENAI_CHATGPT_DEPLOYMENT",
    "AZURE_DEEPSEEK_DEPLOYMENT", "AZURE_OPENAI_CLIENT_ID",
    "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_CHAT_DEPLOYMENT", "AZURE_CLIENT_ID",
    "OPENAI_BASE_URL", NULL
};

static void clear_env(void)
{
    char name[96];
    for (int i = 0; cfg_key_name(i) != NULL; i++) {
        snprintf(name, sizeof(name), "LLMFORK_%s", cfg_key_name(i));
        for (char *p = name; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        unsetenv(name);
    }
    unsetenv("LLMFORK_CONFIG");
    unsetenv("WEB_CONCURRENCY");
    for (const char *const *e = sample_env; *e; e++)
        unsetenv(*e);
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/llmfork-cfg-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    char cmd[96];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

/* cfg_load with argv = "llmfork", then the NULL-terminated arguments. */
static int load(struct cfg *c, char **err, ...)
{
    char *argv[32] = { "llmfork" };
    int argc = 1;
    va_list ap;

    va_start(ap, err);
    while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
        argc++;
    va_end(ap);
    return cfg_load(c, argc, argv, err);
}

/* Loads and fails the test on any problem. */
#define load_ok(c, ...)                               \
    do {                                              \
        char *e_ = NULL;                              \
        int n_ = load((c), &e_, __VA_ARGS__);         \
        if (n_ != 0)                                  \
            fail_msg("unexpected problems:\n%s", e_); \
        assert_null(e_);                              \
    } while (0)

/* Loads, expects exactly `want` (lines) and checks c was freed. */
static void load_fails(const char *want, ...)
{
    char *argv[32] = { "llmfork" };
    int argc = 1, lines = 0;
    char *err = NULL;
    struct cfg c;
    va_list ap;

    va_start(ap, want);
    while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
        argc++;
    va_end(ap);
    for (const char *p = want; *p; p++)
        lines += *p == '\n';
    assert_int_equal(cfg_load(&c, argc, argv, &err), lines);
    assert_non_null(err);
    assert_string_equal(err, want);
    free(err);
    assert_null(c.bind.v);
    assert_int_equal(c.bind.n, 0);
    assert_null(c.proc_name);
    assert_null(c.config_path);
}

static void test_defaults(void **state)
{
    struct cfg c;
    (void)state;

    load_ok(&c, NULL);
    assert_int_equal(c.action, CFG_RUN);
    assert_null(c.config_path);
    assert_int_equal(c.bind.n, 1);
    assert_string_equal(c.bind.v[0], "127.0.0.1:8000");
    assert_int_equal(c.backlog, 2048);
    assert_int_equal(c.workers, CFG_WORKERS_AUTO);
    assert_int_equal(c.timeout, 30);
    assert_int_equal(c.graceful_timeout, 30);
    assert_int_equal(c.max_requests, 0);
    assert_int_equal(c.max_requests_jitter, 0);
    assert_null(c.pidfile);
    assert_string_equal(c.proc_name, "llmfork");
    assert_null(c.user);
    assert_null(c.group);
    assert_int_equal(c.unix_socket_mode, 0660);
    assert_string_equal(c.errorlog, "-");
    assert_null(c.accesslog);
    assert_int_equal(c.loglevel, LOG_LVL_INFO);
    assert_int_equal(c.worker_connections, 10000);
    assert_int_equal(c.keepalive, 5);
    assert_int_equal(c.client_header_timeout, 10);
    assert_int_equal(c.limit_request_line, 4094);
    assert_int_equal(c.limit_request_fields, 100);
    assert_int_equal(c.limit_request_field_size, 8190);
    assert_int_equal(c.limit_request_body, 1048576);
    assert_int_equal(c.stream_buffer, 65536);
    assert_int_equal(c.forwarded_allow_ips.n, 2);
    assert_string_equal(c.forwarded_allow_ips.v[0], "127.0.0.1");
    assert_string_equal(c.forwarded_allow_ips.v[1], "::1");
    cfg_free(&c);
}

/* A line "KEY = ..." or "KEY =", or the same commented out with "; ". */
static int lists_key(const char *text, const char *key)
{
    static const char *const before[] = { "\n", "\n; " };
    static const char *const after[] = { " = ", " =\n" };
    char line[96];
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 2; j++) {
            snprintf(line, sizeof(line), "%s%s%s", before[i], key, after[j]);
            if (strstr(text, line) != NULL)
                return 1;
        }
    return 0;
}

/* etc/llmfork.conf documents every key, and its values are the defaults. */
static void test_shipped_conf_is_defaults(void **state)
{
    struct cfg def, conf;
    char a[512], b[512], *text = NULL;
    size_t cap = 0;
    (void)state;

    FILE *f = fopen("etc/llmfork.conf", "r");
    assert_non_null(f);
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    assert_true(n > 0);
    load_ok(&def, NULL);
    load_ok(&conf, "-c", "etc/llmfork.conf", NULL);
    for (int i = 0; cfg_key_name(i) != NULL; i++) {
        if (!lists_key(text, cfg_key_name(i)))
            fail_msg("etc/llmfork.conf does not list '%s'", cfg_key_name(i));
        cfg_value_text(&def, i, a, sizeof(a));
        cfg_value_text(&conf, i, b, sizeof(b));
        if (strcmp(a, b) != 0)
            fail_msg("%s: default '%s', etc/llmfork.conf '%s'", cfg_key_name(i), a, b);
    }
    free(text);
    cfg_free(&def);
    cfg_free(&conf);
}

static void test_precedence(void **state)
{
    struct cfg c;
    (void)state;
    const char *f = file("prec.conf", "backlog = 100\n"
                                      "[llmfork]\nkeepalive = 7\ntimeout = 12\n");

    load_ok(&c, "-c", f, NULL);
    assert_int_equal(c.timeout, 12);
    assert_int_equal(c.backlog, 100);
    assert_int_equal(c.keepalive, 7);
    assert_string_equal(c.config_path, f);
    cfg_free(&c);

    setenv("LLMFORK_TIMEOUT", "22", 1);
    setenv("LLMFORK_BACKLOG", "200", 1);
    load_ok(&c, "-c", f, NULL);
    assert_int_equal(c.timeout, 22); /* env over file */
    assert_int_equal(c.backlog, 200);
    assert_int_equal(c.keepalive, 7);
    assert_int_equal(c.graceful_timeout, 30); /* default */
    cfg_free(&c);

    load_ok(&c, "-c", f, "--timeout", "33", NULL);
    assert_int_equal(c.timeout, 33); /* command line over env */
    assert_int_equal(c.backlog, 200);
    cfg_free(&c);
}

static void test_config_from_env(void **state)
{
    struct cfg c;
    char other[128];
    (void)state;

    strcpy(other, file("a.conf", "timeout = 41\n"));
    const char *b = file("b.conf", "timeout = 42\n");
    setenv("LLMFORK_CONFIG", other, 1);
    load_ok(&c, NULL);
    assert_int_equal(c.timeout, 41);
    assert_string_equal(c.config_path, other);
    cfg_free(&c);
    load_ok(&c, "-c", b, NULL); /* -c wins */
    assert_int_equal(c.timeout, 42);
    cfg_free(&c);
    load_ok(&c, "--config=", NULL); /* empty: no file at all */
    assert_int_equal(c.timeout, 30);
    assert_null(c.config_path);
    cfg_free(&c);
}

static void assert_list(const struct cfg_list *l, int n, ...)
{
    va_list ap;
    assert_int_equal(l->n, n);
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(l->v[i], va_arg(ap, const char *));
    va_end(ap);
}

/* Repeats add at one level; a higher level replaces the whole list. */
static void test_bind_lists(void **state)
{
    struct cfg c;
    (void)state;
    const char *f = file("bind.conf", "bind = 127.0.0.1:1\n"
                                      "bind = [::1]:2, unix:/tmp/x.sock\n"
                                      "  fd://3\n" /* continues the line above */
                                      "forwarded_allow_ips =\n");

    load_ok(&c, "-c", f, NULL);
    assert_list(&c.bind, 4, "127.0.0.1:1", "[::1]:2", "unix:/tmp/x.sock", "fd://3");
    assert_int_equal(c.forwarded_allow_ips.n, 0);
    cfg_free(&c);

    setenv("LLMFORK_BIND", "127.0.0.1:5,127.0.0.1:6", 1);
    load_ok(&c, "-c", f, NULL);
    assert_list(&c.bind, 2, "127.0.0.1:5", "127.0.0.1:6");
    cfg_free(&c);

    load_ok(&c, "-c", f, "-b", "7", "--bind=localhost:8", "-b:9", NULL);
    assert_list(&c.bind, 3, "7", "localhost:8", ":9");
    cfg_free(&c);

    load_ok(&c, "--forwarded-allow-ips", "10.0.0.0/8,  ::1 *", NULL);
    assert_list(&c.forwarded_allow_ips, 3, "10.0.0.0/8", "::1", "*");
    cfg_free(&c);
}

static void test_workers(void **state)
{
    struct cfg c;
    (void)state;

    load_ok(&c, NULL);
    assert_int_equal(c.workers, CFG_WORKERS_AUTO);
    assert_int_equal(cfg_workers(&c), (int)sysconf(_SC_NPROCESSORS_ONLN));
    cfg_free(&c);

    setenv("WEB_CONCURRENCY", "3", 1);
    load_ok(&c, NULL);
    assert_int_equal(cfg_workers(&c), 3);
    cfg_free(&c);
    setenv("LLMFORK_WORKERS", "4", 1); /* the specific name wins */
    load_ok(&c, NULL);
    assert_int_equal(cfg_workers(&c), 4);
    cfg_free(&c);
    load_ok(&c, "-w5", NULL);
    assert_int_equal(cfg_workers(&c), 5);
    cfg_free(&c);
    load_ok(&c, "--workers", "auto", NULL);
    assert_int_equal(c.workers, CFG_WORKERS_AUTO);
    cfg_free(&c);
}

static void test_value_forms(void **state)
{
    struct cfg c;
    (void)state;
    const char *f = file("forms.conf", "limit_request_body = 2m\n"
                                       "unix_socket_mode = 600\nloglevel = DEBUG\n"
                                       "errorlog =\ntimeout = 31 ; thirty-one\n");

    load_ok(&c, "-c", f, "--stream-buffer=64k", "--pid", "/run/x.pid",
            "--limit-request-field_size", "10", "--keep-alive=0", "-n", "svc",
            "--log-file", "/tmp/e.log", "--access-logfile", "-", "-u", "nobody",
            "-g", "nogroup", "--graceful_timeout", "3", "-t", "9", NULL);
    assert_int_equal(c.limit_request_body, 2L << 20);
    assert_int_equal(c.unix_socket_mode, 0600);
    assert_int_equal(c.loglevel, LOG_LVL_DEBUG);
    assert_int_equal(c.stream_buffer, 65536);
    assert_string_equal(c.pidfile, "/run/x.pid");
    assert_int_equal(c.limit_request_field_size, 10);
    assert_int_equal(c.keepalive, 0);
    assert_string_equal(c.proc_name, "svc");
    assert_string_equal(c.errorlog, "/tmp/e.log");
    assert_string_equal(c.accesslog, "-");
    assert_string_equal(c.user, "nobody");
    assert_string_equal(c.group, "nogroup");
    assert_int_equal(c.graceful_timeout, 3);
    assert_int_equal(c.timeout, 9);
    cfg_free(&c);

    load_ok(&c, "-c", f, "--limit-request-field-size", "11", NULL);
    assert_null(c.errorlog);         /* empty = none (stderr) */
    assert_int_equal(c.timeout, 31); /* after ';' is a comment */
    assert_int_equal(c.limit_request_field_size, 11);
    cfg_free(&c);
}

static void test_file_errors(void **state)
{
    char want[2048];
    (void)state;
    const char *f = file("bad.conf", "; comment\n"
                                     "timeout = abc\n"
                                     "[llmfork]\n"
                                     "bogus = 1\n"
                                     "backlog = 0\n"
                                     "bind = 127.0.0.1:99999\n"
                                     "workers = many\n"
                                     "[other]\n"
                                     "timeout = 5\n"
                                     "[llmfork\n"
                                     "just words\n"
                                     "[llmfork]\n"
                                     "loglevel = loud\n"
                                     "unix_socket_mode = 0800\n"
                                     "stream_buffer = 10\n"
                                     "limit_request_body = 5q\n"
                                     "proc_name =\n"
                                     "key ; = commented out\n");
    snprintf(want, sizeof(want),
             "%1$s:2: timeout: expected an integer, got 'abc'\n"
             "%1$s:4: unknown key 'bogus'\n"
             "%1$s:5: backlog: 0 out of range (1..65535)\n"
             "%1$s:6: bind: bad address '127.0.0.1:99999': port 99999 out of range (0-65535)\n"
             "%1$s:7: workers: expected a number of workers or 'auto', got 'many'\n"
             "%1$s:8: unknown section [other]\n"
             "%1$s:10: missing ']' in section header\n"
             "%1$s:11: expected KEY = VALUE\n"
             "%1$s:13: loglevel: expected debug, info, warning, error or critical, got 'loud'\n"
             "%1$s:14: unix_socket_mode: expected an octal mode like 0660, got '0800'\n"
             "%1$s:15: stream_buffer: 10 out of range (1024..1073741824)\n"
             "%1$s:16: limit_request_body: expected a size in bytes (like 65536 or 64k), got '5q'\n"
             "%1$s:17: proc_name: must not be empty\n"
             "%1$s:18: expected KEY = VALUE\n",
             f);
    load_fails(want, "-c", f, NULL);
}

/* Blank is what libinih skips (isspace): a line of a vertical tab or a
 * form feed is blank, not a malformed line (found by tests/fuzz/fuzz_cfg). */
static void test_file_blank_lines(void **state)
{
    struct cfg c;
    (void)state;

    load_ok(&c, "-c", file("blank.conf", "\v\n[llmfork]\n\f\r\n"
                                         "workers = 2\n \v\ntimeout = 7\n"),
            NULL);
    assert_int_equal(c.workers, 2);
    assert_int_equal(c.timeout, 7);
    cfg_free(&c);
}

/* A line with no key name (" = x") is libinih's key "", which no
 * indented line continues: the next one is malformed on its own (found
 * by tests/fuzz/fuzz_cfg; cfg took it for a continuation and said only
 * "syntax error"). */
static void test_file_empty_key(void **state)
{
    char want[512];
    (void)state;
    const char *f = file("empty.conf", " = x\n  more words\n");

    snprintf(want, sizeof(want),
             "%1$s:1: unknown key ''\n"
             "%1$s:2: expected KEY = VALUE\n",
             f);
    load_fails(want, "-c", f, NULL);
}

static void test_file_duplicates(void **state)
{
    char want[512];
    struct cfg c;
    (void)state;
    const char *f = file("dup.conf", "workers = 2\n"
                                     "bind = 127.0.0.1:1\n"
                                     "[llmfork]\n"
                                     "workers = 4\n"
                                     "bind = 127.0.0.1:2\n"
                                     "timeout = 5\n"
                                     "  6\n");
    snprintf(want, sizeof(want),
             "%1$s:4: workers is already set at line 1\n"
             "%1$s:7: timeout takes one value; this indented line continues it\n",
             f);
    load_fails(want, "-c", f, NULL);
    /* Another source still overrides the file: only the file repeats. */
    f = file("once.conf", "workers = 2\n");
    load_ok(&c, "-c", f, "-w", "3", NULL);
    assert_int_equal(c.workers, 3);
    cfg_free(&c);
}

static void test_file_limits(void **state)
{
    char want[512], text[400], f[128];
    (void)state;

    memset(text, 'x', sizeof(text));
    memcpy(text, "bind = ", 7);
    strcpy(text + 300, "\ntimeout = -1\n");
    strcpy(f, file("long.conf", text));
    snprintf(want, sizeof(want),
             "%1$s:1: line too long (at most 198 characters)\n"
             "%1$s:2: timeout: -1 out of range (0..86400)\n",
             f);
    load_fails(want, "-c", f, NULL);

    strcpy(text, "bind =");
    for (int i = 0; i < 17; i++)
        sprintf(text + strlen(text), " %d", 8000 + i);
    strcat(text, "\n");
    strcpy(f, file("many.conf", text));
    snprintf(want, sizeof(want),
             "%s:1: bind: too many values (at most 16)\n", f);
    load_fails(want, "-c", f, NULL);

    snprintf(want, sizeof(want), "%s/none.conf: cannot open: No such file or directory\n", dir);
    snprintf(f, sizeof(f), "%s/none.conf", dir);
    load_fails(want, "-c", f, NULL);
}

static void test_env_errors(void **state)
{
    (void)state;
    setenv("LLMFORK_TIMEOUT", "abc", 1);
    setenv("WEB_CONCURRENCY", "0", 1);
    setenv("LLMFORK_BIND", "example.com", 1);
    setenv("LLMFORK_FORWARDED_ALLOW_IPS", "10.0.0.1/33", 1);
    setenv("OPENAI_HOST", "azure_custom", 1); /* the samples' names */
    setenv("AZURE_OPENAI_SERVICE", "bad.name", 1);
    load_fails("environment LLMFORK_BIND: bad address 'example.com': expected"
               " HOST:PORT, [IPv6]:PORT, PORT, unix:/path or fd://N, got 'example.com'\n"
               "environment WEB_CONCURRENCY: 0 out of range (1..255)\n"
               "environment LLMFORK_TIMEOUT: expected an integer, got 'abc'\n"
               "environment LLMFORK_FORWARDED_ALLOW_IPS: bad IP address or network '10.0.0.1/33'\n"
               "environment OPENAI_HOST: unknown host 'azure_custom' (azure, "
               "openai, local, ollama)\n"
               "environment AZURE_OPENAI_SERVICE: 'bad.name' is not a resource"
               " name (letters, digits, '-'; the NAME of "
               "https://NAME.openai.azure.com)\n",
               NULL);
}

static void test_cli_errors(void **state)
{
    (void)state;
    load_fails("command line: unknown option '--bogus'\n"
               "command line: --check-config: takes no value\n"
               "command line: unexpected argument 'app:main'\n"
               "command line: --max-requests: needs a value\n"
               "command line: -t: expected an integer, got 'x'\n"
               "command line: --timeout: 99999 out of range (0..86400)\n"
               "command line: -b: bad address 'unix:': empty unix socket path\n"
               "command line: --log-level: expected debug, info, warning, error or critical, got 'loud'\n",
               "--bogus=1", "--check-config=yes", "app:main", "-t", "x",
               "--timeout=99999", "-b", "unix:", "--log-level", "loud",
               "--max-requests", NULL);
}

static void test_actions(void **state)
{
    struct cfg c;
    char *err = NULL;
    (void)state;

    /* help and version are given whatever else is wrong */
    assert_int_equal(load(&c, &err, "--bogus", "-h", "-c", "/nonexistent", NULL), 0);
    assert_null(err);
    assert_int_equal(c.action, CFG_HELP);
    cfg_free(&c);
    assert_int_equal(load(&c, &err, "-v", NULL), 0);
    assert_int_equal(c.action, CFG_VERSION);
    cfg_free(&c);
    load_ok(&c, "--check-config", "-w", "2", NULL);
    assert_int_equal(c.action, CFG_CHECK);
    assert_int_equal(c.workers, 2);
    cfg_free(&c);

    const char *u = cfg_usage();
    assert_non_null(strstr(u, "-b, --bind ADDR"));
    assert_non_null(strstr(u, "-w, --workers N|auto"));
    assert_non_null(strstr(u, "--check-config"));
    assert_non_null(strstr(u, "--pid, --pidfile FILE"));
    for (int i = 0; cfg_key_name(i) != NULL; i++) {
        char opt[96];
        snprintf(opt, sizeof(opt), "--%s", cfg_key_name(i));
        for (char *p = opt; *p; p++)
            *p = *p == '_' ? '-' : *p;
        if (strstr(u, opt) == NULL)
            fail_msg("--help does not mention %s", opt);
    }
}

/* The samples' names fill what nothing explicit set, as each sample reads
 * them; anything explicit (the file, LLMFORK_*, the key's own env names,
 * the command line) wins, and so does the first hint for a key. */
static void test_sample_env(void **state)
{
    struct cfg c;
    (void)state;
    const char *f = file("samples.conf", "provider = azure\n"
                                         "azure_deployment = from-file\n");

    setenv("AZURE_OPENAI_SERVICE", "res1", 1);
    setenv("AZURE_OPENAI_CHATGPT_DEPLOYMENT", "chatgpt", 1);
    setenv("AZURE_OPENAI_CLIENT_ID", "mi-1", 1);
    setenv("OPENAI_HOST", "azure", 1);
    load_ok(&c, NULL);
    assert_string_equal(c.provider, "azure-v1");
    assert_string_equal(c.azure_endpoint, "https://res1.openai.azure.com");
    assert_string_equal(c.azure_deployment, "chatgpt");
    assert_string_equal(c.azure_client_id, "mi-1");
    cfg_free(&c);

    setenv("AZURE_OPENAI_ENDPOINT", "https://explicit.openai.azure.com", 1);
    setenv("AZURE_OPENAI_CHAT_DEPLOYMENT", "chat", 1);
    setenv("AZURE_CLIENT_ID", "cid", 1);
    load_ok(&c, "-c", f, NULL);
    assert_string_equal(c.provider, "azure"); /* the file */
    assert_string_equal(c.azure_endpoint, "https://explicit.openai.azure.com");
    assert_string_equal(c.azure_deployment, "chat"); /* env > file */
    assert_string_equal(c.azure_client_id, "cid");
    cfg_free(&c);
    unsetenv("AZURE_OPENAI_CHAT_DEPLOYMENT");
    load_ok(&c, "-c", f, "--azure-deployment", "cli", NULL);
    assert_string_equal(c.azure_deployment, "cli");
    cfg_free(&c);
    load_ok(&c, "-c", f, NULL);
    assert_string_equal(c.azure_deployment, "from-file");
    cfg_free(&c);
    setenv("LLMFORK_PROVIDER", "mock", 1);
    load_ok(&c, NULL);
    assert_string_equal(c.provider, "mock");
    cfg_free(&c);
    clear_env();

    /* each sample's own set of names */
    static const struct {
        const char *env[4]; /* NAME, VALUE pairs */
        const char *provider, *base_url, *endpoint, *deployment;
    } cases[] = {
        { { "LOCAL_OPENAI_ENDPOINT", "http://127.0.0.1:8080/v1" }, "openai", "http://127.0.0.1:8080/v1", NULL, NULL },
        { { "LOCAL_OPENAI_ENDPOINT", "http://127.0.0.1:8080/v1",
            "OPENAI_BASE_URL", "http://127.0.0.1:9/v1" },
          "openai",
          "http://127.0.0.1:9/v1",
          NULL,
          NULL },
        { { "AZURE_INFERENCE_ENDPOINT", "https://ds.openai.azure.com",
            "AZURE_DEEPSEEK_DEPLOYMENT", "DeepSeek-R1" },
          "azure",
          NULL,
          "https://ds.openai.azure.com",
          "DeepSeek-R1" },
        { { "OPENAI_CHAT_HOST", "ollama", "OLLAMA_ENDPOINT",
            "http://127.0.0.1:11434/v1" },
          "openai",
          "http://127.0.0.1:11434/v1",
          NULL,
          NULL },
        { { "OPENAI_CHAT_HOST", "ollama", "OPENAI_HOST", "azure" },
          "azure-v1",
          NULL,
          NULL,
          NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int j = 0; j < 4 && cases[i].env[j]; j += 2)
            setenv(cases[i].env[j], cases[i].env[j + 1], 1);
        load_ok(&c, NULL);
        assert_string_equal(c.provider, cases[i].provider);
        if (cases[i].base_url)
            assert_string_equal(c.openai_base_url, cases[i].base_url);
        if (cases[i].endpoint)
            assert_string_equal(c.azure_endpoint, cases[i].endpoint);
        if (cases[i].deployment)
            assert_string_equal(c.azure_deployment, cases[i].deployment);
        cfg_free(&c);
        clear_env();
    }

    setenv("LOCAL_OPENAI_ENDPOINT", "", 1); /* empty counts as unset */
    load_ok(&c, NULL);
    assert_string_equal(c.provider, "mock");
    cfg_free(&c);
}

/* A problem after strings and lists were set frees them (ASan checks). */
static void test_error_frees(void **state)
{
    (void)state;
    const char *f = file("partial.conf", "pidfile = /tmp/p\nuser = u\n"
                                         "bind = 1:1 2:2\ntimeout = x\n");
    char want[256];
    snprintf(want, sizeof(want), "%s:4: timeout: expected an integer, got 'x'\n", f);
    load_fails(want, "-c", f, "-b", "3:3", "--access-logfile", "/tmp/a", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_shipped_conf_is_defaults, setup),
        cmocka_unit_test_setup(test_precedence, setup),
        cmocka_unit_test_setup(test_config_from_env, setup),
        cmocka_unit_test_setup(test_bind_lists, setup),
        cmocka_unit_test_setup(test_workers, setup),
        cmocka_unit_test_setup(test_value_forms, setup),
        cmocka_unit_test_setup(test_file_errors, setup),
        cmocka_unit_test_setup(test_file_blank_lines, setup),
        cmocka_unit_test_setup(test_file_empty_key, setup),
        cmocka_unit_test_setup(test_file_duplicates, setup),
        cmocka_unit_test_setup(test_file_limits, setup),
        cmocka_unit_test_setup(test_env_errors, setup),
        cmocka_unit_test_setup(test_cli_errors, setup),
        cmocka_unit_test_setup(test_actions, setup),
        cmocka_unit_test_setup(test_error_frees, setup),
        cmocka_unit_test_setup(test_sample_env, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
