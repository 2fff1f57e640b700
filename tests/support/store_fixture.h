/* store_fixture.h — a fresh store database for the store's unit tests.
 * Failures fail the running test. */
#ifndef EXTRACE_TEST_STORE_FIXTURE_H
#define EXTRACE_TEST_STORE_FIXTURE_H
#include "store/db.h"

/* Open a new database in a fresh temp dir (removed at exit); the dir's
 * path goes to *dir_out when dir_out is not NULL. */
sdb *tf_sdb_open(const char **dir_out);

#endif
