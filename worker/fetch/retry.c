/* retry — see retry.h. */
#include "worker/fetch/retry.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

#include <curl/curl.h>

int retry_status(int status, const char *should_retry)
{
    if (should_retry != NULL) {
        if (strcasecmp(should_retry, "true") == 0)
            return 1;
        if (strcasecmp(should_retry, "false") == 0)
            return 0;
    }
    switch (status) {
    case 408:
    case 409:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return 1;
    default:
        return 0;
    }
}

/* A non-negative decimal number filling the whole value (surrounding
 * blanks allowed), or -1. */
static double parse_number(const char *v)
{
    char *end;
    double d;

    while (isspace((unsigned char)*v))
        v++;
    if (!isdigit((unsigned char)*v))
        return -1;
    d = strtod(v, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0' || !isfinite(d))
        return -1;
    return d;
}

/* Clamps before converting: a huge header must not overflow a long. */
static long to_ms(double ms)
{
    return ms > 1e12 ? (long)1e12 : (long)ms;
}

long retry_after_ms_parse(const char *value)
{
    double d;

    if (value == NULL)
        return -1;
    d = parse_number(value);
    return d < 0 ? -1 : to_ms(d);
}

long retry_after_parse(const char *value, time_t now)
{
    double d;
    time_t when;

    if (value == NULL)
        return -1;
    d = parse_number(value);
    if (d >= 0)
        return to_ms(d * 1000.0);
    when = curl_getdate(value, NULL);
    if (when == -1)
        return -1;
    return when <= now ? 0 : to_ms((double)(when - now) * 1000.0);
}

long retry_backoff_ms(int n, double rnd)
{
    double ms;

    if (n < 0)
        n = 0;
    if (n > 30)
        n = 30;
    ms = (double)RETRY_BASE_MS * (double)(1L << n);
    if (ms > RETRY_MAX_DELAY_MS)
        ms = RETRY_MAX_DELAY_MS;
    return (long)(ms * (1.0 - 0.25 * rnd));
}

long retry_delay_ms(const char *retry_after_ms, const char *retry_after,
                    int n, time_t now, double rnd)
{
    long ms = retry_after_ms_parse(retry_after_ms);

    if (ms < 0)
        ms = retry_after_parse(retry_after, now);
    if (ms > 0 && ms <= RETRY_AFTER_MAX_MS)
        return ms;
    return retry_backoff_ms(n, rnd);
}
