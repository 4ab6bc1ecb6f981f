# qinspect over every hostile input, by path and (for files) through a pipe: exit 2, exactly
# one line on stderr naming the file and the problem, within the time and memory limits,
# nothing written. See common.inc.
. "$TESTS/cli/hostile/common.inc"
HOSTILE_EXIT=2
HOSTILE_ONE_LINE=1
HOSTILE_PIPE=1
hostile_run qinspect
