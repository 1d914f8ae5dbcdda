#!/bin/sh
# exchange-ews benchmark (not a test): Email.List, Email.Load, Email.Send,
# Availability.List, Task.List, Task.Create and Meeting.Create against the
# mock EWS server
# (tests/mock/ews_server.py) through svcbrokerd's HTTP API, side by side
# in every run with curl posting the
# very SOAP requests the broker sends on a kept, authenticated connection
# (latency ratio) and with exchangelib doing the same operations
# (throughput ratio); Basic and NTLM; the first call of a connection apart.
#
#   bench/ews/run.sh [BUILD_DIR]        (default: build/, see scripts/build.sh)
#
# Environment: RUNS (default 5), CALLS (calls per run on the kept
# connection, per sender, operation and authentication; default 50),
# AUTH (default basic,ntlm), OPS (default all: Email.List,Email.Load,
# Email.Send,Availability.List,Task.List,Task.Create,Meeting.Create; a
# comma-separated
# choice of them), WRITE=1 to put the figures into the
# "## exchange-ews" section of docs/performance.md (only the block between
# its "bench/ews figures" markers is replaced; without the section, one is
# appended); by default nothing is written.
# Needs: curl, a C compiler with libcurl's headers (bench/ews/fresh.c),
# python3-exchangelib, python3-lxml and python3-pycryptodome (the mock):
# all installed by scripts/deps.sh.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bdir=$(cd "${1:-$top/build}" && pwd)
RUNS=${RUNS:-5}
CALLS=${CALLS:-50}
AUTH=${AUTH:-basic,ntlm}
OPS=${OPS:-Email.List,Email.Load,Email.Send,Availability.List,Task.List,Task.Create,Meeting.Create}
WRITE=${WRITE:-0}

for tool in curl "${CC:-cc}" /usr/bin/python3; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "run.sh: $tool not found (scripts/deps.sh --bench)" >&2
		exit 1
	}
done
/usr/bin/python3 -c 'import exchangelib, lxml' 2>/dev/null || {
	echo "run.sh: python3-exchangelib and python3-lxml are needed (scripts/deps.sh --bench)" >&2
	exit 1
}
[ -x "$bdir/core/svcbrokerd/svcbrokerd" ] && [ -f "$bdir/brokers/exchange-ews/.libs/exchange-ews.so" ] || {
	echo "run.sh: build svcbrokerd and the exchange-ews broker in $bdir first (scripts/build.sh)" >&2
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench-ews.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

/usr/bin/python3 "$top/bench/ews/bench.py" --build "$bdir" --runs "$RUNS" \
	--calls "$CALLS" --auth "$AUTH" --ops "$OPS" --markdown "$tmp/ews.md" --json "$tmp/ews.json"
if [ -n "${KEEP_JSON:-}" ]; then
	cp "$tmp/ews.json" "$KEEP_JSON"
fi

if [ "$WRITE" = 1 ]; then
	perf=$top/docs/performance.md
	/usr/bin/python3 - "$perf" "$tmp/ews.md" <<'PY'
import os
import re
import sys

path, block = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else (
    "# Performance\n\nMeasured figures, and how to reproduce them "
    "(scripts in `bench/`).\n")
m = re.search(r"^<!-- bench/ews figures: begin -->\n.*?"
              r"^<!-- bench/ews figures: end -->\n", text, re.S | re.M)
if m:
    text = text[:m.start()] + block + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n## exchange-ews\n\n" + block
open(path, "w").write(text)
PY
	echo "run.sh: wrote the exchange-ews figures into $perf" >&2
fi
