/* Fuzz target: importance-matrix files (llama-imatrix GGUF and the older .dat format), as
 * qconvert --imatrix reads them. */
#include "fuzz_common.h"

#include "qf/convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    if (fd < 0)
        return 0;
    struct qf_imatrix *im = NULL;
    struct qf_error err;
    if (qf_imatrix_load(path, &im, &err) == QF_OK) {
        static const char *const names[] = {"blk.0.attn_q.weight", "blk.0.ffn_down.weight",
                                            "output.weight", "token_embd.weight", "a", ""};
        volatile float sink = (float)qf_imatrix_n_entries(im) + (float)qf_imatrix_chunks(im);
        sink += (float)qf_imatrix_dataset(im)[0];
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            uint64_t ne0 = 0, nmat = 0;
            const float *v = qf_imatrix_find(im, names[i], &ne0, &nmat);
            if (v && ne0 && nmat)
                sink += v[0] + v[ne0 * nmat - 1];
        }
        (void)sink;
        qf_imatrix_free(im);
    }
    close(fd);
    return 0;
}
