/*
 * pgsearch — the statements of the rag-postgres sample's PostgresSearcher,
 * built for libpq with parameters only (user text never enters the SQL;
 * the table and column names are settings that cfg checked as plain SQL
 * names), the search_database tool's arguments read into filters, and
 * result rows turned into the sample's ItemPublic JSON.
 *
 * The search (one statement, as the sample's hybrid_query):
 *   vector_search   AS (SELECT id, RANK () OVER (ORDER BY COL <=> $v) ...
 *                       WHERE filters ORDER BY COL <=> $v LIMIT 20)
 *   fulltext_search AS (SELECT id, RANK () OVER (ORDER BY ts_rank_cd(
 *                       to_tsvector('english', description), query) DESC)
 *                       FROM T, plainto_tsquery('english', $q) query
 *                       WHERE to_tsvector(...) @@ query AND filters ...
 *                       LIMIT 20)
 *   score = COALESCE(1.0 / (60 + vector rank), 0.0) +
 *           COALESCE(1.0 / (60 + text rank), 0.0)      (RRF, k = 60)
 * then the rows of the best `top` ids, by score (ties by id, so the order
 * is stable; the sample leaves ties to the server). Only the enabled
 * searches are in the statement. The vector parameter is a float8[]
 * literal ("{0.1,...}") cast with ::float8[]::vector (pgvector's cast from
 * double precision[]).
 *
 * Pure: no I/O (tests/unit/worker/pg/test_pgsearch.c).
 *
 * Ownership: struct pgs_args owns its strings (pgs_args_free). struct
 * pgs_sql owns sql and top (pgs_sql_free); its
 * other parameters point into the inputs given to pgs_build, which must
 * outlive it.
 */
#ifndef LLMFORK_PGSEARCH_H
#define LLMFORK_PGSEARCH_H

#include <stddef.h>

#define PGS_RRF_K 60
#define PGS_MAX_FILTERS 2

struct cJSON;

struct pgs_filter {
    const char *column; /* "price" or "brand" (static) */
    const char *op;     /* one of the allowed operators (static) */
    char *value;        /* the value as text */
};

struct pgs_args {
    char *query; /* the search text */
    struct pgs_filter filters[PGS_MAX_FILTERS];
    int nfilters;
};

/* Reads search_database's arguments (a JSON object as text): search_query
 * (fallback when absent or not a string), price_filter {comparison_operator
 * one of > < >= <= =, value a number}, brand_filter {comparison_operator
 * = or !=, value a string}; a filter that is absent, null or not an object
 * is none, one with a bad operator or value too (the model's mistake is
 * not the client's). -1 only when out of memory. */
int pgs_tool_args(const char *json, const char *fallback, struct pgs_args *a);
void pgs_args_free(struct pgs_args *a);

/* [{"column","comparison_operator","value"}] as the sample's thoughts. */
struct cJSON *pgs_filters_json(const struct pgs_args *a);

struct pgs_sql {
    char *sql;
    const char *params[8];
    int n;
    char *top; /* the LIMIT parameter, made here */
};

/* text: the full-text query (NULL: no text search); vector: a float8[]
 * literal (NULL: no vector search); at least one is given. -1 when out
 * of memory. */
int pgs_build(const char *table, const char *column, const char *text,
              const char *vector, const struct pgs_filter *f, int nf,
              int top, struct pgs_sql *out);
void pgs_sql_free(struct pgs_sql *s);

/* A JSON array of numbers as a float8[] literal; NULL when it is not one
 * or out of memory. */
char *pgs_vector_literal(const struct cJSON *arr);

/* The columns every item statement selects, in this order. */
#define PGS_ITEM_COLUMNS "id, type, brand, name, description, price"

#endif
