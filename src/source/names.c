/* names.c — the character rules of profile names (profile_int.h). */
#include <string.h>
#include <strings.h>

#include "source/profile.h"
#include "source/profile_int.h"

static int lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int digit(unsigned char c) { return c >= '0' && c <= '9'; }

int sr_is_source_name(const char *s, size_t len)
{
    if (len == 0 || len > SR_NAME_MAX || s[0] == '-') return 0;
    for (size_t i = 0; i < len; i++)
        if (!lower((unsigned char)s[i]) && !digit((unsigned char)s[i]) && s[i] != '-') return 0;
    return 1;
}

int sr_is_part_name(const char *s, size_t len)
{
    if (len == 0 || len > SR_NAME_MAX || !lower((unsigned char)s[0])) return 0;
    for (size_t i = 1; i < len; i++)
        if (!lower((unsigned char)s[i]) && !digit((unsigned char)s[i]) && s[i] != '_') return 0;
    return 1;
}

int sr_is_request_name(const char *s, size_t len)
{
    if (len == 0 || len > SR_NAME_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!lower((unsigned char)s[i]) && !digit((unsigned char)s[i]) && s[i] != '_') return 0;
    return 1;
}

int sr_is_token(const char *s, size_t len)
{
    if (len == 0 || len > 128) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c)) return 0;
    }
    return 1;
}

int sr_is_env_name(const char *s, size_t len)
{
    if (len == 0 || len > 256 || digit((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!lower(c) && !digit(c) && !(c >= 'A' && c <= 'Z') && c != '_') return 0;
    }
    return 1;
}

int sr_no_controls(const char *s, size_t len, const char *allowed)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 || c == 0x7f) && !(c && strchr(allowed, c))) return 0;
    }
    return 1;
}

int sr_ieq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}
