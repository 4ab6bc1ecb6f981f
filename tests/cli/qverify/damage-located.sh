# A manifest written with --per-tensor names what a damaged copy got wrong: one flipped byte
# is reported with its file, its tensor and the tensor's byte range, and (from the chunk
# CRC-32 lines) its exact offset, the byte found (0x55, written here) and the byte the
# fixture holds there (0xd1); a copy that differs only in metadata is recognised as such
# (two bytes differ there: the header's range is named).
cp "$FIX/stories260K-q8_0.gguf" model.gguf
qverify --per-tensor --sha256 model.gguf > MANIFEST
cp model.gguf good.gguf
# flip one byte at offset 200000 (inside blk.2.ffn_gate.weight, bytes 189408-201103)
printf '\125' | dd of=model.gguf bs=1 seek=200000 conv=notrunc 2>/dev/null
qverify -c -q MANIFEST
echo "exit $?"
# sha256sum sees only that the file differs
sha256sum -c MANIFEST 2>/dev/null
echo "sha256sum exit $?"
# metadata only: general.name "Hf" -> "Xy" (bytes 138-139 of the header)
cp good.gguf model.gguf
printf 'Xy' | dd of=model.gguf bs=1 seek=138 conv=notrunc 2>/dev/null
qverify -c -q MANIFEST
echo "exit $?"
