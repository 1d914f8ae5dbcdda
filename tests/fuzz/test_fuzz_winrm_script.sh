#!/bin/sh
# Replays the corpus of the exchange-powershell-winrm fuzz target
# (tests/fuzz/corpus/winrm_script) without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bdir=${top_builddir:-.}/tests/fuzz
n=$(ls "$top"/tests/fuzz/corpus/winrm_script | wc -l)
out=$("$bdir/fuzz_winrm_script_replay" "$top"/tests/fuzz/corpus/winrm_script/*)
echo "fuzz_winrm_script: $out"
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
