# qverify over every hostile input: exit 1 (problems found) or 2 (could not be checked), as
# qverify(1) documents, the input named in the report, within the time and memory limits,
# nothing written. See common.inc.
# d16-two-unrelated holds two valid, unrelated safetensors files: qverify checks a directory
# file by file, so each is valid and the answer is 0; only opening it as one model is an error.
. "$TESTS/cli/hostile/common.inc"
HOSTILE_EXIT="1 2"
HOSTILE_SKIP="safetensors/d16-two-unrelated"
hostile_run qverify || exit 1
# and d16 is still checked: both files valid
mkdir -p wd
(cd wd && timeout 10 qverify "$TESTS/hostile/safetensors/d16-two-unrelated") >out 2>&1 ||
    { echo "FAIL d16-two-unrelated: $(cat out)" >&2; exit 1; }
[ -z "$(ls -A wd)" ] || { echo "FAIL d16-two-unrelated: left files" >&2; exit 1; }
