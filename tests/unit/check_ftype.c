/* check_ftype.c - llama file types, llama-quantize's per-tensor type choice, architecture
 * facts and memory estimates.
 *
 * The type-mix proof: for every file llama-quantize (llama.cpp b4748) wrote in fixtures/real
 * (their headers are in fixtures/llq-headers), predict the type of every tensor from the file
 * type alone and compare with the type in the file. Then predict the same files from the
 * Hugging Face checkpoints (tiny256-hf, stories260K-hf: other names, other order, other types)
 * and compare per tensor and in total bytes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/qf.h"

Suite *suite_ftype(void);

static struct qf_model *open_model(const char *path, unsigned flags)
{
    struct qf_model *m = NULL;
    struct qf_error err;
    int rc = qf_model_open(path, NULL, flags, &m, &err);
    ck_assert_msg(rc == QF_OK, "open %s: %s", path, err.msg);
    return m;
}

static uint64_t kv_u64(const struct qf_model *m, const char *key)
{
    const struct qf_kv *kv = qf_model_find_kv(m, key);
    uint64_t v = 0;
    ck_assert_ptr_nonnull(kv);
    ck_assert_int_eq(qf_value_as_u64(&kv->val, &v), QF_OK);
    return v;
}

/* ---------------------------------------------------------------------------------------
 * The table
 */
START_TEST(test_ftype_names)
{
    ck_assert_int_eq(qf_ftype_from_name("Q4_K_M"), 15);
    ck_assert_int_eq(qf_ftype_from_name("q4_k_m"), 15);
    ck_assert_int_eq(qf_ftype_from_name("Q4_K"), 15);
    ck_assert_int_eq(qf_ftype_from_name("Q3_K"), 12);
    ck_assert_int_eq(qf_ftype_from_name("q5_k"), 17);
    ck_assert_int_eq(qf_ftype_from_name("MOSTLY_Q2_K"), 10);
    ck_assert_int_eq(qf_ftype_from_name("ALL_F32"), 0);
    ck_assert_int_eq(qf_ftype_from_name("F32"), 0);
    ck_assert_int_eq(qf_ftype_from_name("bf16"), 32);
    ck_assert_int_eq(qf_ftype_from_name("IQ2_M"), 29);
    ck_assert_int_eq(qf_ftype_from_name("MXFP4_MOE"), 38);
    ck_assert_int_eq(qf_ftype_from_name("7"), 7);
    ck_assert_int_eq(qf_ftype_from_name("4"), -1);    /* removed Q4_1_SOME_F16 */
    ck_assert_int_eq(qf_ftype_from_name("34"), -1);   /* removed Q4_0_4_8 */
    ck_assert_int_eq(qf_ftype_from_name("1024"), -1); /* GUESSED is not a target */
    ck_assert_int_eq(qf_ftype_from_name("Q4_K_X"), -1);
    ck_assert_int_eq(qf_ftype_from_name(""), -1);
    ck_assert_int_eq(qf_ftype_from_name("99999999999999999999"), -1);
    ck_assert_str_eq(qf_ftype_name(15), "Q4_K_M");
    ck_assert_str_eq(qf_ftype_name(21), "Q2_K_S");
    ck_assert_str_eq(qf_ftype_name(1024), "GUESSED");
    ck_assert_str_eq(qf_ftype_name(42), "?");
    /* base types where the name does not say it */
    ck_assert_int_eq(qf_ftype_info(QF_FTYPE_IQ2_S)->base_type, QF_TYPE_IQ2_XS);
    ck_assert_int_eq(qf_ftype_info(QF_FTYPE_IQ2_M)->base_type, QF_TYPE_IQ2_S);
    ck_assert_int_eq(qf_ftype_info(QF_FTYPE_IQ3_XS)->base_type, QF_TYPE_IQ3_S);
    ck_assert_int_eq(qf_ftype_info(QF_FTYPE_IQ3_M)->base_type, QF_TYPE_IQ3_S);
    ck_assert_int_eq(qf_ftype_info(QF_FTYPE_Q2_K_S)->base_type, QF_TYPE_Q2_K);
    ck_assert_int_eq(qf_ftype_info(QF_FTYPE_MXFP4_MOE)->base_type, QF_TYPE_MXFP4);
    ck_assert_int_eq(qf_ftype_info(4)->removed, 1);
    ck_assert_ptr_null(qf_ftype_info(42));
    size_t n = 0;
    const struct qf_ftype_info *all = qf_ftype_list(&n);
    ck_assert_uint_eq(n, 43);
    for (size_t i = 1; i < n; i++)
        ck_assert_int_lt(all[i - 1].id, all[i].id);
}
END_TEST

START_TEST(test_eligible)
{
    const uint64_t m2[2] = {512, 256}, v1[1] = {256}, row1[2] = {1, 64}, col1[2] = {64, 1},
                   e3[3] = {8, 768, 256};
    const struct qf_quant_opts leave = {QF_QUANT_LEAVE_OUTPUT, -1, -1};
    ck_assert(qf_ftype_eligible("token_embd.weight", 2, m2, NULL));
    ck_assert(qf_ftype_eligible("output.weight", 2, m2, NULL));
    ck_assert(!qf_ftype_eligible("output.weight", 2, m2, &leave));
    ck_assert(qf_ftype_eligible("blk.0.ffn_down_exps.weight", 3, e3, NULL));
    ck_assert(!qf_ftype_eligible("output_norm.weight", 1, v1, NULL));
    ck_assert(!qf_ftype_eligible("blk.0.attn_norm.weight", 2, m2, NULL)); /* _norm.weight */
    ck_assert(!qf_ftype_eligible("blk.0.attn_q.bias", 2, m2, NULL));
    ck_assert(!qf_ftype_eligible("blk.0.ffn_gate_inp.weight", 2, m2, NULL));
    ck_assert(!qf_ftype_eligible("blk.0.ssm_conv1d.weight", 2, m2, NULL));
    ck_assert(!qf_ftype_eligible("position_embd.weight", 2, m2, NULL));
    ck_assert(!qf_ftype_eligible("token_types.weight", 2, m2, NULL));
    ck_assert(!qf_ftype_eligible("v.patch_embd.weight", 2, m2, NULL));
    ck_assert(!qf_ftype_eligible("blk.0.time_mix_first.weight", 2, m2, NULL));
    /* ggml_n_dims: trailing size-1 dimensions do not count; leading ones do not either */
    ck_assert(!qf_ftype_eligible("blk.0.x.weight", 2, row1, NULL));
    ck_assert(qf_ftype_eligible("blk.0.x.weight", 2, col1, NULL));
}
END_TEST

START_TEST(test_name_order)
{
    /* llama.cpp loader order: non-block tensors by name, then by layer number */
    ck_assert_int_lt(qf_ftype_name_cmp("output.weight", "token_embd.weight"), 0);
    ck_assert_int_lt(qf_ftype_name_cmp("token_embd.weight", "blk.0.attn_q.weight"), 0);
    ck_assert_int_lt(qf_ftype_name_cmp("blk.2.ffn_up.weight", "blk.10.attn_k.weight"), 0);
    ck_assert_int_gt(qf_ftype_name_cmp("blk.10.attn_k.weight", "blk.9.ffn_up.weight"), 0);
    ck_assert_int_lt(qf_ftype_name_cmp("blk.1.attn_k.weight", "blk.1.attn_norm.weight"), 0);
    ck_assert_int_eq(qf_ftype_name_cmp("blk.1.a", "blk.1.a"), 0);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * The recipe on synthetic models (spec gguf-hash-and-tools.md §3.5, §3.6)
 */
static struct qf_quant_model model(uint32_t L, uint32_t heads, uint32_t kv, uint32_t n_expert)
{
    struct qf_quant_model mi;
    memset(&mi, 0, sizeof mi);
    snprintf(mi.arch, sizeof mi.arch, "llama");
    mi.n_layer = L;
    mi.n_head = heads;
    mi.n_head_kv = kv;
    mi.n_expert = n_expert;
    mi.n_attn_v = L;
    mi.has_output = 1;
    return mi;
}

static int pick(int ftype, const struct qf_quant_model *mi, struct qf_quant_state *st,
                unsigned flags, const char *name, uint64_t rows, uint64_t cols)
{
    const uint64_t shape[2] = {rows, cols};
    const struct qf_quant_opts o = {flags, -1, -1};
    return qf_ftype_tensor_type(ftype, mi, &o, st, name, 2, shape, QF_TYPE_F32, NULL);
}

START_TEST(test_recipe_q4_k_m_layers)
{
    /* 32 layers: more_bits(i, 32) = i < 4 || i >= 28 || (i - 4) % 3 == 2 */
    struct qf_quant_model mi = model(32, 32, 8, 0);
    struct qf_quant_state st;
    memset(&st, 0, sizeof st);
    int n6 = 0;
    for (int i = 0; i < 32; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "blk.%d.ffn_down.weight", i);
        int t = pick(QF_FTYPE_Q4_K_M, &mi, &st, 0, nm, 4096, 11008);
        int more = i < 4 || i >= 28 || (i - 4) % 3 == 2;
        ck_assert_int_eq(t, more ? QF_TYPE_Q6_K : QF_TYPE_Q4_K);
        n6 += t == QF_TYPE_Q6_K;
    }
    ck_assert_int_eq(n6, 16); /* 0-3, 6,9,...,27 (8), 28-31 */
    ck_assert_uint_eq(st.i_ffn_down, 32);
    /* attn_v follows the same rule over its own counter; attn_q keeps the base type */
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &mi, &st, 0, "blk.0.attn_v.weight", 1024, 4096),
                     QF_TYPE_Q6_K);
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &mi, &st, 0, "blk.0.attn_q.weight", 4096, 4096),
                     QF_TYPE_Q4_K);
    ck_assert_uint_eq(st.i_attn_v, 1);
    /* gqa = 4: IQ4_XS attn_v gets Q5_K, Q2_K attn_v gets Q4_K */
    ck_assert_int_eq(pick(QF_FTYPE_IQ4_XS, &mi, &st, 0, "blk.1.attn_v.weight", 1024, 4096),
                     QF_TYPE_Q5_K);
    ck_assert_int_eq(pick(QF_FTYPE_Q2_K, &mi, &st, 0, "blk.2.attn_v.weight", 1024, 4096),
                     QF_TYPE_Q4_K);
    /* output: Q6_K unless the base is Q8_0 or the row does not fit the base block */
    ck_assert_int_eq(pick(QF_FTYPE_Q4_0, &mi, &st, 0, "output.weight", 32000, 4096),
                     QF_TYPE_Q6_K);
    ck_assert_int_eq(pick(QF_FTYPE_Q8_0, &mi, &st, 0, "output.weight", 32000, 4096),
                     QF_TYPE_Q8_0);
    ck_assert_int_eq(pick(QF_FTYPE_IQ2_XXS, &mi, &st, 0, "output.weight", 32000, 4096),
                     QF_TYPE_Q5_K);
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &mi, &st, 0, "output.weight", 32000, 4000),
                     QF_TYPE_Q8_0);
}
END_TEST

START_TEST(test_recipe_special)
{
    struct qf_quant_state st;
    memset(&st, 0, sizeof st);
    /* 8 experts: attn_v and attn_k Q8_0, attn_output Q5_K for Q4_K_M */
    struct qf_quant_model moe = model(32, 32, 8, 8);
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &moe, &st, 0, "blk.0.attn_v.weight", 1024, 4096),
                     QF_TYPE_Q8_0);
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &moe, &st, 0, "blk.0.attn_k.weight", 1024, 4096),
                     QF_TYPE_Q8_0);
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &moe, &st, 0, "blk.0.attn_output.weight", 4096, 4096),
                     QF_TYPE_Q5_K);
    /* MoE: the layer of an ffn tensor comes from its name, not the running count */
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &moe, &st, 0, "blk.10.ffn_down_exps.weight", 4096,
                          14336),
                     QF_TYPE_Q4_K);
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &moe, &st, 0, "blk.31.ffn_down_exps.weight", 4096,
                          14336),
                     QF_TYPE_Q6_K);
    /* 70B llama: attn_v Q4_K -> Q5_K */
    struct qf_quant_model big = model(80, 64, 8, 0);
    big.is_70b = 1;
    memset(&st, 0, sizeof st);
    st.i_attn_v = 20; /* not a more_bits layer of 80 */
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &big, &st, 0, "blk.5.attn_v.weight", 1024, 8192),
                     QF_TYPE_Q5_K);
    /* Falcon output is Q8_0 */
    struct qf_quant_model fal = model(32, 71, 1, 0);
    snprintf(fal.arch, sizeof fal.arch, "falcon");
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &fal, &st, 0, "output.weight", 65024, 4544),
                     QF_TYPE_Q8_0);
    /* IQ3_XS: attn_q -> IQ3_XXS; TQ1_0 token_embd -> Q4_K; IQ2_S token_embd -> IQ3_S */
    struct qf_quant_model d = model(32, 32, 32, 0);
    ck_assert_int_eq(pick(QF_FTYPE_IQ3_XS, &d, &st, 0, "blk.3.attn_q.weight", 4096, 4096),
                     QF_TYPE_IQ3_XXS);
    ck_assert_int_eq(pick(QF_FTYPE_TQ1_0, &d, &st, 0, "token_embd.weight", 32000, 4096),
                     QF_TYPE_Q4_K);
    ck_assert_int_eq(pick(QF_FTYPE_IQ2_S, &d, &st, 0, "token_embd.weight", 32000, 4096),
                     QF_TYPE_IQ3_S);
    /* MXFP4_MOE: 3-D experts MXFP4, the rest Q8_0 */
    const uint64_t e3[3] = {8, 2048, 4096};
    unsigned how = 0;
    ck_assert_int_eq(qf_ftype_tensor_type(QF_FTYPE_MXFP4_MOE, &moe, NULL, &st,
                                          "blk.0.ffn_up_exps.weight", 3, e3, QF_TYPE_BF16, &how),
                     QF_TYPE_MXFP4);
    ck_assert_int_eq(pick(QF_FTYPE_MXFP4_MOE, &moe, &st, 0, "blk.0.attn_q.weight", 4096, 4096),
                     QF_TYPE_Q8_0);
    /* not eligible: the present type comes back, flagged KEPT */
    const uint64_t v1[1] = {4096};
    ck_assert_int_eq(qf_ftype_tensor_type(QF_FTYPE_Q4_K_M, &d, NULL, &st, "output_norm.weight",
                                          1, v1, QF_TYPE_F32, &how),
                     QF_TYPE_F32);
    ck_assert_uint_eq(how, QF_QUANT_KEPT);
    /* F16 target: no mixing at all */
    ck_assert_int_eq(pick(QF_FTYPE_F16, &d, &st, 0, "output.weight", 32000, 4096), QF_TYPE_F16);
    /* bad ftype */
    ck_assert_int_eq(pick(4, &d, &st, 0, "output.weight", 32000, 4096), QF_EINVAL);
    ck_assert_int_eq(pick(12345, &d, &st, 0, "output.weight", 32000, 4096), QF_EINVAL);
}
END_TEST

START_TEST(test_recipe_fallbacks)
{
    struct qf_quant_model d = model(5, 8, 8, 0);
    struct qf_quant_state st;
    memset(&st, 0, sizeof st);
    unsigned how = 0;
    const uint64_t r172[2] = {64, 172}, r64[2] = {172, 64}, r96[2] = {64, 96};
    /* b4748: Q2_K/Q3_K rows of 64 -> IQ4_NL; the newer recipe -> Q4_0 */
    ck_assert_int_eq(pick(QF_FTYPE_Q3_K_S, &d, &st, 0, "blk.0.ffn_up.weight", 172, 64),
                     QF_TYPE_IQ4_NL);
    ck_assert_int_eq(pick(QF_FTYPE_Q3_K_S, &d, &st, QF_QUANT_RECIPE_NEW, "blk.0.ffn_up.weight",
                          172, 64),
                     QF_TYPE_Q4_0);
    ck_assert_int_eq(qf_ftype_tensor_type(QF_FTYPE_Q4_K_S, &d, NULL, &st, "blk.0.ffn_gate.weight",
                                          2, r64, QF_TYPE_F32, &how),
                     QF_TYPE_Q5_0);
    ck_assert_uint_eq(how, QF_QUANT_FALLBACK);
    /* rows of 172: no 32-block fallback fits either -> F16 */
    ck_assert_int_eq(qf_ftype_tensor_type(QF_FTYPE_Q6_K, &d, NULL, &st, "blk.0.ffn_down.weight", 2,
                                          r172, QF_TYPE_F32, &how),
                     QF_TYPE_F16);
    ck_assert_int_eq(pick(QF_FTYPE_TQ2_0, &d, &st, 0, "blk.0.ffn_down.weight", 64, 172),
                     QF_TYPE_F16);
    ck_assert_int_eq(pick(QF_FTYPE_TQ2_0, &d, &st, 0, "blk.0.ffn_up.weight", 172, 64),
                     QF_TYPE_Q4_0);
    /* a 32-block base type has no fallback: refused (b4748), F16 (newest) */
    ck_assert_int_eq(pick(QF_FTYPE_Q8_0, &d, &st, 0, "blk.0.ffn_down.weight", 64, 172),
                     QF_EUNSUPPORTED);
    ck_assert_int_eq(pick(QF_FTYPE_Q4_0, &d, &st, QF_QUANT_FALLBACK_F16, "blk.0.ffn_down.weight",
                          64, 172),
                     QF_TYPE_F16);
    /* IQ types fall back to IQ4_NL (rows of 96 = 3 x 32) */
    ck_assert_int_eq(qf_ftype_tensor_type(QF_FTYPE_IQ3_S, &d, NULL, &st, "blk.0.attn_q.weight", 2,
                                          r96, QF_TYPE_F32, &how),
                     QF_TYPE_IQ4_NL);
    /* --pure: no mixing; b4748 skipped the fallback there, the newer recipe does not */
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &d, &st, QF_QUANT_PURE, "output.weight", 512, 256),
                     QF_TYPE_Q4_K);
    ck_assert_int_eq(pick(QF_FTYPE_Q4_K_M, &d, &st, QF_QUANT_PURE | QF_QUANT_RECIPE_NEW,
                          "blk.0.attn_q.weight", 64, 64),
                     QF_TYPE_Q5_0);
    ck_assert_uint_ge(st.n_fallback, 5);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Real llama-quantize output
 */
static const char *const llq_files[] = {
    "tiny256-IQ4_NL", "tiny256-IQ4_XS", "tiny256-Q2_K", "tiny256-Q3_K_M", "tiny256-Q4_0",
    "tiny256-Q4_1", "tiny256-Q4_K_M", "tiny256-Q5_0", "tiny256-Q5_1", "tiny256-Q5_K_M",
    "tiny256-Q6_K", "tiny256-Q8_0", "tiny256-TQ1_0", "tiny256-TQ2_0",
    "stories260K-IQ4_XS", "stories260K-Q2_K", "stories260K-Q3_K_M", "stories260K-Q4_K_M",
    "stories260K-Q5_K_M", "stories260K-Q6_K", "stories260K-TQ1_0", "stories260K-TQ2_0",
};
#define N_LLQ (sizeof llq_files / sizeof llq_files[0])

/* Tensor data bytes of the whole reference files (sum of the tensor sizes, checked against the
 * files in fixtures/real with an independent reader). */
static const uint64_t llq_bytes[N_LLQ] = {
    1071104, 1017856, 731648, 931328, 1071104, 1177600, 1130240, 1284096, 1390592, 1314560,
    1510400, 1954816, 518144, 591872,
    244192, 244192, 248288, 267168, 277632, 329952, 244192, 244192,
};

static struct qf_model *open_llq(size_t i)
{
    char path[256];
    snprintf(path, sizeof path, "fixtures/llq-headers/%s.llq.gguf", llq_files[i]);
    return open_model(path, QF_OPEN_PARTIAL);
}

START_TEST(test_llq_predict_every_tensor)
{
    struct qf_model *m = open_llq((size_t)_i);
    int ftype = (int)kv_u64(m, "general.file_type");
    /* the file name says the same as general.file_type */
    const char *dash = strrchr(llq_files[_i], '-');
    ck_assert_int_eq(qf_ftype_from_name(dash + 1), ftype);
    size_t nt = qf_model_n_tensors(m);
    ck_assert_uint_gt(nt, 20);
    int *types = malloc(nt * sizeof *types);
    struct qf_error err;
    ck_assert_int_eq(qf_ftype_plan(m, ftype, NULL, types, &err), QF_OK);
    uint64_t bytes = 0;
    for (size_t k = 0; k < nt; k++) {
        const struct qf_tensor *t = qf_model_tensor(m, k);
        ck_assert_msg(types[k] == t->type, "%s: %s predicted %s, file has %s", llq_files[_i],
                      t->name, qf_type_name(types[k]), qf_type_name(t->type));
        bytes += t->nbytes;
    }
    ck_assert_uint_eq(bytes, llq_bytes[_i]);
    free(types);
    qf_model_close(m);
}
END_TEST

START_TEST(test_llq_counts)
{
    /* a few mixes spelled out (fixtures/real/README.md) */
    struct {
        const char *file;
        int type;
        int count;
    } want[] = {
        {"tiny256-Q4_K_M", QF_TYPE_Q4_K, 13}, {"tiny256-Q4_K_M", QF_TYPE_Q6_K, 3},
        {"tiny256-Q4_K_M", QF_TYPE_F32, 5},   {"tiny256-Q2_K", QF_TYPE_Q3_K, 6},
        {"tiny256-Q2_K", QF_TYPE_Q2_K, 9},    {"tiny256-Q3_K_M", QF_TYPE_Q5_K, 2},
        {"tiny256-TQ1_0", QF_TYPE_Q4_K, 1},   {"stories260K-Q3_K_M", QF_TYPE_IQ4_NL, 20},
        {"stories260K-Q3_K_M", QF_TYPE_Q5_1, 2}, {"stories260K-Q4_K_M", QF_TYPE_Q8_0, 3},
        {"stories260K-TQ2_0", QF_TYPE_Q4_0, 30}, {"stories260K-Q6_K", QF_TYPE_F16, 5},
    };
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        size_t i = 0;
        while (strcmp(llq_files[i], want[w].file) != 0)
            i++;
        struct qf_model *m = open_llq(i);
        size_t nt = qf_model_n_tensors(m);
        int *types = malloc(nt * sizeof *types);
        ck_assert_int_eq(qf_ftype_plan(m, (int)kv_u64(m, "general.file_type"), NULL, types, NULL),
                         QF_OK);
        int n = 0;
        for (size_t k = 0; k < nt; k++)
            n += types[k] == want[w].type;
        ck_assert_msg(n == want[w].count, "%s: %d x %s, want %d", want[w].file, n,
                      qf_type_name(want[w].type), want[w].count);
        free(types);
        qf_model_close(m);
    }
}
END_TEST

/* From the HF checkpoints: map names, sort like llama.cpp's loader, predict, and compare with
 * the tensors of the llama-quantize files made from the same weights. */
START_TEST(test_llq_from_hf)
{
    int tiny = strncmp(llq_files[_i], "tiny256", 7) == 0;
    struct qf_model *hf = open_model(tiny ? "fixtures/tiny256-hf" : "fixtures/stories260K-hf", 0);
    struct qf_model *q = open_llq((size_t)_i);
    int ftype = (int)kv_u64(q, "general.file_type");
    size_t nt = qf_model_n_tensors(hf);
    ck_assert_uint_eq(nt, qf_model_n_tensors(q));
    int *types = malloc(nt * sizeof *types);
    struct qf_error err;
    ck_assert_int_eq(qf_ftype_plan(hf, ftype, NULL, types, &err), QF_OK);
    uint64_t bytes = 0;
    for (size_t k = 0; k < nt; k++) {
        const struct qf_tensor *t = qf_model_tensor(hf, k);
        char g[128];
        ck_assert_int_gt(qf_arch_gguf_tensor_name(t->name, g, sizeof g), 0);
        const struct qf_tensor *qt = qf_model_find_tensor(q, g);
        ck_assert_msg(qt != NULL, "%s -> %s not in %s", t->name, g, llq_files[_i]);
        ck_assert_msg(types[k] == qt->type, "%s: %s predicted %s, llama-quantize wrote %s",
                      llq_files[_i], g, qf_type_name(types[k]), qf_type_name(qt->type));
        int64_t b = qf_type_nbytes(types[k], t->shape[t->n_dims - 1], t->nelem);
        ck_assert_int_ge(b, 0);
        bytes += (uint64_t)b;
    }
    ck_assert_uint_eq(bytes, llq_bytes[_i]);
    free(types);
    qf_model_close(q);
    qf_model_close(hf);
}
END_TEST

START_TEST(test_refusals)
{
    /* llama-quantize refuses Q8_0 and Q4_0 for stories260K (rows of 172); the error names
     * the first ffn_down in loader order */
    struct qf_model *m = open_model("fixtures/stories260K-hf", 0);
    size_t nt = qf_model_n_tensors(m);
    int *types = malloc(nt * sizeof *types);
    struct qf_error err;
    ck_assert_int_eq(qf_ftype_plan(m, QF_FTYPE_Q8_0, NULL, types, &err), QF_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "model.layers.0.mlp.down_proj.weight"));
    ck_assert_ptr_nonnull(strstr(err.msg, "172"));
    ck_assert_int_eq(qf_ftype_plan(m, QF_FTYPE_Q4_0, NULL, types, &err), QF_EUNSUPPORTED);
    const struct qf_quant_opts f16 = {QF_QUANT_FALLBACK_F16, -1, -1};
    ck_assert_int_eq(qf_ftype_plan(m, QF_FTYPE_Q8_0, &f16, types, &err), QF_OK);
    ck_assert_int_eq(qf_ftype_plan(m, 5, NULL, types, &err), QF_EINVAL);
    /* the converter's q8_0 file (ffn_down F16) agrees with the newest recipe */
    struct qf_model *c = open_model("fixtures/stories260K-q8_0.gguf", 0);
    ck_assert_int_eq(qf_ftype_plan(c, QF_FTYPE_Q8_0, &f16, types, &err), QF_OK);
    for (size_t k = 0; k < nt; k++)
        ck_assert_int_eq(types[k], qf_model_tensor(c, k)->type);
    free(types);
    qf_model_close(c);
    qf_model_close(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Architecture facts and memory
 */
START_TEST(test_arch_gguf)
{
    struct qf_model *m = open_model("fixtures/llq-headers/tiny256-Q4_K_M.llq.gguf", QF_OPEN_PARTIAL);
    struct qf_arch a;
    ck_assert_int_eq(qf_arch_from_model(m, &a), QF_OK);
    ck_assert_str_eq(a.name, "llama");
    ck_assert_str_eq(a.source, "gguf");
    ck_assert_uint_eq(a.n_layer, 2);
    ck_assert_uint_eq(a.n_embd, 256);
    ck_assert_uint_eq(a.n_ff, 768);
    ck_assert_uint_eq(a.n_head, 4);
    ck_assert_uint_eq(a.n_head_kv, 2);
    ck_assert_uint_eq(a.head_dim_k, 64);
    ck_assert_uint_eq(a.head_dim_v, 64);
    ck_assert_uint_eq(a.n_ctx_train, 512);
    ck_assert_uint_eq(a.n_vocab, 512);
    ck_assert_uint_eq(a.kv_layers_sum, 4);
    ck_assert_int_eq(a.tied_embeddings, 0);
    ck_assert(!(a.known & QF_ARCH_N_EXPERT));

    struct qf_mem_estimate me;
    ck_assert_int_eq(qf_arch_mem_estimate(&a, 512, 512, QF_TYPE_F16, QF_TYPE_F16, &me), QF_OK);
    /* 2 layers x 512 tokens x 2 KV heads x 64 x 2 bytes, for K and for V */
    ck_assert_uint_eq(me.k_bytes, 262144);
    ck_assert_uint_eq(me.v_bytes, 262144);
    ck_assert_uint_eq(me.kv_bytes, 524288);
    /* 4 x 512 x (512 + 4*256 + 2*768 + 4*512) */
    ck_assert_uint_eq(me.compute_bytes, 10485760);
    /* q8_0: 64 values = 2 blocks of 34 bytes */
    ck_assert_int_eq(qf_arch_mem_estimate(&a, 512, 4096, QF_TYPE_Q8_0, QF_TYPE_Q8_0, &me), QF_OK);
    ck_assert_uint_eq(me.kv_bytes, 2 * 2 * 512 * 2 * 68);
    ck_assert_uint_eq(me.n_batch, 512); /* clamped to the context */
    qf_model_close(m);

    m = open_model("fixtures/llq-headers/stories260K-Q4_K_M.llq.gguf", QF_OPEN_PARTIAL);
    ck_assert_int_eq(qf_arch_from_model(m, &a), QF_OK);
    ck_assert_uint_eq(a.n_layer, 5);
    ck_assert_uint_eq(a.n_head, 8);
    ck_assert_uint_eq(a.n_head_kv, 4);
    ck_assert_uint_eq(a.head_dim_k, 8);
    ck_assert_uint_eq(a.n_ff, 172);
    ck_assert_int_eq(a.tied_embeddings, 1);
    ck_assert_int_eq(qf_arch_mem_estimate(&a, 512, 512, QF_TYPE_F16, QF_TYPE_F16, &me), QF_OK);
    ck_assert_uint_eq(me.kv_bytes, 327680);
    /* head size 8 does not split into q8_0 blocks */
    ck_assert_int_eq(qf_arch_mem_estimate(&a, 512, 512, QF_TYPE_Q8_0, QF_TYPE_Q8_0, &me),
                     QF_EFORMAT);
    qf_model_close(m);

    /* no architecture keys at all: nothing known, the estimate refuses */
    m = open_model("fixtures/golden/q8_0.gguf", 0);
    ck_assert_int_eq(qf_arch_from_model(m, &a), QF_OK);
    ck_assert_str_eq(a.name, "golden");
    ck_assert(!(a.known & QF_ARCH_N_LAYER));
    ck_assert_int_eq(qf_arch_mem_estimate(&a, 512, 512, QF_TYPE_F16, QF_TYPE_F16, &me), QF_EINVAL);
    qf_model_close(m);
}
END_TEST

START_TEST(test_arch_config)
{
    struct qf_model *m = open_model("fixtures/tiny256-hf", 0);
    struct qf_arch a;
    ck_assert_int_eq(qf_arch_from_model(m, &a), QF_OK);
    ck_assert_str_eq(a.name, "llama");
    ck_assert_str_eq(a.hf_arch, "LlamaForCausalLM");
    ck_assert_str_eq(a.source, "config.json");
    ck_assert_uint_eq(a.n_layer, 2);
    ck_assert_uint_eq(a.n_embd, 256);
    ck_assert_uint_eq(a.n_ff, 768);
    ck_assert_uint_eq(a.n_head, 4);
    ck_assert_uint_eq(a.n_head_kv, 2);
    ck_assert_uint_eq(a.head_dim_k, 64);
    ck_assert_uint_eq(a.n_ctx_train, 512);
    ck_assert_uint_eq(a.n_vocab, 512);
    ck_assert_int_eq(a.tied_embeddings, 0);
    struct qf_quant_model mi;
    ck_assert_int_eq(qf_quant_model_init(&mi, m), QF_OK);
    ck_assert_uint_eq(mi.n_attn_v, 2);
    ck_assert_int_eq(mi.has_output, 1);
    ck_assert_uint_eq(mi.n_head_kv, 2);
    qf_model_close(m);

    m = open_model("fixtures/stories260K-hf", 0);
    ck_assert_int_eq(qf_arch_from_model(m, &a), QF_OK);
    ck_assert_int_eq(a.tied_embeddings, 1);
    ck_assert_uint_eq(a.n_layer, 5);
    ck_assert_uint_eq(a.head_dim_k, 8);
    ck_assert_int_eq(qf_quant_model_init(&mi, m), QF_OK);
    ck_assert_int_eq(mi.has_output, 0);
    ck_assert_uint_eq(mi.n_attn_v, 5);
    qf_model_close(m);
}
END_TEST

START_TEST(test_hf_names)
{
    char b[64];
    ck_assert_int_eq(qf_arch_gguf_tensor_name("model.embed_tokens.weight", b, sizeof b), 17);
    ck_assert_str_eq(b, "token_embd.weight");
    qf_arch_gguf_tensor_name("lm_head.weight", b, sizeof b);
    ck_assert_str_eq(b, "output.weight");
    qf_arch_gguf_tensor_name("model.norm.weight", b, sizeof b);
    ck_assert_str_eq(b, "output_norm.weight");
    qf_arch_gguf_tensor_name("model.layers.17.self_attn.q_proj.bias", b, sizeof b);
    ck_assert_str_eq(b, "blk.17.attn_q.bias");
    qf_arch_gguf_tensor_name("model.layers.0.post_attention_layernorm.weight", b, sizeof b);
    ck_assert_str_eq(b, "blk.0.ffn_norm.weight");
    qf_arch_gguf_tensor_name("layers.3.mlp.down_proj.weight", b, sizeof b); /* headless */
    ck_assert_str_eq(b, "blk.3.ffn_down.weight");
    ck_assert_int_eq(qf_arch_gguf_tensor_name("model.layers.0.self_attn.rotary_emb.inv_freq", b,
                                              sizeof b),
                     QF_ENOTFOUND);
    ck_assert_int_eq(qf_arch_gguf_tensor_name("model.layers.x.mlp.up_proj.weight", b, sizeof b),
                     QF_ENOTFOUND);
    ck_assert_int_eq(qf_arch_gguf_tensor_name("model.layers.0.mlp.up_proj.weightx", b, sizeof b),
                     QF_ENOTFOUND);
    ck_assert_int_eq(qf_arch_gguf_tensor_name("model.layers.0.mlp.up_proj.weight", b, 8),
                     QF_ELIMIT);
}
END_TEST

Suite *suite_ftype(void)
{
    Suite *s = suite_create("ftype");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_ftype_names);
    tcase_add_test(tc, test_eligible);
    tcase_add_test(tc, test_name_order);
    suite_add_tcase(s, tc);
    tc = tcase_create("recipe");
    tcase_add_test(tc, test_recipe_q4_k_m_layers);
    tcase_add_test(tc, test_recipe_special);
    tcase_add_test(tc, test_recipe_fallbacks);
    suite_add_tcase(s, tc);
    tc = tcase_create("llama_quantize");
    tcase_add_loop_test(tc, test_llq_predict_every_tensor, 0, (int)N_LLQ);
    tcase_add_test(tc, test_llq_counts);
    tcase_add_loop_test(tc, test_llq_from_hf, 0, (int)N_LLQ);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    tc = tcase_create("arch");
    tcase_add_test(tc, test_arch_gguf);
    tcase_add_test(tc, test_arch_config);
    tcase_add_test(tc, test_hf_names);
    suite_add_tcase(s, tc);
    return s;
}
