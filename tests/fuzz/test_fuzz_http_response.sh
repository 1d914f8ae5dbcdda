#!/bin/sh
# Replays the HTTP client's response-parser fuzz corpus
# (tests/fuzz/corpus/http_response) through the fuzz target's checks,
# without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${top_builddir:-.}/tests/fuzz/fuzz_http_response_replay
out=$("$bin" "$top"/tests/fuzz/corpus/http_response/*)
echo "$out"
n=$(ls "$top"/tests/fuzz/corpus/http_response | wc -l)
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
