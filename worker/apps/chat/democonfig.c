/* democonfig — the demo frontend's GET /config (democonfig.h). */
#include "worker/apps/chat/democonfig.h"

#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "worker/apps/chat/overrides.h"

/* The flags this server never has: features it does not implement. */
static const char *const never[] = {
    "showMultimodalOptions",
    "showUserUpload",
    "showLanguagePicker",
    "showSpeechInput",
    "showSpeechOutputBrowser",
    "showSpeechOutputAzure",
    "showChatHistoryBrowser",
    "showChatHistoryCosmos",
    "showAgenticRetrievalOption",
    "ragSearchImageEmbeddings",
    "ragSendImageSources",
    "webSourceEnabled",
    "sharepointSourceEnabled",
};

char *democonfig_json(const struct cfg *c, const char *model)
{
    int search = c->rag && !strcmp(c->rag, "search");
    int semantic = search && c->search_semantic_config != NULL;
    int vectors = search && c->embedding_deployment != NULL;
    int reasoning = overrides_reasoning_model(model);
    cJSON *o = cJSON_CreateObject();
    char *json;

    cJSON_AddBoolToObject(o, "streamingEnabled", 1);
    cJSON_AddBoolToObject(o, "showSemanticRankerOption", semantic);
    cJSON_AddBoolToObject(o, "showQueryRewritingOption", semantic);
    cJSON_AddBoolToObject(o, "showVectorOption", vectors);
    cJSON_AddBoolToObject(o, "ragSearchTextEmbeddings", vectors);
    cJSON_AddBoolToObject(o, "ragSendTextSources", search);
    cJSON_AddBoolToObject(o, "showReasoningEffortOption", reasoning);
    cJSON_AddStringToObject(o, "defaultReasoningEffort",
                            reasoning ? "medium" : "");
    cJSON_AddStringToObject(o, "defaultRetrievalReasoningEffort", "minimal");
    for (size_t i = 0; i < sizeof(never) / sizeof(*never); i++)
        cJSON_AddBoolToObject(o, never[i], 0);
    json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}
