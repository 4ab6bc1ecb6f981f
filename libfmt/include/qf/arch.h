/* qf/arch.h - architecture facts of a model and the memory it needs to run.
 *
 * The facts (layers, widths, heads, context, vocabulary) are read from a model's metadata:
 * the GGUF keys "{arch}.block_count", "{arch}.embedding_length", ... or, for Hugging Face
 * checkpoints, the config.json keys that convert_hf_to_gguf.py maps to them
 * (num_hidden_layers, hidden_size, ...; nested text_config.* as a fallback). Missing facts are
 * derived where the tensors pin them down (vocabulary from the embedding's shape, head size
 * from width / heads) and otherwise left unknown (0, bit clear in `known`).
 *
 * Also here: the Hugging Face -> GGUF tensor name table of the Llama / Mistral / Qwen2 family
 * (convert_hf_to_gguf.py), used to apply GGUF-name rules to safetensors checkpoints.
 *
 * Pure functions of their inputs; thread-safe.
 */
#ifndef QF_ARCH_H
#define QF_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "qf/error.h"
#include "qf/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bits of struct qf_arch.known */
#define QF_ARCH_N_LAYER 0x001
#define QF_ARCH_N_EMBD 0x002
#define QF_ARCH_N_FF 0x004
#define QF_ARCH_N_HEAD 0x008
#define QF_ARCH_N_HEAD_KV 0x010
#define QF_ARCH_HEAD_DIM 0x020  /* head_dim_k and head_dim_v */
#define QF_ARCH_N_CTX 0x040
#define QF_ARCH_N_VOCAB 0x080
#define QF_ARCH_N_EXPERT 0x100
#define QF_ARCH_KV_PER_LAYER 0x200 /* head_count_kv was a per-layer array: n_head_kv is its
                                      maximum and kv_layers_sum the sum over layers */

struct qf_arch {
    char name[64];          /* GGUF architecture ("llama", "qwen2"): general.architecture, or
                               the converter's choice for config.json architectures[0], else
                               config.json model_type; "" if none */
    char hf_arch[128];      /* config.json architectures[0] ("LlamaForCausalLM"), or "" */
    const char *source;     /* "gguf", "config.json" or "" (nothing found); static string */
    uint64_t n_layer;       /* block_count / num_hidden_layers */
    uint64_t n_embd;        /* embedding_length / hidden_size */
    uint64_t n_ff;          /* feed_forward_length / intermediate_size */
    uint64_t n_head;        /* attention.head_count / num_attention_heads */
    uint64_t n_head_kv;     /* attention.head_count_kv / num_key_value_heads (= n_head if absent) */
    uint64_t head_dim_k;    /* attention.key_length / head_dim, else n_embd / n_head */
    uint64_t head_dim_v;    /* attention.value_length / head_dim, else n_embd / n_head */
    uint64_t n_ctx_train;   /* context_length / max_position_embeddings */
    uint64_t n_vocab;       /* vocab_size, tokenizer.ggml.tokens length, or the embedding rows */
    uint64_t n_expert;      /* expert_count / num_local_experts (0 = dense) */
    uint64_t n_expert_used; /* expert_used_count / num_experts_per_tok */
    uint64_t kv_layers_sum; /* sum over layers of n_head_kv (n_layer * n_head_kv normally) */
    int tied_embeddings;    /* 1: no separate output matrix, 0: separate, -1: unknown */
    unsigned known;         /* QF_ARCH_* bits of the fields that are known */
};

/* Read the architecture facts of an open model. Never fails on missing or odd metadata
 * (those facts stay unknown); returns QF_EINVAL only for NULL arguments. */
QF_API int qf_arch_from_model(const struct qf_model *m, struct qf_arch *out);

/* Memory to run the model with a context of n_ctx tokens, batches of n_batch. */
struct qf_mem_estimate {
    uint64_t n_ctx, n_batch;
    int type_k, type_v;     /* KV cache types (enum qf_type) */
    uint64_t k_bytes;       /* K cache: per layer n_ctx rows of n_head_kv * head_dim_k */
    uint64_t v_bytes;       /* V cache: likewise with head_dim_v */
    uint64_t kv_bytes;      /* k_bytes + v_bytes, exact for llama.cpp's unified cache */
    uint64_t compute_bytes; /* rough estimate of the compute buffer, see qf_arch_mem_estimate */
};

/* Fill *out for n_ctx and n_batch (n_batch is clamped to n_ctx). The KV cache is exact
 * (llama.cpp keeps per layer one K and one V tensor of n_ctx * n_head_kv * head_dim elements
 * in the cache types; size by the type's size rule). The compute buffer is an estimate of
 * llama.cpp's scratch memory for one batch without flash attention, in F32:
 *     4 * n_batch * (n_vocab + 4 * n_embd + 2 * n_ff + n_head * n_ctx)
 * i.e. the logits, the hidden-state and feed-forward activations and one layer's attention
 * scores; real buffers differ by backend and graph.
 * Returns QF_EINVAL if the layers, heads or head sizes are unknown, QF_EFORMAT if a KV row
 * (n_head_kv * head_dim) is not a multiple of the cache type's block size, QF_ELIMIT on
 * overflow. */
QF_API int qf_arch_mem_estimate(const struct qf_arch *a, uint64_t n_ctx, uint64_t n_batch,
                                int type_k, int type_v, struct qf_mem_estimate *out);

/* Map a Hugging Face tensor name of the Llama / Mistral / Qwen2 family
 * ("model.layers.3.self_attn.q_proj.weight") to its GGUF name ("blk.3.attn_q.weight").
 * Writes a NUL-terminated name into buf (size n) and returns its length; QF_ENOTFOUND if
 * the name is not in the table (or dropped by the converter), QF_ELIMIT if buf is too small. */
QF_API int qf_arch_gguf_tensor_name(const char *hf_name, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* QF_ARCH_H */
