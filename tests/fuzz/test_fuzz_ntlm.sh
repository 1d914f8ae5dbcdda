#!/bin/sh
# Replays the NTLM CHALLENGE parser's fuzz corpus (tests/fuzz/corpus/ntlm)
# through the fuzz target's checks, without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${top_builddir:-.}/tests/fuzz/fuzz_ntlm_replay
out=$("$bin" "$top"/tests/fuzz/corpus/ntlm/*)
echo "$out"
n=$(ls "$top"/tests/fuzz/corpus/ntlm | wc -l)
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
