/* types.c - the storage type table: ggml ids and safetensors dtypes, with exact size rules. */
#include "qf_int.h"

#include <strings.h>

#define G QF_TYPEF_GGUF
#define V QF_TYPEF_VALID
#define QT (V | G | QF_TYPEF_QUANT)
#define FL QF_TYPEF_FLOAT
#define IN QF_TYPEF_INT
#define RM (G | QF_TYPEF_REMOVED)

static const struct qf_type_info types[QF_TYPE_END] = {
    [QF_TYPE_F32] = {QF_TYPE_F32, "f32", 1, 4, V | G | FL},
    [QF_TYPE_F16] = {QF_TYPE_F16, "f16", 1, 2, V | G | FL},
    [QF_TYPE_Q4_0] = {QF_TYPE_Q4_0, "q4_0", 32, 18, QT},
    [QF_TYPE_Q4_1] = {QF_TYPE_Q4_1, "q4_1", 32, 20, QT},
    [4] = {4, "q4_2", 0, 0, RM},
    [5] = {5, "q4_3", 0, 0, RM},
    [QF_TYPE_Q5_0] = {QF_TYPE_Q5_0, "q5_0", 32, 22, QT},
    [QF_TYPE_Q5_1] = {QF_TYPE_Q5_1, "q5_1", 32, 24, QT},
    [QF_TYPE_Q8_0] = {QF_TYPE_Q8_0, "q8_0", 32, 34, QT},
    [QF_TYPE_Q8_1] = {QF_TYPE_Q8_1, "q8_1", 32, 36, QT},
    [QF_TYPE_Q2_K] = {QF_TYPE_Q2_K, "q2_K", 256, 84, QT},
    [QF_TYPE_Q3_K] = {QF_TYPE_Q3_K, "q3_K", 256, 110, QT},
    [QF_TYPE_Q4_K] = {QF_TYPE_Q4_K, "q4_K", 256, 144, QT},
    [QF_TYPE_Q5_K] = {QF_TYPE_Q5_K, "q5_K", 256, 176, QT},
    [QF_TYPE_Q6_K] = {QF_TYPE_Q6_K, "q6_K", 256, 210, QT},
    [QF_TYPE_Q8_K] = {QF_TYPE_Q8_K, "q8_K", 256, 292, QT},
    [QF_TYPE_IQ2_XXS] = {QF_TYPE_IQ2_XXS, "iq2_xxs", 256, 66, QT},
    [QF_TYPE_IQ2_XS] = {QF_TYPE_IQ2_XS, "iq2_xs", 256, 74, QT},
    [QF_TYPE_IQ3_XXS] = {QF_TYPE_IQ3_XXS, "iq3_xxs", 256, 98, QT},
    [QF_TYPE_IQ1_S] = {QF_TYPE_IQ1_S, "iq1_s", 256, 50, QT},
    [QF_TYPE_IQ4_NL] = {QF_TYPE_IQ4_NL, "iq4_nl", 32, 18, QT},
    [QF_TYPE_IQ3_S] = {QF_TYPE_IQ3_S, "iq3_s", 256, 110, QT},
    [QF_TYPE_IQ2_S] = {QF_TYPE_IQ2_S, "iq2_s", 256, 82, QT},
    [QF_TYPE_IQ4_XS] = {QF_TYPE_IQ4_XS, "iq4_xs", 256, 136, QT},
    [QF_TYPE_I8] = {QF_TYPE_I8, "i8", 1, 1, V | G | IN},
    [QF_TYPE_I16] = {QF_TYPE_I16, "i16", 1, 2, V | G | IN},
    [QF_TYPE_I32] = {QF_TYPE_I32, "i32", 1, 4, V | G | IN},
    [QF_TYPE_I64] = {QF_TYPE_I64, "i64", 1, 8, V | G | IN},
    [QF_TYPE_F64] = {QF_TYPE_F64, "f64", 1, 8, V | G | FL},
    [QF_TYPE_IQ1_M] = {QF_TYPE_IQ1_M, "iq1_m", 256, 56, QT},
    [QF_TYPE_BF16] = {QF_TYPE_BF16, "bf16", 1, 2, V | G | FL},
    [31] = {31, "q4_0_4_4", 0, 0, RM},
    [32] = {32, "q4_0_4_8", 0, 0, RM},
    [33] = {33, "q4_0_8_8", 0, 0, RM},
    [QF_TYPE_TQ1_0] = {QF_TYPE_TQ1_0, "tq1_0", 256, 54, QT},
    [QF_TYPE_TQ2_0] = {QF_TYPE_TQ2_0, "tq2_0", 256, 66, QT},
    [36] = {36, "iq4_nl_4_4", 0, 0, RM},
    [37] = {37, "iq4_nl_4_8", 0, 0, RM},
    [38] = {38, "iq4_nl_8_8", 0, 0, RM},
    [QF_TYPE_MXFP4] = {QF_TYPE_MXFP4, "mxfp4", 32, 17, QT},
    [QF_TYPE_NVFP4] = {QF_TYPE_NVFP4, "nvfp4", 64, 36, QT},
    [QF_TYPE_Q1_0] = {QF_TYPE_Q1_0, "q1_0", 128, 18, QT},
    [QF_TYPE_Q2_0] = {QF_TYPE_Q2_0, "q2_0", 64, 18, QT},
    [QF_TYPE_BOOL] = {QF_TYPE_BOOL, "bool", 1, 1, V | IN},
    [QF_TYPE_U8] = {QF_TYPE_U8, "u8", 1, 1, V | IN},
    [QF_TYPE_U16] = {QF_TYPE_U16, "u16", 1, 2, V | IN},
    [QF_TYPE_U32] = {QF_TYPE_U32, "u32", 1, 4, V | IN},
    [QF_TYPE_U64] = {QF_TYPE_U64, "u64", 1, 8, V | IN},
    [QF_TYPE_F8_E4M3] = {QF_TYPE_F8_E4M3, "f8_e4m3", 1, 1, V | FL},
    [QF_TYPE_F8_E5M2] = {QF_TYPE_F8_E5M2, "f8_e5m2", 1, 1, V | FL},
    [QF_TYPE_F8_E8M0] = {QF_TYPE_F8_E8M0, "f8_e8m0", 1, 1, V | FL},
    [QF_TYPE_F8_E4M3FNUZ] = {QF_TYPE_F8_E4M3FNUZ, "f8_e4m3fnuz", 1, 1, V | FL},
    [QF_TYPE_F8_E5M2FNUZ] = {QF_TYPE_F8_E5M2FNUZ, "f8_e5m2fnuz", 1, 1, V | FL},
    [QF_TYPE_F4] = {QF_TYPE_F4, "f4", 2, 1, V | FL},
    [QF_TYPE_F6_E2M3] = {QF_TYPE_F6_E2M3, "f6_e2m3", 4, 3, V | FL},
    [QF_TYPE_F6_E3M2] = {QF_TYPE_F6_E3M2, "f6_e3m2", 4, 3, V | FL},
    [QF_TYPE_C64] = {QF_TYPE_C64, "c64", 1, 8, V | FL},
};

/* safetensors dtype strings (exact spelling of the format) */
static const struct {
    const char *s;
    int t;
} st_dtypes[] = {
    {"BOOL", QF_TYPE_BOOL},         {"F4", QF_TYPE_F4},
    {"F6_E2M3", QF_TYPE_F6_E2M3},   {"F6_E3M2", QF_TYPE_F6_E3M2},
    {"U8", QF_TYPE_U8},             {"I8", QF_TYPE_I8},
    {"F8_E5M2", QF_TYPE_F8_E5M2},   {"F8_E4M3", QF_TYPE_F8_E4M3},
    {"F8_E8M0", QF_TYPE_F8_E8M0},   {"F8_E4M3FNUZ", QF_TYPE_F8_E4M3FNUZ},
    {"F8_E5M2FNUZ", QF_TYPE_F8_E5M2FNUZ}, {"I16", QF_TYPE_I16},
    {"U16", QF_TYPE_U16},           {"F16", QF_TYPE_F16},
    {"BF16", QF_TYPE_BF16},         {"I32", QF_TYPE_I32},
    {"U32", QF_TYPE_U32},           {"F32", QF_TYPE_F32},
    {"C64", QF_TYPE_C64},           {"F64", QF_TYPE_F64},
    {"I64", QF_TYPE_I64},           {"U64", QF_TYPE_U64},
};

const struct qf_type_info *qf_type_info(int t)
{
    if (t < 0 || t >= QF_TYPE_END || !types[t].name)
        return NULL;
    return &types[t];
}

const char *qf_type_name(int t)
{
    const struct qf_type_info *ti = qf_type_info(t);
    return ti ? ti->name : "?";
}

int qf_type_from_st_dtype(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strlen(st_dtypes[i].s) == len && memcmp(st_dtypes[i].s, s, len) == 0)
            return st_dtypes[i].t;
    return QF_TYPE_INVALID;
}

const char *qf_type_st_dtype(int t)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (st_dtypes[i].t == t)
            return st_dtypes[i].s;
    return NULL;
}

int qf_type_from_name(const char *name)
{
    if (!name)
        return QF_TYPE_INVALID;
    for (int t = 0; t < QF_TYPE_END; t++)
        if (types[t].name && (types[t].flags & QF_TYPEF_VALID) && strcasecmp(types[t].name, name) == 0)
            return t;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcasecmp(st_dtypes[i].s, name) == 0)
            return st_dtypes[i].t;
    return QF_TYPE_INVALID;
}

double qf_type_bpw(int t)
{
    const struct qf_type_info *ti = qf_type_info(t);
    if (!ti || !ti->blck)
        return 0.0;
    return (double)ti->block_bytes * 8.0 / (double)ti->blck;
}

int64_t qf_type_nbytes(int t, uint64_t row_len, uint64_t nelem)
{
    const struct qf_type_info *ti = qf_type_info(t);
    if (!ti || !(ti->flags & QF_TYPEF_VALID))
        return QF_EFORMAT;
    if (row_len == 0 || nelem == 0)
        return 0;
    if (row_len % ti->blck != 0 || nelem % row_len != 0)
        return QF_EFORMAT;
    uint64_t r;
    if (!qfi_mul_ok(nelem / ti->blck, ti->block_bytes, &r) || r > (uint64_t)INT64_MAX)
        return QF_ELIMIT;
    return (int64_t)r;
}
