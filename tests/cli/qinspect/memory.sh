# KV cache for 4096 tokens in q8_0: 2 layers x 4096 x 2 KV heads x 64 = 1048576 values for K
# and as many for V, 34 bytes per 32 = 2228224 bytes. Compute estimate:
# 4 x 512 x (512 + 4*256 + 2*768 + 4*4096) = 39845888.
cd "$FIX" && qinspect --ctx 4k --kv-type q8_0 tiny256-hf
