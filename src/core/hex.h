/* hex.h — the value of one hexadecimal digit, for the parsers of ids,
 * percent-escapes and the like. */
#ifndef EXTRACE_CORE_HEX_H
#define EXTRACE_CORE_HEX_H

/* 0–15 for '0'–'9', 'a'–'f' and 'A'–'F'; -1 for any other character. */
static inline int ex_hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

#endif
