#!/bin/sh
# Replays the fuzz corpus of mapi-stub's answer headers
# (tests/fuzz/corpus/mapi_thread) through the fuzz target's checks,
# without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${top_builddir:-.}/tests/fuzz/fuzz_mapi_thread_replay
out=$("$bin" "$top"/tests/fuzz/corpus/mapi_thread/*)
echo "$out"
n=$(ls "$top"/tests/fuzz/corpus/mapi_thread | wc -l)
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
