/*
 * tools.c — function calling: a non-streaming chat request that offers
 * "tools" (and whose tool_choice is not "none") is answered, as OpenAI
 * answers it, with a tool call of the first function offered:
 *
 *   {"choices":[{"message":{"role":"assistant","content":null,
 *     "tool_calls":[{"id":"call_mock...","type":"function","function":
 *     {"name":NAME,"arguments":"{\"search_query\":\"Q\",...}"}}]},
 *     "finish_reason":"tool_calls"}], ...}
 *
 * The arguments are the rag-postgres sample's search_database ones: Q is
 * the last user message without its "[mock ...]" directive and without the
 * sample's "Find search results for user query: " lead; for the
 * azure-search-openai-demo's rewrite ("Generate search query for: Q", its
 * search_sources tool) Q as script.c's rewrite answers it; the directive adds
 * filters: price_filter=OPVALUE (OP one of < > <= >= =, e.g. "<=150") and
 * brand_filter=OPVALUE (= or !=, e.g. "!=Wavecrest"). tool=none makes the
 * model answer in words instead (the canned answer), as a model that does
 * not use the tool would.
 *
 * Ownership: the reply's text is the caller's (a job's whole body).
 */
#include "tests/mock/mock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>

#define LEAD "Find search results for user query: "
#define DEMO_LEAD "Generate search query for: "

static const char *last_user(const cJSON *body)
{
    const cJSON *m, *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
    const char *text = "";

    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");

        if (cJSON_IsString(role) && !strcmp(role->valuestring, "user") &&
            cJSON_IsString(c))
            text = c->valuestring;
    }
    return text;
}

/* The question: the text without the directive and the lead, trimmed. */
static char *query_of(const char *text)
{
    if (!strncmp(text, DEMO_LEAD, strlen(DEMO_LEAD))) {
        struct evbuffer *b = evbuffer_new();
        char *q = NULL;

        if (b) {
            script_rewrite(b, text + strlen(DEMO_LEAD));
            if (!evbuffer_add(b, "", 1))
                q = strdup((char *)evbuffer_pullup(b, -1));
            evbuffer_free(b);
        }
        return q;
    }
    char *q = strdup(strncmp(text, LEAD, strlen(LEAD)) ? text
                                                       : text + strlen(LEAD));
    char *d = q ? strstr(q, "[mock ") : NULL, *end;
    size_t n;

    if (d && (end = strchr(d, ']')))
        memmove(d, end + 1, strlen(end + 1) + 1);
    if (!q)
        return NULL;
    for (n = strlen(q); n > 0 && strchr(" \t\n", q[n - 1]); n--)
        q[n - 1] = '\0';
    memmove(q, q + strspn(q, " \t\n"), strlen(q + strspn(q, " \t\n")) + 1);
    return q;
}

/* "<=150" -> {"comparison_operator":"<=","value":150} (number or not). */
static void add_filter(cJSON *args, const char *name, const char *spec,
                       int number)
{
    size_t n = strspn(spec, "<>=!");
    cJSON *f;
    char op[4];

    if (n == 0 || n >= sizeof(op))
        return;
    memcpy(op, spec, n);
    op[n] = '\0';
    f = cJSON_AddObjectToObject(args, name);
    cJSON_AddStringToObject(f, "comparison_operator", op);
    if (number)
        cJSON_AddNumberToObject(f, "value", strtod(spec + n, NULL));
    else
        cJSON_AddStringToObject(f, "value", spec + n);
}

char *tools_reply(const cJSON *body, const struct directive *d,
                  const char *model)
{
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(body, "tool_choice");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(tools, 0),
                                         "function"),
        "name");
    const char *tool = directive_get(d, "tool");
    const char *p = directive_get(d, "price_filter");
    const char *b = directive_get(d, "brand_filter");
    cJSON *o, *args, *msg, *tc, *fn, *ch;
    char *q, *text, *out, id[40];
    static unsigned long seq;

    if (!cJSON_IsString(name) || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream")) || (tool && !strcmp(tool, "none")) ||
        (cJSON_IsString(choice) && !strcmp(choice->valuestring, "none")))
        return NULL;
    if (!(q = query_of(last_user(body))))
        return NULL;
    args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "search_query", q);
    free(q);
    if (p)
        add_filter(args, "price_filter", p, 1);
    if (b)
        add_filter(args, "brand_filter", b, 0);
    text = cJSON_PrintUnformatted(args);
    cJSON_Delete(args);
    snprintf(id, sizeof(id), "call_mock%lu", ++seq);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "chatcmpl-mocktool");
    cJSON_AddStringToObject(o, "object", "chat.completion");
    cJSON_AddNumberToObject(o, "created", (double)time(NULL));
    cJSON_AddStringToObject(o, "model", model);
    ch = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), ch);
    cJSON_AddNumberToObject(ch, "index", 0);
    msg = cJSON_AddObjectToObject(ch, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON_AddNullToObject(msg, "content");
    tc = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(msg, "tool_calls"), tc);
    cJSON_AddStringToObject(tc, "id", id);
    cJSON_AddStringToObject(tc, "type", "function");
    fn = cJSON_AddObjectToObject(tc, "function");
    cJSON_AddStringToObject(fn, "name", name->valuestring);
    cJSON_AddStringToObject(fn, "arguments", text ? text : "{}");
    cJSON_AddNullToObject(msg, "refusal");
    cJSON_AddStringToObject(ch, "finish_reason", "tool_calls");
    free(text);
    out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}
