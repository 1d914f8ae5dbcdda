#!/bin/sh
# Run one test of `make check` (its command line: "$@") with TMPDIR set to
# a new directory of its own, made under the TMPDIR make was given (/tmp by
# default), so that what the test leaves there is its own.
#
# A test that passes or is skipped must leave that directory empty: what
# it left is listed, the directory is removed, and the test fails (exit 1).
# A test that fails keeps whatever it left, and its path is printed for a
# look at it.  An empty directory is removed either way.
#
# Under SB_TEST_VALGRIND=1 (the daemon under memcheck) what is left is only
# listed: valgrind keeps FIFOs of its own in TMPDIR (vgdb) that a daemon
# killed on purpose leaves behind.
base=${TMPDIR:-/tmp}
dir=$(mktemp -d "$base/sbcheck.XXXXXX") || {
	echo "tmpdir-check: cannot make a directory in $base" >&2
	exit 99
}
TMPDIR=$dir
export TMPDIR
"$@"
rc=$?
if rmdir "$dir" 2>/dev/null; then
	exit $rc
fi
case $rc in
0 | 77)
	if [ "${SB_TEST_VALGRIND:-0}" = 1 ]; then
		echo "# left in TMPDIR (not counted under valgrind):"
	else
		echo "not ok - the test left files in its TMPDIR ($dir):"
	fi
	(cd "$dir" && find . -mindepth 1 -maxdepth 2 | sort | head -n 50) |
		sed 's/^/#   /'
	rm -rf "$dir"
	if [ "${SB_TEST_VALGRIND:-0}" != 1 ]; then
		rc=1
	fi
	;;
*)
	echo "# kept what the failed test left in its TMPDIR: $dir" >&2
	;;
esac
exit $rc
