/*
 * followup — the demo's follow-up questions: with
 * suggest_followup_questions the model ends its answer with
 * "<<question>>" items; they are cut out of the answer's text and given
 * apart, as the sample's chatreadretrieveread.py does: everything from
 * the first "<<" on is the follow-ups' part (the answer is what comes
 * before), and the questions are the "<<...>>" items in that part
 * (re.findall(r"<<([^>>]+)>>")).
 *
 * Streaming, the "<<" may come split across two deltas ("...<" then
 * "<Q1>>"): a trailing "<" is held back until the next delta tells.
 *
 *   followup_feed(&f, delta, n, emit, arg)    answer text goes to emit
 *   followup_finish(&f, emit, arg)            a held "<" that was text
 *   followup_questions(&f)                    the items, or NULL: none
 *
 * Ownership: struct followup owns the follow-ups' part it collected
 * (followup_free); followup_questions returns a cJSON array the caller
 * deletes.
 */
#ifndef LLMFORK_FOLLOWUP_H
#define LLMFORK_FOLLOWUP_H

#include <stddef.h>

struct cJSON;

struct followup {
    char *tail; /* from the first "<<" on, or NULL */
    size_t len, cap;
    unsigned held : 1;   /* a "<" ended the last delta */
    unsigned failed : 1; /* out of memory: the rest is dropped */
};

typedef void (*followup_emit)(void *arg, const char *p, size_t n);

void followup_feed(struct followup *f, const char *p, size_t n,
                   followup_emit emit, void *arg);
void followup_finish(struct followup *f, followup_emit emit, void *arg);
void followup_free(struct followup *f);

/* Whether any follow-ups' part was seen. */
int followup_started(const struct followup *f);

/* The "<<...>>" items of the part seen, as strings; an empty array when
 * the part has none; NULL when out of memory. */
struct cJSON *followup_questions(const struct followup *f);

#endif
