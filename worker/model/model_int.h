/*
 * model_int — struct model, shared by the two files that make up the
 * model: model_setup.c (the provider built from the settings: URLs,
 * deployments, keys) and model.c (calls: attempts, failover, the mock).
 * Not for use outside model*.c.
 *
 * Ownership: struct model owns url, name, auth, entra and fo (each
 * endpoint's URL and key line); model_free releases them.
 */
#ifndef LLMFORK_MODEL_INT_H
#define LLMFORK_MODEL_INT_H

#include <stddef.h>

#include "worker/model/failover.h"

struct cfg;
struct entra;

enum model_kind { K_MOCK,
                  K_AZURE,
                  K_AZURE_V1,
                  K_OPENAI,
                  K_UNKNOWN };

struct model {
    enum model_kind kind;
    const struct cfg *cfg;
    char *url;
    char *name;             /* model or deployment */
    char *auth;             /* "api-key: K" or "Authorization: Bearer K" */
    const char *headers[4]; /* NULL-terminated; points into this struct */
    struct entra *entra;    /* azure without a key: Entra ID tokens */
    struct failover fo;     /* azure_endpoints; n = 0: url alone */
};

/* Fills m (kind and cfg set) from the settings of its provider.
 * Returns -1 and writes why into err when they are incomplete. */
int model__setup(struct model *m, const struct cfg *c, char *err, size_t n);

#endif
