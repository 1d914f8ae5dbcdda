#!/bin/sh
# exchange-powershell-winrm benchmark (not a test): Mailbox.Load and
# MailboxDatabase.List through svcbrokerd against the mock WinRM server,
# side by side with pywinrm's run_ps running the same script against the
# same mock, in one run (bench/winrm/bench.py says how).
#
#   bench/winrm/run.sh [BUILD_DIR]        (default: build/)
#
# Environment: CALLS (per sender and operation, default 100), WRITE=1 to
# put the figures into the "## exchange-powershell-winrm" section of
# docs/performance.md (the block between its "bench/winrm figures"
# markers; without the section, one is appended).
# Needs python3-winrm (scripts/deps.sh).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bdir=$(cd "${1:-$top/build}" && pwd)
CALLS=${CALLS:-100}
WRITE=${WRITE:-0}
/usr/bin/python3 -c 'import winrm' 2>/dev/null || {
	echo "run.sh: python3-winrm is needed (scripts/deps.sh)" >&2
	exit 1
}
[ -x "$bdir/core/svcbrokerd/svcbrokerd" ] && [ -f "$bdir/brokers/exchange-powershell-winrm/.libs/exchange-powershell-winrm.so" ] || {
	echo "run.sh: build svcbrokerd and the exchange-powershell-winrm broker in $bdir first (scripts/build.sh)" >&2
	exit 1
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench-winrm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
/usr/bin/python3 "$top/bench/winrm/bench.py" --build "$bdir" \
	--calls "$CALLS" --markdown "$tmp/winrm.md"
if [ "$WRITE" = 1 ]; then
	perf=$top/docs/performance.md
	/usr/bin/python3 - "$perf" "$tmp/winrm.md" <<'PY'
import re
import sys
path, block = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
text = open(path).read()
m = re.search(r"^<!-- bench/winrm figures: begin -->\n.*?"
              r"^<!-- bench/winrm figures: end -->\n", text, re.S | re.M)
if m:
    text = text[:m.start()] + block + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n## exchange-powershell-winrm\n\n" + block
open(path, "w").write(text)
PY
	echo "run.sh: wrote the exchange-powershell-winrm figures into $perf" >&2
fi
