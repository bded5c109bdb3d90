/*
 * cfg_samples — the Azure samples' own environment names, read as the
 * samples read them, for the settings nothing explicit has set.
 *
 * Each sample names its model in its own way (docs: README, "The
 * samples' environment"): openai-chat-backend-fastapi has
 * LOCAL_OPENAI_ENDPOINT, AZURE_OPENAI_CHATGPT_DEPLOYMENT and
 * AZURE_OPENAI_CLIENT_ID; azure-search-openai-demo has OPENAI_HOST and
 * AZURE_OPENAI_SERVICE; rag-postgres-openai-python has OPENAI_CHAT_HOST;
 * deepseek-python has AZURE_INFERENCE_ENDPOINT and
 * AZURE_DEEPSEEK_DEPLOYMENT. They are hints: a setting given by the file,
 * by LLMFORK_<KEY> or another name in the key's row, or on the command
 * line wins over them, and the first hint that sets a key wins over the
 * later ones. Values go through cfg__set_value, so a bad one is reported
 * as "environment NAME: ...".
 *
 * Runs after the environment, before the command line (cfg.c).
 * Owns nothing: values are copied into the struct cfg being loaded.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg_int.h"

/* Sets key to v when nothing above the defaults set it. */
static void hint(struct cfg_loader *L, const char *key, const char *v,
                 const char *env)
{
    char where[96];

    for (size_t i = 0; i < cfg__nkeys; i++) {
        if (strcmp(cfg__keys[i].name, key) != 0)
            continue;
        if (L->set_at[i] > LV_DEFAULT)
            return;
        snprintf(where, sizeof(where), "environment %s", env);
        cfg__set_value(L, &cfg__keys[i], v, where);
        return;
    }
}

static const char *env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

/* OPENAI_HOST (the demo's) or OPENAI_CHAT_HOST (rag-postgres'): azure is
 * the resource's /openai/v1 API as both samples call it today; local and
 * ollama are an OpenAI-compatible server at OPENAI_BASE_URL (the demo)
 * or OLLAMA_ENDPOINT (rag-postgres), with no key. */
static void host_hint(struct cfg_loader *L, const char *name)
{
    const char *h = env(name), *url = NULL;

    if (h == NULL)
        return;
    if (strcmp(h, "azure") == 0) {
        hint(L, "provider", "azure-v1", name);
        return;
    }
    if (strcmp(h, "ollama") == 0)
        url = env("OLLAMA_ENDPOINT");
    else if (strcmp(h, "openai") != 0 && strcmp(h, "local") != 0) {
        cfg__report(L, "environment %s: unknown host '%s' (azure, openai, "
                       "local, ollama)",
                    name, h);
        return;
    }
    hint(L, "provider", "openai", name);
    if (url)
        hint(L, "openai_base_url", url, "OLLAMA_ENDPOINT");
}

/* AZURE_OPENAI_SERVICE=NAME: the demo's https://NAME.openai.azure.com. */
static void service_hint(struct cfg_loader *L)
{
    const char *s = env("AZURE_OPENAI_SERVICE");
    char url[160];
    size_t n;

    if (s == NULL)
        return;
    n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789-");
    if (s[n] != '\0' || n > 64) {
        cfg__report(L, "environment AZURE_OPENAI_SERVICE: '%s' is not a "
                       "resource name (letters, digits, '-'; the NAME of "
                       "https://NAME.openai.azure.com)",
                    s);
        return;
    }
    snprintf(url, sizeof(url), "https://%s.openai.azure.com", s);
    hint(L, "azure_endpoint", url, "AZURE_OPENAI_SERVICE");
}

void cfg__samples_apply(struct cfg_loader *L)
{
    static const struct {
        const char *env, *key;
    } alias[] = {
        { "AZURE_OPENAI_CHATGPT_DEPLOYMENT", "azure_deployment" },
        { "AZURE_DEEPSEEK_DEPLOYMENT", "azure_deployment" },
        { "AZURE_INFERENCE_ENDPOINT", "azure_endpoint" },
        { "LOCAL_OPENAI_ENDPOINT", "openai_base_url" },
        { "AZURE_OPENAI_CLIENT_ID", "azure_client_id" },
    };
    enum cfg_level saved = L->level;

    L->level = LV_SAMPLE;
    host_hint(L, "OPENAI_HOST");
    host_hint(L, "OPENAI_CHAT_HOST");
    /* deepseek-python calls AzureOpenAI (deployments, api-version) on
     * AZURE_INFERENCE_ENDPOINT; openai-chat-backend-fastapi calls a local
     * server with no key when LOCAL_OPENAI_ENDPOINT is set */
    if (env("LOCAL_OPENAI_ENDPOINT"))
        hint(L, "provider", "openai", "LOCAL_OPENAI_ENDPOINT");
    if (env("AZURE_INFERENCE_ENDPOINT"))
        hint(L, "provider", "azure", "AZURE_INFERENCE_ENDPOINT");
    service_hint(L);
    for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
        if (env(alias[i].env))
            hint(L, alias[i].key, env(alias[i].env), alias[i].env);
    L->level = saved;
}
