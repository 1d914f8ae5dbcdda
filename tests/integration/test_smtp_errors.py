#!/usr/bin/python3
"""smtp broker: failures are clear and bounded — unreachable server, a
server that hangs (deadline), 4xx/5xx replies with the server's words,
and max_per_minute (wait within the deadline, else throttled)."""
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402
from smtp_server import MockSMTP, parse_strict  # noqa: E402

if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()


def inst(name, port, extra=""):
    return ("[instance %s]\nbroker = smtp\nurl = smtp://127.0.0.1:%d\n"
            "helo_name = client.example.test\nfrom = sender@example.test\n"
            "%s\n" % (name, port, extra))


def err_of(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def closed_port():
    """A loopback port nobody listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


servers = []
try:
    def start(args):
        s = MockSMTP(args).start()
        servers.append(s)
        return s

    hang_greet = start(["--hang", "greeting"])
    hang_data = start(["--hang", "data"])
    hang_rcpt = start(["--hang", "rcpt"])
    data451 = start(["--data-reply", "451 4.3.0 Temporary local problem"])
    data554 = start(["--data-reply", "554 5.7.1 Message rejected as spam"])
    mail550 = start(["--mail-reply", "550 5.7.1 Sender not allowed to relay"])
    ok = start([])
    idle = start(["--idle-timeout", "1"])
    small = start(["--size-limit", "2000"])
    noutf8 = start(["--no-smtputf8"])
    drop = start(["--drop-after-data"])
    utf8 = start([])
    dead = closed_port()
    cfg = "[module smtp]\nenabled = yes\n" + "".join([
        inst("dead", dead, "timeout = 5s\n"),
        inst("hang_greet", hang_greet.port, "timeout = 2s\n"),
        inst("hang_data", hang_data.port, "timeout = 2s\n"),
        inst("hang_rcpt", hang_rcpt.port, "timeout = 2s\n"),
        inst("data451", data451.port, "timeout = 10s\n"),
        inst("data554", data554.port, "timeout = 10s\n"),
        inst("mail550", mail550.port, "timeout = 10s\n"),
        inst("rate_wait", ok.port, "timeout = 10s\nmax_per_minute = 2\n"),
        inst("rate_refuse", ok.port, "timeout = 2s\nmax_per_minute = 2\n"),
        inst("idle", idle.port, "timeout = 10s\n"),
        inst("small", small.port, "timeout = 10s\n"),
        inst("noutf8", noutf8.port, "timeout = 10s\n"),
        inst("drop", drop.port, "timeout = 10s\n"),
        inst("utf8", utf8.port, "timeout = 10s\nallow_from_override = yes\n"),
    ])
    msg = {"To": ["r@example.test"], "Subject": "s", "Body": "b"}
    with sbtest.Daemon(cfg) as d:
        t0 = time.monotonic()
        st, body = d.call("dead/Email.Send", msg)
        e = err_of(body)
        c.eq(st, 503, "unreachable server: 503")
        c.eq(e.get("category"), "unavailable", "unreachable: unavailable")
        c.ok("connect" in e.get("message", "").lower(),
             "unreachable: curl's words", e)
        c.ok(time.monotonic() - t0 < 5, "unreachable answers at once")
        st, body = d.call("dead/Connection.Test", {})
        c.eq(st, 503, "Connection.Test on an unreachable server: 503")

        for name in ("hang_greet", "hang_rcpt", "hang_data"):
            t0 = time.monotonic()
            st, body = d.call(name + "/Email.Send", msg)
            took = time.monotonic() - t0
            c.eq(st, 504, "%s: 504" % name)
            c.eq(err_of(body).get("category"), "timeout", "%s: timeout" % name)
            c.ok(took < 6, "%s: bounded by the 2 s deadline" % name,
                 "(took %.1fs)" % took)
            if name == "hang_data":
                c.ok("may or may not be delivered" in
                     err_of(body).get("message", ""),
                     "hung after the content: says delivery is unknown",
                     body)
        c.eq(len(hang_data.messages()), 0, "hung DATA saved nothing")

        # ---- the connection drops after the content, before the reply ---------
        for i in range(2):  # the second time on a kept handle
            st, body = d.call("drop/Email.Send", msg)
            e = err_of(body)
            c.ok(st in (502, 503) and "may or may not be delivered" in
                 e.get("message", ""),
                 "dropped after the content: an error that says delivery "
                 "is unknown", body)
        c.eq(drop.mail_commands(), 2,
             "dropped after the content: never sent again by itself")

        # a good send on the same instance afterwards: the broken
        # connection was not kept
        st, _ = d.call("small/Email.Send", msg)
        c.eq(st, 200, "sends go on after failures")

        st, body = d.call("data451/Email.Send", msg)
        e = err_of(body)
        c.eq(st, 503, "451 after DATA: 503")
        c.eq(e.get("code"), "451", "451: code")
        c.ok("Temporary local problem" in e.get("message", ""),
             "451: server's words", e)
        c.ok(e.get("retry_after_ms", 0) > 0, "451: retry_after_ms", e)
        st, body = d.call("data554/Email.Send", msg)
        e = err_of(body)
        c.eq(st, 502, "554 after DATA: 502")
        c.eq(e.get("code"), "554", "554: code")
        c.ok("rejected as spam" in e.get("message", ""), "554: server's words",
             e)
        st, body = d.call("mail550/Email.Send", msg)
        e = err_of(body)
        c.eq(st, 403, "550 on MAIL FROM: 403")
        c.eq(e.get("category"), "upstream_denied", "550 on MAIL: upstream_denied")
        c.ok("not allowed to relay" in e.get("message", ""),
             "550 on MAIL: server's words", e)

        # ---- a message over the server's SIZE limit ---------------------------
        st, body = d.call("small/Email.Send", dict(msg, Body="x" * 5000))
        e = err_of(body)
        c.eq(st, 413, "over the server's SIZE: 413")
        c.eq(e.get("code"), "552", "over SIZE: code 552")
        c.ok("size" in e.get("message", "").lower(), "over SIZE: server's "
             "words", e)
        st, _ = d.call("small/Email.Send", msg)
        c.eq(st, 200, "a small message to the same server goes")

        # ---- non-ASCII addresses need SMTPUTF8 (RFC 6531/6532) ----------------
        for label, inputs in [("non-ASCII local part",
                               {"To": ["jürgen@example.test"]}),
                              ("non-ASCII domain",
                               {"To": ["a@bücher.example.test"]})]:
            st, body = d.call("noutf8/Email.Send", dict(msg, **inputs))
            e = err_of(body)
            c.eq((st, e.get("code")), (502, "smtputf8"),
                 "%s, server without SMTPUTF8: refused" % label)
            c.ok("SMTPUTF8" in e.get("message", ""), "%s: says why" % label,
                 e)
        st, body = d.call("noutf8/Email.Send", dict(
            msg, ReplyTo=["rené@example.test"]))
        c.eq((st, err_of(body).get("code")), (400, "smtputf8"),
             "non-ASCII ReplyTo, server without SMTPUTF8: refused")
        c.eq(noutf8.messages(), [], "without SMTPUTF8: nothing delivered")
        st, body = d.call("utf8/Email.Send", dict(msg, To=["jürgen@example.test"],
                                                  Cc=["a@bücher.example.test"]))
        c.eq(st, 200, "non-ASCII recipients, server with SMTPUTF8: sent")
        if st == 200:
            raw, env = utf8.messages()[-1]
            c.eq(sorted(env["rcpt_tos"]),
                 ["a@bücher.example.test", "jürgen@example.test"],
                 "SMTPUTF8: exact envelope addresses")
            c.ok("jürgen@example.test".encode() in raw and
                 "a@bücher.example.test".encode() in raw,
                 "SMTPUTF8: UTF-8 addresses in the headers (RFC 6532)")
        n = len(utf8.messages())
        st, body = d.call("utf8/Email.Send", dict(
            msg, ReplyTo=["rené@example.test"]))
        e = err_of(body)
        c.eq((st, e.get("code")), (400, "smtputf8"),
             "non-ASCII address only in ReplyTo: refused (not declarable)")
        st, body = d.call("utf8/Email.Send", dict(msg, From="jörg@example.test"))
        c.eq((st, err_of(body).get("code")), (400, "smtputf8"),
             "non-ASCII From sent on behalf: refused")
        c.eq(len(utf8.messages()), n, "undeclared 8-bit headers never sent")

        # ---- a kept connection the server closed meanwhile ---------------------
        st, _ = d.call("idle/Email.Send", msg)
        c.eq(st, 200, "idle: first send")
        time.sleep(2.5)  # the server drops the silent session after 1 s
        st, body = d.call("idle/Email.Send", msg)
        c.ok(st == 200, "idle: send after the server closed the kept "
             "connection", body)
        c.eq(len(idle.messages()), 2, "idle: both delivered")
        c.eq(idle.connections(), 2, "idle: a new connection for the second")

        # ---- max_per_minute ----------------------------------------------------
        n = len(ok.messages())
        for i in range(2):
            st, _ = d.call("rate_refuse/Email.Send", msg)
            c.eq(st, 200, "rate: send %d within the limit" % (i + 1))
        t0 = time.monotonic()
        st, body = d.call("rate_refuse/Email.Send", msg)
        e = err_of(body)
        c.eq(st, 429, "rate: over the limit with a short deadline: 429")
        c.eq(e.get("category"), "throttled", "rate: throttled")
        ra = e.get("retry_after_ms", 0)
        c.ok(50000 < ra <= 60000, "rate: retry_after_ms about a minute", e)
        c.ok(time.monotonic() - t0 < 1.5, "rate: answered without waiting")
        c.eq(len(ok.messages()), n + 2, "rate: the refused one was not sent")
        # the other instance has its own window
        st, _ = d.call("rate_wait/Email.Send", msg)
        c.eq(st, 200, "rate: instances have separate limits")
finally:
    for s in servers:
        s.stop()
        s.cleanup()
c.done()
