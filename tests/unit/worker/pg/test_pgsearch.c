/*
 * test_pgsearch — the search statement (which searches, the parameters'
 * numbering, filters as parameters, no user text in the SQL), the
 * search_database tool's arguments (filters kept only when well formed)
 * and the vector literal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "worker/pg/pgsearch.h"

#define HAS(s, part) assert_non_null(strstr((s), (part)))
#define HASNT(s, part) assert_null(strstr((s), (part)))

static void test_text_only(void **st)
{
    struct pgs_sql q;
    (void)st;

    assert_int_equal(pgs_build("items", "embedding_3l", "red 'shoes'", NULL,
                               NULL, 0, 3, &q),
                     0);
    HAS(q.sql, "fulltext_search AS (");
    HAS(q.sql, "plainto_tsquery('english', $1) query");
    HAS(q.sql, "1.0 / (60 + rank) AS score FROM fulltext_search");
    HAS(q.sql, "LIMIT $2::int");
    HASNT(q.sql, "vector_search");
    HASNT(q.sql, "shoes"); /* parameters only */
    assert_int_equal(q.n, 2);
    assert_string_equal(q.params[0], "red 'shoes'");
    assert_string_equal(q.params[1], "3");
    pgs_sql_free(&q);
}

static void test_vector_only(void **st)
{
    struct pgs_sql q;
    (void)st;

    assert_int_equal(pgs_build("t", "embedding_nomic", NULL, "{1,2}", NULL, 0,
                               5, &q),
                     0);
    HAS(q.sql, "RANK () OVER (ORDER BY embedding_nomic <=>"
               " $1::float8[]::vector) AS rank FROM t ORDER BY");
    HAS(q.sql, "FROM vector_search");
    HASNT(q.sql, "fulltext_search");
    assert_int_equal(q.n, 2);
    assert_string_equal(q.params[0], "{1,2}");
    pgs_sql_free(&q);
}

static void test_hybrid_with_filters(void **st)
{
    struct pgs_args a;
    struct pgs_sql q;
    (void)st;

    assert_int_equal(pgs_tool_args("{\"search_query\":\"boots\",\"price_filter\":"
                                   "{\"comparison_operator\":\"<=\",\"value\":"
                                   "99.5},\"brand_filter\":{\"comparison_operator"
                                   "\":\"!=\",\"value\":\"X'; DROP\"}}",
                                   "q", &a),
                     0);
    assert_int_equal(pgs_build("items", "embedding_3l", a.query, "{0.5}",
                               a.filters, a.nfilters, 4, &q),
                     0);
    /* $1 vector, $2 text, $3 price, $4 brand, $5 top */
    HAS(q.sql, "FROM items WHERE price <= $3::float8 AND brand != $4 ORDER BY"
               " embedding_3l <=> $1::float8[]::vector LIMIT 20");
    HAS(q.sql, "plainto_tsquery('english', $2) query WHERE to_tsvector("
               "'english', description) @@ query AND price <= $3::float8 AND"
               " brand != $4 ORDER BY");
    HAS(q.sql, "COALESCE(1.0 / (60 + vector_search.rank), 0.0) + COALESCE(1.0"
               " / (60 + fulltext_search.rank), 0.0) AS score");
    HAS(q.sql, "FULL OUTER JOIN fulltext_search ON vector_search.id ="
               " fulltext_search.id");
    HAS(q.sql, "ORDER BY fused.score DESC, t.id LIMIT $5::int");
    HASNT(q.sql, "DROP");
    assert_int_equal(q.n, 5);
    assert_string_equal(q.params[1], "boots");
    assert_string_equal(q.params[2], "99.5");
    assert_string_equal(q.params[3], "X'; DROP");
    assert_string_equal(q.params[4], "4");
    pgs_sql_free(&q);
    pgs_args_free(&a);
}

static void test_tool_args(void **st)
{
    struct pgs_args a;
    cJSON *f;
    char *s;
    (void)st;

    /* no arguments, or not JSON: the question, no filters */
    assert_int_equal(pgs_tool_args(NULL, "the question", &a), 0);
    assert_string_equal(a.query, "the question");
    assert_int_equal(a.nfilters, 0);
    pgs_args_free(&a);
    assert_int_equal(pgs_tool_args("{nope", "q", &a), 0);
    assert_string_equal(a.query, "q");
    pgs_args_free(&a);
    /* an empty or non-string query: the fallback */
    assert_int_equal(pgs_tool_args("{\"search_query\":\"\"}", "q", &a), 0);
    assert_string_equal(a.query, "q");
    pgs_args_free(&a);
    /* bad operators and values are dropped, good ones kept */
    assert_int_equal(pgs_tool_args(
                         "{\"search_query\":\"x\",\"price_filter\":{\"comparison_operator\":"
                         "\"LIKE\",\"value\":3},\"brand_filter\":{\"comparison_operator\":\"<\","
                         "\"value\":\"A\"}}",
                         "q", &a),
                     0);
    assert_int_equal(a.nfilters, 0);
    pgs_args_free(&a);
    assert_int_equal(pgs_tool_args(
                         "{\"search_query\":\"x\",\"price_filter\":{\"comparison_operator\":"
                         "\">\",\"value\":\"30\"},\"brand_filter\":{\"comparison_operator\":\"=\","
                         "\"value\":\"Acme\"}}",
                         "q", &a),
                     0);
    assert_int_equal(a.nfilters, 1); /* the price was a string */
    assert_string_equal(a.filters[0].column, "brand");
    assert_string_equal(a.filters[0].op, "=");
    assert_string_equal(a.filters[0].value, "Acme");
    pgs_args_free(&a);
    assert_int_equal(pgs_tool_args(
                         "{\"search_query\":\"x\",\"price_filter\":{\"comparison_operator\":"
                         "\">=\",\"value\":30},\"brand_filter\":null}",
                         "q", &a),
                     0);
    f = pgs_filters_json(&a);
    s = cJSON_PrintUnformatted(f);
    assert_string_equal(s, "[{\"column\":\"price\",\"comparison_operator\":"
                           "\">=\",\"value\":30}]");
    free(s);
    cJSON_Delete(f);
    pgs_args_free(&a);
}

static void test_vector_literal(void **st)
{
    cJSON *v = cJSON_Parse("[1, -0.25, 3e-5]");
    char *s = pgs_vector_literal(v);
    (void)st;

    assert_string_equal(s, "{1,-0.25,3e-05}");
    free(s);
    cJSON_Delete(v);
    v = cJSON_Parse("[1, \"2\"]");
    assert_null(pgs_vector_literal(v));
    cJSON_Delete(v);
    v = cJSON_Parse("[]");
    assert_null(pgs_vector_literal(v));
    cJSON_Delete(v);
    assert_null(pgs_vector_literal(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_only),
        cmocka_unit_test(test_vector_only),
        cmocka_unit_test(test_hybrid_with_filters),
        cmocka_unit_test(test_tool_args),
        cmocka_unit_test(test_vector_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
