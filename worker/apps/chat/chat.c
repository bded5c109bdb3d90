/*
 * chat — the chat app of the Azure OpenAI samples, for
 * @microsoft/ai-chat-protocol clients:
 *
 *   POST /chat         -> {"message":{"role":"assistant","content":...},
 *                          "context":{...},"session_state":...}
 *   POST /chat/stream  -> application/x-ndjson, one JSON object per line:
 *                         {"delta":{"role":"assistant"},"context":{...},
 *                          "session_state":...}
 *                         {"delta":{"content":"...","role":"assistant"}} ...
 *
 * Hot path (one line per upstream token): the upstream's SSE is parsed in
 * place (common/sse.c), each chunk read by delta.c's scanner (cJSON only
 * for chunks it leaves alone), and the NDJSON line escaped on the stack
 * and written as one piece; no tree built, nothing allocated per chunk.
 *
 * Ownership: struct chat (one per request) is owned by this file. It is
 * freed when both the model call has finished (or was cancelled) and the
 * client response has ended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "common/cfg.h"
#include "common/json.h"
#include "common/log.h"
#include "common/sse.h"
#include "common/str.h"
#include "worker/app.h"
#include "worker/apps/chat/chatreq.h"
#include "worker/apps/chat/delta.h"
#include "worker/apps/chat/democonfig.h"
#include "worker/apps/chat/followup.h"
#include "worker/apps/chat/rag.h"
#include "worker/apps/chat/reasoning.h"
#include "worker/apps/login.h"
#include "worker/model/relay.h"

struct chat_app {
    const struct cfg *cfg;
    struct model *model;
    struct rag *rag;     /* rag = search, else NULL */
    struct login *login; /* use_authentication, else NULL */
    struct str_buf line; /* scratch for one NDJSON line */
    char *config;        /* GET /config's reply (democonfig.h) */
};

struct chat {
    struct relay rl;
    struct chat_app *app;
    struct sse_parser sse;
    struct reasoning rs;    /* <think> content -> thinking lines */
    struct delta_memo memo; /* the chunks' repeated first bytes */
    struct rag_run *rag;    /* the RAG steps before the model call */
    char *head;             /* the first stream line's context part */
    struct followup fu;     /* the demo's follow-up questions */
    char *extra;            /* with them: the RAG context, as JSON */
    unsigned followups : 1; /* asked for: cut them out of the text */
    unsigned stream : 1;
    unsigned done_seen : 1; /* [DONE] arrived */
};

static void chat_free(struct relay *rl)
{
    struct chat *ch = (struct chat *)rl;

    if (ch->rag)
        rag_cancel(ch->rag);
    relay_free(&ch->rl);
    sse_free(&ch->sse);
    delta_memo_free(&ch->memo);
    free(ch->head);
    followup_free(&ch->fu);
    free(ch->extra);
    free(ch);
}

/* Writes one NDJSON line: pre, the escaped text, post (relay.h). */
static void write_line(struct chat *ch, const char *pre, const char *s,
                       size_t len, const char *post)
{
    relay_write_line(&ch->rl, &ch->app->line, pre, s, len, post);
}

static void write_error_line(struct chat *ch, const char *msg)
{
    write_line(ch, "{\"error\":\"", msg, strlen(msg), "\"}\n");
}

static void write_delta(struct chat *ch, const char *s, size_t len)
{
    write_line(ch, "{\"delta\":{\"content\":\"", s, len,
               "\",\"role\":\"assistant\"}}\n");
}

/* A reasoning model's thinking: its own line, in the delta's context
 * (ai-chat-protocol's per-delta context), so clients that only read
 * delta.content show the answer alone. */
static void write_thought(struct chat *ch, const char *s, size_t len)
{
    write_line(ch, "{\"delta\":{\"role\":\"assistant\",\"context\":"
                   "{\"thoughts\":\"",
               s, len, "\"}}}\n");
}

static void emit_answer(void *arg, const char *p, size_t n)
{
    write_delta(arg, p, n);
}

static void emit_split(void *arg, int thinking, const char *p, size_t n)
{
    struct chat *ch = arg;

    if (thinking)
        write_thought(ch, p, n);
    else if (ch->followups)
        followup_feed(&ch->fu, p, n, emit_answer, ch);
    else
        write_delta(ch, p, n);
}

/* The follow-ups, after the answer, in the sample's line:
 *   {"delta":{"role":"assistant"},"context":{"context":EXTRA,
 *    "followup_questions":[...]}}            (EXTRA: the first line's) */
static void write_followups(struct chat *ch)
{
    cJSON *q = followup_questions(&ch->fu);
    char *qs = q ? cJSON_PrintUnformatted(q) : NULL;
    char *line = qs ? str_fmt("{\"delta\":{\"role\":\"assistant\"},"
                              "\"context\":{\"context\":%s,"
                              "\"followup_questions\":%s}}\n",
                              ch->extra ? ch->extra : "null", qs)
                    : NULL;

    if (line)
        relay_write(&ch->rl, line, strlen(line));
    else
        write_error_line(ch, "out of memory");
    free(line);
    cJSON_free(qs);
    cJSON_Delete(q);
}

/* The answer's text is all in: what the filters held back goes out. */
static void finish_text(struct chat *ch)
{
    reasoning_finish(&ch->rs, emit_split, ch);
    if (!ch->followups)
        return;
    followup_finish(&ch->fu, emit_answer, ch);
    if (followup_started(&ch->fu))
        write_followups(ch);
}

static const char filtered_msg[] =
    "the answer was stopped by the model provider's content filter";

/* A chunk the fast path left alone (an error, a filter stop, thinking,
 * anything odd): read with cJSON. Returns as on_event. */
static int on_chunk_tree(struct chat *ch, const struct sse_event *ev)
{
    cJSON *o = json_parse(ev->data, ev->data_len, NULL, 0);
    if (!o) {
        write_error_line(ch, "the model sent a malformed chunk");
        return -1;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (err) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
        write_error_line(ch, cJSON_IsString(m) ? m->valuestring
                                               : "the model failed mid-stream");
        cJSON_Delete(o);
        return -1;
    }
    const cJSON *choice = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(o, "choices"), 0);
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
    if (cJSON_IsString(fin) && strcmp(fin->valuestring, "content_filter") == 0) {
        /* Azure stopped the answer: say so rather than end as if whole. */
        write_error_line(ch, filtered_msg);
        cJSON_Delete(o);
        return -1;
    }
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(delta, "content");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(delta,
                                                      "reasoning_content");
    const cJSON *no = cJSON_GetObjectItemCaseSensitive(delta, "refusal");
    if (cJSON_IsString(t) && t->valuestring[0])
        write_thought(ch, t->valuestring, strlen(t->valuestring));
    if (cJSON_IsString(c) && c->valuestring[0])
        reasoning_feed(&ch->rs, c->valuestring, strlen(c->valuestring),
                       emit_split, ch);
    /* A refusal comes instead of content: it is the answer to show
     * (OpenAI's advice), not silence. */
    if (cJSON_IsString(no) && no->valuestring[0])
        write_delta(ch, no->valuestring, strlen(no->valuestring));
    cJSON_Delete(o);
    return 0;
}

/* The usual chunk: its content decoded on the stack (decoding never
 * grows it), or in a heap block when it is long. Returns as on_event. */
static int on_content(struct chat *ch, const struct delta *d)
{
    char stack[1024], *buf = stack;
    size_t n = d->content_len;

    if (d->escaped) {
        if (n > sizeof(stack) && !(buf = malloc(n))) {
            write_error_line(ch, "out of memory");
            return -1;
        }
        n = delta_unescape(d->content, n, buf);
    }
    if (n > 0)
        reasoning_feed(&ch->rs, d->escaped ? buf : d->content, n,
                       emit_split, ch);
    if (buf != stack)
        free(buf);
    return 0;
}

/* Returns 0 to go on, -1 to stop the stream (an error line was written). */
static int on_event(const struct sse_event *ev, void *arg)
{
    struct chat *ch = arg;
    struct delta d;

    if (ev->done) {
        ch->done_seen = 1;
        return 1; /* the answer is whole: see end_at_done */
    }
    if (delta_scan(ev->data, ev->data_len, &d, &ch->memo) != DELTA_OK)
        return on_chunk_tree(ch, ev);
    return d.content != NULL ? on_content(ch, &d) : 0;
}

static void start_stream(struct chat *ch)
{
    http_resp_header(ch->rl.req, "X-Accel-Buffering", "no");
    http_resp_header(ch->rl.req, "Cache-Control", "no-cache");
    http_resp_start(ch->rl.req, 200, "application/x-ndjson");
    ch->rl.started = 1;
    relay_write(&ch->rl, ch->head, strlen(ch->head));
    /* written once; a held stream need not keep it */
    free(ch->head);
    ch->head = NULL;
}

static void on_headers(struct model_call *c, int status, void *arg)
{
    struct chat *ch = arg;
    (void)c;

    ch->rl.status = status;
    if (status < 400 && ch->stream)
        start_stream(ch);
}

/* [DONE] ends the answer: the client's stream ends now, not when the
 * upstream ends its response, which a server or a proxy may hold open
 * (the client then waited, and got an idle timeout's error after a whole
 * answer). The call runs out on its own, so that its connection is
 * reused; nothing it does reaches the client any more. */
static void end_at_done(struct chat *ch)
{
    finish_text(ch);
    if (ch->rl.paused) { /* no drain will come to resume it */
        ch->rl.paused = 0;
        model_resume(ch->rl.call);
    }
    relay_finish(&ch->rl);
}

static void on_data(struct model_call *c, const char *p, size_t n, void *arg)
{
    struct chat *ch = arg;

    if (!ch->stream || ch->rl.status >= 400) {
        relay_collect(&ch->rl, p, n);
        return;
    }
    if (ch->rl.ended)
        return;
    if (sse_feed(&ch->sse, p, n) != SSE_OK && ch->done_seen) {
        end_at_done(ch);
    } else if (ch->sse.status != SSE_OK) {
        if (ch->sse.status == SSE_ETOOBIG)
            write_error_line(ch, "the model sent an oversized event");
        /* The call ends now: the client's stream is complete. */
        model_cancel(c);
        ch->rl.call = NULL;
        relay_finish(&ch->rl);
    }
}

static void reply_error(struct chat *ch, const struct relay_error *e)
{
    if (e->retry_after)
        http_resp_header(ch->rl.req, "Retry-After", e->retry_after);
    http_resp_error(ch->rl.req, e->status, e->msg);
    ch->rl.ended = 1;
}

static void collect_split(void *arg, int thinking, const char *p, size_t n)
{
    str_buf_add(&((struct str_buf *)arg)[thinking], p, n);
}

/* The answer's content, and a reasoning model's thinking (its
 * reasoning_content field or <think> content) as message.context.thoughts. */
static void add_content(struct chat *ch, cJSON *m, const cJSON *msg,
                        const char *content)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "reasoning_content");
    struct str_buf parts[2] = { { 0 }, { 0 } };

    if (cJSON_IsString(t))
        str_buf_puts(&parts[1], t->valuestring);
    reasoning_feed(&ch->rs, content, strlen(content), collect_split, parts);
    reasoning_finish(&ch->rs, collect_split, parts);
    if (!parts[0].oom && !parts[1].oom) {
        cJSON_AddStringToObject(m, "content", str_buf_cstr(&parts[0]));
        if (parts[1].len)
            cJSON_AddStringToObject(cJSON_AddObjectToObject(m, "context"),
                                    "thoughts", str_buf_cstr(&parts[1]));
    }
    for (int i = 0; i < 2; i++)
        str_buf_free(&parts[i]);
}

static void collect_answer(void *arg, const char *p, size_t n)
{
    str_buf_add(arg, p, n);
}

/* The demo's follow-ups out of m's content, into ctx.followup_questions. */
static void cut_followups(struct chat *ch, cJSON *m, cJSON *ctx)
{
    cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    struct str_buf b = { 0 };
    cJSON *q;

    if (!cJSON_IsString(content))
        return;
    followup_feed(&ch->fu, content->valuestring,
                  strlen(content->valuestring), collect_answer, &b);
    followup_finish(&ch->fu, collect_answer, &b);
    if (followup_started(&ch->fu) && !b.oom &&
        (q = followup_questions(&ch->fu))) {
        cJSON_ReplaceItemInObjectCaseSensitive(
            m, "content", cJSON_CreateString(str_buf_cstr(&b)));
        cJSON_ReplaceItemInObjectCaseSensitive(ctx, "followup_questions", q);
    }
    str_buf_free(&b);
}

/* /chat: the whole answer in the samples' shape. */
static void reply_whole(struct chat *ch)
{
    size_t len;
    const char *body = relay_body(&ch->rl, &len);
    cJSON *up = json_parse(body, len, NULL, 0);
    const cJSON *choice = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(up, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(choice,
                                                        "finish_reason");

    /* content is null when the model refused: the refusal is the answer */
    if (!cJSON_IsString(content) && cJSON_IsString(refusal))
        content = refusal;

    if (cJSON_IsString(fin) && strcmp(fin->valuestring, "content_filter") == 0) {
        /* Azure filtered the answer: no content, or only its start. The
         * same 400 as a filtered prompt, not a partial answer as whole. */
        struct relay_error e = { .status = 400 };
        snprintf(e.msg, sizeof(e.msg), "%s", filtered_msg);
        reply_error(ch, &e);
    } else if (!cJSON_IsString(content)) {
        struct relay_error e = { .status = 502 };
        snprintf(e.msg, sizeof(e.msg), "the model's answer had no content");
        reply_error(ch, &e);
    } else {
        char *text = NULL;
        cJSON *out = cJSON_Parse(ch->head); /* context + session_state */
        cJSON *m = cJSON_CreateObject();
        cJSON_DeleteItemFromObjectCaseSensitive(out, "delta");
        cJSON_AddStringToObject(m, "role", "assistant");
        add_content(ch, m, msg, content->valuestring);
        if (ch->followups)
            cut_followups(ch, m, cJSON_GetObjectItemCaseSensitive(out, "context"));
        cJSON_AddItemToObject(out, "message", m);
        text = cJSON_PrintUnformatted(out);
        if (text)
            http_resp_send(ch->rl.req, 200, "application/json", text, strlen(text));
        else
            http_resp_error(ch->rl.req, 500, "out of memory");
        ch->rl.ended = 1;
        free(text);
        cJSON_Delete(out);
    }
    cJSON_Delete(up);
}

static void on_done(struct model_call *c, const struct fetch_result *res,
                    void *arg)
{
    struct chat *ch = arg;
    struct relay_error e;
    int failed = relay_error(&ch->rl, res, &e);
    (void)c;

    if (ch->rl.started) {
        int cut = sse_finish(&ch->sse);
        if (!ch->rl.ended)
            finish_text(ch);
        if (!ch->rl.ended && failed)
            write_error_line(ch, e.msg);
        else if (!ch->rl.ended && (cut || !ch->done_seen))
            write_error_line(ch, "the model's stream ended early");
    } else if (!ch->rl.ended) {
        if (failed)
            reply_error(ch, &e);
        else if (ch->stream)
            reply_error(ch, &(struct relay_error){ .status = 502,
                                                   .msg = "the model sent no stream" });
        else
            reply_whole(ch);
    }
    ch->rl.call = NULL;
    relay_finish(&ch->rl);
}

static const struct model_cbs cbs = { on_headers, on_data, on_done };

/* Takes s; returns it with a '\n' appended, or NULL. */
static char *with_newline(char *s)
{
    char *l = s ? realloc(s, strlen(s) + 2) : NULL;

    if (!l) {
        free(s);
        return NULL;
    }
    return strcat(l, "\n");
}

static void start_call(struct chat *ch, char *body, size_t len)
{
    ch->rl.call = model_start(ch->app->model, body, len, ch->stream,
                              ch->stream, &cbs, ch);
    if (!ch->rl.call) {
        http_resp_error(ch->rl.req, 500, "could not start the model call");
        ch->rl.ended = 1;
        relay_finish(&ch->rl);
    }
}

/* The sources are in: their context (data_points, thoughts) joins the
 * first line's, and the grounded answer is asked for. */
static void rag_ready(void *arg, char *body, size_t len, cJSON *context,
                      int followups)
{
    struct chat *ch = arg;
    cJSON *head = cJSON_Parse(ch->head), *item;
    cJSON *ctx = cJSON_GetObjectItemCaseSensitive(head, "context");

    ch->rag = NULL;
    ch->followups = followups != 0;
    if (followups && ch->stream &&
        !(ch->extra = cJSON_PrintUnformatted(context)))
        ctx = NULL; /* out of memory: said below */
    while (ctx && (item = context->child)) {
        cJSON_DetachItemViaPointer(context, item);
        cJSON_AddItemToObject(ctx, item->string, item);
    }
    free(ch->head);
    ch->head = ctx ? with_newline(cJSON_PrintUnformatted(head)) : NULL;
    cJSON_Delete(head);
    cJSON_Delete(context);
    if (!ch->head) {
        free(body);
        http_resp_error(ch->rl.req, 500, "out of memory");
        ch->rl.ended = 1;
        relay_finish(&ch->rl);
        return;
    }
    start_call(ch, body, len);
}

static void rag_fail(void *arg, int status, const char *msg,
                     const char *retry_after)
{
    struct chat *ch = arg;
    struct relay_error e = { .status = status, .retry_after = retry_after };

    ch->rag = NULL;
    snprintf(e.msg, sizeof(e.msg), "%s", msg);
    reply_error(ch, &e);
    relay_finish(&ch->rl);
}

static const struct rag_cbs rag_cbs = { rag_ready, rag_fail };

/* A new session_state: a version 4 UUID (RFC 9562), put in root in
 * place of old (the request's null, or NULL). */
static cJSON *session_new(cJSON *root, cJSON *old)
{
    unsigned char b[16];
    char id[37];
    cJSON *s;

    if (RAND_bytes(b, sizeof(b)) != 1)
        return NULL;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(id, sizeof(id), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5],
             b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    s = cJSON_CreateString(id);
    if (s && old)
        cJSON_Delete(cJSON_DetachItemViaPointer(root, old));
    if (s && !cJSON_AddItemToObject(root, "session_state", s)) {
        cJSON_Delete(s);
        s = NULL;
    }
    return s;
}

/* u: the signed-in user (login.h), or NULL when login is off. */
static void handle(struct http_req *r, struct chat_app *app, int stream,
                   const struct login_user *u)
{
    char err[256], *security = NULL;
    int status;
    struct chat_input in;
    cJSON *root = relay_parse_json(r, &status, err, sizeof(err));

    if (!root || chatreq_parse(root, app->cfg, &in, err, sizeof(err)) < 0) {
        http_resp_error(r, root ? 400 : status, err);
        cJSON_Delete(root);
        return;
    }
    if (login_filter(app->login, u, cJSON_GetObjectItemCaseSensitive(in.context, "overrides"), &security) < 0) {
        http_resp_error(r, 500, "out of memory");
        cJSON_Delete(root);
        return;
    }
    in.security_filter = security;
    /* The demo's app keeps the conversation's id it is given, and a new
     * conversation (none, or null: the frontend's first question) gets
     * one, as the sample mints it. */
    if (app->rag && (!in.session_state || cJSON_IsNull(in.session_state)) &&
        !(in.session_state = session_new(root, in.session_state))) {
        http_resp_error(r, 500, "out of memory");
        cJSON_Delete(root);
        free(security);
        return;
    }
    struct chat *ch = calloc(1, sizeof(*ch));
    size_t len = 0;
    char *body = NULL;
    if (ch)
        ch->head = chatreq_head(&in, model_provider(app->model),
                                model_name(app->model));
    if (ch && ch->head && !app->rag)
        body = chatreq_body(&in, app->cfg, app->model, stream, &len);
    if (!ch || !ch->head || (!body && !app->rag)) {
        cJSON_Delete(root);
        free(body);
        free(security);
        if (ch)
            free(ch->head);
        free(ch);
        http_resp_error(r, 500, "out of memory");
        return;
    }
    ch->app = app;
    ch->stream = stream;
    sse_init(&ch->sse, 0, on_event, ch);
    reasoning_init(&ch->rs);
    relay_init(&ch->rl, r, chat_free);
    if (app->rag) {
        ch->rag = rag_start(app->rag, &in, stream, &rag_cbs, ch, err,
                            sizeof(err));
        if (!ch->rag) {
            http_resp_error(r, err[0] ? 400 : 500,
                            err[0] ? err : "could not start the search");
            ch->rl.ended = 1;
            relay_finish(&ch->rl);
        }
    } else {
        start_call(ch, body, len);
    }
    cJSON_Delete(root);
    free(security);
}

static void handle_chat_user(struct http_req *r, const struct login_user *u,
                             void *state)
{
    handle(r, state, 0, u);
}

static void handle_stream_user(struct http_req *r, const struct login_user *u,
                               void *state)
{
    handle(r, state, 1, u);
}

static void handle_chat(struct http_req *r, void *state)
{
    struct chat_app *app = state;

    login_check(app->login, r, handle_chat_user, app);
}

static void handle_stream(struct http_req *r, void *state)
{
    struct chat_app *app = state;

    login_check(app->login, r, handle_stream_user, app);
}

static void handle_config(struct http_req *r, void *state)
{
    const char *json = ((struct chat_app *)state)->config;

    http_resp_header(r, "Cache-Control", "no-store");
    http_resp_send(r, 200, "application/json", json, strlen(json));
}

static int chat_startup(struct app_ctx *ctx)
{
    char err[256];
    struct chat_app *app = calloc(1, sizeof(*app));

    if (!app)
        return app_fail(ctx, "out of memory"), -1;
    app->cfg = app_cfg(ctx);
    app->model = model_init(app->cfg, err, sizeof(err));
    app_set_state(ctx, app);
    if (!app->model)
        return app_fail(ctx, "chat: %s", err), -1;
    app->login = login_open(app->cfg, err, sizeof(err));
    if (!app->login && err[0])
        return app_fail(ctx, "chat: %s", err), -1;
    if (strcmp(app->cfg->rag, "search") == 0 &&
        !(app->rag = rag_init(app->cfg, app->model, err, sizeof(err))))
        return app_fail(ctx, "chat: %s", err), -1;
    log_debug("chat: provider %s, model %s", model_provider(app->model),
              model_name(app->model));
    if (!(app->config = democonfig_json(app->cfg, model_name(app->model))))
        return app_fail(ctx, "out of memory"), -1;
    if (app_route(ctx, "POST", "/chat", handle_chat, app) < 0 ||
        app_route(ctx, "POST", "/chat/stream", handle_stream, app) < 0 ||
        app_route(ctx, "GET", "/config", handle_config, app) < 0)
        return app_fail(ctx, "chat: cannot add routes"), -1;
    return 0;
}

static void chat_shutdown(struct app_ctx *ctx)
{
    struct chat_app *app = app_state(ctx);

    if (!app)
        return;
    login_close(app->login);
    rag_free(app->rag);
    model_free(app->model);
    str_buf_free(&app->line);
    free(app->config);
    free(app);
}

const struct app chat_app = { "chat", chat_startup, chat_shutdown };
