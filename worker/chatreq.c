/* chatreq — the chat app's request validation and upstream body. */
#include "worker/chatreq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "worker/model.h"

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
                        "(system, user, assistant, developer)", i,
                        role->valuestring), -1;
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
    cJSON_ArrayForEach(m, msgs) {
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
                            "a number from 0 to 2"), -1;
        in->temperature = t->valuedouble;
        in->has_temperature = 1;
    }
    if (mt && !cJSON_IsNull(mt)) {
        if (!is_integer(mt) || mt->valuedouble < 1 ||
            mt->valuedouble > c->max_tokens_limit)
            return snprintf(err, n, "context.overrides.max_tokens: must be an "
                            "integer from 1 to %d", c->max_tokens_limit), -1;
        in->max_tokens = (int)mt->valuedouble;
        in->has_max_tokens = 1;
    }
    if (seed && !cJSON_IsNull(seed)) {
        if (!is_integer(seed))
            return snprintf(err, n, "context.overrides.seed: must be an "
                            "integer"), -1;
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

static int add_messages(cJSON *body, const struct chat_input *in,
                        const struct cfg *c)
{
    cJSON *arr = cJSON_AddArrayToObject(body, "messages");
    const cJSON *m;

    if (!arr)
        return -1;
    if (c->system_prompt && *c->system_prompt) {
        cJSON *sys = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, sys);
        if (!cJSON_AddStringToObject(sys, "role", "system") ||
            !cJSON_AddStringToObject(sys, "content", c->system_prompt))
            return -1;
    }
    cJSON_ArrayForEach(m, in->messages) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        if (!cJSON_AddStringToObject(o, "role",
                cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring) ||
            !cJSON_AddStringToObject(o, "content",
                cJSON_GetObjectItemCaseSensitive(m, "content")->valuestring))
            return -1;
    }
    return 0;
}

static int add_options(cJSON *body, const struct chat_input *in, int stream)
{
    if (in->has_temperature &&
        !cJSON_AddNumberToObject(body, "temperature", in->temperature))
        return -1;
    if (in->has_max_tokens &&
        !cJSON_AddNumberToObject(body, "max_tokens", in->max_tokens))
        return -1;
    if (in->has_seed && !cJSON_AddNumberToObject(body, "seed", (double)in->seed))
        return -1;
    if (!cJSON_AddBoolToObject(body, "stream", stream))
        return -1;
    if (stream) {
        cJSON *so = cJSON_AddObjectToObject(body, "stream_options");
        if (!so || !cJSON_AddTrueToObject(so, "include_usage"))
            return -1;
    }
    return 0;
}

char *chatreq_body(const struct chat_input *in, const struct cfg *c,
                   const struct model *m, int stream, size_t *len)
{
    cJSON *body = cJSON_CreateObject();
    char *out = NULL;

    if (body && model_fill(m, body) == 0 && add_messages(body, in, c) == 0 &&
        add_options(body, in, stream) == 0)
        out = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (out)
        *len = strlen(out);
    return out;
}
