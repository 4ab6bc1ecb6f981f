/* Fuzz target: the safetensors reader (header JSON, validation). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_open(data, size, "safetensors", QF_OPEN_NO_SET | QF_OPEN_NO_CONFIG);
    fuzz_open(data, size, "safetensors", QF_OPEN_NO_SET | QF_OPEN_NO_CONFIG | QF_OPEN_PARTIAL);
    return 0;
}
