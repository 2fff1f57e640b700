/* store_fixture.h — a fresh store database for the store's unit tests.
 * Failures fail the running test. */
#ifndef EXTRACE_TEST_STORE_FIXTURE_H
#define EXTRACE_TEST_STORE_FIXTURE_H
#include <stdint.h>

#include "store/db.h"

/* Open a new database in a fresh temp dir (removed at exit); the dir's
 * path goes to *dir_out when dir_out is not NULL. */
sdb *tf_sdb_open(const char **dir_out);

/* Store one OTLP/JSON request (no tenant) and check that `accepted`
 * spans were taken; a request that does not decode fails the test. */
void tf_sdb_ingest_json(sdb *db, const char *json, uint64_t accepted);

#endif
