# '-' reads a GGUF from standard input, and a FIFO is read the same way (kept in an unlinked
# temporary file: llama.cpp's tensor order reads the input out of order); '-o -' writes GGUF
# to standard output.
set -e
qconvert -q --no-fsync --type Q4_K_M - -o a.gguf <"$FIX/tiny256-bf16.gguf"
cmp a.gguf "$FIX/tiny256-Q4_K_M.llq.gguf"
cat "$FIX/stories260K-hf-f32.gguf" | qconvert -q --type Q2_K - -o - | cmp - "$FIX/qconvert/stories260K-Q2_K.llq.gguf"
mkfifo fifo
cat "$FIX/tiny256-bf16.gguf" >fifo &
qconvert -q --no-fsync --type Q4_K_M fifo -o b.gguf
cmp b.gguf "$FIX/tiny256-Q4_K_M.llq.gguf"
echo identical
