/*
 * items — GET /items/{id}, /similar and /search of the rag-postgres sample
 * (see items.c for the shapes), registered by the rag = postgres app
 * (worker/apps/chat/ragpg.h) over its catalogue.
 *
 * Ownership: the routes borrow s, which must outlive the worker's apps.
 */
#ifndef LLMFORK_ITEMS_H
#define LLMFORK_ITEMS_H

#include "worker/app.h"

struct pgstore;

/* 0, or -1 when a route cannot be added. */
int items_routes(struct app_ctx *ctx, struct pgstore *s);

#endif
