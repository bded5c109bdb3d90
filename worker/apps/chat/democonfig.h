/*
 * democonfig — GET /config, the feature flags azure-search-openai-demo's
 * frontend reads before it renders its settings panel (the sample's
 * app.py config(); models.ts's Config): every key it reads, true only for
 * what this server does with the settings it runs with:
 *
 *   streamingEnabled             true (/chat/stream)
 *   showSemanticRankerOption     rag = search with search_semantic_config
 *   showQueryRewritingOption     the same (the service's rewrites need
 *                                the semantic ranker)
 *   showVectorOption,
 *   ragSearchTextEmbeddings      rag = search with an embedding deployment
 *   ragSendTextSources           rag = search
 *   showReasoningEffortOption    a reasoning deployment (overrides.h);
 *                                defaultReasoningEffort "medium" then
 *   the rest false: multimodal, upload, language picker, speech, chat
 *   history, agentic retrieval, image embeddings and sources, web and
 *   SharePoint sources.
 *
 * Ownership: democonfig_json returns a malloc'd string the caller frees.
 */
#ifndef LLMFORK_DEMOCONFIG_H
#define LLMFORK_DEMOCONFIG_H

struct cfg;

/* model: the chat deployment's or model's name. NULL when out of memory. */
char *democonfig_json(const struct cfg *c, const char *model);

#endif
