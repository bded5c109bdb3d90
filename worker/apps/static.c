/*
 * static — see static.h.
 *
 * Files are read with open/fstat/read into memory and sent with
 * http_resp_send, not with evbuffer_add_file: the HTTP module owns its
 * output buffers and does not hand them out, the files served here are a
 * web page's few kilobytes (a read from the page cache costs less than
 * the syscalls a sendfile path would add), and a whole body gives HEAD its
 * Content-Length for free. Larger files than STATIC_MAX_FILE are refused:
 * this is not a file server.
 */
#include "worker/apps/static.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/cfg.h"
#include "common/log.h"
#include "worker/apps.h"

#ifndef LLMFORK_WWW_DIR
#define LLMFORK_WWW_DIR "/usr/share/llmfork/www"
#endif

#define STATIC_MAX_FILE (8L << 20)

/* HTML is revalidated on every load, so a changed page shows at once;
 * scripts and styles may be reused for a few minutes. */
#define CACHE_HTML "no-cache"
#define CACHE_OTHER "public, max-age=300"
/* The page loads only its own files: no CDN, nothing inline. */
#define PAGE_CSP "default-src 'self'; img-src 'self' data:; " \
                 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

struct static_app {
    struct static_root root; /* static_dir; root.path NULL = none */
};

/* ---- pure helpers ---------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The next byte of a URL path, %XX decoded; -1 for a bad escape. */
static int next_byte(const char **p)
{
    const unsigned char *s = (const unsigned char *)*p;
    int hi, lo;

    if (*s != '%') {
        *p += 1;
        return *s;
    }
    if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
        return -1;
    *p += 3;
    return hi * 16 + lo;
}

int static_clean_path(const char *url_path, char *out, size_t n)
{
    static const char index_html[] = "index.html";
    const char *p = url_path;
    size_t o = 0;
    int dir = 1; /* the path ends in '/' */

    if (*p != '/' || n == 0)
        return -1;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        if (o > 0 && o + 1 >= n)
            return -1;
        if (o > 0)
            out[o++] = '/';
        size_t seg = o;
        while (*p != '\0' && *p != '/') {
            int c = next_byte(&p);
            /* An encoded separator or NUL could smuggle a segment past
             * the checks below. */
            if (c <= 0 || c == '/' || c == '\\' || o + 1 >= n)
                return -1;
            out[o++] = (char)c;
        }
        if (out[seg] == '.') /* ".", "..", and hidden files */
            return -1;
        dir = *p == '/';
    }
    if (dir) {
        if (o + (o > 0) + sizeof(index_html) > n)
            return -1;
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, index_html, sizeof(index_html));
        return 0;
    }
    out[o] = '\0';
    return 0;
}

const char *static_content_type(const char *name)
{
    static const char *const types[][2] = {
        { "html", "text/html; charset=utf-8" },
        { "htm", "text/html; charset=utf-8" },
        { "css", "text/css; charset=utf-8" },
        { "js", "text/javascript; charset=utf-8" },
        { "mjs", "text/javascript; charset=utf-8" },
        { "json", "application/json" },
        { "map", "application/json" },
        { "txt", "text/plain; charset=utf-8" },
        { "md", "text/markdown; charset=utf-8" },
        { "xml", "application/xml" },
        { "svg", "image/svg+xml" },
        { "png", "image/png" },
        { "jpg", "image/jpeg" },
        { "jpeg", "image/jpeg" },
        { "gif", "image/gif" },
        { "webp", "image/webp" },
        { "ico", "image/x-icon" },
        { "woff", "font/woff" },
        { "woff2", "font/woff2" },
        { "wasm", "application/wasm" },
        { "pdf", "application/pdf" },
        { "csv", "text/csv; charset=utf-8" },
        { "docx", "application/vnd.openxmlformats-officedocument."
                  "wordprocessingml.document" },
        { "xlsx", "application/vnd.openxmlformats-officedocument."
                  "spreadsheetml.sheet" },
        { "pptx", "application/vnd.openxmlformats-officedocument."
                  "presentationml.presentation" },
    };
    const char *base = strrchr(name, '/');
    const char *dot = strrchr(base ? base : name, '.');

    if (dot != NULL)
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i][0]) == 0)
                return types[i][1];
    return "application/octet-stream";
}

void static_http_date(time_t t, char *buf, size_t n)
{
    struct tm tm;

    /* The worker never calls setlocale, so %a and %b are English. */
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        snprintf(buf, n, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/* Weak comparison (RFC 9110 8.8.3.2): a W/ prefix does not matter. */
static int etag_listed(const char *etag, const char *list)
{
    size_t tl = strlen(etag);

    for (const char *p = list; *p != '\0';) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        size_t len = strcspn(p, ",");
        size_t end = len;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end == tl && memcmp(p, etag, tl) == 0)
            return 1;
        p += len;
    }
    return 0;
}

int static_not_modified(const char *etag, time_t mtime,
                        const char *if_none_match,
                        const char *if_modified_since)
{
    struct tm tm = { 0 };
    const char *end;

    /* If-None-Match, when present, decides alone (RFC 9110 13.2.2). */
    if (if_none_match != NULL)
        return etag_listed(etag, if_none_match);
    if (if_modified_since == NULL)
        return 0;
    end = strptime(if_modified_since, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return end != NULL && *end == '\0' && mtime <= timegm(&tm);
}

/* ---- the app ----------------------------------------------------------- */

/* A path for the error log: a file's name may hold a newline or terminal
 * escapes, escaped as the access log escapes a client's fields. */
static const char *shown(const char *path, char *buf, size_t n)
{
    log_escape(buf, n, path);
    return buf;
}

/* What a failed lookup or open answers: anything that means "no such
 * servable file" is a 404, the rest (EMFILE, EIO, ...) a 500. */
static void refuse(struct http_req *r, const char *what, int err)
{
    char buf[512];

    if (err == ENOENT || err == ENOTDIR || err == ELOOP || err == EACCES ||
        err == ENAMETOOLONG || err == 0) {
        http_resp_error(r, 404, "not found");
        return;
    }
    log_warn("static: %s: %s", shown(what, buf, sizeof(buf)), strerror(err));
    http_resp_error(r, 500, "cannot read the file");
}

/* Reads up to size bytes; returns the count, or -1. */
static ssize_t read_all(int fd, char *buf, size_t size)
{
    size_t got = 0;

    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static void add_headers(struct http_req *r, const char *type,
                        const char *etag, const char *date)
{
    int html = strncmp(type, "text/html", 9) == 0;

    http_resp_header(r, "ETag", etag);
    http_resp_header(r, "Last-Modified", date);
    http_resp_header(r, "Cache-Control", html ? CACHE_HTML : CACHE_OTHER);
    http_resp_header(r, "X-Content-Type-Options", "nosniff");
    if (html)
        http_resp_header(r, "Content-Security-Policy", PAGE_CSP);
}

/* Sends the open regular file fd (path for logs) with its caching headers. */
static void send_file(struct http_req *r, int fd, const struct stat *st,
                      const char *path)
{
    const char *type = static_content_type(path);
    char etag[64], date[40];

    snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
             (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st->st_mtim.tv_nsec);
    static_http_date(st->st_mtime, date, sizeof(date));
    add_headers(r, type, etag, date);
    if (static_not_modified(etag, st->st_mtime,
                            http_req_header(r, "If-None-Match"),
                            http_req_header(r, "If-Modified-Since"))) {
        http_resp_send(r, 304, NULL, NULL, 0);
        return;
    }
    char *buf = malloc((size_t)st->st_size + 1);
    ssize_t got = buf ? read_all(fd, buf, (size_t)st->st_size) : -1;
    if (got < 0)
        refuse(r, path, buf ? errno : ENOMEM);
    else
        http_resp_send(r, 200, type, buf, (size_t)got);
    free(buf);
}

int static_root_open(struct static_root *root, const char *dir)
{
    if ((root->path = realpath(dir, NULL)) == NULL)
        return -1;
    root->len = strlen(root->path);
    return 0;
}

void static_root_close(struct static_root *root)
{
    free(root->path);
    root->path = NULL;
}

void static_serve_rel(struct http_req *r, const struct static_root *root,
                      const char *rel)
{
    char full[PATH_MAX], real[PATH_MAX];
    struct stat st;
    int fd;

    if ((size_t)snprintf(full, sizeof(full), "%s/%s", root->path, rel) >=
        sizeof(full)) {
        refuse(r, http_req_path(r), 0);
        return;
    }
    if (realpath(full, real) == NULL) {
        refuse(r, full, errno);
        return;
    }
    /* Symlinks may point anywhere; only what resolves inside is served. */
    if (strncmp(real, root->path, root->len) != 0 ||
        (root->len > 1 && real[root->len] != '/')) {
        refuse(r, real, 0);
        return;
    }
    /* O_NONBLOCK: opening a FIFO someone left there must not hang the loop. */
    fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) < 0) {
        refuse(r, real, errno);
    } else if (!S_ISREG(st.st_mode)) {
        refuse(r, real, 0);
    } else if (st.st_size > STATIC_MAX_FILE) {
        char buf[512];

        log_warn("static: %s: larger than %ld bytes, not served",
                 shown(real, buf, sizeof(buf)), STATIC_MAX_FILE);
        http_resp_error(r, 500, "file too large");
    } else {
        send_file(r, fd, &st, real);
    }
    if (fd >= 0)
        close(fd);
}

static void serve(struct http_req *r, void *state)
{
    const struct static_app *app = state;
    char rel[PATH_MAX];

    if (static_clean_path(http_req_path(r), rel, sizeof(rel)) < 0)
        refuse(r, http_req_path(r), 0);
    else
        static_serve_rel(r, &app->root, rel);
}

static int static_startup(struct app_ctx *ctx)
{
    const struct cfg *c = app_cfg(ctx);
    const char *dir = c->static_dir ? c->static_dir : LLMFORK_WWW_DIR;
    struct static_app *app = calloc(1, sizeof(*app));

    if (app == NULL)
        return app_fail(ctx, "out of memory"), -1;
    app_set_state(ctx, app);
    if (static_root_open(&app->root, dir) < 0) {
        /* A directory someone configured must exist; the built-in one may
         * be missing when the binary was copied away from the source tree:
         * the API still works, only the page is absent. */
        if (c->static_dir)
            return app_fail(ctx, "static_dir %s: %s", dir, strerror(errno)), -1;
        log_warn("static: %s: %s; no web page is served (set static_dir)",
                 dir, strerror(errno));
        return 0;
    }
    if (app_route(ctx, "GET", "/*", serve, app) < 0)
        return app_fail(ctx, "static: cannot add routes"), -1;
    return 0;
}

static void static_shutdown(struct app_ctx *ctx)
{
    struct static_app *app = app_state(ctx);

    if (app != NULL)
        static_root_close(&app->root);
    free(app);
}

const struct app static_app = { "static", static_startup, static_shutdown };
