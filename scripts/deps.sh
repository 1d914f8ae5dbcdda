#!/bin/sh
# Install what svcbroker needs to build, test and run on Debian 12.
#   scripts/deps.sh           build + test dependencies (the web console's
#                             libraries, and Chromium with Selenium for its
#                             browser test)
#   scripts/deps.sh --bench   also the benchmark tools (wrk, nginx, swaks)
# Runs apt-get as root (directly, or through sudo).  Idempotent: packages
# already installed are not fetched again.
set -eu

pkgs="build-essential autoconf automake libtool pkg-config clang clang-format
libltdl-dev libinih-dev libjansson-dev libyajl-dev
libcurl4-openssl-dev libxml2-dev libssl-dev zlib1g-dev libgmime-3.0-dev check
libical-dev libicu-dev tzdata
python3 python3-aiosmtpd python3-icalendar python3-cryptography
libpython3.11-testsuite
python3-lxml python3-exchangelib python3-pycryptodome python3-dateutil
python3-winrm python3-requests-ntlm python3-requests-kerberos
openssl curl valgrind ca-certificates tzdata
libjs-bootstrap5 libjs-chart.js chromium chromium-driver python3-selenium"
# Node.js and npm (for the OpenAPI validator in the tests): Debian's, unless
# the machine already has a node with npm from elsewhere.
command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 ||
	pkgs="$pkgs nodejs npm"
# A throwaway Kerberos realm on loopback for the negotiate tests
# (tests/lib/krb5kdc.py, tests/mock/spnego.py); no system realm is set up.
pkgs="$pkgs krb5-kdc krb5-admin-server krb5-user python3-gssapi"
# sd_notify for the systemd unit's Type=notify (optional at configure
# time), and the Debian package build and its checks (scripts/test-deb.sh:
# dpkg-buildpackage, debhelper with dh_installsysusers, lintian;
# systemd-analyze for tests/integration/test_systemd_unit.py).
pkgs="$pkgs libsystemd-dev systemd dpkg-dev debhelper fakeroot lintian"
[ "${1:-}" = "--bench" ] && pkgs="$pkgs wrk nginx-light swaks"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps.sh: need root (or sudo) to install:$missing" >&2
	exit 1
fi
echo "deps.sh: installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
