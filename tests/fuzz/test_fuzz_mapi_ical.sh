#!/bin/sh
# Replays the fuzz corpus of mapi-stub's iCalendar reading
# (tests/fuzz/corpus/mapi_ical) through the fuzz target's checks,
# without libFuzzer.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${top_builddir:-.}/tests/fuzz/fuzz_mapi_ical_replay
out=$("$bin" "$top"/tests/fuzz/corpus/mapi_ical/*)
echo "$out"
n=$(ls "$top"/tests/fuzz/corpus/mapi_ical | wc -l)
[ "$out" = "$n inputs replayed" ] || { echo "expected $n inputs" >&2; exit 1; }
