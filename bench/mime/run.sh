#!/bin/sh
# MIME benchmark (not a test): mapi-stub's Email.Send, List and Load and
# smtp's Email.Send through svcbrokerd (bench/mime/bench.py), for two
# builds in the same run, ROUNDS times each in turn (before, after,
# before, ...); prints the best rate and the least daemon CPU time per
# call of each build and its resident memory, and rewrites the "## MIME"
# section of docs/performance.md.
#
#   bench/mime/run.sh BEFORE_BUILD_DIR [AFTER_BUILD_DIR]
#
# AFTER_BUILD_DIR defaults to build/.  BEFORE is typically the main branch
# built in a directory of its own (scripts/build.sh there).  Environment:
# CALLS (per phase, default 300), ROUNDS (default 3), WRITE=0 to print
# without touching docs/performance.md.  Needs python3-aiosmtpd.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BEFORE_BUILD_DIR [AFTER_BUILD_DIR]" >&2; exit 2; }
before=$(cd "$1" && pwd)
after=$(cd "${2:-$top/build}" && pwd)
CALLS=${CALLS:-300}
ROUNDS=${ROUNDS:-3}
WRITE=${WRITE:-1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench-mime.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

r=1
while [ "$r" -le "$ROUNDS" ]; do
	for which in before after; do
		eval dir=\$$which
		echo "run.sh: round $r, $which ($dir)" >&2
		/usr/bin/python3 "$top/bench/mime/bench.py" --build "$dir" \
			--calls "$CALLS" >"$tmp/$which.$r.json"
	done
	r=$((r + 1))
done

/usr/bin/python3 - "$tmp" "$ROUNDS" "$CALLS" "$top/docs/performance.md" "$WRITE" <<'PY'
import json, os, platform, re, sys
tmp, rounds, calls, perf, write = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "1"
runs = {w: [json.load(open(os.path.join(tmp, "%s.%d.json" % (w, r))))
            for r in range(1, rounds + 1)] for w in ("before", "after")}
phases = [k for k in runs["before"][0] if k != "build"]
rows = []
for ph in phases:
    b = max(x[ph]["rate"] for x in runs["before"])
    a = max(x[ph]["rate"] for x in runs["after"])
    cb = min(x[ph]["cpu_ms_per_call"] for x in runs["before"])
    ca = min(x[ph]["cpu_ms_per_call"] for x in runs["after"])
    # resident memory per call: growth of VmRSS over the phase, per call
    # (median over the rounds), and the daemon's peak after it
    def per_call(w):
        v = sorted((x[ph]["rss_after_kib"] - x[ph]["rss_before_kib"]) / x[ph]["calls"]
                   for x in runs[w])
        return v[len(v) // 2]
    def peak(w):
        v = sorted(x[ph]["hwm_kib"] for x in runs[w])
        return v[len(v) // 2]
    rows.append((ph, b, a, a / b if b else 0, cb, ca, per_call("before"),
                 per_call("after"), peak("before"), peak("after")))
lines = ["## MIME", "",
         "`bench/mime/run.sh BEFORE AFTER` (CALLS=%s, ROUNDS=%d): the calls that "
         "build and read messages, through svcbrokerd's HTTP API, one client; "
         "the message has a Unicode subject, text, HTML and two attachments "
         "(20 KiB binary, and a text file with a non-ASCII name).  Best rate of "
         "the rounds, run in turn on the same machine; the daemon's CPU time "
         "per call (user + system, least of the rounds: what a loaded machine "
         "disturbs least); memory from /proc "
         "(VmRSS growth over the phase per call, median; VmHWM after it).  "
         "Before: the hand-written reader and builder in libsvcbroker; after: "
         "libsvcbroker-mime on GMime 3.2, and the call's JSON read by yajl "
         "(docs/design-notes.md).  Machine: %s, %d CPUs, load %.1f "
         "(shared)." % (calls, rounds, platform.machine(), os.cpu_count(),
                        os.getloadavg()[0]), "",
         "| call | before /s | after /s | after/before | CPU ms/call before | after | RSS KiB/call before | after | peak KiB before | after |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for ph, b, a, ratio, cb, ca, pb, pa, hb, ha in rows:
    lines.append("| %s | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %d |"
                 % (ph, b, a, ratio, cb, ca, pb, pa, hb, ha))
section = "\n".join(lines) + "\n"
print(section)
if write:
    text = open(perf).read()
    m = re.search(r"^## MIME\n.*?(?=^## |\Z)", text, re.S | re.M)
    if m:
        text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(perf, "w").write(text)
    print("run.sh: wrote the MIME section of %s" % perf, file=sys.stderr)
PY
