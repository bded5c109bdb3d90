/*
 * mockmodel — the built-in mock provider (see mockmodel.h).
 *
 * One timer per call walks a small state machine: head, role chunk,
 * tokens, final chunk, usage chunk, [DONE], done. Each step is written as
 * one whole SSE event, as the real services flush them.
 */
#include "worker/model/mockmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/str.h"
#include "worker/apptimer.h"

static const char *const words[] = {
    "Hello!",
    "This",
    "answer",
    "comes",
    "from",
    "the",
    "llmfork",
    "mock",
    "model,",
    "streamed",
    "one",
    "token",
    "at",
    "a",
    "time",
    "so",
    "you",
    "can",
    "watch",
    "it",
    "grow.",
    "Set",
    "a",
    "provider",
    "to",
    "talk",
    "to",
    "a",
    "real",
    "model.",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

enum step { ST_HEAD,
            ST_ROLE,
            ST_TOKEN,
            ST_FINAL,
            ST_USAGE,
            ST_DONE,
            ST_END };

struct mockmodel_call {
    struct app_timer *timer;
    const struct model_cbs *cbs;
    struct model_call *owner;
    void *arg;
    struct mockmodel_opts o;
    enum step step;
    int token; /* next token index */
    long id;
    time_t created;
    struct str_buf out; /* scratch for one event */
    unsigned paused : 1;
    unsigned in_cb : 1;
    unsigned cancelled : 1;
};

const char *mockmodel_word(int i)
{
    return words[(size_t)i % NWORDS];
}

static void call_free(struct mockmodel_call *mc)
{
    app_timer_free(mc->timer);
    str_buf_free(&mc->out);
    free(mc);
}

static void arm(struct mockmodel_call *mc, int ms)
{
    if (!mc->paused)
        app_timer_after(mc->timer, ms);
}

static void chunk_open(struct mockmodel_call *mc)
{
    str_buf_printf(&mc->out,
                   "data: {\"id\":\"chatcmpl-mock%ld\",\"object\":\"chat.completion.chunk\","
                   "\"created\":%ld,\"model\":\"",
                   mc->id, (long)mc->created);
    json_esc_append(&mc->out, mc->o.model, strlen(mc->o.model));
    str_buf_printf(&mc->out, "\",\"system_fingerprint\":null,\"choices\":");
}

static void token_text(struct mockmodel_call *mc, int i)
{
    const char *w = mockmodel_word(i);

    if (i > 0)
        str_buf_add(&mc->out, " ", 1);
    json_esc_append(&mc->out, w, strlen(w));
}

static void usage_obj(struct mockmodel_call *mc)
{
    str_buf_printf(&mc->out,
                   "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,"
                   "\"total_tokens\":%d}",
                   10, mc->o.tokens, 10 + mc->o.tokens);
}

/* Writes the event for the current step into mc->out. */
static void format_step(struct mockmodel_call *mc)
{
    switch (mc->step) {
    case ST_ROLE:
        chunk_open(mc);
        str_buf_printf(&mc->out, "[{\"index\":0,\"delta\":{\"role\":"
                                 "\"assistant\",\"content\":\"\"},\"logprobs\":null,"
                                 "\"finish_reason\":null}]}\n\n");
        break;
    case ST_TOKEN:
        chunk_open(mc);
        str_buf_printf(&mc->out, "[{\"index\":0,\"delta\":{\"content\":\"");
        token_text(mc, mc->token);
        str_buf_printf(&mc->out, "\"},\"logprobs\":null,"
                                 "\"finish_reason\":null}]}\n\n");
        break;
    case ST_FINAL:
        chunk_open(mc);
        str_buf_printf(&mc->out, "[{\"index\":0,\"delta\":{},"
                                 "\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n");
        break;
    case ST_USAGE:
        chunk_open(mc);
        str_buf_printf(&mc->out, "[],");
        usage_obj(mc);
        str_buf_printf(&mc->out, "}\n\n");
        break;
    case ST_DONE:
        str_buf_printf(&mc->out, "data: [DONE]\n\n");
        break;
    default:
        break;
    }
}

/* The non-streaming body: a whole chat.completion object. */
static void format_whole(struct mockmodel_call *mc)
{
    str_buf_printf(&mc->out,
                   "{\"id\":\"chatcmpl-mock%ld\",\"object\":\"chat.completion\","
                   "\"created\":%ld,\"model\":\"",
                   mc->id, (long)mc->created);
    json_esc_append(&mc->out, mc->o.model, strlen(mc->o.model));
    str_buf_printf(&mc->out, "\",\"choices\":[{\"index\":0,\"message\":"
                             "{\"role\":\"assistant\",\"content\":\"");
    for (int i = 0; i < mc->o.tokens; i++)
        token_text(mc, i);
    str_buf_printf(&mc->out, "\",\"refusal\":null},\"logprobs\":null,"
                             "\"finish_reason\":\"stop\"}],");
    usage_obj(mc);
    str_buf_printf(&mc->out, ",\"system_fingerprint\":null}");
}

static enum step next_step(const struct mockmodel_call *mc)
{
    switch (mc->step) {
    case ST_HEAD:
        return mc->o.stream ? ST_ROLE : ST_DONE;
    case ST_ROLE:
        return mc->o.tokens > 0 ? ST_TOKEN : ST_FINAL;
    case ST_TOKEN:
        return mc->token + 1 < mc->o.tokens ? ST_TOKEN : ST_FINAL;
    case ST_FINAL:
        return mc->o.include_usage ? ST_USAGE : ST_DONE;
    case ST_USAGE:
        return ST_DONE;
    default:
        return ST_END;
    }
}

/* Emits the current step. Returns 0 to go on, -1 when the call was
 * cancelled or ended from a callback (mc must not be touched). */
static int emit(struct mockmodel_call *mc)
{
    mc->in_cb = 1;
    if (mc->step == ST_HEAD) {
        if (mc->cbs->on_headers)
            mc->cbs->on_headers(mc->owner, 200, mc->arg);
    } else if (mc->step == ST_END) {
        struct fetch_result r = { FETCH_OK, 200, 1, "ok" };
        mc->cbs->on_done(mc->owner, &r, mc->arg);
        call_free(mc);
        return -1;
    } else {
        if (mc->o.stream)
            format_step(mc);
        else
            format_whole(mc);
        size_t n = mc->out.len;
        const char *p = str_buf_cstr(&mc->out);
        if (mc->cbs->on_data)
            mc->cbs->on_data(mc->owner, p, n, mc->arg);
        if (!mc->cancelled)
            str_buf_reset(&mc->out);
    }
    mc->in_cb = 0;
    if (mc->cancelled) {
        call_free(mc);
        return -1;
    }
    return 0;
}

static void on_tick(void *arg)
{
    struct mockmodel_call *mc = arg;

    if (emit(mc) < 0)
        return;
    enum step prev = mc->step;
    mc->step = next_step(mc);
    if (prev == ST_TOKEN && mc->step == ST_TOKEN)
        mc->token++;
    /* Tokens (and a whole answer) take time; framing steps do not. */
    int wait = 0;
    if (mc->step == ST_TOKEN)
        wait = mc->o.delay_ms;
    else if (mc->step == ST_DONE && !mc->o.stream)
        wait = mc->o.delay_ms * mc->o.tokens;
    arm(mc, wait);
}

struct mockmodel_call *mockmodel_start(const struct mockmodel_opts *o,
                                       const struct model_cbs *cbs,
                                       struct model_call *owner, void *arg)
{
    static long seq;
    struct mockmodel_call *mc = calloc(1, sizeof(*mc));

    if (!mc)
        return NULL;
    mc->timer = app_timer_new(on_tick, mc);
    if (!mc->timer) {
        free(mc);
        return NULL;
    }
    mc->cbs = cbs;
    mc->owner = owner;
    mc->arg = arg;
    mc->o = *o;
    mc->id = ++seq;
    mc->created = time(NULL);
    mc->step = ST_HEAD;
    arm(mc, 0);
    return mc;
}

void mockmodel_cancel(struct mockmodel_call *mc)
{
    if (mc->in_cb) {
        mc->cancelled = 1;
        return;
    }
    call_free(mc);
}

void mockmodel_pause(struct mockmodel_call *mc)
{
    mc->paused = 1;
    app_timer_stop(mc->timer);
}

void mockmodel_resume(struct mockmodel_call *mc)
{
    if (!mc->paused)
        return;
    mc->paused = 0;
    /* From inside a callback, on_tick re-arms it as it returns. */
    if (!mc->in_cb)
        arm(mc, mc->step == ST_TOKEN ? mc->o.delay_ms : 0);
}
