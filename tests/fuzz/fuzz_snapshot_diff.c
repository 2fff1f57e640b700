/* fuzz_snapshot_diff.c — libFuzzer entry point of the "snapshot_diff" target; what it does is
 * fuzz_run_snapshot_diff in targets.h. */
#include "targets.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_run_snapshot_diff(data, size); }
