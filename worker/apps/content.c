/* content — GET /content/<path> (see content.h). */
#include "worker/apps/content.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "worker/app.h"
#include "worker/apps.h"
#include "worker/apps/blob.h"
#include "worker/apps/static.h"

#define CONTENT_PREFIX "/content"

struct content_app {
    struct static_root dir; /* content_dir; path NULL = blobs */
    struct blob *blob;
};

void content_drop_page(char *path)
{
    char *last = NULL;

    for (char *p = strstr(path, "#page="); p; p = strstr(p + 1, "#page="))
        last = p;
    if (last && last > path)
        *last = '\0';
}

static void content_get(struct http_req *r, void *state)
{
    struct content_app *app = state;
    const char *path = http_req_path(r) + strlen(CONTENT_PREFIX);
    char rel[PATH_MAX];
    size_t n = strlen(path);

    /* A folder's URL is no file: static_clean_path would make it
     * index.html. */
    if (n < 2 || path[n - 1] == '/' ||
        static_clean_path(path, rel, sizeof(rel)) < 0) {
        http_resp_error(r, 404, "not found");
        return;
    }
    content_drop_page(rel);
    if (app->dir.path)
        static_serve_rel(r, &app->dir, rel);
    else
        blob_serve(app->blob, r, rel);
}

static int content_startup(struct app_ctx *ctx)
{
    const struct cfg *c = app_cfg(ctx);
    struct content_app *app = calloc(1, sizeof(*app));
    char err[256];

    if (!app)
        return app_fail(ctx, "out of memory"), -1;
    app_set_state(ctx, app);
    if (c->content_dir) {
        if (static_root_open(&app->dir, c->content_dir) < 0)
            return app_fail(ctx, "content_dir %s: %s", c->content_dir,
                            strerror(errno)),
                   -1;
    } else if (!(app->blob = blob_open(c, err, sizeof(err)))) {
        if (err[0])
            return app_fail(ctx, "content: %s", err), -1;
        return 0; /* no content source: no route */
    }
    if (app_route(ctx, "GET", CONTENT_PREFIX "/*", content_get, app) < 0)
        return app_fail(ctx, "content: cannot add routes"), -1;
    return 0;
}

static void content_shutdown(struct app_ctx *ctx)
{
    struct content_app *app = app_state(ctx);

    if (!app)
        return;
    static_root_close(&app->dir);
    blob_close(app->blob);
    free(app);
}

const struct app content_app = { "content", content_startup,
                                 content_shutdown };
