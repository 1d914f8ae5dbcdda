#!/bin/sh
# Host benchmark of the API's security (not a test): what authentication
# and TLS cost svcbrokerd, on loopback with wrk, beside the plain runs of
# bench/host/run.sh.  Four daemons, each in turn:
#   plain      no [client] sections, plain HTTP (as run.sh);
#   token      a [client] with a bearer token (and its grants), every
#              request sending Authorization: Bearer;
#   tls        HTTPS (tests/mock/make_certs.sh's test CA), no clients;
#   tls+token  HTTPS and the token;
# each read with GET /v1/catalog and a no-op call (testmod Echo.Echo) at
# CONNECTIONS kept-alive connections.  The four run side by side and are
# measured in turn, ROUNDS times (the machine is shared: interleaving and
# the median of the rounds keep its load out of the comparison).  Authentication's cost is
# token against plain, and tls+token against tls.
#
#   bench/host/auth.sh [BUILD_DIR]        (default: build/)
#
# Environment: DURATION (seconds per wrk run, default 3), CONNECTIONS
# (default 64), THREADS (wrk threads, default 2), ROUNDS (default 7),
# WRITE=0 to print without updating docs/performance.md (only its
# "## Host: authentication and TLS" section is rewritten).
# Needs: wrk (built with OpenSSL, as Debian's), curl, openssl, python3.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bdir=$(cd "${1:-$top/build}" && pwd)
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-7}
WRITE=${WRITE:-1}

for tool in wrk curl openssl python3 sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "auth.sh: $tool not found (scripts/deps.sh --bench)" >&2
		exit 1
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench-auth.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

echo "auth.sh: building in $bdir" >&2
make -C "$bdir" -j"$(nproc)" >/dev/null
make -C "$bdir" test-modules >/dev/null
daemon=$bdir/core/svcbrokerd/svcbrokerd
mkdir -p "$tmp/modules" "$tmp/state"
cp "$bdir/tests/modules/.libs/testmod.so" "$tmp/modules/"
sh "$top/tests/mock/make_certs.sh" "$tmp/pki"
token=bench-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
hash=$(printf %s "$token" | sha256sum | cut -d' ' -f1)

# start MODE: a daemon in that mode (plain, token, tls, tlstoken); its
# URL in $tmp/MODE.url
start() {
	mode=$1
	port=$(free_port)
	{
		printf '[server]\nlisten = 127.0.0.1:%s\nmodule_dir = %s\n' "$port" "$tmp/modules"
		printf 'state_dir = %s\nlog_level = warn\n' "$tmp/state"
		case $mode in tls*)
			printf 'tls_cert = %s\ntls_key = %s\n' "$tmp/pki/server.pem" "$tmp/pki/server.key" ;;
		esac
		printf '\n[module testmod]\nenabled = yes\n[instance t1]\nbroker = testmod\nlabel = bench\n'
		case $mode in *token)
			# a few clients, the benchmark's last: its token is
			# compared with every one
			for n in 1 2 3; do
				printf '\n[client other%s]\ntoken_sha256 = %s\nallow = t1/Instance.*\n' \
					"$n" "$(printf 'other-%s' "$n" | sha256sum | cut -d' ' -f1)"
			done
			printf '\n[client bench]\ntoken_sha256 = %s\nallow = t1/Echo.*, t1/Instance.Info\n' "$hash" ;;
		esac
	} >"$tmp/$mode.ini"
	case $mode in
	tls*) url=https://127.0.0.1:$port ;;
	*) url=http://127.0.0.1:$port ;;
	esac
	"$daemon" -c "$tmp/$mode.ini" >"$tmp/$mode.log" 2>&1 &
	dpid=$!
	pids="$pids $dpid"
	echo "$url" >"$tmp/$mode.url"
	echo "$dpid" >"$tmp/$mode.pid"
	i=0
	until curl -sf --max-time 1 --cacert "$tmp/pki/ca.pem" "$url/v1/health" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$dpid" 2>/dev/null; then
			echo "auth.sh: svcbrokerd ($mode) did not start:" >&2
			cat "$tmp/$mode.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}


body='{"inputs":{"Text":"x"}}'
for auth in none bearer; do
	for kind in get post; do
		{
			if [ "$kind" = post ]; then
				printf 'wrk.method = "POST"\nwrk.body = %s\n' "'$body'"
				printf 'wrk.headers["Content-Type"] = "application/json"\n'
			fi
			if [ "$auth" = bearer ]; then
				printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$token"
			fi
		} >"$tmp/$kind-$auth.lua"
	done
done

# CPU time of process $1 so far, in clock ticks (user + system)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_wrk NAME URL SCRIPT PID -> appends "rps p50 p99 errors cpu_us" to
# $tmp/NAME.res (cpu_us: the daemon's CPU time per request, microseconds)
run_wrk() {
	name=$1 u=$2 script=$3 pid=$4
	t0=$(ticks "$pid")
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency \
		-s "$script" "$u" >"$tmp/$name.out" 2>&1 || true
	t1=$(ticks "$pid")
	awk -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" '
		function ms(v) {
			if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
			if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
			if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
			return v + 0
		}
		/Requests\/sec:/ { rps = $2 }
		/ requests in / { n = $1 }
		/^ +50%/ { p50 = ms($2) }
		/^ +99%/ { p99 = ms($2) }
		/Non-2xx or 3xx responses:/ { err += $NF }
		/Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { v = $i; sub(/,/, "", v); err += v } }
		END { cpu = 0; if (n > 0) cpu = (t1 - t0) * 1e6 / hz / n; printf "%.0f %.3f %.3f %d %.2f\n", rps, p50, p99, err, cpu }
	' "$tmp/$name.out" >>"$tmp/$name.res"
	echo "auth.sh: $name: $(tail -1 "$tmp/$name.res") (rps p50ms p99ms errors cpu_us)" >&2
}

for mode in plain token tls tlstoken; do
	start "$mode"
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
r=1
while [ $r -le "$ROUNDS" ]; do
	# each round in another order, so that no mode always follows another
	case $((r % 4)) in
	0) order="plain token tls tlstoken" ;;
	1) order="token tlstoken plain tls" ;;
	2) order="tls plain tlstoken token" ;;
	*) order="tlstoken tls token plain" ;;
	esac
	for k in cat call; do
		for mode in $order; do
			a=none
			case $mode in *token) a=bearer ;; esac
			u=$(cat "$tmp/$mode.url")
			p=$(cat "$tmp/$mode.pid")
			if [ "$k" = cat ]; then
				run_wrk "$mode-cat" "$u/v1/catalog" "$tmp/get-$a.lua" "$p"
			else
				run_wrk "$mode-call" "$u/v1/call/t1/Echo/Echo" "$tmp/post-$a.lua" "$p"
			fi
		done
	done
	r=$((r + 1))
done

# the medians of NAME's rounds, each figure on its own: "rps p50 p99
# cpu_us"; and the errors of all rounds
med1() {
	awk -v c="$2" '{print $c}' "$tmp/$1.res" | sort -n |
		awk -v n="$ROUNDS" 'NR == int((n + 1) / 2)'
}
med() { echo "$(med1 "$1" 1) $(med1 "$1" 2) $(med1 "$1" 3) $(med1 "$1" 5)"; }
errs() { awk '{s += $4} END {print s + 0}' "$tmp/$1.res"; }
f() { med "$1" | awk -v n="$2" '{print $n}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f %%", (a / b - 1) * 100; else print "n/a" }'; }
errors=0
for m in plain token tls tlstoken; do
	for k in cat call; do
		errors=$((errors + $(errs "$m-$k")))
	done
done
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)

{
	echo "## Host: authentication and TLS"
	echo
	echo "Measured $(date -u +%Y-%m-%d) with \`bench/host/auth.sh\` on $(nproc) CPUs ($cpu),"
	echo "everything on loopback: wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}' || true), ${THREADS} threads,"
	echo "$CONNECTIONS kept-alive connections, ${DURATION} s per run; the median of $ROUNDS rounds."
	echo "The four daemons (defaults, \`log_level = warn\`, testmod only) run side by"
	echo "side and are measured in turn, so that the machine's load falls on all alike."
	echo "*token*: four \`[client]\` sections, the request's token being the"
	echo "last one's (so every hash is compared); *tls*: HTTPS with a 2048-bit RSA"
	echo "certificate (TLS 1.3), its handshake paid once per connection."
	echo
	echo "| | req/s | against | CPU µs / request | against | p50 / p99 ms |"
	echo "|---|---|---|---|---|---|"
	for k in cat call; do
		case $k in
		cat) what='`GET /v1/catalog`' ;;
		*) what='`POST /v1/call/t1/Echo/Echo`' ;;
		esac
		echo "| $what plain | $(f plain-$k 1) | | $(f plain-$k 4) | | $(f plain-$k 2) / $(f plain-$k 3) |"
		echo "| $what token | $(f token-$k 1) | $(pct "$(f token-$k 1)" "$(f plain-$k 1)") of plain | $(f token-$k 4) | $(pct "$(f token-$k 4)" "$(f plain-$k 4)") of plain | $(f token-$k 2) / $(f token-$k 3) |"
		echo "| $what tls | $(f tls-$k 1) | $(pct "$(f tls-$k 1)" "$(f plain-$k 1)") of plain | $(f tls-$k 4) | $(pct "$(f tls-$k 4)" "$(f plain-$k 4)") of plain | $(f tls-$k 2) / $(f tls-$k 3) |"
		echo "| $what tls+token | $(f tlstoken-$k 1) | $(pct "$(f tlstoken-$k 1)" "$(f tls-$k 1)") of tls | $(f tlstoken-$k 4) | $(pct "$(f tlstoken-$k 4)" "$(f tls-$k 4)") of tls | $(f tlstoken-$k 2) / $(f tlstoken-$k 3) |"
	done
	echo
	worst=$(for k in cat call; do
		pct "$(f token-$k 1)" "$(f plain-$k 1)"
		echo
		pct "$(f tlstoken-$k 1)" "$(f tls-$k 1)"
		echo
	done | sort -g | head -1)
	echo "Authentication's largest change of throughput here: $worst (the aim: no"
	echo "worse than -10 %)."
	echo
	echo "Authentication's cost is the *token* row against *plain* and the"
	echo "*tls+token* row against *tls*: per request, a SHA-256 of the token,"
	echo "its comparison with every client's hash, the grant patterns of a call,"
	echo "and the client's own cached catalog. *CPU µs / request* is the daemon's"
	echo "user and system time over the requests wrk completed: on a shared"
	echo "machine it is the steadier figure (throughput follows the other"
	echo "processes' load; single runs vary by tens of percent, hence the"
	echo "medians of each figure). Failed or non-2xx answers during all runs:"
	echo "$errors. Load average before the runs: $load_before."
	echo
	echo "Reproduce: \`scripts/build.sh build && bench/host/auth.sh build\`"
	echo "(\`DURATION\`, \`CONNECTIONS\`, \`THREADS\`, \`ROUNDS\` adjust the runs)."
} >"$tmp/auth.md"

cat "$tmp/auth.md"
if [ "$WRITE" = 1 ]; then
	perf=$top/docs/performance.md
	python3 - "$perf" "$tmp/auth.md" <<'EOF'
import re
import sys

path, section = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n"
text = open(path).read()
m = re.search(r"^## Host: authentication and TLS\n.*?(?=^## |\Z)", text,
              re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
EOF
	echo "auth.sh: wrote the authentication section of $perf" >&2
fi
