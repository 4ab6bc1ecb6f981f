# Usage errors exit 2 with one line and a hint; missing and unrecognised inputs are trouble.
qverify; echo "exit $?"
qverify --no-such-option x; echo "exit $?"
qverify --uuid x.gguf; echo "exit $?"
qverify -c --per-tensor m; echo "exit $?"
qverify --scan --sha256 x; echo "exit $?"
qverify --status x; echo "exit $?"
qverify -j x y; echo "exit $?"
qverify missing.gguf; echo "exit $?"
printf 'hello\n' > notes.txt
qverify notes.txt; echo "exit $?"
qverify --sha256 missing.gguf; echo "exit $?"
