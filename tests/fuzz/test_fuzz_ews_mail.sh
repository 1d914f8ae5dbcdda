#!/bin/sh
# Replays the corpus of the exchange-ews mail readers' fuzz target
# (tests/fuzz/corpus/ews_mail) without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bdir=${top_builddir:-.}/tests/fuzz
n=$(ls "$top"/tests/fuzz/corpus/ews_mail | wc -l)
out=$("$bdir/fuzz_ews_mail_replay" "$top"/tests/fuzz/corpus/ews_mail/*)
echo "fuzz_ews_mail: $out"
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
