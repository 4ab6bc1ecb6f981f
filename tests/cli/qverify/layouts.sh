# Layout rules are part of validation: each quantized layout is named with its quantized
# layers; a GPTQ layer whose g_idx points past its groups is a problem (exit 1) named by layer.
for d in st-gptq-b4-g128-sym st-awq-gemm-b4-g128 st-bnb-nf4-bs64-dq st-ct-int4-g128-asym \
         st-ct-fp8-e4m3-channel st-mlx-tiny; do
    cp -r "$FIX/$d" "$d"
    qverify "$d/model.safetensors"
    echo "exit $?"
done
cp -r "$FIX/st-gptq-bad-gidx" bad
qverify bad/model.safetensors 2>&1
echo "exit $?"
# an AWQ checkpoint beside a GPTQ config: the tensors disagree with the declared layout
mkdir mixed
cp "$FIX/st-awq-gemm-b4-g128/model.safetensors" mixed/
cp "$FIX/st-gptq-b4-g128-sym/config.json" mixed/
qverify mixed 2>&1
echo "exit $?"
