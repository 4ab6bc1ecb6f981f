# The plan as JSON (one document on one line).
cd "$FIX" && qconvert --type Q8_0 -n --json tiny256-bf16.gguf -o x.gguf
