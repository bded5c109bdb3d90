/*
 * script.c — answers other than the canned words, decided per request:
 *
 *   reasoning=think   DeepSeek-R1 in content: "<think>\n" thinking
 *                     "\n</think>\n\n" then the canned answer; the tags are
 *                     cut across chunks ("<th" "ink>\n", "\n</thi" "nk>")
 *   reasoning=field   DeepSeek API / Azure AI Foundry: the thinking in
 *                     delta.reasoning_content (message.reasoning_content
 *                     when not streaming), then the canned answer
 *   the RAG prompts (azure-search-openai-demo's shapes), recognised in the
 *   last user message (with reasoning=think or field, after the thinking,
 *   as a reasoning model answers them):
 *     "Generate search query for: Q"  -> answers Q without any "[...]"
 *                                        (the sample's rewrite prompt says
 *                                        to strip bracketed text)
 *     "...\nSources:\nNAME: TEXT\n..." -> one sentence per source: its
 *                                        first words, then [NAME]; when
 *                                        the system prompt asks for
 *                                        follow-up questions in <<>>,
 *                                        three such items after it
 * Each answer is cut into tokens at spaces; a job streams one per delay.
 *
 * Ownership: struct script belongs to its job (job_unlink frees it with
 * script_free); its strings are JSON-escaped once here.
 */
#include "tests/mock/mock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>

#define THINKING "The user wants an answer. I will give the canned one."
/* The demo's follow-up instruction, and the questions it gets. */
#define FOLLOWUP_ASK "Enclose the follow-up questions in double angle brackets"
#define FOLLOWUPS "<<What else does the plan cover?>>\n" \
                  "<<Who is eligible?>>\n<<How do I enroll?>>"

struct script {
    int n;
    char **delta;             /* streaming: the delta object of each chunk */
    struct evbuffer *content; /* non-streaming: escaped content, */
    char *reasoning;          /* and reasoning_content, or NULL */
};

static char *escaped(const char *s, size_t n)
{
    char *raw = strndup(s, n), *out = raw ? malloc(n * 6 + 1) : NULL;

    if (out)
        json_escape(out, n * 6 + 1, raw);
    free(raw);
    return out;
}

static int add_delta(struct script *sc, const char *field, const char *s,
                     size_t n, const char *other)
{
    char *e = escaped(s, n), *d = NULL, **v = NULL;
    int rc = -1;

    if (e && (v = realloc(sc->delta, sizeof(*v) * (size_t)(sc->n + 1)))) {
        sc->delta = v;
        if (asprintf(&d, "{\"%s\":\"%s\"%s}", field, e, other) >= 0) {
            sc->delta[sc->n++] = d;
            if (!strcmp(field, "content"))
                evbuffer_add(sc->content, e, strlen(e));
            rc = 0;
        }
    }
    free(e);
    return rc;
}

/* Tokens of text: each space starts a new one, as the canned words do. */
static int add_words(struct script *sc, const char *field, const char *text,
                     const char *other)
{
    const char *p = text;

    while (*p) {
        const char *end = strchr(p + 1, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (add_delta(sc, field, p, n, other) < 0)
            return -1;
        p += n;
    }
    return 0;
}

/* The last message's content with that role, or NULL. */
static const char *last_of(const cJSON *body, const char *role)
{
    const cJSON *m, *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
    const char *text = NULL;

    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");

        if (cJSON_IsString(r) && !strcmp(r->valuestring, role) &&
            cJSON_IsString(c))
            text = c->valuestring;
    }
    return text;
}

static const char *last_user(const cJSON *body)
{
    return last_of(body, "user");
}

/* The rewrite prompt's question without bracketed text, spaces folded. */
void script_rewrite(struct evbuffer *out, const char *q)
{
    int depth = 0, gap = 0;

    for (; *q && *q != '\n'; q++) {
        if (*q == '[')
            depth++;
        else if (*q == ']' && depth)
            depth--;
        else if (depth)
            continue;
        else if (*q == ' ')
            gap = 1;
        else {
            if (gap && evbuffer_get_length(out))
                evbuffer_add(out, " ", 1);
            gap = 0;
            evbuffer_add(out, q, 1);
        }
    }
}

/* One sentence per "NAME: TEXT" source line: TEXT's first 6 words [NAME]. */
static void grounded_answer(struct evbuffer *out, const char *src)
{
    for (const char *line = src; *line;) {
        const char *eol = strchr(line, '\n'), *colon = strstr(line, ": ");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);

        if (colon && colon < line + len) {
            const char *w = colon + 2;
            int words = 0;

            if (evbuffer_get_length(out))
                evbuffer_add(out, " ", 1);
            while (w < line + len && words < 6) {
                const char *sp = memchr(w, ' ', (size_t)(line + len - w));
                size_t wl = sp ? (size_t)(sp - w) : (size_t)(line + len - w);

                evbuffer_add_printf(out, "%s%.*s", words++ ? " " : "",
                                    (int)wl, w);
                w += wl + (sp != NULL);
            }
            evbuffer_add_printf(out, " [%.*s].", (int)(colon - line), line);
        }
        line += len + (eol != NULL);
    }
}

/* The RAG prompts' answer into out; 0 when the body is not one of them. */
static int rag_answer(const cJSON *body, struct evbuffer *out)
{
    static const char rewrite[] = "Generate search query for: ";
    const char *q = last_user(body), *src, *sys;

    if (!q)
        return 0;
    if (!strncmp(q, rewrite, sizeof(rewrite) - 1))
        script_rewrite(out, q + sizeof(rewrite) - 1);
    else if ((src = strstr(q, "\nSources:\n")))
        grounded_answer(out, src + 10);
    else
        return 0;
    /* the demo's follow-up instruction: the answer ends with them */
    if (strstr(q, "\nSources:\n") && (sys = last_of(body, "system")) &&
        strstr(sys, FOLLOWUP_ASK))
        evbuffer_add_printf(out, "\n\n%s", FOLLOWUPS);
    if (!evbuffer_get_length(out))
        evbuffer_add(out, "0", 1); /* the sample's "no query" answer */
    return 1;
}

static int canned_words(struct script *sc, int tokens, const char *other)
{
    struct evbuffer *b = evbuffer_new();
    int rc = -1;

    if (b) {
        answer_append_raw(b, tokens);
        evbuffer_add(b, "", 1);
        rc = add_words(sc, "content", (char *)evbuffer_pullup(b, -1), other);
        evbuffer_free(b);
    }
    return rc;
}

static int build(struct script *sc, const char *mode, const cJSON *body,
                 int tokens)
{
    static const char *const think[] = {
        "<th",
        "ink>\n",
        THINKING,
        "\n</thi",
        "nk>\n\n",
    };
    struct evbuffer *b = evbuffer_new();
    const char *rag = NULL; /* a RAG prompt's answer, after thinking */
    int rc = -1;

    if (!b)
        return -1;
    if (rag_answer(body, b) && !evbuffer_add(b, "", 1))
        rag = (const char *)evbuffer_pullup(b, -1);
    if (!mode && rag) {
        rc = add_words(sc, "content", rag, "");
    } else if (mode && !strcmp(mode, "think")) {
        rc = 0;
        for (size_t i = 0; i < sizeof(think) / sizeof(think[0]) && !rc; i++)
            rc = add_delta(sc, "content", think[i], strlen(think[i]), "");
        rc = rc ? rc : rag ? add_words(sc, "content", rag, "")
                           : canned_words(sc, tokens, "");
    } else if (mode && !strcmp(mode, "field")) {
        rc = add_words(sc, "reasoning_content", THINKING, ",\"content\":null");
        rc = rc ? rc : rag ? add_words(sc, "content", rag, ",\"reasoning_content\":null")
                           : canned_words(sc, tokens, ",\"reasoning_content\":null");
        sc->reasoning = escaped(THINKING, strlen(THINKING));
    } else {
        rc = 0; /* the canned answer */
    }
    evbuffer_free(b);
    return rc;
}

int script_fill(struct job *j, const cJSON *body, const char *mode)
{
    struct script *sc;

    if (mode && strcmp(mode, "think") && strcmp(mode, "field") &&
        strcmp(mode, "none"))
        return -1;
    if (mode && !strcmp(mode, "none"))
        return 0;
    if (!(sc = calloc(1, sizeof(*sc))))
        return -1;
    if (!(sc->content = evbuffer_new()) ||
        build(sc, mode, body, j->tokens) < 0) {
        script_free(sc);
        return -1;
    }
    if (!sc->n) { /* not a scripted request: the canned answer */
        script_free(sc);
        return 0;
    }
    j->script = sc;
    j->tokens = sc->n;
    j->length_cut = 0;
    return 0;
}

const char *script_delta(const struct script *sc, int i)
{
    return sc->delta[i];
}

void script_body(const struct script *sc, struct evbuffer *out)
{
    evbuffer_add(out, evbuffer_pullup(sc->content, -1),
                 evbuffer_get_length(sc->content));
    if (sc->reasoning)
        evbuffer_add_printf(out, "\",\"reasoning_content\":\"%s",
                            sc->reasoning);
}

void script_free(struct script *sc)
{
    if (!sc)
        return;
    for (int i = 0; i < sc->n; i++)
        free(sc->delta[i]);
    free(sc->delta);
    if (sc->content)
        evbuffer_free(sc->content);
    free(sc->reasoning);
    free(sc);
}
