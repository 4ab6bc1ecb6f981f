/* arch.c - architecture facts from GGUF keys or config.json, memory estimates, and the
 * Hugging Face -> GGUF tensor name table (Llama / Mistral / Qwen2 family).
 *
 * Spec: gguf.md §9.2 ({arch}.* keys), hf-to-gguf-naming.md §1 (architecture dispatch), §2
 * (tensor names) and §5 (config.json keys: the first key present wins, in the order listed).
 */
#include "qf/arch.h"

#include <stdio.h>
#include <string.h>

#include "qf_int.h"

/* ---------------------------------------------------------------------------------------
 * Metadata lookups
 */
static int key_eq(const struct qf_kv *kv, const char *key)
{
    size_t n = strlen(key);
    return kv->key.len == n && memcmp(kv->key.ptr, key, n) == 0;
}

/* First record with this key and origin (origin NULL: any). */
static const struct qf_kv *find(const struct qf_model *m, const char *key, const char *origin)
{
    size_t n = qf_model_n_kv(m);
    for (size_t i = 0; i < n; i++) {
        const struct qf_kv *kv = qf_model_kv(m, i);
        if (!key_eq(kv, key))
            continue;
        if (!origin || (kv->origin && strcmp(kv->origin, origin) == 0))
            return kv;
    }
    return NULL;
}

/* A non-negative integer value; for an array of integers, its maximum, and *sum (if not NULL)
 * the sum of its elements, *count their number. Returns 1 if a usable value was found. */
static int get_uint(const struct qf_kv *kv, uint64_t *out, uint64_t *sum, uint64_t *count)
{
    if (!kv)
        return 0;
    const struct qf_value *v = &kv->val;
    if (v->type == QF_V_ARRAY) {
        if (v->v.a.etype == QF_V_ARRAY || v->v.a.etype == QF_V_STRING || v->v.a.count == 0)
            return 0;
        struct qf_array_iter it;
        struct qf_value e;
        uint64_t mx = 0, s = 0, n = 0;
        qf_array_iter_init(&it, &v->v.a);
        while (qf_array_iter_next(&it, &e)) {
            uint64_t x;
            if (qf_value_as_u64(&e, &x) != QF_OK)
                return 0;
            if (x > mx)
                mx = x;
            if (!qfi_add_ok(s, x, &s))
                return 0;
            n++;
        }
        *out = mx;
        if (sum)
            *sum = s;
        if (count)
            *count = n;
        return 1;
    }
    if (v->type == QF_V_F32 || v->type == QF_V_F64) {
        /* JSON numbers written as 4096.0 */
        double d = v->v.f;
        if (!(d >= 0 && d < 9.0e15) || d != (double)(uint64_t)d)
            return 0;
        *out = (uint64_t)d;
    } else if (qf_value_as_u64(v, out) != QF_OK) {
        return 0;
    }
    if (sum)
        *sum = *out;
    if (count)
        *count = 0;
    return 1;
}

static void copy_str(char *dst, size_t n, const struct qf_value *v)
{
    if (v->type != QF_V_STRING) {
        dst[0] = '\0';
        return;
    }
    size_t len = v->v.s.len < n - 1 ? (size_t)v->v.s.len : n - 1;
    memcpy(dst, v->v.s.ptr, len);
    dst[len] = '\0'; /* an embedded NUL ends the name early: fine for display and lookups */
}

/* ---------------------------------------------------------------------------------------
 * GGUF
 */
static int gguf_uint(const struct qf_model *m, const char *arch, const char *suffix,
                     uint64_t *out, uint64_t *sum, uint64_t *count)
{
    char key[192];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return get_uint(qf_model_find_kv(m, key), out, sum, count);
}

static void from_gguf(const struct qf_model *m, struct qf_arch *a)
{
    const struct qf_kv *kv = qf_model_find_kv(m, "general.architecture");
    if (kv)
        copy_str(a->name, sizeof a->name, &kv->val);
    a->source = "gguf";
    const char *ar = a->name;
    uint64_t sum = 0, cnt = 0;
    if (!*ar)
        return;
    if (gguf_uint(m, ar, "block_count", &a->n_layer, NULL, NULL))
        a->known |= QF_ARCH_N_LAYER;
    if (gguf_uint(m, ar, "embedding_length", &a->n_embd, NULL, NULL))
        a->known |= QF_ARCH_N_EMBD;
    if (gguf_uint(m, ar, "feed_forward_length", &a->n_ff, NULL, NULL))
        a->known |= QF_ARCH_N_FF;
    if (gguf_uint(m, ar, "attention.head_count", &a->n_head, NULL, NULL))
        a->known |= QF_ARCH_N_HEAD;
    if (gguf_uint(m, ar, "attention.head_count_kv", &a->n_head_kv, &sum, &cnt)) {
        a->known |= QF_ARCH_N_HEAD_KV;
        if (cnt > 0) {
            a->known |= QF_ARCH_KV_PER_LAYER;
            a->kv_layers_sum = sum;
        }
    }
    uint64_t k = 0, v = 0;
    int hk = gguf_uint(m, ar, "attention.key_length", &k, NULL, NULL);
    int hv = gguf_uint(m, ar, "attention.value_length", &v, NULL, NULL);
    if (hk || hv) {
        a->head_dim_k = hk ? k : v;
        a->head_dim_v = hv ? v : k;
        a->known |= QF_ARCH_HEAD_DIM;
    }
    if (gguf_uint(m, ar, "context_length", &a->n_ctx_train, NULL, NULL))
        a->known |= QF_ARCH_N_CTX;
    if (gguf_uint(m, ar, "vocab_size", &a->n_vocab, NULL, NULL))
        a->known |= QF_ARCH_N_VOCAB;
    if (gguf_uint(m, ar, "expert_count", &a->n_expert, NULL, NULL))
        a->known |= QF_ARCH_N_EXPERT;
    gguf_uint(m, ar, "expert_used_count", &a->n_expert_used, NULL, NULL);
    if (!(a->known & QF_ARCH_N_VOCAB)) {
        kv = qf_model_find_kv(m, "tokenizer.ggml.tokens");
        if (kv && kv->val.type == QF_V_ARRAY && kv->val.v.a.count > 0) {
            a->n_vocab = kv->val.v.a.count;
            a->known |= QF_ARCH_N_VOCAB;
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * config.json
 */
static const struct {
    const char *hf;
    const char *gguf;
} hf_archs[] = {
    {"LlamaForCausalLM", "llama"},   {"LLaMAForCausalLM", "llama"},
    {"LlamaModel", "llama"},         {"MistralForCausalLM", "llama"},
    {"MixtralForCausalLM", "llama"}, {"Qwen2ForCausalLM", "qwen2"},
    {"Qwen2Model", "qwen2"},
};

/* First of the keys present in config.json (then under text_config.). */
static int cfg_uint(const struct qf_model *m, const char *const *keys, uint64_t *out)
{
    for (int pass = 0; pass < 2; pass++) {
        for (const char *const *k = keys; *k; k++) {
            char key[128];
            snprintf(key, sizeof key, "%s%s", pass ? "text_config." : "", *k);
            const struct qf_kv *kv = find(m, key, "config.json");
            if (kv && kv->val.type != QF_V_NULL && get_uint(kv, out, NULL, NULL))
                return 1;
        }
    }
    return 0;
}

static void from_config(const struct qf_model *m, struct qf_arch *a)
{
    static const char *const k_layer[] = {"n_layers", "num_hidden_layers", "n_layer",
                                          "num_layers", NULL};
    static const char *const k_ctx[] = {"max_position_embeddings", "n_ctx", "n_positions",
                                        "max_length", "max_sequence_length", "model_max_length",
                                        NULL};
    static const char *const k_embd[] = {"hidden_size", "n_embd", "dim", NULL};
    static const char *const k_ff[] = {"intermediate_size", "n_inner", "hidden_dim", NULL};
    static const char *const k_head[] = {"num_attention_heads", "n_head", "n_heads", NULL};
    static const char *const k_kv[] = {"num_key_value_heads", "n_kv_heads", NULL};
    static const char *const k_hd[] = {"head_dim", NULL};
    static const char *const k_voc[] = {"vocab_size", NULL};
    static const char *const k_exp[] = {"num_local_experts", "num_experts", NULL};
    static const char *const k_used[] = {"num_experts_per_tok", NULL};

    a->source = "config.json";
    const struct qf_kv *kv = find(m, "architectures", "config.json");
    if (kv && kv->val.type == QF_V_ARRAY && kv->val.v.a.etype == QF_V_STRING &&
        kv->val.v.a.count > 0) {
        struct qf_value e;
        if (qf_array_get(&kv->val.v.a, 0, &e) == QF_OK)
            copy_str(a->hf_arch, sizeof a->hf_arch, &e);
    }
    for (size_t i = 0; i < sizeof hf_archs / sizeof hf_archs[0]; i++)
        if (strcmp(a->hf_arch, hf_archs[i].hf) == 0)
            snprintf(a->name, sizeof a->name, "%s", hf_archs[i].gguf);
    if (!a->name[0]) {
        kv = find(m, "model_type", "config.json");
        if (kv)
            copy_str(a->name, sizeof a->name, &kv->val);
    }
    if (cfg_uint(m, k_layer, &a->n_layer))
        a->known |= QF_ARCH_N_LAYER;
    if (cfg_uint(m, k_ctx, &a->n_ctx_train))
        a->known |= QF_ARCH_N_CTX;
    if (cfg_uint(m, k_embd, &a->n_embd))
        a->known |= QF_ARCH_N_EMBD;
    if (cfg_uint(m, k_ff, &a->n_ff))
        a->known |= QF_ARCH_N_FF;
    if (cfg_uint(m, k_head, &a->n_head))
        a->known |= QF_ARCH_N_HEAD;
    if (cfg_uint(m, k_kv, &a->n_head_kv))
        a->known |= QF_ARCH_N_HEAD_KV;
    uint64_t hd;
    if (cfg_uint(m, k_hd, &hd) && hd > 0) {
        a->head_dim_k = a->head_dim_v = hd;
        a->known |= QF_ARCH_HEAD_DIM;
    }
    if (cfg_uint(m, k_voc, &a->n_vocab))
        a->known |= QF_ARCH_N_VOCAB;
    if (cfg_uint(m, k_exp, &a->n_expert))
        a->known |= QF_ARCH_N_EXPERT;
    cfg_uint(m, k_used, &a->n_expert_used);
    kv = find(m, "tie_word_embeddings", "config.json");
    if (kv && kv->val.type == QF_V_BOOL)
        a->tied_embeddings = (int)kv->val.v.u;
}

/* ---------------------------------------------------------------------------------------
 * Facts derived from tensors
 */
static void from_tensors(const struct qf_model *m, struct qf_arch *a, int gguf)
{
    const struct qf_tensor *emb =
        qf_model_find_tensor(m, gguf ? "token_embd.weight" : "model.embed_tokens.weight");
    const struct qf_tensor *out = qf_model_find_tensor(m, gguf ? "output.weight" : "lm_head.weight");
    if (a->tied_embeddings < 0 && emb)
        a->tied_embeddings = out == NULL;
    if (emb && emb->n_dims == 2) {
        if (!(a->known & QF_ARCH_N_VOCAB)) {
            a->n_vocab = emb->shape[0];
            a->known |= QF_ARCH_N_VOCAB;
        }
        if (!(a->known & QF_ARCH_N_EMBD)) {
            a->n_embd = emb->shape[1];
            a->known |= QF_ARCH_N_EMBD;
        }
    }
    if (!(a->known & QF_ARCH_N_LAYER)) {
        const char *pre = gguf ? "blk." : "model.layers.";
        size_t pl = strlen(pre);
        uint64_t mx = 0;
        int any = 0;
        size_t n = qf_model_n_tensors(m);
        for (size_t i = 0; i < n; i++) {
            const char *nm = qf_model_tensor(m, i)->name;
            if (strncmp(nm, pre, pl) != 0)
                continue;
            uint64_t v = 0;
            const char *p = nm + pl;
            int digits = 0;
            while (*p >= '0' && *p <= '9' && digits < 9) {
                v = v * 10 + (uint64_t)(*p++ - '0');
                digits++;
            }
            if (digits && *p == '.') {
                any = 1;
                if (v + 1 > mx)
                    mx = v + 1;
            }
        }
        if (any) {
            a->n_layer = mx;
            a->known |= QF_ARCH_N_LAYER;
        }
    }
}

int qf_arch_from_model(const struct qf_model *m, struct qf_arch *a)
{
    if (!m || !a)
        return QF_EINVAL;
    memset(a, 0, sizeof *a);
    a->source = "";
    a->tied_embeddings = -1;
    const char *fmt = qf_model_format(m);
    int gguf = fmt && strcmp(fmt, "gguf") == 0;
    if (gguf)
        from_gguf(m, a);
    else if (find(m, "architectures", "config.json") || find(m, "model_type", "config.json") ||
             find(m, "hidden_size", "config.json") || find(m, "num_hidden_layers", "config.json"))
        from_config(m, a);
    from_tensors(m, a, gguf);
    if ((a->known & QF_ARCH_N_HEAD) && !(a->known & QF_ARCH_N_HEAD_KV)) {
        a->n_head_kv = a->n_head; /* llama.cpp's default: no GQA */
        a->known |= QF_ARCH_N_HEAD_KV;
    }
    if (!(a->known & QF_ARCH_HEAD_DIM) && (a->known & QF_ARCH_N_EMBD) &&
        (a->known & QF_ARCH_N_HEAD) && a->n_head > 0 && a->n_embd % a->n_head == 0) {
        a->head_dim_k = a->head_dim_v = a->n_embd / a->n_head;
        a->known |= QF_ARCH_HEAD_DIM;
    }
    if (!(a->known & QF_ARCH_KV_PER_LAYER) && (a->known & QF_ARCH_N_HEAD_KV) &&
        (a->known & QF_ARCH_N_LAYER) &&
        !qfi_mul_ok(a->n_layer, a->n_head_kv, &a->kv_layers_sum))
        a->kv_layers_sum = 0;
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * Memory
 */
static int cache_bytes(int type, uint64_t head_dim, uint64_t heads_sum, uint64_t n_ctx,
                       uint64_t *out)
{
    uint64_t n;
    if (!qfi_mul_ok(head_dim, heads_sum, &n) || !qfi_mul_ok(n, n_ctx, &n))
        return QF_ELIMIT;
    /* rows of one head: a cache row of n_head_kv * head_dim splits the same way */
    int64_t b = qf_type_nbytes(type, head_dim, n);
    if (b < 0)
        return (int)b;
    *out = (uint64_t)b;
    return QF_OK;
}

int qf_arch_mem_estimate(const struct qf_arch *a, uint64_t n_ctx, uint64_t n_batch, int type_k,
                         int type_v, struct qf_mem_estimate *out)
{
    if (!a || !out)
        return QF_EINVAL;
    memset(out, 0, sizeof *out);
    out->n_ctx = n_ctx;
    out->n_batch = n_batch < n_ctx ? n_batch : n_ctx;
    out->type_k = type_k;
    out->type_v = type_v;
    const unsigned need = QF_ARCH_N_LAYER | QF_ARCH_N_HEAD_KV | QF_ARCH_HEAD_DIM;
    if ((a->known & need) != need || a->kv_layers_sum == 0)
        return QF_EINVAL;
    int rc = cache_bytes(type_k, a->head_dim_k, a->kv_layers_sum, n_ctx, &out->k_bytes);
    if (rc)
        return rc;
    rc = cache_bytes(type_v, a->head_dim_v, a->kv_layers_sum, n_ctx, &out->v_bytes);
    if (rc)
        return rc;
    if (!qfi_add_ok(out->k_bytes, out->v_bytes, &out->kv_bytes))
        return QF_ELIMIT;
    /* 4 * n_batch * (n_vocab + 4 n_embd + 2 n_ff + n_head n_ctx) */
    uint64_t per = 0, t;
    if (!qfi_mul_ok(a->n_embd, 4, &t) || !qfi_add_ok(per, t, &per) ||
        !qfi_mul_ok(a->n_ff, 2, &t) || !qfi_add_ok(per, t, &per) ||
        !qfi_add_ok(per, a->n_vocab, &per) || !qfi_mul_ok(a->n_head, n_ctx, &t) ||
        !qfi_add_ok(per, t, &per) || !qfi_mul_ok(per, out->n_batch, &per) ||
        !qfi_mul_ok(per, 4, &out->compute_bytes))
        return QF_ELIMIT;
    return QF_OK;
}

/* ---------------------------------------------------------------------------------------
 * Hugging Face -> GGUF names
 */
static const struct {
    const char *hf;   /* after "model." (global) or after "model.layers.N." (per layer) */
    const char *gguf; /* after "" or "blk.N." */
} global_names[] = {
    {"embed_tokens", "token_embd"},
    {"norm", "output_norm"},
}, layer_names[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};

static int put(char *buf, size_t n, const char *a, const char *b, const char *c)
{
    int len = snprintf(buf, n, "%s%s%s", a, b, c);
    if (len < 0 || (size_t)len >= n)
        return QF_ELIMIT;
    return len;
}

/* If s is "<part>.weight" or "<part>.bias", return the suffix (".weight"), else NULL. */
static const char *suffix_after(const char *s, const char *part)
{
    size_t pl = strlen(part);
    if (strncmp(s, part, pl) != 0)
        return NULL;
    if (strcmp(s + pl, ".weight") == 0 || strcmp(s + pl, ".bias") == 0)
        return s + pl;
    return NULL;
}

int qf_arch_gguf_tensor_name(const char *hf, char *buf, size_t n)
{
    if (!hf || !buf || n == 0)
        return QF_EINVAL;
    buf[0] = '\0';
    if (strcmp(hf, "lm_head.weight") == 0)
        return put(buf, n, "output.weight", "", "");
    const char *s = hf;
    if (strncmp(s, "model.", 6) == 0)
        s += 6;
    for (size_t i = 0; i < sizeof global_names / sizeof global_names[0]; i++) {
        const char *suf = suffix_after(s, global_names[i].hf);
        if (suf)
            return put(buf, n, global_names[i].gguf, suf, "");
    }
    if (strncmp(s, "layers.", 7) != 0)
        return QF_ENOTFOUND;
    s += 7;
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s || p - s > 9 || *p != '.')
        return QF_ENOTFOUND;
    char blk[32];
    snprintf(blk, sizeof blk, "blk.%.*s.", (int)(p - s), s);
    p++;
    for (size_t i = 0; i < sizeof layer_names / sizeof layer_names[0]; i++) {
        const char *suf = suffix_after(p, layer_names[i].hf);
        if (suf)
            return put(buf, n, blk, layer_names[i].gguf, suf);
    }
    return QF_ENOTFOUND;
}
