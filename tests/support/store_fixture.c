/* store_fixture.c — see store_fixture.h. */
#include "store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support.h"

sdb *tf_sdb_open(const char **dir_out)
{
    const char *dir = ts_tmpdir();
    assert_non_null(dir);
    char err[512];
    sdb *db = sdb_open(dir, err, sizeof err);
    if (!db) fail_msg("sdb_open: %s", err);
    if (dir_out) *dir_out = dir;
    return db;
}
