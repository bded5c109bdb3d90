/* overrides — the demo's context.overrides for the RAG flow (overrides.h). */
#include "worker/apps/chat/overrides.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "common/str.h"

#define TOP_MAX 50

/* The sample's follow-up instruction (chat_answer_question.prompty). */
static const char followup_prompt[] =
    "Generate 3 very brief follow-up questions that the user would likely "
    "ask next.\n"
    "Enclose the follow-up questions in double angle brackets. Example:\n"
    "<<Are there exclusions for prescriptions?>>\n"
    "<<Which pharmacies can be ordered from?>>\n"
    "<<What is the limit for over-the-counter medication?>>\n"
    "Do not repeat questions that have already been asked.\n"
    "Make sure the last question ends with \">>\".";

/* The value of key, or NULL when absent or null. */
static const cJSON *get(const cJSON *ov, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ov, key);

    return v && !cJSON_IsNull(v) ? v : NULL;
}

static int wrong(char *err, size_t n, const char *key, const char *what)
{
    snprintf(err, n, "context.overrides.%s: must be %s", key, what);
    return -1;
}

static int get_bool(const cJSON *ov, const char *key, int *out, char *err,
                    size_t n)
{
    const cJSON *v = get(ov, key);

    if (v && !cJSON_IsBool(v))
        return wrong(err, n, key, "true or false");
    if (v)
        *out = cJSON_IsTrue(v);
    return 0;
}

static int get_score(const cJSON *ov, const char *key, double *out,
                     char *err, size_t n)
{
    const cJSON *v = get(ov, key);

    if (v && (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
              v->valuedouble < 0))
        return wrong(err, n, key, "a number from 0");
    if (v)
        *out = v->valuedouble;
    return 0;
}

/* *out: a copy, or stays NULL; -1 with err "" when out of memory. */
static int get_str(const cJSON *ov, const char *key, char **out,
                   char *err, size_t n)
{
    const cJSON *v = get(ov, key);

    if (v && !cJSON_IsString(v))
        return wrong(err, n, key, "a string");
    if (v && !(*out = strdup(v->valuestring)))
        return -1;
    return 0;
}

static int get_mode(const cJSON *ov, enum overrides_mode *mode, char *err,
                    size_t n)
{
    static const char *const names[] = { "hybrid", "text", "vectors" };
    const cJSON *v = get(ov, "retrieval_mode");

    if (!v)
        return 0;
    for (int i = 0; cJSON_IsString(v) && i < 3; i++)
        if (!strcmp(v->valuestring, names[i]))
            return *mode = (enum overrides_mode)i, 0;
    return wrong(err, n, "retrieval_mode", "\"text\", \"vectors\" or "
                                           "\"hybrid\"");
}

/* Appends "category OP 'V'" (quotes doubled) to *f, " and "-joined. */
static int add_category(char **f, const char *op, const char *v)
{
    size_t n = strlen(v), q = 0;
    char *esc, *p, *joined;

    for (const char *s = v; *s; s++)
        q += *s == '\'';
    if (!(esc = malloc(n + q + 1)))
        return -1;
    p = esc;
    for (const char *s = v; *s; s++) {
        *p++ = *s;
        if (*s == '\'')
            *p++ = '\'';
    }
    *p = '\0';
    joined = *f ? str_fmt("%s and category %s '%s'", *f, op, esc)
                : str_fmt("category %s '%s'", op, esc);
    free(esc);
    if (!joined)
        return -1;
    free(*f);
    *f = joined;
    return 0;
}

int overrides_parse(const cJSON *ov, const struct cfg *c, struct overrides *o,
                    char *err, size_t n)
{
    const cJSON *top;
    char *inc = NULL, *exc = NULL;
    int rc = 0;

    memset(o, 0, sizeof(*o));
    err[0] = '\0';
    o->top = c->search_top;
    o->semantic_ranker = c->search_semantic_config != NULL;
    o->semantic_captions = c->search_captions;
    if (!cJSON_IsObject(ov))
        return 0;
    top = get(ov, "top");
    if (top && (!cJSON_IsNumber(top) ||
                top->valuedouble != floor(top->valuedouble) ||
                top->valuedouble < 1 || top->valuedouble > TOP_MAX)) {
        snprintf(err, n, "context.overrides.top: must be an integer from 1 "
                         "to %d",
                 TOP_MAX);
        return -1;
    }
    if (top)
        o->top = (int)top->valuedouble;
    if (get_mode(ov, &o->mode, err, n) < 0 ||
        get_bool(ov, "semantic_ranker", &o->semantic_ranker, err, n) < 0 ||
        get_bool(ov, "semantic_captions", &o->semantic_captions, err, n) < 0 ||
        get_bool(ov, "query_rewriting", &o->query_rewriting, err, n) < 0 ||
        get_bool(ov, "suggest_followup_questions", &o->followups, err, n) < 0 ||
        get_score(ov, "minimum_search_score", &o->min_search_score, err,
                  n) < 0 ||
        get_score(ov, "minimum_reranker_score", &o->min_reranker_score, err,
                  n) < 0 ||
        get_str(ov, "include_category", &inc, err, n) < 0 ||
        get_str(ov, "exclude_category", &exc, err, n) < 0 ||
        get_str(ov, "prompt_template", &o->prompt_template, err, n) < 0 ||
        get_str(ov, "reasoning_effort", &o->reasoning_effort, err, n) < 0 ||
        get_str(ov, "language", &o->language, err, n) < 0)
        rc = -1;
    /* The sample's build_filter skips empty ones ("All" in the UI). */
    else if ((inc && *inc && add_category(&o->filter, "eq", inc) < 0) ||
             (exc && *exc && add_category(&o->filter, "ne", exc) < 0))
        rc = -1;
    free(inc);
    free(exc);
    if (rc < 0)
        overrides_free(o);
    return rc;
}

void overrides_free(struct overrides *o)
{
    free(o->filter);
    free(o->prompt_template);
    free(o->reasoning_effort);
    free(o->language);
    o->filter = o->prompt_template = o->reasoning_effort = o->language = NULL;
}

int overrides_reasoning_model(const char *name)
{
    static const char *const prefixes[] = { "gpt-5", "o1", "o3", "o4" };

    for (size_t i = 0; name && i < sizeof(prefixes) / sizeof(*prefixes); i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
            return 1;
    return 0;
}

char *overrides_prompt(const struct overrides *o, const char *base)
{
    const char *t = o->prompt_template;
    const char *head = t && strncmp(t, ">>>", 3) ? t : base;
    const char *inject = t && !strncmp(t, ">>>", 3) ? t + 3 : "";

    return str_fmt("%s%s%s%s%s", head, *inject ? "\n\n" : "", inject,
                   o->followups ? "\n\n" : "",
                   o->followups ? followup_prompt : "");
}
