# --per-tensor prints every line llama-gguf-hash prints (same order, same bytes), and
# qverify -c checks llama-gguf-hash's manifests.
H=$FIX/gguf-hash
cp "$FIX/stories260K-q8_0.gguf" stories260K-hf-q8_0.gguf
cp "$FIX"/stories260K-f32-0000?-of-00003.gguf "$FIX/stories260K-f32.gguf" \
   "$FIX/tiny256-Q4_K_M.llq.gguf" .
for f in stories260K-hf-q8_0.gguf stories260K-f32.gguf stories260K-f32-00001-of-00003.gguf \
         stories260K-f32-00002-of-00003.gguf stories260K-f32-00003-of-00003.gguf \
         tiny256-Q4_K_M.llq.gguf; do
    qverify --per-tensor --xxh64 --sha1 --sha256 --uuid "$f" > "$f.ours"
    grep -E '^(xxh64|sha1|sha256|uuid) ' "$f.ours" > "$f.gh"
    cmp "$f.gh" "$H/$f.hash.txt" && echo "$f: llama-gguf-hash lines identical"
    qverify -c -q "$H/$f.hash.txt" && echo "$f: its manifest checks"
    qverify -c -q "$f.ours" && echo "$f: our manifest checks"
done
# the extra lines: a CRC-32 per 16 MiB chunk of each tensor (here one each) and of the
# header, header hashes and whole-file lines (sha256sum / sha1sum / xxhsum style)
grep -c '^crc32@0+[0-9]*  [0-9a-f]\{8\}  stories260K-hf-q8_0.gguf:' stories260K-hf-q8_0.gguf.ours
grep -vE '^(xxh64|sha1|sha256|uuid|crc32@[0-9+]*) ' stories260K-hf-q8_0.gguf.ours
# the default algorithm is llama-gguf-hash's: xxh64
qverify --per-tensor stories260K-f32-00003-of-00003.gguf | tail -5
