/* Fuzz target: JSON side files (config.json, index.json) mapped to metadata records. */
#include "fuzz_common.h"

#include <jansson.h>

#include "qf_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return 0;
    struct qf_model *m = qfi_model_new("fuzz");
    struct qf_error err;
    if (m && json_is_object(j) && qfi_model_add_json(m, j, "", "config.json", 0, &err) == QF_OK) {
        for (size_t i = 0; i < qf_model_n_kv(m); i++) {
            const struct qf_kv *kv = qf_model_kv(m, i);
            if (kv->val.type == QF_V_ARRAY) {
                struct qf_array_iter it;
                struct qf_value v;
                qf_array_iter_init(&it, &kv->val.v.a);
                while (qf_array_iter_next(&it, &v)) {
                }
            }
        }
    }
    qf_model_close(m);
    json_decref(j);
    return 0;
}
