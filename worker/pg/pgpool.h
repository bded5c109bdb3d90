/*
 * pgpool — a worker's PostgreSQL connections (libpq), asynchronous on the
 * worker's libevent loop: nothing here ever blocks the loop.
 *
 *  - pgpool_new opens postgres_pool_size connections with PQconnectStart /
 *    PQconnectPoll, each socket watched by the loop; a connection lost or
 *    refused is opened again after a backoff (100 ms doubling to 5 s).
 *  - Every session runs with statement_timeout = postgres_statement_timeout
 *    (the connection's "options"), so the server ends a query that runs
 *    too long.
 *  - pgpool_query sends one parameterised statement (PQsendQueryParams,
 *    text parameters, text results) on an idle connection, or queues it
 *    (at most PGPOOL_QUEUE_MAX) until one is free; results are read with
 *    PQconsumeInput / PQisBusy as the socket becomes readable.
 *  - pgpool_cancel on a running query asks the server to cancel it:
 *    PQcancel blocks (it opens a connection of its own), and PostgreSQL
 *    15's libpq has no asynchronous cancel, so it runs on a short-lived
 *    detached thread that owns the PGcancel it is given. The connection
 *    stays out of use until the cancelled query's results are drained.
 *  - No password: with an Entra ID source (the model's credential, when
 *    the provider authenticates with Entra ID) each new connection takes
 *    the current token for ENTRA_SCOPE_POSTGRES as its password, so
 *    reconnections use a refreshed one; without one, libpq's own rules
 *    (trust, peer, ~/.pgpass).
 *
 * Ownership: struct pgpool (one per worker) owns its PGconn, events,
 * timers and queued queries; it holds a reference to the entra (may be
 * NULL) that the caller opened and closes it itself. A struct pgq is the
 * pool's: the caller's pointer is valid until the callback returns or
 * pgpool_cancel. The statement and parameters are copied. The PGresult
 * passed to the callback is valid during the call only.
 */
#ifndef LLMFORK_PGPOOL_H
#define LLMFORK_PGPOOL_H

#include <stddef.h>
#include <libpq-fe.h>

#define ENTRA_SCOPE_POSTGRES "https://ossrdbms-aad.database.windows.net/.default"
#define PGPOOL_QUEUE_MAX 10000
#define PGPOOL_MAX_PARAMS 8

struct cfg;
struct entra;
struct pgpool;
struct pgq;

/* res: the statement's result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), or
 * NULL with status (503 no connection / lost, 504 statement timeout, 502
 * any other server error) and msg (the server's message) set. */
typedef void (*pgq_cb)(void *arg, const PGresult *res, int status,
                       const char *msg);

/* entra: a reference taken over by the pool (NULL: no tokens). NULL and
 * err when out of memory or the settings are incomplete. */
struct pgpool *pgpool_new(const struct cfg *c, struct entra *entra,
                          char *err, size_t errlen);
void pgpool_free(struct pgpool *p);

/* n parameters (text, NULL = SQL NULL; at most PGPOOL_MAX_PARAMS). NULL
 * when out of memory or the queue is full (no callback then). */
struct pgq *pgpool_query(struct pgpool *p, const char *sql, int n,
                         const char *const *params, pgq_cb cb, void *arg);
/* No callback after this; a running query is cancelled on the server. */
void pgpool_cancel(struct pgq *q);

/* Connections open and ready (idle or busy), for tests and logs. */
int pgpool_ready(const struct pgpool *p);

/* ---- for worker.c ---- */

struct event_base;

/* The loop the pools run on, given once by worker.c before any pool is
 * made (NULL: none, after the loop is freed). The loop stays out of the
 * pool's other calls so that apps, which make pools through pgstore,
 * never see a libevent type: the pool is an I/O driver beside fetch, not
 * an app. */
void pgpool_loop(struct event_base *base);

#endif
