/* Fuzz target: format probing followed by whichever reader wins. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_open(data, size, NULL, QF_OPEN_NO_SET | QF_OPEN_NO_CONFIG);
    return 0;
}
