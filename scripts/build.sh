#!/bin/sh
# Configure and build svcbroker out of tree.
#   scripts/build.sh [BUILD_DIR [configure args...]]   (default BUILD_DIR: build)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bdir=${1:-build}
[ $# -gt 0 ] && shift
case $bdir in /*) ;; *) bdir="$top/$bdir" ;; esac
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
	autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi
mkdir -p "$bdir"
cd "$bdir"
if [ ! -f Makefile ]; then
	# autoconf's "rm -f core" complains about the core/ source directory.
	"$top/configure" --prefix="$bdir/prefix" "$@" 2>&1 | grep -v "cannot remove 'core'" || true
	[ -f Makefile ] || { echo "build.sh: configure failed; see $bdir/config.log" >&2; exit 1; }
fi
make -j"$(nproc)" >/dev/null || make
