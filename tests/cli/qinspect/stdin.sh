# '-' reads standard input: a redirected file, or a pipe (a stream: no file size; the
# tensors are known from the header).
cd "$FIX" && qinspect - < stories260K-q8_0.gguf | sed -n 3p
cat stories260K-q8_0.gguf | qinspect -
cat stories260K-q8_0.gguf | qinspect --ndjson -T token_embd.weight -
