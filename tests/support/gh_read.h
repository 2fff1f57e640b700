/* gh_read.h — a GitHub Actions run as the simulator finally answers it
 * (GET the run and its jobs over HTTP), read in C as docs/sources.md maps
 * it: the expected span tree of tree_check.h. Shared by the source and
 * webhook integration tests. */
#ifndef EXTRACE_TEST_GH_READ_H
#define EXTRACE_TEST_GH_READ_H
#include "source_run.h"
#include "tree_check.h"

/* Read run `key` ("owner/repo/run_id", completed) into *t; the run's
 * answer in *first when not NULL (free it). Fails the test otherwise. */
void gh_read_run(const run *r, const char *key, tk_tree *t, th_resp *first);

#endif
