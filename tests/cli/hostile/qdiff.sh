# qdiff of every hostile input against a valid model (skipped until qdiff is built): exit 2
# (trouble, not "different"), the input named, nothing written. See common.inc.
. "$TESTS/cli/hostile/common.inc"
HOSTILE_EXIT=2
hostile_args() { printf '%s\n' "$TESTS/fixtures/qinspect/odd.gguf"; }
hostile_run qdiff
