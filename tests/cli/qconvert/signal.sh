# SIGTERM during a conversion: the temporary file is removed and qconvert dies of the signal.
rows=4096; cols=2048; per=$((rows * cols * 2))
hdr="{\"blk.0.ffn_up.weight\":{\"dtype\":\"F16\",\"shape\":[$rows,$cols],\"data_offsets\":[0,$per]},\"blk.1.ffn_up.weight\":{\"dtype\":\"F16\",\"shape\":[$rows,$cols],\"data_offsets\":[$per,$((2 * per))]}}"
while [ $(( ${#hdr} % 8 )) -ne 0 ]; do hdr="$hdr "; done
{
    perl -e 'print pack("Q<", $ARGV[0])' ${#hdr}
    printf '%s' "$hdr"
    head -c $((2 * per)) /dev/urandom | tr '\100-\177\300-\377' '\000-\077\200-\277'
} >in.safetensors
qconvert -q --no-fsync -j1 --chunk=2048 --type Q4_K_M in.safetensors -o out.gguf &
pid=$!
i=0
while [ -z "$(ls -A | grep qf-tmp)" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
kill -TERM $pid
wait $pid
echo "exit $?"
ls -A | grep -v '^\.std'
