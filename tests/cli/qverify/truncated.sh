# A download cut short: how many bytes are missing and which tensors are incomplete.
head -c 200000 "$FIX/stories260K-q8_0.gguf" > part.gguf
qverify part.gguf
echo "exit $?"
# -v lists every incomplete tensor
qverify -v part.gguf | grep -c "incomplete tensor"
# cut inside the header: the reader says where
head -c 1000 "$FIX/stories260K-q8_0.gguf" > head.gguf
qverify head.gguf
echo "exit $?"
# against a manifest of the whole file: complete tensors check, the rest are named
cp "$FIX/stories260K-q8_0.gguf" part.gguf
qverify --per-tensor part.gguf > MANIFEST
head -c 200000 "$FIX/stories260K-q8_0.gguf" > part.gguf
qverify -c MANIFEST | grep -v ': OK$' | head -4
