#!/usr/bin/python3
"""smtp broker, auth = xoauth2 with tokens from an OAuth2 token endpoint
(tests/mock/token_server.py, client credentials) instead of a static
token: a token is requested once and reused, renewed when it expires
(mail keeps going past a token's lifetime), a revoked token refused in
AUTH gets exactly one renewal and one more try (and the refusal when the
new token is refused too), the endpoint's refusal (invalid_client) reaches
the caller in its own words, a certificate (JWT client assertion, checked
by the mock) works, a key file others may read is refused, bad key
combinations are refused by --check naming the key.  No line of the
daemon's log (at debug) carries a token or the client secret."""
import json
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402
from smtp_server import MockSMTP  # noqa: E402
from token_server import MockTokenServer  # noqa: E402

if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)
if not shutil.which("openssl"):
    print("# openssl command not found")
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()
SECRET = "cl1ent-S3cret~x"
USER = "sender@example.test"
MSG = {"To": ["r@example.test"], "Subject": "oauth2", "Body": "b\n"}
work = sbtest.tempdir("sbtest-oauth-")


def err_of(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def inst(name, port, extra):
    return ("[instance %s]\nbroker = smtp\nurl = smtp://127.0.0.1:%d\n"
            "helo_name = client.example.test\nfrom = %s\ntimeout = 10s\n"
            "auth = xoauth2\nusername = %s\n%s\n"
            % (name, port, USER, USER, extra))


def oauth(ts, secret=SECRET):
    return ("token_url = %s\nclient_id = app-1\nclient_secret = %s\n"
            % (ts.url, secret))


def make_cert(name, mode):
    cert = os.path.join(work, name + ".pem")
    key = os.path.join(work, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=app-1"], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, mode)
    return cert, key


def xoauth2_auths(mx):
    try:
        with open(os.path.join(mx.save_dir, "xoauth2_auths")) as f:
            return int(f.read())
    except OSError:
        return 0


started = []
try:
    def start(obj):
        obj.start()
        started.append(obj)
        return obj

    cert, key = make_cert("client", 0o600)
    lax_cert, lax_key = make_cert("lax", 0o644)
    # endpoints: 6-second tokens (answers take 0.3 s, so that concurrent
    # calls overlap); 1-hour tokens; one whose tokens the SMTP server
    # never accepts; one for the certificate
    short = start(MockTokenServer(["--client-secret", SECRET,
                                   "--expires-in", "6", "--delay", "0.3"]))
    hour = start(MockTokenServer(["--client-secret", SECRET]))
    unknown = start(MockTokenServer(["--client-secret", SECRET]))
    certts = start(MockTokenServer(["--cert", cert]))
    # the SMTP server accepts what short, hour and certts issued and did
    # not revoke
    mx = start(MockSMTP(["--auth", "--auth-mechs", "XOAUTH2", "--user", USER,
                         "--token-file", short.tokens_file(),
                         "--token-file", hour.tokens_file(),
                         "--token-file", certts.tokens_file()]))

    cfg = "[module smtp]\nenabled = yes\n" + "".join([
        inst("short", mx.port, oauth(short)),
        inst("hour", mx.port, oauth(hour)),
        inst("unknown", mx.port, oauth(unknown)),
        inst("wrong", mx.port, oauth(hour, "not-the-secret")),
        inst("cert", mx.port, "token_url = %s\nclient_id = app-1\n"
             "cert_file = %s\nkey_file = %s\n" % (certts.url, cert, key)),
    ])
    lax = inst("lax", mx.port, "token_url = %s\nclient_id = app-1\n"
               "cert_file = %s\nkey_file = %s\n"
               % (certts.url, lax_cert, lax_key))
    with sbtest.Daemon(cfg, server_extra="log_level = debug\n") as d:
        # ---- one token, reused; renewed once it expires ----------------
        st, body = d.call("short/Email.Send", MSG)
        c.ok(st == 200, "sent with a token from the endpoint", body)
        sent = mx.messages()
        c.ok(len(sent) == 1 and sent[-1][1]["auth_mech"] == "XOAUTH2" and
             sent[-1][1]["login"] == USER, "delivered over XOAUTH2",
             sent and sent[-1][1])
        st, body = d.call("short/Connection.Test", {})
        c.ok(st == 200, "Connection.Test authenticates with it", body)
        c.eq(short.requests(), 1, "one token request, then the cache")
        time.sleep(6.2)  # the 6-second token has expired
        results = []

        def send():
            results.append(d.call("short/Connection.Test", {})[0])
        threads = [threading.Thread(target=send) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        c.eq(results, [200] * 4, "past the token's lifetime, calls go on")
        c.eq(short.requests(), 2,
             "four concurrent calls at expiry: one token request")
        st, body = d.call("short/Email.Send", MSG)
        c.eq((st, short.requests()), (200, 2), "the new token is cached")

        # ---- a revoked token: one renewal, one retry -------------------
        st, body = d.call("hour/Email.Send", MSG)
        c.ok(st == 200, "hour: sent", body)
        first = hour.tokens()
        c.eq(len(first), 1, "hour: one token issued")
        hour.revoke(first[0])
        auths = xoauth2_auths(mx)
        st, body = d.call("hour/Connection.Test", {})
        c.ok(st == 200, "revoked token: renewed and retried in one call", body)
        c.eq((hour.requests(), xoauth2_auths(mx) - auths), (2, 2),
             "exactly one renewal and one retry")
        c.eq(len(set(hour.tokens()) - set(first)), 1, "a new token")
        st, body = d.call("hour/Connection.Test", {})
        c.eq((st, hour.requests()), (200, 2), "the renewed token is cached")

        # ---- refused again after the renewal: the refusal --------------
        auths = xoauth2_auths(mx)
        st, body = d.call("unknown/Connection.Test", {})
        c.eq((st, err_of(body).get("code")), (502, "535"),
             "a fresh token refused: 502 with the server's code")
        c.eq((unknown.requests(), xoauth2_auths(mx) - auths), (1, 1),
             "a fresh token refused: no renewal, no retry")
        st, body = d.call("unknown/Connection.Test", {})
        e = err_of(body)
        c.eq((st, e.get("category"), e.get("code")),
             (502, "upstream_auth", "535"),
             "a cached token refused, and its renewal too: upstream_auth")
        c.eq((unknown.requests(), xoauth2_auths(mx) - auths), (2, 3),
             "one renewal and one retry, no more")

        # ---- the endpoint's refusal in its own words -------------------
        st, body = d.call("wrong/Email.Send", MSG)
        e = err_of(body)
        c.eq((st, e.get("category"), e.get("code")),
             (502, "upstream_auth", "invalid_client"),
             "wrong client secret: upstream_auth, invalid_client")
        c.ok("AADSTS7000215: Invalid client secret provided." in
             e.get("message", "") and hour.url in e.get("message", ""),
             "the endpoint's description and URL in the message", e)
        c.ok("not-the-secret" not in json.dumps(body),
             "the secret is not in the answer")

        # ---- certificate: a JWT assertion the endpoint verified --------
        st, body = d.call("cert/Email.Send", MSG)
        c.ok(st == 200, "certificate credential: sent", body)
        last = certts.last()
        c.eq(last.get("auth"), "assertion", "the endpoint got an assertion")
        c.eq((last.get("header", {}).get("alg"),
              last.get("claims", {}).get("aud"),
              last.get("claims", {}).get("iss")),
             ("RS256", certts.url, "app-1"),
             "RS256, aud = token URL, iss = client id (signature, x5t and "
             "times checked by the endpoint)")

        # ---- a key file others may read: refused by --check and at
        # start (before anything is opened) -----------------------------
        bad = sbtest.Daemon("[module smtp]\nenabled = yes\n" + lax)
        code, out = bad.check()
        c.ok(code != 0 and "[instance lax] key_file: %s: readable by group "
             "or others (mode 0644)" % lax_key in out,
             "key readable by others: --check fails naming the file and "
             "its mode", (code, out[-2000:]))
        try:
            bad.start()
            bad.stop()
            refused = False
        except RuntimeError as e:
            refused = "mode 0644" in str(e)
        bad.cleanup()
        c.ok(refused, "key readable by others: the daemon does not start")
        c.eq(certts.requests(), 1, "nothing was requested with that key")

        # ---- nothing secret in the log ---------------------------------
        log = d.read_log()
        issued = (short.tokens() + first + hour.tokens() +
                  unknown.tokens() + certts.tokens())
        c.ok(len(issued) >= 6, "tokens were issued", len(issued))
        leaked = [t for t in issued + [SECRET, "not-the-secret"]
                  if t in log]
        c.eq(leaked, [], "no token or secret in the daemon log (debug)")
        c.ok("requesting an OAuth2 token from" in log,
             "the log does say when a token is requested")

    # ---- keys checked by --check, each error naming its key ------------
    cases = [
        ("token_url = https://login.example.test/t/token\n", "client_id:"),
        ("token_url = https://login.example.test/t/token\n"
         "client_id = a\n", "client_secret: required"),
        ("token_url = https://login.example.test/t/token\nclient_id = a\n"
         "client_secret = s\ncert_file = /c.pem\nkey_file = /k.pem\n",
         "not both"),
        ("token_url = https://login.example.test/t/token\nclient_id = a\n"
         "cert_file = /c.pem\n", "key_file: required"),
        ("token_url = http://login.example.test/t/token\nclient_id = a\n"
         "client_secret = s\n", "token_url: http:// only to a loopback"),
        # loopback is the whole host, not a prefix of it
        ("token_url = http://localhost.example.test/t/token\n"
         "client_id = a\nclient_secret = s\n",
         "token_url: http:// only to a loopback"),
        ("token_url = http://127.0.0.1.example.test/t/token\n"
         "client_id = a\nclient_secret = s\n",
         "token_url: http:// only to a loopback"),
        ("token_url = https://login.example.test/t/token\nclient_id = a\n"
         "client_secret = s\npassword = static\n", "password: give either"),
        ("client_id = a\npassword = static\n", "client_id: applies with "
         "token_url"),
        ("", "password: required when auth = xoauth2"),
    ]
    for extra, want in cases:
        cfg = os.path.join(work, "check.ini")
        with open(cfg, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:1\nmodule_dir = %s\n"
                    "[module smtp]\nenabled = yes\n%s"
                    % (sbtest.make_module_dir(os.path.join(work, "m")),
                       inst("x", 25, extra)))
        p = subprocess.run(sbtest.daemon_command() + ["--check", "-c", cfg],
                           capture_output=True, text=True, timeout=60)
        c.ok(p.returncode != 0 and want in p.stdout + p.stderr,
             "--check refuses: %s" % want, (p.returncode, p.stderr[-400:]))
finally:
    for s in reversed(started):
        s.stop()
    shutil.rmtree(work, ignore_errors=True)

c.done()
