# compressed-tensors pack int4 / int8 -> GPTQ v2 take the direct repack (its words are GPTQ
# v2's transposed, zero points included; weight_scale transposed to F16, every value an f16
# one): nothing decoded, and qconvert says so. The int4 g128 ones go on to AWQ and back to GPTQ v2
# byte for byte. (Decoded values equal to compressed-tensors' reference and weight_packed /
# weight_zero_point coming back byte for byte are checked in the unit suite lwrite_repack.)
# An AUTO format with asymmetric zero points is decided on decoded zeros: encoded again. Back
# to compressed-tensors (GPTQ -> ct-int4 / ct-int8, repacked) every tensor but weight_scale is
# byte for byte the original; weight_scale holds the same values in the GPTQ checkpoint's F16
# (the original's BF16; values compared in the unit suite lwrite_repack).
set -e
tensors() {
    qverify --per-tensor --sha256 "$1" |
        sed -n 's/^sha256 *\([0-9a-f]*\)  [^:]*:\(.*\)$/\2 \1/p' | sort
}
for c in st-ct-int4-g128-asym st-ct-int4-g128-sym st-ct-int4-channel-sym st-ct-int8-g128-sym; do
    b=4; case $c in *int8*) b=8 ;; esac
    echo "== $c -> GPTQ v2"
    qconvert --no-fsync --layout gptq --gptq-format v2 --bits $b "$FIX/$c/model.safetensors" \
        -o $c 2>err
    sed -n 's/.*warning: \(.*repacked.*\)/\1/p; s/.*(\(gptq [^)]*\)).*; \(lossless.*\)/\1: \2/p' err
    qinspect $c/model.safetensors | grep -E '^  (quantization|layout):'
    case $c in *int4-g128*) ;; *) continue ;; esac # AWQ: 4-bit, a group size
    qconvert -q --no-fsync --layout awq --asym $c/model.safetensors -o $c.awq
    qconvert -q --no-fsync --layout gptq --gptq-format v2 --asym $c.awq/model.safetensors \
        -o $c.back
    tensors $c/model.safetensors >a
    tensors $c.back/model.safetensors >b
    cmp a b
    echo "GPTQ v2 -> AWQ -> GPTQ v2: $(wc -l <a) tensors identical"
done
echo "== no options: the input's bits and symmetry kept, v1 holds symmetric zero points"
qconvert --no-fsync --layout gptq "$FIX/st-ct-int8-g128-sym/model.safetensors" -o dflt 2>err
sed -n 's/.*(\(gptq [^)]*\)).*; \(lossless.*\)/\1: \2/p' err
echo "== AUTO format, asymmetric: encoded again"
qconvert --no-fsync --layout gptq "$FIX/st-ct-int4-g128-asym/model.safetensors" -o auto 2>err
grep -c 'repacked' err || true
grep -o 'lossy (round-to-nearest)' err
echo "== back to compressed-tensors (--layout ct-int4 / ct-int8): repacked"
for c in st-ct-int4-g128-asym st-ct-int4-channel-sym st-ct-int8-g128-sym; do
    l=ct-int4; case $c in *int8*) l=ct-int8 ;; esac
    s=--sym; case $c in *asym*) s=--asym ;; esac
    qconvert --no-fsync --layout $l $s $c/model.safetensors -o $c.ct 2>err
    sed -n 's/.*(\(compressed-tensors [^)]*\)).*; \(lossless.*\)/\1: \2/p' err
    tensors "$FIX/$c/model.safetensors" | grep -v weight_scale >a
    tensors $c.ct/model.safetensors | grep -v weight_scale >b
    cmp a b
    echo "$c: $(wc -l <a) tensors identical (weight_scale: the same values, in F16)"
done
