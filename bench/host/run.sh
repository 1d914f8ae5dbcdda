#!/bin/sh
# Host benchmark of svcbrokerd (not a test): on loopback, with wrk,
#   - GET /v1/catalog, against nginx serving the same JSON as a static file;
#   - POST of a no-op call (testmod Echo.Echo), against nginx answering the
#     same POST with a fixed JSON body;
# each at 64 connections (throughput) and 1 connection (latency), in
# ROUNDS rounds in which svcbrokerd and nginx take turns (so that both see
# the same load on a shared machine; the ratio is the median of the
# rounds' ratios); plus the daemon's resident memory with every module
# loaded, and its start-up time (exec until /v1/health answers), over
# several runs.
#
#   bench/host/run.sh [BUILD_DIR]        (default: build/, see scripts/build.sh)
#
# Environment: DURATION (seconds per wrk run, default 4), ROUNDS (default
# 5), CONNECTIONS (default 64), THREADS (wrk threads, default 2), STARTS
# (start-up runs, default 10), WRITE=0 to print the results without updating
# docs/performance.md (only its "## Host" section is rewritten).
# Needs: wrk, nginx (nginx-light), curl, python3 — scripts/deps.sh --bench.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bdir=$(cd "${1:-$top/build}" && pwd)
DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
STARTS=${STARTS:-10}
WRITE=${WRITE:-1}

for tool in wrk nginx curl python3; do
	command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
		echo "run.sh: $tool not found (scripts/deps.sh --bench)" >&2
		exit 1
	}
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench.XXXXXX")
dpid=""
d2pid=""
npid=""
cleanup() {
	[ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	[ -n "$d2pid" ] && kill -TERM "$d2pid" 2>/dev/null && wait "$d2pid" 2>/dev/null
	[ -n "$npid" ] && kill -TERM "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- build and install into a temporary prefix --------------------------------
echo "run.sh: building in $bdir" >&2
make -C "$bdir" -j"$(nproc)" >/dev/null
make -C "$bdir" test-modules >/dev/null
# DESTDIR staging leaves the build tree as it is, whatever its prefix.
make -C "$bdir" install DESTDIR="$tmp/dest" >/dev/null 2>"$tmp/install.log" || {
	cat "$tmp/install.log" >&2
	exit 1
}
daemon=$(find "$tmp/dest" -name svcbrokerd -type f -perm -u+x | head -1)
pc=$(find "$tmp/dest" -name svcbroker.pc -path '*/pkgconfig/*' | head -1)
LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
mods=$tmp/modules
mkdir -p "$mods" "$tmp/state"
for so in $(find "$tmp/dest" -path '*/svcbroker/brokers/*.so') "$bdir"/tests/modules/.libs/testmod.so; do
	[ -f "$so" ] && cp "$so" "$mods/"
done

# --- configuration: every broker module with one instance -------------------------
port=$(free_port)
smtp_port=$(free_port)
{
	# audit_log = no: nginx runs with its access log off
	printf '[server]\nlisten = 127.0.0.1:%s\nmodule_dir = %s\nstate_dir = %s\nlog_level = warn\naudit_log = no\n\n' \
		"$port" "$mods" "$tmp/state"
	printf '[module testmod]\nenabled = yes\n[instance t1]\nbroker = testmod\nlabel = bench\n\n'
	if [ -f "$mods/mapi-stub.so" ]; then
		printf '[module mapi-stub]\nenabled = yes\n[instance local]\nbroker = mapi-stub\n'
		printf 'store_dir = %s\nmailboxes = alice@example.test, bob@example.test\n\n' "$tmp/store"
	fi
	if [ -f "$mods/smtp.so" ]; then
		# Nothing listens there: open() must not need the server.
		printf '[module smtp]\nenabled = yes\n[instance relay]\nbroker = smtp\n'
		printf 'url = smtp://127.0.0.1:%s\ntls = none\nauth = none\nfrom = bench@example.test\nhelo_name = bench.example.test\n\n' "$smtp_port"
	fi
} >"$tmp/svcbroker.ini"
if ! "$daemon" --check -c "$tmp/svcbroker.ini" >"$tmp/check.log" 2>&1; then
	echo "run.sh: the benchmark configuration is refused:" >&2
	cat "$tmp/check.log" >&2
	exit 1
fi
loaded=$(ls "$mods" | sed 's/\.so$//' | paste -sd, - | sed 's/,/, /g')

# wait_up PORT PID LOG: until the daemon answers /v1/health (20 s at most)
wait_up() {
	i=0
	until curl -sf --max-time 1 "http://127.0.0.1:$1/v1/health" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$2" 2>/dev/null; then
			echo "run.sh: svcbrokerd ($3) did not start:" >&2
			cat "$3" >&2
			exit 1
		fi
		sleep 0.1
	done
}

"$daemon" -c "$tmp/svcbroker.ini" >"$tmp/daemon.log" 2>&1 &
dpid=$!
wait_up "$port" "$dpid" "$tmp/daemon.log"
rss_idle=$(awk '/^VmRSS/ {print $2}' "/proc/$dpid/status")
# Does a GET keep the connection open?  (Each closed one costs a TCP
# handshake per request under wrk.)
if curl -sv "http://127.0.0.1:$port/v1/catalog" -o /dev/null 2>&1 | grep -qi '^< connection: close'; then
	get_close=1
else
	get_close=0
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- nginx with the same answers --------------------------------------------------
mkdir -p "$tmp/www/v1" "$tmp/nginx/logs"
curl -sf "http://127.0.0.1:$port/v1/catalog" >"$tmp/www/v1/catalog"
# nginx's workers run as another user when it is started as root.
chmod a+rx "$tmp" "$tmp/www" "$tmp/www/v1"
chmod a+r "$tmp/www/v1/catalog"
body='{"inputs":{"Text":"x"}}'
echo_answer=$(curl -sf -H 'Content-Type: application/json' -d "$body" \
	"http://127.0.0.1:$port/v1/call/t1/Echo/Echo")
nport=$(free_port)
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nport;
        root $tmp/www;
        default_type application/json;
        location = /v1/call/t1/Echo/Echo { return 200 '$echo_answer'; }
    }
}
EOF
"$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" &
npid=$!
i=0
until curl -sf --max-time 1 "http://127.0.0.1:$nport/v1/catalog" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "run.sh: nginx did not start" >&2; cat "$tmp/nginx/logs/error.log" >&2; exit 1; }
	sleep 0.1
done

cat >"$tmp/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF

# run_wrk NAME CONNECTIONS URL [SCRIPT] -> "rps p50 p99 errors" in $tmp/NAME.res
run_wrk() {
	name=$1 conns=$2 url=$3 script=${4:-}
	threads=$THREADS
	[ "$conns" -lt "$threads" ] && threads=$conns
	set -- -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 10s --latency
	[ -n "$script" ] && set -- "$@" -s "$script"
	wrk "$@" "$url" >"$tmp/$name.out" 2>&1 || true
	awk '
		function ms(v) {
			if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
			if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
			if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
			return v + 0
		}
		/Requests\/sec:/ { rps = $2 }
		/^ +50%/ { p50 = ms($2) }
		/^ +99%/ { p99 = ms($2) }
		/Non-2xx or 3xx responses:/ { err += $NF }
		/Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { v = $i; sub(/,/, "", v); err += v } }
		END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, err }
	' "$tmp/$name.out" >"$tmp/$name.res"
	echo "run.sh: $name: $(cat "$tmp/$name.res") (rps p50ms p99ms errors)" >&2
}

# A second daemon with the audit log on (the default: a line per call),
# for the cost of that line.
port2=$(free_port)
mkdir -p "$tmp/state2"
printf '[server]\nlisten = 127.0.0.1:%s\nmodule_dir = %s\nstate_dir = %s\nlog_level = warn\n\n[module testmod]\nenabled = yes\n[instance t1]\nbroker = testmod\nlabel = bench\n' \
	"$port2" "$mods" "$tmp/state2" >"$tmp/audit.ini"
"$daemon" -c "$tmp/audit.ini" >"$tmp/daemon2.log" 2>&1 &
d2pid=$!
wait_up "$port2" "$d2pid" "$tmp/daemon2.log"

sb=http://127.0.0.1:$port
sb2=http://127.0.0.1:$port2
ng=http://127.0.0.1:$nport
# Rounds: in each, every measurement is made by svcbrokerd and nginx one
# right after the other (nginx first in every other round).
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for t in cat call cat1 call1 calla; do
		case $t in
		cat) c=$CONNECTIONS u=/v1/catalog sc= ;;
		call) c=$CONNECTIONS u=/v1/call/t1/Echo/Echo sc=$tmp/post.lua ;;
		cat1) c=1 u=/v1/catalog sc= ;;
		call1) c=1 u=/v1/call/t1/Echo/Echo sc=$tmp/post.lua ;;
		calla) c=$CONNECTIONS u=/v1/call/t1/Echo/Echo sc=$tmp/post.lua ;;
		esac
		base=$sb
		[ "$t" = calla ] && base=$sb2
		if [ $((r % 2)) = 1 ]; then
			run_wrk "sb_${t}_$r" "$c" "$base$u" $sc
			run_wrk "ng_${t}_$r" "$c" "$ng$u" $sc
		else
			run_wrk "ng_${t}_$r" "$c" "$ng$u" $sc
			run_wrk "sb_${t}_$r" "$c" "$base$u" $sc
		fi
	done
	r=$((r + 1))
done
audit_lines=$(grep -c 'audit: ' "$tmp/daemon2.log" || true)
kill -TERM "$d2pid"
wait "$d2pid" 2>/dev/null || true
d2pid=""

rss_after=$(awk '/^VmRSS/ {print $2}' "/proc/$dpid/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$dpid/status")
threads_n=$(awk '/^Threads/ {print $2}' "/proc/$dpid/status")
calls_ok=$(curl -sf "$sb/metrics" | awk '/^svcbroker_calls_total\{.*Echo.*status="ok"/ {s += $NF} END {print s + 0}')
kill -TERM "$dpid"
wait "$dpid" 2>/dev/null || true
dpid=""
kill -TERM "$npid"
wait "$npid" 2>/dev/null || true
npid=""

# --- start-up time ---------------------------------------------------------------------
python3 "$top/bench/host/startup.py" "$STARTS" "$daemon" "$tmp/svcbroker.ini" "$port" >"$tmp/startup.out"
read -r st_min st_med st_max <<EOF
$(tail -1 "$tmp/startup.out")
EOF

# --- report ------------------------------------------------------------------------------
# med NAME FIELD: the median over the rounds of field FIELD of NAME_<round>
med() {
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		awk -v n="$2" '{print $n}' "$tmp/$1_$r.res"
		r=$((r + 1))
	done | sort -g | awk '{v[NR] = $1} END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; if ($0 ~ /\./ || m != int(m)) printf "%.3f\n", m; else print m }'
}
f() { med "$1" "$2" | awk -v n="$2" '{ if (n == 1 || n == 4) printf "%.0f\n", $1; else printf "%.3f\n", $1 }'; }
# rt TEST: the median of the rounds' ratios (svcbrokerd / nginx) and
# their range
rt() {
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		a=$(awk '{print $1}' "$tmp/sb_$1_$r.res")
		b=$(awk '{print $1}' "$tmp/ng_$1_$r.res")
		awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.4f\n", a / b; else print 0 }'
		r=$((r + 1))
	done | sort -g | awk '{v[NR] = $1} END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "**%.2f** (%.2f–%.2f)\n", m, v[1], v[NR] }'
}
cat_size=$(wc -c <"$tmp/www/v1/catalog")
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
errors=0
for res in "$tmp"/sb_*.res "$tmp"/ng_*.res; do
	errors=$((errors + $(awk '{print $4}' "$res")))
done

{
	echo "## Host"
	echo
	echo "Measured $(date -u +%Y-%m-%d) with \`bench/host/run.sh\` on $(nproc) CPUs ($cpu),"
	echo "$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, Debian $(cat /etc/debian_version 2>/dev/null || echo '?'),"
	echo "everything on loopback: wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}' || true), ${THREADS} threads, ${DURATION} s per run, $ROUNDS rounds;"
	echo "nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') (\`worker_processes auto\`, access log off) serving the"
	echo "same answers; svcbrokerd with its defaults (16 workers), \`log_level = warn\`"
	echo "and, like nginx, no line per request (\`audit_log = no\`),"
	echo "every module loaded ($loaded), one instance each. The catalog is $cat_size bytes."
	echo "In each round every row is measured on svcbrokerd and on nginx one right"
	echo "after the other (nginx first in every other round), so both see the same"
	echo "load; the figures are medians over the rounds, the ratio the median of"
	echo "the rounds' ratios (in parentheses the lowest and highest)."
	echo
	echo "| $CONNECTIONS connections | svcbrokerd req/s | nginx req/s | ratio | svcbrokerd p50 / p99 ms | nginx p50 / p99 ms |"
	echo "|---|---|---|---|---|---|"
	echo "| \`GET /v1/catalog\` | $(f sb_cat 1) | $(f ng_cat 1) | $(rt cat) | $(f sb_cat 2) / $(f sb_cat 3) | $(f ng_cat 2) / $(f ng_cat 3) |"
	echo "| \`POST /v1/call/t1/Echo/Echo\` | $(f sb_call 1) | $(f ng_call 1) | $(rt call) | $(f sb_call 2) / $(f sb_call 3) | $(f ng_call 2) / $(f ng_call 3) |"
	echo "| the same call, audit log on (the default) | $(f sb_calla 1) | $(f ng_calla 1) | $(rt calla) | $(f sb_calla 2) / $(f sb_calla 3) | $(f ng_calla 2) / $(f ng_calla 3) |"
	echo
	echo "| 1 connection | svcbrokerd req/s | nginx req/s | ratio | svcbrokerd p50 / p99 ms | nginx p50 / p99 ms |"
	echo "|---|---|---|---|---|---|"
	echo "| \`GET /v1/catalog\` | $(f sb_cat1 1) | $(f ng_cat1 1) | $(rt cat1) | $(f sb_cat1 2) / $(f sb_cat1 3) | $(f ng_cat1 2) / $(f ng_cat1 3) |"
	echo "| \`POST /v1/call/t1/Echo/Echo\` | $(f sb_call1 1) | $(f ng_call1 1) | $(rt call1) | $(f sb_call1 2) / $(f sb_call1 3) | $(f ng_call1 2) / $(f ng_call1 3) |"
	echo
	echo "Ratio is svcbrokerd's throughput over nginx's. For the call, nginx only"
	echo "returns a fixed body, while svcbrokerd parses and validates the inputs,"
	echo "queues the call to a worker thread, runs the broker, and encodes the row:"
	echo "the ratio is the price of that whole path. The audit-log row is a second"
	echo "daemon (testmod only) with the default \`audit_log = yes\`: one line per"
	echo "call ($audit_lines lines) written to a file, measured in the same rounds."
	echo "Failed or non-2xx answers during all runs: $errors; Echo calls answered ok"
	echo "by the first daemon according to \`/metrics\`: $calls_ok."
	if [ "$get_close" = 1 ]; then
		echo
		echo "svcbrokerd answered these GETs with \`Connection: close\`, so every GET"
		echo "request paid for a new TCP connection while nginx kept its connections"
		echo "alive; the calls (POST) were kept alive by both."
	fi
	echo
	echo "Load average before the runs: $load_before (other processes on the"
	echo "machine share its CPUs with wrk, nginx and svcbrokerd; figures vary"
	echo "by tens of percent from run to run)."
	echo
	echo "| svcbrokerd process | |"
	echo "|---|---|"
	echo "| resident memory after start (VmRSS) | $((rss_idle / 1024)) MiB ($rss_idle KiB) |"
	echo "| resident memory after the load runs (VmRSS / peak VmHWM) | $((rss_after / 1024)) MiB / $((hwm / 1024)) MiB |"
	echo "| threads | $threads_n |"
	echo "| start-up, exec until \`/v1/health\` answers 200 ($STARTS runs) | min $st_min ms, median $st_med ms, max $st_max ms |"
	echo
	echo "Reproduce: \`scripts/deps.sh --bench && scripts/build.sh build && bench/host/run.sh build\`"
	echo "(\`DURATION\`, \`ROUNDS\`, \`CONNECTIONS\`, \`THREADS\`, \`STARTS\` adjust the runs)."
} >"$tmp/host.md"

cat "$tmp/host.md"
if [ "$WRITE" = 1 ]; then
	perf=$top/docs/performance.md
	python3 - "$perf" "$tmp/host.md" <<'EOF'
import os
import re
import sys

path, section = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else (
    "# Performance\n\nMeasured figures, and how to reproduce them "
    "(scripts in `bench/`).\n")
# Replace the "## Host" section (up to the next "## " heading), or append.
m = re.search(r"^## Host\n.*?(?=^## |\Z)", text, re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
EOF
	echo "run.sh: wrote the Host section of $perf" >&2
fi
