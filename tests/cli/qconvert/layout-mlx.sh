# --layout mlx from a Hugging Face directory: config.json is the input's, kept as written, with
# mlx-lm's "quantization" and its "quantization_config" copy appended; the layers read back as
# MLX affine (values checked against the spec's decoding rule in the unit suite lwrite2).
set -e
ln -s "$FIX/tiny256-hf" in
qconvert -q --no-fsync --layout mlx in -o m4
ls m4
# the input's text is a prefix of the output (its final "\n}" aside)
n=$(($(wc -c <in/config.json) - 2))
head -c $n m4/config.json | cmp - in/config.json -n $n && echo "input text kept"
tail -n 9 m4/config.json
qinspect m4 | grep -E '^  layout:'
qconvert -q --no-fsync --layout mlx --bits 8 --group-size 32 in -o m8
qinspect m8 | grep -E '^  layout:'
qverify -q m8 && echo "qverify: ok"
echo "== the report: lossy, with the error"
qconvert --no-fsync --layout mlx --bits 3 in -o m3 2>&1 |
    sed 's/rmse [0-9.e-]*, max [0-9.e-]*, SNR [0-9.]* dB (worst .*)/rmse N, max N, SNR N dB/'
echo "== refused"
qconvert -q --no-fsync --layout mlx --bits 5 in -o x 2>&1 || echo "exit $?"
qconvert -q --no-fsync --layout mlx --group-size 256 in -o x 2>&1 || echo "exit $?"
