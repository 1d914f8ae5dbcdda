#!/usr/bin/python3
"""smtp broker, Email.Send through the real daemon to a real SMTP server
(aiosmtpd on loopback).  Every message the server received is parsed with
Python's email package (policy=default): no defects, the right structure,
the exact Unicode text that was sent."""
import base64
import os
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

c = sbtest.Checks()


def instance(port, name="mail", extra=""):
    return ("[instance %s]\nbroker = smtp\nurl = smtp://127.0.0.1:%d\n"
            "helo_name = client.example.test\nfrom = sender@example.test\n"
            "timeout = 10s\n%s\n" % (name, port, extra))


def file_input(name, data, ctype="application/octet-stream"):
    return {"Name": name, "ContentType": ctype,
            "Content": base64.b64encode(data).decode()}


def err_of(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def text_of(part):
    # the wire has CRLF; compare text with LF
    return part.get_content().replace("\r\n", "\n")


SUBJECT = "Grüße aus Köln — 東京 😀 " + "ein langer Betreff " * 5
# header text goes out without its trailing white space (GMime)
SUBJECT_READ = SUBJECT.rstrip()
BODY = "Hallo Zoë,\n\nline with trailing space \n=3D is not decoded\n.\n" \
       "From the start\nΑλφα βήτα 😀\n"
HTML = "<p>Hallo <b>Zoë</b> 😀</p>\n"
ATT_NAME = "résumé — Ünïcödé 東京 very long attachment name for folding.pdf"
ATT_DATA = bytes(range(256)) * 40

mx = MockSMTP(["--refuse", "gone@example.test=550 5.1.1 <gone@example.test>: "
               "no such user here",
               "--refuse", "full@example.test=452 4.2.2 mailbox full, try later"])
mx.start()
try:
    cfg = "[module smtp]\nenabled = yes\n" + instance(mx.port) + \
        instance(mx.port, "plain", "plain_text_only = yes\n"
                 "max_attachment_size = 1KiB\n") + \
        instance(mx.port, "onbehalf", "allow_from_override = yes\n") + \
        instance(mx.port, "reuse", "max_concurrency = 4\n") + \
        ("[instance bulk]\nbroker = smtp\nurl = smtp://127.0.0.1:%d\n"
         "helo_name = client.example.test\nfrom = sender@example.test\n"
         "timeout = 120s\n" % mx.port)
    with sbtest.Daemon(cfg) as d:
        # ---- a rich message -------------------------------------------------
        st, body = d.call("mail/Email.Send", {
            "To": ["alice@example.test", "bob@example.test"],
            "Cc": ["carol@example.test"],
            "Bcc": ["hidden@example.test"],
            "ReplyTo": ["replies@example.test"],
            "Subject": SUBJECT,
            "Body": BODY,
            "HtmlBody": HTML,
            "Importance": "High",
            "Attachments": [file_input(ATT_NAME, ATT_DATA, "application/pdf"),
                            file_input("notes.txt", b"plain\r\nnotes\r\n",
                                       "text/plain")],
        })
        c.eq(st, 200, "rich send answers 200")
        row = body["rows"][0] if st == 200 else {}
        c.eq(sorted(row.get("Accepted", [])),
             ["alice@example.test", "bob@example.test", "carol@example.test",
              "hidden@example.test"], "every recipient accepted")
        c.eq(row.get("Rejected"), [], "nobody rejected")
        msgid = row.get("MessageId", "")
        c.ok(msgid.startswith("<") and msgid.endswith("@example.test>"),
             "MessageId <random@domain-of-From>", msgid)
        msgs = mx.messages()
        c.eq(len(msgs), 1, "server received one message")
        raw, env = msgs[-1]
        msg, defects = parse_strict(raw)
        c.eq(defects, [], "no defects in the rich message")
        c.eq(env["mail_from"], "sender@example.test", "envelope sender")
        c.eq(env["helo"], "client.example.test", "EHLO sends helo_name")
        c.eq(sorted(env["rcpt_tos"]),
             ["alice@example.test", "bob@example.test", "carol@example.test",
              "hidden@example.test"], "envelope has every recipient (Bcc too)")
        c.ok(b"hidden@example.test" not in raw, "Bcc appears nowhere in the "
             "message")
        c.eq(msg["Bcc"], None, "no Bcc header")
        c.eq(str(msg["Subject"]), SUBJECT_READ, "Subject exact Unicode")
        c.eq(msg["Message-ID"], msgid, "Message-ID header = MessageId")
        c.ok(msg["Date"] is not None and msg["Date"].datetime is not None,
             "Date header parses")
        c.eq(msg["MIME-Version"], "1.0", "MIME-Version")
        c.eq(str(msg["Importance"]).lower(), "high", "Importance header")
        c.ok(str(msg["X-Priority"]).startswith("1"), "X-Priority header")
        c.eq([a.addr_spec for a in msg["To"].addresses],
             ["alice@example.test", "bob@example.test"], "To header")
        c.eq([a.addr_spec for a in msg["Cc"].addresses],
             ["carol@example.test"], "Cc header")
        c.eq([a.addr_spec for a in msg["Reply-To"].addresses],
             ["replies@example.test"], "Reply-To header")
        c.eq(msg.get_content_type(), "multipart/mixed", "top is mixed")
        parts = list(msg.iter_parts())
        c.eq(parts[0].get_content_type(), "multipart/alternative",
             "first part is alternative")
        alt = list(parts[0].iter_parts())
        c.eq([p.get_content_type() for p in alt], ["text/plain", "text/html"],
             "alternative: text then HTML")
        c.eq(text_of(alt[0]), BODY, "plain body exact Unicode")
        c.eq(text_of(alt[1]), HTML, "HTML body exact Unicode")
        atts = list(msg.iter_attachments())
        c.eq([a.get_filename() for a in atts], [ATT_NAME, "notes.txt"],
             "attachment names exact (RFC 2231)")
        c.eq(atts[0].get_content(), ATT_DATA, "binary attachment exact")
        c.eq(atts[0].get_content_type(), "application/pdf",
             "attachment content type")
        c.eq(atts[1].get_payload(decode=True), b"plain\r\nnotes\r\n",
             "text attachment bytes exact")
        c.ok(all(len(line) <= 78 for line in raw.split(b"\r\n")),
             "every line <= 78 characters")
        c.ok(b"\n" not in raw.replace(b"\r\n", b""), "CRLF line endings only")
        c.ok(all(b < 0x80 for b in raw), "7-bit on the wire")

        # ---- Importance Low and Normal -----------------------------------------
        for imp, prio in (("Low", "5"), ("Normal", "3")):
            st, body = d.call("mail/Email.Send", {
                "To": ["alice@example.test"], "Subject": "imp " + imp,
                "Importance": imp})
            c.eq(st, 200, "Importance %s: sent" % imp)
            msg, defects = parse_strict(mx.messages()[-1][0])
            c.eq((defects, str(msg["Importance"]).lower(),
                  str(msg["X-Priority"])[:1]), ([], imp.lower(), prio),
                 "Importance %s: headers" % imp)

        # ---- HTML only: the text part is the HTML's text ---------------------
        st, body = d.call("mail/Email.Send", {
            "To": ["alice@example.test"], "Subject": "html only",
            "HtmlBody": "<p>Hello <b>Zoë</b> &amp; co</p><ul><li>one</li>"
                        "<li>two</li></ul>"})
        c.eq(st, 200, "HTML-only send 200")
        msg, defects = parse_strict(mx.messages()[-1][0])
        c.eq(defects, [], "HTML-only message has no defects")
        alt = list(msg.iter_parts())
        c.eq([p.get_content_type() for p in alt], ["text/plain", "text/html"],
             "HTML only: still multipart/alternative")
        if len(alt) == 2:
            c.eq(text_of(alt[0]), "Hello Zoë & co\n\n- one\n- two",
                 "HTML only: text part rendered from the HTML")

        # ---- a plain message --------------------------------------------------
        st, body = d.call("mail/Email.Send", {
            "To": ["alice@example.test"], "Subject": "plain ascii",
            "Body": "just text\n"})
        c.eq(st, 200, "plain send 200")
        raw, env = mx.messages()[-1]
        msg, defects = parse_strict(raw)
        c.eq(defects, [], "no defects in the plain message")
        c.eq(msg.get_content_type(), "text/plain", "single text/plain part")
        c.eq(msg.get_content_charset(), "utf-8", "charset utf-8")
        c.eq(text_of(msg), "just text\n", "plain body exact")
        c.ok(body["rows"][0]["MessageId"] != msgid, "Message-IDs differ")

        # ---- partial acceptance -------------------------------------------------
        n_before = len(mx.messages())
        st, body = d.call("mail/Email.Send", {
            "To": ["alice@example.test", "gone@example.test"],
            "Cc": ["full@example.test"], "Subject": "partial"})
        c.eq(st, 200, "partial acceptance still sends")
        row = body["rows"][0] if st == 200 else {}
        c.eq(row.get("Accepted"), ["alice@example.test"], "Accepted lists "
             "the accepted one")
        c.eq(sorted(row.get("Rejected", [])),
             ["full@example.test: 452 4.2.2 mailbox full, try later",
              "gone@example.test: 550 5.1.1 <gone@example.test>: no such "
              "user here"], "Rejected carries the server's words")
        c.eq(len(mx.messages()), n_before + 1, "message delivered once")
        c.eq(mx.messages()[-1][1]["rcpt_tos"], ["alice@example.test"],
             "only the accepted recipient in the envelope")

        # ---- as many recipients as the inputs take, long addresses ----------
        # every reply is kept: Accepted and Rejected stay truthful
        dom = ".".join(["d" * 60] * 3) + ".example.test"

        def many(tag, n):
            return ["%s%04d%s@%s" % (tag, i, "x" * 50, dom) for i in range(n)]
        to, cc = many("t", 1000), many("c", 1000)
        bcc = many("b", 998) + ["gone@example.test", "full@example.test"]
        n_before = len(mx.messages())
        st, body = d.call("bulk/Email.Send", {
            "To": to, "Cc": cc, "Bcc": bcc, "Subject": "bulk",
            "Body": "to many\n"})
        c.eq(st, 200, "3000 recipients: sent")
        row = body["rows"][0] if st == 200 else {}
        c.eq(len(row.get("Accepted", [])), 2998,
             "3000 recipients: 2998 accepted")
        c.eq(sorted(row.get("Accepted", [])), sorted(to + cc + bcc[:998]),
             "3000 recipients: Accepted are exactly the accepted ones")
        c.eq(sorted(row.get("Rejected", [])),
             ["full@example.test: 452 4.2.2 mailbox full, try later",
              "gone@example.test: 550 5.1.1 <gone@example.test>: no such "
              "user here"], "3000 recipients: the two refused, with reasons")
        c.eq(len(mx.messages()), n_before + 1, "3000 recipients: one message")
        if len(mx.messages()) == n_before + 1:
            raw, env = mx.messages()[-1]
            c.eq(len(env["rcpt_tos"]), 2998, "3000 recipients: envelope")
            msg, defects = parse_strict(raw)
            c.eq(defects, [], "3000 recipients: no defects")
            c.eq(len(msg["To"].addresses) + len(msg["Cc"].addresses), 2000,
                 "3000 recipients: To and Cc headers complete")
            c.ok(b"b0000" not in raw, "3000 recipients: no Bcc in the message")
            lines = raw.split(b"\r\n")
            c.ok(max(len(x) for x in lines) <= 998 and
                 sum(len(x) > 78 for x in lines) <= 2000,
                 "3000 recipients: headers folded (one address a line at "
                 "most, no line over 998)")

        # ---- every recipient refused ------------------------------------------
        st, body = d.call("mail/Email.Send", {
            "To": ["gone@example.test"], "Subject": "nobody"})
        e = err_of(body)
        c.eq(st, 502, "all refused: 502")
        c.eq(e.get("category"), "upstream_error", "all refused: upstream_error")
        c.ok("no such user here" in e.get("message", ""),
             "all refused: server's text in the message", e)
        c.eq(len(mx.messages()), n_before + 1, "nothing sent when all refused")

        # ---- header injection and bad input: nothing reaches the server --------
        conns = mx.connections()
        n_before = len(mx.messages())
        st, body = d.call("mail/Email.Send", {
            "To": ["alice@example.test"],
            "Subject": "hi\r\nBcc: victim@example.test"})
        c.eq(st, 400, "CR/LF in Subject refused")
        c.ok("Subject" in err_of(body).get("message", ""),
             "refusal names Subject", body)
        for label, inputs in [
                ("LF in Subject", {"To": ["a@example.test"],
                                   "Subject": "x\nBcc: victim@example.test"}),
                ("bad To", {"To": ["not an address"]}),
                ("CRLF in To", {"To": ["a@example.test\r\nBcc: v@x.test"]}),
                ("bad Bcc", {"To": ["a@example.test"], "Bcc": ["@@"]}),
                ("no recipients", {"Subject": "nobody to send to"}),
                ("empty recipient lists", {"To": [], "Cc": [], "Bcc": []}),
                ("bad Importance", {"To": ["a@example.test"],
                                    "Importance": "Urgent"}),
                ("CRLF in an attachment name", {
                    "To": ["a@example.test"], "Attachments": [file_input(
                        "a.txt\r\nBcc: victim@example.test", b"x")]}),
                ("LF in an attachment name", {
                    "To": ["a@example.test"], "Attachments": [file_input(
                        "a.txt\nContent-Type: text/html", b"x")]}),
                ("CRLF in an attachment content type", {
                    "To": ["a@example.test"], "Attachments": [file_input(
                        "a.txt", b"x", "text/plain\r\nBcc: v@example.test")]}),
                ("CR in a content type parameter", {
                    "To": ["a@example.test"], "Attachments": [file_input(
                        "a.txt", b"x", 'text/plain; name="x\r"')]}),
                ("CRLF in From", {"From": "x@example.test\r\nBcc: v@x.test",
                                  "To": ["a@example.test"]}),
                ("CRLF in ReplyTo", {"To": ["a@example.test"],
                                     "ReplyTo": ["r@example.test\r\nX: y"]}),
                ("CR in Cc", {"To": ["a@example.test"],
                              "Cc": ["r@example.test\rBcc: v@x.test"]}),
                ("CRLF in a quoted local part", {
                    "To": ['"a\r\nBcc: v@x.test"@example.test']}),
                ("CRLF in Importance", {"To": ["a@example.test"],
                                        "Importance": "High\r\nBcc: v@x.t"}),
                ("U+2028 in Subject", {"To": ["a@example.test"],
                                       "Subject": "a\u2028Bcc: v@x.test"}),
                ("control character in Subject", {"To": ["a@example.test"],
                                                  "Subject": "bell\x07"}),
                ("NUL in Body", {"To": ["a@example.test"],
                                 "Body": "before\x00Bcc: v@x.test"}),
                ("invalid UTF-8 is not JSON text", None)]:
            if inputs is None:
                st, body = d.request(
                    "POST", "/v1/call/mail/Email/Send",
                    b'{"inputs": {"To": ["a@example.test"], "Subject": "\xff"}}',
                    headers={"Content-Type": "application/json"})
            else:
                st, body = d.call("mail/Email.Send", inputs)
            c.eq(st, 400, "%s: 400" % label)
        c.eq(len(mx.messages()), n_before, "bad input: nothing delivered")
        c.eq(mx.connections(), conns, "bad input: server never contacted")

        # ---- instance rules -------------------------------------------------
        st, body = d.call("plain/Email.Send", {
            "To": ["a@example.test"], "Body": "t", "HtmlBody": "<p>h</p>"})
        c.eq(st, 400, "plain_text_only refuses HtmlBody")
        c.ok("plain_text_only" in err_of(body).get("message", ""),
             "plain_text_only named", body)
        st, body = d.call("plain/Email.Send", {
            "To": ["a@example.test"],
            "Attachments": [file_input("big.bin", b"x" * 2048)]})
        c.eq(st, 413, "attachment over max_attachment_size: 413")
        c.eq(err_of(body).get("category"), "payload_too_large",
             "payload_too_large category")
        st, body = d.call("plain/Email.Send", {
            "To": ["a@example.test"],
            "Attachments": [file_input("small.bin", b"x" * 1024)]})
        c.eq(st, 200, "attachment at max_attachment_size accepted")

        st, body = d.call("mail/Email.Send", {
            "From": "boss@example.test", "To": ["a@example.test"]})
        c.eq(st, 403, "another From without allow_from_override: 403")
        c.eq(err_of(body).get("category"), "forbidden", "forbidden category")
        st, body = d.call("onbehalf/Email.Send", {
            "From": "boss@example.test", "To": ["a@example.test"],
            "Subject": "on behalf"})
        c.eq(st, 200, "allow_from_override: sent")
        raw, env = mx.messages()[-1]
        msg, defects = parse_strict(raw)
        c.eq(defects, [], "on-behalf message has no defects")
        c.eq(msg["From"].addresses[0].addr_spec, "boss@example.test",
             "From is the given sender")
        c.eq(msg["Sender"].address.addr_spec, "sender@example.test",
             "Sender is the instance's from")
        c.eq(env["mail_from"], "sender@example.test",
             "envelope sender is the instance's from")
        st, body = d.call("mail/Email.Send", {
            "From": "sender@example.test", "To": ["a@example.test"]})
        c.eq(st, 200, "From equal to `from` is fine without override")
        c.eq(parse_strict(mx.messages()[-1][0])[0]["Sender"], None,
             "no Sender header when From is the instance's own")

        # ---- connection reuse ------------------------------------------------
        # a fresh instance: its first send connects, the others reuse
        conns = mx.connections()
        n = 10
        ok = 0
        for i in range(n):
            st, _ = d.call("reuse/Email.Send", {
                "To": ["alice@example.test"], "Subject": "reuse %d" % i})
            ok += st == 200
        c.eq(ok, n, "%d sequential sends" % n)
        c.eq(mx.connections() - conns, 1,
             "%d sequential sends share one connection" % n)
        # concurrent calls each take a handle: at most max_concurrency (4)
        # connections, then reused
        import threading
        results = []

        def burst(k):
            for i in range(5):
                st, _ = d.call("reuse/Email.Send", {
                    "To": ["bob@example.test"], "Subject": "t%d-%d" % (k, i)})
                results.append(st)
        conns = mx.connections()
        before = len(mx.messages())
        threads = [threading.Thread(target=burst, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        c.eq(results.count(200), 20, "20 concurrent sends succeed")
        c.eq(len(mx.messages()) - before, 20, "20 concurrent sends delivered")
        used = mx.connections() - conns
        c.ok(used <= 3, "concurrent sends reuse connections",
             "(%d new connections for 20 sends)" % used)
        ids = set()
        for raw, env in mx.messages():
            ids.add(parse_strict(raw)[0]["Message-ID"])
        c.eq(len(ids), len(mx.messages()), "every Message-ID unique")
        log = d.read_log()
        c.ok("secret" not in log, "no secret in the daemon log")

    # ---- From is the mailbox a client acts for (SB_MAILBOX) --------------
    import hashlib
    toks = {"desk": "desk-" + "a1" * 16, "app": "app-" + "b2" * 16}
    grants = ("[client desk]\ntoken_sha256 = %s\nallow = */Email.Send\n"
              "mailboxes = *@example.test\n\n[client app]\n"
              "token_sha256 = %s\nallow = */Email.Send\n"
              % tuple(hashlib.sha256(toks[k].encode()).hexdigest()
                      for k in ("desk", "app")))
    with sbtest.Daemon("[module smtp]\nenabled = yes\n" +
                       instance(mx.port, "onbehalf",
                                "allow_from_override = yes\n") +
                       grants) as d:
        def send_as(who, sender):
            inputs = {"To": ["a@example.test"], "Subject": "grants"}
            if sender:
                inputs["From"] = sender
            return d.request("POST", "/v1/call/onbehalf/Email/Send",
                             {"inputs": inputs},
                             headers={"Authorization": "Bearer " +
                                      toks[who]})
        before = len(mx.messages())
        st, _ = send_as("desk", "boss@example.test")
        c.eq(st, 200, "a client of *@example.test sends as "
             "boss@example.test")
        st, body = send_as("desk", "boss@example.org")
        c.ok(st == 403 and "boss@example.org" in
             err_of(body).get("message", ""),
             "... but not as boss@example.org: 403 naming it",
             "%s %s" % (st, err_of(body)))
        st, _ = send_as("app", None)
        c.eq(st, 200, "a client of the default grant sends as the "
             "instance's own sender")
        st, _ = send_as("app", "boss@example.test")
        c.eq(st, 403, "... and as nobody else, allow_from_override or not")
        c.eq(len(mx.messages()) - before, 2,
             "the refused sends reached no server")
finally:
    mx.stop()
    mx.cleanup()
c.done()
