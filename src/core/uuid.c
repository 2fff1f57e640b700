#include "core/uuid.h"

#include <ctype.h>
#include <string.h>

char *ex_uuid4(ex_rng *r, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    uint64_t a = ex_rng_next(r), c = ex_rng_next(r);
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
    return out;
}

int ex_uuid_valid(const char *s)
{
    if (strlen(s) != EX_UUID_LEN) return 0;
    for (int i = 0; i < EX_UUID_LEN; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return 0;
    }
    return 1;
}
