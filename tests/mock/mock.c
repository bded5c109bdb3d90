/*
 * llmfork-mock — a mock OpenAI / Azure OpenAI chat-completions server for
 * llmfork's tests and benchmarks. One process, one libevent loop (evhttp).
 *
 *   build/llmfork-mock [--listen HOST:PORT] [--port-file FILE] [--key K]...
 *                      [--tokens N] [--delay-ms MS] [--ttft-ms MS]
 *                      [--fault SPEC] [--index FILE]
 *                      [--search-fault SPEC] [--embed-fault SPEC]
 *
 *   --listen     default 127.0.0.1:0 (port 0: the kernel picks a free one)
 *   --port-file  the bound port is written there (atomically, with a
 *                rename) once the server listens: wait for the file
 *   --key        accepted API key; repeatable. Without any, every key (and
 *                none) is accepted
 *   --tokens 20 --delay-ms 10 --ttft-ms 0   per-request defaults
 *   --fault      the fault every request gets unless it says otherwise
 *                (x-mock-fault syntax below; default none)
 *   --index      a search index to serve (JSON {"name","value":[docs]},
 *                e.g. tests/mock/index.json); see tests/mock/search.c for
 *                the search and embeddings endpoints
 *   --search-fault, --embed-fault   an HTTP status fault (NNN[:ms=N], as
 *                x-mock-fault below) every search / embeddings request
 *                gets, in that service's error shape (tests/mock/search.c)
 *   --token      Entra ID token endpoints and checks (tests/mock/token.h)
 *   --jwks FILE  a tenant's signing keys for users' tokens (tests/mock/jwks.c)
 *   --blobs ACCOUNT:DIR[:KEY]  Blob Storage's Get Blob (tests/mock/blob.c)
 * SIGTERM / SIGINT stop it cleanly.
 *
 * Endpoints (the "flavour" decides error shapes, headers and SSE framing):
 *   POST /v1/chat/completions, POST /chat/completions      OpenAI
 *        auth: Authorization: Bearer KEY; "model" required
 *   POST /openai/deployments/{dep}/chat/completions?api-version=V   Azure
 *        auth: api-key: KEY, or Authorization: Bearer TOKEN (Entra);
 *        no api-version -> 404 {"error":{"code":"404","message":"Resource
 *        not found"}}; "model" optional (defaults to the deployment name)
 *   POST /openai/v1/chat/completions                        Azure (v1 API)
 *        auth as Azure; "model" required
 *   A reasoning model (model or deployment named o1*, o3*, o4*, gpt-5*,
 *   not gpt-5-chat*) refuses max_tokens and a temperature other than 1
 *   with the real 400s (OpenAI's body, param and code, on Azure too).
 *   GET  /_mock/stats     {"requests","completed","cancelled","active",
 *                          "errors","faults","connections",
 *                          "by_path":{path:n},
 *                          "last_request":{method,path,query,headers
 *                          (lower-case names),body,json}}
 *   GET  /_mock/requests  the last 20 API requests, oldest first, same shape
 *   GET  /_mock/answer?tokens=N   {"tokens":N,"content":the answer's text}
 *   POST /_mock/reset     zeroes the counters (not "active"), forgets the
 *                         recorded requests and the fail-count keys
 * "requests" counts API requests (any non-/_mock path); "completed" replies
 * that ended normally (a stream's [DONE], a 200 JSON body); "cancelled"
 * requests whose client closed before the reply ended (mid-stream, waiting
 * for the first token, or during a stall); "errors" error replies;
 * "faults" requests that had a fault injected; "active" jobs in flight;
 * "connections" TCP connections accepted.
 *
 * The answer: N tokens (N = tokens, or max_tokens / max_completion_tokens
 * when smaller, then finish_reason "length"). Token 0 is words[0], token i
 * is " " + words[i % 20], with words (tests/mock/format.c):
 *   Hello! I am the llmfork mock model. Here is "quoted" text, a
 *   back\slash, a tab<TAB>and a new<LF>line; café 🙂 done.
 * so the content is the first N words of that cycle joined by one space.
 * GET /_mock/answer?tokens=N returns it. usage: prompt_tokens = number of
 * whitespace-separated words in the messages' text, completion_tokens = N.
 *
 * Streaming ("stream": true): 200 text/event-stream at once; Azure first
 * sends a chunk with "choices":[] and prompt_filter_results. After ttft_ms:
 * the role chunk (delta {"role":"assistant","content":"","refusal":null})
 * and token 0; then one chunk per token (delta {"content":...}) every
 * delay_ms; delay_ms after the last token a chunk with an empty delta and
 * finish_reason, then (stream_options.include_usage) a chunk with
 * "choices":[] and usage, then "data: [DONE]". With include_usage every
 * other chunk has "usage":null, as OpenAI does. OpenAI's chunks with
 * choices end with "obfuscation": 1-15 padding characters (unless
 * stream_options.include_obfuscation is false), deterministic per chunk
 * position so replies to the same request are byte-identical. Azure's
 * chunks have sorted keys and content_filter_results in each choice. Non-streaming: the
 * chat.completion JSON after ttft_ms + N x delay_ms.
 *
 * Tool calls (tests/mock/tools.c): a non-streaming request with "tools"
 * gets a call of the first one (the rag-postgres sample's search_database
 * arguments; directives tool=none, price_filter=<=150, brand_filter=!=X).
 *
 * Reasoning models and the RAG prompts (tests/mock/script.c):
 *   x-mock-reasoning / reasoning = think | field | none
 *   think: DeepSeek-R1's "<think>...</think>" at the start of the content,
 *   the tags cut across chunks; field: the thinking in
 *   delta.reasoning_content first. Then the canned answer. Without it, a
 *   request whose last user message is the RAG query-rewrite prompt
 *   ("Generate search query for: Q") answers Q without bracketed text, and
 *   one carrying "\nSources:\nNAME: TEXT" lines answers citing [NAME].
 *
 * Per-request control: a header, the same-named query parameter, or a
 * directive in the body (first found wins, in that order; then the command
 * line's default):
 *   x-mock-tokens / tokens        x-mock-delay-ms / delay_ms
 *   x-mock-ttft-ms / ttft_ms      x-mock-fault / fault
 *   x-mock-fail-count / fail_count   x-mock-fault-key / fault_key
 * The directive is for tests that reach the mock through a proxy that
 * forwards neither headers nor the query (llmfork): the last message with
 * "role":"user" may contain, anywhere in its content (a string, or a text
 * part), one "[mock " ... "]" holding space-separated NAME=VALUE pairs
 * with the query parameters' names, e.g.
 *   "content": "hi [mock fault=429:ms=100 fail_count=1 fault_key=k1 tokens=5]"
 * The directive stays in the prompt (and counts in prompt_tokens). A
 * directive without its "]", over 255 bytes, with an unknown name or more
 * than 8 pairs is a bad control.
 * Faults: x-mock-fault = NAME[:OPT=V[,OPT=V]]
 *   NNN            that HTTP status (400-599) with the service's error body;
 *                  401 / 404 / 429 / 500 / 503 have the real messages
 *   429[:ms=N]     429, retry-after: ceil(N/1000) and retry-after-ms: N
 *                  (default 1000); any status takes ms= too; ms=none: no
 *                  retry headers at all (OpenAI often sends none);
 *                  only=ms: retry-after-ms without retry-after
 *   content_filter 400 with Azure's content-filter body (code
 *                  "content_filter", innererror ResponsibleAIPolicyViolation)
 *   cut[:after=K]  stream K tokens (default N/2), then close the connection
 *                  without the last chunk or [DONE]; non-streaming: close
 *                  without a reply
 *   malformed[:after=K]  chunk of token K (default N/2; none if K >= N) is
 *                  cut-off JSON and that word is missing; non-streaming:
 *                  the first half of the JSON body
 *   stall[:after=K]  send K tokens (default 0: headers + role chunk), then
 *                  nothing, connection kept open; non-streaming: no reply
 *   error_event[:after=K]  stream K tokens (default N/2), then OpenAI's
 *                  mid-stream error event data: {"error":{"message":"The
 *                  server had an error ...","type":"server_error",...}}
 *                  and the end of the reply, without [DONE]; non-streaming:
 *                  a 500 (as status 500)
 *   filter_mid[:after=K]  stream K tokens (default N/2), then a chunk with
 *                  finish_reason "content_filter", then [DONE] (Azure's
 *                  output filter); non-streaming: no effect
 *   (after= is clamped to N.)
 *   none           no fault
 * With x-mock-fail-count C, the fault hits only the first C requests that
 * carry the same x-mock-fault-key (default ""); later ones succeed: retry
 * tests send e.g. "x-mock-fault: 429", "x-mock-fail-count: 1",
 * "x-mock-fault-key: <unique>". A bad control value is a 400.
 */
#include "tests/mock/mock.h"
#include "tests/mock/token.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

struct mock_opts mock_opts = { .tokens = 20, .delay_ms = 10 };

#define KEYS_MAX 16
static const char *keys[KEYS_MAX];
static int nkeys;

static void on_request(struct evhttp_request *req, void *arg)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;

    (void)arg;
    if (!path || !*path)
        path = "/";
    if (!query)
        query = "";
    if (token_route(req, path, query) == 0 ||
        jwks_route(req, path, query) == 0 ||
        blob_route(req, path, query) == 0 ||
        stats_route(req, path, query) == 0 ||
        search_route(req, path, query, keys, nkeys) == 0)
        return;
    api_handle(req, path, query, keys, nkeys);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: llmfork-mock [--listen HOST:PORT] [--port-file FILE]"
               " [--key K]... [--tokens N] [--delay-ms MS] [--ttft-ms MS]"
               " [--fault SPEC] [--index FILE] [--search-fault SPEC]"
               " [--embed-fault SPEC] [--token SPEC] [--jwks FILE]"
               " [--blobs ACCOUNT:DIR[:KEY]]\n");
}

static int opt_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (end == s || *end || v < 0 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT". host and port point into buf. */
static int split_listen(char *buf, const char **host, const char **port)
{
    char *colon;

    if (buf[0] == '[') {
        char *end = strchr(buf, ']');

        if (!end || end[1] != ':')
            return -1;
        *end = '\0';
        *host = buf + 1;
        *port = end + 2;
        return 0;
    }
    if (!(colon = strrchr(buf, ':')))
        return -1;
    *colon = '\0';
    *host = *buf ? buf : "0.0.0.0";
    *port = colon + 1;
    return 0;
}

/* Binds and listens with a deep backlog (thousands of clients connect at
 * once in benchmarks). Returns the fd and the bound port, or -1. */
static int listen_on(const char *spec, int *port_out)
{
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                              .ai_socktype = SOCK_STREAM },
                    *ai;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    const char *host, *port;
    char buf[256];
    int fd, one = 1, rc;

    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf ||
        split_listen(buf, &host, &port)) {
        fprintf(stderr, "llmfork-mock: bad --listen %s\n", spec);
        return -1;
    }
    if ((rc = getaddrinfo(host, port, &hints, &ai))) {
        fprintf(stderr, "llmfork-mock: %s: %s\n", spec, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        /* accepted sockets inherit it: a token written just after the
         * head must not wait for the head's (delayed) ACK */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 4096) ||
        getsockname(fd, (struct sockaddr *)&ss, &sl)) {
        fprintf(stderr, "llmfork-mock: %s: %s\n", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    *port_out = ntohs(ss.ss_family == AF_INET6
                          ? ((struct sockaddr_in6 *)&ss)->sin6_port
                          : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* Written to FILE.tmp then renamed, so a reader never sees half a port. */
static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    FILE *f;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp ||
        !(f = fopen(tmp, "w")))
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) || rename(tmp, path))
        return -1;
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    event_base_loopexit(arg, NULL);
}

static int parse_args(int argc, char **argv, const char **listen_spec,
                      const char **port_file)
{
    static const struct option lopts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "port-file", required_argument, NULL, 'p' },
        { "key", required_argument, NULL, 'k' },
        { "tokens", required_argument, NULL, 't' },
        { "delay-ms", required_argument, NULL, 'd' },
        { "ttft-ms", required_argument, NULL, 'f' },
        { "fault", required_argument, NULL, 'F' },
        { "token", required_argument, NULL, 'T' },
        { "jwks", required_argument, NULL, 'J' },
        { "blobs", required_argument, NULL, 'B' },
        { "index", required_argument, NULL, 'i' },
        { "search-fault", required_argument, NULL, 'S' },
        { "embed-fault", required_argument, NULL, 'E' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct fault dummy;
    int c, bad = 0;

    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            *listen_spec = optarg;
            break;
        case 'p':
            *port_file = optarg;
            break;
        case 'k':
            if (nkeys == KEYS_MAX)
                bad = 1;
            else
                keys[nkeys++] = optarg;
            break;
        case 't':
            bad |= opt_int(optarg, &mock_opts.tokens);
            break;
        case 'd':
            bad |= opt_int(optarg, &mock_opts.delay_ms);
            break;
        case 'f':
            bad |= opt_int(optarg, &mock_opts.ttft_ms);
            break;
        case 'F':
            mock_opts.fault = optarg;
            bad |= fault_parse(optarg, &dummy);
            break;
        case 'i':
            bad |= search_load(optarg);
            break;
        case 'S':
        case 'E':
            bad |= fault_parse(optarg, c == 'S' ? &mock_opts.search_fault
                                                : &mock_opts.embed_fault) ||
                   (c == 'S' ? mock_opts.search_fault.kind
                             : mock_opts.embed_fault.kind) > FAULT_STATUS;
            break;
        case 'T':
            bad |= token_config(optarg);
            break;
        case 'J':
            jwks_config(optarg);
            break;
        case 'B':
            bad |= blob_config(optarg);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            bad = 1;
            break;
        }
    }
    if (bad || optind != argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static int serve_forever(struct event_base *base, struct evhttp *http,
                         const char *listen_spec, const char *port_file)
{
    struct event *sigs[2];
    int port, fd = listen_on(listen_spec, &port);

    if (fd < 0 || !evhttp_accept_socket_with_handle(http, fd)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    sigs[0] = evsignal_new(base, SIGTERM, on_signal, base);
    sigs[1] = evsignal_new(base, SIGINT, on_signal, base);
    if (!sigs[0] || !sigs[1] || evsignal_add(sigs[0], NULL) ||
        evsignal_add(sigs[1], NULL)) {
        fprintf(stderr, "llmfork-mock: cannot set signal handlers\n");
        return -1;
    }
    if (port_file && write_port_file(port_file, port)) {
        fprintf(stderr, "llmfork-mock: %s: %s\n", port_file, strerror(errno));
        return -1;
    }
    fprintf(stderr, "llmfork-mock: listening on %s (port %d)\n",
            listen_spec, port);
    event_base_dispatch(base);
    event_free(sigs[0]);
    event_free(sigs[1]);
    return 0;
}

/* evhttp's hook for each accepted connection: counted, so a test can see
 * whether a proxy reuses its upstream connections or dials anew. */
static struct bufferevent *on_accept_bev(struct event_base *base, void *arg)
{
    (void)arg;
    mock_stats.connections++;
    return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

/* The changelist folds an event added and removed in one loop turn into
 * no epoll_ctl at all (jobs.c writes each chunk at once, see write_now). */
static struct event_base *new_base(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

int main(int argc, char **argv)
{
    const char *listen_spec = "127.0.0.1:0", *port_file = NULL;
    struct event_base *base;
    struct evhttp *http;
    int rc;

    if (parse_args(argc, argv, &listen_spec, &port_file))
        return 2;
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    answer_init();
    if (!(base = new_base()) || !(http = evhttp_new(base))) {
        fprintf(stderr, "llmfork-mock: cannot create the event loop\n");
        return 1;
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                         EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH |
                                         EVHTTP_REQ_OPTIONS);
    evhttp_set_max_body_size(http, 32 * 1024 * 1024);
    /* Streams may stall on purpose for as long as a test wants. */
    evhttp_set_timeout(http, 3600);
    evhttp_set_gencb(http, on_request, NULL);
    evhttp_set_bevcb(http, on_accept_bev, NULL);
    rc = serve_forever(base, http, listen_spec, port_file);
    evhttp_free(http);
    job_free_all();
    search_free();
    stats_free();
    fault_reset();
    event_base_free(base);
    return rc ? 1 : 0;
}
