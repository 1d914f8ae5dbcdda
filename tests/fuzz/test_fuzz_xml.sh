#!/bin/sh
# Replays the corpora of the XML fuzz targets (tests/fuzz/corpus/xml and
# soap_fault) through both targets' checks, without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bdir=${top_builddir:-.}/tests/fuzz
n=$(($(ls "$top"/tests/fuzz/corpus/xml | wc -l) + \
	$(ls "$top"/tests/fuzz/corpus/soap_fault | wc -l)))
for t in xml soap_fault; do
	out=$("$bdir/fuzz_${t}_replay" "$top"/tests/fuzz/corpus/xml/* \
		"$top"/tests/fuzz/corpus/soap_fault/*)
	echo "fuzz_$t: $out"
	[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
done
