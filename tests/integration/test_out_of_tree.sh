#!/bin/sh
# A broker built out of tree: install svcbroker into a staging directory,
# build docs/example-broker against the INSTALLED headers and
# `pkg-config svcbroker` only, and docs/example-http-broker against
# `pkg-config svcbroker-net`, load them into the installed svcbrokerd and
# call their methods over HTTP (the HTTP broker's pages come from a web
# server on loopback).  Every wait is bounded; everything is removed
# at the end.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}

passed=0
failed=0
ok() { # ok CONDITION-STATUS NAME [DETAIL]
	if [ "$1" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok - $2"
	else
		failed=$((failed + 1))
		echo "not ok - $2${3:+ ($3)}"
	fi
}
finish() {
	echo "# $passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit $?
}

for tool in curl make cc; do
	command -v "$tool" >/dev/null 2>&1 || { echo "# $tool not found: skipped"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-oot.XXXXXX") || exit 99
pid=""
wpid=""
cleanup() {
	[ -n "$wpid" ] && kill -TERM "$wpid" 2>/dev/null
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

dest=$tmp/dest

# 1. Install into a staging directory (DESTDIR: the build tree is left as
# it is, whatever prefix it was configured with), quietly; the log is shown
# on error.  Then find where things landed.
timeout 600 make -C "$top_builddir" install DESTDIR="$dest" >"$tmp/install.log" 2>&1
st=$?
ok $st "make install DESTDIR=\$tmp/dest" "$(tail -5 "$tmp/install.log")"
[ $st -eq 0 ] || finish
pc=$(find "$dest" -name svcbroker.pc -path '*/pkgconfig/*' | head -1)
daemon=$(find "$dest" -name svcbrokerd -type f -perm -u+x | head -1)
cli=$(find "$dest" -name svcbroker -type f -perm -u+x | head -1)
libdir=$(dirname "$(dirname "$pc")")
inc=$(find "$dest" -path '*/include/svcbroker/broker.h' | head -1)
test -n "$pc" && test -n "$inc" && test -n "$daemon" && test -n "$cli"
ok $? "headers, svcbroker.pc, svcbrokerd and svcbroker are installed" "pc=$pc daemon=$daemon cli=$cli"
[ -n "$pc" ] && [ -n "$daemon" ] || finish
# The default configuration (with mapi-stub): its store is under the
# state directory, not beside the file in etc/; an administrator's copy is
# never overwritten or removed.
ini=$(find "$dest" -path '*/svcbroker/svcbroker.ini' | head -1)
if find "$dest" -name 'mapi-stub.so' | grep -q .; then
	store=$(sed -n 's/^store_dir = //p' "$ini" 2>/dev/null)
	case "$store" in
	/*/lib/svcbroker/store) st=0 ;;
	*) st=1 ;;
	esac
	ok $st "the installed svcbroker.ini keeps its store under the state directory" "ini=$ini store=$store"
	if [ -n "$ini" ]; then
		echo "; edited by the administrator" >>"$ini"
		timeout 120 make -C "$top_builddir" install-default-config DESTDIR="$dest" >"$tmp/reinstall.log" 2>&1
		grep -q "edited by the administrator" "$ini"
		ok $? "installing again keeps an existing svcbroker.ini" "$(cat "$tmp/reinstall.log")"
		timeout 120 make -C "$top_builddir" uninstall-default-config DESTDIR="$dest" >"$tmp/uninstall.log" 2>&1
		test -f "$ini"
		ok $? "uninstall keeps a changed svcbroker.ini" "$(cat "$tmp/uninstall.log")"
	fi
fi
# The staged programs look for libsvcbroker in the configured libdir.
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH

# 2. Build the example against the installed tree only.  The .pc file
# carries the configured prefix; --define-prefix relocates it to where it
# was installed.
PKG_CONFIG="pkg-config --define-prefix"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG PKG_CONFIG_PATH
cflags=$($PKG_CONFIG --cflags svcbroker)
case "$cflags" in
*"-I$dest/"*) st=0 ;;
*) st=1 ;;
esac
ok $st "pkg-config svcbroker points into the installed tree" "$cflags"
case "$cflags" in
*"-I$top_srcdir/include"* | *"-I$top_srcdir/core"*) st=1 ;;
*) st=0 ;;
esac
ok $st "no source-tree include path in the flags" "$cflags"

cp -R "$top_srcdir/docs/example-broker" "$tmp/example"
chmod -R u+w "$tmp/example"
rm -f "$tmp/example/hello.so"
# As a user would, without the settings of the make running this test.
timeout 120 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$tmp/example" >"$tmp/build.log" 2>&1
st=$?
ok $st "the example broker builds with its Makefile" "$(tail -5 "$tmp/build.log")"
[ $st -eq 0 ] || finish

# Exactly one exported symbol, svcbroker_broker.
syms=$(nm -D --defined-only "$tmp/example/hello.so" 2>/dev/null | awk '$2 ~ /^[A-Za-z]$/ {print $3}' | sort | tr '\n' ' ')
[ "$syms" = "svcbroker_broker " ]
ok $? "hello.so exports exactly svcbroker_broker" "$syms"

# The HTTP example, against libsvcbroker-net.
cp -R "$top_srcdir/docs/example-http-broker" "$tmp/example-http"
chmod -R u+w "$tmp/example-http"
rm -f "$tmp/example-http/pages.so"
timeout 120 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$tmp/example-http" >"$tmp/build-http.log" 2>&1
st=$?
ok $st "the example HTTP broker builds with its Makefile (pkg-config svcbroker-net)" "$(tail -5 "$tmp/build-http.log")"
[ $st -eq 0 ] || finish
syms=$(nm -D --defined-only "$tmp/example-http/pages.so" 2>/dev/null | awk '$2 ~ /^[A-Za-z]$/ {print $3}' | sort | tr '\n' ' ')
[ "$syms" = "svcbroker_broker " ]
ok $? "pages.so exports exactly svcbroker_broker" "$syms"
# Only a broker that talks HTTP pulls in libcurl and libxml2.
if command -v ldd >/dev/null 2>&1; then
	deps=$(ldd "$tmp/example/hello.so" 2>/dev/null)
	case "$deps" in
	*libcurl* | *libxml2* | *libsvcbroker-net*) st=1 ;;
	*) st=0 ;;
	esac
	ok $st "hello.so links neither libcurl, libxml2 nor libsvcbroker-net" "$deps"
	case "$deps" in
	*libgmime* | *libglib* | *libsvcbroker-mime*) st=1 ;;
	*) st=0 ;;
	esac
	ok $st "hello.so links neither GMime, GLib nor libsvcbroker-mime" "$deps"
	deps=$(ldd "$tmp/example-http/pages.so" 2>/dev/null)
	case "$deps" in
	*libsvcbroker-net*) st=0 ;;
	*) st=1 ;;
	esac
	ok $st "pages.so links libsvcbroker-net" "$deps"
fi

# The layering: libsvcbroker needs libc alone; MIME is libsvcbroker-mime,
# on GMime, never unloaded (GObject types cannot be registered twice).
if command -v readelf >/dev/null 2>&1; then
	sdk=$(ls "$libdir"/libsvcbroker.so.* 2>/dev/null | head -1)
	needed=$(readelf -d "$sdk" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
	[ "$needed" = "libc.so.6 " ]
	ok $? "libsvcbroker links libc alone" "$sdk: $needed"
	syms=$(nm -D --defined-only "$sdk" 2>/dev/null | grep -c ' sb_mime_')
	[ "$syms" = 0 ]
	ok $? "libsvcbroker has no sb_mime_ symbol" "$syms"
	mime=$(ls "$libdir"/libsvcbroker-mime.so.* 2>/dev/null | head -1)
	dyn=$(readelf -d "$mime" 2>/dev/null)
	case "$dyn" in
	*libgmime-3.0*NODELETE* | *NODELETE*libgmime-3.0*) st=0 ;;
	*) st=1 ;;
	esac
	ok $st "libsvcbroker-mime links GMime and is never unloaded" "$dyn"
	nm -D --defined-only "$mime" | awk '$2 ~ /^[TDB]$/ {print $3}' | grep -v '^sb_' >"$tmp/mime-syms" || true
	[ ! -s "$tmp/mime-syms" ]
	ok $? "libsvcbroker-mime exports only sb_*" "$(cat "$tmp/mime-syms")"
	pkg-config --exists svcbroker-mime
	ok $? "pkg-config finds svcbroker-mime" ""
fi

# A web server on loopback for the HTTP broker's pages.
mkdir -p "$tmp/www/docs"
printf 'all systems go\n' >"$tmp/www/status.txt"
printf 'caf\303\251 \377 bytes\n' >"$tmp/www/docs/odd.txt"
wport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$tmp/www" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$wport") >"$tmp/www.log" 2>&1 &
wpid=$!
i=0
while ! curl -sf --max-time 1 "http://127.0.0.1:$wport/status.txt" >/dev/null 2>&1 && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done

# 3. Run the installed daemon on a free port with the examples loaded.
mkdir -p "$tmp/modules" "$tmp/state"
cp "$tmp/example/hello.so" "$tmp/modules/hello.so"
cp "$tmp/example-http/pages.so" "$tmp/modules/pages.so"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/svcbroker.ini" <<EOF
[server]
listen     = 127.0.0.1:$port
module_dir = $tmp/modules
state_dir  = $tmp/state

[module hello]
enabled = yes

[instance hi]
broker   = hello
greeting = Bonjour
start    = 40
limit    = 100

[instance loud]
broker = hello
shout  = yes

[module pages]
enabled = yes

[instance site]
broker = pages
url    = http://127.0.0.1:$wport
auth   = none
EOF
timeout 60 "$daemon" --check -c "$tmp/svcbroker.ini" >"$tmp/check.log" 2>&1
ok $? "svcbrokerd --check accepts the example's configuration" "$(cat "$tmp/check.log")"

# The example's validate(): a rule spanning two keys, seen by --check.
sed 's/^limit    = 100$/limit    = 10/' "$tmp/svcbroker.ini" >"$tmp/bad.ini"
timeout 60 "$daemon" --check -c "$tmp/bad.ini" >"$tmp/bad.log" 2>&1
st=$?
grep -q 'start (40) is above limit (10)' "$tmp/bad.log" && [ $st -ne 0 ]
ok $? "svcbrokerd --check runs the example's validate()" "$(cat "$tmp/bad.log")"

"$daemon" -c "$tmp/svcbroker.ini" >"$tmp/daemon.log" 2>&1 &
pid=$!
base=http://127.0.0.1:$port
up=1
i=0
while [ $i -lt 200 ]; do
	if curl -sf --max-time 1 "$base/v1/health" >/dev/null 2>&1; then
		up=0
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
ok $up "svcbrokerd answers /v1/health with the example loaded" "$(tail -5 "$tmp/daemon.log")"
[ $up -eq 0 ] || finish

post() { # post PATH JSON -> prints "STATUS BODY"
	curl -s --max-time 10 -o "$tmp/body" -w '%{http_code}' \
		-H 'Content-Type: application/json' -d "$2" "$base$1"
	printf ' '
	cat "$tmp/body"
}

out=$(curl -s --max-time 10 "$base/v1/catalog")
case "$out" in
*'"hello"'*Greeting*Counter*) st=0 ;;
*) st=1 ;;
esac
ok $st "the catalog lists the hello instances and their objects" "$out"

out=$(post /v1/call/hi/Greeting/Say '{"inputs": {"Name": "World"}}')
case "$out" in
"200 "*'"Message"'*'"Bonjour, World!"'*) st=0 ;;
*) st=1 ;;
esac
ok $st "hi/Greeting.Say answers its greeting" "$out"

out=$(post /v1/call/loud/Greeting/Say '{"inputs": {"Name": "World"}}')
case "$out" in
"200 "*'"HELLO, WORLD!"'*) st=0 ;;
*) st=1 ;;
esac
ok $st "loud/Greeting.Say uses the instance's own config (shout, default greeting)" "$out"

post /v1/call/hi/Counter/Increment '{"inputs": {}}' >/dev/null
out=$(post /v1/call/hi/Counter/Increment '{"inputs": {"By": 5}}')
case "$out" in
"200 "*'"Value"'*46*) st=0 ;;
*) st=1 ;;
esac
ok $st "hi/Counter keeps per-instance state from start = 40" "$out"

out=$(post /v1/call/loud/Counter/Read '{"inputs": {}}')
case "$out" in
"200 "*'"Value"'*0*) st=0 ;;
*) st=1 ;;
esac
ok $st "loud/Counter is separate from hi/Counter" "$out"

out=$(post /v1/call/hi/Greeting/Say '{"inputs": {}}')
case "$out" in
"400 "*invalid_input*Name*) st=0 ;;
*) st=1 ;;
esac
ok $st "a missing required input is refused before the broker runs" "$out"

out=$(post /v1/call/hi/Counter/Increment '{"inputs": {"By": 5000}}')
case "$out" in
"400 "*invalid_input*"By: 5000 is out of range -1000..1000"*) st=0 ;;
*) st=1 ;;
esac
ok $st "the host refuses a number outside the declared min/max" "$out"

out=$(post /v1/call/hi/Counter/Increment '{"inputs": {"By": 100}}')
case "$out" in
"409 "*LimitReached*) st=0 ;;
*) st=1 ;;
esac
ok $st "the broker's own error reaches the client with its code" "$out"

# The HTTP broker: a page, a missing page, a path refused before any
# request, text made valid, and the settings test.
out=$(post /v1/call/site/Page/Load '{"inputs": {"Path": "/status.txt"}}')
case "$out" in
"200 "*'"Status":200'*'"Text":"all systems go\n"'*) st=0 ;;
*) st=1 ;;
esac
ok $st "site/Page.Load fetches a page over HTTP" "$out"
out=$(post /v1/call/site/Page/Load '{"inputs": {"Path": "/docs/odd.txt"}}')
case "$out" in
"200 "*'"Text":"café � bytes\n"'*) st=0 ;; # U+FFFD for the \377
*) st=1 ;;
esac
ok $st "site/Page.Load cleans invalid UTF-8 from the server" "$out"
out=$(post /v1/call/site/Page/Load '{"inputs": {"Path": "/missing.txt"}}')
case "$out" in
"404 "*not_found*) st=0 ;;
*) st=1 ;;
esac
ok $st "a 404 from the server is not_found" "$out"
before=$(grep -c 'GET' "$tmp/www.log")
out=$(post /v1/call/site/Page/Load '{"inputs": {"Path": "/../etc/passwd"}}')
case "$out" in
"400 "*InvalidPath*) st=0 ;;
*) st=1 ;;
esac
after=$(grep -c 'GET' "$tmp/www.log")
[ $st -eq 0 ] && [ "$before" = "$after" ]
ok $? "a path that could leave the site is refused before any request" "$out"
out=$(curl -s --max-time 20 -X POST "$base/v1/test/site")
case "$out" in
*'"ok":true'*) st=0 ;;
*) st=1 ;;
esac
ok $st "svcbroker test of the HTTP instance reaches the server" "$out"

# The installed command-line client too.
out=$(timeout 30 "$cli" --url "$base" call hi/Greeting.Say Name=Client 2>&1)
case "$out" in
*"Bonjour, Client!"*) st=0 ;;
*) st=1 ;;
esac
ok $st "the installed svcbroker calls the example broker" "$out"

kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
wait "$pid"
st=$?
pid=""
ok $st "svcbrokerd exits 0 on SIGTERM" "$(tail -5 "$tmp/daemon.log")"
finish
