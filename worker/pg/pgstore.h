/*
 * pgstore — the product catalogue in PostgreSQL, as the rag-postgres
 * sample's PostgresSearcher and item routes read it, on the worker's loop:
 * the pool (pgpool.h), the question's embedding (worker/apps/chat/embed.h)
 * and the statements (pgsearch.h), with rows handed back as the sample's
 * ItemPublic objects {id, type, brand, name, description, price}.
 *
 * At start it asks the server what it has (the table, pgvector's type,
 * the embedding column) and warns about what is missing; from then on a
 * search that needs vectors fails with 400 naming what is missing (no
 * pgvector, no such column, no embedding deployment), and text searches
 * work as ever.
 *
 * Ownership: struct pgstore (per worker) owns the pool and the embed
 * client; it borrows the cfg. A struct pgstore_call is this module's:
 * valid until its callback returns or pgstore_cancel (which cancels the
 * embedding call or the query, on the server too). The items array handed
 * to the callback becomes the caller's (cJSON_Delete it).
 */
#ifndef LLMFORK_PGSTORE_H
#define LLMFORK_PGSTORE_H

#include <stddef.h>

struct cfg;
struct cJSON;
struct entra;
struct pgs_args;
struct pgstore;
struct pgstore_call;

/* items: an array of items (the similar ones with "distance" too), or
 * NULL with status (400 vectors missing, 404 no such item, 5xx) and msg. */
typedef void (*pgstore_cb)(void *arg, struct cJSON *items, int status,
                           const char *msg);

/* entra: a reference taken over (NULL: none), for the database's tokens
 * and the embeddings'. NULL and err when the settings do not fit. */
struct pgstore *pgstore_new(const struct cfg *c, struct entra *entra,
                            char *err, size_t errlen);
void pgstore_free(struct pgstore *s);

/* NULL when the stored vectors can be read (and, with embed, a question
 * embedded too), else why not (for a 400). */
const char *pgstore_no_vectors(const struct pgstore *s, int embed);

/* The sample's search_and_embed: a's query (embedded when vector), a's
 * filters, the best top rows. NULL when out of memory. */
struct pgstore_call *pgstore_search(struct pgstore *s, const struct pgs_args *a,
                                    int text, int vector, int top,
                                    pgstore_cb cb, void *arg);
/* GET /items/{id}: a one-item array, or 404. */
struct pgstore_call *pgstore_item(struct pgstore *s, long long id,
                                  pgstore_cb cb, void *arg);
/* GET /similar: the n items nearest to item id, each with "distance"
 * (rounded to 2 places, as the sample's ItemWithDistance). */
struct pgstore_call *pgstore_similar(struct pgstore *s, long long id, int n,
                                     pgstore_cb cb, void *arg);
void pgstore_cancel(struct pgstore_call *sc);

#endif
