/* delta_oracle — cJSON's reading of a chunk (see delta_oracle.h). */
#include "tests/unit/support/delta_oracle.h"

#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

int delta_oracle(const char *s, size_t n, char **text)
{
    cJSON *o = cJSON_ParseWithLength(s, n);
    const cJSON *ch, *d, *c, *t, *r, *fin;
    int plain;

    *text = NULL;
    if (o == NULL)
        return 0;
    ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), 0);
    d = cJSON_GetObjectItemCaseSensitive(ch, "delta");
    c = cJSON_GetObjectItemCaseSensitive(d, "content");
    t = cJSON_GetObjectItemCaseSensitive(d, "reasoning_content");
    r = cJSON_GetObjectItemCaseSensitive(d, "refusal");
    fin = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
    plain = !cJSON_GetObjectItemCaseSensitive(o, "error") &&
            !(cJSON_IsString(t) && t->valuestring[0]) &&
            !(cJSON_IsString(r) && r->valuestring[0]) &&
            !(cJSON_IsString(fin) &&
              strcmp(fin->valuestring, "content_filter") == 0);
    if (cJSON_IsString(c))
        *text = strdup(c->valuestring);
    cJSON_Delete(o);
    return plain;
}
