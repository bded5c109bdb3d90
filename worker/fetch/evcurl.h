/*
 * evcurl — a libcurl multi driven by a libevent base, the pattern of
 * curl's docs/examples/multi-event.c: curl says which sockets to watch and
 * when to call it back; libevent calls curl_multi_socket_action; finished
 * transfers are then handed to the owner's done callback.
 *
 * Ownership: an evcurl owns its multi, one event per socket curl watches
 * (kept as curl's socketp, freed on CURL_POLL_REMOVE) and one timer. The
 * easy handles belong to the caller, who adds them to evcurl_multi() and
 * removes them, never inside a curl callback: done is called outside
 * them, so it may remove, clean up and add handles.
 */
#ifndef LLMFORK_EVCURL_H
#define LLMFORK_EVCURL_H

#include <curl/curl.h>

struct event_base;
struct evcurl;

/* Called once per finished transfer. */
typedef void (*evcurl_done_cb)(CURL *easy, CURLcode result);

/* A multi on base. Returns NULL when out of memory. */
struct evcurl *evcurl_new(struct event_base *base, evcurl_done_cb done);

CURLM *evcurl_multi(const struct evcurl *ec);

/* Called after each socket action or timer run, once curl's callbacks and
 * the finished transfers of it have been handed out. */
typedef void (*evcurl_after_cb)(void *arg);
void evcurl_on_after(struct evcurl *ec, evcurl_after_cb cb, void *arg);

/* Every easy handle must have been removed. Closes cached connections. */
void evcurl_free(struct evcurl *ec);

#endif
