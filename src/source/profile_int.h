/* profile_int.h — character rules shared by the profile loader and the
 * key/template code (not part of the module's interface). */
#ifndef EXTRACE_SOURCE_PROFILE_INT_H
#define EXTRACE_SOURCE_PROFILE_INT_H
#include <stddef.h>

/* [a-z0-9-]+ starting with a letter or digit (source names). */
int sr_is_source_name(const char *s, size_t len);
/* [a-z][a-z0-9_]* (key parts). */
int sr_is_part_name(const char *s, size_t len);
/* [a-z0-9_]+ (request names). */
int sr_is_request_name(const char *s, size_t len);
/* RFC 9110 token (header names). */
int sr_is_token(const char *s, size_t len);
/* [A-Za-z_][A-Za-z0-9_]* (environment variable names). */
int sr_is_env_name(const char *s, size_t len);
/* No byte below 0x20 or 0x7f, but those in `allowed` ("\n\t"). */
int sr_no_controls(const char *s, size_t len, const char *allowed);
/* Case-insensitive equality of s[0..len) and the NUL-terminated lit. */
int sr_ieq(const char *s, size_t len, const char *lit);

#endif
