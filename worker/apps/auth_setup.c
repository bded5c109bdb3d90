/*
 * auth_setup — the azure-search-openai-demo's login routes, for its web
 * app, which asks them before it renders:
 *
 *   GET /auth_setup  the MSAL settings (login.h's login_setup_json), with
 *                    "useLogin": false when login is off
 *   GET /redirect    an empty page, MSAL's redirectUri (login on only)
 *
 * Ownership: the reply is built once at startup (the settings do not
 * change in a worker's life) and freed at shutdown.
 */
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "worker/app.h"
#include "worker/apps.h"
#include "worker/apps/login.h"

static void auth_setup(struct http_req *r, void *state)
{
    const char *json = state;

    http_resp_header(r, "Cache-Control", "no-store");
    http_resp_send(r, 200, "application/json", json, strlen(json));
}

static void redirect_page(struct http_req *r, void *state)
{
    (void)state;
    http_resp_send(r, 200, "text/html; charset=utf-8", "", 0);
}

static int auth_setup_startup(struct app_ctx *ctx)
{
    cJSON *setup = login_setup_json(app_cfg(ctx));
    char *json = setup ? cJSON_PrintUnformatted(setup) : NULL;

    cJSON_Delete(setup);
    if (!json)
        return app_fail(ctx, "out of memory"), -1;
    app_set_state(ctx, json);
    if (app_route(ctx, "GET", "/auth_setup", auth_setup, json) < 0 ||
        (app_cfg(ctx)->use_authentication &&
         app_route(ctx, "GET", "/redirect", redirect_page, NULL) < 0))
        return app_fail(ctx, "auth_setup: cannot add routes"), -1;
    return 0;
}

static void auth_setup_shutdown(struct app_ctx *ctx)
{
    free(app_state(ctx));
}

const struct app auth_setup_app = { "auth_setup", auth_setup_startup,
                                    auth_setup_shutdown };
