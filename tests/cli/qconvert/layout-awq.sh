# --layout awq from a safetensors file without config.json: config.json is byte for byte the
# one AutoAWQ wrote for the same settings (st-awq-gemm-b4-g128 / st-awq-gemv-b4-g64).
set -e
mkdir in
ln -s "$FIX/tiny256-hf/model.safetensors" in/
qconvert -q --no-fsync --layout awq in/model.safetensors -o gemm
ls gemm
cmp gemm/config.json "$FIX/st-awq-gemm-b4-g128/config.json"
qconvert -q --no-fsync --layout awq --awq-version gemv --group-size 64 in/model.safetensors -o gemv
cmp gemv/config.json "$FIX/st-awq-gemv-b4-g64/config.json"
qinspect gemm | grep -E '^  (quantization|layout):'
qinspect gemv | grep -E '^  layout:'
echo "== the report: lossy, with the error (JSON)"
qconvert --no-fsync --json --layout awq in/model.safetensors -o j >j.json
grep -o '"scheme":"[^"]*","lossy":true' j.json
grep -c '"quantized":true' j.json | head -1
grep -o '"error":{"rmse":[0-9.e-]*' j.json | head -1 | sed 's/[0-9.e-]*$/N/'
