/* json — JSON string escaping for fixed-shape output, and strict
 * parsing (see json.h). */
#include "common/json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/str.h"

/* The escape for byte c, or NULL when c is copied as is. buf holds \u00XX. */
static const char *escape_of(unsigned char c, char buf[7])
{
    static const char hex[] = "0123456789abcdef";

    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    default:
        break;
    }
    if (c >= 0x20)
        return NULL;
    memcpy(buf, "\\u00", 4);
    buf[4] = hex[c >> 4];
    buf[5] = hex[c & 15];
    buf[6] = '\0';
    return buf;
}

/* The bytes escape_of() escapes: one load decides the usual byte (this
 * runs on every token of every stream). */
static const unsigned char special[256] = {
    [0 ... 0x1f] = 1,
    ['"'] = 1,
    ['\\'] = 1,
};

size_t json_esc(char *dst, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    char u[7];

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (!special[ch]) {
            if (n + 2 > cap)
                return (size_t)-1;
            dst[n++] = (char)ch;
            continue;
        }
        const char *e = escape_of(ch, u);
        size_t el = strlen(e);

        if (n + el + 1 > cap)
            return (size_t)-1;
        memcpy(dst + n, e, el);
        n += el;
    }
    if (cap)
        dst[n] = '\0';
    return n;
}

int json_esc_append(struct str_buf *out, const char *s, size_t len)
{
    size_t run = 0; /* bytes before i that need no escape */
    char u[7];

    for (size_t i = 0; i < len; i++) {
        const char *e = escape_of((unsigned char)s[i], u);

        if (!e)
            continue;
        if (i > run && str_buf_add(out, s + run, i - run) < 0)
            return -1;
        if (str_buf_puts(out, e) < 0)
            return -1;
        run = i + 1;
    }
    if (len > run && str_buf_add(out, s + run, len - run) < 0)
        return -1;
    return 0;
}

/* The length of the UTF-8 sequence at s (n bytes available), or 0 when it
 * is not well-formed. The ranges are RFC 3629's table. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0; /* continuation byte, C0, C1, F5..FF */
    if (s[0] == 0xe0)
        lo = 0xa0; /* overlong */
    else if (s[0] == 0xed)
        hi = 0x9f; /* surrogates */
    else if (s[0] == 0xf0)
        lo = 0x90; /* overlong */
    else if (s[0] == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

int json_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        uint64_t w;
        if (len - i >= 8 && (memcpy(&w, p + i, 8), !(w & 0x8080808080808080u))) {
            i += 8; /* eight ASCII bytes at once */
            continue;
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(p + i, len - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* The first byte below 0x20 in s[0..len) that RFC 8259 refuses: any in a
 * string, any but the four blanks between tokens. Returns its offset, or
 * len; *in_string says where it was. The text is one cJSON accepted, so
 * its strings are where this walk finds them. */
static size_t json__control(const char *s, size_t len, int *in_string)
{
    int in = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 && (in || (c != ' ' && c != '\t' && c != '\n' &&
                                c != '\r'))) {
            *in_string = in;
            return i;
        }
        if (in && c == '\\')
            i++;
        else if (c == '"')
            in = !in;
    }
    return len;
}

struct cJSON *json_parse(const char *s, size_t len, char *err, size_t errlen)
{
    const char *end;
    cJSON *root = cJSON_ParseWithLengthOpts(s, len, &end, 0);
    size_t at;
    int in_string = 0;

    /* cJSON stops after the first value; whatever follows it (a second
     * object, a cut-and-paste tail) makes the text not JSON. */
    /* s need not be NUL-terminated (an SSE event's data): skip the
     * trailing blanks within len only. */
    while (root && end < s + len && memchr(" \t\r\n", *end, 4))
        end++;
    if (!root || end != s + len) {
        cJSON_Delete(root);
        snprintf(err, errlen, "not valid JSON");
        return NULL;
    }
    if ((at = json__control(s, len, &in_string)) < len) {
        cJSON_Delete(root);
        snprintf(err, errlen,
                 "not valid JSON: raw control character U+%04X %s at byte "
                 "%zu",
                 (unsigned)(unsigned char)s[at],
                 in_string ? "in a string" : "between tokens", at);
        return NULL;
    }
    return root;
}
