/* log: the line format, levels, rotation with log_reopen, the access log,
 * and whole lines when several processes append to one file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

static char dir[64];
static char errpath[128], accpath[128];

static int group_setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/llmfork-log-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(errpath, sizeof(errpath), "%s/error.log", dir);
    snprintf(accpath, sizeof(accpath), "%s/access.log", dir);
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[96];
    (void)state;
    log_close();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static int fresh(void **state)
{
    (void)state;
    log_close();
    unlink(errpath);
    unlink(accpath);
    return 0;
}

/* The whole file as a string (caller frees). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t cap = 0;

    if (f == NULL)
        return strdup("");
    if (getdelim(&text, &cap, '\0', f) < 0) {
        free(text);
        text = strdup("");
    }
    fclose(f);
    return text;
}

/* "[YYYY-mm-dd HH:MM:SS +0000] [PID] [LEVEL] " ; returns the message. */
static const char *check_prefix(const char *line, const char *level)
{
    int y, mo, d, h, mi, s, pid, n = 0;
    char tag[16];

    assert_int_equal(sscanf(line, "[%4d-%2d-%2d %2d:%2d:%2d +0000] [%d] [%15[A-Z]] %n",
                            &y, &mo, &d, &h, &mi, &s, &pid, tag, &n),
                     8);
    assert_true(n > 0);
    assert_true(y >= 2024 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31);
    assert_int_equal(pid, getpid());
    assert_string_equal(tag, level);
    return line + n;
}

static void test_format_and_levels(void **state)
{
    (void)state;
    assert_int_equal(log_open(errpath, NULL, LOG_LVL_INFO), 0);
    log_debug("not shown");
    log_info("hello %d", 42);
    errno = ENOENT;
    log_error("open failed: %m");
    assert_int_equal(errno, ENOENT); /* logging keeps errno */
    log_set_level(LOG_LVL_DEBUG);
    assert_true(log_enabled(LOG_LVL_DEBUG));
    log_debug("now shown\n"); /* one newline, not two */
    log_set_level(LOG_LVL_CRITICAL);
    log_error("filtered");
    log_crit("last");

    char *text = slurp(errpath);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    assert_string_equal(check_prefix(line, "INFO"), "hello 42");
    line = strtok_r(NULL, "\n", &save);
    assert_string_equal(check_prefix(line, "ERROR"), "open failed: No such file or directory");
    line = strtok_r(NULL, "\n", &save);
    assert_string_equal(check_prefix(line, "DEBUG"), "now shown");
    line = strtok_r(NULL, "\n", &save);
    assert_string_equal(check_prefix(line, "CRITICAL"), "last");
    assert_null(strtok_r(NULL, "\n", &save));
    free(text);
}

static void test_level_names(void **state)
{
    (void)state;
    const char *names[] = { "debug", "info", "warning", "error", "critical" };
    for (int i = 0; i < 5; i++) {
        assert_int_equal(log_level_parse(names[i]), i);
        assert_string_equal(log_level_name(i), names[i]);
    }
    assert_int_equal(log_level_parse("WARNING"), LOG_LVL_WARNING);
    assert_int_equal(log_level_parse("warn"), -1);
    assert_string_equal(log_level_name(9), "?");
}

/* The fd open on path in this process, or -1. */
static int fd_of(const char *path)
{
    char link[64], target[PATH_MAX];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, path) == 0)
            return fd;
    }
    return -1;
}

/* Rotation: rename, reopen; new lines go to the new file on the same fd. */
static void test_reopen(void **state)
{
    char rotated[160];
    (void)state;

    snprintf(rotated, sizeof(rotated), "%s.1", errpath);
    assert_int_equal(log_open(errpath, accpath, LOG_LVL_INFO), 0);
    int fd = fd_of(errpath);
    assert_true(fd > 2);
    log_info("before");
    assert_int_equal(rename(errpath, rotated), 0);
    log_info("between");
    assert_int_equal(log_reopen(), 0);
    log_info("after");
    assert_int_equal(fd_of(errpath), fd);

    char *old = slurp(rotated), *cur = slurp(errpath);
    assert_non_null(strstr(old, "before"));
    assert_non_null(strstr(old, "between"));
    assert_null(strstr(old, "after"));
    assert_non_null(strstr(cur, "after"));
    assert_null(strstr(cur, "between"));
    free(old);
    free(cur);
    unlink(rotated);
}

static void test_access_log(void **state)
{
    (void)state;
    assert_int_equal(log_open(NULL, NULL, LOG_LVL_INFO), 0);
    assert_false(log_access_enabled());
    log_access_line("dropped\n", 8);
    assert_int_equal(log_open("-", accpath, LOG_LVL_INFO), 0);
    assert_true(log_access_enabled());
    log_access_line("1.2.3.4 - - x\n", 14);
    char *text = slurp(accpath);
    assert_string_equal(text, "1.2.3.4 - - x\n");
    free(text);
    assert_int_equal(log_open(NULL, "/nonexistent/dir/a.log", LOG_LVL_INFO), -1);
    assert_int_equal(errno, ENOENT);
}

/* nginx's access-log escaping; a short buffer gets whole escapes only and
 * the full length back, as snprintf. */
static void test_escape(void **state)
{
    char out[64];
    (void)state;

    assert_int_equal(log_escape(out, sizeof(out), "curl/8.0 (x; y)"), 15);
    assert_string_equal(out, "curl/8.0 (x; y)");
    const char *evil = "a\"b\\c\td\n\x01\x7f\xc3\xa9";
    assert_int_equal(log_escape(out, sizeof(out), evil), 36);
    assert_string_equal(out, "a\\x22b\\x5Cc\\x09d\\x0A\\x01\\x7F\\xC3\\xA9");
    assert_int_equal(log_escape(out, 4, "ab\"c"), 7);
    assert_string_equal(out, "ab"); /* not a cut "\\x2" */
    assert_int_equal(log_escape(out, 7, "ab\"c"), 7);
    assert_string_equal(out, "ab\\x22");
    assert_int_equal(log_escape(NULL, 0, "\""), 4);
    assert_int_equal(log_escape(out, sizeof(out), ""), 0);
    assert_string_equal(out, "");
}

static void test_long_message_is_one_line(void **state)
{
    (void)state;
    char *big = malloc(10000);
    memset(big, 'x', 9999);
    big[9999] = '\0';
    assert_int_equal(log_open(errpath, NULL, LOG_LVL_INFO), 0);
    log_warn("%s", big);
    char *text = slurp(errpath);
    assert_true(strlen(text) > 1000 && strlen(text) < 9999);
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
    free(text);
    free(big);
}

/* Four processes append 300 lines each: every line arrives whole. */
static void test_processes_do_not_interleave(void **state)
{
    enum { KIDS = 4,
           LINES = 300 };
    char pad[300];
    (void)state;

    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    assert_int_equal(log_open(errpath, NULL, LOG_LVL_INFO), 0);
    for (int k = 0; k < KIDS; k++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (int i = 0; i < LINES; i++)
                log_info("kid %d line %d %s end", k, i, pad);
            _exit(0);
        }
    }
    for (int k = 0; k < KIDS; k++) {
        int st;
        assert_true(wait(&st) > 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char *text = slurp(errpath), *save = NULL;
    int n = 0;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save), n++) {
        int k, i, m = 0;
        assert_int_equal(sscanf(strstr(l, "[INFO] "), "[INFO] kid %d line %d %n", &k, &i, &m), 2);
        assert_true(strncmp(l + strlen(l) - 4, " end", 4) == 0);
        assert_int_equal(strspn(strstr(l, "[INFO] ") + m, "p"), sizeof(pad) - 1);
    }
    assert_int_equal(n, KIDS * LINES);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_format_and_levels, fresh),
        cmocka_unit_test_setup(test_level_names, fresh),
        cmocka_unit_test_setup(test_reopen, fresh),
        cmocka_unit_test_setup(test_access_log, fresh),
        cmocka_unit_test_setup(test_escape, fresh),
        cmocka_unit_test_setup(test_long_message_is_one_line, fresh),
        cmocka_unit_test_setup(test_processes_do_not_interleave, fresh),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
