/* ragpg — the rag-postgres sample's chat flow (ragpg.h). */
#include "worker/apps/chat/ragpg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "common/json.h"
#include "common/log.h"
#include "common/sse.h"
#include "common/str.h"
#include "worker/apps/chat/delta.h"
#include "worker/apps/items.h"
#include "worker/model/auth/entra.h"
#include "worker/model/relay.h"
#include "worker/pg/pgsearch.h"
#include "worker/pg/pgstore.h"

#define TOP_MAX 50
#define ANSWER_MAX_TOKENS 1024

static const char answer_prompt[] =
    "Assistant helps customers with questions about the products in the "
    "catalogue, as a salesperson in a store would. Do not answer with "
    "tables.\n"
    "Answer ONLY from the products listed below; if they do not say enough, "
    "say you don't know.\n"
    "Each product starts with its ID in square brackets, then a colon and "
    "its details. Cite the ID of every product you use, in square brackets, "
    "for example [12], one product per bracket: [3][17].";

static const char query_prompt[] =
    "Find products for the user's question and the conversation so far.\n"
    "The only tool is search_database: it searches the product table with "
    "a query and optional price and brand filters.\n"
    "Call it once; its results are all you need.";

/* Examples for the tool call, in the Responses API's item shape (as the
 * thoughts show them); chat completions get them converted. */
static const char fewshots[] =
    "[{\"role\":\"user\",\"content\":\"tents for winter camping?\"},"
    "{\"id\":\"fc_example1\",\"call_id\":\"call_example1\",\"name\":"
    "\"search_database\",\"arguments\":\"{\\\"search_query\\\":\\\"winter "
    "tent\\\"}\",\"type\":\"function_call\"},"
    "{\"id\":\"fc_example1_out\",\"call_id\":\"call_example1\",\"output\":"
    "\"Results for winter tents: ...\",\"type\":\"function_call_output\"},"
    "{\"role\":\"user\",\"content\":\"rain jackets under $150 from "
    "Wavecrest?\"},"
    "{\"id\":\"fc_example2\",\"call_id\":\"call_example2\",\"name\":"
    "\"search_database\",\"arguments\":\"{\\\"search_query\\\":\\\"rain "
    "jacket\\\",\\\"price_filter\\\":{\\\"comparison_operator\\\":\\\"<\\\","
    "\\\"value\\\":150},\\\"brand_filter\\\":{\\\"comparison_operator\\\":"
    "\\\"=\\\",\\\"value\\\":\\\"Wavecrest\\\"}}\",\"type\":\"function_call\"},"
    "{\"id\":\"fc_example2_out\",\"call_id\":\"call_example2\",\"output\":"
    "\"Results for rain jackets under 150 by Wavecrest: ...\",\"type\":"
    "\"function_call_output\"}]";

/* The sample's build_search_function, as a chat completions tool. */
static const char search_tool[] =
    "{\"type\":\"function\",\"function\":{\"name\":\"search_database\","
    "\"description\":\"Search PostgreSQL database for relevant products "
    "based on user query\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"search_query\":{\"type\":\"string\",\"description\":"
    "\"Query string to use for full text search, e.g. 'red shoes'\"},"
    "\"price_filter\":{\"type\":\"object\",\"description\":\"Filter search "
    "results based on price of the product\",\"properties\":{"
    "\"comparison_operator\":{\"type\":\"string\",\"description\":"
    "\"Operator to compare the column value, either '>', '<', '>=', '<=', "
    "'='\"},\"value\":{\"type\":\"number\",\"description\":\"Value to "
    "compare against, e.g. 30\"}}},\"brand_filter\":{\"type\":\"object\","
    "\"description\":\"Filter search results based on brand of the "
    "product\",\"properties\":{\"comparison_operator\":{\"type\":\"string\","
    "\"description\":\"Operator to compare the column value, either '=' or "
    "'!='\"},\"value\":{\"type\":\"string\",\"description\":\"Value to "
    "compare against, e.g. AirStrider\"}}}},\"required\":[\"search_query\"]}}}";

struct ragpg_app {
    const struct cfg *cfg;
    struct model *m;
    struct pgstore *store;
    cJSON *shots;        /* fewshots, the items' shape */
    cJSON *shots_chat;   /* the same as chat completions messages */
    struct str_buf line; /* scratch for one NDJSON line */
};

struct ragpg {
    struct relay rl;   /* the client, and the answer call */
    struct relay tool; /* the tool call: its body and error */
    struct ragpg_app *app;
    struct pgstore_call *sc;
    struct sse_parser sse;
    struct delta_memo memo;
    cJSON *past; /* [{role, content}] before the question */
    cJSON *thoughts;
    cJSON *context; /* {data_points, thoughts} once searched */
    char *question;
    const char *prompt; /* prompt_template or ours (borrowed:
                                   copied into prompt_buf) */
    char *prompt_buf;
    struct pgs_args args;
    double temperature;
    int top;
    unsigned stream : 1, text : 1, vector : 1, advanced : 1;
    unsigned done_seen : 1;
};

/* ---- the request -------------------------------------------------------- */

/* An item's text: a string, or its input_text / output_text parts joined.
 * NULL when it has none of those. */
static char *item_text(const cJSON *content)
{
    const cJSON *part;
    char *s = NULL;
    size_t n = 0;
    FILE *f;

    if (cJSON_IsString(content))
        return strdup(content->valuestring);
    if (!cJSON_IsArray(content) || !(f = open_memstream(&s, &n)))
        return NULL;
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");

        if (!cJSON_IsString(t)) {
            fclose(f);
            free(s);
            return NULL;
        }
        fputs(t->valuestring, f);
    }
    if (fclose(f)) {
        free(s);
        return NULL;
    }
    return s;
}

#define BAD(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* input (or messages) into past + question. */
static int take_input(struct ragpg *rq, const cJSON *root, char *err,
                      size_t errlen)
{
    const char *field = "input";
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, field), *it;
    int i = 0, n;

    if (!in) {
        field = "messages";
        in = cJSON_GetObjectItemCaseSensitive(root, field);
    }
    if (!cJSON_IsArray(in) || (n = cJSON_GetArraySize(in)) == 0)
        return BAD("input: a non-empty array of messages is required");
    if (!(rq->past = cJSON_CreateArray()))
        return BAD("out of memory");
    cJSON_ArrayForEach(it, in)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
        char *text;
        cJSON *m;

        if (type && (!cJSON_IsString(type) ||
                     strcmp(type->valuestring, "message")))
            return BAD("%s[%d].type: only message items are taken", field, i);
        if (!cJSON_IsString(role) || (strcmp(role->valuestring, "user") &&
                                      strcmp(role->valuestring, "assistant") &&
                                      strcmp(role->valuestring, "system") &&
                                      strcmp(role->valuestring, "developer")))
            return BAD("%s[%d].role: user, assistant, system or developer"
                       " is required",
                       field, i);
        if (!(text = item_text(cJSON_GetObjectItemCaseSensitive(it, "content"))))
            return BAD("%s[%d].content: a string or text parts are required",
                       field, i);
        if (++i == n) {
            if (strcmp(role->valuestring, "user")) {
                free(text);
                return BAD("%s[%d].role: the last message must be the"
                           " user's question",
                           field, i - 1);
            }
            rq->question = text;
            break;
        }
        m = cJSON_CreateObject();
        cJSON_AddItemToArray(rq->past, m);
        cJSON_AddStringToObject(m, "role", role->valuestring);
        cJSON_AddStringToObject(m, "content", text);
        free(text);
    }
    return 0;
}

static int take_overrides(struct ragpg *rq, const cJSON *root, char *err,
                          size_t errlen)
{
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "context"), "overrides");
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(ov, "top");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ov, "temperature");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(ov, "retrieval_mode");
    const cJSON *adv = cJSON_GetObjectItemCaseSensitive(ov, "use_advanced_flow");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(ov, "prompt_template");
    const char *why;

    rq->top = 3;
    rq->temperature = 0.3;
    rq->text = rq->vector = rq->advanced = 1;
    if (ov && !cJSON_IsObject(ov))
        return BAD("context.overrides: an object is required");
    if (top && !cJSON_IsNull(top)) {
        if (!cJSON_IsNumber(top) || top->valuedouble != floor(top->valuedouble) || top->valuedouble < 1 || top->valuedouble > TOP_MAX)
            return BAD("context.overrides.top: an integer from 1 to %d is"
                       " required",
                       TOP_MAX);
        rq->top = top->valueint;
    }
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 2)
            return BAD("context.overrides.temperature: a number from 0 to 2"
                       " is required");
        rq->temperature = t->valuedouble;
    }
    if (mode && !cJSON_IsNull(mode)) {
        const char *s = cJSON_IsString(mode) ? mode->valuestring : "";

        if (strcmp(s, "text") && strcmp(s, "vectors") && strcmp(s, "hybrid"))
            return BAD("context.overrides.retrieval_mode: text, vectors or"
                       " hybrid is required");
        rq->text = strcmp(s, "vectors") != 0;
        rq->vector = strcmp(s, "text") != 0;
    }
    if (adv && !cJSON_IsNull(adv)) {
        if (!cJSON_IsBool(adv))
            return BAD("context.overrides.use_advanced_flow: true or false"
                       " is required");
        rq->advanced = cJSON_IsTrue(adv);
    }
    if (pt && !cJSON_IsNull(pt) && !cJSON_IsString(pt))
        return BAD("context.overrides.prompt_template: a string is required");
    rq->prompt = answer_prompt;
    if (pt && cJSON_IsString(pt) && pt->valuestring[0]) {
        if (!(rq->prompt_buf = strdup(pt->valuestring)))
            return BAD("out of memory");
        rq->prompt = rq->prompt_buf;
    }
    if (rq->vector && (why = pgstore_no_vectors(rq->app->store, 1)))
        return BAD("context.overrides.retrieval_mode: '%s' %s; use 'text'",
                   rq->text ? "hybrid" : "vectors", why);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void ragpg_free(struct relay *rl)
{
    struct ragpg *rq = (struct ragpg *)rl;

    if (rq->tool.call)
        model_cancel(rq->tool.call);
    if (rq->sc)
        pgstore_cancel(rq->sc);
    relay_free(&rq->rl);
    relay_free(&rq->tool);
    sse_free(&rq->sse);
    delta_memo_free(&rq->memo);
    cJSON_Delete(rq->past);
    cJSON_Delete(rq->thoughts);
    cJSON_Delete(rq->context);
    pgs_args_free(&rq->args);
    free(rq->question);
    free(rq->prompt_buf);
    free(rq);
}

/* Before the answer started: the error as the response. */
static void fail(struct ragpg *rq, int status, const char *msg,
                 const char *retry_after)
{
    if (retry_after)
        http_resp_header(rq->rl.req, "Retry-After", retry_after);
    http_resp_error(rq->rl.req, status, msg);
    rq->rl.ended = 1;
    relay_finish(&rq->rl);
}

static cJSON *model_props(const struct ragpg *rq)
{
    cJSON *p = cJSON_CreateObject();
    const char *name = model_name(rq->app->m);

    cJSON_AddStringToObject(p, "model", name);
    if (!strncmp(model_provider(rq->app->m), "azure", 5))
        cJSON_AddStringToObject(p, "deployment", name);
    return p;
}

static void thought(struct ragpg *rq, const char *title, cJSON *desc,
                    cJSON *props)
{
    cJSON *t = cJSON_CreateObject();

    cJSON_AddStringToObject(t, "title", title);
    cJSON_AddItemToObject(t, "description", desc ? desc : cJSON_CreateNull());
    cJSON_AddItemToObject(t, "props", props ? props : cJSON_CreateObject());
    cJSON_AddItemToArray(rq->thoughts, t);
}

static cJSON *message(const char *role, const char *content)
{
    cJSON *m = cJSON_CreateObject();

    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    return m;
}

/* system + past + extra (taken), as chat completions messages. */
static cJSON *messages(const struct ragpg *rq, const char *system,
                       const cJSON *shots, cJSON *extra)
{
    cJSON *msgs = cJSON_CreateArray(), *m;

    cJSON_AddItemToArray(msgs, message("system", system));
    cJSON_ArrayForEach(m, shots)
        cJSON_AddItemToArray(msgs, cJSON_Duplicate(m, 1));
    cJSON_ArrayForEach(m, rq->past)
        cJSON_AddItemToArray(msgs, cJSON_Duplicate(m, 1));
    cJSON_AddItemToArray(msgs, extra);
    return msgs;
}

/* Prints body (taken) and starts the model call on it. */
static struct model_call *call(struct ragpg *rq, cJSON *body, int stream,
                               const struct model_cbs *cbs, struct relay *rl)
{
    char *text;

    cJSON_AddBoolToObject(body, "stream", stream);
    model_fill(rq->app->m, body);
    text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text)
        return NULL;
    return rl->call = model_start(rq->app->m, text, strlen(text), stream, 0,
                                  cbs, rq);
}

/* A price as Python's str(float) writes it: the shortest exact digits,
 * ".0" for a whole number. */
static void price_text(double v, char *buf, size_t n)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".eEn"))
        strncat(buf, ".0", n - strlen(buf) - 1);
}

/* ---- 3. the answer ------------------------------------------------------ */

static void write_line(struct ragpg *rq, const char *pre, const char *s,
                       size_t len, const char *post)
{
    relay_write_line(&rq->rl, &rq->app->line, pre, s, len, post);
}

static void write_error_line(struct ragpg *rq, const char *msg)
{
    write_line(rq, "{\"error\":\"", msg, strlen(msg), "\"}\n");
}

static void write_delta(struct ragpg *rq, const char *s, size_t n)
{
    if (n > 0)
        write_line(rq, "{\"type\":\"response.output_text.delta\",\"delta\":\"",
                   s, n, "\",\"context\":null}\n");
}

/* A chunk the fast path left alone: 0 to go on, -1 to stop. */
static int on_chunk_tree(struct ragpg *rq, const struct sse_event *ev)
{
    cJSON *o = json_parse(ev->data, ev->data_len, NULL, 0);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");
    const cJSON *choice = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(o, "choices"), 0);
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(choice, "delta"), "content");
    int rc = 0;

    if (!o || err) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");

        write_error_line(rq, cJSON_IsString(m) ? m->valuestring
                                               : "the model sent a malformed chunk");
        rc = -1;
    } else if (cJSON_IsString(fin) &&
               !strcmp(fin->valuestring, "content_filter")) {
        write_error_line(rq, "Your message contains content that was flagged"
                             " by the content filter.");
        rc = -1;
    } else if (cJSON_IsString(c)) {
        write_delta(rq, c->valuestring, strlen(c->valuestring));
    }
    cJSON_Delete(o);
    return rc;
}

static int on_event(const struct sse_event *ev, void *arg)
{
    struct ragpg *rq = arg;
    struct delta d;

    if (ev->done) {
        rq->done_seen = 1;
        return 1;
    }
    if (delta_scan(ev->data, ev->data_len, &d, &rq->memo) != DELTA_OK)
        return on_chunk_tree(rq, ev);
    if (d.content && d.escaped) {
        char *buf = malloc(d.content_len + 1);

        if (!buf)
            return -1;
        write_delta(rq, buf, delta_unescape(d.content, d.content_len, buf));
        free(buf);
    } else if (d.content) {
        write_delta(rq, d.content, d.content_len);
    }
    return 0;
}

static void on_answer_headers(struct model_call *c, int status, void *arg)
{
    struct ragpg *rq = arg;
    char *ctx;
    (void)c;

    rq->rl.status = status;
    if (status >= 400 || !rq->stream)
        return;
    http_resp_header(rq->rl.req, "X-Accel-Buffering", "no");
    http_resp_header(rq->rl.req, "Cache-Control", "no-cache");
    http_resp_start(rq->rl.req, 200, "application/x-ndjson");
    rq->rl.started = 1;
    ctx = cJSON_PrintUnformatted(rq->context);
    if (ctx) {
        static const char pre[] =
            "{\"type\":\"response.context\",\"delta\":null,\"context\":";

        relay_write(&rq->rl, pre, sizeof(pre) - 1);
        relay_write(&rq->rl, ctx, strlen(ctx));
        relay_write(&rq->rl, "}\n", 2);
    }
    free(ctx);
}

static void on_answer_data(struct model_call *c, const char *p, size_t n,
                           void *arg)
{
    struct ragpg *rq = arg;

    if (!rq->stream || rq->rl.status >= 400) {
        relay_collect(&rq->rl, p, n);
        return;
    }
    if (rq->rl.ended)
        return;
    if (sse_feed(&rq->sse, p, n) != SSE_OK) {
        if (rq->rl.paused) {
            rq->rl.paused = 0;
            model_resume(c);
        }
        if (!rq->done_seen && rq->sse.status == SSE_ETOOBIG)
            write_error_line(rq, "the model sent an oversized event");
        relay_finish(&rq->rl); /* the call runs out on its own */
    }
}

/* /chat: {"output_text", "context"}. */
static void reply_whole(struct ragpg *rq)
{
    size_t len;
    const char *body = relay_body(&rq->rl, &len);
    cJSON *up = json_parse(body, len, NULL, 0), *out;
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
                                             cJSON_GetObjectItemCaseSensitive(up, "choices"), 0),
                                         "message"),
        "content");
    char *text;

    if (!cJSON_IsString(content)) {
        cJSON_Delete(up);
        fail(rq, 502, "the model's answer had no content", NULL);
        return;
    }
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "output_text", content->valuestring);
    cJSON_AddItemToObject(out, "context", rq->context);
    rq->context = NULL;
    text = cJSON_PrintUnformatted(out);
    if (text)
        http_resp_send(rq->rl.req, 200, "application/json", text, strlen(text));
    else
        http_resp_error(rq->rl.req, 500, "out of memory");
    rq->rl.ended = 1;
    free(text);
    cJSON_Delete(out);
    cJSON_Delete(up);
    relay_finish(&rq->rl);
}

static void on_answer_done(struct model_call *c, const struct fetch_result *res,
                           void *arg)
{
    struct ragpg *rq = arg;
    struct relay_error e;
    int failed = relay_error(&rq->rl, res, &e);
    (void)c;

    rq->rl.call = NULL;
    if (rq->rl.started) {
        if (!rq->rl.ended && failed)
            write_error_line(rq, e.msg);
        else if (!rq->rl.ended && !rq->done_seen)
            write_error_line(rq, "the model's stream ended early");
        relay_finish(&rq->rl);
    } else if (rq->rl.ended) {
        relay_finish(&rq->rl);
    } else if (failed) {
        fail(rq, e.status, e.msg, e.retry_after);
    } else if (rq->stream) {
        fail(rq, 502, "the model sent no stream", NULL);
    } else {
        reply_whole(rq);
    }
}

static const struct model_cbs answer_cbs = {
    on_answer_headers,
    on_answer_data,
    on_answer_done,
};

/* The items are in: the context, and the answer asked for. */
static void answer(struct ragpg *rq, cJSON *items)
{
    cJSON *dp = cJSON_CreateObject(), *it, *body = cJSON_CreateObject();
    cJSON *desc, *props = model_props(rq);
    char *user = NULL, key[32], price[32];
    size_t n = 0;
    FILE *f = open_memstream(&user, &n);

    if (f)
        fprintf(f, "%sSources:", rq->question);
    cJSON_ArrayForEach(it, items)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");

        snprintf(key, sizeof(key), "%.0f", id->valuedouble);
        cJSON_AddItemToObject(dp, key, cJSON_Duplicate(it, 1));
        price_text(cJSON_GetObjectItemCaseSensitive(it, "price")->valuedouble,
                   price, sizeof(price));
        if (f)
            fprintf(f, "\n[%s]:Name:%s Description:%s Price:%s Brand:%s"
                       " Type:%s",
                    key,
                    cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring,
                    cJSON_GetObjectItemCaseSensitive(it, "description")->valuestring,
                    price,
                    cJSON_GetObjectItemCaseSensitive(it, "brand")->valuestring,
                    cJSON_GetObjectItemCaseSensitive(it, "type")->valuestring);
    }
    thought(rq, "Search results", items, NULL);
    if (!f || fclose(f) != 0 || !user) {
        free(user);
        cJSON_Delete(dp);
        cJSON_Delete(body);
        cJSON_Delete(props);
        fail(rq, 500, "out of memory", NULL);
        return;
    }
    cJSON *msgs = messages(rq, rq->prompt, NULL, message("user", user));
    desc = cJSON_Duplicate(msgs, 1);
    /* the sample's thought lists the question's message content first */
    cJSON_DeleteItemFromArray(desc, cJSON_GetArraySize(desc) - 1);
    cJSON *last = cJSON_CreateObject();
    cJSON_AddStringToObject(last, "content", user);
    cJSON_AddStringToObject(last, "role", "user");
    cJSON_AddItemToArray(desc, last);
    thought(rq, "Prompt to generate answer", desc, props);
    free(user);
    rq->context = cJSON_CreateObject();
    cJSON_AddItemToObject(rq->context, "data_points", dp);
    cJSON_AddItemToObject(rq->context, "thoughts", rq->thoughts);
    rq->thoughts = NULL;
    cJSON_AddItemToObject(body, "messages", msgs);
    cJSON_AddNumberToObject(body, "temperature", rq->temperature);
    cJSON_AddNumberToObject(body, "max_tokens", ANSWER_MAX_TOKENS);
    if (!call(rq, body, rq->stream, &answer_cbs, &rq->rl))
        fail(rq, 500, "could not start the model call", NULL);
}

/* ---- 2. the search ------------------------------------------------------ */

static void on_found(void *arg, cJSON *items, int status, const char *msg)
{
    struct ragpg *rq = arg;

    rq->sc = NULL;
    if (!items)
        fail(rq, status, msg, NULL);
    else
        answer(rq, items);
}

static void search(struct ragpg *rq)
{
    cJSON *props = cJSON_CreateObject();

    cJSON_AddNumberToObject(props, "top", rq->top);
    cJSON_AddBoolToObject(props, "vector_search", rq->vector);
    cJSON_AddBoolToObject(props, "text_search", rq->text);
    if (rq->advanced)
        cJSON_AddItemToObject(props, "filters", pgs_filters_json(&rq->args));
    thought(rq, rq->advanced ? "Search using generated search arguments" : "Search query for database",
            cJSON_CreateString(rq->args.query), props);
    rq->sc = pgstore_search(rq->app->store, &rq->args, rq->text, rq->vector,
                            rq->top, on_found, rq);
    if (!rq->sc)
        fail(rq, 503, "the database is busy", NULL);
}

/* ---- 1. the search arguments (advanced) --------------------------------- */

static void on_tool_headers(struct model_call *c, int status, void *arg)
{
    (void)c;
    ((struct ragpg *)arg)->tool.status = status;
}

static void on_tool_data(struct model_call *c, const char *p, size_t n,
                         void *arg)
{
    (void)c;
    relay_collect(&((struct ragpg *)arg)->tool, p, n);
}

/* extract_search_arguments: the search_database call's arguments, else
 * the model's text as the query, else the question. */
static int tool_args(struct ragpg *rq)
{
    size_t len;
    const char *body = relay_body(&rq->tool, &len);
    cJSON *up = json_parse(body, len, NULL, 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
                                                            cJSON_GetObjectItemCaseSensitive(up, "choices"), 0),
                                                        "message");
    const cJSON *tc, *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const char *args = NULL, *q = rq->question;
    char *text = NULL;
    int rc;

    cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"))
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(fn, "arguments");

        if (cJSON_IsString(name) && !strcmp(name->valuestring, "search_database") &&
            cJSON_IsString(a)) {
            args = a->valuestring;
            break;
        }
    }
    if (!args && cJSON_IsString(content)) {
        const char *s = content->valuestring + strspn(content->valuestring,
                                                      " \t\r\n");
        size_t n = strlen(s);

        while (n > 0 && strchr(" \t\r\n", s[n - 1]))
            n--;
        if (n > 0 && (text = strndup(s, n)))
            q = text;
    }
    rc = pgs_tool_args(args, q, &rq->args);
    free(text);
    cJSON_Delete(up);
    return rc;
}

static void on_tool_done(struct model_call *c, const struct fetch_result *res,
                         void *arg)
{
    struct ragpg *rq = arg;
    struct relay_error e;
    (void)c;

    rq->tool.call = NULL;
    if (relay_error(&rq->tool, res, &e)) {
        fail(rq, e.status, e.msg, e.retry_after);
        return;
    }
    if (tool_args(rq) < 0) {
        fail(rq, 500, "out of memory", NULL);
        return;
    }
    search(rq);
}

static const struct model_cbs tool_cbs = {
    on_tool_headers,
    on_tool_data,
    on_tool_done,
};

static int ask_tool(struct ragpg *rq)
{
    struct ragpg_app *app = rq->app;
    cJSON *body = cJSON_CreateObject(), *desc, *m;
    char *user = NULL;

    if (asprintf(&user, "Find search results for user query: %s",
                 rq->question) < 0) {
        cJSON_Delete(body);
        return -1;
    }
    desc = cJSON_CreateArray();
    cJSON_AddItemToArray(desc, message("system", query_prompt));
    cJSON_ArrayForEach(m, app->shots)
        cJSON_AddItemToArray(desc, cJSON_Duplicate(m, 1));
    cJSON_ArrayForEach(m, rq->past)
        cJSON_AddItemToArray(desc, cJSON_Duplicate(m, 1));
    cJSON_AddItemToArray(desc, message("user", user));
    thought(rq, "Prompt to generate search arguments", desc, model_props(rq));
    cJSON_AddItemToObject(body, "messages", messages(rq, query_prompt, app->shots_chat, message("user", user)));
    free(user);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "tools"),
                         cJSON_Parse(search_tool));
    cJSON_AddStringToObject(body, "tool_choice", "auto");
    return call(rq, body, 0, &tool_cbs, &rq->tool) ? 0 : -1;
}

/* ---- the routes --------------------------------------------------------- */

static void handle(struct http_req *r, struct ragpg_app *app, int stream)
{
    char err[512] = "";
    int status;
    cJSON *root = relay_parse_json(r, &status, err, sizeof(err));
    struct ragpg *rq = root ? calloc(1, sizeof(*rq)) : NULL;

    if (!rq) {
        http_resp_error(r, root ? 500 : status, root ? "out of memory" : err);
        cJSON_Delete(root);
        return;
    }
    rq->app = app;
    rq->stream = stream;
    rq->thoughts = cJSON_CreateArray();
    sse_init(&rq->sse, 0, on_event, rq);
    relay_init(&rq->rl, r, ragpg_free);
    if (take_input(rq, root, err, sizeof(err)) < 0 ||
        take_overrides(rq, root, err, sizeof(err)) < 0) {
        fail(rq, 400, err, NULL);
    } else if (rq->advanced) {
        if (ask_tool(rq) < 0)
            fail(rq, 500, "could not start the model call", NULL);
    } else if (pgs_tool_args(NULL, rq->question, &rq->args) < 0) {
        fail(rq, 500, "out of memory", NULL);
    } else {
        search(rq);
    }
    cJSON_Delete(root);
}

static void handle_chat(struct http_req *r, void *state)
{
    handle(r, state, 0);
}

static void handle_stream(struct http_req *r, void *state)
{
    handle(r, state, 1);
}

/* The examples as chat completions messages: a function_call becomes an
 * assistant message with tool_calls, its output a tool message. */
static cJSON *shots_for_chat(const cJSON *shots)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *s;

    cJSON_ArrayForEach(s, shots)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
        const char *t = cJSON_IsString(type) ? type->valuestring : "message";
        cJSON *m;

        if (!strcmp(t, "function_call")) {
            cJSON *tc = cJSON_CreateObject(), *fn;

            m = message("assistant", "");
            cJSON_ReplaceItemInObject(m, "content", cJSON_CreateNull());
            cJSON_AddItemToObject(tc, "id", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s, "call_id"), 1));
            cJSON_AddStringToObject(tc, "type", "function");
            fn = cJSON_AddObjectToObject(tc, "function");
            cJSON_AddItemToObject(fn, "name", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s, "name"), 1));
            cJSON_AddItemToObject(fn, "arguments", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s, "arguments"), 1));
            cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "tool_calls"), tc);
        } else if (!strcmp(t, "function_call_output")) {
            m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "role", "tool");
            cJSON_AddItemToObject(m, "tool_call_id", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s, "call_id"), 1));
            cJSON_AddItemToObject(m, "content", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s, "output"), 1));
        } else {
            m = cJSON_Duplicate(s, 1);
        }
        cJSON_AddItemToArray(out, m);
    }
    return out;
}

/* The model's Entra ID source, when it authenticates with one. */
static int uses_entra(const struct cfg *c)
{
    return !strncmp(c->provider, "azure", 5) &&
           !(c->azure_api_key && *c->azure_api_key);
}

static int ragpg_startup(struct app_ctx *ctx)
{
    const struct cfg *c = app_cfg(ctx);
    struct ragpg_app *app;
    struct entra *entra = NULL;
    char err[256];

    if (strcmp(c->rag, "postgres"))
        return 0;
    if (!(app = calloc(1, sizeof(*app))))
        return app_fail(ctx, "out of memory"), -1;
    app_set_state(ctx, app);
    app->cfg = c;
    if (!(app->shots = cJSON_Parse(fewshots)) ||
        !(app->shots_chat = shots_for_chat(app->shots)))
        return app_fail(ctx, "out of memory"), -1;
    if (!(app->m = model_init(c, err, sizeof(err))))
        return app_fail(ctx, "rag: %s", err), -1;
    if (uses_entra(c) && !(entra = entra_open(c, err, sizeof(err))))
        return app_fail(ctx, "rag: %s", err), -1;
    if (!(app->store = pgstore_new(c, entra, err, sizeof(err))))
        return app_fail(ctx, "rag: %s", err), -1;
    if (app_route(ctx, "POST", "/chat", handle_chat, app) < 0 ||
        app_route(ctx, "POST", "/chat/stream", handle_stream, app) < 0 ||
        items_routes(ctx, app->store) < 0)
        return app_fail(ctx, "rag: cannot add routes"), -1;
    return 0;
}

static void ragpg_shutdown(struct app_ctx *ctx)
{
    struct ragpg_app *app = app_state(ctx);

    if (!app)
        return;
    pgstore_free(app->store);
    model_free(app->m);
    cJSON_Delete(app->shots);
    cJSON_Delete(app->shots_chat);
    str_buf_free(&app->line);
    free(app);
}

const struct app ragpg_app = { "rag-postgres", ragpg_startup, ragpg_shutdown };
