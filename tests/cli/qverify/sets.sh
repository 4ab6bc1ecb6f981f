# Split GGUF sets and safetensors checkpoints are validated as sets; a missing or damaged
# part is reported with the reader's message (file and byte offset).
cp "$FIX"/stories260K-f32-0000?-of-00003.gguf .
qverify stories260K-f32-00001-of-00003.gguf
echo "exit $?"
# a folder: each set once, through its first part
qverify .
echo "exit $?"
mkdir hf && cp "$FIX"/stories260K-hf/* hf/
qverify hf
echo "exit $?"
# part 3 missing
rm stories260K-f32-00003-of-00003.gguf
qverify stories260K-f32-00001-of-00003.gguf
echo "exit $?"
# part 2 cut short
cp "$FIX/stories260K-f32-00003-of-00003.gguf" .
head -c 300000 "$FIX/stories260K-f32-00002-of-00003.gguf" > stories260K-f32-00002-of-00003.gguf
qverify stories260K-f32-00001-of-00003.gguf
echo "exit $?"
