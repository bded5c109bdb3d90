/* pgpool — libpq connections on the worker's loop (pgpool.h). */
#include "worker/pg/pgpool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "common/cfg.h"
#include "common/log.h"
#include "worker/model/auth/entra.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

enum slot_state { S_DOWN,
                  S_TOKEN,
                  S_CONNECTING,
                  S_IDLE,
                  S_BUSY };

struct pgq {
    struct pgpool *p;
    struct pgq *next;    /* the queue */
    struct pgslot *slot; /* running there, else NULL */
    char *sql;
    int n;
    char *params[PGPOOL_MAX_PARAMS];
    pgq_cb cb; /* NULL once cancelled */
    void *arg;
};

struct pgslot {
    struct pgpool *p;
    PGconn *conn;
    enum slot_state state;
    struct event io;
    struct event timer; /* backoff, or the connect deadline */
    unsigned io_set : 1;
    unsigned was_up : 1; /* for the log: lost, not refused */
    int backoff_ms;
    struct pgq *q; /* the running query (cb NULL: cancelled) */
    PGresult *res; /* its first result */
    struct entra_wait *w;
};

struct pgpool {
    const struct cfg *cfg;
    struct event_base *base; /* pgpool__loop when made */
    struct entra *entra;
    struct pgslot *slots;
    int nslots;
    struct pgq *head, *tail;
    int queued;
    char options[64];
    char last_err[256];
};

static void slot_connect(struct pgslot *s);
static void dispatch(struct pgpool *p);

/* ---- queries ------------------------------------------------------------ */

static void pgq_free(struct pgq *q)
{
    free(q->sql);
    for (int i = 0; i < q->n; i++)
        free(q->params[i]);
    free(q);
}

static void deliver(struct pgq *q, const PGresult *res, int status,
                    const char *msg)
{
    if (q->cb)
        q->cb(q->arg, res, status, msg);
    pgq_free(q);
}

/* The status for the client of a failed statement. */
static int error_status(const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    if (!state)
        return 503;
    if (!strcmp(state, "57014")) /* query_canceled: statement_timeout */
        return 504;
    if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3))
        return 503; /* connection, shutdown, terminated */
    return 502;
}

static void finish_query(struct pgslot *s)
{
    struct pgq *q = s->q;
    PGresult *res = s->res;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    s->q = NULL;
    s->res = NULL;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        deliver(q, res, 200, NULL);
    } else {
        const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                            : NULL;
        char msg[300];

        snprintf(msg, sizeof(msg), "the database: %s",
                 m ? m : "no result");
        deliver(q, NULL, res ? error_status(res) : 502, msg);
    }
    PQclear(res);
}

/* ---- connections -------------------------------------------------------- */

static void watch(struct pgslot *s, short what);
static void slot_down(struct pgslot *s, const char *why);

static int slots_alive(const struct pgpool *p)
{
    int n = 0;

    for (int i = 0; i < p->nslots; i++)
        n += p->slots[i].state != S_DOWN;
    return n;
}

/* Fails every queued query: no connection can take them. */
static void fail_queue(struct pgpool *p)
{
    char msg[300];

    snprintf(msg, sizeof(msg), "the database is unreachable: %s", p->last_err);
    while (p->head) {
        struct pgq *q = p->head;

        p->head = q->next;
        p->queued--;
        deliver(q, NULL, 503, msg);
    }
    p->tail = NULL;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pgslot *s = arg;
    (void)fd;
    (void)what;

    if (s->state == S_DOWN)
        slot_connect(s);
    else if (s->state == S_CONNECTING)
        slot_down(s, "timed out connecting");
}

/* The connection is gone or was refused: the running query fails, and
 * another connection is tried after the backoff. */
static void slot_down(struct pgslot *s, const char *why)
{
    struct pgpool *p = s->p;
    char msg[300];
    size_t n;

    snprintf(p->last_err, sizeof(p->last_err), "%s", why && *why ? why : "connection closed");
    n = strlen(p->last_err);
    while (n > 0 && (p->last_err[n - 1] == '\n' || p->last_err[n - 1] == ' '))
        p->last_err[--n] = '\0';
    if (s->was_up)
        log_warn("postgres: connection lost: %s", p->last_err);
    else
        log_warn("postgres: cannot connect: %s", p->last_err);
    if (s->io_set)
        event_del(&s->io);
    s->io_set = 0;
    evtimer_del(&s->timer);
    PQclear(s->res);
    s->res = NULL;
    if (s->q) {
        struct pgq *q = s->q;

        s->q = NULL;
        snprintf(msg, sizeof(msg), "the database connection was lost: %s",
                 p->last_err);
        deliver(q, NULL, 503, msg);
    }
    PQfinish(s->conn);
    s->conn = NULL;
    s->state = S_DOWN;
    s->was_up = 0;
    struct timeval tv = { s->backoff_ms / 1000, (s->backoff_ms % 1000) * 1000 };
    evtimer_add(&s->timer, &tv);
    if (s->backoff_ms < BACKOFF_MAX_MS)
        s->backoff_ms *= 2;
    if (!slots_alive(p))
        fail_queue(p);
}

static void slot_up(struct pgslot *s)
{
    if (PQsetnonblocking(s->conn, 1) != 0) {
        slot_down(s, PQerrorMessage(s->conn));
        return;
    }
    evtimer_del(&s->timer);
    s->state = S_IDLE;
    s->was_up = 1;
    s->backoff_ms = BACKOFF_MIN_MS;
    log_debug("postgres: connected (pid %d)", PQbackendPID(s->conn));
    watch(s, EV_READ | EV_PERSIST);
    dispatch(s->p);
}

/* Reads what the server sent; the query's results when it has them all. */
static void slot_read(struct pgslot *s)
{
    if (!PQconsumeInput(s->conn)) {
        slot_down(s, PQerrorMessage(s->conn));
        return;
    }
    for (PGnotify *nf; (nf = PQnotifies(s->conn));)
        PQfreemem(nf);
    while (s->state == S_BUSY && !PQisBusy(s->conn)) {
        PGresult *r = PQgetResult(s->conn);

        if (!r) {
            finish_query(s);
            if (PQstatus(s->conn) == CONNECTION_BAD) {
                slot_down(s, PQerrorMessage(s->conn));
                return;
            }
            s->state = S_IDLE;
            dispatch(s->p);
            return;
        }
        if (!s->res)
            s->res = r;
        else
            PQclear(r);
    }
    if (s->state == S_IDLE && PQstatus(s->conn) == CONNECTION_BAD)
        slot_down(s, PQerrorMessage(s->conn));
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    struct pgslot *s = arg;
    (void)fd;

    if (s->state == S_CONNECTING) {
        switch (PQconnectPoll(s->conn)) {
        case PGRES_POLLING_READING:
            watch(s, EV_READ);
            return;
        case PGRES_POLLING_WRITING:
            watch(s, EV_WRITE);
            return;
        case PGRES_POLLING_OK:
            slot_up(s);
            return;
        default:
            slot_down(s, PQerrorMessage(s->conn));
            return;
        }
    }
    if (what & EV_WRITE) {
        int f = PQflush(s->conn);

        if (f < 0) {
            slot_down(s, PQerrorMessage(s->conn));
            return;
        }
        if (f == 0)
            watch(s, EV_READ | EV_PERSIST);
    }
    if (what & EV_READ)
        slot_read(s);
}

/* Watches the connection's socket (which PQconnectPoll may change). */
static void watch(struct pgslot *s, short what)
{
    if (s->io_set)
        event_del(&s->io);
    event_assign(&s->io, s->p->base, PQsocket(s->conn), what, on_io, s);
    s->io_set = 1;
    event_add(&s->io, NULL);
}

static void connect_with(struct pgslot *s, const char *password)
{
    const struct cfg *c = s->p->cfg;
    char port[16];
    const char *keys[] = { "host", "port", "user", "dbname", "password",
                           "sslmode", "options", "application_name", NULL };
    const char *vals[] = { c->postgres_host, port, c->postgres_username,
                           c->postgres_database, password, c->postgres_ssl,
                           s->p->options, "llmfork", NULL };

    snprintf(port, sizeof(port), "%d", c->postgres_port);
    s->conn = PQconnectStartParams(keys, vals, 0);
    if (!s->conn || PQstatus(s->conn) == CONNECTION_BAD) {
        slot_down(s, s->conn ? PQerrorMessage(s->conn) : "out of memory");
        return;
    }
    s->state = S_CONNECTING;
    watch(s, EV_WRITE);
    struct timeval tv = { c->connect_timeout > 0 ? c->connect_timeout : 10, 0 };
    evtimer_add(&s->timer, &tv);
}

static void on_token(const char *token, const char *err, void *arg)
{
    struct pgslot *s = arg;

    s->w = NULL;
    if (!token) {
        char why[300];

        snprintf(why, sizeof(why), "could not get an Entra ID token: %s", err);
        slot_down(s, why);
        return;
    }
    connect_with(s, token);
}

static void slot_connect(struct pgslot *s)
{
    const struct cfg *c = s->p->cfg;
    const char *tok;

    if (c->postgres_password || !s->p->entra) {
        connect_with(s, c->postgres_password);
        return;
    }
    if ((tok = entra_peek(s->p->entra, ENTRA_SCOPE_POSTGRES))) {
        connect_with(s, tok);
        return;
    }
    s->state = S_TOKEN;
    if (!(s->w = entra_get(s->p->entra, ENTRA_SCOPE_POSTGRES, on_token, s)))
        slot_down(s, "out of memory");
}

/* ---- the pool ----------------------------------------------------------- */

static void send_query(struct pgslot *s, struct pgq *q)
{
    int f;

    s->q = q;
    q->slot = s;
    s->state = S_BUSY;
    if (!PQsendQueryParams(s->conn, q->sql, q->n, NULL,
                           (const char *const *)q->params, NULL, NULL, 0)) {
        slot_down(s, PQerrorMessage(s->conn));
        return;
    }
    if ((f = PQflush(s->conn)) < 0)
        slot_down(s, PQerrorMessage(s->conn));
    else if (f == 1)
        watch(s, EV_READ | EV_WRITE | EV_PERSIST);
}

static void dispatch(struct pgpool *p)
{
    for (int i = 0; i < p->nslots && p->head; i++) {
        struct pgslot *s = &p->slots[i];
        struct pgq *q;

        if (s->state != S_IDLE)
            continue;
        q = p->head;
        if (!(p->head = q->next))
            p->tail = NULL;
        p->queued--;
        q->next = NULL;
        send_query(s, q);
    }
}

static struct event_base *pgpool__loop;

void pgpool_loop(struct event_base *base)
{
    pgpool__loop = base;
}

struct pgpool *pgpool_new(const struct cfg *c, struct entra *entra,
                          char *err, size_t errlen)
{
    struct pgpool *p;

    if (!pgpool__loop) {
        entra_close(entra);
        return snprintf(err, errlen, "pgpool: no loop"), NULL;
    }
    if (!c->postgres_host || !*c->postgres_host) {
        entra_close(entra);
        return snprintf(err, errlen, "rag = postgres needs postgres_host"
                                     " (POSTGRES_HOST)"),
               NULL;
    }
    if (!(p = calloc(1, sizeof(*p))) ||
        !(p->slots = calloc((size_t)c->postgres_pool_size, sizeof(*p->slots)))) {
        free(p);
        entra_close(entra);
        return snprintf(err, errlen, "out of memory"), NULL;
    }
    p->cfg = c;
    p->base = pgpool__loop;
    p->entra = entra;
    p->nslots = c->postgres_pool_size;
    snprintf(p->options, sizeof(p->options), "-c statement_timeout=%d",
             c->postgres_statement_timeout * 1000);
    for (int i = 0; i < p->nslots; i++) {
        struct pgslot *s = &p->slots[i];

        s->p = p;
        s->backoff_ms = BACKOFF_MIN_MS;
        evtimer_assign(&s->timer, p->base, on_timer, s);
        slot_connect(s);
    }
    return p;
}

void pgpool_free(struct pgpool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nslots; i++) {
        struct pgslot *s = &p->slots[i];

        if (s->io_set)
            event_del(&s->io);
        evtimer_del(&s->timer);
        if (s->w)
            entra_cancel(s->w);
        if (s->q)
            pgq_free(s->q);
        PQclear(s->res);
        PQfinish(s->conn);
    }
    while (p->head) {
        struct pgq *q = p->head;

        p->head = q->next;
        pgq_free(q);
    }
    entra_close(p->entra);
    free(p->slots);
    free(p);
}

struct pgq *pgpool_query(struct pgpool *p, const char *sql, int n,
                         const char *const *params, pgq_cb cb, void *arg)
{
    struct pgq *q;

    if (n > PGPOOL_MAX_PARAMS || p->queued >= PGPOOL_QUEUE_MAX ||
        !(q = calloc(1, sizeof(*q))))
        return NULL;
    q->p = p;
    q->cb = cb;
    q->arg = arg;
    q->sql = strdup(sql);
    for (int i = 0; i < n; i++, q->n++)
        if (params[i] && !(q->params[i] = strdup(params[i])))
            break;
    if (!q->sql || q->n < n) {
        pgq_free(q);
        return NULL;
    }
    if (p->tail)
        p->tail->next = q;
    else
        p->head = q;
    p->tail = q;
    p->queued++;
    /* With every connection down the query waits for the next attempt
     * (at most BACKOFF_MAX_MS away), and fails when that one fails. */
    dispatch(p);
    return q;
}

/* The cancel request's own connection, on a thread: PQcancel blocks. */
static void *cancel_thread(void *arg)
{
    PGcancel *c = arg;
    char err[256];

    if (!PQcancel(c, err, sizeof(err)))
        log_warn("postgres: cancel request failed: %s", err);
    PQfreeCancel(c);
    return NULL;
}

void pgpool_cancel(struct pgq *q)
{
    struct pgpool *p = q->p;
    struct pgslot *s = q->slot;

    if (!s) {
        struct pgq **pp = &p->head, *prev = NULL;

        for (; *pp && *pp != q; prev = *pp, pp = &(*pp)->next)
            ;
        if (*pp) {
            *pp = q->next;
            if (p->tail == q)
                p->tail = prev;
            p->queued--;
        }
        pgq_free(q);
        return;
    }
    /* Still the slot's until its results are drained. */
    q->cb = NULL;
    PGcancel *c = PQgetCancel(s->conn);
    pthread_t t;
    pthread_attr_t a;

    if (!c)
        return;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, cancel_thread, c) != 0) {
        log_warn("postgres: cannot start the cancel request's thread");
        PQfreeCancel(c);
    }
    pthread_attr_destroy(&a);
}

int pgpool_ready(const struct pgpool *p)
{
    int n = 0;

    for (int i = 0; i < p->nslots; i++)
        n += p->slots[i].state == S_IDLE || p->slots[i].state == S_BUSY;
    return n;
}
