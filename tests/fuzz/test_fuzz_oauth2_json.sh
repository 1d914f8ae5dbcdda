#!/bin/sh
# Replays the OAuth2 token answer reader's fuzz corpus
# (tests/fuzz/corpus/oauth2_json) through the fuzz target's checks,
# without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${top_builddir:-.}/tests/fuzz/fuzz_oauth2_json_replay
out=$("$bin" "$top"/tests/fuzz/corpus/oauth2_json/*)
echo "$out"
n=$(ls "$top"/tests/fuzz/corpus/oauth2_json | wc -l)
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
