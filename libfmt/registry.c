/* registry.c - the format modules, in probing order. The only file of the core that names
 * formats. */
#include "qf_int.h"

#include <strings.h>

static const struct qfi_format *const formats[] = {
    &qfi_format_gguf,
    &qfi_format_safetensors,
    NULL,
};

const struct qfi_format *const *qfi_format_list(void)
{
    return formats;
}

const struct qfi_format *qfi_format_by_name(const char *name)
{
    for (const struct qfi_format *const *f = formats; *f; f++)
        if (strcasecmp((*f)->name, name) == 0)
            return *f;
    return NULL;
}
