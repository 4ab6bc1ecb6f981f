# A made-up Hugging Face cache: blobs named by their sha256 (LFS) or git blob sha1, snapshot
# links, refs. All good first; then a damaged blob, a dangling link, a partial download and
# a ref without snapshot are each caught.
R=hub/models--org--tiny
mkdir -p $R/blobs $R/refs
rev=0123456789abcdef0123456789abcdef01234567
mkdir -p $R/snapshots/$rev/sub
model=$(sha256sum "$FIX/stories260K-q8_0.gguf" | cut -c1-64)
cp "$FIX/stories260K-q8_0.gguf" $R/blobs/$model
printf '{"architectures": ["LlamaForCausalLM"]}\n' > config.json
# a plain git file is named by its git blob sha1: sha1 of "blob SIZE\0" + content
cfg=$({ printf 'blob %d\000' $(wc -c < config.json); cat config.json; } | sha1sum | cut -c1-40)
mv config.json $R/blobs/$cfg
ln -s ../../blobs/$model $R/snapshots/$rev/model.gguf
ln -s ../../blobs/$cfg $R/snapshots/$rev/config.json
ln -s ../../../blobs/$cfg $R/snapshots/$rev/sub/config.json
printf '%s' $rev > $R/refs/main
qverify hub
echo "exit $?"
qverify $R > /dev/null && echo "the repository folder alone: exit 0"
# damage
printf 'X' | dd of=$R/blobs/$model bs=1 seek=300000 conv=notrunc 2>/dev/null
ln -s ../../blobs/0000000000000000000000000000000000000000000000000000000000000000 \
    $R/snapshots/$rev/gone.safetensors
head -c 1000 "$FIX/stories260K-f32.gguf" > $R/blobs/1111111111111111111111111111111111111111111111111111111111111111.incomplete
printf 'ffffffffffffffffffffffffffffffffffffffff' > $R/refs/dev
qverify hub
echo "exit $?"
