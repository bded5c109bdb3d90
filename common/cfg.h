/*
 * cfg — every setting, its default, and where it may come from.
 *
 * Precedence, lowest first: built-in defaults < config file (INI, libinih)
 * < environment (LLMFORK_<KEY>, plus WEB_CONCURRENCY for workers and the
 * Azure/OpenAI names listed in cfg.c) < command line. Names follow
 * Gunicorn where Gunicorn has the setting (bind, workers, timeout,
 * graceful_timeout, keepalive, limit_request_*, max_requests, ...).
 *
 * Errors are reported as "FILE:LINE: message" for the file,
 * "environment NAME: message" and "command line: message", one per line,
 * the way `nginx -t` reports them.
 *
 * Ownership: a struct cfg owns every string and list in it; cfg_free()
 * releases them. cfg_load() fills a struct the caller owns; on failure the
 * struct is freed again, so the caller's previous cfg (kept elsewhere on
 * reload) is untouched.
 */
#ifndef LLMFORK_CFG_H
#define LLMFORK_CFG_H

#include <stddef.h>

#define CFG_MAX_BINDS 16
#define CFG_WORKERS_AUTO 0

enum cfg_action { CFG_RUN,
                  CFG_CHECK,
                  CFG_VERSION,
                  CFG_HELP };

struct cfg_list {
    char **v; /* owned strings */
    int n;
};

struct cfg {
    enum cfg_action action;
    char *config_path; /* -c FILE, or NULL */

    /* server (master) */
    struct cfg_list bind;         /* addresses as text, parsed by addr_parse */
    struct cfg_list metrics_bind; /* /metrics only there; empty = on bind */
    int backlog;
    int workers;          /* CFG_WORKERS_AUTO = one per core */
    int timeout;          /* s; worker heartbeat */
    int graceful_timeout; /* s */
    int max_requests;
    int max_requests_jitter;
    char *pidfile;
    char *proc_name;
    char *user;
    char *group;
    int unix_socket_mode; /* octal in the file, e.g. 0660 */

    /* logging */
    char *errorlog;  /* "-" = stderr */
    char *accesslog; /* NULL = none, "-" = stdout */
    int loglevel;    /* enum log_level */

    /* worker HTTP limits */
    int worker_connections;
    int keepalive;             /* s, idle keep-alive */
    int client_header_timeout; /* s, whole request head must arrive */
    int limit_request_line;
    int limit_request_fields;
    int limit_request_field_size;
    long limit_request_body;
    long stream_buffer; /* bytes pending to a client before backpressure */
    struct cfg_list forwarded_allow_ips;

    /* the model provider and the apps (see worker/provider.h) */
    char *provider;                  /* mock | azure | azure-v1 | openai */
    char *azure_endpoint;            /* AZURE_OPENAI_ENDPOINT */
    char *azure_deployment;          /* AZURE_OPENAI_CHAT_DEPLOYMENT */
    char *azure_api_version;         /* AZURE_OPENAI_API_VERSION */
    char *azure_api_key;             /* AZURE_OPENAI_API_KEY, AZURE_OPENAI_KEY */
    struct cfg_list azure_endpoints; /* failover set: URL[*WEIGHT] */
    struct cfg_list azure_api_keys;  /* one per endpoint, in order */
    /* Entra ID when there is no key (worker/model/auth/entra_wire.h) */
    char *azure_tenant_id;            /* AZURE_TENANT_ID */
    char *azure_client_id;            /* AZURE_CLIENT_ID */
    char *azure_client_secret;        /* AZURE_CLIENT_SECRET */
    char *azure_authority_host;       /* AZURE_AUTHORITY_HOST */
    char *azure_federated_token_file; /* AZURE_FEDERATED_TOKEN_FILE */
    char *identity_endpoint;          /* IDENTITY_ENDPOINT (App Service) */
    char *identity_header;            /* IDENTITY_HEADER */
    char *azure_imds_host;            /* AZURE_POD_IDENTITY_AUTHORITY_HOST */
    char *openai_base_url;            /* OPENAI_BASE_URL */
    char *openai_api_key;             /* OPENAI_API_KEY */
    char *openai_model;               /* OPENAI_MODEL */
    int mock_tokens;                  /* built-in mock: tokens per answer */
    int mock_delay_ms;                /* built-in mock: ms between tokens */
    char *system_prompt;
    int max_tokens_limit;   /* bound for context.overrides.max_tokens */
    int connect_timeout;    /* s, upstream */
    int first_byte_timeout; /* s */
    int idle_timeout;       /* s, between upstream chunks */
    int total_timeout;      /* s */
    int max_retries;
    int http2;       /* bool: HTTP/2 to the upstream */
    int native_http; /* bool: fetch's own client for plain http */
    char *ca_file;
    struct cfg_list gateway_keys;
    char *responses_upstream;        /* auto | native | chat (gateway.c) */
    char *static_dir;                /* web page files; NULL = LLMFORK_WWW_DIR */
    struct cfg_list allowed_origins; /* ALLOWED_ORIGINS: CORS (cors.h) */

    /* RAG over Azure AI Search (worker/apps/chat/rag.h), the sample's names */
    char *rag;             /* none | search | postgres */
    char *search_endpoint; /* AZURE_SEARCH_ENDPOINT */
    char *search_service;  /* AZURE_SEARCH_SERVICE */
    char *search_index;    /* AZURE_SEARCH_INDEX */
    char *search_key;      /* AZURE_SEARCH_KEY; NULL = Entra token */
    char *search_api_version;
    int search_top;
    char *search_filter;          /* OData $filter, or NULL */
    char *search_semantic_config; /* NULL = no semantic ranker */
    int search_captions;          /* bool: semantic captions as sources */
    char *search_vector_field;
    char *search_content_field;    /* KB_FIELDS_CONTENT: the source's text */
    char *search_sourcepage_field; /* KB_FIELDS_SOURCEPAGE: its citation */
    char *embedding_deployment;    /* AZURE_OPENAI_EMB_DEPLOYMENT; NULL = text only */
    int embedding_dimensions;      /* AZURE_OPENAI_EMB_DIMENSIONS; 0 = model's */

    /* RAG over PostgreSQL (worker/pg/), the rag-postgres sample's names */
    char *postgres_host;             /* POSTGRES_HOST: host or socket directory */
    int postgres_port;               /* POSTGRES_PORT */
    char *postgres_username;         /* POSTGRES_USERNAME */
    char *postgres_database;         /* POSTGRES_DATABASE */
    char *postgres_password;         /* POSTGRES_PASSWORD; NULL = Entra token */
    char *postgres_ssl;              /* POSTGRES_SSL: disable|require|verify-full */
    int postgres_pool_size;          /* connections per worker */
    int postgres_statement_timeout;  /* s; 0 = none */
    char *postgres_table;            /* checked identifier */
    char *postgres_embedding_column; /* checked identifier */
    /* GET /content/<path> (worker/apps/content.h): a folder or a blob
     * container */
    char *content_dir;       /* LLMFORK_CONTENT_DIR; NULL = blobs */
    char *storage_account;   /* AZURE_STORAGE_ACCOUNT */
    char *storage_container; /* AZURE_STORAGE_CONTAINER */
    char *storage_key;       /* AZURE_STORAGE_KEY; NULL = Entra token */
    char *storage_endpoint;  /* NULL = https://ACCOUNT.blob.core.windows.net */

    /* login for /chat* (worker/apps/login.h), the sample's names */
    int use_authentication;     /* AZURE_USE_AUTHENTICATION */
    int enforce_access_control; /* AZURE_ENFORCE_ACCESS_CONTROL */
    char *server_app_id;        /* AZURE_SERVER_APP_ID: the tokens' aud */
    char *client_app_id;        /* AZURE_CLIENT_APP_ID: MSAL's clientId */
    char *auth_tenant_id;       /* AZURE_AUTH_TENANT_ID */
    char *auth_authority_host;  /* where the tenant's keys are fetched */
};

/* Fills c: defaults, then the file named by -c (or LLMFORK_CONFIG), then
 * the environment, then argv (argv[0] is skipped). Returns 0 when all is
 * valid. Otherwise returns the number of problems, sets *errors to a
 * malloc'd text of "WHERE: message\n" lines (caller frees) and leaves c
 * freed. With --help/--version, c->action says so and 0 is returned. */
int cfg_load(struct cfg *c, int argc, char **argv, char **errors);

/* Workers to run: resolves CFG_WORKERS_AUTO to the number of online CPUs. */
int cfg_workers(const struct cfg *c);

void cfg_free(struct cfg *c);

/* The --help text. */
const char *cfg_usage(void);

/* The i-th setting's key (0-based), or NULL past the last: for listings
 * such as a debug dump of the configuration, and for tests. */
const char *cfg_key_name(int i);

/* Writes setting i of c into buf as it would be written in the config
 * file: lists joined with ',', an unset string as "". */
void cfg_value_text(const struct cfg *c, int i, char *buf, size_t n);

#endif
