#!/bin/sh
# Replays the fuzz corpus of the API's request header parsers
# (tests/fuzz/corpus/reqhdr) through the fuzz target's checks, without
# libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${top_builddir:-.}/tests/fuzz/fuzz_reqhdr_replay
out=$("$bin" "$top"/tests/fuzz/corpus/reqhdr/*)
echo "$out"
n=$(ls "$top"/tests/fuzz/corpus/reqhdr | wc -l)
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
