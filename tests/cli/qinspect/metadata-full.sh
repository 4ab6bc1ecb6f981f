# --full shows whole arrays and strings.
cd "$FIX/qinspect" && qinspect -m --full odd.gguf 2>/dev/null | grep -E '^  odd\.(long|strings) '
