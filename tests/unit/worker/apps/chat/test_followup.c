/* Unit tests for worker/apps/chat/followup.c: the answer's text and the
 * "<<question>>" items, for every way a stream may cut the text in two or
 * three deltas, as the sample's split("<<")[0] and findall read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "worker/apps/chat/followup.h"

struct text {
    char s[512];
    size_t n;
};

static void emit(void *arg, const char *p, size_t n)
{
    struct text *t = arg;

    assert_true(n > 0);
    assert_true(t->n + n < sizeof(t->s));
    memcpy(t->s + t->n, p, n);
    t->n += n;
    t->s[t->n] = '\0';
}

/* The items as one string: "a|b|c". */
static void items(const struct followup *f, char *out, size_t cap)
{
    cJSON *a = followup_questions(f), *q;

    assert_non_null(a);
    out[0] = '\0';
    cJSON_ArrayForEach(q, a)
    {
        if (out[0])
            strncat(out, "|", cap - strlen(out) - 1);
        strncat(out, q->valuestring, cap - strlen(out) - 1);
    }
    cJSON_Delete(a);
}

static void run_cuts(const char *s, const size_t *cuts, int ncuts,
                     const char *answer, const char *qs, int started)
{
    struct followup f = { 0 };
    struct text t = { .n = 0 };
    size_t at = 0, n = strlen(s);
    char got[512];

    for (int i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        char *copy = malloc(end - at + 1);

        assert_non_null(copy);
        memcpy(copy, s + at, end - at);
        followup_feed(&f, copy, end - at, emit, &t);
        free(copy);
        at = end;
    }
    followup_finish(&f, emit, &t);
    assert_string_equal(t.s, answer);
    assert_int_equal(followup_started(&f), started);
    items(&f, got, sizeof(got));
    assert_string_equal(got, qs);
    followup_free(&f);
}

static void check(const char *s, const char *answer, const char *qs,
                  int started)
{
    size_t n = strlen(s), cuts[2];

    run_cuts(s, NULL, 0, answer, qs, started);
    for (cuts[0] = 0; cuts[0] <= n; cuts[0]++) {
        run_cuts(s, cuts, 1, answer, qs, started);
        for (cuts[1] = cuts[0]; cuts[1] <= n; cuts[1]++)
            run_cuts(s, cuts, 2, answer, qs, started);
    }
}

static void test_three_questions(void **state)
{
    (void)state;
    check("Covered [a.pdf#page=1].\n\n<<Is dental covered?>>\n"
          "<<What about eyes?>><<Who pays?>>",
          "Covered [a.pdf#page=1].\n\n",
          "Is dental covered?|What about eyes?|Who pays?", 1);
}

static void test_no_followups_keeps_lone_angles(void **state)
{
    (void)state;
    check("a < b and c <", "a < b and c <", "", 0);
    check("x<", "x<", "", 0);
}

static void test_text_after_items_is_cut_too(void **state)
{
    (void)state;
    /* split("<<")[0]: everything from the first "<<" is the part */
    check("A.<<Q1?>> trailing <<Q2?>>", "A.", "Q1?|Q2?", 1);
}

static void test_unclosed_and_odd_items(void **state)
{
    (void)state;
    check("A <<Q1?", "A ", "", 1);
    check("A <<<Q>>", "A ", "<Q", 1);
    check("<<>><<Q>>", "", "Q", 1);
    check("<<Q1> x>><<Q2>>", "", "Q2", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_questions),
        cmocka_unit_test(test_no_followups_keeps_lone_angles),
        cmocka_unit_test(test_text_after_items_is_cut_too),
        cmocka_unit_test(test_unclosed_and_odd_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
