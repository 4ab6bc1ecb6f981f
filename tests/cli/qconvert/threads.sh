# The bytes never depend on the thread count or the chunk size.
set -e
qconvert -q --no-fsync -j1 --type Q3_K_M "$FIX/stories260K-hf-f32.gguf" -o a.gguf
for j in 2 3 8; do
    for c in 1 64 5000; do
        qconvert -q --no-fsync -j$j --chunk=$c --type Q3_K_M "$FIX/stories260K-hf-f32.gguf" -o b.gguf -f
        cmp a.gguf b.gguf
    done
done
qconvert -q --no-fsync -j1 --chunk=100 --type Q4_K_M "$FIX/tiny256-bf16.gguf" -o c.gguf
qconvert -q --no-fsync -j4 --chunk=3000 --type Q4_K_M "$FIX/tiny256-bf16.gguf" -o d.gguf
cmp c.gguf "$FIX/tiny256-Q4_K_M.llq.gguf"
cmp d.gguf "$FIX/tiny256-Q4_K_M.llq.gguf"
echo same
