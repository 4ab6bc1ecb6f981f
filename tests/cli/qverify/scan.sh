# --scan reads the tensor data: NaN/Inf in float tensors, non-finite block scales (the checks
# of ggml's row validation), all-zero tensors (a warning; an error with --strict).
cp "$FIX/stories260K-f32.gguf" f32.gguf
cp "$FIX/stories260K-q8_0.gguf" q8.gguf
qverify --scan f32.gguf q8.gguf "$FIX/tiny256-Q4_K_M.llq.gguf" > /dev/null && echo "clean: exit 0"
# output_norm.weight (f32) starts at byte 145248: a NaN at element 2, an Inf at element 3
printf '\000\000\300\177\000\000\200\377' | dd of=f32.gguf bs=1 seek=145256 conv=notrunc 2>/dev/null
# blk.0.attn_q.weight (f32, bytes 276576-292959) all zero
dd if=/dev/zero of=f32.gguf bs=1 seek=276576 count=16384 conv=notrunc 2>/dev/null
qverify --scan f32.gguf
echo "exit $?"
# q8_0 blocks (34 bytes) start with an fp16 scale: make block 5 of token_embd.weight
# (bytes 14304-49119) +Inf (0x7c00)
printf '\000\174' | dd of=q8.gguf bs=1 seek=$((14304 + 34 * 5)) conv=notrunc 2>/dev/null
qverify --scan q8.gguf
echo "exit $?"
# without --scan only the structure is checked
qverify q8.gguf
# all zero only: a warning, unless --strict
cp "$FIX/stories260K-f32.gguf" z.gguf
dd if=/dev/zero of=z.gguf bs=1 seek=276576 count=16384 conv=notrunc 2>/dev/null
qverify --scan z.gguf > /dev/null; echo "all-zero tensor: exit $?"
qverify --scan --strict z.gguf > /dev/null; echo "all-zero tensor --strict: exit $?"
