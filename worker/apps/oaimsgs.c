/* oaimsgs — OpenAI's checks of "messages" (see oaimsgs.h). The texts are
 * OpenAI's own, as its API answers them. */
#include "worker/apps/oaimsgs.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

static const char *const roles[] = {
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
};

/* How OpenAI names a JSON value's type in its messages. */
static const char *type_name(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNumber(v))
        return v->valuedouble == floor(v->valuedouble) ? "an integer"
                                                       : "a decimal";
    if (cJSON_IsString(v))
        return "a string";
    return cJSON_IsArray(v) ? "an array" : "an object";
}

static int fail(struct oaimsgs_error *e, const char *code, const char *fmt,
                ...)
{
    va_list ap;

    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static int missing(struct oaimsgs_error *e)
{
    return fail(e, "missing_required_parameter",
                "Missing required parameter: '%s'.", e->param);
}

static int bad_type(struct oaimsgs_error *e, const char *want,
                    const cJSON *got)
{
    return fail(e, "invalid_type",
                "Invalid type for '%s': expected %s, but got %s instead.",
                e->param, want, type_name(got));
}

static int known_role(const char *s)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(s, roles[i]) == 0)
            return 1;
    return 0;
}

static int check_content(const cJSON *m, const char *role, int i,
                         struct oaimsgs_error *e)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content"), *part;
    int k = 0;

    snprintf(e->param, sizeof(e->param), "messages[%d].content", i);
    if (c == NULL)
        return strcmp(role, "assistant") == 0 ? 0 : missing(e);
    if (cJSON_IsNull(c) && (strcmp(role, "assistant") == 0 ||
                            strcmp(role, "function") == 0))
        return 0;
    if (cJSON_IsString(c))
        return 0;
    if (!cJSON_IsArray(c))
        return bad_type(e, "one of a string or array of objects", c);
    cJSON_ArrayForEach(part, c)
    {
        if (!cJSON_IsObject(part)) {
            snprintf(e->param, sizeof(e->param), "messages[%d].content[%d]",
                     i, k);
            return bad_type(e, "an object", part);
        }
        k++;
    }
    return 0;
}

static int check_message(const cJSON *m, int i, struct oaimsgs_error *e)
{
    const cJSON *role;

    snprintf(e->param, sizeof(e->param), "messages[%d]", i);
    if (!cJSON_IsObject(m))
        return bad_type(e, "an object", m);
    role = cJSON_GetObjectItemCaseSensitive(m, "role");
    snprintf(e->param, sizeof(e->param), "messages[%d].role", i);
    if (role == NULL)
        return missing(e);
    if (!cJSON_IsString(role))
        return bad_type(e, "a string", role);
    if (!known_role(role->valuestring))
        return fail(e, "invalid_value", "Invalid value: '%.40s'. Supported "
                                        "values are: 'system', 'assistant', 'user', 'function', "
                                        "'tool', and 'developer'.",
                    role->valuestring);
    return check_content(m, role->valuestring, i, e);
}

int oaimsgs_check(const cJSON *root, struct oaimsgs_error *e)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    const cJSON *m;
    int i = 0;

    snprintf(e->param, sizeof(e->param), "messages");
    if (msgs == NULL)
        return missing(e);
    if (!cJSON_IsArray(msgs))
        return bad_type(e, "an array", msgs);
    if (cJSON_GetArraySize(msgs) == 0)
        return fail(e, "empty_array", "Invalid 'messages': empty array. "
                                      "Expected an array with minimum length 1, but got an "
                                      "empty array instead.");
    cJSON_ArrayForEach(m, msgs)
    {
        if (check_message(m, i, e))
            return -1;
        i++;
    }
    return 0;
}
