/*
 * static — the static-files app: GET and HEAD of the files under
 * static_dir (default: the web chat page shipped in worker/www), "/" and
 * any path ending in '/' meaning index.html. It is the last app in the
 * worker's list, so it only sees the GET paths no other app took.
 *
 * Safety: the URL path is decoded and checked by static_clean_path (no
 * "..", no dot-files, no encoded '/' or '\', no NUL), then the file's
 * realpath must lie under static_dir's realpath, so symlinks that lead
 * out are refused too. Every refusal is the same 404 {"error":"not found"}.
 *
 * Caching: ETag (size and mtime) and Last-Modified, 304 on If-None-Match /
 * If-Modified-Since; Cache-Control no-cache for HTML (always revalidated,
 * so a new page shows at once), a short max-age for the rest.
 *
 * The pure helpers below are here for tests/unit/worker/apps/test_static.c.
 * Ownership: the app's state (static_dir's realpath) is built at startup
 * and freed at shutdown; helpers write only into the caller's buffers.
 */
#ifndef LLMFORK_STATIC_H
#define LLMFORK_STATIC_H

#include <stddef.h>
#include <time.h>

#include "worker/server/http.h"

/* A folder files are served from (static_dir, content_dir): its realpath,
 * owned (static_root_close frees it). */
struct static_root {
    char *path;
    size_t len;
};

/* Resolves dir. Returns 0, or -1 with errno. */
int static_root_open(struct static_root *root, const char *dir);
void static_root_close(struct static_root *root);

/* Answers r with the file rel (a path static_clean_path made) under root,
 * with the safety, caching and errors described above: what resolves
 * outside root (a symlink), is not a regular file or cannot be opened is
 * the same 404; GET /content (worker/apps/content.h) serves through it
 * too. */
void static_serve_rel(struct http_req *r, const struct static_root *root,
                      const char *rel);

/* Turns a URL path ("/css/a%20b.css", as sent, without the query) into a
 * path relative to static_dir ("css/a b.css"); "/" and ".../" get
 * "index.html" appended. Returns 0, or -1 when the path must not be served
 * (see above) or does not fit in n bytes. */
int static_clean_path(const char *url_path, char *out, size_t n);

/* The Content-Type for a file name, by extension (case-insensitive);
 * application/octet-stream when unknown. */
const char *static_content_type(const char *name);

/* Writes an HTTP date (RFC 9110 IMF-fixdate) into buf (>= 30 bytes). */
void static_http_date(time_t t, char *buf, size_t n);

/* 1 when the client's copy is current: If-None-Match (when sent) lists
 * etag or "*" (weak comparison); otherwise If-Modified-Since (when sent)
 * is at or after mtime. Either header may be NULL. */
int static_not_modified(const char *etag, time_t mtime,
                        const char *if_none_match,
                        const char *if_modified_since);

#endif
