#!/bin/sh
# SMTP benchmark of the smtp broker (not a test): the same messages sent to
# one local aiosmtpd server by svcbroker (through the daemon's HTTP API),
# by Python's smtplib and by swaks, in the same run; prints messages/second
# and ratios, and rewrites the "## SMTP" section of docs/performance.md.
#
#   bench/smtp/run.sh [BUILD_DIR]        (default: build/, see scripts/build.sh)
#
# Environment: MESSAGES (per sender, default 500), SWAKS_MESSAGES (swaks
# is slow: default 100, the rate is what counts), CLIENTS (concurrent
# senders, default 4), WRITE=0 to print without touching docs/performance.md.
# Needs: swaks, python3-aiosmtpd, curl — scripts/deps.sh --bench.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bdir=$(cd "${1:-$top/build}" && pwd)
MESSAGES=${MESSAGES:-500}
SWAKS_MESSAGES=${SWAKS_MESSAGES:-100}
CLIENTS=${CLIENTS:-4}
WRITE=${WRITE:-1}

for tool in swaks curl /usr/bin/python3; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "run.sh: $tool not found (scripts/deps.sh --bench)" >&2
		exit 1
	}
done
[ -x "$bdir/core/svcbrokerd/svcbrokerd" ] && [ -f "$bdir/brokers/smtp/.libs/smtp.so" ] || {
	echo "run.sh: build svcbrokerd and the smtp broker in $bdir first (scripts/build.sh)" >&2
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench-smtp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

/usr/bin/python3 "$top/bench/smtp/bench.py" --build "$bdir" \
	--messages "$MESSAGES" --swaks-messages "$SWAKS_MESSAGES" --clients "$CLIENTS" --markdown "$tmp/smtp.md"

if [ "$WRITE" = 1 ]; then
	perf=$top/docs/performance.md
	/usr/bin/python3 - "$perf" "$tmp/smtp.md" <<'PY'
import os
import re
import sys

path, section = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else (
    "# Performance\n\nMeasured figures, and how to reproduce them "
    "(scripts in `bench/`).\n")
# Replace the "## SMTP" section (up to the next "## " heading), or append.
m = re.search(r"^## SMTP\n.*?(?=^## |\Z)", text, re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
	echo "run.sh: wrote the SMTP section of $perf" >&2
fi
