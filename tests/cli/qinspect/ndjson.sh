# --ndjson: one object per tensor and line; with -T only the matches.
cd "$FIX" && qinspect --ndjson stories260K-q8_0.gguf | wc -l | tr -d ' '
qinspect --ndjson -T 'blk.4.ffn_*' stories260K-q8_0.gguf
# awk can sum a column: bytes per type
qinspect --ndjson stories260K-q8_0.gguf | sed 's/.*"type":"\([^"]*\)".*"bytes":\([0-9]*\).*/\1 \2/' |
    awk '{ b[$1] += $2 } END { print "q8_0", b["q8_0"]; print "f16", b["f16"]; print "f32", b["f32"] }'
