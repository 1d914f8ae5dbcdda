#!/bin/sh
# Run the fuzz targets of tests/fuzz (clang's libFuzzer; see docs/testing.md).
#   scripts/fuzz.sh [-t] [-s SECONDS] [-b BUILD_DIR] [-o OUT_DIR] [TARGET...]
# Builds them in BUILD_DIR (default build, already configured) with
# `make fuzz-build` unless FUZZ_NO_BUILD=1, then runs each TARGET (default:
# all) for SECONDS (default 5) on its checked-in corpus
# (tests/fuzz/corpus/TARGET; inputs found on the way go to
# OUT_DIR/corpus/TARGET, crashes to OUT_DIR/TARGET-crash-*).  OUT_DIR
# (default build-fuzz) gets TARGET.log per target, and with -t TARGET.trs
# too, the way scripts/count-results.py counts them (scripts/test.sh).  One
# "PASS: fuzz_TARGET" / "FAIL: ..." line is printed per target.  Exits
# non-zero if any failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
secs=5
bdir=build
out=build-fuzz
trs=0
while getopts ts:b:o: opt; do
	case $opt in
	t) trs=1 ;;
	s) secs=$OPTARG ;;
	b) bdir=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: $0 [-t] [-s SECONDS] [-b BUILD_DIR] [-o OUT_DIR] [TARGET...]" >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case $secs in '' | *[!0-9]*) echo "fuzz.sh: -s takes whole seconds" >&2; exit 2 ;; esac
case $bdir in /*) ;; *) bdir="$(pwd)/$bdir" ;; esac
case $out in /*) ;; *) out="$(pwd)/$out" ;; esac
targets=${*:-values ini json_inputs page_token cli_inputs mime http json_result ps_quote rrule oauth2_json xml soap_fault http_response mapi_thread console ews ews_mail ews_recur winrm_script ntlm winrm mapi_ical reqhdr clean}

mkdir -p "$out"
rm -f "$out.build-failed" "$out"/*.trs
if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
	if ! command -v clang >/dev/null 2>&1; then
		echo "fuzz.sh: clang not found (scripts/deps.sh installs it)" >&2
		echo "build:fuzz" >"$out.build-failed"
		exit 1
	fi
	if ! make -s -C "$bdir" fuzz-build >"$out/build.log" 2>&1; then
		cat "$out/build.log" >&2
		echo "fuzz.sh: building the fuzz targets in $bdir failed" >&2
		echo "build:fuzz" >"$out.build-failed"
		exit 1
	fi
fi

status=0
# A fuzzer that finds something stops at once; the bound only guards a
# fuzzer that stops answering (-timeout already ends a slow input).
limit=$((secs * 2 + 120))
for t in $targets; do
	bin="$bdir/tests/fuzz/fuzz_$t"
	seeds="$top/tests/fuzz/corpus/$t"
	mkdir -p "$out/corpus/$t"
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "fuzz.sh: no $bin or no $seeds" >"$out/$t.log"
		r=FAIL
	elif ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		timeout "$limit" nice -n 10 "$bin" -max_total_time="$secs" \
		-timeout=10 -print_final_stats=1 \
		-artifact_prefix="$out/$t-" "$out/corpus/$t" "$seeds" \
		>"$out/$t.log" 2>&1; then
		r=PASS
	else
		r=FAIL
	fi
	[ $r = PASS ] || status=1
	[ $trs = 0 ] || echo ":test-result: $r" >"$out/$t.trs"
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
	echo "$r: fuzz_$t${runs:+ ($runs runs in ${secs}s)}"
	[ $r = PASS ] || tail -n 30 "$out/$t.log" >&2
done
exit $status
