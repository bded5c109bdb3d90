/*
 * content — GET /content/<path>: the files the azure-search-openai-demo's
 * answers cite ([Benefit_Options.pdf#page=2]), which its web app opens
 * in its citation panel. As the sample's content_file route: the path
 * is URL-decoded, a "#page=N" part (sent encoded as %23page=N) is dropped,
 * and the file comes with its content type:
 *
 *   content_dir (LLMFORK_CONTENT_DIR)  from that folder, with the static
 *       app's guarantees (static.h: nothing outside the folder, whether by
 *       "..", encoded dots or separators, dot-files or symlinks; ETag and
 *       304s); every refusal is the same 404
 *   else AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_CONTAINER   from the blob
 *       container, streamed, with the client's Range (blob.h)
 *
 * With neither, the route is not there (404).
 *
 * Ownership: the app's state (the folder's realpath or the struct blob)
 * is built at startup and freed at shutdown.
 */
#ifndef LLMFORK_CONTENT_H
#define LLMFORK_CONTENT_H

#include <stddef.h>

/* Drops the page part of a decoded citation path in place, as the
 * sample's path.rsplit("#page=", 1) when it is not at the start:
 * "a.pdf#page=2" -> "a.pdf". */
void content_drop_page(char *path);

#endif
