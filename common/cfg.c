/*
 * cfg — see cfg.h. One row per setting in cfg_keys below: adding a setting
 * is one row (plus its field in struct cfg and its line in
 * etc/llmfork.conf). The row gives the file key, the environment name
 * (LLMFORK_<KEY>, derived) and the long option (--key-with-dashes, derived,
 * in cfg_cli.c), so the three sources cannot disagree. Defaults are written
 * as text and go through the same parser as the file, so a default is
 * always a valid value.
 */
#include "common/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/addr.h"
#include "common/cfg_int.h"
#include "common/log.h"
#include "common/scoreboard.h"

static int check_bind(const char *item, char *msg, size_t len);
static int check_ip(const char *item, char *msg, size_t len);
static int check_provider(const char *item, char *msg, size_t len);
static int check_endpoint(const char *item, char *msg, size_t len);
static int check_rag(const char *item, char *msg, size_t len);

#define F(field) offsetof(struct cfg, field)
#define MAX_WORKERS (SB_SLOTS / 2 - 1)  /* HUP runs two generations at once */

const struct cfg_key cfg_keys[] = {
    { "bind", K_LIST, F(bind), "127.0.0.1:8000", 1, CFG_MAX_BINDS, check_bind,
      NULL, "-b", "ADDR", "listen on HOST:PORT, [v6]:PORT, PORT,"
      " unix:/path or fd://N; repeatable" },
    { "backlog", K_INT, F(backlog), "2048", 1, 65535, NULL, NULL, NULL, "N",
      "listen queue length" },
    { "workers", K_WORKERS, F(workers), "auto", 1, MAX_WORKERS, NULL,
      "WEB_CONCURRENCY", "-w", "N|auto", "worker processes; auto = one per CPU" },
    { "timeout", K_INT, F(timeout), "30", 0, 86400, NULL, NULL, "-t", "S",
      "kill a worker whose loop is silent this long; 0 = never" },
    { "graceful_timeout", K_INT, F(graceful_timeout), "30", 0, 86400, NULL,
      NULL, NULL, "S", "time for workers to finish on stop or reload" },
    { "max_requests", K_INT, F(max_requests), "0", 0, INT_MAX, NULL, NULL,
      NULL, "N", "replace a worker after this many requests; 0 = never" },
    { "max_requests_jitter", K_INT, F(max_requests_jitter), "0", 0, INT_MAX,
      NULL, NULL, NULL, "N", "add up to this many to max_requests per worker" },
    { "pidfile", K_STR, F(pidfile), NULL, 0, 0, NULL, NULL, "--pid", "FILE",
      "write the master's pid to this file" },
    { "proc_name", K_STR, F(proc_name), "llmfork", 1, 0, NULL, NULL,
      "-n --name", "NAME", "process title prefix" },
    { "user", K_STR, F(user), NULL, 0, 0, NULL, NULL, "-u", "USER",
      "switch workers to this user after binding" },
    { "group", K_STR, F(group), NULL, 0, 0, NULL, NULL, "-g", "GROUP",
      "switch workers to this group after binding" },
    { "unix_socket_mode", K_MODE, F(unix_socket_mode), "0660", 0, 0777, NULL,
      NULL, NULL, "MODE", "permissions of unix sockets (octal)" },
    { "errorlog", K_STR, F(errorlog), "-", 0, 0, NULL, NULL,
      "--error-logfile --log-file", "FILE", "error log; - = stderr" },
    { "accesslog", K_STR, F(accesslog), NULL, 0, 0, NULL, NULL,
      "--access-logfile", "FILE", "access log; - = stdout; none by default" },
    { "loglevel", K_LEVEL, F(loglevel), "info", 0, 0, NULL, NULL, "--log-level",
      "LEVEL", "debug, info, warning, error or critical" },
    { "worker_connections", K_INT, F(worker_connections), "10000", 1, 1000000,
      NULL, NULL, NULL, "N", "open client connections per worker" },
    { "keepalive", K_INT, F(keepalive), "5", 0, 3600, NULL, NULL,
      "--keep-alive", "S", "idle keep-alive timeout; 0 = no keep-alive" },
    { "client_header_timeout", K_INT, F(client_header_timeout), "10", 1, 3600,
      NULL, NULL, NULL, "S", "time allowed to send the request head" },
    { "limit_request_line", K_INT, F(limit_request_line), "4094", 0, 8190, NULL,
      NULL, NULL, "N", "longest request line (414 beyond); 0 = 8190" },
    { "limit_request_fields", K_INT, F(limit_request_fields), "100", 0, 32768,
      NULL, NULL, NULL, "N", "most header fields (431 beyond); 0 = 32768" },
    { "limit_request_field_size", K_INT, F(limit_request_field_size), "8190", 0,
      1048576, NULL, NULL, NULL, "N", "longest header field (431 beyond);"
      " 0 = unlimited" },
    { "limit_request_body", K_SIZE, F(limit_request_body), "1048576", 0,
      LONG_MAX, NULL, NULL, NULL, "BYTES", "largest request body (413 beyond);"
      " 0 = unlimited" },
    { "stream_buffer", K_SIZE, F(stream_buffer), "65536", 1024, 1L << 30, NULL,
      NULL, NULL, "BYTES", "output pending to one client before the upstream"
      " is paused" },
    { "forwarded_allow_ips", K_LIST, F(forwarded_allow_ips), "127.0.0.1,::1",
      0, 0, check_ip, NULL, NULL, "IPS", "proxies trusted for X-Forwarded-*;"
      " IPs, networks or *" },

    /* where the model is (worker/model.h) */
    { "provider", K_STR, F(provider), "mock", 1, 0, check_provider, NULL,
      NULL, "NAME", "mock, azure, azure-v1 or openai" },
    { "azure_endpoint", K_STR, F(azure_endpoint), NULL, 0, 0, NULL,
      "AZURE_OPENAI_ENDPOINT", NULL, "URL", "https://NAME.openai.azure.com" },
    { "azure_deployment", K_STR, F(azure_deployment), NULL, 0, 0, NULL,
      "AZURE_OPENAI_CHAT_DEPLOYMENT", NULL, "NAME", "chat model deployment" },
    { "azure_api_version", K_STR, F(azure_api_version), "2024-10-21", 1, 0,
      NULL, "AZURE_OPENAI_API_VERSION", NULL, "VERSION",
      "api-version for provider azure" },
    { "azure_api_key", K_STR, F(azure_api_key), NULL, 0, 0, NULL,
      "AZURE_OPENAI_KEY AZURE_OPENAI_API_KEY", NULL, "KEY", "api-key header;"
      " none: Entra ID tokens" },
    { "azure_endpoints", K_LIST, F(azure_endpoints), NULL, 0, 16,
      check_endpoint, "AZURE_OPENAI_ENDPOINTS", NULL, "URLS", "failover set"
      " for the deployment, URL[*WEIGHT] each; replaces azure_endpoint" },
    { "azure_tenant_id", K_STR, F(azure_tenant_id), NULL, 0, 0, NULL,
      "AZURE_TENANT_ID", NULL, "ID", "Entra ID tenant (client secret,"
      " workload identity)" },
    { "azure_client_id", K_STR, F(azure_client_id), NULL, 0, 0, NULL,
      "AZURE_CLIENT_ID", NULL, "ID", "app or user-assigned identity client id" },
    { "azure_client_secret", K_STR, F(azure_client_secret), NULL, 0, 0, NULL,
      "AZURE_CLIENT_SECRET", NULL, "SECRET", "Entra ID app client secret" },
    { "azure_authority_host", K_STR, F(azure_authority_host),
      "https://login.microsoftonline.com", 1, 0, NULL, "AZURE_AUTHORITY_HOST",
      NULL, "URL", "Entra ID authority" },
    { "azure_federated_token_file", K_STR, F(azure_federated_token_file), NULL,
      0, 0, NULL, "AZURE_FEDERATED_TOKEN_FILE", NULL, "FILE",
      "workload identity token file" },
    { "identity_endpoint", K_STR, F(identity_endpoint), NULL, 0, 0, NULL,
      "IDENTITY_ENDPOINT", NULL, "URL", "managed identity endpoint (App"
      " Service, Container Apps)" },
    { "identity_header", K_STR, F(identity_header), NULL, 0, 0, NULL,
      "IDENTITY_HEADER", NULL, "SECRET", "managed identity header value" },
    { "azure_imds_host", K_STR, F(azure_imds_host), "http://169.254.169.254",
      1, 0, NULL, "AZURE_POD_IDENTITY_AUTHORITY_HOST", NULL, "URL",
      "instance metadata service (managed identity on VMs, AKS)" },
    { "openai_base_url", K_STR, F(openai_base_url), "https://api.openai.com/v1",
      1, 0, NULL, "OPENAI_BASE_URL", NULL, "URL",
      "any OpenAI-compatible server (Ollama, vLLM, GitHub Models)" },
    { "openai_api_key", K_STR, F(openai_api_key), NULL, 0, 0, NULL,
      "OPENAI_API_KEY", NULL, "KEY", "sent as Authorization: Bearer" },
    { "openai_model", K_STR, F(openai_model), "gpt-4o-mini", 1, 0, NULL,
      "OPENAI_MODEL", NULL, "NAME", "model for provider openai" },
    { "mock_tokens", K_INT, F(mock_tokens), "20", 0, 100000, NULL, NULL, NULL,
      "N", "built-in mock: tokens per answer" },
    { "mock_delay_ms", K_INT, F(mock_delay_ms), "50", 0, 60000, NULL, NULL,
      NULL, "MS", "built-in mock: time between tokens" },
    { "system_prompt", K_STR, F(system_prompt), "You are a helpful assistant.",
      0, 0, NULL, NULL, NULL, "TEXT", "system message the chat app sends" },
    { "max_tokens_limit", K_INT, F(max_tokens_limit), "4096", 1, 1000000, NULL,
      NULL, NULL, "N", "highest max_tokens a chat request may ask for" },
    { "connect_timeout", K_INT, F(connect_timeout), "10", 1, 3600, NULL, NULL,
      NULL, "S", "upstream connect timeout" },
    { "first_byte_timeout", K_INT, F(first_byte_timeout), "60", 1, 3600, NULL,
      NULL, NULL, "S", "upstream time to the first response byte" },
    { "idle_timeout", K_INT, F(idle_timeout), "60", 1, 3600, NULL, NULL, NULL,
      "S", "upstream silence allowed between chunks" },
    { "total_timeout", K_INT, F(total_timeout), "600", 1, 86400, NULL, NULL,
      NULL, "S", "longest upstream call, retries included" },
    { "max_retries", K_INT, F(max_retries), "2", 0, 10, NULL, NULL, NULL, "N",
      "upstream retries on 408/409/429/5xx before the client saw a byte" },
    { "http2", K_BOOL, F(http2), "false", 0, 0, NULL, NULL, NULL, "BOOL",
      "HTTP/2 (multiplexed) to https upstreams" },
    { "ca_file", K_STR, F(ca_file), NULL, 0, 0, NULL, NULL, NULL, "FILE",
      "CA bundle for upstream TLS; default: the system's" },
    { "gateway_keys", K_LIST, F(gateway_keys), NULL, 0, 0, NULL, NULL, NULL,
      "KEYS", "keys clients of /v1 and /openai must send; none = open" },
    { "static_dir", K_STR, F(static_dir), NULL, 0, 0, NULL, NULL, NULL, "DIR",
      "files served at / (the web page); empty = the page shipped with llmfork" },

    /* RAG over Azure AI Search (worker/rag.h) */
    { "rag", K_STR, F(rag), "none", 1, 0, check_rag, NULL, NULL, "MODE",
      "none, or search: ground /chat answers in Azure AI Search" },
    { "search_endpoint", K_STR, F(search_endpoint), NULL, 0, 0, NULL,
      "AZURE_SEARCH_ENDPOINT", NULL, "URL", "https://NAME.search.windows.net" },
    { "search_service", K_STR, F(search_service), NULL, 0, 0, NULL,
      "AZURE_SEARCH_SERVICE", NULL, "NAME", "sets the endpoint when it is"
      " empty" },
    { "search_index", K_STR, F(search_index), NULL, 0, 0, NULL,
      "AZURE_SEARCH_INDEX", NULL, "NAME", "index to search" },
    { "search_key", K_STR, F(search_key), NULL, 0, 0, NULL,
      "AZURE_SEARCH_KEY", NULL, "KEY", "api-key header; empty = Entra ID"
      " token" },
    { "search_api_version", K_STR, F(search_api_version), "2025-09-01", 1, 0,
      NULL, NULL, NULL, "VERSION", "api-version of the search calls" },
    { "search_top", K_INT, F(search_top), "3", 1, 50, NULL, NULL, NULL, "N",
      "sources per question" },
    { "search_filter", K_STR, F(search_filter), NULL, 0, 0, NULL, NULL, NULL,
      "ODATA", "filter every search, e.g. category ne 'internal'" },
    { "search_semantic_config", K_STR, F(search_semantic_config), NULL, 0, 0,
      NULL, NULL, NULL, "NAME", "semantic ranker configuration; empty = off" },
    { "search_captions", K_BOOL, F(search_captions), "false", 0, 0, NULL,
      NULL, NULL, "BOOL", "semantic captions as the sources' text" },
    { "search_vector_field", K_STR, F(search_vector_field), "embedding", 1, 0,
      NULL, NULL, NULL, "FIELD", "vector field of the index" },
    { "embedding_deployment", K_STR, F(embedding_deployment), NULL, 0, 0, NULL,
      "AZURE_OPENAI_EMB_DEPLOYMENT", NULL, "NAME", "embedding deployment (or"
      " model); empty = text search only" },
    { "embedding_dimensions", K_INT, F(embedding_dimensions), "0", 0, 3072,
      NULL, "AZURE_OPENAI_EMB_DIMENSIONS", NULL, "N",
      "dimensions asked of the embedding model; 0 = its own" },
};

const size_t cfg_nkeys = sizeof(cfg_keys) / sizeof(cfg_keys[0]);
_Static_assert(sizeof(cfg_keys) / sizeof(cfg_keys[0]) <= CFG_MAX_KEYS,
               "raise CFG_MAX_KEYS");

/* Sections the file may use; keys at top level are accepted too. Later
 * settings groups add their section here. */
static const char *const sections[] = { "llmfork" };

void cfg_report(struct cfg_loader *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(L->err, fmt, ap);
    va_end(ap);
    fputc('\n', L->err);
    L->nerr++;
}

__attribute__((format(printf, 3, 4)))
static int bad(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return -1;
}

static int check_provider(const char *item, char *msg, size_t len)
{
    static const char *const names[] = { "mock", "azure", "azure-v1", "openai" };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(item, names[i]) == 0)
            return 0;
    return bad(msg, len, "unknown provider '%s' (mock, azure, azure-v1, openai)",
               item);
}

static int check_rag(const char *item, char *msg, size_t len)
{
    if (strcmp(item, "none") == 0 || strcmp(item, "search") == 0)
        return 0;
    return bad(msg, len, "unknown rag mode '%s' (none, search)", item);
}

/* A failover endpoint: an http(s) URL, optionally "*WEIGHT" (1-100). */
static int check_endpoint(const char *item, char *msg, size_t len)
{
    const char *star = strrchr(item, '*');
    char *end;

    if (strncmp(item, "https://", 8) != 0 && strncmp(item, "http://", 7) != 0)
        return bad(msg, len, "endpoint '%s' is not an http(s) URL", item);
    if (star && (strtol(star + 1, &end, 10) < 1 ||
                 strtol(star + 1, NULL, 10) > 100 || *end != '\0' ||
                 !isdigit((unsigned char)star[1])))
        return bad(msg, len, "endpoint '%s': the weight after '*' must be"
                   " 1-100", item);
    return 0;
}

/* ---- values ---------------------------------------------------------- */

static int check_bind(const char *item, char *msg, size_t len)
{
    char why[160];
    if (addr_check(item, why, sizeof(why)) == 0)
        return 0;
    return bad(msg, len, "bad address '%s': %s", item, why);
}

/* "*", an IP, or a network "IP/PREFIX" */
static int check_ip(const char *item, char *msg, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    unsigned char buf[sizeof(struct in6_addr)];
    const char *slash = strchr(item, '/');
    size_t n = slash ? (size_t)(slash - item) : strlen(item);
    int family = memchr(item, ':', n) ? AF_INET6 : AF_INET;
    int maxbits = family == AF_INET6 ? 128 : 32;
    char *end;

    if (strcmp(item, "*") == 0)
        return 0;
    if (n < sizeof(ip)) {
        memcpy(ip, item, n);
        ip[n] = '\0';
        if (inet_pton(family, ip, buf) == 1 && slash == NULL)
            return 0;
        if (inet_pton(family, ip, buf) == 1 && isdigit((unsigned char)slash[1])
            && strtol(slash + 1, &end, 10) <= maxbits && *end == '\0')
            return 0;
    }
    return bad(msg, len, "bad IP address or network '%s'", item);
}

static int parse_long(const char *v, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(v, &end, 10);
    return (end == v || *end != '\0' || errno != 0) ? -1 : 0;
}

static int in_range(const struct cfg_key *k, const char *v, long n, char *msg, size_t len)
{
    if (n >= k->min && n <= k->max)
        return 0;
    return bad(msg, len, "%s out of range (%ld..%ld)", v, k->min, k->max);
}

static int parse_size(const struct cfg_key *k, const char *v, long *out,
                      char *msg, size_t len)
{
    char *end;
    int shift = 0;

    errno = 0;
    long n = strtol(v, &end, 10);
    if (end != v && *end != '\0' && end[1] == '\0') {
        const char *units = "kmg";
        const char *u = strchr(units, tolower((unsigned char)*end));
        shift = u ? 10 * (int)(u - units + 1) : -1;
        end += u != NULL;
    }
    if (end == v || *end != '\0' || shift < 0 || n < 0)
        return bad(msg, len, "expected a size in bytes (like 65536 or 64k),"
                   " got '%s'", v);
    if (errno != 0 || n > (LONG_MAX >> shift))
        return bad(msg, len, "%s out of range (%ld..%ld)", v, k->min, k->max);
    *out = n << shift;
    return in_range(k, v, *out, msg, len);
}

static int parse_bool(const char *v, int *out, char *msg, size_t len)
{
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "0", "false", "no", "off" };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *out = strcasecmp(v, yes[i]) == 0;
            return 0;
        }
    }
    return bad(msg, len, "expected true or false, got '%s'", v);
}

static void list_clear(struct cfg_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int list_add(struct cfg_list *l, const char *item)
{
    char *s = strdup(item);
    char **v = s ? realloc(l->v, sizeof(*v) * (size_t)(l->n + 1)) : NULL;
    if (v == NULL) {
        free(s);
        return -1;
    }
    v[l->n++] = s;
    l->v = v;
    return 0;
}

/* Lists split on commas and blanks. A source at a higher level replaces
 * the list; more values at the same level (bind lines, -b flags) add. */
static int set_list(struct cfg_loader *L, const struct cfg_key *k, const char *v,
                    char *msg, size_t len)
{
    struct cfg_list *l = (struct cfg_list *)((char *)L->c + k->off);
    size_t ki = (size_t)(k - cfg_keys);
    char *copy = strdup(v), *save = NULL;
    int rc = 0, count = 0;

    if (copy == NULL)
        return bad(msg, len, "out of memory");
    if (L->set_at[ki] < (int)L->level)
        list_clear(l);
    L->set_at[ki] = (int)L->level;
    for (char *t = strtok_r(copy, ", \t\r\n", &save); t != NULL && rc == 0;
         t = strtok_r(NULL, ", \t\r\n", &save), count++) {
        if (k->check != NULL && k->check(t, msg, len) < 0)
            rc = -1;
        else if (k->max > 0 && l->n >= k->max)
            rc = bad(msg, len, "too many values (at most %ld)", k->max);
        else if (list_add(l, t) < 0)
            rc = bad(msg, len, "out of memory");
    }
    free(copy);
    if (rc == 0 && count < k->min)
        rc = bad(msg, len, "must not be empty");
    return rc;
}

static int set_str(const struct cfg_key *k, char **field, const char *v,
                   char *msg, size_t len)
{
    char *s = NULL;

    if (*v == '\0' && k->min > 0)
        return bad(msg, len, "must not be empty");
    if (*v != '\0' && k->check != NULL && k->check(v, msg, len) < 0)
        return -1;
    if (*v != '\0' && (s = strdup(v)) == NULL)
        return bad(msg, len, "out of memory");
    free(*field);
    *field = s;
    return 0;
}

static int set_int_like(const struct cfg_key *k, int *field, const char *v,
                        char *msg, size_t len)
{
    long n;

    switch (k->type) {
    case K_WORKERS:
        if (strcmp(v, "auto") == 0) {
            *field = CFG_WORKERS_AUTO;
            return 0;
        }
        if (parse_long(v, &n) < 0)
            return bad(msg, len, "expected a number of workers or 'auto', got '%s'", v);
        break;
    case K_MODE:
        if (*v == '\0' || v[strspn(v, "01234567")] != '\0' || strlen(v) > 6)
            return bad(msg, len, "expected an octal mode like 0660, got '%s'", v);
        n = strtol(v, NULL, 8);
        break;
    case K_LEVEL:
        if ((n = log_level_parse(v)) < 0)
            return bad(msg, len, "expected debug, info, warning, error or"
                       " critical, got '%s'", v);
        *field = (int)n;
        return 0;
    case K_BOOL:
        return parse_bool(v, field, msg, len);
    default:
        if (parse_long(v, &n) < 0)
            return bad(msg, len, "expected an integer, got '%s'", v);
        break;
    }
    if (in_range(k, v, n, msg, len) < 0)
        return -1;
    *field = (int)n;
    return 0;
}

void cfg_set_value(struct cfg_loader *L, const struct cfg_key *k,
                   const char *v, const char *where)
{
    char msg[384];
    void *field = (char *)L->c + k->off;
    int rc;

    switch (k->type) {
    case K_LIST:
        rc = set_list(L, k, v, msg, sizeof(msg));
        break;
    case K_STR:
        rc = set_str(k, field, v, msg, sizeof(msg));
        break;
    case K_SIZE:
        rc = parse_size(k, v, field, msg, sizeof(msg));
        break;
    default:
        rc = set_int_like(k, field, v, msg, sizeof(msg));
        break;
    }
    if (rc < 0)
        cfg_report(L, "%s: %s", where, msg);
}

static const struct cfg_key *key_find(const char *name)
{
    for (size_t i = 0; i < cfg_nkeys; i++)
        if (strcmp(cfg_keys[i].name, name) == 0)
            return &cfg_keys[i];
    return NULL;
}

/* ---- the file -------------------------------------------------------- */

static int section_known(const char *name)
{
    if (*name == '\0')
        return 1;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        if (strcmp(sections[i], name) == 0)
            return 1;
    return 0;
}

/* libinih reports only its first malformed line and gives handlers no line
 * number, so every line passes through here first: it is counted, and
 * checked the way libinih will read it, so that all problems are reported
 * with their lines. */
static void malformed(struct cfg_loader *L, const char *what)
{
    cfg_report(L, "%s:%d: %s", L->file, L->line, what);
    if (L->first_syntax == 0)
        L->first_syntax = L->line;
}

/* libinih's own rule: the first of chars, or of an inline ';' comment
 * that follows a blank. */
static char *find_or_comment(char *s, const char *chars)
{
    int was_space = 0;

    while (*s != '\0' && !strchr(chars, *s) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

static void scan_line(struct cfg_loader *L, char *raw)
{
    char *s = raw;

    if (L->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    s += strspn(s, " \t\r\n");
    if (*s == '\0' || *s == ';' || *s == '#')
        return;
    if (s > raw && L->prev_key)
        return;                 /* continuation line */
    if (*s == '[') {
        char *end = find_or_comment(s + 1, "]");
        if (*end != ']') {
            malformed(L, "missing ']' in section header");
            return;
        }
        L->prev_key = 0;
        *end = '\0';
        if (!section_known(s + 1))
            cfg_report(L, "%s:%d: unknown section [%s]", L->file, L->line, s + 1);
        *end = ']';
        return;
    }
    char *sep = find_or_comment(s, "=:");
    if (*sep != '=' && *sep != ':') {
        malformed(L, "expected KEY = VALUE");
        return;
    }
    L->prev_key = 1;
}

static char *read_line(char *buf, int size, void *stream)
{
    struct cfg_loader *L = stream;
    int ch;

    if (fgets(buf, size, L->fp) == NULL)
        return NULL;
    L->line++;
    size_t n = strlen(buf);
    if (n == (size_t)size - 1 && buf[n - 1] != '\n' && !feof(L->fp)) {
        while ((ch = fgetc(L->fp)) != EOF && ch != '\n')
            ;
        cfg_report(L, "%s:%d: line too long (at most %d characters)",
               L->file, L->line, size - 2);
        buf[0] = '\0';          /* libinih sees a blank line */
        return buf;
    }
    scan_line(L, buf);
    return buf;
}

/* Never returns 0: problems are reported here with their line, and
 * libinih's own error line then means only a malformed line. */
static int on_pair(void *user, const char *section, const char *name,
                   const char *value)
{
    struct cfg_loader *L = user;
    char where[PATH_MAX + 128];

    if (!section_known(section))
        return 1;               /* reported once, at the header */
    const struct cfg_key *k = key_find(name);
    if (k == NULL) {
        cfg_report(L, "%s:%d: unknown key '%s'", L->file, L->line, name);
        return 1;
    }
    snprintf(where, sizeof(where), "%s:%d: %s", L->file, L->line, name);
    cfg_set_value(L, k, value, where);
    return 1;
}

static void load_file(struct cfg_loader *L, const char *path)
{
    L->file = path;
    L->fp = fopen(path, "r");
    if (L->fp == NULL) {
        cfg_report(L, "%s: cannot open: %s", path, strerror(errno));
        return;
    }
    int rc = ini_parse_stream(read_line, L, on_pair, L);
    if (rc < 0)
        cfg_report(L, "%s: cannot read: out of memory", path);
    else if (rc > 0 && rc != L->first_syntax)
        cfg_report(L, "%s:%d: syntax error", path, rc);
    if (ferror(L->fp))
        cfg_report(L, "%s: cannot read: %s", path, strerror(errno));
    fclose(L->fp);
    L->fp = NULL;
}

/* ---- defaults and environment ---------------------------------------- */

static void load_defaults(struct cfg_loader *L)
{
    L->level = LV_DEFAULT;
    for (size_t i = 0; i < cfg_nkeys; i++)
        if (cfg_keys[i].def != NULL)
            cfg_set_value(L, &cfg_keys[i], cfg_keys[i].def, cfg_keys[i].name);
}

static void env_one(struct cfg_loader *L, const struct cfg_key *k, const char *name)
{
    const char *v = getenv(name);
    char where[96];

    if (v == NULL || *v == '\0')    /* set-but-empty counts as unset */
        return;
    snprintf(where, sizeof(where), "environment %s", name);
    cfg_set_value(L, k, v, where);
}

static void load_env(struct cfg_loader *L)
{
    char name[64];
    size_t t;

    L->level = LV_ENV;
    for (size_t i = 0; i < cfg_nkeys; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        size_t n = (size_t)snprintf(name, sizeof(name), "LLMFORK_%s", k->name);
        for (size_t j = 8; j < n && j < sizeof(name); j++)
            name[j] = (char)toupper((unsigned char)name[j]);
        for (const char *e = k->env, *w; cfg_next_word(&e, &w, &t); ) {
            char other[64];
            snprintf(other, sizeof(other), "%.*s", (int)t, w);
            env_one(L, k, other);
        }
        env_one(L, k, name);
    }
}

/* ---- public ---------------------------------------------------------- */

static void load_all(struct cfg_loader *L, const struct cfg_cli *cl)
{
    const char *path = cl->config ? cl->config : getenv("LLMFORK_CONFIG");

    load_defaults(L);
    if (path != NULL && *path != '\0') {
        L->c->config_path = strdup(path);
        if (L->c->config_path == NULL)
            cfg_report(L, "out of memory");
        L->level = LV_FILE;
        load_file(L, path);
    }
    load_env(L);
    cfg_cli_apply(L, cl);
}

int cfg_load(struct cfg *c, int argc, char **argv, char **errors)
{
    struct cfg_loader L = { .c = c };
    struct cfg_cli cl = { 0 };

    memset(c, 0, sizeof(*c));
    *errors = NULL;
    for (size_t i = 0; i < cfg_nkeys; i++)
        L.set_at[i] = -1;
    L.err = open_memstream(&L.errbuf, &L.errlen);
    cl.ops = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*cl.ops));
    if (L.err == NULL || cl.ops == NULL) {
        if (L.err != NULL)
            fclose(L.err);
        free(L.errbuf);
        free(cl.ops);
        *errors = strdup("out of memory\n");
        return 1;
    }
    cfg_cli_parse(&L, &cl, argc, argv);
    c->action = cl.action;
    if (cl.action == CFG_HELP || cl.action == CFG_VERSION)
        L.nerr = 0;             /* asked for help: give it whatever is wrong */
    else
        load_all(&L, &cl);
    free(cl.ops);
    fclose(L.err);
    if (L.nerr == 0) {
        free(L.errbuf);
        return 0;
    }
    cfg_free(c);
    *errors = L.errbuf;
    return L.nerr;
}

int cfg_workers(const struct cfg *c)
{
    if (c->workers != CFG_WORKERS_AUTO)
        return c->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

void cfg_free(struct cfg *c)
{
    for (size_t i = 0; i < cfg_nkeys; i++) {
        void *field = (char *)c + cfg_keys[i].off;
        if (cfg_keys[i].type == K_STR)
            free(*(char **)field);
        else if (cfg_keys[i].type == K_LIST)
            list_clear(field);
    }
    free(c->config_path);
    memset(c, 0, sizeof(*c));
}
