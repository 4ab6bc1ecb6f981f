# --xxh3 / --xxh64 / --xxh3-64 / --xxh32 print what xxhsum -H2 / -H1 / -H3 / -H0 print, in
# both styles, and each tool checks the other's manifests.
cp "$FIX/stories260K-q8_0.gguf" m.gguf
cp "$FIX/ggml-vocab-llama-spm.gguf" v.gguf
for pair in "xxh3 2" "xxh64 1" "xxh3-64 3" "xxh32 0"; do
    set -- $pair
    qverify --$1 m.gguf v.gguf > ours.$1
    xxhsum -H$2 m.gguf v.gguf > theirs.$1
    cmp ours.$1 theirs.$1 && echo "--$1 = xxhsum -H$2"
    qverify --tag --$1 m.gguf v.gguf > ours.tag.$1
    xxhsum --tag -H$2 m.gguf v.gguf > theirs.tag.$1
    cmp ours.tag.$1 theirs.tag.$1 && echo "--tag --$1 = xxhsum --tag -H$2"
    xxhsum -c ours.$1 > /dev/null && echo "xxhsum -c accepts --$1"
    xxhsum -c ours.tag.$1 > /dev/null && echo "xxhsum -c accepts --tag --$1"
done
# 8 hex digits alone mean CRC-32 to qverify unless --xxh32 says XXH32
qverify -c ours.xxh3 ours.xxh64 ours.xxh3-64 ours.tag.xxh32 && echo "qverify -c accepts its own"
qverify -c theirs.xxh3 theirs.xxh64 theirs.xxh3-64 theirs.tag.xxh3 > /dev/null &&
    echo "qverify -c accepts xxhsum's"
qverify -c --xxh32 theirs.xxh32 > /dev/null && echo "qverify -c --xxh32 accepts xxhsum -H0"
# xxhsum --little-endian BSD lines
xxhsum --tag --little-endian -H1 m.gguf > le.txt
xxhsum --tag --little-endian -H2 v.gguf >> le.txt
qverify -c le.txt
# one combined run prints every algorithm per file, strongest first
qverify --sha256 --xxh3 --xxh64 --crc32 m.gguf
