# -v prints the error of every lossy tensor; the summary names the worst.
qconvert -v --no-fsync --type Q2_K "$FIX/tiny256-bf16.gguf" -o x.gguf
