/*
 * llmfork-load — the benchmark's load generator (scripts/bench/run).
 * One process, one libevent loop, many HTTP/1.1 keep-alive connections.
 *
 *   build/llmfork-load --port N [--host 127.0.0.1] [--path /x]
 *       [--body FILE] [--header 'Name: value']... [--conns N]
 *       [--warmup S] [--duration S] [--timeout S] [--ramp S] [--marker TEXT]
 *       [--drain]
 *
 * Each connection loops until the run ends: send the POST, read the whole
 * response (Content-Length, chunked, or until close), send the next one.
 * For each response it records the total latency and the time to first
 * token: from the first byte of the request written to the first body byte
 * that completes --marker (the first token's text, e.g. "Hello!"; without
 * --marker the first body byte). The marker is what makes the number
 * honest across framings: SSE, NDJSON and a head line sent before the
 * model answered all count from the token itself.
 *
 * Connections start spread over --ramp seconds, so 10,000 of them do not
 * all land in one SYN burst. Responses that end inside the window
 * [warmup, warmup + duration) are counted; errors are counted over the
 * whole run (warm-up included): non-2xx statuses, socket errors (refused,
 * reset, closed mid-response, malformed framing) and requests older than
 * --timeout. A failed connection is closed and dialled again.
 *
 * --drain: no request starts after the window, and the run ends when the
 * last response is read (or --timeout later), so no stream is cut (the
 * bench's rounds reuse their servers). Every response overlapping the
 * window is then seen whole, and "rps" counts each by its share of time
 * inside it ("rps_count" is the plain count): connections cycling in step
 * with a model's pace made the plain count move 1-2 % with where the
 * window's edges fell (4817 to 4945/s at 1,000 whole answers of 205 ms).
 *
 * Prints one JSON object on stdout. Exit 0, or 2 on bad arguments.
 *
 * Ownership: the conns array and every fd in it belong to main's run; the
 * request bytes are built once and shared by all connections; a head
 * buffer is held by a connection only while it reads a response head.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "tests/bench/resp.h"

#define RECONNECT_MS 50

enum phase { C_IDLE,
             C_CONNECTING,
             C_SENDING,
             C_READING };

struct conn {
    int fd;
    enum phase ph;
    struct event ev;  /* I/O on fd */
    struct event tev; /* start / reconnect delay */
    short watch;      /* the events ev waits for */
    uint64_t t_start; /* ns: request (or dial) started */
    size_t sent;
    struct resp resp;
};

struct samples {
    uint32_t *v; /* microseconds */
    size_t n, cap;
};

static struct {
    struct event_base *base;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *req;
    size_t reqlen;
    uint64_t t0, t_warm, t_end, timeout_ns;
    struct conn *conns;
    int nconns;
    struct samples lat, ttft;
    uint64_t completed, non2xx, sock_errors, timeouts, no_marker, bytes;
    double share;        /* responses, by their share of the window */
    int drain, draining; /* --drain; the window has ended */
} g;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timeval tv_of(double s)
{
    struct timeval tv = { (time_t)s, (suseconds_t)((s - (time_t)s) * 1e6) };

    return tv;
}

static void sample_add(struct samples *s, uint64_t ns)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        uint32_t *v = realloc(s->v, cap * sizeof(*v));

        if (!v)
            return; /* a lost sample beats a dead run */
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (uint32_t)(ns / 1000 > UINT32_MAX ? UINT32_MAX : ns / 1000);
}

static void conn_dial(struct conn *c);
static int drained(struct conn *c);
static void conn_send(struct conn *c);
static void on_io(evutil_socket_t fd, short what, void *arg);

static void conn_watch(struct conn *c, short what)
{
    if (c->watch == what)
        return;
    if (c->watch)
        event_del(&c->ev);
    event_assign(&c->ev, g.base, c->fd, what | EV_PERSIST, on_io, c);
    event_add(&c->ev, NULL);
    c->watch = what;
}

static void conn_close(struct conn *c)
{
    if (c->watch)
        event_del(&c->ev);
    if (c->fd >= 0)
        close(c->fd);
    c->watch = 0;
    c->fd = -1;
    c->ph = C_IDLE;
    resp_reset(&c->resp);
}

/* Says on stderr why a connection failed, for the first few failures:
 * the count alone cannot tell a refused dial from a close mid-stream. */
static void say_why(const struct conn *c, const char *what, int err)
{
    static int said;
    static const char *const phase[] = { "idle", "connecting", "sending",
                                         "reading" };

    if (said++ >= 20)
        return;
    fprintf(stderr, "llmfork-load: socket error: %s%s%s in %s, %.1f ms into "
                    "the request, response status %d\n",
            what, err ? ": " : "",
            err ? strerror(err) : "", phase[c->ph],
            (double)(now_ns() - c->t_start) / 1e6, c->resp.status);
}

/* Drops the connection; dials again after delay_ms. */
static void conn_fail(struct conn *c, uint64_t *counter, int delay_ms)
{
    struct timeval tv = { 0, delay_ms * 1000 };

    (*counter)++;
    conn_close(c);
    evtimer_add(&c->tev, &tv);
}

/* The part of [start, end) inside the window, as a share of its length. */
static double window_share(uint64_t start, uint64_t end)
{
    uint64_t a = start > g.t_warm ? start : g.t_warm;
    uint64_t b = end < g.t_end ? end : g.t_end;

    return b > a && end > start ? (double)(b - a) / (double)(end - start) : 0;
}

static void response_done(struct conn *c, uint64_t t)
{
    const struct resp *r = &c->resp;
    int ok = r->status >= 200 && r->status < 300;

    if (!ok)
        g.non2xx++;
    else if (!r->t_first)
        g.no_marker++;
    g.share += window_share(c->t_start, t);
    if (t >= g.t_warm && t < g.t_end) {
        g.completed++;
        sample_add(&g.lat, t - c->t_start);
        if (ok && r->t_first)
            sample_add(&g.ttft, r->t_first - c->t_start);
    }
    if (r->close_after) {
        conn_close(c);
        conn_dial(c);
    } else {
        conn_send(c);
    }
}

static void on_readable(struct conn *c, uint64_t t)
{
    static char buf[65536];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    int end = 0;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n == 0 && resp_ends_at_close(&c->resp)) {
        response_done(c, t);
        return;
    }
    /* EOF anywhere else, a read error, bytes we did not ask for, or a
     * malformed response. Bytes after the response (we never pipeline)
     * are dropped with it. */
    if (n <= 0 || c->ph != C_READING ||
        resp_feed(&c->resp, buf, (size_t)n, t, &end) < 0) {
        say_why(c, n < 0 ? "read" : n == 0           ? "closed by the server"
                                : c->ph != C_READING ? "bytes not asked for"
                                                     : "malformed response",
                n < 0 ? errno : 0);
        conn_fail(c, &g.sock_errors, n < 0 ? RECONNECT_MS : 0);
        return;
    }
    g.bytes += (uint64_t)n;
    if (end)
        response_done(c, t);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    int err = 0;
    socklen_t len = sizeof(err);

    if (c->ph == C_CONNECTING) {
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
            say_why(c, "connect", err ? err : errno);
            conn_fail(c, &g.sock_errors, RECONNECT_MS);
            return;
        }
        conn_send(c);
    } else if (c->ph == C_SENDING && (what & EV_WRITE)) {
        conn_send(c);
    } else if (what & EV_READ) {
        on_readable(c, now_ns());
    }
}

/* Writes (the rest of) the request; then waits for the response. */
static void conn_send(struct conn *c)
{
    if (c->ph != C_SENDING && drained(c))
        return;
    if (c->ph != C_SENDING) {
        c->ph = C_SENDING;
        c->sent = 0;
        c->t_start = now_ns();
        resp_reset(&c->resp);
    }
    ssize_t n = write(c->fd, g.req + c->sent, g.reqlen - c->sent);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        say_why(c, "write", errno);
        conn_fail(c, &g.sock_errors, RECONNECT_MS);
        return;
    }
    c->sent += n > 0 ? (size_t)n : 0;
    if (c->sent < g.reqlen) {
        conn_watch(c, EV_WRITE);
        return;
    }
    c->ph = C_READING;
    conn_watch(c, EV_READ);
}

static void conn_dial(struct conn *c)
{
    int one = 1;

    if (drained(c))
        return;
    c->fd = socket(g.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        say_why(c, "socket", errno);
        conn_fail(c, &g.sock_errors, RECONNECT_MS);
        return;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_watch(c, EV_WRITE);
    c->ph = C_CONNECTING;
    c->t_start = now_ns();
    if (connect(c->fd, (struct sockaddr *)&g.addr, g.addrlen) &&
        errno != EINPROGRESS) {
        say_why(c, "connect", errno);
        conn_fail(c, &g.sock_errors, RECONNECT_MS);
    }
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    conn_dial(arg);
}

/* Requests older than --timeout count as timeouts and are dialled again. */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    uint64_t t = now_ns();

    (void)fd, (void)what, (void)arg;
    for (int i = 0; i < g.nconns; i++) {
        struct conn *c = &g.conns[i];

        if (c->ph != C_IDLE && t - c->t_start > g.timeout_ns)
            conn_fail(c, &g.timeouts, 0);
    }
    if (g.draining)
        drained(NULL);
}

/* While draining, closes c (when given) instead of starting a request on
 * it, and ends the run once no connection is left open. */
static int drained(struct conn *c)
{
    if (!g.draining)
        return 0;
    if (c)
        conn_close(c);
    for (int i = 0; i < g.nconns; i++)
        if (g.conns[i].ph != C_IDLE)
            return 1;
    event_base_loopbreak(g.base);
    return 1;
}

/* At the window's end; with --drain once more, --timeout later. */
static void on_end(evutil_socket_t fd, short what, void *arg)
{
    struct event *self = arg;
    struct timeval tv = tv_of((double)g.timeout_ns / 1e9);

    (void)fd, (void)what;
    if (!g.drain || g.draining) {
        event_base_loopbreak(g.base);
        return;
    }
    g.draining = 1;
    evtimer_add(self, &tv);
    drained(NULL);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in milliseconds; -1 when there is no sample. */
static double pct(const struct samples *s, double p)
{
    size_t i = (size_t)(p / 100.0 * (double)s->n);

    if (s->n == 0)
        return -1;
    return s->v[i < s->n ? i : s->n - 1] / 1000.0;
}

static void print_samples(const char *name, struct samples *s)
{
    qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
    printf("\"%s\":{\"n\":%zu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
           "\"max\":%.3f}",
           name, s->n, pct(s, 50), pct(s, 90), pct(s, 99),
           pct(s, 100));
}

static void print_report(double duration)
{
    int inflight = 0;

    for (int i = 0; i < g.nconns; i++)
        inflight += g.conns[i].ph >= C_SENDING;
    printf("{\"conns\":%d,\"duration_s\":%.3f,\"completed\":%llu,"
           "\"rps\":%.2f,\"rps_count\":%.2f,\"non2xx\":%llu,"
           "\"sock_errors\":%llu,"
           "\"timeouts\":%llu,\"errors\":%llu,\"no_marker\":%llu,"
           "\"bytes\":%llu,\"inflight_at_end\":%d,",
           g.nconns, duration, (unsigned long long)g.completed,
           (g.drain ? g.share : (double)g.completed) / duration,
           g.completed / duration, (unsigned long long)g.non2xx,
           (unsigned long long)g.sock_errors, (unsigned long long)g.timeouts,
           (unsigned long long)g.non2xx + g.sock_errors + g.timeouts,
           (unsigned long long)g.no_marker, (unsigned long long)g.bytes,
           inflight);
    print_samples("latency_ms", &g.lat);
    putchar(',');
    print_samples("ttft_ms", &g.ttft);
    printf("}\n");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* The one request every connection sends, head and body in one buffer. */
static int build_request(const char *host, const char *port, const char *path,
                         const char *headers, const char *body_file)
{
    size_t blen = 0;
    char *body = body_file ? read_file(body_file, &blen) : strdup("");
    FILE *m;

    if (!body) {
        fprintf(stderr, "llmfork-load: cannot read %s\n", body_file);
        return -1;
    }
    if (!(m = open_memstream(&g.req, &g.reqlen))) {
        free(body);
        return -1;
    }
    fprintf(m, "POST %s HTTP/1.1\r\nHost: %s:%s\r\n"
               "Content-Type: application/json\r\nContent-Length: %zu\r\n"
               "%s\r\n",
            path, host, port, blen, headers);
    fwrite(body, 1, blen, m);
    free(body);
    return fclose(m) ? -1 : 0;
}

static int resolve(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
    struct addrinfo *ai;

    if (getaddrinfo(host, port, &hints, &ai)) {
        fprintf(stderr, "llmfork-load: bad address %s:%s\n", host, port);
        return -1;
    }
    memcpy(&g.addr, ai->ai_addr, ai->ai_addrlen);
    g.addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

struct opts {
    const char *host, *port, *path, *body, *marker;
    char headers[4096];
    double warmup, duration, timeout, ramp;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "host", 1, NULL, 'H' },
        { "port", 1, NULL, 'p' },
        { "path", 1, NULL, 'P' },
        { "body", 1, NULL, 'b' },
        { "header", 1, NULL, 'h' },
        { "conns", 1, NULL, 'c' },
        { "warmup", 1, NULL, 'w' },
        { "duration", 1, NULL, 'd' },
        { "timeout", 1, NULL, 't' },
        { "ramp", 1, NULL, 'r' },
        { "marker", 1, NULL, 'm' },
        { "drain", 0, NULL, 'D' },
        { NULL, 0, NULL, 0 },
    };
    size_t hl = 0;
    int ch;

    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            o->port = optarg;
            break;
        case 'P':
            o->path = optarg;
            break;
        case 'b':
            o->body = optarg;
            break;
        case 'c':
            g.nconns = atoi(optarg);
            break;
        case 'w':
            o->warmup = atof(optarg);
            break;
        case 'd':
            o->duration = atof(optarg);
            break;
        case 't':
            o->timeout = atof(optarg);
            break;
        case 'r':
            o->ramp = atof(optarg);
            break;
        case 'm':
            o->marker = optarg;
            break;
        case 'D':
            g.drain = 1;
            break;
        case 'h':
            hl += (size_t)snprintf(o->headers + hl, sizeof(o->headers) - hl,
                                   "%s\r\n", optarg);
            if (hl >= sizeof(o->headers))
                return -1;
            break;
        default:
            return -1;
        }
    }
    return optind == argc && o->port && g.nconns > 0 && o->duration > 0 &&
                   o->timeout > 0 && strlen(o->marker) < RESP_MARKER_MAX
               ? 0
               : -1;
}

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur < (rlim_t)g.nconns + 16)
        fprintf(stderr, "llmfork-load: only %llu fds for %d connections\n",
                (unsigned long long)rl.rlim_cur, g.nconns);
}

/* Schedules every connection's first dial over the ramp, and the clocks. */
static int schedule(const struct opts *o, struct event **timers)
{
    g.conns = calloc((size_t)g.nconns, sizeof(*g.conns));
    if (!g.conns)
        return -1;
    for (int i = 0; i < g.nconns; i++) {
        struct conn *c = &g.conns[i];
        struct timeval tv = tv_of(o->ramp * i / g.nconns);

        c->fd = -1;
        evtimer_assign(&c->tev, g.base, on_start, c);
        evtimer_add(&c->tev, &tv);
    }
    struct timeval sweep = tv_of(0.2), end = tv_of(o->warmup + o->duration);
    timers[0] = event_new(g.base, -1, EV_PERSIST, on_sweep, NULL);
    timers[1] = evtimer_new(g.base, on_end, event_self_cbarg());
    if (!timers[0] || !timers[1])
        return -1;
    event_add(timers[0], &sweep);
    evtimer_add(timers[1], &end);
    g.t0 = now_ns();
    g.t_warm = g.t0 + (uint64_t)(o->warmup * 1e9);
    g.t_end = g.t_warm + (uint64_t)(o->duration * 1e9);
    g.timeout_ns = (uint64_t)(o->timeout * 1e9);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = { .host = "127.0.0.1", .path = "/", .marker = "", .warmup = 1, .duration = 5, .timeout = 30, .ramp = -1 };
    struct event *timers[2] = { NULL, NULL };

    g.nconns = 100;
    if (parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: llmfork-load --port N [--host H] [--path P]"
                        " [--body FILE] [--header 'K: V']... [--conns N] [--warmup S]"
                        " [--duration S] [--timeout S] [--ramp S] [--marker TEXT]"
                        " [--drain]\n");
        return 2;
    }
    if (o.ramp < 0)
        o.ramp = o.warmup / 2 < 1 ? o.warmup / 2 : 1;
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    resp_marker(o.marker);
    if (resolve(o.host, o.port) ||
        build_request(o.host, o.port, o.path, o.headers, o.body) ||
        !(g.base = event_base_new()) || schedule(&o, timers)) {
        fprintf(stderr, "llmfork-load: cannot set up the run\n");
        return 1;
    }
    event_base_dispatch(g.base);
    print_report(o.duration);
    for (int i = 0; i < g.nconns; i++) {
        conn_close(&g.conns[i]);
        evtimer_del(&g.conns[i].tev);
    }
    event_free(timers[0]);
    event_free(timers[1]);
    event_base_free(g.base);
    free(g.conns);
    free(g.req);
    free(g.lat.v);
    free(g.ttft.v);
    return 0;
}
