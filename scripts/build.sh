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
	if ! "$top/configure" --prefix="$bdir/prefix" "$@" >configure.out 2>&1; then
		grep -v "cannot remove 'core'" configure.out >&2
		echo "build.sh: configure failed; see $bdir/config.log" >&2
		exit 1
	fi
	# The summary configure prints at its end.
	sed -n '/^  svcbroker /,$p' configure.out
fi
make -j"$(nproc)" >/dev/null || make
