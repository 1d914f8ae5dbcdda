#!/bin/sh
# Replays the web console's fuzz corpus (tests/fuzz/corpus/console)
# through the fuzz target's checks, without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${top_builddir:-.}/tests/fuzz/fuzz_console_replay
out=$("$bin" "$top"/tests/fuzz/corpus/console/*)
echo "$out"
n=$(ls "$top"/tests/fuzz/corpus/console | wc -l)
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
