#!/usr/bin/python3
"""smtp broker: with `auth` configured, mail goes out authenticated or not
at all.  libcurl skips AUTH without a word when a server offers none; the
broker must refuse instead, name the problem, and deliver nothing.  Also:
the mechanism configured is the one used, and a reused connection stays
authenticated.  A server that echoes the SASL response in its refusal
gets it (and the password) replaced by "***" in the answer and the log."""
import base64
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402
from smtp_server import MockSMTP, parse_strict  # noqa: E402

if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)
if not shutil.which("openssl"):
    print("# openssl command not found")
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()
pki = sbtest.tempdir("sbtest-pki-")
subprocess.run(["sh", os.path.join(SRC, "tests", "mock", "make_certs.sh"),
                pki], check=True, timeout=60)
CA = os.path.join(pki, "ca.pem")
CERT = ["--cert", os.path.join(pki, "server.pem"),
        "--key", os.path.join(pki, "server.key")]

SECRET = "s3cr3t-Pa55"
TOKEN = "ya29.test-bearer-token"
USER = "user@example.test"
CREDS = ["--user", USER, "--password", SECRET, "--token", TOKEN]


def inst(name, port, extra, scheme="smtp"):
    return ("[instance %s]\nbroker = smtp\nurl = %s://127.0.0.1:%d\n"
            "helo_name = client.example.test\nfrom = sender@example.test\n"
            "timeout = 10s\n%s\n" % (name, scheme, port, extra))


def auth(mech, secret=SECRET):
    return "auth = %s\nusername = %s\npassword = %s\n" % (mech, USER, secret)


def err_of(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


MSG = {"To": ["r@example.test"], "Subject": "must be authenticated",
       "Body": "b\n"}
servers = []
try:
    def start(args):
        s = MockSMTP(args).start()
        servers.append(s)
        return s

    # an open relay: takes mail from anyone and offers no AUTH at all
    noauth = start([])
    # offers AUTH LOGIN only, and takes mail without it
    login_only = start(["--auth", "--auth-optional", "--auth-mechs", "LOGIN"]
                       + CREDS)
    # offers PLAIN and LOGIN (no XOAUTH2), mail without AUTH taken too
    no_oauth = start(["--auth", "--auth-optional", "--auth-mechs",
                      "PLAIN,LOGIN"] + CREDS)
    # AUTH offered only after STARTTLS; mail without AUTH taken
    tls_auth = start(["--tls", "starttls", "--auth", "--auth-optional"]
                     + CREDS + CERT)
    # every mechanism, AUTH optional: a send that skipped AUTH would go
    good = start(["--auth", "--auth-optional"] + CREDS)
    # refuses every AUTH, echoing what it was sent
    echo = start(["--auth", "--echo-auth"] + CREDS)

    cfg = "[module smtp]\nenabled = yes\n" + "".join([
        inst("noauth_plain", noauth.port, auth("plain")),
        inst("noauth_login", noauth.port, auth("login")),
        inst("noauth_oauth", noauth.port, auth("xoauth2", TOKEN)),
        inst("noauth_none", noauth.port, ""),
        inst("lo_plain", login_only.port, auth("plain")),
        inst("lo_login", login_only.port, auth("login")),
        inst("nooauth_oauth", no_oauth.port, auth("xoauth2", TOKEN)),
        inst("tls_clear", tls_auth.port, auth("plain")),
        inst("tls_st", tls_auth.port, auth("plain") + "tls = starttls\n"
             "ca_file = %s\n" % CA),
        inst("g_plain", good.port, auth("plain")),
        inst("g_login", good.port, auth("login")),
        inst("g_oauth", good.port, auth("xoauth2", TOKEN)),
        inst("echo_plain", echo.port, auth("plain")),
        inst("echo_login", echo.port, auth("login")),
        inst("echo_oauth", echo.port, auth("xoauth2", TOKEN)),
    ])
    with sbtest.Daemon(cfg, server_extra="log_level = debug\n") as d:
        # ---- server offers no AUTH: refused, nothing delivered ------------
        for name in ("noauth_plain", "noauth_login", "noauth_oauth"):
            conns = noauth.connections()
            st, body = d.call(name + "/Email.Send", MSG)
            e = err_of(body)
            c.eq(st, 502, "%s, server offers no AUTH: 502" % name)
            c.eq(e.get("category"), "upstream_auth",
                 "%s: upstream_auth" % name)
            c.eq(e.get("code"), "auth_not_offered",
                 "%s: code auth_not_offered" % name)
            c.ok("offers no AUTH" in e.get("message", "") and
                 "nothing was sent" in e.get("message", ""),
                 "%s: says the server offers no AUTH" % name, e)
            c.ok("STARTTLS" in e.get("message", ""),
                 "%s: hints at STARTTLS" % name, e)
            c.eq(noauth.messages(), [], "%s: server received nothing" % name)
            c.eq(noauth.connections() - conns, 1,
                 "%s: one connection, not retried" % name)
            # twice: the refused connection is not kept and reused
            st, body = d.call(name + "/Email.Send", MSG)
            c.eq((st, err_of(body).get("code")), (502, "auth_not_offered"),
                 "%s: refused again on a new connection" % name)
            c.eq(noauth.connections() - conns, 2,
                 "%s: the refused connection was not reused" % name)
            c.eq(noauth.messages(), [], "%s: still nothing received" % name)
        c.eq(noauth.messages(), [], "nothing delivered without AUTH")
        # the exchange stops once the connection is set up, before any
        # transaction: not a MAIL FROM, not a RCPT TO
        c.eq(noauth.mail_commands(), 0, "no MAIL FROM without AUTH")
        c.eq(noauth.rcpt_commands(), 0, "no RCPT TO without AUTH")
        st, body = d.call("noauth_plain/Connection.Test", {})
        c.eq((st, err_of(body).get("code")), (502, "auth_not_offered"),
             "Connection.Test: server offers no AUTH")
        # without auth configured, the same server takes the message
        st, body = d.call("noauth_none/Email.Send", MSG)
        c.eq(st, 200, "auth = none: sent to the same server")
        c.eq(len(noauth.messages()), 1, "auth = none: delivered")

        # ---- the configured mechanism is not offered ----------------------
        for name, srv, want, offered in [
                ("lo_plain", login_only, "PLAIN", "LOGIN"),
                ("nooauth_oauth", no_oauth, "XOAUTH2", "LOGIN PLAIN")]:
            st, body = d.call(name + "/Email.Send", MSG)
            e = err_of(body)
            c.eq((st, e.get("category"), e.get("code")),
                 (502, "upstream_auth", "auth_not_offered"),
                 "%s: mechanism not offered refused" % name)
            msg = e.get("message", "")
            c.ok("AUTH %s" % want in msg and "offers: %s" % offered in msg,
                 "%s: names the mechanism and what is offered" % name, e)
            c.eq(srv.messages(), [], "%s: nothing delivered" % name)
            c.eq(srv.mail_commands(), 0, "%s: no MAIL FROM sent" % name)
            st, body = d.call(name + "/Connection.Test", {})
            c.eq((st, err_of(body).get("code")), (502, "auth_not_offered"),
                 "%s: Connection.Test refuses too" % name)
        st, body = d.call("lo_login/Email.Send", MSG)
        c.eq(st, 200, "the offered mechanism works (LOGIN)")
        msgs = login_only.messages()
        c.ok(len(msgs) == 1 and msgs[0][1]["auth_mech"] == "LOGIN" and
             msgs[0][1]["login"] == USER, "sent authenticated with LOGIN",
             msgs and msgs[-1][1])

        # ---- AUTH offered only after STARTTLS, tls = none ------------------
        st, body = d.call("tls_clear/Email.Send", MSG)
        e = err_of(body)
        c.eq((st, e.get("code")), (502, "auth_not_offered"),
             "AUTH only after STARTTLS, tls = none: refused")
        c.ok("tls = starttls" in e.get("message", ""),
             "suggests tls = starttls", e)
        c.eq(tls_auth.messages(), [], "nothing sent in clear text")
        st, body = d.call("tls_st/Email.Send", MSG)
        c.eq(st, 200, "with tls = starttls it authenticates and sends")
        msgs = tls_auth.messages()
        c.ok(len(msgs) == 1 and msgs[0][1]["tls"] and
             msgs[0][1]["login"] == USER, "over TLS, authenticated",
             msgs and msgs[-1][1])

        # ---- each mechanism is the one used; reuse stays authenticated ----
        for name, mech in [("g_plain", "PLAIN"), ("g_login", "LOGIN"),
                           ("g_oauth", "XOAUTH2")]:
            conns = good.connections()
            n = len(good.messages())
            sts = [d.call(name + "/Email.Send",
                          dict(MSG, Subject="%s %d" % (name, i)))[0]
                   for i in range(3)]
            c.eq(sts, [200, 200, 200], "%s: three sends" % name)
            new = good.messages()[n:]
            c.eq([m[1]["auth_mech"] for m in new], [mech] * 3,
                 "%s: every message sent after AUTH %s" % (name, mech))
            c.eq([m[1]["login"] for m in new], [USER] * 3,
                 "%s: every message authenticated as the user" % name)
            c.eq(good.connections() - conns, 1,
                 "%s: one connection reused for the three" % name)
            c.eq([str(parse_strict(m[0])[0]["Subject"]) for m in new],
                 ["%s %d" % (name, i) for i in range(3)],
                 "%s: the right messages" % name)

        # ---- a refusal that echoes the credentials -----------------------
        def b64(raw):
            return base64.b64encode(raw.encode()).decode()
        sent = {  # what each mechanism sends, as the server echoes it
            "echo_plain": [b64("\0%s\0%s" % (USER, SECRET)), SECRET],
            "echo_login": [b64(USER), b64(SECRET), SECRET],
            "echo_oauth": [b64("user=%s\x01auth=Bearer %s\x01\x01"
                               % (USER, TOKEN)), TOKEN],
        }
        for name, creds in sent.items():
            for method in ("Email.Send", "Connection.Test"):
                st, body = d.call("%s/%s" % (name, method), MSG
                                  if method == "Email.Send" else {})
                e = err_of(body)
                msg = e.get("message", "")
                c.eq((st, e.get("category"), e.get("code")),
                     (502, "upstream_auth", "535"),
                     "%s %s: the server's 535 is reported" % (name, method))
                c.ok("Authentication failed for ***" in msg and
                     "(password ***)" in msg,
                     "%s %s: the echo is redacted, the rest kept"
                     % (name, method), e)
                c.eq([x for x in creds if x in msg], [],
                     "%s %s: no credential in the answer" % (name, method))
        c.eq(echo.messages(), [], "echoing server: nothing delivered")

        log = d.read_log()
        c.ok("offers no AUTH" in log, "the refusal is logged")
        c.ok("Authentication failed for ***" in log,
             "the echoing refusal is in the debug log, redacted")
        c.eq([x for x in (SECRET, TOKEN) if x in log], [],
             "no password or token in the log")
        c.eq([x for v in sent.values() for x in v if x in log], [],
             "no SASL response in the log")
finally:
    for s in servers:
        s.stop()
        s.cleanup()
    shutil.rmtree(pki, ignore_errors=True)
c.done()
