/* followup — "<<question>>" items cut out of an answer (followup.h). */
#include "worker/apps/chat/followup.h"

#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

static void keep(struct followup *f, const char *p, size_t n)
{
    if (f->failed)
        return;
    if (f->len + n + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        char *t;

        while (cap < f->len + n + 1)
            cap *= 2;
        if (!(t = realloc(f->tail, cap))) {
            f->failed = 1;
            return;
        }
        f->tail = t;
        f->cap = cap;
    }
    memcpy(f->tail + f->len, p, n);
    f->len += n;
    f->tail[f->len] = '\0';
}

int followup_started(const struct followup *f)
{
    return f->tail != NULL || f->failed;
}

void followup_feed(struct followup *f, const char *p, size_t n,
                   followup_emit emit, void *arg)
{
    size_t i;

    if (followup_started(f)) {
        keep(f, p, n);
        return;
    }
    if (n == 0)
        return;
    if (f->held) {
        f->held = 0;
        if (p[0] == '<') {
            keep(f, "<", 1);
            keep(f, p, n);
            return;
        }
        emit(arg, "<", 1);
    }
    for (i = 0; i + 1 < n; i++)
        if (p[i] == '<' && p[i + 1] == '<')
            break;
    if (i + 1 < n) {
        if (i)
            emit(arg, p, i);
        keep(f, p + i, n - i);
        return;
    }
    f->held = p[n - 1] == '<';
    if (n - f->held)
        emit(arg, p, n - f->held);
}

void followup_finish(struct followup *f, followup_emit emit, void *arg)
{
    if (f->held)
        emit(arg, "<", 1);
    f->held = 0;
}

void followup_free(struct followup *f)
{
    free(f->tail);
    memset(f, 0, sizeof(*f));
}

cJSON *followup_questions(const struct followup *f)
{
    cJSON *a = cJSON_CreateArray();
    const char *p = f->tail;

    /* r"<<([^>>]+)>>": "<<", one or more characters but '>', ">>" */
    while (a && p && (p = strstr(p, "<<"))) {
        size_t n = strcspn(p + 2, ">");

        if (n > 0 && p[2 + n] == '>' && p[3 + n] == '>') {
            char *q = strndup(p + 2, n);
            cJSON *s = q ? cJSON_CreateString(q) : NULL;

            free(q);
            if (!s || !cJSON_AddItemToArray(a, s)) {
                cJSON_Delete(s);
                cJSON_Delete(a);
                return NULL;
            }
            p += 4 + n;
        } else {
            p += 1; /* re.findall tries the next position */
        }
    }
    return a;
}
