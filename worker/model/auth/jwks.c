/* jwks — the tenant's signing keys, fetched and cached (see jwks.h). */
#include "worker/model/auth/jwks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/str.h"
#include "worker/fetch/fetch.h"
#include "worker/model/auth/jwt.h"

struct jwks_key {
    char *kid;
    EVP_PKEY *key;
};

struct jwks_wait {
    struct jwks_wait *prev, *next; /* in a circular list with a head */
    jwks_cb cb;
    void *arg;
};

struct jwks {
    char *url;
    struct jwks_key *keys;
    int nkeys;
    int loaded;
    time_t got;   /* last good fetch */
    time_t tried; /* last fetch started */
    struct fetch *f;
    struct str_buf body;      /* the reply being read */
    struct jwks_wait waiters; /* head */
    char err[300];
};

static time_t jwks__now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void jwks__unlink(struct jwks_wait *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->prev = w->next = w;
}

static void jwks__drop_keys(struct jwks_key *keys, int n)
{
    for (int i = 0; i < n; i++) {
        free(keys[i].kid);
        EVP_PKEY_free(keys[i].key);
    }
    free(keys);
}

struct jwks *jwks_new(const char *url)
{
    struct jwks *k = calloc(1, sizeof(*k));

    if (!k || !(k->url = strdup(url))) {
        free(k);
        return NULL;
    }
    k->waiters.prev = k->waiters.next = &k->waiters;
    return k;
}

void jwks_free(struct jwks *k)
{
    if (!k)
        return;
    if (k->f)
        fetch_cancel(k->f);
    for (struct jwks_wait *w = k->waiters.next, *next; w != &k->waiters;
         w = next) {
        next = w->next;
        free(w);
    }
    str_buf_free(&k->body);
    jwks__drop_keys(k->keys, k->nkeys);
    free(k->url);
    free(k);
}

/* The RSA signing keys of a JWKS reply; -1 when it is not a key set. */
static int jwks__parse(const char *s, size_t len, struct jwks_key **out,
                       int *nout)
{
    cJSON *root = cJSON_ParseWithLength(s, len);
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(root, "keys"), *e;
    struct jwks_key *v = NULL;
    int n = 0;

    if (!cJSON_IsArray(keys)) {
        cJSON_Delete(root);
        return -1;
    }
    v = calloc((size_t)cJSON_GetArraySize(keys) + 1, sizeof(*v));
    cJSON_ArrayForEach(e, keys)
    {
        const cJSON *kty = cJSON_GetObjectItemCaseSensitive(e, "kty");
        const cJSON *kid = cJSON_GetObjectItemCaseSensitive(e, "kid");
        const cJSON *nn = cJSON_GetObjectItemCaseSensitive(e, "n");
        const cJSON *ee = cJSON_GetObjectItemCaseSensitive(e, "e");
        const cJSON *use = cJSON_GetObjectItemCaseSensitive(e, "use");
        EVP_PKEY *key;

        if (!v || !cJSON_IsString(kty) || strcmp(kty->valuestring, "RSA") ||
            !cJSON_IsString(kid) || !cJSON_IsString(nn) ||
            !cJSON_IsString(ee) ||
            (cJSON_IsString(use) && strcmp(use->valuestring, "sig")))
            continue;
        if (!(key = jwt_rsa_key(nn->valuestring, ee->valuestring)))
            continue;
        if (!(v[n].kid = strdup(kid->valuestring))) {
            EVP_PKEY_free(key);
            continue;
        }
        v[n++].key = key;
    }
    cJSON_Delete(root);
    if (!v)
        return -1;
    *out = v;
    *nout = n;
    return 0;
}

static void jwks__on_data(struct fetch *f, const char *p, size_t n, void *arg)
{
    struct jwks *k = arg;
    (void)f;

    if (k->body.len + n <= JWKS_BODY_MAX)
        str_buf_add(&k->body, p, n);
}

static void jwks__on_done(struct fetch *f, const struct fetch_result *res,
                          void *arg)
{
    struct jwks *k = arg;
    struct jwks_wait batch = { &batch, &batch, NULL, NULL };
    struct jwks_key *keys;
    int n;
    (void)f;

    k->f = NULL;
    if (res->rc != FETCH_OK)
        snprintf(k->err, sizeof(k->err), "%s: %s", k->url, res->msg);
    else if (k->body.oom)
        snprintf(k->err, sizeof(k->err), "%s: out of memory", k->url);
    else if (jwks__parse(str_buf_cstr(&k->body), k->body.len, &keys, &n) < 0)
        snprintf(k->err, sizeof(k->err), "%s: not a JSON Web Key Set",
                 k->url);
    else {
        jwks__drop_keys(k->keys, k->nkeys);
        k->keys = keys;
        k->nkeys = n;
        k->loaded = 1;
        k->got = jwks__now();
        k->err[0] = '\0';
        log_info("login: %d signing key%s from %s", n, n == 1 ? "" : "s",
                 k->url);
    }
    if (k->err[0])
        log_warn("login: the tenant's signing keys: %s", k->err);
    str_buf_free(&k->body);
    /* Waiters may look up again, or cancel one another: take them all
     * first, then call each one off the batch. */
    if (k->waiters.next != &k->waiters) {
        batch.next = k->waiters.next;
        batch.prev = k->waiters.prev;
        batch.next->prev = batch.prev->next = &batch;
        k->waiters.next = k->waiters.prev = &k->waiters;
    }
    while (batch.next != &batch) {
        struct jwks_wait *w = batch.next;
        jwks__unlink(w);
        w->cb(w->arg);
        free(w);
    }
}

static const struct fetch_cbs jwks_cbs = { NULL, jwks__on_data, jwks__on_done };

static int jwks__start(struct jwks *k)
{
    const char *hdrs[] = { "Accept: application/json", NULL };
    struct fetch_req req = {
        .method = "GET",
        .url = k->url,
        .headers = hdrs,
        .first_byte_ms = JWKS_TIMEOUT_MS,
        .total_ms = JWKS_TIMEOUT_MS,
    };

    k->tried = jwks__now();
    str_buf_reset(&k->body);
    if (!(k->f = fetch_start(&req, &jwks_cbs, k))) {
        snprintf(k->err, sizeof(k->err), "cannot start a request to %s",
                 k->url);
        return -1;
    }
    return 0;
}

static int jwks__may_fetch(const struct jwks *k)
{
    return !k->f && (k->tried == 0 ||
                     jwks__now() - k->tried >= JWKS_REFETCH_MIN_S);
}

int jwks_lookup(struct jwks *k, const char *kid, EVP_PKEY **key,
                jwks_cb cb, void *arg, struct jwks_wait **w)
{
    *key = NULL;
    *w = NULL;
    for (int i = 0; kid && i < k->nkeys; i++)
        if (strcmp(k->keys[i].kid, kid) == 0)
            *key = k->keys[i].key;
    if (*key) {
        if (jwks__now() - k->got >= JWKS_MAX_AGE_S && jwks__may_fetch(k))
            jwks__start(k); /* in the background; the old set serves */
        return 1;
    }
    if (!kid || (!k->f && !jwks__may_fetch(k)) || (!k->f && jwks__start(k)))
        return -1;
    if (!(*w = calloc(1, sizeof(**w))))
        return -1;
    (*w)->cb = cb;
    (*w)->arg = arg;
    (*w)->next = &k->waiters;
    (*w)->prev = k->waiters.prev;
    k->waiters.prev->next = *w;
    k->waiters.prev = *w;
    return 0;
}

void jwks_cancel(struct jwks_wait *w)
{
    jwks__unlink(w);
    free(w);
}

const char *jwks_error(const struct jwks *k)
{
    return k->err;
}

int jwks_loaded(const struct jwks *k)
{
    return k->loaded;
}
