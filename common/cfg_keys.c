/*
 * cfg__keys — the settings table: one row per setting (file key, type,
 * field, default as text, bounds, other environment names, other
 * command-line spellings, --help text), and the value checks rows name.
 * cfg.c reads it; adding a setting is one row here, its field in struct
 * cfg and its line in etc/llmfork.conf (tests/unit/common/test_cfg checks that).
 */
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "common/addr.h"
#include "common/cfg_int.h"

static int check_bind(const char *item, char *msg, size_t len);
static int check_ip(const char *item, char *msg, size_t len);
static int check_provider(const char *item, char *msg, size_t len);
static int check_endpoint(const char *item, char *msg, size_t len);
static int check_rag(const char *item, char *msg, size_t len);
static int check_pg_ssl(const char *item, char *msg, size_t len);
static int check_ident(const char *item, char *msg, size_t len);
static int check_responses(const char *item, char *msg, size_t len);
static int check_origin(const char *item, char *msg, size_t len);

#define F(field) offsetof(struct cfg, field)

const struct cfg_key cfg__keys[] = {
    { "bind", K_LIST, F(bind), "127.0.0.1:8000", 1, CFG_MAX_BINDS, check_bind,
      NULL, "-b", "ADDR", "listen on HOST:PORT, [v6]:PORT, PORT,"
                          " unix:/path or fd://N; repeatable" },
    { "metrics_bind", K_LIST, F(metrics_bind), NULL, 0, CFG_MAX_BINDS,
      check_bind, NULL, NULL, "ADDR", "serve /metrics (and /healthz, /readyz)"
                                      " only on these addresses, not on bind; empty = on bind" },
    { "backlog", K_INT, F(backlog), "2048", 1, 65535, NULL, NULL, NULL, "N",
      "listen queue length" },
    { "workers", K_WORKERS, F(workers), "auto", 1, CFG_MAX_WORKERS, NULL,
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

    /* where the model is (worker/model/model.h) */
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
                                                              " for the deployment, URL[*WEIGHT] each (a URL may end in"
                                                              " /openai/deployments/NAME); replaces azure_endpoint" },
    { "azure_api_keys", K_LIST, F(azure_api_keys), NULL, 0, 16, NULL,
      "AZURE_OPENAI_API_KEYS", NULL, "KEYS", "an api-key per azure_endpoints"
                                             " item, in order (endpoints in several resources); replaces"
                                             " azure_api_key for chat calls" },
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
    { "native_http", K_BOOL, F(native_http), "true", 0, 0, NULL, NULL, NULL,
      "BOOL", "plain-http upstreams on an IP address or localhost through "
              "llmfork's own HTTP/1.1 client; false = libcurl for every call" },
    { "ca_file", K_STR, F(ca_file), NULL, 0, 0, NULL, NULL, NULL, "FILE",
      "CA bundle for upstream TLS; default: the system's" },
    { "responses_upstream", K_STR, F(responses_upstream), "auto", 1, 0,
      check_responses, NULL, NULL, "MODE", "how /v1/responses reaches the "
                                           "provider: native, chat (translated) or auto (native for openai and "
                                           "azure-v1)" },
    { "gateway_keys", K_LIST, F(gateway_keys), NULL, 0, 0, NULL, NULL, NULL,
      "KEYS", "keys clients of /v1 and /openai must send; none = open" },
    { "allowed_origins", K_LIST, F(allowed_origins), NULL, 0, 0,
      check_origin, "ALLOWED_ORIGINS", NULL, "ORIGINS", "web origins (scheme"
                                                        "://host[:port]) allowed to call the API from a browser (CORS); * ="
                                                        " any; none = no CORS headers" },
    { "static_dir", K_STR, F(static_dir), NULL, 0, 0, NULL, NULL, NULL, "DIR",
      "files served at / (the web page); empty = the page shipped with llmfork" },

    /* RAG over Azure AI Search (worker/apps/chat/rag.h) */
    { "rag", K_STR, F(rag), "none", 1, 0, check_rag, NULL, NULL, "MODE",
      "none, search (Azure AI Search) or postgres (a product table):"
      " ground /chat answers in it" },
    { "search_endpoint", K_STR, F(search_endpoint), NULL, 0, 0, NULL,
      "AZURE_SEARCH_ENDPOINT", NULL, "URL", "https://NAME.search.windows.net" },
    { "search_service", K_STR, F(search_service), NULL, 0, 0, NULL,
      "AZURE_SEARCH_SERVICE", NULL, "NAME", "sets the endpoint when it is"
                                            " empty" },
    { "search_index", K_STR, F(search_index), NULL, 0, 0, NULL,
      "AZURE_SEARCH_INDEX", NULL, "NAME", "index to search" },
    { "search_key", K_STR, F(search_key), NULL, 0, 0, NULL,
      "AZURE_SEARCH_KEY", NULL, "KEY", "api-key header; empty = an Entra ID"
                                       " token for https://search.azure.com (the model's credential)" },
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
    { "search_content_field", K_STR, F(search_content_field), "content", 1, 0,
      NULL, "KB_FIELDS_CONTENT", NULL, "FIELD", "field holding a source's"
                                                " text" },
    { "search_sourcepage_field", K_STR, F(search_sourcepage_field),
      "sourcepage", 1, 0, NULL, "KB_FIELDS_SOURCEPAGE", NULL, "FIELD",
      "field naming a source (its [citation])" },
    { "embedding_deployment", K_STR, F(embedding_deployment), NULL, 0, 0, NULL,
      "AZURE_OPENAI_EMB_DEPLOYMENT", NULL, "NAME", "embedding deployment (or"
                                                   " model); empty = text search only" },
    { "embedding_dimensions", K_INT, F(embedding_dimensions), "0", 0, 3072,
      NULL, "AZURE_OPENAI_EMB_DIMENSIONS", NULL, "N",
      "dimensions asked of the embedding model; 0 = its own" },

    /* RAG over PostgreSQL (worker/pg/), rag-postgres-openai-python's names */
    { "postgres_host", K_STR, F(postgres_host), NULL, 0, 0, NULL,
      "POSTGRES_HOST", NULL, "HOST", "server host name, or a unix socket"
                                     " directory (/run/postgresql)" },
    { "postgres_port", K_INT, F(postgres_port), "5432", 1, 65535, NULL,
      "POSTGRES_PORT", NULL, "PORT", "server port" },
    { "postgres_username", K_STR, F(postgres_username), NULL, 0, 0, NULL,
      "POSTGRES_USERNAME", NULL, "USER", "role to log in as" },
    { "postgres_database", K_STR, F(postgres_database), NULL, 0, 0, NULL,
      "POSTGRES_DATABASE", NULL, "NAME", "database" },
    { "postgres_password", K_STR, F(postgres_password), NULL, 0, 0, NULL,
      "POSTGRES_PASSWORD", NULL, "PASSWORD", "empty = an Entra ID token for"
                                             " Azure Database for PostgreSQL (the model's credential)" },
    { "postgres_ssl", K_STR, F(postgres_ssl), "require", 1, 0, check_pg_ssl,
      "POSTGRES_SSL", NULL, "MODE", "disable, require or verify-full" },
    { "postgres_pool_size", K_INT, F(postgres_pool_size), "4", 1, 256, NULL,
      NULL, NULL, "N", "connections per worker" },
    { "postgres_statement_timeout", K_INT, F(postgres_statement_timeout),
      "10", 0, 3600, NULL, NULL, NULL, "S", "the server cancels a query"
                                            " running longer; 0 = never" },
    { "postgres_table", K_STR, F(postgres_table), "items", 1, 0, check_ident,
      NULL, NULL, "NAME", "the product table" },
    { "postgres_embedding_column", K_STR, F(postgres_embedding_column),
      "embedding_3l", 1, 0, check_ident, "AZURE_OPENAI_EMBEDDING_COLUMN",
      NULL, "NAME", "the vector column (embedding_3l or embedding_nomic)" },
    /* GET /content/<path> (worker/apps/content.h) */
    { "content_dir", K_STR, F(content_dir), NULL, 0, 0, NULL, NULL, NULL,
      "DIR", "files cited as [file#page=N], served at /content/file; empty"
             " = from the blob container" },
    { "storage_account", K_STR, F(storage_account), NULL, 0, 0, NULL,
      "AZURE_STORAGE_ACCOUNT", NULL, "NAME", "blob storage account of the"
                                             " cited files" },
    { "storage_container", K_STR, F(storage_container), NULL, 0, 0, NULL,
      "AZURE_STORAGE_CONTAINER", NULL, "NAME", "blob container of the cited"
                                               " files" },
    { "storage_key", K_STR, F(storage_key), NULL, 0, 0, NULL,
      "AZURE_STORAGE_KEY", NULL, "KEY", "account key (Shared Key); empty ="
                                        " an Entra ID token for https://storage.azure.com" },
    { "storage_endpoint", K_STR, F(storage_endpoint), NULL, 0, 0, NULL, NULL,
      NULL, "URL", "blob service URL; empty ="
                   " https://ACCOUNT.blob.core.windows.net" },

    /* login for /chat and /chat/stream (worker/apps/login.h) */
    { "use_authentication", K_BOOL, F(use_authentication), "false", 0, 0,
      NULL, "AZURE_USE_AUTHENTICATION", NULL, "BOOL", "/chat* need an Entra"
                                                      " ID access token (Authorization: Bearer)" },
    { "enforce_access_control", K_BOOL, F(enforce_access_control), "false", 0,
      0, NULL, "AZURE_ENFORCE_ACCESS_CONTROL", NULL, "BOOL", "searches see"
                                                             " only the documents whose oids or groups name the user" },
    { "server_app_id", K_STR, F(server_app_id), NULL, 0, 0, NULL,
      "AZURE_SERVER_APP_ID", NULL, "ID", "the API's app registration: the"
                                         " tokens' audience" },
    { "client_app_id", K_STR, F(client_app_id), NULL, 0, 0, NULL,
      "AZURE_CLIENT_APP_ID", NULL, "ID", "the web page's app registration"
                                         " (MSAL clientId)" },
    { "auth_tenant_id", K_STR, F(auth_tenant_id), NULL, 0, 0, NULL,
      "AZURE_AUTH_TENANT_ID", NULL, "ID", "tenant that signs the users'"
                                          " tokens" },
    { "auth_authority_host", K_STR, F(auth_authority_host),
      "https://login.microsoftonline.com", 1, 0, NULL, NULL, NULL, "URL",
      "authority of the login and of the tenant's signing keys" },
};

const size_t cfg__nkeys = sizeof(cfg__keys) / sizeof(cfg__keys[0]);
_Static_assert(sizeof(cfg__keys) / sizeof(cfg__keys[0]) <= CFG_MAX_KEYS,
               "raise CFG_MAX_KEYS");

/* item is one of names (NULL-terminated), or the error names them all:
 * "unknown WHAT 'x' (a, b, c)". */
static int check_one_of(const char *item, const char *what,
                        const char *const *names, char *msg, size_t len)
{
    char list[128] = "";

    for (const char *const *n = names; *n; n++) {
        if (strcmp(item, *n) == 0)
            return 0;
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                 n == names ? "" : ", ", *n);
    }
    return cfg__bad(msg, len, "unknown %s '%s' (%s)", what, item, list);
}

static int check_provider(const char *item, char *msg, size_t len)
{
    static const char *const names[] = { "mock", "azure", "azure-v1",
                                         "openai", NULL };

    return check_one_of(item, "provider", names, msg, len);
}

static int check_rag(const char *item, char *msg, size_t len)
{
    static const char *const names[] = { "none", "search", "postgres", NULL };

    return check_one_of(item, "rag mode", names, msg, len);
}

static int check_pg_ssl(const char *item, char *msg, size_t len)
{
    static const char *const names[] = { "disable", "require", "verify-full",
                                         NULL };

    return check_one_of(item, "ssl mode", names, msg, len);
}

/* A table or column name, put into SQL as it is: an unquoted identifier. */
static int check_ident(const char *item, char *msg, size_t len)
{
    size_t n = strspn(item, "abcdefghijklmnopqrstuvwxyz0123456789_");

    if (item[n] == '\0' && n > 0 && n < 64 && !isdigit((unsigned char)item[0]))
        return 0;
    return cfg__bad(msg, len, "'%s' is not a plain SQL name (a-z, 0-9, _;"
                              " not starting with a digit; at most 63)",
                    item);
}

static int check_responses(const char *item, char *msg, size_t len)
{
    static const char *const names[] = { "auto", "native", "chat", NULL };

    return check_one_of(item, "responses_upstream", names, msg, len);
}

/* A browser's Origin as it sends it: scheme://host[:port], no path (a
 * trailing '/' would never match), or "*" for any origin. */
static int check_origin(const char *item, char *msg, size_t len)
{
    const char *sep = strstr(item, "://");
    size_t scheme = sep ? (size_t)(sep - item) : 0;

    if (strcmp(item, "*") == 0)
        return 0;
    if (scheme > 0 && strspn(item, "abcdefghijklmnopqrstuvwxyz0123456789+.-") == scheme && sep[3] != '\0' && strchr(sep + 3, '/') == NULL)
        return 0;
    return cfg__bad(msg, len, "expected an origin such as https://app.example"
                              ".com or http://localhost:8080 (no path), or *; got '%s'",
                    item);
}

/* A failover endpoint: an http(s) URL, optionally "*WEIGHT" (1-100). */
static int check_endpoint(const char *item, char *msg, size_t len)
{
    const char *star = strrchr(item, '*');
    char *end;

    if (strncmp(item, "https://", 8) != 0 && strncmp(item, "http://", 7) != 0)
        return cfg__bad(msg, len, "endpoint '%s' is not an http(s) URL", item);
    if (star && (strtol(star + 1, &end, 10) < 1 ||
                 strtol(star + 1, NULL, 10) > 100 || *end != '\0' ||
                 !isdigit((unsigned char)star[1])))
        return cfg__bad(msg, len, "endpoint '%s': the weight after '*' must be"
                                  " 1-100",
                        item);
    return 0;
}


static int check_bind(const char *item, char *msg, size_t len)
{
    char why[160];
    if (addr_check(item, why, sizeof(why)) == 0)
        return 0;
    return cfg__bad(msg, len, "bad address '%s': %s", item, why);
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
        int ok = inet_pton(family, ip, buf) == 1;
        if (ok && slash == NULL)
            return 0;
        if (ok && slash != NULL && isdigit((unsigned char)slash[1]) && strtol(slash + 1, &end, 10) <= maxbits && *end == '\0')
            return 0;
    }
    return cfg__bad(msg, len, "bad IP address or network '%s'", item);
}
