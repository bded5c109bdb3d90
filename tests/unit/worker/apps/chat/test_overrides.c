/* Unit tests for worker/apps/chat/overrides.c: the demo's overrides with
 * the sample's defaults, its category filter (quotes doubled), its
 * prompt_template rule, and a 400 naming each override of a wrong type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "common/cfg.h"
#include "worker/apps/chat/overrides.h"

static struct cfg cfg(void)
{
    struct cfg c;

    memset(&c, 0, sizeof(c));
    c.search_top = 3;
    c.search_semantic_config = (char *)"default";
    return c;
}

/* The strings o borrows live in *tree (NULL: deleted at once). */
static int parse_in(const char *json, struct overrides *o, char *err,
                    cJSON **tree)
{
    struct cfg c = cfg();
    cJSON *ov = cJSON_Parse(json);
    int rc;

    assert_non_null(ov);
    rc = overrides_parse(ov, &c, o, err, 200);
    if (tree)
        *tree = ov;
    else
        cJSON_Delete(ov);
    return rc;
}

static int parse(const char *json, struct overrides *o, char *err)
{
    return parse_in(json, o, err, NULL);
}

static void test_defaults(void **state)
{
    struct overrides o;
    char err[200];
    (void)state;

    assert_int_equal(parse("{}", &o, err), 0);
    assert_int_equal(o.top, 3);
    assert_int_equal(o.mode, OVERRIDES_HYBRID);
    assert_true(o.semantic_ranker);
    assert_false(o.semantic_captions || o.query_rewriting || o.followups);
    assert_null(o.filter);
    overrides_free(&o);
}

static void test_the_frontend_s_request(void **state)
{
    struct overrides o;
    char err[200];
    cJSON *tree;
    (void)state;

    assert_int_equal(parse_in("{\"top\":5,\"retrieval_mode\":\"text\","
                              "\"semantic_ranker\":false,\"semantic_captions\":true,"
                              "\"query_rewriting\":true,\"minimum_search_score\":0.5,"
                              "\"minimum_reranker_score\":1.5,"
                              "\"include_category\":\"Dad's\",\"exclude_category\":"
                              "\"old\",\"suggest_followup_questions\":true,"
                              "\"reasoning_effort\":\"low\",\"language\":\"fr\","
                              "\"vector_fields\":[\"embedding\"],\"seed\":null}",
                              &o, err, &tree),
                     0);
    assert_int_equal(o.top, 5);
    assert_int_equal(o.mode, OVERRIDES_TEXT);
    assert_false(o.semantic_ranker);
    assert_true(o.semantic_captions && o.query_rewriting && o.followups);
    assert_true(o.min_search_score == 0.5 && o.min_reranker_score == 1.5);
    assert_string_equal(o.filter, "category eq 'Dad''s' and category ne 'old'");
    assert_string_equal(o.reasoning_effort, "low");
    assert_string_equal(o.language, "fr");
    overrides_free(&o);
    cJSON_Delete(tree);
}

static void test_wrong_types_name_the_override(void **state)
{
    static const char *const bad[][2] = {
        { "{\"top\":\"3\"}", "context.overrides.top:" },
        { "{\"top\":0}", "context.overrides.top:" },
        { "{\"top\":2.5}", "context.overrides.top:" },
        { "{\"retrieval_mode\":\"fuzzy\"}", "context.overrides.retrieval_mode:" },
        { "{\"semantic_ranker\":\"yes\"}", "context.overrides.semantic_ranker:" },
        { "{\"minimum_search_score\":-1}",
          "context.overrides.minimum_search_score:" },
        { "{\"exclude_category\":7}", "context.overrides.exclude_category:" },
        { "{\"prompt_template\":[]}", "context.overrides.prompt_template:" },
        { "{\"suggest_followup_questions\":1}",
          "context.overrides.suggest_followup_questions:" },
    };
    struct overrides o;
    char err[200];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_int_equal(parse(bad[i][0], &o, err), -1);
        assert_non_null(strstr(err, bad[i][1]));
    }
}

static void test_prompt_template(void **state)
{
    struct overrides o = { .prompt_template = NULL };
    char *p, pirate[] = "Talk like a pirate.", inject[] = ">>>Talk like a pirate.";
    (void)state;

    p = overrides_prompt(&o, "BASE");
    assert_string_equal(p, "BASE");
    free(p);
    o.prompt_template = pirate;
    p = overrides_prompt(&o, "BASE");
    assert_string_equal(p, "Talk like a pirate.");
    free(p);
    o.prompt_template = inject;
    o.followups = 1;
    p = overrides_prompt(&o, "BASE");
    assert_true(!strncmp(p, "BASE\n\nTalk like a pirate.\n\nGenerate 3 very "
                            "brief follow-up questions",
                         67));
    assert_non_null(strstr(p, "Make sure the last question ends with \">>\"."));
    free(p);
}

static void test_reasoning_models(void **state)
{
    (void)state;
    assert_true(overrides_reasoning_model("gpt-5-mini"));
    assert_true(overrides_reasoning_model("o3-mini"));
    assert_false(overrides_reasoning_model("gpt-4.1-mini"));
    assert_false(overrides_reasoning_model(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_the_frontend_s_request),
        cmocka_unit_test(test_wrong_types_name_the_override),
        cmocka_unit_test(test_prompt_template),
        cmocka_unit_test(test_reasoning_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
