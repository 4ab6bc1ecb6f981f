/* ftype.c - llama_ftype table and llama-quantize's per-tensor type choice.
 *
 * Spec: gguf.md §10 (ids), gguf-hash-and-tools.md §3.2 (names), §3.4 (eligibility), §3.5
 * (mixing recipe), §3.6 (shape fallback). The default recipe is the one of llama.cpp b4748,
 * whose llama-quantize wrote the .llq.gguf files in tests/fixtures; check_ftype.c predicts
 * every tensor of those files. QF_QUANT_RECIPE_NEW switches to the later rules where they
 * differ.
 */
#include "qf/ftype.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qf/arch.h"
#include "qf_int.h"

#define NONE QF_TYPE_INVALID

static const struct qf_ftype_info ftypes[] = {
    {QF_FTYPE_ALL_F32, "F32", "ALL_F32", QF_TYPE_F32, 0},
    {QF_FTYPE_F16, "F16", "MOSTLY_F16", QF_TYPE_F16, 0},
    {QF_FTYPE_Q4_0, "Q4_0", "MOSTLY_Q4_0", QF_TYPE_Q4_0, 0},
    {QF_FTYPE_Q4_1, "Q4_1", "MOSTLY_Q4_1", QF_TYPE_Q4_1, 0},
    {4, "Q4_1_SOME_F16", "MOSTLY_Q4_1_SOME_F16", NONE, 1},
    {5, "Q4_2", "MOSTLY_Q4_2", NONE, 1},
    {6, "Q4_3", "MOSTLY_Q4_3", NONE, 1},
    {QF_FTYPE_Q8_0, "Q8_0", "MOSTLY_Q8_0", QF_TYPE_Q8_0, 0},
    {QF_FTYPE_Q5_0, "Q5_0", "MOSTLY_Q5_0", QF_TYPE_Q5_0, 0},
    {QF_FTYPE_Q5_1, "Q5_1", "MOSTLY_Q5_1", QF_TYPE_Q5_1, 0},
    {QF_FTYPE_Q2_K, "Q2_K", "MOSTLY_Q2_K", QF_TYPE_Q2_K, 0},
    {QF_FTYPE_Q3_K_S, "Q3_K_S", "MOSTLY_Q3_K_S", QF_TYPE_Q3_K, 0},
    {QF_FTYPE_Q3_K_M, "Q3_K_M", "MOSTLY_Q3_K_M", QF_TYPE_Q3_K, 0},
    {QF_FTYPE_Q3_K_L, "Q3_K_L", "MOSTLY_Q3_K_L", QF_TYPE_Q3_K, 0},
    {QF_FTYPE_Q4_K_S, "Q4_K_S", "MOSTLY_Q4_K_S", QF_TYPE_Q4_K, 0},
    {QF_FTYPE_Q4_K_M, "Q4_K_M", "MOSTLY_Q4_K_M", QF_TYPE_Q4_K, 0},
    {QF_FTYPE_Q5_K_S, "Q5_K_S", "MOSTLY_Q5_K_S", QF_TYPE_Q5_K, 0},
    {QF_FTYPE_Q5_K_M, "Q5_K_M", "MOSTLY_Q5_K_M", QF_TYPE_Q5_K, 0},
    {QF_FTYPE_Q6_K, "Q6_K", "MOSTLY_Q6_K", QF_TYPE_Q6_K, 0},
    {QF_FTYPE_IQ2_XXS, "IQ2_XXS", "MOSTLY_IQ2_XXS", QF_TYPE_IQ2_XXS, 0},
    {QF_FTYPE_IQ2_XS, "IQ2_XS", "MOSTLY_IQ2_XS", QF_TYPE_IQ2_XS, 0},
    {QF_FTYPE_Q2_K_S, "Q2_K_S", "MOSTLY_Q2_K_S", QF_TYPE_Q2_K, 0},
    {QF_FTYPE_IQ3_XS, "IQ3_XS", "MOSTLY_IQ3_XS", QF_TYPE_IQ3_S, 0},
    {QF_FTYPE_IQ3_XXS, "IQ3_XXS", "MOSTLY_IQ3_XXS", QF_TYPE_IQ3_XXS, 0},
    {QF_FTYPE_IQ1_S, "IQ1_S", "MOSTLY_IQ1_S", QF_TYPE_IQ1_S, 0},
    {QF_FTYPE_IQ4_NL, "IQ4_NL", "MOSTLY_IQ4_NL", QF_TYPE_IQ4_NL, 0},
    {QF_FTYPE_IQ3_S, "IQ3_S", "MOSTLY_IQ3_S", QF_TYPE_IQ3_S, 0},
    {QF_FTYPE_IQ3_M, "IQ3_M", "MOSTLY_IQ3_M", QF_TYPE_IQ3_S, 0},
    {QF_FTYPE_IQ2_S, "IQ2_S", "MOSTLY_IQ2_S", QF_TYPE_IQ2_XS, 0}, /* sic: the S mix has base IQ2_XS */
    {QF_FTYPE_IQ2_M, "IQ2_M", "MOSTLY_IQ2_M", QF_TYPE_IQ2_S, 0},
    {QF_FTYPE_IQ4_XS, "IQ4_XS", "MOSTLY_IQ4_XS", QF_TYPE_IQ4_XS, 0},
    {QF_FTYPE_IQ1_M, "IQ1_M", "MOSTLY_IQ1_M", QF_TYPE_IQ1_M, 0},
    {QF_FTYPE_BF16, "BF16", "MOSTLY_BF16", QF_TYPE_BF16, 0},
    {33, "Q4_0_4_4", "MOSTLY_Q4_0_4_4", NONE, 1},
    {34, "Q4_0_4_8", "MOSTLY_Q4_0_4_8", NONE, 1},
    {35, "Q4_0_8_8", "MOSTLY_Q4_0_8_8", NONE, 1},
    {QF_FTYPE_TQ1_0, "TQ1_0", "MOSTLY_TQ1_0", QF_TYPE_TQ1_0, 0},
    {QF_FTYPE_TQ2_0, "TQ2_0", "MOSTLY_TQ2_0", QF_TYPE_TQ2_0, 0},
    {QF_FTYPE_MXFP4_MOE, "MXFP4_MOE", "MOSTLY_MXFP4_MOE", QF_TYPE_MXFP4, 0},
    {QF_FTYPE_NVFP4, "NVFP4", "MOSTLY_NVFP4", QF_TYPE_NVFP4, 0},
    {QF_FTYPE_Q1_0, "Q1_0", "MOSTLY_Q1_0", QF_TYPE_Q1_0, 0},
    {QF_FTYPE_Q2_0, "Q2_0", "MOSTLY_Q2_0", QF_TYPE_Q2_0, 0},
    {QF_FTYPE_GUESSED, "GUESSED", "GUESSED", NONE, 0},
};

#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

const struct qf_ftype_info *qf_ftype_info(int ftype)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftypes[i].id == ftype)
            return &ftypes[i];
    return NULL;
}

const struct qf_ftype_info *qf_ftype_list(size_t *n)
{
    if (n)
        *n = N_FTYPES;
    return ftypes;
}

const char *qf_ftype_name(int ftype)
{
    const struct qf_ftype_info *fi = qf_ftype_info(ftype);
    return fi ? fi->name : "?";
}

int qf_ftype_from_name(const char *name)
{
    if (!name || !*name)
        return -1;
    if (isdigit((unsigned char)name[0])) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(name, &end, 10);
        if (errno || *end || v > 100000)
            return -1;
        const struct qf_ftype_info *fi = qf_ftype_info((int)v);
        return (fi && !fi->removed && fi->base_type != NONE) ? fi->id : -1;
    }
    static const struct {
        const char *alias;
        int id;
    } aliases[] = {{"Q3_K", QF_FTYPE_Q3_K_M}, {"Q4_K", QF_FTYPE_Q4_K_M}, {"Q5_K", QF_FTYPE_Q5_K_M}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].alias) == 0)
            return aliases[i].id;
    for (size_t i = 0; i < N_FTYPES; i++) {
        const struct qf_ftype_info *fi = &ftypes[i];
        if (fi->removed || fi->base_type == NONE)
            continue;
        if (strcasecmp(name, fi->name) == 0 || strcasecmp(name, fi->enum_name) == 0)
            return fi->id;
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------
 * Eligibility (spec §3.4)
 */
static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static int contains(const char *s, const char *sub)
{
    return strstr(s, sub) != NULL;
}

/* ggml_n_dims: dimensions up to the last one larger than 1 (at least 1). */
static int effective_dims(int n_dims, const uint64_t *shape)
{
    int nd = 1;
    for (int i = 0; i < n_dims; i++) /* shape[n_dims-1] is ne0 */
        if (shape[i] > 1)
            nd = n_dims - i > nd ? n_dims - i : nd;
    return nd;
}

int qf_ftype_eligible(const char *name, int n_dims, const uint64_t *shape,
                      const struct qf_quant_opts *opts)
{
    static const char *const never[] = {
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
        "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
        "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight",
        "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight",
        "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
        "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
        "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight",
        ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd",
        ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    };
    if (!name || n_dims < 0 || n_dims > QF_MAX_DIMS || (n_dims > 0 && !shape))
        return 0;
    if (n_dims < 2 || effective_dims(n_dims, shape) < 2)
        return 0;
    if (!ends_with(name, "weight"))
        return 0;
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (contains(name, never[i]))
            return 0;
    /* the architecture's position-embedding and token-type tensors (same names in every
     * architecture that has them) */
    if (strcmp(name, "position_embd.weight") == 0 || strcmp(name, "token_types.weight") == 0)
        return 0;
    if (opts && (opts->flags & QF_QUANT_LEAVE_OUTPUT) && strcmp(name, "output.weight") == 0)
        return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------------
 * Mixing recipe (spec §3.5)
 */
static int use_more_bits(int64_t i, int64_t n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* sscanf("blk.%d.") as llama.cpp does it: -1 if the name has no layer number. */
static int64_t name_layer(const char *name)
{
    if (strncmp(name, "blk.", 4) != 0)
        return -1;
    const char *p = name + 4;
    while (isspace((unsigned char)*p))
        p++;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!isdigit((unsigned char)*p))
        return -1;
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
        if (v < (int64_t)1 << 40)
            v = v * 10 + (*p - '0');
        p++;
    }
    return neg ? -v : v;
}

int qf_ftype_name_cmp(const char *a, const char *b)
{
    int64_t la = name_layer(a), lb = name_layer(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

static int is_iq12(int ft)
{
    return ft == QF_FTYPE_IQ2_XXS || ft == QF_FTYPE_IQ2_XS || ft == QF_FTYPE_IQ1_S ||
           ft == QF_FTYPE_IQ2_S || ft == QF_FTYPE_IQ2_M || ft == QF_FTYPE_IQ1_M;
}

/* For ffn_* tensors: the layer index. MoE models parse it from the name (experts are not
 * stored in layer order); dense models use the running count. */
static int64_t ffn_layer(const struct qf_quant_model *mi, const char *name, uint32_t running)
{
    if (mi->n_expert > 1) {
        int64_t l = name_layer(name);
        return l;
    }
    return running;
}

/* The recipe for a tensor whose base type is quantized; returns the mixed type (before the
 * shape fallback). Mirrors llama_tensor_get_type's branch order. */
static int recipe(int ft, int base, const struct qf_quant_model *mi, const struct qf_quant_opts *o,
                  struct qf_quant_state *st, const char *name, const uint64_t *ne)
{
    const int newr = (o->flags & QF_QUANT_RECIPE_NEW) != 0;
    const int imat = (o->flags & QF_QUANT_IMATRIX) != 0;
    const int falcon = strcmp(mi->arch, "falcon") == 0;
    const uint32_t gqa = mi->n_head_kv ? mi->n_head / mi->n_head_kv : 0;
    const int64_t L = mi->n_layer;
    int t = base;

    int is_output = strcmp(name, "output.weight") == 0;
    int is_tok = strcmp(name, "token_embd.weight") == 0 ||
                 strcmp(name, "per_layer_token_embd.weight") == 0;
    int is_v = contains(name, "attn_v.weight") ||
               (newr && (contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight")));

    if (is_output || (!mi->has_output && strcmp(name, "token_embd.weight") == 0)) {
        if (o->output_type >= 0)
            return o->output_type;
        const struct qf_type_info *bi = qf_type_info(base);
        uint64_t blck = bi && bi->blck ? bi->blck : 1;
        if (ft == QF_FTYPE_MXFP4_MOE)
            return QF_TYPE_Q8_0;
        if (falcon || ne[0] % blck != 0)
            return QF_TYPE_Q8_0;
        if (ft == QF_FTYPE_IQ2_XXS || ft == QF_FTYPE_IQ2_XS || ft == QF_FTYPE_IQ3_XXS ||
            ft == QF_FTYPE_IQ1_S || ft == QF_FTYPE_IQ2_S || ft == QF_FTYPE_IQ2_M ||
            ft == QF_FTYPE_IQ1_M)
            return QF_TYPE_Q5_K;
        return t != QF_TYPE_Q8_0 ? QF_TYPE_Q6_K : t;
    }
    if (ft == QF_FTYPE_MXFP4_MOE)
        return ne[2] > 1 ? QF_TYPE_MXFP4 : QF_TYPE_Q8_0;
    if (is_tok) {
        if (o->token_embd_type >= 0)
            return o->token_embd_type;
        if (ft == QF_FTYPE_IQ2_XXS || ft == QF_FTYPE_IQ2_XS || ft == QF_FTYPE_IQ1_S ||
            ft == QF_FTYPE_IQ1_M)
            return QF_TYPE_Q2_K;
        if (ft == QF_FTYPE_IQ2_S || ft == QF_FTYPE_IQ2_M || ft == QF_FTYPE_IQ3_XXS)
            return QF_TYPE_IQ3_S;
        if (ft == QF_FTYPE_TQ1_0 || ft == QF_FTYPE_TQ2_0)
            return QF_TYPE_Q4_K;
        return t;
    }
    if (is_iq12(ft)) {
        int s_or_m = ft == QF_FTYPE_IQ2_S || ft == QF_FTYPE_IQ2_M;
        if (is_v) {
            if (gqa >= 4 || mi->n_expert >= 4)
                t = QF_TYPE_Q4_K;
            else
                t = s_or_m ? QF_TYPE_IQ3_S : QF_TYPE_Q2_K;
            st->i_attn_v++;
        } else if (mi->n_expert == 8 && contains(name, "attn_k.weight")) {
            t = QF_TYPE_Q4_K;
        } else if (contains(name, "ffn_down")) {
            if (st->i_ffn_down < mi->n_layer / 8)
                t = s_or_m ? QF_TYPE_IQ3_S : QF_TYPE_Q2_K;
            st->i_ffn_down++;
        } else if (contains(name, "attn_output.weight")) {
            if (mi->n_expert == 8)
                t = QF_TYPE_Q5_K;
            else if (ft == QF_FTYPE_IQ1_S || ft == QF_FTYPE_IQ1_M)
                t = QF_TYPE_IQ2_XXS;
            else if (s_or_m)
                t = QF_TYPE_IQ3_S;
        }
        return t;
    }
    if (is_v) {
        if (ft == QF_FTYPE_Q2_K)
            t = gqa >= 4 ? QF_TYPE_Q4_K : QF_TYPE_Q3_K;
        else if (ft == QF_FTYPE_Q2_K_S && gqa >= 4)
            t = QF_TYPE_Q4_K;
        else if (ft == QF_FTYPE_IQ3_XXS)
            t = gqa >= 4 ? QF_TYPE_Q4_K : (!imat ? QF_TYPE_IQ3_S : QF_TYPE_IQ3_XXS);
        else if ((ft == QF_FTYPE_IQ3_XS || ft == QF_FTYPE_IQ3_S) && gqa >= 4)
            t = QF_TYPE_Q4_K;
        else if (ft == QF_FTYPE_IQ3_M)
            t = QF_TYPE_Q4_K;
        else if (ft == QF_FTYPE_Q3_K_M)
            t = st->i_attn_v < 2 ? QF_TYPE_Q5_K : QF_TYPE_Q4_K;
        else if (ft == QF_FTYPE_Q3_K_L)
            t = QF_TYPE_Q5_K;
        else if ((ft == QF_FTYPE_IQ4_NL || ft == QF_FTYPE_IQ4_XS) && gqa >= 4)
            t = QF_TYPE_Q5_K;
        else if ((ft == QF_FTYPE_Q4_K_M || ft == QF_FTYPE_Q5_K_M) &&
                 use_more_bits(st->i_attn_v, mi->n_attn_v))
            t = QF_TYPE_Q6_K;
        else if (ft == QF_FTYPE_Q4_K_S && st->i_attn_v < 4)
            t = QF_TYPE_Q5_K;
        if (mi->is_70b && (t == QF_TYPE_Q3_K || t == QF_TYPE_Q4_K))
            t = QF_TYPE_Q5_K;
        if (mi->n_expert == 8)
            t = QF_TYPE_Q8_0;
        st->i_attn_v++;
        return t;
    }
    if (contains(name, "attn_k.weight")) {
        if (mi->n_expert == 8)
            t = QF_TYPE_Q8_0;
        else if (ft == QF_FTYPE_IQ3_XS)
            t = QF_TYPE_IQ3_XXS;
        else if (ft == QF_FTYPE_IQ3_XXS)
            t = QF_TYPE_IQ2_S;
        return t;
    }
    if (contains(name, "attn_q.weight")) {
        if (ft == QF_FTYPE_IQ3_XS)
            t = QF_TYPE_IQ3_XXS;
        else if (ft == QF_FTYPE_IQ3_XXS)
            t = QF_TYPE_IQ2_S;
        return t;
    }
    if (contains(name, "ffn_down")) {
        int64_t i = ffn_layer(mi, name, st->i_ffn_down);
        if (ft == QF_FTYPE_Q2_K)
            t = QF_TYPE_Q3_K;
        else if (ft == QF_FTYPE_Q2_K_S) {
            if (i < L / 8)
                t = QF_TYPE_Q4_K;
        } else if (ft == QF_FTYPE_IQ3_XXS && !imat)
            t = i < L / 8 ? QF_TYPE_Q4_K : QF_TYPE_Q3_K;
        else if (ft == QF_FTYPE_Q3_K_M)
            t = i < L / 16 ? QF_TYPE_Q5_K
                : (!falcon || use_more_bits(i, L)) ? QF_TYPE_Q4_K : QF_TYPE_Q3_K;
        else if (ft == QF_FTYPE_IQ3_M &&
                 (i < L / 8 || (mi->n_expert == 8 && use_more_bits(i, L))))
            t = QF_TYPE_Q4_K;
        else if (ft == QF_FTYPE_Q3_K_L)
            t = falcon ? QF_TYPE_Q4_K : QF_TYPE_Q5_K;
        else if (ft == QF_FTYPE_Q4_K_M) {
            if (falcon)
                t = i < L / 16 ? QF_TYPE_Q6_K : use_more_bits(i, L) ? QF_TYPE_Q5_K : QF_TYPE_Q4_K;
            else if (use_more_bits(i, L))
                t = QF_TYPE_Q6_K;
        } else if (i < L / 8 && (ft == QF_FTYPE_IQ4_NL || ft == QF_FTYPE_IQ4_XS) && !imat)
            t = QF_TYPE_Q5_K;
        else if (ft == QF_FTYPE_Q5_K_M && use_more_bits(i, L))
            t = QF_TYPE_Q6_K;
        else if (ft == QF_FTYPE_Q4_K_S && !falcon && i < L / 8)
            t = QF_TYPE_Q5_K;
        else if ((ft == QF_FTYPE_Q4_0 || ft == QF_FTYPE_Q5_0) && imat && i < L / 8)
            t = ft == QF_FTYPE_Q4_0 ? QF_TYPE_Q4_1 : QF_TYPE_Q5_1;
        st->i_ffn_down++;
        return t;
    }
    if (contains(name, "attn_output.weight")) {
        if (!falcon) {
            if (mi->n_expert == 8) {
                if (ft == QF_FTYPE_Q2_K || ft == QF_FTYPE_IQ3_XS || ft == QF_FTYPE_IQ3_XXS ||
                    ft == QF_FTYPE_Q3_K_S || ft == QF_FTYPE_Q3_K_M || ft == QF_FTYPE_IQ4_NL ||
                    ft == QF_FTYPE_Q4_K_S || ft == QF_FTYPE_Q4_K_M || ft == QF_FTYPE_IQ3_S ||
                    ft == QF_FTYPE_IQ3_M || ft == QF_FTYPE_IQ4_XS)
                    t = QF_TYPE_Q5_K;
            } else {
                if (ft == QF_FTYPE_Q2_K)
                    t = QF_TYPE_Q3_K;
                else if (ft == QF_FTYPE_IQ3_XXS)
                    t = QF_TYPE_IQ3_S;
                else if (ft == QF_FTYPE_Q3_K_M)
                    t = QF_TYPE_Q4_K;
                else if (ft == QF_FTYPE_Q3_K_L)
                    t = QF_TYPE_Q5_K;
                else if (ft == QF_FTYPE_IQ3_M)
                    t = QF_TYPE_Q4_K;
            }
        } else if (ft == QF_FTYPE_Q3_K_L) {
            t = QF_TYPE_Q4_K;
        }
        return t;
    }
    if (contains(name, "attn_qkv.weight")) { /* reached only by the b4748 recipe */
        if (ft == QF_FTYPE_Q3_K_M || ft == QF_FTYPE_Q3_K_L || ft == QF_FTYPE_IQ3_M)
            t = QF_TYPE_Q4_K;
        else if (ft == QF_FTYPE_Q4_K_M)
            t = QF_TYPE_Q5_K;
        else if (ft == QF_FTYPE_Q5_K_M)
            t = QF_TYPE_Q6_K;
        return t;
    }
    if (contains(name, "ffn_gate") || contains(name, "ffn_up")) {
        int gate = contains(name, "ffn_gate");
        uint32_t *ctr = gate ? &st->i_ffn_gate : &st->i_ffn_up;
        int64_t i = ffn_layer(mi, name, *ctr);
        if (ft == QF_FTYPE_IQ3_XS && i >= L / 8 && i < 7 * L / 8)
            t = QF_TYPE_IQ3_XXS;
        (*ctr)++;
        return t;
    }
    return t;
}

/* Shape fallback (spec §3.6). Returns the type, or QF_EUNSUPPORTED if none fits. */
static int shape_fallback(int t, uint64_t ne0, unsigned flags, int *fell)
{
    const struct qf_type_info *ti = qf_type_info(t);
    uint64_t blck = ti && ti->blck ? ti->blck : 1;
    *fell = 0;
    if (ne0 % blck == 0)
        return t;
    *fell = 1;
    int fb;
    switch (t) {
    case QF_TYPE_IQ1_S: case QF_TYPE_IQ1_M: case QF_TYPE_IQ2_XXS: case QF_TYPE_IQ2_XS:
    case QF_TYPE_IQ2_S: case QF_TYPE_IQ3_XXS: case QF_TYPE_IQ3_S: case QF_TYPE_IQ4_XS:
        fb = QF_TYPE_IQ4_NL;
        break;
    case QF_TYPE_Q2_K: case QF_TYPE_Q3_K:
        fb = (flags & QF_QUANT_RECIPE_NEW) ? QF_TYPE_Q4_0 : QF_TYPE_IQ4_NL;
        break;
    case QF_TYPE_Q2_0:
        if (!(flags & QF_QUANT_RECIPE_NEW))
            return QF_EUNSUPPORTED;
        fb = QF_TYPE_Q4_0;
        break;
    case QF_TYPE_TQ1_0: case QF_TYPE_TQ2_0: fb = QF_TYPE_Q4_0; break;
    case QF_TYPE_Q4_K: fb = QF_TYPE_Q5_0; break;
    case QF_TYPE_Q5_K: fb = QF_TYPE_Q5_1; break;
    case QF_TYPE_Q6_K: fb = QF_TYPE_Q8_0; break;
    default:
        if ((flags & QF_QUANT_FALLBACK_F16) && blck <= 32)
            return QF_TYPE_F16;
        return QF_EUNSUPPORTED;
    }
    const struct qf_type_info *fi = qf_type_info(fb);
    if (ne0 % fi->blck != 0)
        return QF_TYPE_F16;
    return fb;
}

int qf_ftype_tensor_type(int ftype, const struct qf_quant_model *mi,
                         const struct qf_quant_opts *opts, struct qf_quant_state *st,
                         const char *name, int n_dims, const uint64_t *shape, int cur_type,
                         unsigned *how)
{
    static const struct qf_quant_opts defopts = {0, -1, -1};
    const struct qf_ftype_info *fi = qf_ftype_info(ftype);
    if (how)
        *how = 0;
    if (!fi || fi->removed || fi->base_type == NONE || !mi || !st || !name)
        return QF_EINVAL;
    if (!opts)
        opts = &defopts;
    if (!qf_ftype_eligible(name, n_dims, shape, opts)) {
        if (how)
            *how = QF_QUANT_KEPT;
        return cur_type;
    }
    /* ggml order: ne[0] is the row */
    uint64_t ne[4] = {1, 1, 1, 1};
    for (int i = 0; i < n_dims && i < 4; i++)
        ne[i] = shape[n_dims - 1 - i];

    const int base = fi->base_type;
    const struct qf_type_info *bi = qf_type_info(base);
    const int quantized = bi && (bi->flags & QF_TYPEF_QUANT);
    const int newr = (opts->flags & QF_QUANT_RECIPE_NEW) != 0;
    int t = base;
    int is_output = strcmp(name, "output.weight") == 0;
    int is_tok = strcmp(name, "token_embd.weight") == 0 ||
                 strcmp(name, "per_layer_token_embd.weight") == 0;

    if (!quantized) {
        /* F32/F16/BF16: every eligible tensor gets the base type, overrides aside */
        if (is_output && opts->output_type >= 0)
            t = opts->output_type;
        else if (is_tok && opts->token_embd_type >= 0)
            t = opts->token_embd_type;
        if (how && t != base)
            *how |= QF_QUANT_MIXED;
        return t;
    }
    int do_fallback = 1;
    if (opts->flags & QF_QUANT_PURE) {
        if (is_output && opts->output_type >= 0)
            t = opts->output_type;
        else if (is_tok && opts->token_embd_type >= 0)
            t = opts->token_embd_type;
        do_fallback = newr;
    } else {
        t = recipe(ftype, base, mi, opts, st, name, ne);
    }
    if (how && t != base)
        *how |= QF_QUANT_MIXED;
    if (do_fallback) {
        int fell = 0;
        int r = shape_fallback(t, ne[0], opts->flags, &fell);
        if (r < 0)
            return r;
        if (fell) {
            st->n_fallback++;
            if (how)
                *how |= QF_QUANT_FALLBACK;
        }
        t = r;
    }
    return t;
}

/* ---------------------------------------------------------------------------------------
 * Whole models
 */
struct plan_item {
    size_t index;
    const char *name;   /* GGUF name */
};

static int item_cmp(const void *a, const void *b)
{
    const struct plan_item *x = a, *y = b;
    int c = qf_ftype_name_cmp(x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* GGUF name of tensor t: as stored for GGUF, mapped for others (written into buf). */
static const char *gguf_name(const struct qf_model *m, const struct qf_tensor *t, char *buf,
                             size_t n)
{
    const char *fmt = qf_model_format(m);
    if (fmt && strcmp(fmt, "gguf") == 0)
        return t->name;
    if (qf_arch_gguf_tensor_name(t->name, buf, n) >= 0)
        return buf;
    return t->name;
}

int qf_quant_model_init(struct qf_quant_model *mi, const struct qf_model *m)
{
    if (!mi || !m)
        return QF_EINVAL;
    memset(mi, 0, sizeof *mi);
    struct qf_arch a;
    qf_arch_from_model(m, &a);
    snprintf(mi->arch, sizeof mi->arch, "%s", a.name);
    mi->n_layer = a.n_layer > UINT32_MAX ? UINT32_MAX : (uint32_t)a.n_layer;
    mi->n_head = a.n_head > UINT32_MAX ? UINT32_MAX : (uint32_t)a.n_head;
    mi->n_head_kv = a.n_head_kv > UINT32_MAX ? UINT32_MAX : (uint32_t)a.n_head_kv;
    mi->n_expert = a.n_expert > UINT32_MAX ? UINT32_MAX : (uint32_t)a.n_expert;
    mi->is_70b = strcmp(a.name, "llama") == 0 && a.n_layer == 80 && a.n_head != a.n_head_kv;
    char buf[QFI_MAX_NAME + 64];
    size_t nt = qf_model_n_tensors(m);
    for (size_t i = 0; i < nt; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        const char *nm = gguf_name(m, t, buf, sizeof buf);
        if (contains(nm, "attn_v.weight") || contains(nm, "attn_qkv.weight") ||
            contains(nm, "attn_kv_b.weight"))
            mi->n_attn_v++;
        else if (strcmp(nm, "output.weight") == 0)
            mi->has_output = 1;
    }
    return QF_OK;
}

int qf_ftype_plan(const struct qf_model *m, int ftype, const struct qf_quant_opts *opts,
                  int *types, struct qf_error *err)
{
    qf_error_clear(err);
    const struct qf_ftype_info *fi = qf_ftype_info(ftype);
    if (!m || !types || !fi || fi->removed || fi->base_type == NONE)
        return qfi_error(err, QF_EINVAL, 0, NULL, -1, "invalid file type %d", ftype);
    struct qf_quant_model mi;
    qf_quant_model_init(&mi, m);
    size_t nt = qf_model_n_tensors(m);
    const char *fmt = qf_model_format(m);
    int is_gguf = fmt && strcmp(fmt, "gguf") == 0;
    if (nt == 0)
        return QF_OK;
    struct plan_item *items = calloc(nt, sizeof *items);
    char **names = is_gguf ? NULL : calloc(nt, sizeof *names);
    if (!items || (!is_gguf && !names)) {
        free(items);
        free(names);
        return qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory planning %zu tensors", nt);
    }
    int rc = QF_OK;
    char buf[QFI_MAX_NAME + 64];
    for (size_t i = 0; i < nt; i++) {
        const struct qf_tensor *t = qf_model_tensor(m, i);
        items[i].index = i;
        if (is_gguf) {
            items[i].name = t->name;
        } else {
            const char *nm = gguf_name(m, t, buf, sizeof buf);
            names[i] = strdup(nm);
            if (!names[i]) {
                rc = qfi_error(err, QF_ENOMEM, 0, NULL, -1, "out of memory");
                goto out;
            }
            items[i].name = names[i];
        }
    }
    qsort(items, nt, sizeof *items, item_cmp);
    struct qf_quant_state st;
    memset(&st, 0, sizeof st);
    for (size_t k = 0; k < nt; k++) {
        const struct qf_tensor *t = qf_model_tensor(m, items[k].index);
        int cur = t->type;
        if (!is_gguf && !qf_ftype_eligible(items[k].name, t->n_dims, t->shape, opts))
            cur = QF_TYPE_F32;
        unsigned how = 0;
        int r = qf_ftype_tensor_type(ftype, &mi, opts, &st, items[k].name, t->n_dims, t->shape,
                                     cur, &how);
        if (r < 0) {
            uint64_t ne0 = t->n_dims > 0 ? t->shape[t->n_dims - 1] : 1;
            char q[160];
            rc = qfi_error(err, r, 0, NULL, -1,
                           "llama-quantize %s refuses tensor '%s': rows of %llu elements fit "
                           "no fallback type",
                           fi->name, qfi_quote(q, sizeof q, t->name, t->name_len),
                           (unsigned long long)ne0);
            goto out;
        }
        types[items[k].index] = r;
    }
out:
    if (names)
        for (size_t i = 0; i < nt; i++)
            free(names[i]);
    free(names);
    free(items);
    return rc;
}
