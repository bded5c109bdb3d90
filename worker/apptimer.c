/* apptimer — see apptimer.h. One libevent timer event per app_timer. */
#include "worker/apptimer.h"

#include <stdlib.h>

#include <event2/event.h>
#include <event2/event_struct.h>

struct app_timer {
    struct event ev;
    app_timer_cb cb;
    void *arg;
};

static struct event_base *loop;

void app_timer_loop(struct event_base *base)
{
    loop = base;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct app_timer *t = arg;

    (void)fd, (void)what;
    t->cb(t->arg);
}

struct app_timer *app_timer_new(app_timer_cb cb, void *arg)
{
    struct app_timer *t;

    if (loop == NULL || (t = calloc(1, sizeof *t)) == NULL)
        return NULL;
    t->cb = cb;
    t->arg = arg;
    if (evtimer_assign(&t->ev, loop, on_timer, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

int app_timer_after(struct app_timer *t, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    if (ms < 0)
        tv.tv_sec = tv.tv_usec = 0;
    return evtimer_add(&t->ev, &tv) == 0 ? 0 : -1;
}

void app_timer_stop(struct app_timer *t)
{
    evtimer_del(&t->ev);
}

int app_timer_armed(const struct app_timer *t)
{
    return evtimer_pending(&t->ev, NULL) != 0;
}

void app_timer_free(struct app_timer *t)
{
    if (t == NULL)
        return;
    evtimer_del(&t->ev);
    free(t);
}
