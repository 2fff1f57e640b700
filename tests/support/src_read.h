/* src_read.h — the simulator's final answers of an Argo Workflows
 * workflow or an Airflow DAG run, read in C (the tests' own reading of
 * each API, not the profile's jq) as the expected span tree (tree_check.h).
 * GitHub Actions has gh_read.h. Failures fail the running test. */
#ifndef EXTRACE_TEST_SRC_READ_H
#define EXTRACE_TEST_SRC_READ_H
#include "source_run.h"
#include "tree_check.h"

/* Workflow `key` (namespace/name) and its node graph. */
void read_argo(const run *r, const char *key, tk_tree *t);
/* DAG run `key` (dag_id/dag_run_id) and its task instances. */
void read_airflow(const run *r, const char *key, tk_tree *t);

#endif
