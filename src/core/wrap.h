/* wrap.h — text wrapped to a width, for --help.
 *
 * ex_wrap writes `text` as paragraphs: a single newline is a space, a blank
 * line starts a new paragraph, and each output line holds as many words as
 * fit in `width` columns (a word too long for an indented line is moved
 * left to fit; one longer than `width` stands alone). The first line
 * starts after `first` columns already written by the caller (0: it is
 * indented like the others); every further line is indented by `indent`
 * spaces. Pure apart from writing to `out`. */
#ifndef EXTRACE_CORE_WRAP_H
#define EXTRACE_CORE_WRAP_H
#include <stdio.h>

#define EX_WRAP_DEFAULT 80 /* columns when the output is not a terminal */
#define EX_WRAP_MIN     40 /* narrower terminals are treated as this wide */

/* Write text wrapped at width columns (see above), ending with a newline. */
void ex_wrap(FILE *out, const char *text, int first, int indent, int width);

/* The width to wrap `out` at: its terminal's columns when it is a
 * terminal (at least EX_WRAP_MIN), else EX_WRAP_DEFAULT. */
int ex_wrap_width(FILE *out);

#endif
