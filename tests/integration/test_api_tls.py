"""HTTPS on the daemon's listener with a throw-away CA (tests/mock/
make_certs.sh): the server's certificate verifies, a plain HTTP request
gets no answer, tokens work over TLS, a client certificate signed by
tls_client_ca authenticates the [client] whose cert_subject it has (one
from another CA is refused in the handshake, an unknown subject is 401),
a renewed certificate is served after a reload (SIGHUP) without a
restart, and the CLI reaches it all with --cacert, --token /
SVCBROKER_TOKEN and --cert/--key."""
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

SRC = os.environ.get("top_srcdir",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
t = sbtest.Checks()

if not shutil.which("openssl"):
    print("# SKIP: no openssl command")
    sys.exit(77)

top = sbtest.tempdir("sb-tls-")
pki = os.path.join(top, "pki")
subprocess.run(["sh", os.path.join(SRC, "tests", "mock", "make_certs.sh"),
                pki], check=True, timeout=120)
P = lambda n: os.path.join(pki, n)  # noqa: E731


def ossl(*args):
    subprocess.run(["openssl"] + list(args), check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def client_cert(name, subj, ca="ca"):
    """A client certificate (clientAuth) signed by ca."""
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", P(name + ".key"),
         "-out", P(name + ".csr"), "-subj", subj)
    with open(P(name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    ossl("x509", "-req", "-in", P(name + ".csr"), "-CA", P(ca + ".pem"),
         "-CAkey", P(ca + ".key"), "-CAcreateserial", "-out",
         P(name + ".pem"), "-days", "2", "-extfile", P(name + ".ext"))


client_cert("app1", "/O=svcbroker test/CN=app1")
client_cert("nobody", "/O=svcbroker test/CN=nobody")
client_cert("rogue", "/O=svcbroker test/CN=app1", ca="other-ca")

TOKEN = "tls-token-5e1f0a2b3c4d5e6f7a8b9c0d1e2f3a4b"
# the server files the daemon reads; replaced by a renewed pair below
shutil.copy(P("server.pem"), os.path.join(top, "live.pem"))
shutil.copy(P("server.key"), os.path.join(top, "live.key"))

CONFIG = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = tls

[client ops]
token_sha256 = %s
allow = */*.*

[client app1]
cert_subject = CN=app1,O=svcbroker test
allow = t1/Echo.Echo
""" % hashlib.sha256(TOKEN.encode()).hexdigest()
SERVER = "tls_cert = %s\ntls_key = %s\ntls_client_ca = %s\n" % (
    os.path.join(top, "live.pem"), os.path.join(top, "live.key"), P("ca.pem"))


def ctx(cert=None):
    c = ssl.create_default_context(cafile=P("ca.pem"))
    if cert:
        c.load_cert_chain(P(cert + ".pem"), P(cert + ".key"))
    return c


class TlsDaemon(sbtest.Daemon):
    """sbtest.Daemon over HTTPS (its start polls /v1/health)."""

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def get(self, path, timeout=30):
        st, _, body = req(self, "GET", path, timeout=timeout)
        return st, body


def req(d, method, path, token=None, body=None, cert=None, timeout=30):
    hdrs = {}
    if token:
        hdrs["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    conn = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=timeout,
                                       context=ctx(cert))
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        raw = r.read().decode("utf-8", "replace")
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
        return r.status, r.headers, parsed
    finally:
        conn.close()


def serial_of(port):
    """The serial number of the certificate the daemon serves now."""
    c = ssl.create_default_context(cafile=P("ca.pem"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with c.wrap_socket(s, server_hostname="127.0.0.1") as ts:
            der = ts.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                          "-serial"], input=der, capture_output=True,
                         timeout=30).stdout.decode()
    return out.strip()


CLI = sbtest.cli_path()


def cli(*args, env=None):
    e = dict(os.environ)
    e.pop("SVCBROKER_URL", None)
    e.pop("SVCBROKER_TOKEN", None)
    e.update(env or {})
    r = subprocess.run([CLI] + list(args), capture_output=True, env=e,
                       timeout=60, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


with TlsDaemon(CONFIG, server_extra=SERVER) as d:
    st, _, body = req(d, "GET", "/v1/health")
    t.eq(st, 200, "HTTPS: the certificate verifies against the test CA")
    # plain HTTP on the TLS port: no HTTP answer
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        got = s.recv(100)
    except OSError:
        got = b""
    s.close()
    t.ok(not got.startswith(b"HTTP/1.1 200"),
         "plain HTTP on the TLS port is not served", repr(got[:40]))

    st, _, _ = req(d, "GET", "/v1/catalog")
    t.eq(st, 401, "over TLS, no credentials: 401")
    st, _, cat = req(d, "GET", "/v1/catalog", token=TOKEN)
    t.eq(st, 200, "over TLS, a token: 200")
    st, _, body = req(d, "POST", "/v1/call/t1/Echo/Echo", token=TOKEN,
                      body={"inputs": {"Memo": "x" * 100000}})
    t.ok(st == 200 and body["rows"][0]["Memo"] == "x" * 100000,
         "a 100 kB call and answer over TLS", repr(body)[:300])

    # mutual TLS
    st, _, cat = req(d, "GET", "/v1/catalog", cert="app1")
    t.eq(st, 200, "a client certificate of the CA authenticates app1")
    t.eq([(i["name"], [(o["name"], o["methods"]) for o in i["objects"]])
          for i in cat.get("instances", [])],
         [("t1", [("Echo", ["Echo"])])], "... which sees what it may call")
    st, _, body = req(d, "POST", "/v1/call/t1/Echo/Echo", cert="app1",
                      body={"inputs": {"Text": "m"}})
    t.eq(st, 200, "app1 calls t1/Echo.Echo")
    st, _, body = req(d, "POST", "/v1/call/t1/Echo/List", cert="app1",
                      body={"inputs": {}})
    t.eq(st, 403, "app1 may not call t1/Echo.List")
    st, _, _ = req(d, "GET", "/v1/catalog", cert="nobody")
    t.eq(st, 401, "a certificate of the CA with an unknown subject: 401")
    st, _, body = req(d, "GET", "/v1/health", cert="nobody")
    t.ok(st == 200 and isinstance(body, dict) and "instances" not in body,
         "... but the health check answers it, as anyone (a load "
         "balancer's own certificate)", "%s %r" % (st, body))
    st, _, body = req(d, "GET", "/v1/health", cert="app1")
    t.ok(st == 200 and isinstance(body, dict) and
         [i["name"] for i in body.get("instances", [])] == ["t1"],
         "app1's certificate: the health check lists the instances",
         "%s %r" % (st, body))
    st, _, body = req(d, "GET", "/v1/health")
    t.ok(st == 200 and isinstance(body, dict) and "instances" not in body,
         "no certificate, no token: the health check without instances",
         "%s %r" % (st, body))
    try:
        st, _, _ = req(d, "GET", "/v1/catalog", cert="rogue")
        refused = st == 401
    except (ssl.SSLError, ConnectionError, OSError):
        refused = True
    t.ok(refused, "a certificate from another CA is refused")
    st, _, body = req(d, "GET", "/v1/catalog", cert="nobody", token=TOKEN)
    t.eq(st, 200, "a token wins over a certificate")

    # the CLI
    url = d.url
    code, out, err = cli("--url", url, "--cacert", P("ca.pem"), "--token",
                         TOKEN, "--json", "catalog")
    t.ok(code == 0 and "t1" in out, "CLI: --cacert and --token",
         err[-300:])
    code, out, err = cli("--url", url, "--cacert", P("ca.pem"), "--json",
                         "catalog", env={"SVCBROKER_TOKEN": TOKEN})
    t.ok(code == 0 and "t1" in out, "CLI: SVCBROKER_TOKEN", err[-300:])
    code, out, err = cli("--url", url, "--cacert", P("ca.pem"), "catalog")
    t.ok(code == 1 and "401" in err or "unauthenticated" in err,
         "CLI: without a token the 401 is reported", err[-300:])
    code, out, err = cli("--url", url, "--cacert", P("ca.pem"), "--cert",
                         P("app1.pem"), "--key", P("app1.key"), "call",
                         "t1/Echo.Echo", "Text=cli")
    t.ok(code == 0 and "cli" in out, "CLI: --cert/--key (mutual TLS)",
         err[-300:])
    code, out, err = cli("--url", url, "--token", TOKEN, "catalog")
    t.eq(code, 3, "CLI: without --cacert the test CA is not trusted")
    tokfile = os.path.join(top, "token")
    with open(tokfile, "w") as f:
        f.write(TOKEN + "\n")
    code, out, err = cli("--url", url, "--cacert", P("ca.pem"), "--token",
                         "@" + tokfile, "health")
    t.eq(code, 0, "CLI: --token @FILE")
    code, out, err = cli("--url", url, "--cacert", "/nonexistent.pem",
                         "catalog")
    t.ok(code == 2 and "/nonexistent.pem" in err,
         "CLI: an unreadable --cacert is a usage error", err)

    # a renewed certificate after a reload
    before = serial_of(d.port)
    renew = os.path.join(top, "renew")
    os.makedirs(renew)
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout",
         os.path.join(renew, "k.pem"), "-out", os.path.join(renew, "r.csr"),
         "-subj", "/CN=localhost")
    with open(os.path.join(renew, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", os.path.join(renew, "r.csr"), "-CA",
         P("ca.pem"), "-CAkey", P("ca.key"), "-CAcreateserial", "-out",
         os.path.join(renew, "c.pem"), "-days", "2", "-extfile",
         os.path.join(renew, "ext"))
    shutil.copy(os.path.join(renew, "c.pem"), os.path.join(top, "live.pem"))
    shutil.copy(os.path.join(renew, "k.pem"), os.path.join(top, "live.key"))
    d.signal(signal.SIGHUP)
    t.ok(sbtest.wait_for(lambda: serial_of(d.port) != before, timeout=20),
         "after SIGHUP new connections get the renewed certificate")
    st, _, _ = req(d, "GET", "/v1/catalog", token=TOKEN)
    t.eq(st, 200, "... and are served")
    # a key that does not match: the reload is refused, the old pair stays
    shutil.copy(P("wrongname.key"), os.path.join(top, "live.key"))
    now = serial_of(d.port)
    d.signal(signal.SIGHUP)
    t.ok(sbtest.wait_for(lambda: "tls_key: " in d.read_log(), timeout=20),
         "a key that does not match its certificate fails the reload",
         d.read_log()[-1500:])
    t.eq(serial_of(d.port), now, "... and the served certificate stays")
    # --check reads and matches the pair as start-up would
    code, out = d.check()
    t.ok(code != 0 and "tls_key: " in out,
         "--check: a key that does not match its certificate is an error",
         (code, out[-1500:]))
    log = d.read_log()
    t.ok(TOKEN not in log and "PRIVATE KEY" not in log,
         "neither the token nor a key in the log")

t.done()
