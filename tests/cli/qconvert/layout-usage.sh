# --layout usage errors and refusals (exit 2): nothing is written.
for args in "--layout gptq --type Q8_0" "--bits 4 --type Q8_0" "--layout nf4" \
            "--layout gptq --gptq-format v3" "--layout awq --awq-version fast" \
            "--layout gptq --pure" "--layout awq --bits 8" "--layout awq --sym" \
            "--layout awq --group-size -1" "--layout gptq --bits 5" "--layout gptq --group-size 0"; do
    # shellcheck disable=SC2086
    qconvert --no-fsync $args "$FIX/tiny256-hf" -o out >/dev/null 2>err
    echo "exit $?: $(sed "s|^qconvert: ||; s|$FIX/||" err | head -1)"
done
echo "== v1 cannot hold a zero point of 0"
qconvert --no-fsync --layout gptq --asym --bits 3 --group-size -1 --gptq-format v1 \
    "$FIX/tiny256-bf16.gguf" -o v1 2>&1 | sed 's/^qconvert: //'
[ -e v1 ] && echo 'v1 exists' || echo 'nothing written'
echo "== not into the input's directory"
mkdir hf && cp "$FIX/tiny256-hf/config.json" "$FIX/tiny256-hf/model.safetensors" hf/
qconvert --no-fsync --layout gptq hf -o hf 2>&1 | sed 's/^qconvert: //'
echo "== a model without linear layers"
qconvert --no-fsync --layout gptq "$FIX/stories260K-q8_0.gguf" -o s 2>&1 | sed "s|^qconvert: ||; s|$FIX/||"
