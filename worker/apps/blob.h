/*
 * blob — GET of one blob from Azure Blob Storage, streamed to a client
 * on the worker's loop (the /content route's second source, content.h):
 *
 *   GET {storage_endpoint or https://ACCOUNT.blob.core.windows.net}/
 *       {container}/{blob}      x-ms-version BLOB_API_VERSION, x-ms-date,
 *                               the client's Range passed on
 *
 * Auth: AZURE_STORAGE_KEY (Shared Key: "Authorization: SharedKey
 * ACCOUNT:SIG", SIG the base64 HMAC-SHA256 under the decoded key of the
 * string blob_string_to_sign builds), else an Entra ID token for
 * ENTRA_SCOPE_STORAGE from the worker's credential (entra.h).
 *
 * The reply: 200 or 206 with the blob's Content-Type (when the blob has
 * none, or application/octet-stream, the type its name's extension says,
 * as the sample's mimetypes.guess_type does), Content-Range,
 * Accept-Ranges, ETag and Last-Modified passed through, the body streamed
 * as it arrives: a slow client pauses the download, a client that leaves
 * cancels it. 404 {"error"} for a missing blob or container, 416 passed
 * on, and 502 for anything else (a refused credential, a service that
 * cannot be reached), with the reason in the log.
 *
 * Ownership: struct blob (one per worker, content.c's) owns its base URL,
 * the decoded key and a reference to the worker's struct entra. Each
 * download (internal) is owned by this module from blob_serve until the
 * client response has ended and the transfer is over; it never outlives
 * its request. The strings blob_string_to_sign returns are the caller's.
 */
#ifndef LLMFORK_BLOB_H
#define LLMFORK_BLOB_H

#include <stddef.h>

#include "worker/server/http.h"

#define BLOB_API_VERSION "2023-11-03"
#define ENTRA_SCOPE_STORAGE "https://storage.azure.com/.default"

struct cfg;
struct blob;

/* NULL with err "" when no storage account is set; NULL with err for
 * settings half there (no container, a key that is not base64, no
 * credential for tokens). */
struct blob *blob_open(const struct cfg *c, char *err, size_t errlen);
void blob_close(struct blob *b);

/* Answers r with the blob name (decoded, as static_clean_path gives it). */
void blob_serve(struct blob *b, struct http_req *r, const char *name);

/* Shared Key's string to sign for a GET with no body (Blob service,
 * version 2009-09-19 and later): the verb, eleven standard headers (only
 * Range set), the x-ms- headers sorted, and "/ACCOUNT" + path (as sent,
 * percent-encoded). range may be NULL. Returns malloc'd text or NULL. */
char *blob_string_to_sign(const char *range, const char *date,
                          const char *version, const char *account,
                          const char *path);

/* base64(HMAC-SHA256(key, sts)) into out (>= 45 bytes). Returns 0 or -1. */
int blob_sign(const unsigned char *key, size_t keylen, const char *sts,
              char *out, size_t cap);

#endif
