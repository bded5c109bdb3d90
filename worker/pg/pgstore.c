/* pgstore — the catalogue's searches and item look-ups (pgstore.h). */
#include "worker/pg/pgstore.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "common/log.h"
#include "worker/apps/chat/embed.h"
#include "worker/model/auth/entra.h"
#include "worker/pg/pgpool.h"
#include "worker/pg/pgsearch.h"

struct pgstore {
    const struct cfg *cfg;
    struct pgpool *pool;
    struct embed *e;     /* NULL: no embedding deployment */
    struct entra *entra; /* the embeddings' (a reference), or NULL */
    struct pgq *caps_q;  /* the start-up check in flight */
    unsigned caps_known : 1;
    char no_vectors[200]; /* "" when vectors can be had */
    char sql_item[200];
    char sql_similar[400];
};

enum call_kind { K_SEARCH,
                 K_ITEM,
                 K_SIMILAR };

struct pgstore_call {
    struct pgstore *s;
    enum call_kind kind;
    pgstore_cb cb;
    void *arg;
    struct embed_call *ec;
    struct pgq *q;
    struct pgs_args a; /* a copy of the search's arguments */
    int text, top;
    char id[24], n[16];
};

/* ---- what the server has ------------------------------------------------ */

static void on_caps(void *arg, const PGresult *res, int status, const char *msg)
{
    struct pgstore *s = arg;
    const struct cfg *c = s->cfg;
    (void)status;

    s->caps_q = NULL;
    if (!res || PQntuples(res) != 1) {
        log_warn("postgres: cannot check the table: %s", msg ? msg : "no row");
        return;
    }
    s->caps_known = 1;
    if (strcmp(PQgetvalue(res, 0, 0), "t"))
        log_warn("postgres: there is no table %s (run scripts/seed-postgres)",
                 c->postgres_table);
    if (strcmp(PQgetvalue(res, 0, 1), "t"))
        snprintf(s->no_vectors, sizeof(s->no_vectors), "vector search needs "
                                                       "pgvector, and the database has no type vector");
    else if (strcmp(PQgetvalue(res, 0, 2), "t"))
        snprintf(s->no_vectors, sizeof(s->no_vectors), "vector search needs "
                                                       "the column %s.%s, which the table lacks",
                 c->postgres_table,
                 c->postgres_embedding_column);
    if (s->no_vectors[0] && s->e)
        log_warn("postgres: %s; text search only", s->no_vectors);
}

static void check_caps(struct pgstore *s)
{
    const char *p[] = { s->cfg->postgres_table,
                        s->cfg->postgres_embedding_column };

    if (!s->caps_known && !s->caps_q)
        s->caps_q = pgpool_query(s->pool,
                                 "SELECT to_regclass($1) IS NOT NULL, to_regtype('vector') IS NOT"
                                 " NULL, EXISTS (SELECT 1 FROM information_schema.columns WHERE"
                                 " table_name = $1 AND column_name = $2)",
                                 2, p, on_caps, s);
}

struct pgstore *pgstore_new(const struct cfg *c, struct entra *entra,
                            char *err, size_t errlen)
{
    struct pgstore *s = calloc(1, sizeof(*s));
    struct entra *pool_ref = NULL;

    if (!s) {
        entra_close(entra);
        return snprintf(err, errlen, "out of memory"), NULL;
    }
    s->cfg = c;
    s->entra = entra;
    if (entra && !(pool_ref = entra_open(c, err, errlen))) {
        pgstore_free(s);
        return NULL;
    }
    if (!(s->pool = pgpool_new(c, pool_ref, err, errlen)) ||
        (c->embedding_deployment &&
         !(s->e = embed_init(c, entra, err, errlen)))) {
        pgstore_free(s);
        return NULL;
    }
    snprintf(s->sql_item, sizeof(s->sql_item), "SELECT " PGS_ITEM_COLUMNS " FROM %s WHERE id = $1::int8", c->postgres_table);
    snprintf(s->sql_similar, sizeof(s->sql_similar), "SELECT " PGS_ITEM_COLUMNS ", %s <=> (SELECT %s FROM %s WHERE id ="
                                                     " $1::int8) AS distance FROM %s WHERE id <> $1::int8 ORDER BY"
                                                     " distance, id LIMIT $2::int",
             c->postgres_embedding_column,
             c->postgres_embedding_column, c->postgres_table,
             c->postgres_table);
    check_caps(s);
    return s;
}

void pgstore_free(struct pgstore *s)
{
    if (!s)
        return;
    if (s->caps_q)
        pgpool_cancel(s->caps_q);
    pgpool_free(s->pool);
    embed_free(s->e);
    entra_close(s->entra);
    free(s);
}

const char *pgstore_no_vectors(const struct pgstore *s, int embed)
{
    if (s->no_vectors[0])
        return s->no_vectors;
    if (embed && !s->e)
        return "vector search needs an embedding deployment "
               "(embedding_deployment, AZURE_OPENAI_EMB_DEPLOYMENT)";
    return NULL;
}

/* ---- calls -------------------------------------------------------------- */

static void call_free(struct pgstore_call *sc)
{
    if (sc->ec)
        embed_cancel(sc->ec);
    if (sc->q)
        pgpool_cancel(sc->q);
    pgs_args_free(&sc->a);
    free(sc);
}

static void finish(struct pgstore_call *sc, cJSON *items, int status,
                   const char *msg)
{
    sc->cb(sc->arg, items, status, msg);
    call_free(sc);
}

/* The rows as ItemPublic objects (with "distance" when asked). */
static cJSON *rows_json(const PGresult *res, int distance)
{
    cJSON *arr = cJSON_CreateArray();

    for (int i = 0; arr && i < PQntuples(res); i++) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "id", strtod(PQgetvalue(res, i, 0), NULL));
        cJSON_AddStringToObject(o, "type", PQgetvalue(res, i, 1));
        cJSON_AddStringToObject(o, "brand", PQgetvalue(res, i, 2));
        cJSON_AddStringToObject(o, "name", PQgetvalue(res, i, 3));
        cJSON_AddStringToObject(o, "description", PQgetvalue(res, i, 4));
        cJSON_AddNumberToObject(o, "price", strtod(PQgetvalue(res, i, 5), NULL));
        if (distance)
            cJSON_AddNumberToObject(o, "distance", round(strtod(PQgetvalue(res, i, 6), NULL) * 100) / 100);
    }
    return arr;
}

static void on_rows(void *arg, const PGresult *res, int status,
                    const char *msg);

static int query(struct pgstore_call *sc, const char *sql, int n,
                 const char *const *p)
{
    sc->q = pgpool_query(sc->s->pool, sql, n, p, on_rows, sc);
    return sc->q ? 0 : -1;
}

static void on_rows(void *arg, const PGresult *res, int status,
                    const char *msg)
{
    struct pgstore_call *sc = arg;
    char why[80];

    sc->q = NULL;
    if (!res) {
        finish(sc, NULL, status, msg);
        return;
    }
    if (sc->kind != K_SEARCH && PQntuples(res) == 0) {
        snprintf(why, sizeof(why), "Item with ID %s not found.", sc->id);
        finish(sc, NULL, 404, why);
        return;
    }
    if (sc->kind == K_SIMILAR) {
        const char *p[] = { sc->id, sc->n };

        sc->kind = K_SEARCH; /* the item is there: now its neighbours */
        if (query(sc, sc->s->sql_similar, 2, p) < 0)
            finish(sc, NULL, 503, "the database pool is full");
        return;
    }
    finish(sc, rows_json(res, PQnfields(res) > 6 && !strcmp(PQfname(res, 6), "distance")), 200, NULL);
}

/* The statement for the search, with the vector literal or NULL. */
static int run_search(struct pgstore_call *sc, const char *vector)
{
    const struct cfg *c = sc->s->cfg;
    struct pgs_sql sql;
    int rc;

    if (pgs_build(c->postgres_table, c->postgres_embedding_column,
                  sc->text ? sc->a.query : NULL, vector, sc->a.filters,
                  sc->a.nfilters, sc->top, &sql) < 0)
        return -1;
    rc = query(sc, sql.sql, sql.n, sql.params);
    pgs_sql_free(&sql);
    return rc;
}

static void on_embed(void *arg, cJSON *vector, int status, const char *msg,
                     const char *retry_after)
{
    struct pgstore_call *sc = arg;
    char *lit = vector ? pgs_vector_literal(vector) : NULL;
    (void)retry_after;

    sc->ec = NULL;
    cJSON_Delete(vector);
    if (!lit)
        finish(sc, NULL, vector ? 502 : status,
               vector ? "the embedding was not an array of numbers" : msg);
    else if (run_search(sc, lit) < 0)
        finish(sc, NULL, 503, "the database pool is full");
    free(lit);
}

static struct pgstore_call *call_new(struct pgstore *s, enum call_kind kind,
                                     pgstore_cb cb, void *arg)
{
    struct pgstore_call *sc = calloc(1, sizeof(*sc));

    if (sc) {
        sc->s = s;
        sc->kind = kind;
        sc->cb = cb;
        sc->arg = arg;
    }
    check_caps(s);
    return sc;
}

struct pgstore_call *pgstore_search(struct pgstore *s, const struct pgs_args *a,
                                    int text, int vector, int top,
                                    pgstore_cb cb, void *arg)
{
    struct pgstore_call *sc = call_new(s, K_SEARCH, cb, arg);
    int rc = -1;

    if (!sc || !(sc->a.query = strdup(a->query)))
        goto fail;
    for (int i = 0; i < a->nfilters; i++, sc->a.nfilters++) {
        sc->a.filters[i] = a->filters[i];
        if (!(sc->a.filters[i].value = strdup(a->filters[i].value)))
            goto fail;
    }
    sc->text = text;
    sc->top = top;
    if (vector && s->e)
        rc = (sc->ec = embed_start(s->e, a->query, on_embed, sc)) ? 0 : -1;
    else if (!vector)
        rc = run_search(sc, NULL);
    if (rc == 0)
        return sc;
fail:
    if (sc)
        call_free(sc);
    return NULL;
}

static struct pgstore_call *by_id(struct pgstore *s, enum call_kind kind,
                                  long long id, int n, pgstore_cb cb,
                                  void *arg)
{
    struct pgstore_call *sc = call_new(s, kind, cb, arg);
    const char *p[1];

    if (!sc)
        return NULL;
    snprintf(sc->id, sizeof(sc->id), "%lld", id);
    snprintf(sc->n, sizeof(sc->n), "%d", n);
    p[0] = sc->id;
    if (query(sc, s->sql_item, 1, p) < 0) {
        call_free(sc);
        return NULL;
    }
    return sc;
}

struct pgstore_call *pgstore_item(struct pgstore *s, long long id,
                                  pgstore_cb cb, void *arg)
{
    return by_id(s, K_ITEM, id, 0, cb, arg);
}

struct pgstore_call *pgstore_similar(struct pgstore *s, long long id, int n,
                                     pgstore_cb cb, void *arg)
{
    return by_id(s, K_SIMILAR, id, n, cb, arg);
}

void pgstore_cancel(struct pgstore_call *sc)
{
    call_free(sc);
}
