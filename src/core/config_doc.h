/* config_doc.h — the option tables of core/config.h rendered as Markdown.
 *
 * docs/configuration.md is made from the same ex_cmd_spec tables that
 * parse the flags and print --help, so the page cannot drift from the
 * code: `extrace config-doc` writes it, and an integration test fails
 * when the committed page differs from what the tables give.
 *
 * Text from the tables is escaped for Markdown: outside `code spans`,
 * '<', '>' and '&' become entities (a help text's "<id>" is not an HTML
 * tag); in table cells '|' is escaped everywhere, as GitHub's tables
 * require. */
#ifndef EXTRACE_CORE_CONFIG_DOC_H
#define EXTRACE_CORE_CONFIG_DOC_H
#include <stddef.h>
#include <stdio.h>

#include "core/config.h"

/* Write one command's section: "## extrace NAME", summary, description,
 * usage line and a table with one row per option (flag, environment
 * variable, seed aliases, type, default, bounds, description). Returns 0,
 * or -1 if writing to `out` failed. */
int ex_cfg_doc_command(const ex_cmd_spec *spec, FILE *out);

/* Write the section on the options every command takes (--log-level,
 * --log-format, --help). 0 or -1 as above. */
int ex_cfg_doc_common(FILE *out);

/* Write the section on the standard OTEL_* variables `extrace worker`
 * reads (src/otel/otel_env.c, src/otel/resource.c). 0 or -1. */
int ex_cfg_doc_otel(FILE *out);

/* Write the whole page: a header, the sections of specs[0..n) in order,
 * the common options and the OTEL_* variables. 0 or -1. */
int ex_cfg_doc_page(const ex_cmd_spec *const *specs, size_t n, FILE *out);

#endif
