#!/bin/sh
# Make a throw-away PKI for TLS tests in DIR (default: ./certs):
#   ca.pem ca.key            a test CA
#   server.pem server.key    127.0.0.1 / localhost, signed by the CA
#   wrongname.pem .key       signed by the CA for wrong.example.test only
#   other-ca.pem             another CA that signed nothing here
#   selfsigned.pem .key      127.0.0.1 / localhost, self-signed
# Uses only the openssl command line; quiet unless something fails.
set -eu
dir=${1:-certs}
mkdir -p "$dir"
cd "$dir"
days=2
ossl() { openssl "$@" >/dev/null 2>&1 || { echo "openssl $1 failed" >&2; openssl "$@"; exit 1; }; }

ca() { # name subject
	ossl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" \
		-days $days -subj "$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() { # name cn san
	ossl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$3" > "$1.ext"
	ossl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out "$1.pem" -days $days -extfile "$1.ext"
	rm -f "$1.csr" "$1.ext"
}

ca ca "/CN=svcbroker test CA"
ca other-ca "/CN=svcbroker other test CA"
leaf server localhost "DNS:localhost,IP:127.0.0.1"
leaf wrongname wrong.example.test "DNS:wrong.example.test"
ossl req -x509 -newkey rsa:2048 -nodes -keyout selfsigned.key \
	-out selfsigned.pem -days $days -subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
