/*
 * format.c — the canned answer and the bytes the real services put on the
 * wire: SSE chunks, the non-streaming body, the reply headers.
 *
 * Hot path: one evbuffer_add_printf per chunk piece, token text escaped once
 * at start-up. No JSON trees here.
 *
 * OpenAI's envelope keys come in its order (id, object, created, model, ...);
 * Azure's serializer sorts keys alphabetically, so its chunks start with
 * "choices" and carry content_filter_results inside each choice.
 */
#include "tests/mock/mock.h"

#include <stdio.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

/* Chosen to exercise JSON escaping and UTF-8 on every path: quotes, a
 * backslash, a tab, a newline, a multi-byte letter and an emoji. */
static const char *const words[ANSWER_WORDS] = {
    "Hello!",
    "I",
    "am",
    "the",
    "llmfork",
    "mock",
    "model.",
    "Here",
    "is",
    "\"quoted\"",
    "text,",
    "a",
    "back\\slash,",
    "a",
    "tab\tand",
    "a",
    "new\nline;",
    "caf\xc3\xa9",
    "\xf0\x9f\x99\x82",
    "done.",
};

/* Escaped tokens: [0] without the leading space, [1..] with it. */
static char tok_json[ANSWER_WORDS][2][48];

static const char cfr_safe[] =
    "{\"hate\":{\"filtered\":false,\"severity\":\"safe\"},"
    "\"self_harm\":{\"filtered\":false,\"severity\":\"safe\"},"
    "\"sexual\":{\"filtered\":false,\"severity\":\"safe\"},"
    "\"violence\":{\"filtered\":false,\"severity\":\"safe\"}}";

static const char prompt_cfr[] =
    "[{\"prompt_index\":0,\"content_filter_results\":"
    "{\"hate\":{\"filtered\":false,\"severity\":\"safe\"},"
    "\"jailbreak\":{\"filtered\":false,\"detected\":false},"
    "\"self_harm\":{\"filtered\":false,\"severity\":\"safe\"},"
    "\"sexual\":{\"filtered\":false,\"severity\":\"safe\"},"
    "\"violence\":{\"filtered\":false,\"severity\":\"safe\"}}}]";

size_t json_escape(char *dst, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    for (; *s && n + 7 <= cap; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = NULL;

        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            break;
        }
        if (esc) {
            dst[n++] = esc[0];
            dst[n++] = esc[1];
        } else if (c < 0x20) {
            memcpy(dst + n, "\\u00", 4);
            dst[n + 4] = hex[c >> 4];
            dst[n + 5] = hex[c & 15];
            n += 6;
        } else {
            dst[n++] = (char)c;
        }
    }
    if (cap)
        dst[n] = '\0';
    return n;
}

void answer_init(void)
{
    for (int i = 0; i < ANSWER_WORDS; i++) {
        char spaced[40];

        snprintf(spaced, sizeof spaced, " %s", words[i]);
        json_escape(tok_json[i][0], sizeof tok_json[i][0], words[i]);
        json_escape(tok_json[i][1], sizeof tok_json[i][1], spaced);
    }
}

const char *answer_token_json(int i)
{
    return tok_json[i % ANSWER_WORDS][i > 0];
}

void answer_append_raw(struct evbuffer *out, int ntokens)
{
    for (int i = 0; i < ntokens; i++)
        evbuffer_add_printf(out, "%s%s", i ? " " : "",
                            words[i % ANSWER_WORDS]);
}

void reply_headers(struct evhttp_request *req, enum flavour fl,
                   const char *content_type, int remaining)
{
    static unsigned long seq;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char id[64], num[24];

    seq++;
    evhttp_add_header(h, "Content-Type", content_type);
    if (fl == FL_AZURE) {
        snprintf(id, sizeof id, "%08lx-0000-4000-8000-%012lx",
                 (unsigned long)time(NULL), seq);
        evhttp_add_header(h, "apim-request-id", id);
        evhttp_add_header(h, "x-request-id", id);
        evhttp_add_header(h, "x-ms-region", "Mock Region");
        evhttp_add_header(h, "azureml-model-session", "mock-session");
    } else {
        snprintf(id, sizeof id, "req_%016lx%016lx",
                 (unsigned long)time(NULL), seq);
        evhttp_add_header(h, "x-request-id", id);
        evhttp_add_header(h, "openai-version", "2020-10-01");
        evhttp_add_header(h, "openai-processing-ms", "1");
        evhttp_add_header(h, "x-ratelimit-limit-requests", "10000");
        evhttp_add_header(h, "x-ratelimit-limit-tokens", "2000000");
    }
    snprintf(num, sizeof num, "%d", remaining);
    evhttp_add_header(h, "x-ratelimit-remaining-requests", num);
    snprintf(num, sizeof num, "%d", remaining ? 1999000 : 0);
    evhttp_add_header(h, "x-ratelimit-remaining-tokens", num);
}

static void usage_write(const struct job *j, struct evbuffer *out)
{
    int done = j->tokens;

    evbuffer_add_printf(out,
                        "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d,"
                        "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
                        "\"completion_tokens_details\":{\"reasoning_tokens\":0,"
                        "\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
                        "\"rejected_prediction_tokens\":0}}",
                        j->prompt_tokens, done, j->prompt_tokens + done);
}

/* Opens "data: {" and the keys before "choices" (OpenAI) or "choices"
 * itself (Azure). */
static void chunk_open(const struct job *j, struct evbuffer *out)
{
    if (j->fl == FL_AZURE)
        evbuffer_add(out, "data: {\"choices\":[", 18);
    else
        evbuffer_add_printf(out,
                            "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\","
                            "\"created\":%ld,\"model\":\"%s\",\"service_tier\":\"default\","
                            "\"system_fingerprint\":\"fp_mock\",\"choices\":[",
                            j->id, (long)j->created, j->model);
}

/* OpenAI pads each delta chunk with random characters in "obfuscation"
 * (on unless stream_options.include_obfuscation is false). Derived from
 * the chunk's position here, so two runs of a request are byte-identical. */
static void obfuscation_write(const struct job *j, struct evbuffer *out)
{
    static const char abc[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned h = 2166136261u ^ (unsigned)j->sent ^ ((unsigned)j->role_sent << 20);
    char pad[16];
    int n;

    h *= 16777619u;
    n = 1 + (int)(h % 15);
    for (int i = 0; i < n; i++) {
        h = h * 1103515245u + 12345u;
        pad[i] = abc[(h >> 16) % (sizeof abc - 1)];
    }
    evbuffer_add_printf(out, ",\"obfuscation\":\"%.*s\"", n, pad);
}

/* Closes the choices array and the chunk; usage: 0 none, 1 null, 2 full. */
static void chunk_close(const struct job *j, struct evbuffer *out, int usage)
{
    if (j->fl == FL_AZURE)
        evbuffer_add_printf(out,
                            "],\"created\":%ld,\"id\":\"%s\",\"model\":\"%s\","
                            "\"object\":\"chat.completion.chunk\","
                            "\"system_fingerprint\":\"fp_mock\"",
                            (long)j->created, j->id, j->model);
    else
        evbuffer_add(out, "]", 1);
    if (usage == 1)
        evbuffer_add(out, ",\"usage\":null", 13);
    else if (usage == 2) {
        evbuffer_add(out, ",\"usage\":", 9);
        usage_write(j, out);
    }
    if (j->obfuscate && usage != 2)
        obfuscation_write(j, out);
    evbuffer_add(out, "}\n\n", 3);
}

void chunk_write(const struct job *j, struct evbuffer *out, const char *delta,
                 const char *finish, int full_cfr)
{
    char fr[32];

    if (finish)
        snprintf(fr, sizeof fr, "\"%s\"", finish);
    else
        memcpy(fr, "null", 5);
    chunk_open(j, out);
    if (j->fl == FL_AZURE)
        evbuffer_add_printf(out,
                            "{\"content_filter_results\":%s,\"delta\":%s,"
                            "\"finish_reason\":%s,\"index\":0,\"logprobs\":null}",
                            full_cfr ? cfr_safe : "{}", delta, fr);
    else
        evbuffer_add_printf(out,
                            "{\"index\":0,\"delta\":%s,\"logprobs\":null,"
                            "\"finish_reason\":%s}",
                            delta, fr);
    chunk_close(j, out, j->include_usage);
}

void chunk_write_usage(const struct job *j, struct evbuffer *out)
{
    chunk_open(j, out);
    chunk_close(j, out, 2);
}

void chunk_write_prompt_filter(struct evbuffer *out)
{
    evbuffer_add_printf(out,
                        "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\","
                        "\"object\":\"\",\"prompt_filter_results\":%s}\n\n",
                        prompt_cfr);
}

void chunk_write_error(struct evbuffer *out)
{
    evbuffer_add_printf(out,
                        "data: {\"error\":{\"message\":\"The server had an error while "
                        "processing your request. Sorry about that!\",\"type\":"
                        "\"server_error\",\"param\":null,\"code\":null}}\n\n");
}

void chunk_write_malformed(const struct job *j, struct evbuffer *out)
{
    evbuffer_add_printf(out,
                        "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\","
                        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\n\n",
                        j->id);
}

static void content_write(const struct job *j, struct evbuffer *out)
{
    if (j->script) {
        script_body(j->script, out);
        return;
    }
    for (int i = 0; i < j->tokens; i++)
        evbuffer_add(out, answer_token_json(i), strlen(answer_token_json(i)));
}

void body_write(const struct job *j, struct evbuffer *out)
{
    const char *finish = j->length_cut ? "length" : "stop";

    if (j->fl == FL_AZURE) {
        evbuffer_add_printf(out,
                            "{\"choices\":[{\"content_filter_results\":%s,"
                            "\"finish_reason\":\"%s\",\"index\":0,\"logprobs\":null,"
                            "\"message\":{\"annotations\":[],\"content\":\"",
                            cfr_safe, finish);
        content_write(j, out);
        evbuffer_add_printf(out,
                            "\",\"refusal\":null,\"role\":\"assistant\"}}],"
                            "\"created\":%ld,\"id\":\"%s\",\"model\":\"%s\","
                            "\"object\":\"chat.completion\",\"prompt_filter_results\":%s,"
                            "\"system_fingerprint\":\"fp_mock\",\"usage\":",
                            (long)j->created, j->id, j->model, prompt_cfr);
    } else {
        evbuffer_add_printf(out,
                            "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%ld,"
                            "\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":"
                            "{\"role\":\"assistant\",\"content\":\"",
                            j->id, (long)j->created, j->model);
        content_write(j, out);
        evbuffer_add_printf(out,
                            "\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
                            "\"finish_reason\":\"%s\"}],\"service_tier\":\"default\","
                            "\"system_fingerprint\":\"fp_mock\",\"usage\":",
                            finish);
    }
    usage_write(j, out);
    evbuffer_add(out, "}", 1);
}
