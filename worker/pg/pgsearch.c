/* pgsearch — the search statement and the tool's arguments (pgsearch.h). */
#include "worker/pg/pgsearch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

static const char *const price_ops[] = { ">", "<", ">=", "<=", "=", NULL };
static const char *const brand_ops[] = { "=", "!=", NULL };

/* The allowed operator equal to s, as a static string; NULL if none. */
static const char *allowed(const char *const *ops, const char *s)
{
    for (; *ops; ops++)
        if (!strcmp(*ops, s))
            return *ops;
    return NULL;
}

/* One filter from the tool's object; 0 when it is none, -1 out of memory. */
static int add_filter(struct pgs_args *a, const cJSON *f, const char *column,
                      const char *const *ops)
{
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(f, "comparison_operator");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "value");
    struct pgs_filter *out = &a->filters[a->nfilters];
    char num[32];

    if (!cJSON_IsObject(f) || !cJSON_IsString(op) ||
        !(out->op = allowed(ops, op->valuestring)))
        return 0;
    if (ops == price_ops) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return 0;
        snprintf(num, sizeof(num), "%.17g", v->valuedouble);
        out->value = strdup(num);
    } else {
        if (!cJSON_IsString(v))
            return 0;
        out->value = strdup(v->valuestring);
    }
    if (!out->value)
        return -1;
    out->column = column;
    a->nfilters++;
    return 0;
}

int pgs_tool_args(const char *json, const char *fallback, struct pgs_args *a)
{
    cJSON *o = cJSON_Parse(json ? json : "");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "search_query");
    int rc = 0;

    memset(a, 0, sizeof(*a));
    a->query = strdup(cJSON_IsString(q) && q->valuestring[0] ? q->valuestring
                                                             : fallback);
    if (!a->query ||
        add_filter(a, cJSON_GetObjectItemCaseSensitive(o, "price_filter"),
                   "price", price_ops) < 0 ||
        add_filter(a, cJSON_GetObjectItemCaseSensitive(o, "brand_filter"),
                   "brand", brand_ops) < 0) {
        pgs_args_free(a);
        rc = -1;
    }
    cJSON_Delete(o);
    return rc;
}

void pgs_args_free(struct pgs_args *a)
{
    free(a->query);
    for (int i = 0; i < a->nfilters; i++)
        free(a->filters[i].value);
    memset(a, 0, sizeof(*a));
}

cJSON *pgs_filters_json(const struct pgs_args *a)
{
    cJSON *arr = cJSON_CreateArray();

    for (int i = 0; arr && i < a->nfilters; i++) {
        const struct pgs_filter *f = &a->filters[i];
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "column", f->column);
        cJSON_AddStringToObject(o, "comparison_operator", f->op);
        if (!strcmp(f->column, "price"))
            cJSON_AddNumberToObject(o, "value", strtod(f->value, NULL));
        else
            cJSON_AddStringToObject(o, "value", f->value);
    }
    return arr;
}

/* Appends lead (then " AND") "col op $n" per filter, from $first. */
static void filters_sql(FILE *f, const struct pgs_filter *flt, int nf,
                        int first, const char *lead)
{
    for (int i = 0; i < nf; i++)
        fprintf(f, "%s %s %s $%d%s", i ? " AND" : lead, flt[i].column,
                flt[i].op, first + i,
                !strcmp(flt[i].column, "price") ? "::float8" : "");
}

int pgs_build(const char *table, const char *column, const char *text,
              const char *vector, const struct pgs_filter *flt, int nf,
              int top, struct pgs_sql *out)
{
    char *sql = NULL, num[16];
    size_t len = 0;
    FILE *f;
    int pv = 0, pq = 0, pf;

    memset(out, 0, sizeof(*out));
    if (vector) {
        out->params[out->n] = vector;
        pv = ++out->n;
    }
    if (text) {
        out->params[out->n] = text;
        pq = ++out->n;
    }
    pf = out->n + 1;
    for (int i = 0; i < nf; i++)
        out->params[out->n++] = flt[i].value;
    snprintf(num, sizeof(num), "%d", top);
    if (!(out->top = strdup(num)) || !(f = open_memstream(&sql, &len))) {
        pgs_sql_free(out);
        return -1;
    }
    out->params[out->n++] = out->top;
    fputs("WITH ", f);
    if (vector) {
        fprintf(f, "vector_search AS (SELECT id, RANK () OVER (ORDER BY %s"
                   " <=> $%d::float8[]::vector) AS rank FROM %s",
                column, pv,
                table);
        filters_sql(f, flt, nf, pf, " WHERE");
        fprintf(f, " ORDER BY %s <=> $%d::float8[]::vector LIMIT 20)%s",
                column, pv, text ? ", " : " ");
    }
    if (text) {
        fprintf(f, "fulltext_search AS (SELECT id, RANK () OVER (ORDER BY"
                   " ts_rank_cd(to_tsvector('english', description), query)"
                   " DESC) AS rank FROM %s, plainto_tsquery('english', $%d)"
                   " query WHERE to_tsvector('english', description) @@ query",
                table, pq);
        filters_sql(f, flt, nf, pf, " AND");
        fputs(" ORDER BY ts_rank_cd(to_tsvector('english', description),"
              " query) DESC LIMIT 20) ",
              f);
    }
    if (vector && text)
        fprintf(f, ", fused AS (SELECT COALESCE(vector_search.id,"
                   " fulltext_search.id) AS id, COALESCE(1.0 / (%d +"
                   " vector_search.rank), 0.0) + COALESCE(1.0 / (%d +"
                   " fulltext_search.rank), 0.0) AS score FROM vector_search"
                   " FULL OUTER JOIN fulltext_search ON vector_search.id ="
                   " fulltext_search.id) ",
                PGS_RRF_K, PGS_RRF_K);
    else
        fprintf(f, ", fused AS (SELECT id, 1.0 / (%d + rank) AS score FROM"
                   " %s) ",
                PGS_RRF_K, vector ? "vector_search" : "fulltext_search");
    fprintf(f, "SELECT t.id, t.type, t.brand, t.name, t.description, t.price,"
               " fused.score FROM fused JOIN %s t ON t.id = fused.id ORDER BY"
               " fused.score DESC, t.id LIMIT $%d::int",
            table, out->n);
    if (fclose(f) != 0) {
        free(sql);
        pgs_sql_free(out);
        return -1;
    }
    out->sql = sql;
    return 0;
}

void pgs_sql_free(struct pgs_sql *s)
{
    free(s->sql);
    free(s->top);
    memset(s, 0, sizeof(*s));
}

char *pgs_vector_literal(const cJSON *arr)
{
    const cJSON *x;
    char *s = NULL;
    size_t len = 0;
    FILE *f;
    int i = 0;

    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0 ||
        !(f = open_memstream(&s, &len)))
        return NULL;
    fputc('{', f);
    cJSON_ArrayForEach(x, arr)
    {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
            fclose(f);
            free(s);
            return NULL;
        }
        fprintf(f, "%s%.9g", i++ ? "," : "", x->valuedouble);
    }
    fputc('}', f);
    if (fclose(f) != 0) {
        free(s);
        return NULL;
    }
    return s;
}
