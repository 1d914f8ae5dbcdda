#!/bin/sh
# Set up and run every test of svcbroker:
#   1. install dependencies (scripts/deps.sh),
#   2. build in build/ and run `make check`,
#   2b. run the tests that install: the README's quick start end to end and
#       the out-of-tree broker build (tests/integration/test_{quickstart,out_of_tree}),
#   3. run the compiled (unit) tests again under valgrind, then the
#      integration tests with svcbrokerd itself under valgrind (skip both
#      with SB_NO_VALGRIND=1),
#   3b. run each fuzz target (tests/fuzz) for 5 seconds on its corpus
#       (skip with SB_NO_FUZZ=1),
#   4. build in build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer
#      and run `make check` again (skip with SB_NO_SANITIZE=1),
# then print one line "N passed, N failed, N skipped" (each check counted,
# see scripts/count-results.py) and exit non-zero if anything failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# The protocol material beside the project (Microsoft's EWS schema and
# samples): named for the tests by path, so that the tests of a build from
# the tarball (make distcheck, outside this tree) find it too.
if [ -z "${SB_PROTOCOL_DIR:-}" ] && [ -d "$top/../shared/protocol" ]; then
	SB_PROTOCOL_DIR=$(cd "$top/../shared/protocol" && pwd)
	export SB_PROTOCOL_DIR
fi

"$top/scripts/deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
if [ -f tests/openapi/package.json ] && [ ! -d tests/openapi/node_modules ]; then
	(cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error) ||
		echo "test.sh: npm ci in tests/openapi failed; the OpenAPI validation test will fail" >&2
fi

status=0
results="$top/build/test-results.txt"
failures="$top/build/test-failures.txt"
mkdir -p "$top/build"
: >"$results"
: >"$failures"
phase_start=$(date +%s)
count() { # count LABEL BUILD_DIR [--tests-from OUT]: add that run's counts to $results
	label=$1
	shift
	/usr/bin/python3 "$top/scripts/count-results.py" --label "$label" \
		--failures "$failures" "$@" >>"$results" || status=1
	tail -n 1 "$results"
	# how long the phase took, on stderr (the counts stay on stdout)
	now=$(date +%s)
	echo "test.sh: $label took $((now - phase_start)) s" >&2
	phase_start=$now
}
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
	# A test program that did not compile leaves no result to count: the
	# run counts as a failed build, never as "0 failed".
	if grep -qE 'error:|Error [0-9]+$' "$top/$bdir/check.out" &&
		! grep -qE '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' "$top/$bdir/check.out"; then
		echo "test.sh: make check in $bdir built no tests; see $bdir/check.out" >&2
		grep -E 'error:' "$top/$bdir/check.out" | head -n 5 >&2
		echo "check:$bdir" >>"$top/$bdir.build-failed"
	fi
}

run_suite build
count plain build

# Tests that build and install (they would relink modules under the feet of
# tests running in parallel), one after the other: the README's quick start
# end to end (it installs into build/prefix and serves on 127.0.0.1:8780),
# and a broker built out of tree against the installed headers.
e2e() { # e2e NAME COMMAND...
	name=$1
	shift
	if top_srcdir="$top" top_builddir="$top/build" timeout 900 "$@" \
		>"$top/build-e2e/$name.log" 2>&1; then
		r=PASS
	else
		r=FAIL
		status=1
	fi
	echo ":test-result: $r" >"$top/build-e2e/$name.trs"
	echo "$r: $name"
}
if [ ! -f "$top/build.build-failed" ] && [ "${SB_NO_E2E:-0}" != 1 ]; then
	rm -rf "$top/build-e2e"
	mkdir -p "$top/build-e2e"
	e2e test_quickstart /usr/bin/python3 "$top/tests/integration/test_quickstart.py"
	e2e test_out_of_tree bash "$top/tests/integration/test_out_of_tree.sh"
	count e2e build-e2e
fi
# Fuzz smoke pass: each fuzz target of tests/fuzz for a few seconds on its
# checked-in corpus (scripts/fuzz.sh; skip with SB_NO_FUZZ=1).
if [ "${SB_NO_FUZZ:-0}" != 1 ] && [ ! -f "$top/build.build-failed" ]; then
	rm -rf "$top/build-fuzz"
	"$top/scripts/fuzz.sh" -t -s 5 -b "$top/build" -o "$top/build-fuzz" || status=1
	count fuzz build-fuzz
fi
if [ "${SB_NO_VALGRIND:-0}" != 1 ] && [ ! -f "$top/build.build-failed" ]; then
	native=$(make -s -C "$top/build" print-native-tests | tr '\n' ' ')
	(cd "$top/build" && make -k check TESTS="$native" CK_FORK=no CK_DEFAULT_TIMEOUT=600 \
		LOG_COMPILER="./libtool --mode=execute valgrind -q --error-exitcode=99 --suppressions=$top/tests/valgrind.supp --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect" \
		>"$top/build/valgrind.out" 2>&1) || status=1
	grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' "$top/build/valgrind.out" || true
	count valgrind --tests-from "$top/build/valgrind.out" build
	# The daemon under memcheck (tests/lib/sbtest.py: SB_TEST_VALGRIND=1):
	# every request path of the integration tests, any error or leak fails
	# the test.  Left out: two tests that measure timing under load
	# (test_api_concurrency) or SIGKILL the daemon mid-burst on purpose
	# (test_mapi_durability), where valgrind's slowdown only makes them
	# slow, and the tests of the mock servers against independent clients
	# (exchangelib, pywinrm), which run none of the project's C code.
	daemon_tests=$(make -s -C "$top/build" print-daemon-tests | grep -E '^tests/' |
		grep -vE 'test_(api_concurrency|mapi_durability|ews_mock_[a-z_]*exchangelib|winrm_mock_pywinrm)\.py$' |
		tr '\n' ' ')
	(cd "$top/build" && SB_TEST_VALGRIND=1 make -k check TESTS="$daemon_tests" \
		>"$top/build/valgrind-daemon.out" 2>&1) || status=1
	grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' "$top/build/valgrind-daemon.out" || true
	count valgrind-daemon --tests-from "$top/build/valgrind-daemon.out" build
fi
if [ "${SB_NO_SANITIZE:-0}" != 1 ]; then
	SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	# intercept_tls_get_addr=0: GCC 12's LeakSanitizer reads a freed
	# dynamic-TLS slot of a library unloaded with a module (GMime's and
	# curl's dependencies: gnutls, gpgme, libmount ...) and its tracer dies
	# ("Tracer caught signal 11") at the exit of a daemon that loaded and
	# unloaded many modules (svcbrokerd --list-brokers).
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0
	export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
	run_suite build-asan CFLAGS="-O1 -g $SAN" LDFLAGS="$SAN"
	count asan build-asan
fi

# Release checks, one result each (skip with SB_NO_RELEASE_CHECKS=1):
# the tree is formatted as .clang-format says, `make distcheck` passes (the
# tarball builds, installs, uninstalls and passes `make check` on its
# own), the tree builds with each broker disabled, and the Debian packages
# build and install (scripts/test-deb.sh, when dpkg-buildpackage is there).
if [ "${SB_NO_RELEASE_CHECKS:-0}" != 1 ]; then
	rm -rf "$top/build-release"
	mkdir -p "$top/build-release"
	release() { # release NAME COMMAND...: one counted result
		name=$1
		shift
		if (cd "$top" && timeout 1800 "$@") >"$top/build-release/$name.log" 2>&1; then
			r=PASS
		else
			r=FAIL
			status=1
			tail -n 30 "$top/build-release/$name.log" >&2
		fi
		echo ":test-result: $r" >"$top/build-release/$name.trs"
		echo "$r: $name"
	}
	release format "$top/scripts/check-format.sh"
	release distcheck sh -c 'set -e; rm -rf build-dist; mkdir build-dist; cd build-dist;
		../configure >configure.out 2>&1; make -j"$(nproc)" >/dev/null;
		make distcheck'
	for b in $(sed -n 's/^SB_BROKER(\[\([a-z0-9-]*\)\].*/\1/p' configure.ac); do
		release "disable-$b" sh -c "set -e; rm -rf build-no-$b; mkdir build-no-$b; cd build-no-$b;
			../configure --disable-$b >configure.out 2>&1; make -j\"\$(nproc)\" >/dev/null;
			test ! -e brokers/$b/$b.la"
	done
	# The Debian packages: built, checked by lintian, unpacked in a clean
	# root whose daemon runs on its default configuration.
	if command -v dpkg-buildpackage >/dev/null 2>&1 && command -v dh >/dev/null 2>&1; then
		release deb "$top/scripts/test-deb.sh"
	fi
	count release build-release
fi

# What failed, by name and check, so the output alone says it; then the
# one closing line: the sum of every run above.
if [ -s "$failures" ]; then
	echo "failed checks:"
	head -n 150 "$failures"
fi
/usr/bin/python3 "$top/scripts/count-results.py" --sum "$results" || status=1
exit $status
