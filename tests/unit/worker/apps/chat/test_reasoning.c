/*
 * test_reasoning — the thinking/answer splitter on DeepSeek-R1-shaped
 * content, fed whole, cut in two at every offset, in three pieces at every
 * pair of offsets, and byte by byte: each way must give the same thinking
 * and the same answer. Each piece is its own heap block, freed right after
 * the feed, so under ASan a pointer kept into the caller's bytes shows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker/apps/chat/reasoning.h"

struct out {
    char think[512], answer[512];
    size_t nt, na;
    int answer_then_think; /* thinking emitted after some answer */
};

static void emit(void *arg, int thinking, const char *p, size_t n)
{
    struct out *o = arg;
    char *dst = thinking ? o->think : o->answer;
    size_t *len = thinking ? &o->nt : &o->na;

    assert_true(n > 0);
    assert_true(*len + n < sizeof(o->think));
    if (thinking && o->na)
        o->answer_then_think = 1;
    memcpy(dst + *len, p, n);
    *len += n;
    dst[*len] = '\0';
}

static void feed_copy(struct reasoning *r, const char *p, size_t n,
                      struct out *o)
{
    char *copy = malloc(n ? n : 1);

    assert_non_null(copy);
    memcpy(copy, p, n);
    reasoning_feed(r, copy, n, emit, o);
    free(copy);
}

/* Feeds s cut at the offsets in cuts[0..ncuts), then checks the result. */
static void run_cuts(const char *s, const size_t *cuts, int ncuts,
                     const char *think, const char *answer)
{
    struct reasoning r;
    struct out o = { .nt = 0 };
    size_t at = 0, n = strlen(s);

    reasoning_init(&r);
    for (int i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;

        feed_copy(&r, s + at, end - at, &o);
        at = end;
    }
    reasoning_finish(&r, emit, &o);
    assert_string_equal(o.think, think);
    assert_string_equal(o.answer, answer);
    assert_false(o.answer_then_think);
}

static void check(const char *s, const char *think, const char *answer)
{
    size_t n = strlen(s), cuts[2];
    struct reasoning r;
    struct out o = { .nt = 0 };

    run_cuts(s, NULL, 0, think, answer);
    for (cuts[0] = 0; cuts[0] <= n; cuts[0]++) {
        run_cuts(s, cuts, 1, think, answer);
        for (cuts[1] = cuts[0]; cuts[1] <= n; cuts[1]++)
            run_cuts(s, cuts, 2, think, answer);
    }
    reasoning_init(&r);
    for (size_t i = 0; i < n; i++)
        feed_copy(&r, s + i, 1, &o);
    reasoning_finish(&r, emit, &o);
    assert_string_equal(o.think, think);
    assert_string_equal(o.answer, answer);
}

static void test_r1_stream(void **state)
{
    (void)state;
    check("<think>\nThe user greets. I greet back.\n</think>\n\nHello!",
          "The user greets. I greet back.\n", "Hello!");
}

static void test_leading_space_and_lt_in_thinking(void **state)
{
    (void)state;
    check("  \n<think>a < b, and <b> is bold </thin k</think>  2 < 3",
          "a < b, and <b> is bold </thin k", "2 < 3");
    check("<think>x<</think>y", "x<", "y");
    check("<think>x</</think>y", "x</", "y");
}

static void test_no_think_is_all_answer(void **state)
{
    (void)state;
    check("Hello! I am the llmfork mock model.", "",
          "Hello! I am the llmfork mock model.");
    check("  <thin>k", "", "  <thin>k");
    check("x<think>y</think>z", "", "x<think>y</think>z");
    check("<", "", "<");
    check(" \n", "", " \n");
}

static void test_tags_after_close_are_answer(void **state)
{
    (void)state;
    check("<think></think>a</think><think>b", "", "a</think><think>b");
}

static void test_cut_inside_a_tag(void **state)
{
    (void)state;
    /* a stream that ends in the middle of a tag keeps what it had */
    check("<think>why</thi", "why</thi", "");
    check("<thi", "", "<thi");
    check("<think>\n", "", "");
}

static void test_long_whitespace_gives_up(void **state)
{
    char s[REASONING_HOLD + 32];
    (void)state;

    memset(s, ' ', REASONING_HOLD);
    strcpy(s + REASONING_HOLD, "<think>t</think>a");
    check(s, "", s);
}

static void test_reuse_after_finish(void **state)
{
    struct reasoning r;
    struct out o = { .nt = 0 };
    (void)state;

    reasoning_init(&r);
    reasoning_feed(&r, "<think>a</think>b", 17, emit, &o);
    reasoning_finish(&r, emit, &o);
    o.na = 0;
    o.answer[0] = '\0';
    reasoning_feed(&r, "<think>c</think>d", 17, emit, &o);
    reasoning_finish(&r, emit, &o);
    assert_string_equal(o.think, "ac");
    assert_string_equal(o.answer, "d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_r1_stream),
        cmocka_unit_test(test_leading_space_and_lt_in_thinking),
        cmocka_unit_test(test_no_think_is_all_answer),
        cmocka_unit_test(test_tags_after_close_are_answer),
        cmocka_unit_test(test_cut_inside_a_tag),
        cmocka_unit_test(test_long_whitespace_gives_up),
        cmocka_unit_test(test_reuse_after_finish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
