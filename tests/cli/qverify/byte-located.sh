# One flipped byte is reported with its file, its tensor, its offset in the tensor and in
# the file, the byte found and the byte the manifest implies: per-tensor manifests carry a
# CRC-32 per chunk of each tensor and of the header; the single-byte error is found from
# the CRCs and confirmed by the tensor's SHA-256. Offsets: token_embd.weight is file bytes
# 14304-49119, blk.2.ffn_gate.weight 189408-201103, general.name "Hf" bytes 138-139 (the
# values the fixture holds at each offset are printed first, by od).
cp "$FIX/stories260K-q8_0.gguf" good.gguf
for o in 0 138 14304 49119 189408 200000 200005; do
    printf '%s:%s\n' $o "$(od -An -tx1 -j $o -N1 good.gguf)"
done
cp good.gguf model.gguf
qverify -t --sha256 --chunk-size 1000 model.gguf > M1000
qverify -t --sha256 model.gguf > M16M
grep -c '^crc32@' M1000 M16M
# chunk lines hold zlib's CRC-32 of their bytes, which gzip's trailer holds too
crc() { dd if=good.gguf bs=1 skip="$1" count="$2" 2>/dev/null | gzip -c | tail -c 8 | od -An -tx4 -N4 | tr -d ' '; }
grep -F '  model.gguf:blk.2.ffn_gate.weight' M1000 | grep -F 'crc32@10000+1000 '
echo "gzip: $(crc 199408 1000)"
grep -F '  model.gguf:blk.2.ffn_gate.weight' M1000 | grep -F 'crc32@11000+696 '
echo "gzip: $(crc 200408 696)"
grep '^header:crc32@' M16M
echo "gzip: $(crc 0 14304)"
# put: write the octal byte $2 at offset $1 of model.gguf
put() { printf "\\$2" | dd of=model.gguf bs=1 seek="$1" conv=notrunc 2>/dev/null; }
check() { # MANIFEST: the diagnosis (stderr) of qverify -c
    qverify -c -q "$1" >/dev/null 2>diag
    st=$?
    grep -v WARNING diag
    echo "exit $st"
}
echo "== first byte of a tensor"
put 189408 001; check M1000
echo "== last byte of a tensor"
cp good.gguf model.gguf; put 49119 377; check M1000
echo "== inside a 16 MiB chunk (the whole tensor)"
cp good.gguf model.gguf; put 200000 125; check M16M
echo "== one byte in each of two tensors"
cp good.gguf model.gguf; put 14304 000; put 200000 125; check M1000
echo "== in the header (metadata)"
cp good.gguf model.gguf; put 138 130; check M1000
echo "== the first byte of the file: the header can't be read, the byte is still found"
cp good.gguf model.gguf; put 0 147; check M16M | grep header:
echo "== two bytes of one chunk: the chunk's range"
cp good.gguf model.gguf; put 200000 125; put 200005 125; check M1000
echo "== two chunks of one tensor: their ranges"
cp good.gguf model.gguf; put 190000 125; put 200000 125; check M1000
echo "== a manifest without chunk lines still checks (no location)"
cp good.gguf model.gguf; put 200000 125; grep -v '@' M1000 > OLD; check OLD
echo "== chunk lines alone are checked and counted"
grep '@' M1000 > CHUNKS; qverify -c -q CHUNKS 2>&1; echo "exit $?"
