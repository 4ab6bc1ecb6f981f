# --imatrix: llama-imatrix's GGUF file and the older .dat file give the same tensors;
# quantize.imatrix.* keys are written; IQ2_XXS needs one (a dry run without says so, exit 1).
set -e
cp "$FIX/qconvert/tiny256.imatrix.gguf" "$FIX/qconvert/tiny256.imatrix.dat" .
tensors() {
    qverify --per-tensor --sha256 "$1" |
        sed -n 's/^sha256 *\([0-9a-f]*\)  [^:]*:\(.*\)$/\2 \1/p' | sort
}
qconvert -q --no-fsync --type Q4_K_M --imatrix tiny256.imatrix.gguf "$FIX/tiny256-bf16.gguf" -o a.gguf
qconvert -q --no-fsync --type Q4_K_M --imatrix tiny256.imatrix.dat "$FIX/tiny256-bf16.gguf" -o b.gguf
tensors a.gguf >a
tensors b.gguf >b
cmp a b && echo "gguf and dat imatrix: same tensors"
tensors "$FIX/tiny256-Q4_K_M.llq.gguf" >c
echo "tensors changed by the imatrix: $(cat a c | sort | uniq -u | cut -d' ' -f1 | sort -u | wc -l)"
qinspect -m a.gguf | grep quantize.imatrix
set +e
qconvert -n --type IQ2_XXS "$FIX/tiny256-bf16.gguf" >/dev/null
echo "dry run without imatrix: exit $?"
qconvert --type IQ2_XXS "$FIX/tiny256-bf16.gguf" -o iq2.gguf
echo "without imatrix: exit $?"
set -e
qconvert -q --no-fsync --type IQ2_XXS --imatrix tiny256.imatrix.gguf "$FIX/tiny256-bf16.gguf" -o iq2.gguf
qinspect iq2.gguf | grep -E '^  (iq2_xxs|q2_K|q4_K|q5_K) '
