# The ops recipe "find which shard is broken": a manifest of a split set written with
# --per-tensor --sha256; after damage to one part, -c names that part and the tensor.
mkdir set && cd set
cp "$FIX"/stories260K-f32-0000?-of-00003.gguf .
qverify -t --sha256 . > ../set.manifest
# 4 bytes of part 2 overwritten (inside blk.2.ffn_gate.weight, data at bytes 183072-227103)
printf 'XXXX' | dd of=stories260K-f32-00002-of-00003.gguf bs=1 seek=220000 conv=notrunc 2>/dev/null
qverify -c -q ../set.manifest
echo "exit $?"
# validation cannot see changed data bytes ('XXXX' is a finite f32): only the manifest tells
qverify -s stories260K-f32-00001-of-00003.gguf
echo "exit $?"
