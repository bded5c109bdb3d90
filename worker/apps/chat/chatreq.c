/* chatreq — the chat app's request validation and upstream body. */
#include "worker/apps/chat/chatreq.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "common/json.h"
#include "worker/model/model.h"

static const char *const roles[] = { "system", "user", "assistant", "developer" };

static int known_role(const char *r)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(r, roles[i]) == 0)
            return 1;
    return 0;
}

static int check_message(const cJSON *m, int i, char *err, size_t n)
{
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");

    if (!cJSON_IsObject(m))
        return snprintf(err, n, "messages[%d]: must be an object", i), -1;
    if (!role)
        return snprintf(err, n, "messages[%d].role: required", i), -1;
    if (!cJSON_IsString(role))
        return snprintf(err, n, "messages[%d].role: must be a string", i), -1;
    if (!known_role(role->valuestring))
        return snprintf(err, n, "messages[%d].role: unknown role '%.40s' "
                                "(system, user, assistant, developer)",
                        i,
                        role->valuestring),
               -1;
    if (!content)
        return snprintf(err, n, "messages[%d].content: required", i), -1;
    if (!cJSON_IsString(content))
        return snprintf(err, n, "messages[%d].content: must be a string", i), -1;
    return 0;
}

static int check_messages(const cJSON *msgs, char *err, size_t n)
{
    int i = 0;
    const cJSON *m;

    if (!msgs)
        return snprintf(err, n, "messages: required"), -1;
    if (!cJSON_IsArray(msgs))
        return snprintf(err, n, "messages: must be an array"), -1;
    if (cJSON_GetArraySize(msgs) == 0)
        return snprintf(err, n, "messages: must not be empty"), -1;
    cJSON_ArrayForEach(m, msgs)
    {
        if (check_message(m, i++, err, n) < 0)
            return -1;
    }
    return 0;
}

static int is_integer(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
           fabs(v->valuedouble) < 9.0e15;
}

static int parse_overrides(const cJSON *ov, const struct cfg *c,
                           struct chat_input *in, char *err, size_t n)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ov, "temperature");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(ov, "max_tokens");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(ov, "seed");

    if (!cJSON_IsObject(ov))
        return snprintf(err, n, "context.overrides: must be an object"), -1;
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 2)
            return snprintf(err, n, "context.overrides.temperature: must be "
                                    "a number from 0 to 2"),
                   -1;
        in->temperature = t->valuedouble;
        in->has_temperature = 1;
    }
    if (mt && !cJSON_IsNull(mt)) {
        if (!is_integer(mt) || mt->valuedouble < 1 ||
            mt->valuedouble > c->max_tokens_limit)
            return snprintf(err, n, "context.overrides.max_tokens: must be an "
                                    "integer from 1 to %d",
                            c->max_tokens_limit),
                   -1;
        in->max_tokens = (int)mt->valuedouble;
        in->has_max_tokens = 1;
    }
    if (seed && !cJSON_IsNull(seed)) {
        if (!is_integer(seed))
            return snprintf(err, n, "context.overrides.seed: must be an "
                                    "integer"),
                   -1;
        in->seed = (long long)seed->valuedouble;
        in->has_seed = 1;
    }
    return 0;
}

int chatreq_parse(cJSON *root, const struct cfg *c, struct chat_input *in,
                  char *err, size_t errlen)
{
    cJSON *ctx, *ov;

    memset(in, 0, sizeof(*in));
    in->messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (check_messages(in->messages, err, errlen) < 0)
        return -1;
    ctx = cJSON_GetObjectItemCaseSensitive(root, "context");
    if (ctx && !cJSON_IsNull(ctx)) {
        if (!cJSON_IsObject(ctx))
            return snprintf(err, errlen, "context: must be an object"), -1;
        in->context = ctx;
        ov = cJSON_GetObjectItemCaseSensitive(ctx, "overrides");
        if (ov && !cJSON_IsNull(ov) &&
            parse_overrides(ov, c, in, err, errlen) < 0)
            return -1;
    }
    in->session_state = cJSON_GetObjectItemCaseSensitive(root, "session_state");
    if (!in->session_state)
        in->session_state = cJSON_GetObjectItemCaseSensitive(root, "sessionState");
    return 0;
}

/* The upstream body and the first line are written out directly:
 * building a cJSON tree, printing and deleting it cost ~12k and ~7k
 * instructions per /chat/stream request (callgrind), more than the rest
 * of the request's own code. A failed allocation sets failed and makes
 * every later put a no-op. */
struct out {
    char *p;
    size_t n, cap;
    int failed;
};

static int reserve(struct out *o, size_t more)
{
    size_t cap = o->cap ? o->cap : 512;
    char *p;

    if (o->failed || more > SIZE_MAX / 2 - o->n)
        return o->failed = 1, -1;
    if (o->n + more <= o->cap)
        return 0;
    while (cap < o->n + more)
        cap *= 2;
    if ((p = realloc(o->p, cap)) == NULL)
        return o->failed = 1, -1;
    o->p = p;
    o->cap = cap;
    return 0;
}

static void put(struct out *o, const char *s)
{
    size_t n = strlen(s);

    if (reserve(o, n) == 0) {
        memcpy(o->p + o->n, s, n);
        o->n += n;
    }
}

/* s as a JSON string, quotes included, escaped as cJSON prints it. */
static void put_str(struct out *o, const char *s)
{
    size_t n = strlen(s);

    /* an escape is at most 6 bytes ("\u001f"); the quotes, json_esc's NUL */
    if (n > SIZE_MAX / 8 || reserve(o, 6 * n + 3))
        return;
    o->p[o->n++] = '"';
    o->n += json_esc(o->p + o->n, o->cap - o->n, s, n);
    o->p[o->n++] = '"';
}

/* A number as cJSON prints it: 15 digits when they read back the same. */
static void put_num(struct out *o, const char *key, double v)
{
    char b[64];

    snprintf(b, sizeof b, ",\"%s\":%1.15g", key, v);
    if (strtod(strchr(b, ':') + 1, NULL) != v)
        snprintf(b, sizeof b, ",\"%s\":%1.17g", key, v);
    put(o, b);
}

static void put_message(struct out *o, const char *role, const char *content)
{
    put(o, "{\"role\":");
    put_str(o, role);
    put(o, ",\"content\":");
    put_str(o, content);
    put(o, "}");
}

static void put_messages(struct out *o, const struct chat_input *in,
                         const struct cfg *c)
{
    const char *sep = "";
    const cJSON *m;

    put(o, "\"messages\":[");
    if (c->system_prompt && *c->system_prompt) {
        put_message(o, "system", c->system_prompt);
        sep = ",";
    }
    cJSON_ArrayForEach(m, in->messages)
    {
        put(o, sep);
        put_message(o,
                    cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring,
                    cJSON_GetObjectItemCaseSensitive(m, "content")->valuestring);
        sep = ",";
    }
    put(o, "]");
}

/* o's text NUL-terminated and handed over, or NULL when a put failed. */
static char *finish(struct out *o, size_t *len)
{
    if (reserve(o, 1) < 0) {
        free(o->p);
        return NULL;
    }
    o->p[o->n] = '\0';
    if (len != NULL)
        *len = o->n;
    return o->p;
}

char *chatreq_head(const struct chat_input *in, const char *provider,
                   const char *model)
{
    struct out o = { 0 };
    char *state = NULL;

    put(&o, "{\"delta\":{\"role\":\"assistant\"},\"context\":{\"provider\":");
    put_str(&o, provider);
    put(&o, ",\"model\":");
    put_str(&o, model);
    put(&o, "},\"session_state\":");
    if (in->session_state != NULL &&
        (state = cJSON_PrintUnformatted(in->session_state)) == NULL)
        o.failed = 1;
    put(&o, state != NULL ? state : "null");
    put(&o, "}\n");
    cJSON_free(state);
    return finish(&o, NULL);
}

char *chatreq_body(const struct chat_input *in, const struct cfg *c,
                   const struct model *m, int stream, size_t *len)
{
    struct out o = { 0 };
    const char *name = model_body_name(m);

    put(&o, "{");
    if (name != NULL) {
        put(&o, "\"model\":");
        put_str(&o, name);
        put(&o, ",");
    }
    put_messages(&o, in, c);
    if (in->has_temperature)
        put_num(&o, "temperature", in->temperature);
    if (in->has_max_tokens)
        put_num(&o, "max_tokens", in->max_tokens);
    if (in->has_seed)
        put_num(&o, "seed", (double)in->seed);
    put(&o, stream ? ",\"stream\":true}" : ",\"stream\":false}");
    return finish(&o, len);
}
