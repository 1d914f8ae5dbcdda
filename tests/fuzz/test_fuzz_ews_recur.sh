#!/bin/sh
# Replays the corpus of the exchange-ews recurrence reader's fuzz target
# (tests/fuzz/corpus/ews_recur) without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bdir=${top_builddir:-.}/tests/fuzz
n=$(ls "$top"/tests/fuzz/corpus/ews_recur | wc -l)
out=$("$bdir/fuzz_ews_recur_replay" "$top"/tests/fuzz/corpus/ews_recur/*)
echo "fuzz_ews_recur: $out"
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
