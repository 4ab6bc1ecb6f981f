# Colour only on a terminal and only without NO_COLOR: a pipe never gets escapes; a pseudo
# terminal (script(1), where available) does unless NO_COLOR is set.
cd "$FIX" || exit 9
env -u NO_COLOR qinspect stories260K-q8_0.gguf | grep -c "$(printf '\033')" 
if command -v script >/dev/null 2>&1; then
    env -u NO_COLOR script -qec "qinspect stories260K-q8_0.gguf" /dev/null | grep -c "$(printf '\033\\[1m')"
    NO_COLOR=1 script -qec "qinspect stories260K-q8_0.gguf" /dev/null | grep -c "$(printf '\033')"
else
    echo 2; echo 0
fi
exit 0
