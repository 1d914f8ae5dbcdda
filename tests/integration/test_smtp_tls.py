#!/usr/bin/python3
"""smtp broker: STARTTLS, implicit TLS, certificate checks (a CA made by the
test with openssl), AUTH PLAIN / LOGIN / XOAUTH2, Connection.Test."""
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
OTHER_CA = os.path.join(pki, "other-ca.pem")


def cert(name):
    return ["--cert", os.path.join(pki, name + ".pem"),
            "--key", os.path.join(pki, name + ".key")]


def inst(name, url, extra=""):
    return ("[instance %s]\nbroker = smtp\nurl = %s\n"
            "helo_name = client.example.test\nfrom = sender@example.test\n"
            "timeout = 10s\n%s\n" % (name, url, extra))


def err_of(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


SECRET = "s3cr3t-Pa55"
TOKEN = "ya29.test-bearer-token"
servers = []
try:
    starttls = MockSMTP(["--tls", "starttls", "--require-starttls", "--auth",
                         "--user", "user@example.test", "--password", SECRET,
                         "--token", TOKEN] + cert("server")).start()
    servers.append(starttls)
    implicit = MockSMTP(["--tls", "implicit", "--auth",
                         "--user", "user@example.test", "--password", SECRET,
                         "--token", TOKEN] + cert("server")).start()
    servers.append(implicit)
    wrongname = MockSMTP(["--tls", "implicit"] + cert("wrongname")).start()
    servers.append(wrongname)
    selfsigned = MockSMTP(["--tls", "starttls"] + cert("selfsigned")).start()
    servers.append(selfsigned)
    plain = MockSMTP([]).start()  # no STARTTLS offered
    servers.append(plain)
    # offers STARTTLS, then refuses it; takes mail in plain text
    refuses = MockSMTP(["--tls", "starttls", "--starttls-reply",
                        "454 4.7.0 TLS not available due to local problem"]
                       + cert("server")).start()
    servers.append(refuses)

    st_url = "smtp://127.0.0.1:%d" % starttls.port
    im_url = "smtps://127.0.0.1:%d" % implicit.port
    auth = "username = user@example.test\npassword = %s\n" % SECRET
    cfg = "[module smtp]\nenabled = yes\n" + "".join([
        inst("st_plain", st_url, "tls = starttls\nauth = plain\n" + auth +
             "ca_file = %s\n" % CA),
        inst("st_login", st_url, "tls = starttls\nauth = login\n" + auth +
             "ca_file = %s\n" % CA),
        inst("st_oauth", st_url, "tls = starttls\nauth = xoauth2\n"
             "username = user@example.test\npassword = %s\n"
             "ca_file = %s\n" % (TOKEN, CA)),
        inst("st_badpw", st_url, "tls = starttls\nauth = plain\n"
             "username = user@example.test\npassword = wrong-password\n"
             "ca_file = %s\n" % CA),
        inst("st_badtoken", st_url, "tls = starttls\nauth = xoauth2\n"
             "username = user@example.test\npassword = not-the-token\n"
             "ca_file = %s\n" % CA),
        inst("st_untrusted", st_url, "tls = starttls\nauth = plain\n" + auth +
             "ca_file = %s\n" % OTHER_CA),
        inst("st_nocreds", st_url, "tls = starttls\nca_file = %s\n" % CA),
        inst("im_plain", im_url, "auth = plain\n" + auth +
             "ca_file = %s\n" % CA),
        inst("im_wrongname", "smtps://127.0.0.1:%d" % wrongname.port,
             "ca_file = %s\n" % CA),
        inst("ss_verify", "smtp://127.0.0.1:%d" % selfsigned.port,
             "tls = starttls\nca_file = %s\n" % CA),
        inst("ss_noverify", "smtp://127.0.0.1:%d" % selfsigned.port,
             "tls = starttls\nverify_tls = no\n"),
        inst("plain_required", "smtp://127.0.0.1:%d" % plain.port,
             "tls = starttls\n"),
        inst("plain_none", "smtp://127.0.0.1:%d" % plain.port, "tls = none\n"),
        inst("refuses_required", "smtp://127.0.0.1:%d" % refuses.port,
             "tls = starttls\nca_file = %s\n" % CA),
        inst("plain_auth", "smtp://127.0.0.1:%d" % plain.port,
             "tls = none\nauth = plain\n" + auth),
    ])
    # debug level: failed exchanges log their (redacted) transcript
    with sbtest.Daemon(cfg, server_extra="log_level = debug\n") as d:
        # ---- Connection.Test --------------------------------------------------
        st, body = d.call("st_plain/Connection.Test", {})
        c.eq(st, 200, "Connection.Test over STARTTLS")
        row = body["rows"][0] if st == 200 else {}
        c.eq(row.get("ServerGreeting"), "mx.example.test svcbroker-test-mx",
             "ServerGreeting")
        c.ok(row.get("TlsVersion", "").startswith("TLSv1."), "TlsVersion",
             row)
        c.eq(sorted(row.get("AuthMechanisms", [])),
             ["LOGIN", "PLAIN", "XOAUTH2"], "AuthMechanisms after STARTTLS")
        c.ok("SMTPUTF8" in row.get("Extensions", []) and
             any(e.startswith("SIZE") for e in row.get("Extensions", [])),
             "Extensions", row)
        c.ok("STARTTLS" not in row.get("Extensions", []),
             "Extensions are those after STARTTLS")
        n = len(starttls.messages())
        st, body = d.call("st_login/Connection.Test",
                          {"To": "probe@example.test"})
        c.eq(st, 200, "Connection.Test with To")
        row = body["rows"][0] if st == 200 else {}
        c.eq(row.get("Accepted"), ["probe@example.test"], "test message "
             "accepted")
        c.ok(row.get("MessageId", "").startswith("<"), "test message id")
        c.eq(len(starttls.messages()), n + 1, "test message delivered")
        msg, defects = parse_strict(starttls.messages()[-1][0])
        c.eq(defects, [], "test message has no defects")
        st, body = d.call("plain_none/Connection.Test", {})
        c.eq(st, 200, "Connection.Test in plain text")
        c.eq(body["rows"][0].get("TlsVersion") if st == 200 else None, "none",
             "TlsVersion none without TLS")

        # ---- each AUTH mechanism sends -----------------------------------------
        for name in ("st_plain", "st_login", "st_oauth", "im_plain"):
            srv = implicit if name.startswith("im") else starttls
            n = len(srv.messages())
            st, body = d.call(name + "/Email.Send", {
                "To": ["rcpt@example.test"], "Subject": "via " + name,
                "Body": "sent by %s\n" % name})
            c.eq(st, 200, "%s: send" % name)
            msgs = srv.messages()
            c.eq(len(msgs), n + 1, "%s: delivered" % name)
            if len(msgs) == n + 1:
                c.eq(msgs[-1][1]["login"], "user@example.test",
                     "%s: authenticated as the user" % name)
                c.ok(msgs[-1][1]["tls"] or name.startswith("im"),
                     "%s: over TLS" % name)
                c.eq(str(parse_strict(msgs[-1][0])[0]["Subject"]),
                     "via " + name, "%s: subject" % name)

        # ---- refusals -------------------------------------------------------
        n = len(starttls.messages())
        st, body = d.call("st_badpw/Email.Send", {"To": ["r@example.test"]})
        e = err_of(body)
        c.eq(st, 502, "wrong password: 502")
        c.eq(e.get("category"), "upstream_auth", "wrong password: upstream_auth")
        c.eq(e.get("code"), "535", "wrong password: code 535")
        c.ok("5.7.8" in e.get("message", ""), "server's words kept", e)
        c.ok("wrong-password" not in str(body), "password not echoed")
        st, body = d.call("st_badtoken/Email.Send", {"To": ["r@example.test"]})
        c.eq((st, err_of(body).get("category")), (502, "upstream_auth"),
             "wrong XOAUTH2 token: upstream_auth")
        st, body = d.call("st_badpw/Connection.Test", {})
        c.eq((st, err_of(body).get("category")), (502, "upstream_auth"),
             "Connection.Test reports the auth failure")
        st, body = d.call("st_nocreds/Email.Send", {"To": ["r@example.test"]})
        c.eq((st, err_of(body).get("code")), (502, "530"),
             "server requiring AUTH, none configured: 530 reported")
        c.eq(len(starttls.messages()), n, "refused sends deliver nothing")

        for name, what in [("st_untrusted", "certificate from an untrusted CA"),
                           ("im_wrongname", "certificate for another host"),
                           ("ss_verify", "self-signed certificate")]:
            st, body = d.call(name + "/Email.Send",
                              {"To": ["r@example.test"], "Subject": "x"})
            e = err_of(body)
            c.eq(st, 502, "%s refused: 502" % what)
            c.ok(e.get("code") == "tls_verify" and
                 "certificate" in e.get("message", ""),
                 "%s: says it is the certificate" % what, e)
        c.eq(len(wrongname.messages()) + len(selfsigned.messages()), 0,
             "nothing delivered over an unverified TLS connection")
        st, body = d.call("ss_noverify/Email.Send",
                          {"To": ["r@example.test"], "Subject": "noverify"})
        c.eq(st, 200, "verify_tls = no accepts the self-signed certificate")

        n = len(plain.messages())
        st, body = d.call("plain_required/Email.Send",
                          {"To": ["r@example.test"], "Subject": "secret"})
        e = err_of(body)
        c.eq(st, 502, "tls = starttls against a server without it: 502")
        c.ok("STARTTLS" in e.get("message", ""), "says STARTTLS is missing", e)
        c.eq(len(plain.messages()), n, "no silent downgrade: nothing sent")
        c.eq(plain.mail_commands(), 0,
             "no silent downgrade: no MAIL FROM in plain text")
        st, body = d.call("plain_required/Connection.Test", {})
        c.eq(st, 502, "Connection.Test too refuses the downgrade")
        # STARTTLS offered but refused by the server: no plain-text fallback
        st, body = d.call("refuses_required/Email.Send",
                          {"To": ["r@example.test"], "Subject": "secret"})
        e = err_of(body)
        c.eq((st, e.get("code")), (502, "starttls"),
             "STARTTLS refused by the server: 502 starttls")
        c.ok("refused STARTTLS" in e.get("message", "") and
             "TLS not available due to local problem" in e.get("message", ""),
             "says STARTTLS was refused, with the server's words", e)
        c.eq((len(refuses.messages()), refuses.mail_commands()), (0, 0),
             "STARTTLS refused: no MAIL FROM, nothing sent in plain text")
        st, body = d.call("refuses_required/Connection.Test", {})
        c.eq((st, err_of(body).get("code")), (502, "starttls"),
             "Connection.Test: STARTTLS refused")
        st, body = d.call("plain_auth/Connection.Test", {})
        e = err_of(body)
        c.eq((st, e.get("category")), (502, "upstream_auth"),
             "Connection.Test: auth configured, server offers none")
        c.ok("offers no AUTH" in e.get("message", ""), "says AUTH is not "
             "offered", e)

        st, body = d.call("im_plain/Connection.Test", {})
        row = body["rows"][0] if st == 200 else {}
        c.ok(st == 200 and row.get("TlsVersion", "").startswith("TLSv1."),
             "Connection.Test over implicit TLS", body)

        log = d.read_log()
        c.ok("> AUTH PLAIN" in log and "535 5.7.8" in log,
             "failed exchanges are logged at debug level")
        c.ok("[redacted]" in log, "AUTH lines are redacted in the log")
        secrets = [SECRET, TOKEN, "wrong-password", "not-the-token"]
        for sec in list(secrets):
            for user in ("user@example.test",):
                secrets.append(base64.b64encode(
                    ("\0%s\0%s" % (user, sec)).encode()).decode())
                secrets.append(base64.b64encode(sec.encode()).decode())
                secrets.append(base64.b64encode(
                    ("user=%s\x01auth=Bearer %s\x01\x01" % (user, sec))
                    .encode()).decode())
        c.eq([x for x in secrets if x in log], [],
             "no password or token, plain or base64, in the daemon log")
finally:
    for s in servers:
        s.stop()
        s.cleanup()
    shutil.rmtree(pki, ignore_errors=True)
c.done()
