#!/bin/sh
# Check that every C source and header of the tree is formatted as
# .clang-format says.  Prints one line per file that differs and
# "PASS: format" or "FAIL: format" (counted by scripts/count-results.py).
#   scripts/check-format.sh          check
#   scripts/check-format.sh --fix    reformat the files in place
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
cf=${CLANG_FORMAT:-clang-format}
if ! command -v "$cf" >/dev/null 2>&1; then
	echo "check-format.sh: $cf not found (scripts/deps.sh installs it)" >&2
	echo "FAIL: format"
	exit 1
fi
# The tracked C files when this is a git checkout, else every C file
# outside build trees.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h')
else
	files=$(find . -name '*.[ch]' -not -path './build*' -not -path '*/node_modules/*' | sed 's|^\./||' | sort)
fi
bad=0
for f in $files; do
	[ -f "$f" ] || continue
	if [ "${1:-}" = "--fix" ]; then
		"$cf" -i "$f"
	elif ! "$cf" "$f" | cmp -s - "$f"; then
		echo "not formatted: $f (scripts/check-format.sh --fix)"
		bad=$((bad + 1))
	fi
done
if [ "$bad" -gt 0 ]; then
	echo "FAIL: format"
	exit 1
fi
echo "PASS: format"
