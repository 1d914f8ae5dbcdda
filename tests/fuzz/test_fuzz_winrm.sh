#!/bin/sh
# Replays the corpus of the exchange-powershell-winrm fuzz target (tests/fuzz/corpus/winrm)
# without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bdir=${top_builddir:-.}/tests/fuzz
n=$(ls "$top"/tests/fuzz/corpus/winrm | wc -l)
out=$("$bdir/fuzz_winrm_replay" "$top"/tests/fuzz/corpus/winrm/*)
echo "fuzz_winrm: $out"
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
