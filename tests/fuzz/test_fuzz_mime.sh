#!/bin/sh
# Replays the MIME fuzz corpus (tests/fuzz/corpus/mime) through the fuzz
# target's checks, without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${top_builddir:-.}/tests/fuzz/fuzz_mime_replay
out=$("$bin" "$top"/tests/fuzz/corpus/mime/*)
echo "$out"
n=$(ls "$top"/tests/fuzz/corpus/mime | wc -l)
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
