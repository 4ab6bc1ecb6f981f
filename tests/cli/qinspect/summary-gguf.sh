# Summary of the header of llama-quantize's Q4_K_M file of tiny256 (data left out: --partial).
# 1836288 parameters: token_embd + output 2 x 131072, output_norm 256, per layer attn q/output
# 2 x 65536, k/v 2 x 32768, ffn 3 x 196608, norms 512 (786944) x 2 layers.
# 1130240 bytes: q4_K 13 tensors 1474560 x 4.5 bits = 829440, q6_K 360448 x 6.5625 = 295680,
# f32 1280 x 4 = 5120; bpw 1130240 * 8 / 1836288 = 4.924.
cd "$FIX/llq-headers" && qinspect --partial tiny256-Q4_K_M.llq.gguf
