#!/bin/sh
# Rewrite tests/golden/<broker>.json from the broker modules built in a
# build directory, after a deliberate change to a broker's tables.  Review
# the diff (git diff tests/golden) and commit it with the change.
#
#   scripts/update-golden.sh [BUILDDIR]
#
# BUILDDIR defaults to $top_builddir, else build/ in the source tree; it
# must hold a built svcbrokerd and brokers (make, or make check).
# `make update-golden` in a build directory does the same.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bdir=${1:-${top_builddir:-$top/build}}
if [ ! -x "$bdir/core/svcbrokerd/svcbrokerd" ]; then
	echo "update-golden.sh: no svcbrokerd built in $bdir (run make there" \
		"first, or give the build directory)" >&2
	exit 1
fi
bdir=$(cd "$bdir" && pwd)
top_srcdir=$top top_builddir=$bdir
export top_srcdir top_builddir
exec /usr/bin/python3 "$top/tests/consistency/test_golden_catalog.py" --update
