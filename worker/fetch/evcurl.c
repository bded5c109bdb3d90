/* evcurl — see evcurl.h. */
#include "worker/fetch/evcurl.h"

#include <stdlib.h>

#include <event2/event.h>
#include <event2/event_struct.h>

struct evcurl {
    CURLM *multi;
    struct event_base *base;
    struct event timer;
    evcurl_done_cb done;
    evcurl_after_cb after;
    void *after_arg;
};

static void drain_done(struct evcurl *ec)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(ec->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE)
            ec->done(m->easy_handle, m->data.result);
    if (ec->after != NULL)
        ec->after(ec->after_arg);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
    struct evcurl *ec = arg;
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                 ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;

    curl_multi_socket_action(ec->multi, fd, action, &running);
    drain_done(ec);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct evcurl *ec = arg;
    int running;

    (void)fd, (void)what;
    curl_multi_socket_action(ec->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done(ec);
}

/* CURLMOPT_SOCKETFUNCTION: one persistent event per curl socket. */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp,
                   void *socketp)
{
    struct evcurl *ec = userp;
    struct event *ev = socketp;
    short kind = EV_PERSIST;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (ev != NULL)
            event_free(ev);
        return 0;
    }
    if (what & CURL_POLL_IN)
        kind |= EV_READ;
    if (what & CURL_POLL_OUT)
        kind |= EV_WRITE;
    if (ev == NULL) {
        ev = event_new(ec->base, s, kind, on_socket, ec);
        if (ev == NULL || curl_multi_assign(ec->multi, s, ev) != CURLM_OK) {
            if (ev != NULL)
                event_free(ev);
            return -1;
        }
    } else {
        event_del(ev);
        event_assign(ev, ec->base, s, kind, on_socket, ec);
    }
    return event_add(ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: curl must not be called from here, only armed. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct evcurl *ec = userp;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

    (void)multi;
    if (timeout_ms < 0)
        return evtimer_del(&ec->timer);
    return evtimer_add(&ec->timer, &tv);
}

struct evcurl *evcurl_new(struct event_base *base, evcurl_done_cb done)
{
    struct evcurl *ec = calloc(1, sizeof *ec);

    if (ec == NULL)
        return NULL;
    ec->base = base;
    ec->done = done;
    evtimer_assign(&ec->timer, base, on_timer, ec);
    if ((ec->multi = curl_multi_init()) == NULL ||
        curl_multi_setopt(ec->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) ||
        curl_multi_setopt(ec->multi, CURLMOPT_SOCKETDATA, ec) ||
        curl_multi_setopt(ec->multi, CURLMOPT_TIMERFUNCTION, timer_cb) ||
        curl_multi_setopt(ec->multi, CURLMOPT_TIMERDATA, ec)) {
        evcurl_free(ec);
        return NULL;
    }
    return ec;
}

void evcurl_on_after(struct evcurl *ec, evcurl_after_cb cb, void *arg)
{
    ec->after = cb;
    ec->after_arg = arg;
}

CURLM *evcurl_multi(const struct evcurl *ec)
{
    return ec->multi;
}

void evcurl_free(struct evcurl *ec)
{
    if (ec == NULL)
        return;
    /* closing cached connections calls sock_cb(REMOVE), freeing events */
    if (ec->multi != NULL)
        curl_multi_cleanup(ec->multi);
    evtimer_del(&ec->timer);
    free(ec);
}
