# --layout ct-int4 / ct-int8 / ct-fp8 from a safetensors file without config.json: config.json
# is byte for byte the one llm-compressor wrote for the same scheme (st-ct-* fixtures; the
# tensors themselves are compared with the fixtures' in the unit suite lwrite2).
set -e
mkdir in
ln -s "$FIX/tiny256-hf/model.safetensors" in/
qconvert -q --no-fsync --layout ct-int4 in/model.safetensors -o i4
ls i4
cmp i4/config.json "$FIX/st-ct-int4-g128-sym/config.json"
qconvert -q --no-fsync --layout ct-int4 --asym in/model.safetensors -o i4a
cmp i4a/config.json "$FIX/st-ct-int4-g128-asym/config.json"
qconvert -q --no-fsync --layout ct-int4 --group-size -1 in/model.safetensors -o i4c
cmp i4c/config.json "$FIX/st-ct-int4-channel-sym/config.json"
qconvert -q --no-fsync --layout ct-int8 in/model.safetensors -o i8
cmp i8/config.json "$FIX/st-ct-int8-g128-sym/config.json"
qconvert -q --no-fsync --layout ct-fp8 in/model.safetensors -o f8
cmp f8/config.json "$FIX/st-ct-fp8-e4m3-channel/config.json"
for d in i4 i4a i8 f8; do qinspect $d | grep -E '^  (quantization|layout):'; done
qverify -q i4a && echo "qverify: ok"
echo "== the report: lossy, with the error"
qconvert --no-fsync --layout ct-fp8 in/model.safetensors -o f8b 2>&1 |
    sed 's/rmse [0-9.e-]*, max [0-9.e-]*, SNR [0-9.]* dB (worst .*)/rmse N, max N, SNR N dB/'
echo "== refused"
qconvert -q --no-fsync --layout ct-int4 --bits 8 in/model.safetensors -o x 2>&1 || echo "exit $?"
qconvert -q --no-fsync --layout ct-fp8 --group-size 128 in/model.safetensors -o x 2>&1 || echo "exit $?"
