#!/bin/sh
# Set up and run every test of svcbroker:
#   1. install dependencies (scripts/deps.sh),
#   2. build in build/ and run `make check`,
#   3. build in build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer
#      and run `make check` again (skip with SB_NO_SANITIZE=1),
# then print one line "N passed, N failed, N skipped" (each check counted,
# see scripts/count-results.py) and exit non-zero if anything failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/scripts/deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
if [ -f tests/openapi/package.json ] && [ ! -d tests/openapi/node_modules ]; then
	(cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error) ||
		echo "test.sh: npm ci in tests/openapi failed; the OpenAPI validation test will fail" >&2
fi

status=0
suites=""
run_suite() { # run_suite BUILD_DIR [configure args...]
	bdir=$1
	shift
	if ! "$top/scripts/build.sh" "$bdir" "$@"; then
		echo "test.sh: build in $bdir failed" >&2
		status=1
		echo "build:$bdir" >>"$top/$bdir.build-failed"
		return
	fi
	rm -f "$top/$bdir.build-failed"
	# -k: run every test even if one fails; counts come from the logs.
	(cd "$top/$bdir" && make -k -j2 check VERBOSE=1 >"$top/$bdir/check.out" 2>&1) || status=1
	grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' "$top/$bdir/check.out" || true
	suites="$suites $bdir"
}

run_suite build
if [ "${SB_NO_SANITIZE:-0}" != 1 ]; then
	SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	export ASAN_OPTIONS UBSAN_OPTIONS
	run_suite build-asan CFLAGS="-O1 -g $SAN" LDFLAGS="$SAN"
fi

/usr/bin/python3 "$top/scripts/count-results.py" $suites || status=1
exit $status
