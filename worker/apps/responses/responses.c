/* responses — chat completions -> the Responses API (see responses.h). */
#include "worker/apps/responses/responses.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/json.h"

enum { OPEN_NONE,
       OPEN_REASONING,
       OPEN_MESSAGE };

/* ---- text buffers: a failed allocation sets s->oom, later puts no-op ---- */

static int reserve(struct responses_stream *s, struct responses_buf *b,
                   size_t more)
{
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    if (s->oom || more > SIZE_MAX / 4 - b->n)
        return s->oom = 1, -1;
    if (b->n + more + 1 <= b->cap)
        return 0;
    while (cap < b->n + more + 1)
        cap *= 2;
    if (!(p = realloc(b->p, cap)))
        return s->oom = 1, -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void put_n(struct responses_stream *s, struct responses_buf *b,
                  const char *p, size_t n)
{
    if (reserve(s, b, n) == 0) {
        memcpy(b->p + b->n, p, n);
        b->n += n;
        b->p[b->n] = '\0';
    }
}

static void put(struct responses_stream *s, struct responses_buf *b,
                const char *str)
{
    put_n(s, b, str, strlen(str));
}

/* p[0..n) escaped as a JSON string's inside (no quotes). */
static void put_esc(struct responses_stream *s, struct responses_buf *b,
                    const char *p, size_t n)
{
    if (n > SIZE_MAX / 8 || reserve(s, b, 6 * n + 1) < 0)
        return;
    b->n += json_esc(b->p + b->n, b->cap - b->n, p, n);
}

static void putf(struct responses_stream *s, struct responses_buf *b,
                 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void putf(struct responses_stream *s, struct responses_buf *b,
                 const char *fmt, ...)
{
    char tmp[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put(s, b, tmp);
}

static const char *buf_str(const struct responses_buf *b)
{
    return b->n ? b->p : "";
}

/* ---- the stream ---- */

void responses_init(struct responses_stream *s, const char *model,
                    long long created, unsigned long long n,
                    responses_emit emit, void *arg)
{
    size_t ml = strlen(model);

    memset(s, 0, sizeof(*s));
    s->emit = emit;
    s->arg = arg;
    s->created = created;
    snprintf(s->id, sizeof(s->id), "resp_%08llx%016llx",
             (unsigned long long)created & 0xffffffffULL, n);
    snprintf(s->msg_id, sizeof(s->msg_id), "msg_%08llx%016llx",
             (unsigned long long)created & 0xffffffffULL, n);
    snprintf(s->rs_id, sizeof(s->rs_id), "rs_%08llx%016llx",
             (unsigned long long)created & 0xffffffffULL, n);
    if (json_esc(s->model, sizeof(s->model), model,
                 ml < sizeof(s->model) / 6 ? ml : sizeof(s->model) / 6 - 1) == (size_t)-1)
        s->model[0] = '\0';
    reasoning_init(&s->split);
}

void responses_free(struct responses_stream *s)
{
    free(s->text.p);
    free(s->answer.p);
    free(s->items.p);
    free(s->line.p);
    delta_memo_free(&s->memo);
    memset(&s->text, 0, sizeof(s->text));
    memset(&s->answer, 0, sizeof(s->answer));
    memset(&s->items, 0, sizeof(s->items));
    memset(&s->line, 0, sizeof(s->line));
}

/* Opens an event in s->line: {"type":T,"sequence_number":N */
static struct responses_buf *event_open(struct responses_stream *s,
                                        const char *type)
{
    struct responses_buf *b = &s->line;

    b->n = 0;
    put(s, b, "{\"type\":\"");
    put(s, b, type);
    putf(s, b, "\",\"sequence_number\":%ld", s->seq++);
    return b;
}

static void event_send(struct responses_stream *s, const char *type)
{
    put(s, &s->line, "}");
    if (s->emit && !s->oom)
        s->emit(s->arg, type, s->line.p, s->line.n);
}

/* An event that names an item's part: item_id, output_index,
 * content_index 0. */
static struct responses_buf *part_event(struct responses_stream *s,
                                        const char *type)
{
    struct responses_buf *b = event_open(s, type);

    put(s, b, ",\"item_id\":\"");
    put(s, b, s->open == OPEN_REASONING ? s->rs_id : s->msg_id);
    putf(s, b, "\",\"output_index\":%d,\"content_index\":0", s->nout - 1);
    return b;
}

/* The open item's content part, with its text so far. */
static void put_part(struct responses_stream *s, struct responses_buf *b)
{
    if (s->open == OPEN_REASONING) {
        put(s, b, "{\"type\":\"reasoning_text\",\"text\":\"");
        put_esc(s, b, s->text.p, s->text.n);
        put(s, b, "\"}");
    } else {
        put(s, b, "{\"type\":\"output_text\",\"annotations\":[],"
                  "\"logprobs\":[],\"text\":\"");
        put_esc(s, b, s->text.p, s->text.n);
        put(s, b, "\"}");
    }
}

/* The open item; with_part: its content holds the part. */
static void put_item(struct responses_stream *s, struct responses_buf *b,
                     int with_part)
{
    if (s->open == OPEN_REASONING) {
        put(s, b, "{\"id\":\"");
        put(s, b, s->rs_id);
        put(s, b, "\",\"type\":\"reasoning\",\"summary\":[],\"content\":[");
    } else {
        put(s, b, "{\"id\":\"");
        put(s, b, s->msg_id);
        put(s, b, with_part ? "\",\"type\":\"message\",\"status\":\"completed\"" : "\",\"type\":\"message\",\"status\":\"in_progress\"");
        put(s, b, ",\"content\":[");
    }
    if (with_part)
        put_part(s, b);
    put(s, b, s->open == OPEN_REASONING ? "]}" : "],\"role\":\"assistant\"}");
}

static void item_open(struct responses_stream *s, int kind)
{
    struct responses_buf *b;

    s->open = kind;
    s->nout++;
    s->text.n = 0;
    b = event_open(s, "response.output_item.added");
    putf(s, b, ",\"output_index\":%d,\"item\":", s->nout - 1);
    put_item(s, b, 0);
    event_send(s, "response.output_item.added");
    b = part_event(s, "response.content_part.added");
    put(s, b, ",\"part\":");
    put_part(s, b);
    event_send(s, "response.content_part.added");
}

static void item_close(struct responses_stream *s)
{
    int rs = s->open == OPEN_REASONING;
    const char *done = rs ? "response.reasoning_text.done"
                          : "response.output_text.done";
    struct responses_buf *b;

    if (s->open == OPEN_NONE)
        return;
    b = part_event(s, done);
    put(s, b, ",\"text\":\"");
    put_esc(s, b, s->text.p, s->text.n);
    put(s, b, rs ? "\"" : "\",\"logprobs\":[]");
    event_send(s, done);
    b = part_event(s, "response.content_part.done");
    put(s, b, ",\"part\":");
    put_part(s, b);
    event_send(s, "response.content_part.done");
    b = event_open(s, "response.output_item.done");
    putf(s, b, ",\"output_index\":%d,\"item\":", s->nout - 1);
    put_item(s, b, 1);
    event_send(s, "response.output_item.done");
    if (s->items.n)
        put(s, &s->items, ",");
    put_item(s, &s->items, 1);
    s->msg_done |= !rs;
    s->open = OPEN_NONE;
}

/* A run of thinking or answer text. */
static void text_run(void *arg, int thinking, const char *p, size_t n)
{
    struct responses_stream *s = arg;
    int kind = thinking ? OPEN_REASONING : OPEN_MESSAGE;
    const char *type = thinking ? "response.reasoning_text.delta"
                                : "response.output_text.delta";
    struct responses_buf *b;

    if (s->ended)
        return;
    if (s->open != kind) {
        item_close(s);
        item_open(s, kind);
    }
    put_n(s, &s->text, p, n);
    if (!thinking)
        put_n(s, &s->answer, p, n);
    if (!s->emit)
        return;
    b = part_event(s, type);
    put(s, b, ",\"delta\":\"");
    put_esc(s, b, p, n);
    put(s, b, thinking ? "\"" : "\",\"logprobs\":[]");
    event_send(s, type);
}

static void put_usage(struct responses_stream *s, struct responses_buf *b)
{
    if (!s->has_usage) {
        put(s, b, "null");
        return;
    }
    putf(s, b, "{\"input_tokens\":%ld,\"input_tokens_details\":"
               "{\"cached_tokens\":%ld},",
         s->in_tok, s->cached_tok);
    putf(s, b, "\"output_tokens\":%ld,\"output_tokens_details\":"
               "{\"reasoning_tokens\":%ld},",
         s->out_tok, s->reasoning_tok);
    putf(s, b, "\"total_tokens\":%ld}", s->in_tok + s->out_tok);
}

/* The response object; error: {code, message} JSON, or NULL. */
static void put_response(struct responses_stream *s, struct responses_buf *b,
                         const char *status, const char *error)
{
    put(s, b, "{\"id\":\"");
    put(s, b, s->id);
    putf(s, b, "\",\"object\":\"response\",\"created_at\":%ld,",
         (long)s->created);
    put(s, b, "\"status\":\"");
    put(s, b, status);
    put(s, b, "\",\"background\":false,\"error\":");
    put(s, b, error ? error : "null");
    put(s, b, ",\"incomplete_details\":");
    if (s->incomplete && strcmp(status, "incomplete") == 0) {
        put(s, b, "{\"reason\":\"");
        put(s, b, s->incomplete);
        put(s, b, "\"}");
    } else {
        put(s, b, "null");
    }
    put(s, b, ",\"instructions\":null,\"max_output_tokens\":null,"
              "\"model\":\"");
    put(s, b, s->model);
    put(s, b, "\",\"output\":[");
    put_n(s, b, buf_str(&s->items), s->items.n);
    put(s, b, "],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
              "\"reasoning\":{\"effort\":null,\"summary\":null},\"store\":false,"
              "\"temperature\":null,\"text\":{\"format\":{\"type\":\"text\"}},"
              "\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":null,"
              "\"truncation\":\"disabled\",\"usage\":");
    put_usage(s, b);
    put(s, b, ",\"user\":null,\"metadata\":{}}");
}

static void response_event(struct responses_stream *s, const char *type,
                           const char *status, const char *error)
{
    struct responses_buf *b = event_open(s, type);

    put(s, b, ",\"response\":");
    put_response(s, b, status, error);
    event_send(s, type);
}

void responses_begin(struct responses_stream *s)
{
    response_event(s, "response.created", "in_progress", NULL);
    response_event(s, "response.in_progress", "in_progress", NULL);
}

/* Closes the items (a message item always, empty if need be). */
static void close_items(struct responses_stream *s)
{
    reasoning_finish(&s->split, text_run, s);
    if (!s->msg_done && s->open != OPEN_MESSAGE) {
        item_close(s);
        item_open(s, OPEN_MESSAGE);
    }
    item_close(s);
}

void responses_done(struct responses_stream *s)
{
    if (s->ended)
        return;
    close_items(s);
    if (s->incomplete)
        response_event(s, "response.incomplete", "incomplete", NULL);
    else
        response_event(s, "response.completed", "completed", NULL);
    s->ended = 1;
}

void responses_fail(struct responses_stream *s, const char *code,
                    const char *msg)
{
    struct responses_buf err = { 0 };

    if (s->ended)
        return;
    reasoning_finish(&s->split, text_run, s);
    item_close(s);
    put(s, &err, "{\"code\":\"");
    put_esc(s, &err, code, strlen(code));
    put(s, &err, "\",\"message\":\"");
    put_esc(s, &err, msg, strlen(msg));
    put(s, &err, "\"}");
    response_event(s, "response.failed", "failed", buf_str(&err));
    free(err.p);
    s->ended = 1;
}

static long num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

static void read_usage(struct responses_stream *s, const cJSON *u)
{
    if (!cJSON_IsObject(u))
        return;
    s->has_usage = 1;
    s->in_tok = num(u, "prompt_tokens");
    s->out_tok = num(u, "completion_tokens");
    s->cached_tok = num(cJSON_GetObjectItemCaseSensitive(
                            u, "prompt_tokens_details"),
                        "cached_tokens");
    s->reasoning_tok = num(cJSON_GetObjectItemCaseSensitive(
                               u, "completion_tokens_details"),
                           "reasoning_tokens");
}

static void read_finish(struct responses_stream *s, const cJSON *fin)
{
    if (!cJSON_IsString(fin))
        return;
    if (strcmp(fin->valuestring, "length") == 0)
        s->incomplete = "max_output_tokens";
    else if (strcmp(fin->valuestring, "content_filter") == 0)
        s->incomplete = "content_filter";
}

/* One choice's delta (streamed) or message (whole): thinking, content,
 * a refusal (the answer to show, as the chat app does). */
static void read_text(struct responses_stream *s, const cJSON *d)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "reasoning_content");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "content");
    const cJSON *no = cJSON_GetObjectItemCaseSensitive(d, "refusal");

    if (cJSON_IsString(t) && t->valuestring[0])
        text_run(s, 1, t->valuestring, strlen(t->valuestring));
    if (cJSON_IsString(c) && c->valuestring[0])
        reasoning_feed(&s->split, c->valuestring, strlen(c->valuestring),
                       text_run, s);
    if (cJSON_IsString(no) && no->valuestring[0])
        text_run(s, 0, no->valuestring, strlen(no->valuestring));
}

/* The upstream's error object -> response.failed. */
static void fail_with(struct responses_stream *s, const cJSON *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(err, "code");

    responses_fail(s, cJSON_IsString(c) ? c->valuestring : "server_error",
                   cJSON_IsString(m) ? m->valuestring
                                     : "the model failed mid-stream");
}

/* A chunk the fast path leaves alone: role, finish, usage, thinking,
 * errors. */
static int chunk_tree(struct responses_stream *s, const char *data, size_t len)
{
    cJSON *o = json_parse(data, len, NULL, 0);
    const cJSON *choice, *err;

    if (!o) {
        responses_fail(s, "server_error", "the model sent a malformed chunk");
        return -1;
    }
    if ((err = cJSON_GetObjectItemCaseSensitive(o, "error")) != NULL) {
        fail_with(s, err);
        cJSON_Delete(o);
        return -1;
    }
    choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"),
                                0);
    read_text(s, cJSON_GetObjectItemCaseSensitive(choice, "delta"));
    read_finish(s, cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"));
    read_usage(s, cJSON_GetObjectItemCaseSensitive(o, "usage"));
    cJSON_Delete(o);
    return 0;
}

int responses_chunk(struct responses_stream *s, const char *data, size_t len)
{
    struct delta d;
    char stack[1024], *buf = stack;
    size_t n;

    if (s->ended)
        return -1;
    if (delta_scan(data, len, &d, &s->memo) != DELTA_OK || !d.content)
        return chunk_tree(s, data, len);
    n = d.content_len;
    if (d.escaped) {
        if (n > sizeof(stack) && !(buf = malloc(n))) {
            responses_fail(s, "server_error", "out of memory");
            return -1;
        }
        n = delta_unescape(d.content, n, buf);
    }
    if (n > 0)
        reasoning_feed(&s->split, d.escaped ? buf : d.content, n, text_run, s);
    if (buf != stack)
        free(buf);
    return 0;
}

const char *responses_output_text(struct responses_stream *s)
{
    return buf_str(&s->answer);
}

char *responses_whole(struct responses_stream *s, const char *body,
                      size_t len, char *err, size_t errlen)
{
    cJSON *o = json_parse(body, len, NULL, 0);
    const cJSON *choice = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(o, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    struct responses_buf out = { 0 };

    if (!cJSON_IsObject(msg)) {
        cJSON_Delete(o);
        snprintf(err, errlen, "the model's answer had no message");
        return NULL;
    }
    read_text(s, msg);
    read_finish(s, cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"));
    read_usage(s, cJSON_GetObjectItemCaseSensitive(o, "usage"));
    cJSON_Delete(o);
    close_items(s);
    s->ended = 1;
    put_response(s, &out, s->incomplete ? "incomplete" : "completed", NULL);
    if (s->oom) {
        free(out.p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return out.p;
}

/* ---- requests ---- */

static const char *const roles[] = { "user", "assistant", "system",
                                     "developer" };

static int known_role(const char *r)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(r, roles[i]) == 0)
            return 1;
    return 0;
}

/* A message's content (a string, or text parts joined) as a new string
 * item; NULL with err. */
static cJSON *content_text(const cJSON *c, int i, char *err, size_t n)
{
    const cJSON *part;
    size_t total = 0;
    int j = 0;
    char *text;
    cJSON *item;

    if (cJSON_IsString(c))
        return cJSON_CreateString(c->valuestring);
    if (!cJSON_IsArray(c))
        return snprintf(err, n, "input[%d].content: must be a string or an "
                                "array of parts",
                        i),
               NULL;
    cJSON_ArrayForEach(part, c)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) ||
            (strcmp(type->valuestring, "input_text") != 0 &&
             strcmp(type->valuestring, "output_text") != 0))
            return snprintf(err, n, "input[%d].content[%d].type: must be "
                                    "input_text or output_text (this provider takes "
                                    "text only)",
                            i, j),
                   NULL;
        if (!cJSON_IsString(t))
            return snprintf(err, n, "input[%d].content[%d].text: must be a "
                                    "string",
                            i, j),
                   NULL;
        total += strlen(t->valuestring);
        j++;
    }
    if (!(text = malloc(total + 1)))
        return snprintf(err, n, "out of memory"), NULL;
    text[0] = '\0';
    total = 0;
    cJSON_ArrayForEach(part, c)
    {
        const char *t = cJSON_GetObjectItemCaseSensitive(part,
                                                         "text")
                            ->valuestring;
        memcpy(text + total, t, strlen(t) + 1);
        total += strlen(t);
    }
    item = cJSON_CreateString(text);
    free(text);
    if (!item)
        snprintf(err, n, "out of memory");
    return item;
}

static cJSON *message(const char *role, cJSON *content)
{
    cJSON *m = cJSON_CreateObject();

    if (!m || !content || !cJSON_AddStringToObject(m, "role", role)) {
        cJSON_Delete(m);
        cJSON_Delete(content);
        return NULL;
    }
    cJSON_AddItemToObject(m, "content", content);
    return m;
}

/* input[i] -> a chat message, or NULL with err. */
static cJSON *input_item(const cJSON *it, int i, char *err, size_t n)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
    cJSON *text, *m;

    if (!cJSON_IsObject(it))
        return snprintf(err, n, "input[%d]: must be an object", i), NULL;
    if (type && (!cJSON_IsString(type) ||
                 strcmp(type->valuestring, "message") != 0))
        return snprintf(err, n, "input[%d].type: only message items are "
                                "supported",
                        i),
               NULL;
    if (!cJSON_IsString(role) || !known_role(role->valuestring))
        return snprintf(err, n, "input[%d].role: must be user, assistant, "
                                "system or developer",
                        i),
               NULL;
    if (!(text = content_text(cJSON_GetObjectItemCaseSensitive(it, "content"),
                              i, err, n)))
        return NULL;
    if (!(m = message(role->valuestring, text)))
        snprintf(err, n, "out of memory");
    return m;
}

cJSON *responses_messages(const cJSON *input, const cJSON *instructions,
                          char *err, size_t errlen)
{
    cJSON *msgs = cJSON_CreateArray(), *m;
    const cJSON *it;
    int i = 0;

    if (!msgs)
        return snprintf(err, errlen, "out of memory"), NULL;
    if (instructions && !cJSON_IsNull(instructions)) {
        if (!cJSON_IsString(instructions)) {
            cJSON_Delete(msgs);
            return snprintf(err, errlen, "instructions: must be a string"),
                   NULL;
        }
        if (!(m = message("system", cJSON_CreateString(
                                        instructions->valuestring)))) {
            cJSON_Delete(msgs);
            return snprintf(err, errlen, "out of memory"), NULL;
        }
        cJSON_AddItemToArray(msgs, m);
    }
    if (cJSON_IsString(input)) {
        if (!(m = message("user", cJSON_CreateString(input->valuestring)))) {
            cJSON_Delete(msgs);
            return snprintf(err, errlen, "out of memory"), NULL;
        }
        cJSON_AddItemToArray(msgs, m);
        return msgs;
    }
    if (!input || !cJSON_IsArray(input) || cJSON_GetArraySize(input) == 0) {
        cJSON_Delete(msgs);
        return snprintf(err, errlen, input ? "input: must be a string or a "
                                             "non-empty array of items"
                                           : "input: required"),
               NULL;
    }
    cJSON_ArrayForEach(it, input)
    {
        if (!(m = input_item(it, i++, err, errlen))) {
            cJSON_Delete(msgs);
            return NULL;
        }
        cJSON_AddItemToArray(msgs, m);
    }
    return msgs;
}

/* Copies req[from] to body[to] when it is a number in [lo, hi]; absent or
 * null is fine. Returns -1 with err otherwise. */
static int copy_num(const cJSON *req, cJSON *body, const char *from,
                    const char *to, double lo, double hi, char *err, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, from);

    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi)
        return snprintf(err, n, "%s: must be a number from %g to %g", from,
                        lo, hi),
               -1;
    if (!cJSON_AddNumberToObject(body, to, v->valuedouble))
        return snprintf(err, n, "out of memory"), -1;
    return 0;
}

cJSON *responses_chat_body(const cJSON *req, char *err, size_t errlen)
{
    cJSON *msgs = responses_messages(
        cJSON_GetObjectItemCaseSensitive(req, "input"),
        cJSON_GetObjectItemCaseSensitive(req, "instructions"), err, errlen);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(req, "stream");
    int stream = cJSON_IsTrue(st);
    cJSON *body = msgs ? cJSON_CreateObject() : NULL;

    if (!msgs)
        return NULL;
    if (!body) {
        cJSON_Delete(msgs);
        return snprintf(err, errlen, "out of memory"), NULL;
    }
    cJSON_AddItemToObject(body, "messages", msgs);
    if (st && !cJSON_IsBool(st) && !cJSON_IsNull(st)) {
        cJSON_Delete(body);
        return snprintf(err, errlen, "stream: must be a boolean"), NULL;
    }
    if (copy_num(req, body, "max_output_tokens", "max_tokens", 1, 1e9, err,
                 errlen) < 0 ||
        copy_num(req, body, "temperature", "temperature", 0, 2, err,
                 errlen) < 0 ||
        copy_num(req, body, "top_p", "top_p", 0, 1, err, errlen) < 0 ||
        !cJSON_AddBoolToObject(body, "stream", stream) ||
        (stream && !cJSON_AddTrueToObject(
                       cJSON_AddObjectToObject(body, "stream_options"), "include_usage"))) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        cJSON_Delete(body);
        return NULL;
    }
    return body;
}
