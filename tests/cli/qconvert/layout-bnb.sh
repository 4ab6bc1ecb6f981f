# --layout bnb-nf4 / bnb-fp4 [--double-quant] from a safetensors file without config.json:
# config.json is byte for byte the one transformers wrote for bitsandbytes (st-bnb-*
# fixtures, from F16 weights: bnb_4bit_compute_dtype is the model's dtype, here bfloat16; the
# tensors themselves are compared with the fixtures' in the unit suite lwrite2).
set -e
mkdir in
ln -s "$FIX/tiny256-hf/model.safetensors" in/
qinspect in/model.safetensors | grep -E '^  bf16 '
for t in nf4 fp4; do
    qconvert -q --no-fsync --layout bnb-$t in/model.safetensors -o $t
    grep -c '"bnb_4bit_compute_dtype": "bfloat16"' $t/config.json
    sed 's/"bfloat16"/"float16"/' $t/config.json | cmp - "$FIX/st-bnb-$t-bs64/config.json"
    qconvert -q --no-fsync --layout bnb-$t --double-quant in/model.safetensors -o $t-dq
    sed 's/"bfloat16"/"float16"/' $t-dq/config.json | cmp - "$FIX/st-bnb-$t-bs64-dq/config.json"
done
ls nf4
for d in nf4 fp4 nf4-dq fp4-dq; do qinspect $d | grep -E '^  (quantization|layout):'; done
qverify -q nf4-dq && echo "qverify: ok"
echo "== the report: lossy, with the error"
qconvert --no-fsync --layout bnb-nf4 --group-size 128 in/model.safetensors -o b128 2>&1 |
    sed 's/rmse [0-9.e-]*, max [0-9.e-]*, SNR [0-9.]* dB (worst .*)/rmse N, max N, SNR N dB/'
grep -a -o "\"blocksize\": [0-9]*" b128/model.safetensors | sort -u
echo "== refused"
qconvert -q --no-fsync --layout bnb-fp4 --group-size 32 in/model.safetensors -o x 2>&1 || echo "exit $?"
qconvert -q --no-fsync --layout bnb-nf4 --asym in/model.safetensors -o x 2>&1 || echo "exit $?"
qconvert -q --no-fsync --double-quant --type f16 in/model.safetensors -o x.gguf 2>&1 | cut -c1-60 || echo "exit $?"
