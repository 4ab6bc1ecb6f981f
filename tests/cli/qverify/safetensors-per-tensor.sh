# Per-tensor manifests work for safetensors too (header = the 8-byte length + JSON; its
# CRC-32 line is gzip's CRC of those 4864 bytes), and a damaged tensor is named with its
# byte range and the changed byte (0x01 written over the fixture's 0xa5).
cp "$FIX/stories260K-hf/model.safetensors" model.safetensors
qverify --per-tensor --sha256 model.safetensors > MANIFEST
grep -c '^sha256    ' MANIFEST
grep -E '^(header:|[0-9a-f]{64}  )' MANIFEST
sha256sum model.safetensors
qverify -c -q MANIFEST && echo "unchanged: exit 0"
# flip a byte in the middle of the data
printf '\001' | dd of=model.safetensors bs=1 seek=600000 conv=notrunc 2>/dev/null
qverify -c -q MANIFEST
echo "exit $?"
