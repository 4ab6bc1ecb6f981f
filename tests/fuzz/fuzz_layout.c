/* Fuzz target: layout recognition and grouping (GPTQ, AWQ, bitsandbytes, compressed-tensors, FP8,
 * MLX) and the dequantizers behind it.
 * Input: one selector byte (which side file the config came from: 0 config.json, 1
 * quantize_config.json, 2 quant_config.json), the config JSON, a NUL byte, then a safetensors
 * file. */
#include "fuzz_common.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "qf_int.h"

static const char *const prefixes[3][2] = {
    {"", "config.json"},
    {"quantize_config", "quantize_config.json"},
    {"quant_config", "quant_config.json"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned sel = data[0] % 3;
    const uint8_t *nul = memchr(data + 1, 0, size - 1);
    if (!nul)
        return 0;
    size_t jlen = (size_t)(nul - (data + 1));
    const uint8_t *st = nul + 1;
    size_t stlen = size - (size_t)(st - data);

    char path[64];
    int fd = fuzz_memfd(st, stlen, path);
    if (fd < 0)
        return 0;
    struct qf_model *m = NULL;
    struct qf_error err;
    if (qf_model_open(path, "safetensors", QF_OPEN_NO_SET | QF_OPEN_NO_CONFIG, &m, &err) != QF_OK) {
        close(fd);
        return 0;
    }
    json_error_t je;
    json_t *j = jlen ? json_loadb((const char *)data + 1, jlen, JSON_REJECT_DUPLICATES, &je) : NULL;
    int ok = 1;
    if (j && json_is_object(j))
        ok = qfi_model_add_json(m, j, prefixes[sel][0], prefixes[sel][1], 0, &err) == QF_OK;
    if (j)
        json_decref(j);
    struct qf_layout *l = NULL;
    if (ok && qf_layout_scan(m, 0, &l, &err) == QF_OK) {
        enum { CAP = 1 << 16 };
        float *buf = malloc(CAP * sizeof *buf);
        volatile float sink = 0;
        for (size_t i = 0; buf && i < qf_layout_n_tensors(l); i++) {
            const struct qf_ltensor *t = qf_layout_tensor(l, i);
            uint64_t row_len = t->n_dims ? t->shape[t->n_dims - 1] : 1;
            if (t->nelem == 0 || row_len == 0 || row_len > CAP)
                continue;
            uint64_t rows = t->family == QF_LAYOUT_PLAIN ? t->nelem / row_len : t->shape[0];
            uint64_t n = rows < CAP / row_len ? rows : CAP / row_len;
            if (n > 4)
                n = 4;
            /* first rows, then the last row */
            if (qf_layout_dequantize(m, l, t, 0, n, buf, &err) == QF_OK)
                sink += buf[0];
            if (rows > 1 && qf_layout_dequantize(m, l, t, rows - 1, 1, buf, &err) == QF_OK)
                sink += buf[row_len - 1];
            /* out of range asks are refused, never read */
            (void)qf_layout_dequantize(m, l, t, rows, 1, buf, &err);
        }
        for (size_t i = 0; qf_layout_warning(l, i); i++)
            sink += (float)strlen(qf_layout_warning(l, i));
        (void)sink;
        free(buf);
        qf_layout_free(l);
    }
    qf_model_close(m);
    close(fd);
    return 0;
}
