#!/bin/sh
# Replays the fuzz corpus of the result text cleaners
# (tests/fuzz/corpus/clean) through the fuzz target's checks, without
# libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${top_builddir:-.}/tests/fuzz/fuzz_clean_replay
out=$("$bin" "$top"/tests/fuzz/corpus/clean/*)
echo "$out"
n=$(ls "$top"/tests/fuzz/corpus/clean | wc -l)
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
