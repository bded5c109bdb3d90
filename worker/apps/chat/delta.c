/*
 * delta — choices[0].delta.content from a chunk, one validating pass (see
 * delta.h). Objects and arrays are walked by two iterators that hand each
 * member or item to a callback sitting on its value; the callback either
 * reads the value or skips it. Every path that is not plain returns -1,
 * which delta_scan() turns into DELTA_OTHER.
 */
#include "worker/apps/chat/delta.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct cur {
    const char *p, *end;
    int depth;
};

/* What the member callbacks fill in; seen keeps the first of a key. */
struct pick {
    struct delta *d;
    unsigned seen;
    const char *mark;   /* where choices[0].delta's value starts */
    unsigned mark_seen; /* seen there */
};

enum {
    SEEN_CHOICES = 1,
    SEEN_DELTA = 2,
    SEEN_FINISH = 4,
    SEEN_CONTENT = 8,
    SEEN_REASONING = 16,
    SEEN_REFUSAL = 32,
};

typedef int (*member_fn)(struct cur *c, const char *k, size_t kn, int kesc,
                         struct pick *pk);
typedef int (*item_fn)(struct cur *c, int index, struct pick *pk);

static int skip_value(struct cur *c);

/* Whitespace is rare in real chunks: one compare says there is none. */
static inline void ws(struct cur *c)
{
    while (c->p < c->end && (unsigned char)*c->p <= ' ' &&
           (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int at(const struct cur *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

static int hex4(const char *p, unsigned *v)
{
    unsigned x = 0;

    for (int i = 0; i < 4; i++) {
        unsigned char ch = (unsigned char)p[i];
        unsigned d;

        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
            d = (ch | 0x20) - 'a' + 10;
        else
            return -1;
        x = x << 4 | d;
    }
    *v = x;
    return 0;
}

/* The \u escape at p, with the low half that must follow a high
 * surrogate. Returns its length (6 or 12), or 0 when it is invalid or
 * \u0000 (which cJSON would cut the string at). */
static size_t u_escape(const char *p, const char *end, unsigned *cp)
{
    unsigned hi, lo;

    if (end - p < 6 || hex4(p + 2, &hi) || hi == 0 ||
        (hi >= 0xDC00 && hi <= 0xDFFF))
        return 0;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = hi;
        return 6;
    }
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF)
        return 0;
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return 12;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Nonzero when one of the 8 bytes in x is '"', '\\' or below 0x20
 * (the classic "has zero byte" and "has byte less than" bit tricks). */
static uint64_t special8(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');

    return ((q - ONES) & ~q & HIGHS) | ((b - ONES) & ~b & HIGHS) |
           ((x - ONES * 0x20) & ~x & HIGHS);
}

/* The first byte at or after p that ends a plain run of string text:
 * 16 bytes per step with SSE2 (every x86-64 has it), then 8 with SWAR.
 * special8's lowest flag is exact (a false flag only follows a true one;
 * bytes load little-endian on the machines we build for, else the byte
 * loop finds it). */
static const char *plain_run(const char *p, const char *end)
{
    uint64_t x, m;

#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  ctl = _mm_set1_epi8(0x1F);

    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* min(v, 0x1F) == v: an unsigned byte below 0x20 */
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
            _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
        unsigned bits = (unsigned)_mm_movemask_epi8(hit);

        if (bits != 0)
            return p + __builtin_ctz(bits);
        p += 16;
    }
#endif
    while (end - p >= 8) {
        memcpy(&x, p, 8);
        if ((m = special8(x)) != 0) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(m) >> 3);
#else
            break;
#endif
        }
        p += 8;
    }
    while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
        p++;
    return p;
}

/* The string at c->p (a '"'): its raw text in *s, *n. Plain runs (no
 * quote, backslash or control byte) are skipped by plain_run. Inlined:
 * it runs for every key and value of every chunk. */
static inline __attribute__((always_inline)) int string(struct cur *c, const char **s, size_t *n, int *esc)
{
    const char *p = c->p + 1;
    unsigned cp;
    size_t k;

    *esc = 0;
    while ((p = plain_run(p, c->end)) < c->end) {
        unsigned char ch = (unsigned char)*p;

        if (ch == '"') {
            *s = c->p + 1;
            *n = (size_t)(p - *s);
            c->p = p + 1;
            return 0;
        }
        if (ch < 0x20)
            return -1;
        *esc = 1;
        if (p + 1 >= c->end)
            return -1;
        if (p[1] == 'u') {
            if ((k = u_escape(p, c->end, &cp)) == 0)
                return -1;
            p += k;
        } else if (p[1] != '\0' && strchr("\"\\/bfnrt", p[1]) != NULL) {
            p += 2;
        } else {
            return -1;
        }
    }
    return -1;
}

static int skip_string(struct cur *c)
{
    const char *s;
    size_t n;
    int esc;

    return string(c, &s, &n, &esc);
}

static int digits(struct cur *c)
{
    const char *p = c->p;

    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > p ? 0 : -1;
}

/* RFC 8259's number; longer than cJSON's 63-byte copy is not ours. */
static int number(struct cur *c)
{
    const char *start = c->p;

    if (at(c, '-'))
        c->p++;
    if (at(c, '0'))
        c->p++;
    else if (digits(c))
        return -1;
    if (at(c, '.')) {
        c->p++;
        if (digits(c))
            return -1;
    }
    if (at(c, 'e') || at(c, 'E')) {
        c->p++;
        if (at(c, '+') || at(c, '-'))
            c->p++;
        if (digits(c))
            return -1;
    }
    return c->p - start > 63 ? -1 : 0;
}

static int literal(struct cur *c, const char *w)
{
    size_t n = strlen(w);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

/* One member at c->p (its key): fn is called on its value. */
static int member(struct cur *c, member_fn fn, struct pick *pk)
{
    const char *k;
    size_t kn;
    int kesc;

    if (!at(c, '"') || string(c, &k, &kn, &kesc))
        return -1;
    ws(c);
    if (!at(c, ':'))
        return -1;
    c->p++;
    ws(c);
    return fn(c, k, kn, kesc, pk);
}

/* Enters the object or array at c->p: -1 when too deep, 1 when it
 * closes at once (and is left), 0 when a member or item follows. */
static int enter(struct cur *c, char close)
{
    if (++c->depth > DELTA_MAX_DEPTH)
        return -1;
    c->p++;
    ws(c);
    if (!at(c, close))
        return 0;
    c->p++;
    c->depth--;
    return 1;
}

static int leave(struct cur *c, char close)
{
    if (!at(c, close))
        return -1;
    c->p++;
    c->depth--;
    return 0;
}

/* After a member's value: the object's other members and its '}'. A
 * scan resumed from a memo (see delta_scan) starts here. */
static int object_rest(struct cur *c, member_fn fn, struct pick *pk)
{
    for (;;) {
        ws(c);
        if (!at(c, ','))
            break;
        c->p++;
        ws(c);
        if (member(c, fn, pk))
            return -1;
    }
    return leave(c, '}');
}

/* Walks the object at c->p; fn is called on each member's value. */
static int object(struct cur *c, member_fn fn, struct pick *pk)
{
    int e = enter(c, '}');

    if (e != 0)
        return e < 0 ? -1 : 0;
    return member(c, fn, pk) ? -1 : object_rest(c, fn, pk);
}

/* After item i-1: the array's other items and its ']'. */
static int array_rest(struct cur *c, item_fn fn, struct pick *pk, int i)
{
    for (;; i++) {
        ws(c);
        if (!at(c, ','))
            break;
        c->p++;
        ws(c);
        if (fn(c, i, pk))
            return -1;
    }
    return leave(c, ']');
}

static int array(struct cur *c, item_fn fn, struct pick *pk)
{
    int e = enter(c, ']');

    if (e != 0)
        return e < 0 ? -1 : 0;
    return fn(c, 0, pk) ? -1 : array_rest(c, fn, pk, 1);
}

static int skip_member(struct cur *c, const char *k, size_t kn, int kesc,
                       struct pick *pk)
{
    (void)k, (void)kn, (void)kesc, (void)pk;
    return skip_value(c);
}

static int skip_item(struct cur *c, int index, struct pick *pk)
{
    (void)index, (void)pk;
    return skip_value(c);
}

static int skip_value(struct cur *c)
{
    if (c->p >= c->end)
        return -1;
    switch (*c->p) {
    case '{':
        return object(c, skip_member, NULL);
    case '[':
        return array(c, skip_item, NULL);
    case '"':
        return skip_string(c);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        return number(c);
    }
}

/* The first member named name, once: 1 when this is it. */
static int first(struct pick *pk, unsigned bit, const char *k, size_t kn,
                 const char *name)
{
    if (kn != strlen(name) || memcmp(k, name, kn) != 0 || (pk->seen & bit))
        return 0;
    pk->seen |= bit;
    return 1;
}

static int delta_member(struct cur *c, const char *k, size_t kn, int kesc,
                        struct pick *pk)
{
    const char *s;
    size_t n;
    int esc;

    if (kesc)
        return -1;
    if (first(pk, SEEN_CONTENT, k, kn, "content") && at(c, '"'))
        return string(c, &pk->d->content, &pk->d->content_len,
                      &pk->d->escaped);
    if (first(pk, SEEN_REASONING, k, kn, "reasoning_content") && at(c, '"'))
        return string(c, &s, &n, &esc) || n > 0 ? -1 : 0;
    if (first(pk, SEEN_REFUSAL, k, kn, "refusal") && at(c, '"'))
        return string(c, &s, &n, &esc) || n > 0 ? -1 : 0;
    return skip_value(c);
}

static int delta_value(struct cur *c, struct pick *pk)
{
    if (at(c, '{'))
        return object(c, delta_member, pk);
    return literal(c, "null");
}

static int choice_member(struct cur *c, const char *k, size_t kn, int kesc,
                         struct pick *pk)
{
    const char *s;
    size_t n;
    int esc;

    if (kesc)
        return -1;
    if (first(pk, SEEN_DELTA, k, kn, "delta")) {
        pk->mark = c->p;
        pk->mark_seen = pk->seen;
        return delta_value(c, pk);
    }
    if (first(pk, SEEN_FINISH, k, kn, "finish_reason") && at(c, '"'))
        return string(c, &s, &n, &esc) || esc ||
                       (n == 14 && memcmp(s, "content_filter", 14) == 0)
                   ? -1
                   : 0;
    return skip_value(c);
}

static int choice_item(struct cur *c, int index, struct pick *pk)
{
    if (index > 0)
        return skip_value(c);
    return at(c, '{') ? object(c, choice_member, pk) : -1;
}

static int top_member(struct cur *c, const char *k, size_t kn, int kesc,
                      struct pick *pk)
{
    if (kesc || (kn == 5 && memcmp(k, "error", 5) == 0))
        return -1;
    if (first(pk, SEEN_CHOICES, k, kn, "choices"))
        return at(c, '[') ? array(c, choice_item, pk) : -1;
    return skip_value(c);
}

/* The nesting at the mark: the top object, "choices", its first item. */
#define MARK_DEPTH 3

/* From the mark on: the delta's value, then the rest of the choice, of
 * "choices" and of the top object, as the full scan's calls would go on
 * after it. The full scan's mark follows the blanks after the colon; a
 * chunk may have more of them there than the memo's (fuzz_delta found
 * `"delta": {` after a memo of `"delta":{`), so they are skipped first. */
static int resume(struct cur *c, struct pick *pk)
{
    ws(c);
    return delta_value(c, pk) || object_rest(c, choice_member, pk) ||
           array_rest(c, choice_item, pk, 1) ||
           object_rest(c, top_member, pk);
}

static void remember(struct delta_memo *m, const char *s, size_t n,
                     unsigned seen)
{
    if (n > m->cap) {
        char *p = realloc(m->prefix, n);

        if (p == NULL) { /* no memo: the next scans run in full */
            delta_memo_free(m);
            return;
        }
        m->prefix = p;
        m->cap = n;
    }
    memcpy(m->prefix, s, n);
    m->n = n;
    m->seen = seen;
}

int delta_scan(const char *s, size_t n, struct delta *d, struct delta_memo *m)
{
    struct cur c = { s, s + n, 0 };
    struct pick pk = { d, 0, NULL, 0 };
    int hit = m != NULL && m->n > 0 && n > m->n &&
              memcmp(s, m->prefix, m->n) == 0;

    memset(d, 0, sizeof(*d));
    if (hit) {
        c.p = s + m->n;
        c.depth = MARK_DEPTH;
        pk.seen = m->seen;
        if (resume(&c, &pk))
            return DELTA_OTHER;
    } else {
        ws(&c);
        if (!at(&c, '{') || object(&c, top_member, &pk))
            return DELTA_OTHER;
    }
    ws(&c);
    if (c.p != c.end)
        return DELTA_OTHER;
    if (!hit && m != NULL && pk.mark != NULL &&
        (size_t)(pk.mark - s) <= DELTA_MEMO_MAX)
        remember(m, s, (size_t)(pk.mark - s), pk.mark_seen);
    return DELTA_OK;
}

void delta_memo_free(struct delta_memo *m)
{
    free(m->prefix);
    memset(m, 0, sizeof(*m));
}

static size_t utf8(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t delta_unescape(const char *s, size_t n, char *dst)
{
    static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
    const char *end = s + n, *bs;
    size_t o = 0;
    unsigned cp;

    while (s < end) {
        bs = memchr(s, '\\', (size_t)(end - s));
        if (bs == NULL)
            bs = end;
        memcpy(dst + o, s, (size_t)(bs - s));
        o += (size_t)(bs - s);
        if ((s = bs) == end)
            break;
        if (s[1] == 'u') {
            size_t k = u_escape(s, end, &cp);

            /* The scan accepted every \u escape, so u_escape set cp. */
            o += utf8(cp, dst + o); // NOLINT(clang-analyzer-core.CallAndMessage)
            s += k;
            continue;
        }
        const char *f = strchr(from, s[1]);
        dst[o++] = f != NULL ? to[f - from] : s[1];
        s += 2;
    }
    return o;
}
