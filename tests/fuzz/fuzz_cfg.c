/*
 * fuzz_cfg — the config file reader (common/cfg.c) against libinih.
 *
 * cfg reads the file through libinih itself (ini_parse_stream), so the
 * INI grammar is libinih's; what is cfg's own is the layer above it: a
 * scanner that reads every line the way libinih will, so as to report
 * every malformed line with its number (libinih stops at its first),
 * then the keys and values. This target loads the input as a config
 * file with cfg_load() and asks libinih's ini_parse_string() about the
 * same text: accept and reject must agree, on the same first line. cfg
 * says "FILE:N: syntax error" only when libinih found a malformed line N
 * that its scanner did not, which is a disagreement too.
 *
 * Input: the file's text (up to a NUL, as libinih reads a string). Lines
 * as long as libinih's line limit are left out (cfg reports those as too
 * long, where ini_parse_string reads them in pieces).
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ini.h>

#include "common/cfg.h"
#include "tests/fuzz/fuzz.h"

static int any_pair(void *user, const char *section, const char *name,
                    const char *value)
{
    (void)user, (void)section, (void)name, (void)value;
    return 1;
}

/* The first line of errors that reports a malformed line of the file, or
 * 0; *generic is set when it is libinih's bare "syntax error". */
static int first_malformed(const char *errors, const char *file, int *generic)
{
    size_t fl = strlen(file);
    int first = 0;

    *generic = 0;
    for (const char *l = errors; l && *l; l = strchr(l, '\n') + 1) {
        if (strncmp(l, file, fl) == 0 && l[fl] == ':') {
            char *end;
            long n = strtol(l + fl + 1, &end, 10);
            const char *msg = end + 2;

            if (strncmp(msg, "missing ']'", 11) == 0 ||
                strncmp(msg, "expected KEY = VALUE", 20) == 0 ||
                strncmp(msg, "syntax error", 12) == 0) {
                if (first == 0 || n < first)
                    first = (int)n;
                if (msg[0] == 's')
                    *generic = 1;
            }
        }
        if (strchr(l, '\n') == NULL)
            break;
    }
    return first;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), path[64], *errors = NULL;
    struct cfg c;
    size_t len, line = 0;

    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    len = strlen(text);
    for (size_t i = 0; i < len; i++) {
        line = text[i] == '\n' ? 0 : line + 1;
        if (line + 2 >= (size_t)ini_max_line) {
            free(text);
            return 0;
        }
    }

    int fd = memfd_create("fuzz.conf", 0);

    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, text, len) == (ssize_t)len);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    char *argv[] = { "llmfork", "-c", path, NULL };
    int generic, nerr = cfg_load(&c, 3, argv, &errors);
    int ini = ini_parse_string(text, any_pair, NULL);

    FUZZ_CHECK(ini >= 0);
    if (nerr == 0)
        cfg_free(&c);
    int first = first_malformed(errors, path, &generic);

    if (ini != first || generic)
        fprintf(stderr, "libinih: %d, cfg: %d\n%s", ini, first,
                errors ? errors : "");
    FUZZ_CHECK(!generic);
    FUZZ_CHECK(ini == first);
    free(errors);
    close(fd);
    free(text);
    return 0;
}
