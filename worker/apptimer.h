/*
 * apptimer — timers on the worker's loop for apps and the model layer,
 * so that they need not touch libevent: a callback after some
 * milliseconds, once per arming (0 ms: on the next loop turn, the way to
 * hand work back to the loop from inside a callback).
 *
 * Ownership: an app_timer belongs to whoever created it and is freed
 * with app_timer_free (which also disarms it); the callback's arg is the
 * creator's. The loop is the worker's, given once by worker.c (and unit
 * tests) with app_timer_loop before any timer is made.
 */
#ifndef LLMFORK_APPTIMER_H
#define LLMFORK_APPTIMER_H

struct app_timer;

typedef void (*app_timer_cb)(void *arg);

/* A disarmed timer, or NULL when out of memory or no loop is set. */
struct app_timer *app_timer_new(app_timer_cb cb, void *arg);

/* Arms t to fire once after ms (re-arming one already armed). Returns 0
 * or -1. */
int app_timer_after(struct app_timer *t, long ms);

/* Disarms t; it may be armed again. */
void app_timer_stop(struct app_timer *t);

/* 1 while t is armed and has not fired. */
int app_timer_armed(const struct app_timer *t);

/* Disarms and frees t; NULL is a no-op. */
void app_timer_free(struct app_timer *t);

/* ---- for worker.c ---- */

struct event_base;

/* The loop timers run on (NULL: none, after the loop is freed). */
void app_timer_loop(struct event_base *base);

#endif
