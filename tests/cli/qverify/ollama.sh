# A made-up Ollama store: blobs/sha256-HEX checked against their names, manifests' references
# (existence and size), the model layer validated as GGUF. Then damage.
M=models
mkdir -p $M/blobs $M/manifests/registry.ollama.ai/library/tiny
model=$(sha256sum "$FIX/stories260K-q8_0.gguf" | cut -c1-64)
cp "$FIX/stories260K-q8_0.gguf" $M/blobs/sha256-$model
printf '{"model_format":"gguf","model_family":"llama"}' > cfg
cfg=$(sha256sum cfg | cut -c1-64)
mv cfg $M/blobs/sha256-$cfg
printf '{{ .Prompt }}' > tmpl
tmpl=$(sha256sum tmpl | cut -c1-64)
mv tmpl $M/blobs/sha256-$tmpl
cat > $M/manifests/registry.ollama.ai/library/tiny/latest <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
 "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:$cfg","size":46},
 "layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:$model","size":344416},
           {"mediaType":"application/vnd.ollama.image.template","digest":"sha256:$tmpl","size":13}]}
JSON
qverify $M
echo "exit $?"
qverify . > /dev/null && echo "the folder above (~/.ollama): exit 0"
# damage: a changed byte in the template blob, a missing config blob, a partial download
printf '[' | dd of=$M/blobs/sha256-$tmpl bs=1 seek=0 conv=notrunc 2>/dev/null
rm $M/blobs/sha256-$cfg
head -c 5000 "$FIX/stories260K-f32.gguf" > $M/blobs/sha256-$cfg-partial
qverify $M
echo "exit $?"
