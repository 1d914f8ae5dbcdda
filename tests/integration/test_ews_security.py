#!/usr/bin/python3
"""exchange-ews broker, its security properties end to end through the
real daemon against the mock EWS server (tests/mock/ews_server.py):
TLS with a test CA made here (make_certs.sh): ca_file, the system's
trust, another CA, a certificate for another host name, verify_tls = no;
OAuth2 with a client certificate (a JWT client assertion the token
endpoint verifies) over https; Autodiscover refusals that send nothing
to the refused host (a listener counts its connections); hostile XML
(external entities, external DTDs, billion laughs) that fetches nothing
and leaks nothing; and no password, Basic credentials, NTLM message,
client assertion or token in the debug log, in any answer or in
/metrics."""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402

if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)
if not shutil.which("openssl"):
    print("# openssl command not found")
    sys.exit(sbtest.SKIP)
try:
    from ews_server import MockEWS, fault_xml  # noqa: E402
    from token_server import MockTokenServer  # noqa: E402
except ImportError as e:  # python3-lxml, -pycryptodome, -cryptography
    print("# the mock EWS server cannot run here: %s" % e)
    sys.exit(sbtest.SKIP)
import ews_server  # noqa: E402
if ews_server.schema_missing():
    print("# %s" % ews_server.schema_missing())
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()
SLOW = 4 if sbtest.VALGRIND else 1
ALICE = "alice@example.test"
PW = "Secret-Pw-1"
WRONG = "Wrong-Pw-Nope-77"
NS_S = "http://schemas.xmlsoap.org/soap/envelope/"

pki = sbtest.tempdir("sbtest-pki-")
subprocess.run(["sh", os.path.join(SRC, "tests", "mock", "make_certs.sh"),
                pki], check=True, timeout=60)
CA = os.path.join(pki, "ca.pem")
MISSING_CA = os.path.join(pki, "no-such-ca.pem")
OTHER_CA = os.path.join(pki, "other-ca.pem")


def cert(name):
    return ["--cert", os.path.join(pki, name + ".pem"),
            "--key", os.path.join(pki, name + ".key")]


def err(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def rows(body):
    return body.get("rows", []) if isinstance(body, dict) else []


def first(body):
    r = rows(body)
    return r[0] if r else {}


def inst(name, url, extra="", user=ALICE, pw=PW, auth="basic"):
    return ("[instance %s]\nbroker = exchange-ews\nurl = %s\n"
            "auth = %s\nusername = %s\npassword = %s\ntimeout = 60s\n%s\n"
            % (name, url, auth, user, pw, extra))


MODULE = "[module exchange-ews]\nenabled = yes\n"
answers = []  # every answer body, searched for secrets at the end


def call(d, addr, inputs=None, timeout=120):
    st, b = d.call(addr, inputs, timeout=timeout)
    answers.append(json.dumps(b))
    return st, b


def test_instance(d, name):
    st, b = d.request("POST", "/v1/test/" + name, timeout=120)
    answers.append(json.dumps(b))
    return st, b


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections made to it
    (a host that must never be contacted)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.data = b""
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            conn.settimeout(1)
            try:
                self.data += conn.recv(4096)[:4096]
            except OSError:
                pass
            conn.close()

    def probe(self):
        """Connect once: the count must see it (the zero counts that
        follow are the listener's, not a blind one's)."""
        k = self.connections
        socket.create_connection(("127.0.0.1", self.port), 5).close()
        seen = sbtest.wait_for(lambda: self.connections == k + 1, 5)
        self.data = b""
        return seen

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def settle():
    # a connection the daemon would make in the background has the time
    # to reach the listener before it is counted
    time.sleep(0.3 * SLOW)


def warned(log, words):
    """The instances that logged a warning with these words."""
    return sorted(set(re.findall(r" warn \[exchange-ews:(\w+)\] " +
                                 re.escape(words), log)))


def secrets_absent(where, text, secrets):
    found = [s[:8] for s in secrets if s and s in text]
    c.eq(found, [], "no secret in %s" % where)


# ---- 1. TLS ----------------------------------------------------------------
def tls_tests():
    with MockEWS(["--auth", "basic", "--lifetime", "900"] +
                 cert("server")) as ews, \
            MockEWS(["--auth", "basic", "--lifetime", "900"] +
                    cert("wrongname")) as wrong:
        ad = ("[instance %s]\nbroker = exchange-ews\n"
              "autodiscover_email = %s\nautodiscover_url = %s\n"
              "auth = basic\nusername = %s\npassword = %s\ntimeout = 60s\n"
              "%s\n")
        cfg = (MODULE +
               inst("ca", ews.url, "ca_file = %s\n" % CA) +
               inst("sys", ews.url) +
               inst("other", ews.url, "ca_file = %s\n" % OTHER_CA) +
               inst("lax", ews.url, "verify_tls = no\n") +
               inst("wrongname", wrong.url, "ca_file = %s\n" % CA) +
               ad % ("adca", ALICE, ews.autodiscover_url, ALICE, PW,
                     "ca_file = %s\n" % CA) +
               ad % ("adsys", ALICE, ews.autodiscover_url, ALICE, PW, ""))
        # a ca_file that does not exist: --check names it, and the
        # daemon does not start on it (nothing reaches the server)
        n0 = ews.stats().get("requests", 0)
        bad = sbtest.Daemon(MODULE + inst("cabad", ews.url, "ca_file = %s\n"
                                          % MISSING_CA))
        code, out = bad.check()
        c.ok(code != 0 and "[instance cabad] ca_file: %s: no such file"
             % MISSING_CA in out,
             "a ca_file that does not exist: --check fails naming the file",
             (code, out[-2000:]))
        try:
            bad.start()
            bad.stop()
            started = True
        except RuntimeError as e:
            started = "no such file" not in str(e)
        bad.cleanup()
        c.ok(not started and ews.stats().get("requests", 0) == n0,
             "... the daemon does not start on it; nothing reached the "
             "server")
        with sbtest.Daemon(cfg, server_extra="log_level = debug\n") as d:
            c.ok(ews.url.startswith("https://"), "the mock serves https")
            st, b = call(d, "ca/Service.Test")
            c.eq((st, first(b).get("EwsUrl")), (200, ews.url),
                 "TLS with ca_file: Service.Test answers 200")
            st, b = test_instance(d, "ca")
            c.eq((st, b.get("ok")), (200, True),
                 "TLS with ca_file: test() of the instance succeeds")
            st, b = call(d, "ca/Folder.Load", {"Folder": "inbox"})
            c.eq(st, 200, "TLS with ca_file: Folder.Load answers 200")

            n = ews.stats().get("requests", 0)
            for name, what in (("sys", "the system's trust (test CA not "
                                "in it)"),
                               ("other", "ca_file of another CA")):
                st, b = call(d, name + "/Folder.Load", {"Folder": "inbox"})
                e = err(b)
                c.eq((st, e.get("category"), e.get("code")),
                     (502, "upstream_error", "tls_verify"),
                     "TLS, %s: 502 upstream_error tls_verify" % what)
                c.ok("certificate" in e.get("message", "") and
                     re.search(r"issuer|self.signed|unable to get|verify",
                               e.get("message", ""), re.I),
                     "TLS, %s: the message names the certificate problem"
                     % what, e)
                st, b = call(d, name + "/Service.Test")
                c.eq((st, err(b).get("code")), (502, "tls_verify"),
                     "TLS, %s: Service.Test reports the TLS failure" % what)
            st, b = test_instance(d, "sys")
            c.ok(b.get("ok") is False and
                 b.get("details", {}).get("code") == "tls_verify" and
                 "certificate" in b.get("message", ""),
                 "TLS, system trust: test() of the instance reports the "
                 "certificate refused", (st, b))
            c.eq(ews.stats().get("requests", 0), n,
                 "TLS refused: no request reached the server")


            st, b = call(d, "wrongname/Service.Test")
            e = err(b)
            c.eq((st, e.get("code")), (502, "tls_verify"),
                 "a certificate for another host name is refused")
            c.ok(re.search(r"name|host|127\.0\.0\.1|subject",
                           e.get("message", ""), re.I),
                 "... the message says the name does not match", e)
            c.eq(wrong.stats().get("requests", 0), 0,
                 "... and nothing reached that server")

            st, b = call(d, "lax/Service.Test")
            c.eq(st, 200, "verify_tls = no: the call works")
            c.eq(warned(d.read_log(), "verify_tls = no: the server's "
                        "identity is not checked"), ["lax"],
                 "verify_tls = no: the daemon logs a warning for that "
                 "instance only")

            st, b = call(d, "adca/Service.Autodiscover")
            c.eq((st, first(b).get("EwsUrl")), (200, ews.url),
                 "Autodiscover over https with ca_file")
            n = ews.stats().get("autodiscover_requests", 0)
            st, b = call(d, "adsys/Service.Autodiscover")
            c.eq((st, err(b).get("code")), (502, "tls_verify"),
                 "Autodiscover over https without the CA: tls_verify")
            c.eq(ews.stats().get("autodiscover_requests", 0), n,
                 "... and no Autodiscover request reached the server")
            secrets_absent("the log and answers (TLS)",
                           d.read_log() + "\n".join(answers),
                           [PW, base64.b64encode(("%s:%s" % (ALICE, PW))
                                                 .encode()).decode()])
        # http:// to a server that speaks only TLS: a clean error, no hang
        with sbtest.Daemon(MODULE + inst("clear", ews.url.replace(
                "https://", "http://"))) as d:
            t0 = time.monotonic()
            st, b = call(d, "clear/Service.Test")
            c.ok(st in (502, 503) and time.monotonic() - t0 < 30 * SLOW,
                 "http:// to an https-only server: a clean error",
                 (st, b))


# ---- 2. OAuth2 with a client certificate ----------------------------------
def make_client_cert(name):
    crt = os.path.join(pki, name + ".pem")
    key = os.path.join(pki, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "1",
                    "-subj", "/CN=app-1"], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    return crt, key


def oauth2_tests():
    crt, key = make_client_cert("client")
    other_crt, _ = make_client_cert("client-other")
    lax_crt, lax_key = make_client_cert("client-lax")
    os.chmod(lax_key, 0o644)
    with open(key) as f:
        key_lines = [ln for ln in f.read().split("\n")
                     if ln and not ln.startswith("-----")]
    tls = ["--tls-cert", os.path.join(pki, "server.pem"),
           "--tls-key", os.path.join(pki, "server.key")]
    with MockTokenServer(["--cert", crt] + tls) as ts, \
            MockTokenServer(["--cert", other_crt] + tls) as ots, \
            MockEWS(["--auth", "oauth2", "--tokens-file", ts.tokens_file(),
                     "--lifetime", "600"] + cert("server")) as ews:
        def oa(name, token_url, extra=""):
            return ("[instance %s]\nbroker = exchange-ews\nurl = %s\n"
                    "auth = oauth2\ntoken_url = %s\nclient_id = app-1\n"
                    "client_certificate = %s\nclient_key = %s\n"
                    "impersonation = impersonate\ntimeout = 60s\n%s\n"
                    % (name, ews.url, token_url, crt, key, extra))
        cfg = (MODULE + oa("oa", ts.url, "ca_file = %s\n" % CA) +
               oa("oaother", ots.url, "ca_file = %s\n" % CA) +
               oa("oasys", ts.url))
        # a client_key others may read: --check names it and its mode, and
        # the daemon does not start on it
        bad = sbtest.Daemon(MODULE + oa("oalax", ts.url, "ca_file = %s\n"
                                        % CA).replace(key, lax_key).replace(
                                            crt, lax_crt))
        code, out = bad.check()
        c.ok(code != 0 and "[instance oalax] client_key: %s: readable by "
             "group or others (mode 0644)" % lax_key in out,
             "a client_key others may read: --check fails naming the file "
             "and its mode", (code, out[-2000:]))
        try:
            bad.start()
            bad.stop()
            refused = False
        except RuntimeError as e:
            refused = "mode 0644" in str(e)
        bad.cleanup()
        c.ok(refused and ts.requests() == 0,
             "... the daemon does not start on it; nothing was requested")
        # a token_url over http to a host not on loopback is refused by
        # --check already: the client credentials would cross in clear
        cdir = sbtest.tempdir("sbtest-ewssec-check-")
        try:
            ini = os.path.join(cdir, "svcbroker.ini")
            with open(ini, "w") as f:
                f.write("[server]\nlisten = 127.0.0.1:%d\nmodule_dir = %s\n"
                        % (sbtest.free_port(), sbtest.make_module_dir(
                            os.path.join(cdir, "modules"))) + MODULE +
                        oa("oahttp", "http://login.example.test/t/token",
                           "ca_file = %s\n" % CA))
            p = subprocess.run([sbtest.daemon_path(), "-c", ini, "--check"],
                               capture_output=True, timeout=60 * SLOW,
                               stdin=subprocess.DEVNULL)
            out = (p.stdout + p.stderr).decode("utf-8", "replace")
            c.ok(p.returncode == 1 and "token_url" in out and
                 "https" in out and "[instance oahttp]" in out,
                 "a token_url over http to a host not on loopback: --check "
                 "refuses it, naming the instance and token_url", out)
        finally:
            shutil.rmtree(cdir, ignore_errors=True)
        with sbtest.Daemon(cfg, server_extra="log_level = debug\n") as d:
            c.ok(ts.url.startswith("https://"),
                 "the token endpoint serves https")
            st, b = call(d, "oa/Folder.List", {"Mailbox": ALICE})
            c.eq(st, 200, "OAuth2 with a client certificate: the call "
                 "succeeds")
            st, b = call(d, "oa/Service.Test", {"Mailbox": ALICE})
            c.eq((st, ts.requests()), (200, 1),
                 "OAuth2 certificate: one token request, then the cache")
            last = ts.last()
            c.eq(last.get("auth"), "assertion",
                 "the token endpoint got a client_assertion")
            c.eq((last.get("header", {}).get("alg"),
                  last.get("claims", {}).get("aud"),
                  last.get("claims", {}).get("iss"),
                  last.get("claims", {}).get("sub")),
                 ("RS256", ts.url, "app-1", "app-1"),
                 "the assertion: RS256, aud = token URL, iss = sub = "
                 "client id (its signature verified with the certificate "
                 "by the endpoint, which issued a token)")
            c.eq(len(ts.tokens()), 1, "a token was issued on the verified "
                 "assertion")
            # an endpoint that holds another certificate refuses the same
            # assertion: the signature check is real
            st, b = call(d, "oaother/Service.Test", {"Mailbox": ALICE})
            c.eq((st, err(b).get("category")), (502, "upstream_auth"),
                 "an endpoint verifying with another certificate refuses "
                 "the assertion: 502 upstream_auth")
            c.eq((ots.requests() >= 1, ots.tokens()), (True, []),
                 "... it was asked and issued nothing")
            n = ts.requests()
            st, b = call(d, "oasys/Service.Test", {"Mailbox": ALICE})
            c.eq((st, err(b).get("code")), (502, "tls_verify"),
                 "the token endpoint's certificate is checked (no ca_file: "
                 "tls_verify)")
            c.eq(ts.requests(), n, "... and no token request reached it")
            st, metrics = d.get("/metrics")
            answers.append(str(metrics))
            log = d.read_log()
            c.ok("requesting an OAuth2 token from" in log,
                 "the debug log speaks of the token request")
            tokens = ts.tokens()
            text = log + "\n" + "\n".join(answers) + "\n" + str(metrics)
            secrets_absent("the debug log, answers and /metrics (OAuth2 "
                           "certificate)", text, tokens + key_lines[:3])
            jwts = re.findall(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*", text)
            c.eq(jwts, [], "no JWT (client assertion) in the log, answers "
                 "or /metrics")
            c.ok("client_assertion=" not in text,
                 "no client_assertion form field in the log")
        c.eq(ews.stats().get("violations"), [], "no violation (OAuth2)")


# ---- 3. Autodiscover refusals send nothing --------------------------------
def autodiscover_tests():
    lis = Listener()
    c.ok(lis.probe(), "the listener counts the connections it gets")
    try:
        with MockEWS(["--auth", "basic", "--lifetime", "900"] +
                     cert("server")) as ews:
            ad = ("[instance %s]\nbroker = exchange-ews\n"
                  "autodiscover_email = %s\nautodiscover_url = %s\n"
                  "auth = basic\nusername = %s\npassword = %s\n"
                  "ca_file = %s\ntimeout = 60s\n\n")
            cfg = (MODULE +
                   ad % ("ad", ALICE, ews.autodiscover_url, ALICE, PW, CA) +
                   ad % ("adsub", "alice@sub.example.test",
                         ews.autodiscover_url, ALICE, PW, CA))
            with sbtest.Daemon(cfg) as d:
                st, b = call(d, "ad/Service.Autodiscover")
                c.eq((st, first(b).get("EwsUrl")), (200, ews.url),
                     "Autodiscover (https, the configured server) works")

                def refused(setting, want_code, name, inst="ad",
                            want_ad=1, words=None):
                    ews.ok("autodiscover", setting)
                    n = ews.stats().get("autodiscover_requests", 0)
                    k = lis.connections
                    st, b = call(d, inst + "/Service.Autodiscover",
                                 {"Refresh": True})
                    settle()
                    e = err(b)
                    c.eq((st, e.get("category"), e.get("code")),
                         (502, "upstream_error", want_code),
                         "Autodiscover refuses %s: 502 %s" % (name,
                                                              want_code))
                    if words:
                        c.ok(re.search(words, e.get("message", "")),
                             "... the message says why (%s)" % name, e)
                    c.eq(lis.connections - k, 0,
                         "... the refused host saw no connection (%s)"
                         % name)
                    c.eq(ews.stats().get("autodiscover_requests", 0) - n,
                         want_ad, "... only the %d request(s) before the "
                         "refusal (%s)" % (want_ad, name))

                # another host: the same address, another port
                refused({"redirect_url": "https://127.0.0.1:%d/autodiscover/"
                         "autodiscover.xml" % lis.port},
                        "autodiscover_refused",
                        "a redirectUrl to another server (127.0.0.1, "
                        "another port)", words=r"127\.0\.0\.1")
                refused({"redirect_url": "https://localhost:%d/autodiscover/"
                         "autodiscover.xml" % lis.port},
                        "autodiscover_refused",
                        "a redirectUrl to a host outside the domain "
                        "(localhost)", words=r"localhost")
                refused({"redirect_url": "https://evil.example.org:%d/"
                         "autodiscover/autodiscover.xml" % lis.port},
                        "autodiscover_refused",
                        "a redirectUrl to another domain",
                        words=r"evil\.example\.org")
                # a host of the domain in the user part: the connection
                # would go to what follows the "@" (or the backslash)
                for trick, how in (
                        ("https://autodiscover.example.test@127.0.0.1:%d/"
                         "autodiscover/autodiscover.xml", "host@listener"),
                        ("https://127.0.0.1:%d\\@autodiscover.example.test/"
                         "autodiscover/autodiscover.xml", "listener\\@host")):
                    refused({"redirect_url": trick % lis.port},
                            "autodiscover_refused",
                            "a redirectUrl with user info (%s)" % how)
                # https -> http
                refused({"redirect_url": "http://127.0.0.1:%d/autodiscover/"
                         "autodiscover.xml" % lis.port},
                        "autodiscover_refused",
                        "a redirectUrl downgrading to http (another port)",
                        words=r"http")
                refused({"redirect_url": "http://127.0.0.1:%d/autodiscover/"
                         "autodiscover.xml" % ews.port},
                        "autodiscover_refused",
                        "a redirectUrl downgrading the configured server "
                        "to http", words=r"http")
                refused({"ews_url": "http://127.0.0.1:%d/EWS/Exchange.asmx"
                         % lis.port}, "autodiscover_refused",
                        "an http EwsUrl from Autodiscover over https",
                        words=r"http")
                k = lis.connections
                st, b = call(d, "ad/Folder.Load", {"Folder": "inbox"})
                settle()
                c.ok(st != 200 and lis.connections == k,
                     "... a call then does not go to the http EwsUrl",
                     (st, b))
                # an EwsUrl on a host outside the domain (https)
                refused({"ews_url": "https://localhost:%d/EWS/Exchange.asmx"
                         % lis.port}, "autodiscover_refused",
                        "an EwsUrl on a host outside the domain",
                        words=r"localhost")
                k = lis.connections
                st, b = call(d, "ad/Folder.Load", {"Folder": "inbox"})
                settle()
                c.ok(st != 200 and lis.connections == k,
                     "... a call then does not go to that EwsUrl", (st, b))
                # addresses: another domain, a parent domain
                refused({"redirect_addr": "alice@example.org"},
                        "autodiscover_refused",
                        "a redirectAddr in another domain",
                        words=r"example\.org")
                refused({"redirect_addr": ALICE}, "autodiscover_refused",
                        "a redirectAddr in a parent domain "
                        "(sub.example.test -> example.test)",
                        inst="adsub", words=r"example\.test")
                refused({"redirect_url": "https://example.test:%d/"
                         "autodiscover/autodiscover.xml" % lis.port},
                        "autodiscover_refused",
                        "a redirectUrl to a parent domain's host",
                        inst="adsub", words=r"example\.test")
                # hops: 10 followed, the 11th refused
                ews.ok("autodiscover", {"redirect_url": ews.autodiscover_url,
                                        "redirect_count": 10})
                n = ews.stats().get("autodiscover_requests", 0)
                st, b = call(d, "ad/Service.Autodiscover", {"Refresh": True})
                c.eq((st, ews.stats().get("autodiscover_requests", 0) - n),
                     (200, 11), "Autodiscover follows 10 redirects (11 "
                     "requests)")
                refused({"redirect_url": ews.autodiscover_url},
                        "autodiscover_redirects",
                        "more than 10 redirects", want_ad=11)
                ews.ok("autodiscover", {})
                st, b = call(d, "ad/Service.Autodiscover", {"Refresh": True})
                c.eq(st, 200, "Autodiscover works again afterwards")
                c.eq(lis.data, b"", "the listener never got a byte")
    finally:
        lis.stop()


# ---- 4. Hostile XML -------------------------------------------------------
def passwd_lines():
    try:
        with open("/etc/passwd") as f:
            return [ln.strip() for ln in f if len(ln.strip()) > 12]
    except OSError:
        return []


def hostile_xml_tests():
    lis = Listener()
    leak = "http://127.0.0.1:%d" % lis.port
    secret_lines = passwd_lines()
    c.ok(lis.probe(), "the listener counts the connections it gets")
    base = lis.connections
    try:
        with MockEWS(["--auth", "basic", "--lifetime", "900"]) as ews:
            cfg = (MODULE + inst("x", ews.url) +
                   inst("xsmall", ews.url, "max_response_size = 1MiB\n") +
                   "[instance xad]\nbroker = exchange-ews\n"
                   "autodiscover_email = %s\nautodiscover_url = %s\n"
                   "auth = basic\nusername = %s\npassword = %s\n"
                   "timeout = 60s\n\n" % (ALICE, ews.autodiscover_url,
                                          ALICE, PW))
            with sbtest.Daemon(cfg, server_extra="log_level = debug\n") as d:
                # a real GetFolder answer of the mock, to carry entities in
                # a field the broker returns
                st, _, raw = ews.post_soap(
                    '<m:GetFolder><m:FolderShape><t:BaseShape>Default'
                    '</t:BaseShape></m:FolderShape><m:FolderIds>'
                    '<t:DistinguishedFolderId Id="inbox"/></m:FolderIds>'
                    '</m:GetFolder>')
                good = raw.decode()
                c.ok(st == 200 and re.search(r"DisplayName>Inbox<", good),
                     "a GetFolder answer to build hostile ones from",
                     good[:300])
                good = re.sub(r"^<\?xml[^>]*\?>", "", good).strip()

                def with_dtd(dtd, entity):
                    body = re.sub(r"(<\w+:DisplayName>)Inbox(</)",
                                  r"\1%s\2" % entity.replace("\\", "\\\\"),
                                  good, count=1)
                    return '<?xml version="1.0"?>' + dtd + body

                ews.ok("inject", {"operation": "GetFolder", "count": 1,
                                  "raw": with_dtd("", "Inbox"),
                                  "content_type": "text/xml; charset=utf-8"})
                st, b = call(d, "x/Folder.Load", {"Folder": "inbox"})
                c.eq((st, first(b).get("Name")), (200, "Inbox"),
                     "control: the injected answer without a DTD is taken")
                root = re.match(r"<(\w+:Envelope)", good).group(1)
                cases = [
                    ("XXE over http", '<!DOCTYPE %s [<!ENTITY x SYSTEM '
                     '"%s/leak">]>' % (root, leak), "&x;"),
                    ("XXE file:///etc/passwd", '<!DOCTYPE %s [<!ENTITY x '
                     'SYSTEM "file:///etc/passwd">]>' % root, "&x;"),
                    ("an external parameter entity", '<!DOCTYPE %s [<!ENTITY '
                     '%% p SYSTEM "%s/p.dtd"> %%p;]>' % (root, leak),
                     "Inbox"),
                    ("an external DTD", '<!DOCTYPE %s SYSTEM "%s/ews.dtd">'
                     % (root, leak), "Inbox"),
                    ("an internal entity", '<!DOCTYPE %s [<!ENTITY x '
                     '"Injected">]>' % root, "&x;"),
                ]
                for name, dtd, entity in cases:
                    k = lis.connections
                    ews.ok("inject", {"operation": "GetFolder", "count": 1,
                                      "raw": with_dtd(dtd, entity),
                                      "content_type":
                                      "text/xml; charset=utf-8"})
                    st, b = call(d, "x/Folder.Load", {"Folder": "inbox"})
                    settle()
                    c.eq((st, err(b).get("category")),
                         (502, "upstream_error"),
                         "%s: refused, 502 upstream_error" % name)
                    c.eq(lis.connections - k, 0,
                         "%s: nothing fetched (the listener saw no "
                         "connection)" % name)
                    c.ok("Injected" not in json.dumps(b),
                         "%s: no entity expanded into the answer" % name)
                # the same in a SOAP fault (HTTP 500): its own reading
                fault = fault_xml("ErrorAccessDenied", "MARK")
                fault = re.sub(r"^<\?xml[^>]*\?>", "", fault)

                def inject_fault(dtd, entity):
                    ews.ok("inject", {
                        "operation": "GetFolder", "count": 1,
                        "raw_status": 500,
                        "raw": '<?xml version="1.0"?>' + dtd +
                        fault.replace("MARK", entity),
                        "content_type": "text/xml; charset=utf-8"})

                inject_fault("", "Plain words")
                st, b = call(d, "x/Folder.Load", {"Folder": "inbox"})
                c.eq((st, err(b).get("code")), (403, "ErrorAccessDenied"),
                     "control: the injected fault without a DTD is read")
                for name, dtd in (
                        ("XXE over http", '<!DOCTYPE s:Envelope [<!ENTITY x '
                         'SYSTEM "%s/fault">]>' % leak),
                        ("XXE file:///etc/passwd", '<!DOCTYPE s:Envelope '
                         '[<!ENTITY x SYSTEM "file:///etc/passwd">]>'),
                        ("an internal entity", '<!DOCTYPE s:Envelope '
                         '[<!ENTITY x "Injected">]>')):
                    k = lis.connections
                    inject_fault(dtd, "&x;")
                    st, b = call(d, "x/Folder.Load", {"Folder": "inbox"})
                    settle()
                    c.eq((st, err(b).get("category"), lis.connections - k),
                         (502, "upstream_error", 0),
                         "a fault with %s: refused, nothing fetched" % name)
                    c.ok("Injected" not in json.dumps(b),
                         "a fault with %s: no entity expanded into the "
                         "answer" % name, b)
                # XInclude in an answer without a DTD: never processed
                k = lis.connections
                xi = ('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude"'
                      ' href="%s/xi" parse="text"/>' % leak)
                ews.ok("inject", {"operation": "GetFolder", "count": 1,
                                  "raw": with_dtd("", "Inbox" + xi),
                                  "content_type": "text/xml; charset=utf-8"})
                st, b = call(d, "x/Folder.Load", {"Folder": "inbox"})
                settle()
                c.eq(lis.connections - k, 0, "XInclude: nothing fetched")
                # the same in Autodiscover answers
                k = lis.connections
                ews.ok("inject", {"operation": "Autodiscover", "count": 1,
                                  "raw": '<?xml version="1.0"?><!DOCTYPE '
                                  'Autodiscover [<!ENTITY x SYSTEM "%s/ad">]>'
                                  '<Autodiscover xmlns="http://schemas.'
                                  'microsoft.com/exchange/autodiscover/'
                                  'responseschema/2006">&x;</Autodiscover>'
                                  % leak})
                st, b = call(d, "xad/Service.Autodiscover")
                settle()
                c.eq((st, err(b).get("category"), lis.connections - k),
                     (502, "upstream_error", 0),
                     "XXE in an Autodiscover answer: refused, nothing "
                     "fetched")
                # an HTTP redirect elsewhere is not followed (the
                # credentials would go with it)
                for status in (302, 307):
                    k = lis.connections
                    ews.ok("inject", {"operation": "GetFolder", "count": 1,
                                      "http_status": status,
                                      "headers": {"Location": leak +
                                                  "/EWS/Exchange.asmx"}})
                    st, b = call(d, "x/Folder.Load", {"Folder": "inbox"})
                    settle()
                    c.eq((st, lis.connections - k), (502, 0),
                         "an HTTP %d to another server: 502, not followed"
                         % status)
                ews.ok("inject", {"operation": "Autodiscover", "count": 1,
                                  "raw_preset": "billion_laughs"})
                t0 = time.monotonic()
                st, b = call(d, "xad/Service.Autodiscover", {"Refresh": True})
                c.ok(st == 502 and time.monotonic() - t0 < 10 * SLOW,
                     "billion laughs in an Autodiscover answer: 502 in "
                     "bounded time", (st, b))
                # billion laughs: bounded time, the daemon keeps serving
                ews.ok("inject", {"operation": "GetFolder", "count": 1,
                                  "raw_preset": "billion_laughs"})
                t0 = time.monotonic()
                st, b = call(d, "x/Folder.Load", {"Folder": "inbox"})
                took = time.monotonic() - t0
                c.eq((st, err(b).get("category")), (502, "upstream_error"),
                     "billion laughs: 502 upstream_error")
                c.ok(took < 10 * SLOW, "billion laughs: answered in "
                     "bounded time", "%.2f s" % took)
                # a gzip bomb: 16 MiB that travel as a few KiB; the limit
                # holds for the decoded size
                ews.ok("config", {"gzip": True})
                ews.ok("inject", {"operation": "GetFolder", "count": 1,
                                  "raw_preset": "huge", "size": 16 << 20})
                t0 = time.monotonic()
                st, b = call(d, "xsmall/Folder.Load", {"Folder": "inbox"})
                took = time.monotonic() - t0
                hdrs = {k.lower(): v for k, v in
                        (ews.stats().get("last_headers") or {}).items()}
                c.ok("gzip" in hdrs.get("accept-encoding", ""),
                     "the daemon accepts gzip (the mock compressed)", hdrs)
                c.eq((st, err(b).get("code")), (502, "response_too_large"),
                     "a gzip bomb: refused at max_response_size, decoded")
                c.ok(took < 20 * SLOW, "a gzip bomb: bounded time",
                     "%.2f s" % took)
                ews.ok("config", {"gzip": False})
                st, b = call(d, "x/Service.Test")
                c.eq(st, 200, "the daemon keeps serving after hostile XML")
                log = d.read_log()
                if secret_lines:
                    seen = [ln for ln in secret_lines
                            if ln in log or ln in "\n".join(answers)]
                    c.eq(seen, [], "no line of /etc/passwd in the log or "
                         "any answer")
                c.ok("root:" not in "\n".join(answers),
                     "no /etc/passwd content in any answer")
        c.eq(lis.connections - base, 0,
             "hostile XML: the listener never saw a connection")
    finally:
        lis.stop()


# ---- 5. No secret of Basic or NTLM anywhere ------------------------------
def b64(s):
    return base64.b64encode(s.encode()).decode()


def secrets_tests():
    ntlm_user = "EXAMPLE\\alice"
    with MockEWS(["--auth", "basic", "--lifetime", "600"]) as bews, \
            MockEWS(["--auth", "ntlm", "--lifetime", "600"]) as news:
        cfg = (MODULE +
               inst("b", bews.url) +
               inst("bwrong", bews.url, pw=WRONG) +
               inst("n", news.url, user=ntlm_user, auth="ntlm") +
               inst("nwrong", news.url, user=ntlm_user, pw=WRONG,
                    auth="ntlm"))
        with sbtest.Daemon(cfg, server_extra="log_level = debug\n") as d:
            sts = []
            for name in ("b", "n"):
                for addr, inp in (("Service.Test", None),
                                  ("Folder.List", None),
                                  ("Folder.Load", {"Folder": "No Such"})):
                    st, b = call(d, "%s/%s" % (name, addr), inp)
                    sts.append(st)
                st, b = test_instance(d, name)
                sts.append(b.get("ok"))
            c.eq(sts, [200, 200, 404, True] * 2,
                 "Basic and NTLM: calls answer (a 404 among them)")
            for ews in (bews, news):
                ews.ok("inject", {"operation": "GetFolder", "count": 1,
                                  "http_status": 401})
            for name in ("b", "n"):
                st, b = call(d, name + "/Folder.Load", {"Folder": "inbox"})
                c.eq((st, err(b).get("category")), (502, "upstream_auth"),
                     "%s: a 401 from the server is 502 upstream_auth" % name)
            for name in ("bwrong", "nwrong"):
                for _ in range(2):
                    st, b = call(d, name + "/Service.Test")
                    c.eq((st, err(b).get("category")),
                         (502, "upstream_auth"),
                         "%s: a wrong password is 502 upstream_auth" % name)
                st, b = test_instance(d, name)
                c.eq((b.get("ok"), b.get("details", {}).get("category")),
                     (False, "upstream_auth"),
                     "%s: test() of the instance fails" % name)
            c.ok(news.stats().get("ntlm_handshakes", 0) >= 1,
                 "NTLM handshakes happened")
            c.ok(bews.stats().get("auth_failures", 0) >= 2 and
                 news.stats().get("auth_failures", 0) >= 2,
                 "the servers refused the wrong passwords")
            st, metrics = d.get("/metrics")
            c.eq(st, 200, "/metrics answers")
            answers.append(str(metrics))
            log = d.read_log()
            c.ok("http > POST /EWS/Exchange.asmx" in log,
                 "the debug transcript is in the log")
            c.ok("NTLM ***" in log and "Basic ***" in log,
                 "the transcript shows the schemes with their values hidden")
            c.eq(warned(log, "auth = basic over http://: credentials "
                        "cross the network in clear text"), ["b", "bwrong"],
                 "Basic over http: the daemon warns (not for NTLM)")
            secrets = [PW, WRONG]
            for user in (ALICE, ntlm_user, "alice"):
                for pw in (PW, WRONG):
                    secrets.append(b64("%s:%s" % (user, pw)))
            text = "\n".join(answers)
            secrets_absent("the daemon log (Basic, NTLM, debug)", log,
                           secrets)
            secrets_absent("answers and /metrics (Basic, NTLM)", text,
                           secrets)
            ntlm_msgs = re.findall(r"TlRMTVNTUA\S*", log + text)
            c.eq(ntlm_msgs[:1], [], "no NTLM message (TlRMTVNTUA...) in the "
                 "log, answers or /metrics")
        c.eq(bews.stats().get("violations", []) +
             news.stats().get("violations", []), [],
             "no schema violation (Basic, NTLM)")


try:
    tls_tests()
    oauth2_tests()
    autodiscover_tests()
    hostile_xml_tests()
    secrets_tests()
finally:
    shutil.rmtree(pki, ignore_errors=True)
c.done()
