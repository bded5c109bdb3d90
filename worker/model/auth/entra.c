/*
 * entra — the per-worker token cache and its one-request-per-scope
 * refresh (see entra.h; the wire format is entra_wire.c).
 */
#include "worker/model/auth/entra.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "worker/apptimer.h"
#include "worker/model/auth/entra_wire.h"
#include "worker/fetch/fetch.h"

#define ANSWER_MAX (64 * 1024)
#define ASSERTION_MAX (64 * 1024)
#define RETRY_MAX_MS 30000

/* Circular list with a head node, so a waiter can leave whichever list
 * holds it (its scope's, or a batch being called back). */
struct wq {
    struct wq *prev, *next;
};

struct entra_wait {
    struct wq link; /* first: a struct wq * is the waiter */
    entra_cb cb;
    void *arg;
};

struct scope {
    struct scope *next;
    struct entra *e;
    char *name;
    char *token;
    long long got_ms, refresh_ms, usable_ms, retry_ms;
    struct fetch *f; /* the one token request in flight */
    int status;
    char *answer;
    size_t answer_len;
    struct wq waiters;
    struct app_timer *kick; /* delivers to waiters from the loop */
    char err[400];
};

struct entra {
    int refs;
    struct entra_cred cred;
    struct scope *scopes;
};

static struct entra *the_entra;

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wq_unlink(struct wq *q)
{
    q->prev->next = q->next;
    q->next->prev = q->prev;
    q->prev = q->next = q;
}

static void wq_push(struct wq *head, struct wq *q)
{
    q->prev = head->prev;
    q->next = head;
    head->prev->next = q;
    head->prev = q;
}

static int usable(const struct scope *s, long long now)
{
    return s->token && now < s->usable_ms;
}

/* Calls every waiter queued now; waiters queued meanwhile wait on. */
static void flush(struct scope *s, const char *token, const char *err)
{
    struct wq batch = { &batch, &batch };

    if (s->waiters.next == &s->waiters)
        return;
    batch.next = s->waiters.next;
    batch.prev = s->waiters.prev;
    batch.next->prev = batch.prev->next = &batch;
    s->waiters.next = s->waiters.prev = &s->waiters;
    while (batch.next != &batch) {
        struct entra_wait *w = (struct entra_wait *)batch.next;
        wq_unlink(&w->link);
        w->cb(token, err, w->arg);
        free(w);
    }
}

/* Records and logs a failure; the caller delivers it to the waiters. */
static void fail(struct scope *s, const char *why)
{
    long long now = now_ms();
    long long wait = s->token && s->usable_ms > now ? (s->usable_ms - now) / 2
                                                    : RETRY_MAX_MS;

    snprintf(s->err, sizeof(s->err), "could not get an Entra ID token: %s: "
                                     "%s",
             entra_kind_name(s->e->cred.kind), why);
    log_warn("entra: %s (scope %s)", s->err, s->name);
    s->retry_ms = now + (wait < RETRY_MAX_MS ? wait : RETRY_MAX_MS);
}

static void on_headers(struct fetch *f, int status, void *arg)
{
    struct scope *s = arg;
    (void)f;
    s->status = status;
}

static void on_data(struct fetch *f, const char *p, size_t n, void *arg)
{
    struct scope *s = arg;
    char *a;
    (void)f;

    if (s->answer_len + n > ANSWER_MAX ||
        !(a = realloc(s->answer, s->answer_len + n + 1)))
        return; /* the parse will say it is malformed */
    memcpy(a + s->answer_len, p, n);
    s->answer_len += n;
    a[s->answer_len] = '\0';
    s->answer = a;
}

static void on_done(struct fetch *f, const struct fetch_result *r, void *arg)
{
    struct scope *s = arg;
    struct entra_token t;
    char why[320];
    long long now = now_ms();
    int rc = -1;
    (void)f;

    s->f = NULL;
    if (r->rc == FETCH_OK || r->rc == FETCH_EHTTP)
        rc = entra_parse(s->status, s->answer ? s->answer : "", s->answer_len,
                         now, &t, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "the token endpoint: %s", r->msg);
    free(s->answer);
    s->answer = NULL;
    s->answer_len = 0;
    if (rc < 0) {
        fail(s, why);
        flush(s, NULL, s->err);
        return;
    }
    free(s->token);
    s->token = t.access_token;
    s->got_ms = now;
    s->refresh_ms = entra_refresh_at(now, t.expires_ms);
    s->usable_ms = entra_usable_until(now, t.expires_ms);
    s->retry_ms = 0;
    log_debug("entra: token for %s from %s, expires in %lld s", s->name,
              entra_kind_name(s->e->cred.kind), (t.expires_ms - now) / 1000);
    flush(s, s->token, NULL);
}

static const struct fetch_cbs token_cbs = { on_headers, on_data, on_done };

/* The federated token, trailing blanks trimmed; NULL with why set. */
static char *read_assertion(const char *path, char *why, size_t n)
{
    FILE *fp = fopen(path, "r");
    char *buf = fp ? malloc(ASSERTION_MAX + 1) : NULL;
    size_t len = buf ? fread(buf, 1, ASSERTION_MAX, fp) : 0;

    if (!fp || !buf || ferror(fp) || len == 0) {
        snprintf(why, n, "cannot read AZURE_FEDERATED_TOKEN_FILE %s: %s", path,
                 !fp ? strerror(errno) : len == 0 ? "empty"
                                                  : "read error");
        free(buf);
        buf = NULL;
    } else {
        while (len > 0 && strchr(" \t\r\n", buf[len - 1]))
            len--;
        buf[len] = '\0';
    }
    if (fp)
        fclose(fp);
    return buf;
}

/* Starts the scope's token request. Returns -1 (with s->err set and the
 * failure logged) when it cannot be made. */
static int start(struct scope *s)
{
    struct entra_cred *c = &s->e->cred;
    char why[320] = "out of memory", *assertion = NULL;
    struct entra_http h = { 0 };

    if (c->kind == ENTRA_WORKLOAD &&
        !(assertion = read_assertion(c->token_file, why, sizeof(why)))) {
        fail(s, why);
        return -1;
    }
    if (entra_http_build(c, s->name, assertion, &h) == 0) {
        const char *hdrs[] = { h.header, "Accept: application/json", NULL };
        struct fetch_req req = {
            .method = h.body ? "POST" : "GET",
            .url = h.url,
            .headers = hdrs,
            .body = h.body,
            .body_len = h.body ? strlen(h.body) : 0,
            .body_free = h.body ? free : NULL,
            .first_byte_ms = ENTRA_TIMEOUT_MS,
            .total_ms = ENTRA_TIMEOUT_MS,
        };
        h.body = NULL; /* fetch owns it now, even on failure */
        s->status = 0;
        s->f = fetch_start(&req, &token_cbs, s);
        if (!s->f)
            snprintf(why, sizeof(why), "cannot start a request to %s", h.url);
    }
    free(assertion);
    entra_http_free(&h);
    if (!s->f)
        fail(s, why);
    return s->f ? 0 : -1;
}

static void on_kick(void *arg)
{
    struct scope *s = arg;

    if (usable(s, now_ms()))
        flush(s, s->token, NULL);
    else if (!s->f)
        flush(s, NULL, s->err);
}

static struct scope *scope_get(struct entra *e, const char *name)
{
    struct scope *s;

    for (s = e->scopes; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    if (!(s = calloc(1, sizeof(*s))))
        return NULL;
    s->e = e;
    s->name = strdup(name);
    s->kick = app_timer_new(on_kick, s);
    s->waiters.prev = s->waiters.next = &s->waiters;
    if (!s->name || !s->kick) {
        app_timer_free(s->kick);
        free(s->name);
        free(s);
        return NULL;
    }
    s->next = e->scopes;
    e->scopes = s;
    return s;
}

static void scope_free(struct scope *s)
{
    if (s->f)
        fetch_cancel(s->f);
    while (s->waiters.next != &s->waiters) {
        struct wq *q = s->waiters.next;
        /* The analyzer loses track of the ring: unlink takes q out. */
        wq_unlink(q); // NOLINT(clang-analyzer-unix.Malloc)
        free(q);
    }
    app_timer_free(s->kick);
    free(s->answer);
    free(s->token);
    free(s->name);
    free(s);
}

struct entra *entra_open(const struct cfg *c, char *err, size_t errlen)
{
    struct entra_cred cred;

    if (the_entra) {
        the_entra->refs++;
        return the_entra;
    }
    if (entra_cred_from_cfg(c, &cred, err, errlen) < 0)
        return NULL;
    if (!(the_entra = calloc(1, sizeof(*the_entra)))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    the_entra->refs = 1;
    the_entra->cred = cred;
    return the_entra;
}

void entra_close(struct entra *e)
{
    if (!e || --e->refs > 0)
        return;
    while (e->scopes) {
        struct scope *s = e->scopes;
        e->scopes = s->next;
        scope_free(s);
    }
    free(e);
    the_entra = NULL;
}

const char *entra_source(const struct entra *e)
{
    return entra_kind_name(e->cred.kind);
}

const char *entra_peek(struct entra *e, const char *scope)
{
    struct scope *s = scope_get(e, scope);
    long long now = now_ms();

    if (!s || !usable(s, now))
        return NULL;
    if (now >= s->refresh_ms && now >= s->retry_ms && !s->f)
        start(s); /* in the background; failures are logged */
    return s->token;
}

struct entra_wait *entra_get(struct entra *e, const char *scope, entra_cb cb,
                             void *arg)
{
    struct scope *s = scope_get(e, scope);
    struct entra_wait *w = s ? calloc(1, sizeof(*w)) : NULL;

    if (!w)
        return NULL;
    w->cb = cb;
    w->arg = arg;
    wq_push(&s->waiters, &w->link);
    if (usable(s, now_ms()) || (!s->f && start(s) < 0))
        app_timer_after(s->kick, 0);
    return w;
}

void entra_cancel(struct entra_wait *w)
{
    wq_unlink(&w->link);
    free(w);
}
