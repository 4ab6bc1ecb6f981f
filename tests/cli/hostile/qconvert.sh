# qconvert over every hostile input, by path and (for files) through a pipe (skipped until
# qconvert is built): exit 2, one line on stderr naming the input and the problem, within the
# time and memory limits, and no output and no temporary file left behind. See common.inc.
. "$TESTS/cli/hostile/common.inc"
HOSTILE_EXIT=2
HOSTILE_ONE_LINE=1
HOSTILE_PIPE=1
hostile_args() { printf '%s\n' -t Q8_0 -o out.gguf; }
hostile_run qconvert
