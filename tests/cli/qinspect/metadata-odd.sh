# Awkward values are escaped for the terminal: ESC, newline, invalid UTF-8, bidi override;
# u64 max, i64 min, NaN, -inf, nested and empty arrays, a long string cut at 200 bytes.
cd "$FIX/qinspect" && qinspect -m odd.gguf
