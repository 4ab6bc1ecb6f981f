/* mksparse OUT.safetensors - a sparse safetensors file with the tensor shapes of
 * Llama-3-70B in BF16 (about 141 GB apparent size, a few KB on disk): the header is real,
 * the data is a hole. Used by `make bench` to time header-only inspection. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct t {
    char name[96];
    uint64_t d0, d1; /* d1 == 0: 1-D */
};

static int cmp(const void *a, const void *b)
{
    return strcmp(((const struct t *)a)->name, ((const struct t *)b)->name);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mksparse OUT.safetensors\n");
        return 2;
    }
    const uint64_t H = 8192, KV = 1024, FF = 28672, V = 128256, L = 80;
    static struct t ts[1024];
    size_t n = 0;
    snprintf(ts[n].name, 96, "model.embed_tokens.weight"), ts[n].d0 = V, ts[n++].d1 = H;
    snprintf(ts[n].name, 96, "lm_head.weight"), ts[n].d0 = V, ts[n++].d1 = H;
    snprintf(ts[n].name, 96, "model.norm.weight"), ts[n].d0 = H, ts[n++].d1 = 0;
    for (uint64_t l = 0; l < L; l++) {
        const struct { const char *s; uint64_t a, b; } p[] = {
            {"input_layernorm", H, 0},      {"post_attention_layernorm", H, 0},
            {"self_attn.q_proj", H, H},     {"self_attn.k_proj", KV, H},
            {"self_attn.v_proj", KV, H},    {"self_attn.o_proj", H, H},
            {"mlp.gate_proj", FF, H},       {"mlp.up_proj", FF, H},
            {"mlp.down_proj", H, FF},
        };
        for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
            snprintf(ts[n].name, 96, "model.layers.%llu.%s.weight", (unsigned long long)l, p[i].s);
            ts[n].d0 = p[i].a;
            ts[n++].d1 = p[i].b;
        }
    }
    qsort(ts, n, sizeof ts[0], cmp);
    size_t cap = 1 << 20, len = 0;
    char *j = malloc(cap);
    len += (size_t)snprintf(j + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t bytes = ts[i].d0 * (ts[i].d1 ? ts[i].d1 : 1) * 2;
        if (ts[i].d1)
            len += (size_t)snprintf(j + len, cap - len,
                                    ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%llu,%llu],\"data_offsets\":[%llu,%llu]}",
                                    ts[i].name, (unsigned long long)ts[i].d0,
                                    (unsigned long long)ts[i].d1, (unsigned long long)off,
                                    (unsigned long long)(off + bytes));
        else
            len += (size_t)snprintf(j + len, cap - len,
                                    ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%llu],\"data_offsets\":[%llu,%llu]}",
                                    ts[i].name, (unsigned long long)ts[i].d0,
                                    (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
    }
    len += (size_t)snprintf(j + len, cap - len, "}");
    while (len % 8)
        j[len++] = ' ';
    FILE *fp = fopen(argv[1], "wb");
    if (!fp) {
        perror(argv[1]);
        return 1;
    }
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++)
        hdr[i] = (uint8_t)((uint64_t)len >> (8 * i));
    fwrite(hdr, 1, 8, fp);
    fwrite(j, 1, len, fp);
    fflush(fp);
    if (ftruncate(fileno(fp), (off_t)(8 + len + off)) != 0) {
        perror("ftruncate");
        return 1;
    }
    fclose(fp);
    printf("%s: %zu tensors, %.1f GB apparent\n", argv[1], n, (8 + len + off) / 1e9);
    free(j);
    return 0;
}
