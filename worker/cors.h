/*
 * cors — Cross-Origin Resource Sharing for the router (app.c): what lets
 * a page served from another origin (openai-chat-frontend-vanillajs in
 * front of openai-chat-backend-fastapi) call /chat, /chat/stream and the
 * gateway. It answers as Starlette's CORSMiddleware does when configured
 * as that sample configures it: allow_origins from `allowed_origins`
 * (env ALLOWED_ORIGINS), allow_methods and allow_headers "*",
 * allow_credentials true, max_age 600.
 *
 *  - A preflight (OPTIONS with Origin and Access-Control-Request-Method)
 *    on a route's path is answered here: 204 with Access-Control-Allow-
 *    Origin (the origin itself), -Allow-Methods (all of Starlette's),
 *    -Allow-Headers (the requested ones, mirrored), -Max-Age: 600,
 *    -Allow-Credentials: true and Vary: Origin; an origin not allowed (or
 *    a method outside Starlette's list) gets 400 {"error": "Disallowed
 *    CORS origin"}. Starlette answers 200 "OK"; browsers take any 2xx.
 *  - Any other request with an allowed Origin gets Access-Control-Allow-
 *    Origin (the origin), Vary: Origin and -Allow-Credentials: true on
 *    whatever the route answers (streams and errors too). With "*" it is
 *    Access-Control-Allow-Origin: * unless the request carries
 *    credentials (Cookie or Authorization), which needs the origin itself.
 *  - No allowed_origins, or no Origin header: nothing is added.
 *
 * Ownership: none. The functions read the request and the cfg's list and
 * add response headers through http.h; they keep nothing.
 */
#ifndef LLMFORK_CORS_H
#define LLMFORK_CORS_H

#include "worker/server/http.h"

struct cfg_list;

/* 1 when origins is not empty and r is a CORS preflight. */
int cors_is_preflight(const struct http_req *r, const struct cfg_list *origins);
/* Answers a preflight (cors_is_preflight was 1); ends the request. */
void cors_preflight(struct http_req *r, const struct cfg_list *origins);
/* Adds the response headers a cross-origin request from an allowed
 * origin gets; before the route answers. Nothing for other requests. */
void cors_response(struct http_req *r, const struct cfg_list *origins);

#endif
