/*
 * directive.c — the in-band control channel: "[mock k=v ...]" in the last
 * user message. Tests that go through a proxy (llmfork forwards neither
 * client headers nor the query string) steer the mock this way; the syntax
 * is described at the top of mock.c.
 */
#include "tests/mock/mock.h"

#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

/* The text of a message's content: a string, or the first text part that
 * holds a directive. */
static const char *content_text(const cJSON *m)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    const cJSON *parts = cJSON_IsArray(c) ? c : NULL, *part;

    if (cJSON_IsString(c))
        return c->valuestring;
    cJSON_ArrayForEach(part, parts)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");

        if (cJSON_IsString(t) && strstr(t->valuestring, "[mock "))
            return t->valuestring;
    }
    return NULL;
}

static const char *last_user_text(const cJSON *body)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
    const char *text = NULL;
    const cJSON *m;

    if (!cJSON_IsArray(msgs))
        return NULL;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");

        if (cJSON_IsString(role) && !strcmp(role->valuestring, "user"))
            text = content_text(m);
    }
    return text;
}

static int known_key(const char *k)
{
    static const char *const keys[] = {
        "tokens",
        "delay_ms",
        "ttft_ms",
        "fault",
        "fail_count",
        "fault_key",
        "reasoning",
        "tool",
        "price_filter",
        "brand_filter",
    };

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(k, keys[i]))
            return 1;
    return 0;
}

int directive_parse(const cJSON *body, struct directive *d)
{
    const char *text = last_user_text(body), *start, *end;
    char *save = NULL, *kv;
    size_t len;

    d->n = 0;
    if (!text || !(start = strstr(text, "[mock ")))
        return 0;
    start += 6;
    if (!(end = strchr(start, ']')) ||
        (len = (size_t)(end - start)) >= sizeof d->buf)
        return -1;
    memcpy(d->buf, start, len);
    d->buf[len] = '\0';
    for (kv = strtok_r(d->buf, " \t\n", &save); kv;
         kv = strtok_r(NULL, " \t\n", &save)) {
        char *eq = strchr(kv, '=');

        if (!eq || eq == kv || d->n == DIRECTIVE_MAX)
            return -1;
        *eq = '\0';
        if (!known_key(kv))
            return -1;
        d->key[d->n] = kv;
        d->val[d->n++] = eq + 1;
    }
    return 0;
}

const char *directive_get(const struct directive *d, const char *key)
{
    for (int i = 0; i < d->n; i++)
        if (!strcmp(d->key[i], key))
            return d->val[i];
    return NULL;
}
