#!/bin/sh
# Replays the corpus of the exchange-ews fuzz target (tests/fuzz/corpus/ews)
# without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bdir=${top_builddir:-.}/tests/fuzz
n=$(ls "$top"/tests/fuzz/corpus/ews | wc -l)
out=$("$bdir/fuzz_ews_replay" "$top"/tests/fuzz/corpus/ews/*)
echo "fuzz_ews: $out"
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
