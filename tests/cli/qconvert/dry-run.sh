# --dry-run prints the plan (per tensor: name, shape, types, path, bytes, why) and the totals,
# and writes nothing.
qconvert --type Q4_K_M --dry-run "$FIX/tiny256-bf16.gguf" -o out.gguf
ls -A | grep -v "^\.std" || echo "nothing written"
