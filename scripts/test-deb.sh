#!/bin/sh
# Build the Debian packages and check them as installed (scripts/test.sh
# runs this when dpkg-buildpackage and debhelper are there):
#
#   1. dpkg-buildpackage -b -us -uc (DEB_BUILD_OPTIONS=nocheck) on a copy of
#      the source tree, in a temporary directory;
#   2. lintian: no error;
#   3. each package's files, unpacked with dpkg-deb into a clean root: the
#      daemon, its conffile /etc/svcbroker/svcbroker.ini (store in
#      /var/lib/svcbroker), the unit and the system user, one package per
#      broker, the SDK's headers, pkg-config files and examples, no
#      /usr/local anywhere, man pages naming the package's paths, the
#      packaged unit rated at most 2.0 by systemd-analyze security;
#   4. dependencies: the daemon with mapi-stub pulls in neither libxml2 nor
#      libcurl nor Kerberos, not even through their own dependencies;
#   5. the daemon of the clean root runs with its installed default
#      configuration (with the root laid over / in a mount and network
#      namespace of its own, so nothing of this machine is touched and
#      port 8780 is its own): --check, --dump-config, then /v1/health and a
#      call on the embedded mapi-stub store.  Skipped, saying so, when the
#      namespaces cannot be made (not root, or no overlayfs).
#
#   scripts/test-deb.sh [WORKDIR]   (default: a temporary directory, removed)
# Exit 0 if every check passed, 1 if one failed, 77 if the tools are
# missing.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
for tool in dpkg-buildpackage dh dpkg-deb; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool not found (scripts/deps.sh --deb installs the Debian build tools)"
		exit 77
	fi
done
if [ $# -gt 0 ]; then
	work=$1
	mkdir -p "$work"
	keep=1
else
	work=$(mktemp -d /tmp/sbdeb-XXXXXX)
	keep=0
fi
work=$(cd "$work" && pwd)
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok - $1"; }
notok() { fails=$((fails + 1)); echo "not ok - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /' | head -n 40; }
check() { # check NAME COMMAND...
	name=$1
	shift
	if out=$("$@" 2>&1); then ok "$name"; else notok "$name" "$out"; fi
}

# 1. the source, as git has it (tracked files and new ones not ignored),
# or the unpacked tarball as it is
src="$work/svcbroker-0.1.0"
rm -rf "$src"
mkdir -p "$src"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 tar cf - --no-recursion 2>/dev/null) | tar xf - -C "$src"
else
	(cd "$top" && tar cf - --exclude=./build --exclude='./build-*' .) | tar xf - -C "$src"
fi
t0=$(date +%s)
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2
if (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$jobs" \
	timeout 1200 dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1; then
	ok "dpkg-buildpackage -b -us -uc builds the packages ($(($(date +%s) - t0)) s)"
else
	notok "dpkg-buildpackage -b -us -uc" "$(tail -n 40 "$work/build.log")"
	echo "# $passes passed, $fails failed"
	exit 1
fi
changes=$(ls "$work"/svcbroker_*.changes)
deb() { ls "$work"/"$1"_*.deb 2>/dev/null | head -n 1; }
for p in svcbrokerd svcbroker svcbroker-broker-mapi-stub svcbroker-broker-smtp \
	svcbroker-broker-exchange-ews svcbroker-broker-exchange-powershell-winrm \
	libsvcbroker2 libsvcbroker-net0 libsvcbroker-mime0 \
	libsvcbroker-runtime0 libsvcbroker-dev; do
	if [ -n "$(deb $p)" ]; then ok "package $p built"; else notok "package $p built"; fi
done

# 2. lintian
if command -v lintian >/dev/null 2>&1; then
	lintian --fail-on error --suppress-tags-from-file /dev/null "$changes" \
		>"$work/lintian.log" 2>&1
	if ! grep -q '^E: ' "$work/lintian.log"; then
		ok "lintian: no error ($(grep -c '^W: ' "$work/lintian.log") warnings)"
	else
		notok "lintian: no error" "$(grep '^E: ' "$work/lintian.log")"
	fi
else
	echo "# lintian not found: not run"
fi

# 3. the files, unpacked into a clean root
root="$work/root"
rm -rf "$root"
mkdir -p "$root"
for d in "$work"/*.deb; do
	dpkg-deb -x "$d" "$root"
done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
has() { # has PACKAGE PATH...
	p=$1
	shift
	list=$(dpkg-deb -c "$(deb "$p")" | awk '{print $6}' | sed 's|^\./|/|')
	for f in "$@"; do
		printf '%s\n' "$list" | grep -qx "$f" || { echo "$p lacks $f"; return 1; }
	done
}
check "svcbrokerd: the daemon, its configuration, unit, user, console and man pages" \
	has svcbrokerd /usr/sbin/svcbrokerd /etc/svcbroker/svcbroker.ini \
	/lib/systemd/system/svcbrokerd.service /usr/lib/sysusers.d/svcbrokerd.conf \
	/usr/share/svcbroker/console/index.html /usr/share/man/man8/svcbrokerd.8.gz \
	/usr/share/man/man5/svcbroker.ini.5.gz
check "svcbroker: the command-line client and its man page" \
	has svcbroker /usr/bin/svcbroker /usr/share/man/man1/svcbroker.1.gz
for b in mapi-stub smtp exchange-ews exchange-powershell-winrm; do
	check "svcbroker-broker-$b: the module and its example" \
		has svcbroker-broker-$b "/usr/lib/$ma/svcbroker/brokers/$b.so" \
		"/usr/share/doc/svcbroker-broker-$b/examples/$b.example.ini"
done
check "libsvcbroker-dev: headers, pkg-config files, examples" \
	has libsvcbroker-dev /usr/include/svcbroker/broker.h /usr/include/svcbroker/net.h \
	"/usr/lib/$ma/pkgconfig/svcbroker.pc" "/usr/lib/$ma/pkgconfig/svcbroker-net.pc" \
	"/usr/lib/$ma/libsvcbroker.so" \
	/usr/share/doc/libsvcbroker-dev/examples/example-broker/example.c
conffiles=$(dpkg-deb --ctrl-tarfile "$(deb svcbrokerd)" | tar xOf - ./conffiles 2>/dev/null)
if [ "$conffiles" = /etc/svcbroker/svcbroker.ini ]; then
	ok "/etc/svcbroker/svcbroker.ini is the daemon's conffile"
else
	notok "/etc/svcbroker/svcbroker.ini is the daemon's conffile" "conffiles: $conffiles"
fi
if (cd "$root" && find . | grep -q '^\./usr/local'); then
	notok "nothing under /usr/local" "$(cd "$root" && find . | grep '^\./usr/local')"
else
	ok "nothing under /usr/local"
fi
check "the installed default configuration keeps its store in /var/lib/svcbroker" \
	grep -qx 'store_dir = /var/lib/svcbroker/store' "$root/etc/svcbroker/svcbroker.ini"
check "the unit runs /usr/sbin/svcbrokerd on /etc/svcbroker/svcbroker.ini" \
	grep -qx 'ExecStart=/usr/sbin/svcbrokerd -c /etc/svcbroker/svcbroker.ini' \
	"$root/lib/systemd/system/svcbrokerd.service"
man8=$(zcat "$root/usr/share/man/man8/svcbrokerd.8.gz")
if printf '%s' "$man8" | grep -q '/etc/svcbroker/svcbroker.ini' &&
	printf '%s' "$man8" | grep -q "/usr/lib/$ma/svcbroker/brokers" &&
	printf '%s' "$man8" | grep -q '/var/lib/svcbroker' &&
	! printf '%s' "$man8" | grep -q '/usr/local\|@[a-z]*@'; then
	ok "svcbrokerd(8) names the package's paths"
else
	notok "svcbrokerd(8) names the package's paths" "$(printf '%s' "$man8" | grep -n 'usr/local\|/etc/\|/var/\|@[a-z]*@')"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
	level=$(systemd-analyze security --offline=yes \
		"$root/lib/systemd/system/svcbrokerd.service" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
	if [ -n "$level" ] && awk "BEGIN { exit !($level <= 2.0) }"; then
		ok "systemd-analyze security rates the packaged unit $level (at most 2.0)"
	else
		notok "systemd-analyze security rates the packaged unit at most 2.0" "level: $level"
	fi
fi
check "the sysusers.d user has no login shell" \
	grep -q '^u svcbroker .* /usr/sbin/nologin$' "$root/usr/lib/sysusers.d/svcbrokerd.conf"

# 4. dependencies: the daemon and mapi-stub, recursively
deps_of() { dpkg-deb -f "$(deb "$1")" Depends | tr ',' '\n' | sed 's/(.*//; s/|.*//; s/ //g' | grep -v '^$'; }
direct=$( (deps_of svcbrokerd; deps_of svcbroker-broker-mapi-stub; deps_of libsvcbroker2) |
	grep -v '^svcbroker\|^libsvcbroker' | sort -u)
bad=$(printf '%s\n' "$direct" | grep -E 'xml|curl|krb5|gssapi' || true)
if command -v apt-cache >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	closure=$(apt-cache depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances $direct 2>/dev/null |
		grep -E '^[a-z0-9]' | sort -u)
	bad="$bad$(printf '%s\n' "$closure" | grep -E '^lib(xml2|curl|krb5|gssapi)' || true)"
fi
if [ -z "$bad" ]; then
	ok "svcbrokerd with mapi-stub pulls in no libxml2, libcurl or Kerberos"
else
	notok "svcbrokerd with mapi-stub pulls in no libxml2, libcurl or Kerberos" "$bad"
fi
if deps_of svcbroker-broker-exchange-ews | grep -q '^libsvcbroker-net0$' &&
	deps_of libsvcbroker-net0 | grep -q '^libxml2$' &&
	deps_of libsvcbroker-net0 | grep -q '^libcurl'; then
	ok "exchange-ews brings libxml2 and libcurl (through libsvcbroker-net0)"
else
	notok "exchange-ews brings libxml2 and libcurl (through libsvcbroker-net0)" \
		"$(deps_of svcbroker-broker-exchange-ews; deps_of libsvcbroker-net0)"
fi
# installing the daemon enables and starts the unit, after making the user
postinst=$(dpkg-deb --ctrl-tarfile "$(deb svcbrokerd)" | tar xOf - ./postinst 2>/dev/null)
if printf '%s' "$postinst" | grep -q 'systemd-sysusers' &&
	printf '%s' "$postinst" | grep -q 'deb-systemd-helper.*enable' &&
	printf '%s' "$postinst" | grep -q '_dh_action=start' &&
	[ "$(printf '%s' "$postinst" | grep -n 'systemd-sysusers' | head -n 1 | cut -d: -f1)" -lt \
		"$(printf '%s' "$postinst" | grep -n 'deb-systemd-invoke' | head -n 1 | cut -d: -f1)" ]; then
	ok "postinst creates the user, then enables and starts svcbrokerd"
else
	notok "postinst creates the user, then enables and starts svcbrokerd" "$postinst"
fi

# 5. the daemon of the clean root, on its own default configuration
run_root() {
	mkdir -p "$work/ov/usr" "$work/ov/usr.w" "$work/ov/etc" "$work/ov/etc.w" \
		"$work/ov/var" "$work/ov/var.w"
	mkdir -p "$root/var/lib"
	unshare -m -n sh -eu -c '
		root=$1 ov=$2
		mount --make-rprivate /
		mount -t overlay overlay -o "lowerdir=$root/usr:/usr,upperdir=$ov/usr,workdir=$ov/usr.w" /usr
		mount -t overlay overlay -o "lowerdir=$root/etc:/etc,upperdir=$ov/etc,workdir=$ov/etc.w" /etc
		mount -t overlay overlay -o "lowerdir=$root/var/lib:/var/lib,upperdir=$ov/var,workdir=$ov/var.w" /var/lib
		ip link set lo up
		echo "== --check"
		/usr/sbin/svcbrokerd --check
		echo "== --dump-config"
		/usr/sbin/svcbrokerd --dump-config
		echo "== run"
		/usr/sbin/svcbrokerd >"$ov/daemon.log" 2>&1 &
		pid=$!
		i=0
		until curl -fsS http://127.0.0.1:8780/v1/health; do
			i=$((i + 1))
			[ $i -lt 100 ] || { kill $pid; cat "$ov/daemon.log"; exit 1; }
			sleep 0.1
		done
		echo
		echo "== call"
		curl -fsS -H "Content-Type: application/json" -d "{\"inputs\": {\"Folder\": \"Inbox\"}}" \
			http://127.0.0.1:8780/v1/call/local/Email/List
		echo
		kill -TERM $pid
		wait $pid
		echo "== exit $?"
		cat "$ov/daemon.log"
		ls -d /var/lib/svcbroker/store
	' run "$root" "$work/ov"
}
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1 ||
	! unshare -m -n sh -c 'mount -t tmpfs none /mnt' >/dev/null 2>&1; then
	echo "# the installed daemon was not run: making a mount namespace needs root and unshare"
else
	out=$(run_root 2>&1)
	rc=$?
	if [ $rc = 0 ] && printf '%s' "$out" | grep -q 'configuration OK (1 instance)' &&
		printf '%s' "$out" | grep -q '"status":"ok"' &&
		printf '%s' "$out" | grep -q '"rows":' &&
		printf '%s' "$out" | grep -q '== exit 0' &&
		printf '%s' "$out" | grep -q "/usr/lib/$ma/svcbroker/brokers"; then
		ok "the installed daemon runs on the installed default configuration"
	else
		notok "the installed daemon runs on the installed default configuration" "$out"
	fi
fi

echo "# $passes passed, $fails failed"
[ "$fails" = 0 ]
