/* rag — rewrite, embed, search, then the grounded answer's body (rag.h). */
#include "worker/apps/chat/rag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "common/json.h"
#include "common/log.h"
#include "common/str.h"
#include "worker/apps/chat/chatreq.h"
#include "worker/apps/chat/embed.h"
#include "worker/apps/chat/overrides.h"
#include "worker/model/auth/entra.h"
#include "worker/model/model.h"
#include "worker/apps/chat/reasoning.h"
#include "worker/model/relay.h"
#include "worker/apps/chat/search.h"

#define REWRITE_MAX_TOKENS 100

/* The rewrite's tool, as the sample offers it
 * (prompts/chat_query_rewrite_tools.json): the model calls it with the
 * query, or answers in words, which are read as the query then. */
static const char rewrite_tools[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"search_sources\","
    "\"description\":\"Retrieve sources from the Azure AI Search index\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"search_query\":"
    "{\"type\":\"string\",\"description\":\"Query string to retrieve "
    "documents from azure search eg: 'How to setup Watson on Cosmic'\"}},"
    "\"required\":[\"search_query\"]}}}]";

static const char rewrite_prompt[] =
    "Below is a history of the conversation so far, and a new question asked "
    "by the user that needs to be answered by searching in a knowledge base.\n"
    "Generate a search query based on the conversation and the new question.\n"
    "Do not include cited source filenames and document names e.g. info.txt "
    "or doc.pdf in the search query terms.\n"
    "Do not include any text inside [] or <<>> in the search query terms.\n"
    "Do not include any special characters like '+'.\n"
    "If the question is not in English, translate the question to English "
    "before generating the search query.\n"
    "If you cannot generate a search query, return just the number 0.";

static const char answer_prompt[] =
    "Assistant helps the company employees with their questions about the "
    "company's documents. Be brief in your answers.\n"
    "Answer ONLY with the facts listed in the list of sources below. If there "
    "isn't enough information below, say you don't know. Do not generate "
    "answers that don't use the sources below. If asking a clarifying "
    "question to the user would help, ask the question.\n"
    "Each source has a name followed by colon and the actual information, "
    "always include the source name for each fact you use in the response. "
    "Use square brackets to reference the source, for example [info1.txt]. "
    "Don't combine sources, list each source separately, for example "
    "[info1.txt][info2.pdf].";

struct rag {
    const struct cfg *cfg;
    struct model *m;
    struct search *s;
    struct embed *e;            /* NULL: text search only */
    struct entra *entra;        /* a reference: the model's token source */
    unsigned plain_rewrite : 1; /* the model refused the rewrite's
                                   temperature 0 or max_tokens */
};

struct rag_run {
    struct rag *g;
    const struct rag_cbs *cbs;
    void *arg;
    int stream;
    struct chat_input in; /* the overrides; messages: see past */
    struct overrides ov;  /* the demo's (overrides.h) */
    cJSON *past;          /* the messages before the question */
    char *question;
    struct relay rl; /* the rewrite call: rl.call, its body */
    struct embed_call *ec;
    struct search_call *sc;
    cJSON *vector;
    char *query;
    char *filter; /* search_filter and the security filter */
    cJSON *thoughts;
    struct timespec t0;
    long rewrite_ms, embed_ms, search_ms; /* when each step started */
    unsigned plain : 1;                   /* this rewrite went without them */
};

/* Entra ID is needed when search has no key, or when the embeddings go to
 * an azure model that has none (model_init's rule). */
static int needs_entra(const struct model *m, const struct cfg *c)
{
    return !(c->search_key && *c->search_key) ||
           (!strncmp(model_provider(m), "azure", 5) &&
            !(c->azure_api_key && *c->azure_api_key));
}

struct rag *rag_init(const struct cfg *c, struct model *m, char *err,
                     size_t errlen)
{
    struct rag *g = calloc(1, sizeof(*g));

    if (!g)
        return snprintf(err, errlen, "out of memory"), NULL;
    g->cfg = c;
    g->m = m;
    /* One token source per worker: when the model opened it already, this
     * is another reference to it. */
    if (needs_entra(m, c) && !(g->entra = entra_open(c, err, errlen))) {
        rag_free(g);
        return NULL;
    }
    if (!(g->s = search_init(c, g->entra, err, errlen)) ||
        (c->embedding_deployment &&
         !(g->e = embed_init(c, g->entra, err, errlen)))) {
        rag_free(g);
        return NULL;
    }
    return g;
}

void rag_free(struct rag *g)
{
    if (!g)
        return;
    search_free(g->s);
    embed_free(g->e);
    entra_close(g->entra);
    free(g);
}

static long now_ms(const struct rag_run *run)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - run->t0.tv_sec) * 1000 +
           (t.tv_nsec - run->t0.tv_nsec) / 1000000;
}

/* The sample's ThoughtStep, with when it started and how long it took. */
static void thought(struct rag_run *run, const char *title, cJSON *desc,
                    cJSON *props, long start)
{
    cJSON *t = cJSON_CreateObject();

    if (!props)
        props = cJSON_CreateObject();
    cJSON_AddNumberToObject(props, "start_ms", (double)start);
    cJSON_AddNumberToObject(props, "duration_ms", (double)(now_ms(run) - start));
    cJSON_AddStringToObject(t, "title", title);
    cJSON_AddItemToObject(t, "description", desc);
    cJSON_AddItemToObject(t, "props", props);
    cJSON_AddItemToArray(run->thoughts, t);
}

static void run_free(struct rag_run *run)
{
    if (run->rl.call)
        model_cancel(run->rl.call);
    if (run->ec)
        embed_cancel(run->ec);
    if (run->sc)
        search_cancel(run->sc);
    relay_free(&run->rl);
    cJSON_Delete(run->past);
    cJSON_Delete(run->vector);
    cJSON_Delete(run->thoughts);
    free(run->question);
    free(run->query);
    free(run->filter);
    overrides_free(&run->ov);
    free(run);
}

static void fail_after(struct rag_run *run, int status, const char *msg,
                       const char *retry_after)
{
    run->cbs->fail(run->arg, status, msg, retry_after);
    run_free(run);
}

static void fail(struct rag_run *run, int status, const char *msg)
{
    fail_after(run, status, msg, NULL);
}

/* A model call's body: system prompt, the past, then one user message. */
static char *call_body(struct rag_run *run, const char *system,
                       const char *user, int stream, cJSON **sent,
                       size_t *len)
{
    struct cfg c = *run->g->cfg;
    struct chat_input in = run->in;
    cJSON *msgs = cJSON_Duplicate(run->past, 1), *u = cJSON_CreateObject();
    char *body = NULL;

    c.system_prompt = (char *)system;
    cJSON_AddItemToArray(msgs, u);
    cJSON_AddStringToObject(u, "role", "user");
    cJSON_AddStringToObject(u, "content", user);
    in.messages = msgs;
    if (msgs)
        body = chatreq_body(&in, &c, run->g->m, stream, len);
    cJSON_Delete(msgs);
    if (body && sent) {
        cJSON *b = cJSON_Parse(body);

        *sent = cJSON_DetachItemFromObjectCaseSensitive(b, "messages");
        cJSON_Delete(b);
    }
    return body;
}

/* Takes body and item; returns body with item as key's value (what
 * chatreq_body does not write), or NULL when out of memory. */
static char *with_item(char *body, const char *key, cJSON *item, size_t *len)
{
    cJSON *b = cJSON_Parse(body);
    char *out = NULL;

    free(body);
    if (b && item && cJSON_AddItemToObject(b, key, item)) {
        item = NULL;
        out = cJSON_PrintUnformatted(b);
    }
    cJSON_Delete(item);
    cJSON_Delete(b);
    if (out)
        *len = strlen(out);
    return out;
}

/* ---- 3. the answer's body --------------------------------------------- */

/* "sourcepage: content" (captions with the semantic ranker when asked),
 * on one line as the prompt wants it. */
static char *source_text(const struct cfg *c, int captions, const cJSON *doc)
{
    const cJSON *page = cJSON_GetObjectItemCaseSensitive(
        doc, c->search_sourcepage_field);
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(
        doc, c->search_content_field);
    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(doc,
                                                         "@search.captions");
    const cJSON *cap;
    char *s = NULL;
    size_t n = 0;
    FILE *f;

    if (!cJSON_IsString(page) || !(f = open_memstream(&s, &n)))
        return NULL;
    fprintf(f, "%s: ", page->valuestring);
    if (captions && cJSON_GetArraySize(caps) > 0) {
        int i = 0;
        cJSON_ArrayForEach(cap, caps)
        {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(cap, "text");
            fprintf(f, "%s%s", i++ ? " . " : "",
                    cJSON_IsString(t) ? t->valuestring : "");
        }
    } else if (cJSON_IsString(content)) {
        fputs(content->valuestring, f);
    }
    if (fclose(f))
        return free(s), NULL;
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return s;
}

static void answer(struct rag_run *run, const cJSON *docs)
{
    cJSON *ctx = cJSON_CreateObject(), *dp = cJSON_CreateObject();
    cJSON *text = cJSON_AddArrayToObject(dp, "text");
    cJSON *cites = cJSON_AddArrayToObject(dp, "citations");
    cJSON *sent = NULL, *props = cJSON_CreateObject();
    const cJSON *d;
    char *user = NULL, *body, *system;
    size_t n = 0, len = 0;
    FILE *f = open_memstream(&user, &n);
    long start = now_ms(run);
    int reasoning = overrides_reasoning_model(model_name(run->g->m));

    fprintf(f, "%s\n\nSources:", run->question);
    cJSON_ArrayForEach(d, docs)
    {
        char *s = source_text(run->g->cfg, run->ov.semantic_captions, d);

        if (!s)
            continue;
        fprintf(f, "\n%s", s);
        cJSON_AddItemToArray(text, cJSON_CreateString(s));
        cJSON_AddItemToArray(cites, cJSON_CreateString(
                                        cJSON_GetObjectItemCaseSensitive(
                                            d, run->g->cfg->search_sourcepage_field)
                                            ->valuestring));
        free(s);
    }
    fclose(f);
    system = overrides_prompt(&run->ov, answer_prompt);
    body = user && system ? call_body(run, system, user, run->stream, &sent,
                                      &len)
                          : NULL;
    free(user);
    free(system);
    if (body && reasoning && run->ov.reasoning_effort &&
        *run->ov.reasoning_effort)
        /* the sample sends it to reasoning deployments */
        body = with_item(body, "reasoning_effort",
                         cJSON_CreateString(run->ov.reasoning_effort), &len);
    cJSON_AddStringToObject(props, "model", model_name(run->g->m));
    if (reasoning)
        cJSON_AddStringToObject(props, "reasoning_effort",
                                run->ov.reasoning_effort
                                    ? run->ov.reasoning_effort
                                    : "");
    thought(run, "Prompt to generate answer", sent, props, start);
    cJSON_AddItemToObject(ctx, "data_points", dp);
    cJSON_AddItemToObject(ctx, "thoughts", run->thoughts);
    cJSON_AddNullToObject(ctx, "followup_questions");
    run->thoughts = NULL;
    if (!body) {
        cJSON_Delete(ctx);
        fail(run, 500, "out of memory");
        return;
    }
    run->cbs->ready(run->arg, body, len, ctx, run->ov.followups);
    run_free(run);
}

/* ---- 2. the search ------------------------------------------------------ */

static void on_search(void *arg, const cJSON *docs, int status,
                      const char *msg, const char *retry_after)
{
    struct rag_run *run = arg;
    cJSON *results = cJSON_Duplicate(docs, 1);

    run->sc = NULL;
    if (!docs) {
        cJSON_Delete(results);
        fail_after(run, status, msg, retry_after);
        return;
    }
    thought(run, "Search results", results, NULL, run->search_ms);
    answer(run, docs);
}

static void search(struct rag_run *run)
{
    const struct cfg *c = run->g->cfg;
    const struct overrides *o = &run->ov;
    cJSON *props = cJSON_CreateObject();
    struct search_query q = {
        .text = run->query,
        .text_search = o->mode != OVERRIDES_VECTORS,
        .vector = run->vector,
        .filter = run->filter,
        .top = o->top,
        .semantic_config = !o->semantic_ranker ? NULL
                           : c->search_semantic_config
                               ? c->search_semantic_config
                               : "default",
        .captions = o->semantic_captions,
        .rewrites = o->query_rewriting,
        .min_score = o->min_search_score,
        .min_reranker_score = o->min_reranker_score,
    };

    if (run->rl.call || run->ec)
        return; /* the other one is still running */
    cJSON_AddBoolToObject(props, "use_semantic_captions", q.captions);
    cJSON_AddBoolToObject(props, "use_semantic_ranker", o->semantic_ranker);
    cJSON_AddBoolToObject(props, "use_query_rewriting", q.rewrites);
    cJSON_AddNumberToObject(props, "top", q.top);
    if (run->filter)
        cJSON_AddStringToObject(props, "filter", run->filter);
    else
        cJSON_AddNullToObject(props, "filter");
    cJSON_AddBoolToObject(props, "use_vector_search", run->vector != NULL);
    cJSON_AddBoolToObject(props, "use_text_search", q.text_search);
    run->search_ms = now_ms(run);
    thought(run, "Search using generated search query",
            cJSON_CreateString(run->query), props, run->search_ms);
    run->sc = search_start(run->g->s, &q, on_search, run);
    if (!run->sc)
        fail(run, 500, "could not start the search");
}

/* ---- 1. rewrite and embed ----------------------------------------------- */

static void on_rewrite_headers(struct model_call *c, int status, void *arg)
{
    struct rag_run *run = arg;
    (void)c;

    run->rl.status = status;
}

static void on_rewrite_data(struct model_call *c, const char *p, size_t n,
                            void *arg)
{
    struct rag_run *run = arg;
    (void)c;

    relay_collect(&run->rl, p, n);
}

static void keep_answer(void *arg, int thinking, const char *p, size_t n)
{
    if (!thinking)
        fwrite(p, 1, n, arg);
}

/* content without a thinking model's "<think>...</think>" (DeepSeek-R1
 * thinks in the content): the query is what follows. NULL: no memory. */
static char *answer_part(const char *content)
{
    struct reasoning rs;
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);

    if (!f)
        return NULL;
    reasoning_init(&rs);
    reasoning_feed(&rs, content, strlen(content), keep_answer, f);
    reasoning_finish(&rs, keep_answer, f);
    if (fclose(f))
        return free(out), NULL;
    return out;
}

/* The search_query of the message's first tool call, or NULL (none, or
 * not JSON: the sample then reads the content). */
static char *tool_query(const cJSON *msg)
{
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
                                             cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"), 0),
                                         "function"),
        "arguments");
    cJSON *a = cJSON_IsString(args) ? cJSON_Parse(args->valuestring) : NULL;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(a, "search_query");
    char *out = cJSON_IsString(q) && *q->valuestring ? strdup(q->valuestring)
                                                     : NULL;

    cJSON_Delete(a);
    return out;
}

/* The model's query (its tool call's, or its words without its thinking),
 * trimmed; the question itself when it gave none ("0", as the prompt
 * allows). */
static char *rewritten(struct rag_run *run)
{
    size_t len;
    const char *body = relay_body(&run->rl, &len);
    cJSON *up = json_parse(body, len, NULL, 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(up, "choices"), 0),
        "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    char *answer = tool_query(msg);

    if (!answer && cJSON_IsString(content))
        answer = answer_part(content->valuestring);
    const char *s = answer;
    char *q = NULL;

    if (s) {
        size_t n;

        s += strspn(s, " \t\r\n\"");
        n = strlen(s);
        while (n > 0 && strchr(" \t\r\n\"", s[n - 1]))
            n--;
        q = (n == 0 || (n == 1 && s[0] == '0')) ? strdup(run->question)
                                                : strndup(s, n);
    }
    free(answer);
    cJSON_Delete(up);
    return q;
}

static int refused_sampling(const struct relay_error *e);
static int rewrite_again(struct rag_run *run);

static void on_rewrite_done(struct model_call *c, const struct fetch_result *res,
                            void *arg)
{
    struct rag_run *run = arg;
    struct relay_error e;
    cJSON *sent = cJSON_CreateObject();
    (void)c;

    if (relay_error(&run->rl, res, &e)) {
        run->rl.call = NULL;
        cJSON_Delete(sent);
        if (!run->plain && refused_sampling(&e) && rewrite_again(run) == 0)
            return;
        fail_after(run, e.status, e.msg, e.retry_after);
        return;
    }
    run->rl.call = NULL;
    if (!(run->query = rewritten(run))) {
        cJSON_Delete(sent);
        fail(run, 502, "the model's search query had no content");
        return;
    }
    cJSON_AddStringToObject(sent, "model", model_name(run->g->m));
    cJSON_AddStringToObject(sent, "query", run->query);
    cJSON *desc = cJSON_DetachItemFromArray(run->thoughts, 0);
    thought(run, "Prompt to generate search query", desc, sent,
            run->rewrite_ms);
    search(run);
}

static const struct model_cbs rewrite_cbs = {
    on_rewrite_headers,
    on_rewrite_data,
    on_rewrite_done,
};

/* The rewrite call's body: temperature 0 and a short answer, as the
 * sample asks, unless plain: reasoning models (o1, o3, o4-mini, gpt-5 ...)
 * refuse max_tokens and any temperature but 1, and need room to think
 * before they answer. The client's overrides stay otherwise. */
static char *rewrite_body(struct rag_run *run, int plain, cJSON **sent,
                          size_t *len)
{
    struct chat_input keep = run->in;
    char *user = NULL, *body;

    if (asprintf(&user, "Generate search query for: %s", run->question) < 0)
        return NULL;
    run->in.has_temperature = !plain;
    run->in.temperature = 0;
    run->in.has_max_tokens = !plain;
    run->in.max_tokens = REWRITE_MAX_TOKENS;
    body = call_body(run, rewrite_prompt, user, 0, sent, len);
    run->in = keep;
    free(user);
    return body ? with_item(body, "tools", cJSON_Parse(rewrite_tools), len)
                : NULL;
}

static int start_rewrite(struct rag_run *run)
{
    cJSON *sent = NULL;
    size_t len = 0;
    char *body;

    run->plain = run->g->plain_rewrite;
    body = rewrite_body(run, run->plain, &sent, &len);
    /* Parked first in thoughts until the rewrite's step is written. */
    if (!cJSON_GetArraySize(run->thoughts))
        cJSON_AddItemToArray(run->thoughts, sent ? sent : cJSON_CreateArray());
    else
        cJSON_Delete(sent);
    run->rl.call = body ? model_start(run->g->m, body, len, 0, 0,
                                      &rewrite_cbs, run)
                        : NULL;
    return run->rl.call ? 0 : -1;
}

/* The model's 400 for the rewrite's temperature or max_tokens: the
 * answer for a reasoning model, which the rewrite asks again without
 * them (and so does every later rewrite of this worker). */
static int refused_sampling(const struct relay_error *e)
{
    return e->status == 400 && (!strcmp(e->param, "temperature") ||
                                !strcmp(e->param, "max_tokens"));
}

static int rewrite_again(struct rag_run *run)
{
    if (!run->g->plain_rewrite)
        log_info("rag: the model refused the search query's temperature "
                 "or max_tokens (a reasoning model); asking without them "
                 "from now on");
    run->g->plain_rewrite = 1;
    relay_free(&run->rl);
    memset(&run->rl, 0, sizeof(run->rl));
    return start_rewrite(run);
}

static void on_embed(void *arg, cJSON *vector, int status, const char *msg,
                     const char *retry_after)
{
    struct rag_run *run = arg;
    cJSON *props = cJSON_CreateObject();

    run->ec = NULL;
    if (!vector) {
        cJSON_Delete(props);
        fail_after(run, status, msg, retry_after);
        return;
    }
    run->vector = vector;
    cJSON_AddStringToObject(props, "deployment",
                            run->g->cfg->embedding_deployment);
    cJSON_AddNumberToObject(props, "dimensions", cJSON_GetArraySize(vector));
    thought(run, "Compute the question's embedding",
            cJSON_CreateString(run->question), props, run->embed_ms);
    search(run);
}

/* Appends part (may be NULL) to *f with " and ". */
static int join_filter(char **f, const char *part)
{
    char *j;

    if (!part)
        return 0;
    if (!(j = *f ? str_fmt("%s and %s", *f, part) : strdup(part)))
        return -1;
    free(*f);
    *f = j;
    return 0;
}

/* Splits the conversation: past messages and the question (last, user's);
 * reads the overrides. */
static int take_input(struct rag_run *run, const struct chat_input *in,
                      char *err, size_t errlen)
{
    int n = cJSON_GetArraySize(in->messages);
    const cJSON *last = cJSON_GetArrayItem(in->messages, n - 1);
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(last, "role");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");

    run->in = *in;
    run->in.messages = NULL;
    run->in.context = NULL;
    run->in.session_state = NULL;
    run->in.security_filter = NULL;
    if (overrides_parse(cJSON_GetObjectItemCaseSensitive(in->context,
                                                         "overrides"),
                        run->g->cfg, &run->ov, err, errlen) < 0)
        return -1;
    if (run->ov.mode == OVERRIDES_VECTORS && !run->g->e)
        return snprintf(err, errlen, "context.overrides.retrieval_mode: "
                                     "\"vectors\" needs an embedding deployment "
                                     "(AZURE_OPENAI_EMB_DEPLOYMENT)"),
               -1;
    /* The parts are ANDed: the settings' filter, the categories, then
     * the security filter, as the sample's build_filter orders them. */
    if (join_filter(&run->filter, run->g->cfg->search_filter) < 0 ||
        join_filter(&run->filter, run->ov.filter) < 0 ||
        join_filter(&run->filter, in->security_filter) < 0)
        return -1;
    if (!cJSON_IsString(role) || strcmp(role->valuestring, "user") ||
        !cJSON_IsString(content))
        return snprintf(err, errlen, "messages[%d].role: the last message "
                                     "must be the user's question",
                        n - 1),
               -1;
    run->past = cJSON_Duplicate(in->messages, 1);
    cJSON_DeleteItemFromArray(run->past, n - 1);
    run->question = strdup(content->valuestring);
    run->thoughts = cJSON_CreateArray();
    return run->past && run->question && run->thoughts ? 0 : -1;
}

struct rag_run *rag_start(struct rag *g, const struct chat_input *in,
                          int stream, const struct rag_cbs *cbs, void *arg,
                          char *err, size_t errlen)
{
    struct rag_run *run = calloc(1, sizeof(*run));

    err[0] = '\0';
    if (!run)
        return NULL;
    run->g = g;
    run->cbs = cbs;
    run->arg = arg;
    run->stream = stream;
    clock_gettime(CLOCK_MONOTONIC, &run->t0);
    if (take_input(run, in, err, errlen) < 0 || start_rewrite(run) < 0) {
        run_free(run);
        return NULL;
    }
    /* text: no embedding, as the sample computes none */
    if (g->e && run->ov.mode != OVERRIDES_TEXT) {
        run->embed_ms = now_ms(run);
        if (!(run->ec = embed_start(g->e, run->question, on_embed, run))) {
            run_free(run);
            return NULL;
        }
    }
    return run;
}

void rag_cancel(struct rag_run *run)
{
    run_free(run);
}
