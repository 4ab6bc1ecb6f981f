# Never the input; an existing output only with --force; a failed run leaves the old file.
cp "$FIX/tiny256-bf16.gguf" in.gguf
ln in.gguf link.gguf
echo old > out.gguf
qconvert --type Q4_K_M in.gguf -o in.gguf 2>&1; echo "exit $?"
qconvert --type Q4_K_M --force in.gguf -o link.gguf 2>&1; echo "exit $?"
qconvert --type Q4_K_M in.gguf -o out.gguf 2>&1; echo "exit $?"
cat out.gguf
qconvert --type Q8_0 "$FIX/stories260K-hf-f32.gguf" -o out.gguf --force 2>/dev/null; echo "exit $?"
cat out.gguf
qconvert -q --no-fsync --type Q4_K_M --force in.gguf -o out.gguf; echo "exit $?"
cmp out.gguf "$FIX/tiny256-Q4_K_M.llq.gguf" && echo replaced
cmp in.gguf "$FIX/tiny256-bf16.gguf" && echo "input intact"
ls -A | grep -v '^\.std'
