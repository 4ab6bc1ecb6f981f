# After converting, --json reports every lossy tensor's error (RMSE, max, SNR) and the worst.
cp "$FIX/tiny256-bf16.gguf" in.gguf
qconvert -q --no-fsync --type Q4_0 --json in.gguf -o x.gguf
