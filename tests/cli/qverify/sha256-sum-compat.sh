# --sha256 lines are byte-identical to sha256sum's, and each tool checks the other's.
cp "$FIX/stories260K-q8_0.gguf" "$FIX/stories260K-f32.gguf" "$FIX/ggml-vocab-bert-bge.gguf" .
set -- stories260K-q8_0.gguf stories260K-f32.gguf ggml-vocab-bert-bge.gguf
qverify --sha256 "$@" > ours.sha
sha256sum "$@" > theirs.sha
cmp ours.sha theirs.sha && echo "GNU lines identical"
qverify --sha256 --tag "$@" > ours.tag
sha256sum --tag "$@" > theirs.tag
cmp ours.tag theirs.tag && echo "BSD lines identical"
sha256sum -c ours.sha && echo "sha256sum -c accepts ours: $?"
sha256sum -c ours.tag > /dev/null && echo "sha256sum -c accepts our --tag"
qverify -c theirs.sha && echo "qverify -c accepts sha256sum's: $?"
qverify -c theirs.tag > /dev/null && echo "qverify -c accepts sha256sum --tag"
cat ours.sha
