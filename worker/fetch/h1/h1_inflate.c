/* h1_inflate — see h1_inflate.h. */
#include "worker/fetch/h1/h1_inflate.h"

#include <stdlib.h>
#include <strings.h>

#include <zlib.h>

struct h1_inflate {
    z_stream z;
    int may_be_raw; /* "deflate": raw if the header is wrong */
    int ended;
};

static unsigned char out_buf[16384];

struct h1_inflate *h1_inflate_new(const char *coding, const char **why)
{
    struct h1_inflate *d;

    *why = NULL;
    if (coding == NULL || *coding == '\0' ||
        strcasecmp(coding, "identity") == 0)
        return NULL;
    if (strcasecmp(coding, "gzip") != 0 && strcasecmp(coding, "x-gzip") != 0 &&
        strcasecmp(coding, "deflate") != 0) {
        *why = "upstream sent a body in a coding llmfork cannot decode";
        return NULL;
    }
    if ((d = calloc(1, sizeof *d)) == NULL ||
        inflateInit2(&d->z, 15 + 32) != Z_OK) { /* zlib or gzip header */
        free(d);
        *why = "out of memory";
        return NULL;
    }
    d->may_be_raw = strcasecmp(coding, "deflate") == 0;
    return d;
}

int h1_inflate_feed(struct h1_inflate *d, const char *p, size_t n,
                    int (*out)(void *arg, const char *p, size_t n),
                    void *arg)
{
    z_stream *z = &d->z;

    z->next_in = (Bytef *)p;
    z->avail_in = (uInt)n;
    while (z->avail_in > 0 && !d->ended) {
        int rc;

        z->next_out = out_buf;
        z->avail_out = sizeof out_buf;
        rc = inflate(z, Z_NO_FLUSH);
        if (rc == Z_DATA_ERROR && d->may_be_raw && z->total_out == 0) {
            /* "deflate" without its zlib header: curl tries raw too */
            d->may_be_raw = 0;
            if (inflateReset2(z, -15) != Z_OK)
                return -2;
            z->next_in = (Bytef *)p;
            z->avail_in = (uInt)n;
            continue;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            return -2;
        d->may_be_raw = 0;
        d->ended = rc == Z_STREAM_END;
        if (z->avail_out < sizeof out_buf &&
            out(arg, (const char *)out_buf, sizeof out_buf - z->avail_out))
            return -1;
        if (rc == Z_BUF_ERROR)
            break;
    }
    return 0;
}

void h1_inflate_free(struct h1_inflate *d)
{
    if (d == NULL)
        return;
    inflateEnd(&d->z);
    free(d);
}
