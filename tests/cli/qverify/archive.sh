# Model files inside tar and zip archives are read in place (never extracted): member hashes,
# damage found by the archive reader, --members manifests checked with -c.
cp "$FIX/stories260K-q8_0.gguf" model.gguf
printf 'notes\n' > README.txt
tar cf models.tar model.gguf README.txt
gzip -9 -n -c models.tar > models.tar.gz
qverify models.tar
echo "exit $?"
# the same bytes as the extracted files
qverify --members --sha256 models.tar.gz > MEMBERS
cat MEMBERS
sha256sum model.gguf README.txt
qverify -c MEMBERS
echo "exit $?"
# a cut-off download of the compressed archive
head -c 100000 models.tar.gz > cut.tar.gz
qverify cut.tar.gz
echo "exit $?"
# a member changed after the manifest was written
printf 'NOTES\n' > README.txt
tar cf models.tar.gz model.gguf README.txt
qverify -c MEMBERS
echo "exit $?"
