/* Fuzz target: the GGUF reader (whole file, and with truncated data allowed). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_open(data, size, "gguf", QF_OPEN_NO_SET);
    fuzz_open(data, size, "gguf", QF_OPEN_NO_SET | QF_OPEN_PARTIAL);
    return 0;
}
