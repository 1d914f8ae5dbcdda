#!/usr/bin/python3
"""MIME benchmark (not a test): the calls that build and read messages,
through svcbrokerd's HTTP API, for one build:

  - mapi-stub Email.Send: a message with a Unicode subject, text, HTML and
    two attachments (one with a non-ASCII name), to two local mailboxes;
  - mapi-stub Email.List: the recipient's Inbox, a page of 50 rows;
  - mapi-stub Email.Load: each message in turn;
  - smtp Email.Send: the same message to a local aiosmtpd server.

For each: calls per second (one client, keep-alive), and the daemon's
resident memory (VmRSS) after the phase and its peak (VmHWM), and the
daemon's CPU time per call (utime + stime), from /proc.  Prints one JSON object (bench/mime/run.sh runs it for two builds
and writes the comparison).

    bench.py --build BUILD_DIR [--calls N]
"""
import argparse
import base64
import http.client
import json
import os
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "mock"))

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
SUBJECT = "Grüße aus Köln — 東京 benchmark message %d"
BODY = "Hallo Bob,\n\n" + "a line of text of about sixty characters, Ümläute.\n" * 40
HTML = "<html><body>" + "<p>a paragraph <b>of</b> HTML — €</p>\n" * 40 + "</body></html>"
ATTS = [{"Name": "report.pdf", "ContentType": "application/pdf",
         "Content": base64.b64encode(bytes(range(256)) * 80).decode()},
        {"Name": "Prüfbericht März.txt", "ContentType": "text/plain",
         "Content": base64.b64encode(("Inhalt\n" * 200).encode()).decode()}]


def proc_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def daemon_pid(d):
    """The svcbrokerd process (the libtool wrapper execs it, same pid)."""
    return d.proc.pid


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, address, inputs):
        inst, rest = address.split("/", 1)
        obj, meth = rest.split(".", 1)
        self.conn.request("POST", "/v1/call/%s/%s/%s" % (inst, obj, meth),
                          json.dumps({"inputs": inputs}),
                          {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        body = r.read()
        return r.status, json.loads(body) if body else {}


def cpu_seconds(pid):
    """The daemon's CPU time (user + system), from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase(name, pid, n, fn, out):
    rss0 = proc_kib(pid, "VmRSS")
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    bad = 0
    for i in range(n):
        st = fn(i)
        if st != 200:
            bad += 1
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    out[name] = {"calls": n, "seconds": elapsed, "rate": n / elapsed,
                 "cpu_ms_per_call": cpu * 1000 / n,
                 "errors": bad, "rss_before_kib": rss0,
                 "rss_after_kib": proc_kib(pid, "VmRSS"),
                 "hwm_kib": proc_kib(pid, "VmHWM")}
    print("%-22s %5d calls %7.2f s %8.1f/s  CPU %.2f ms/call  RSS %d -> %d KiB"
          "  peak %d KiB%s"
          % (name, n, elapsed, n / elapsed, cpu * 1000 / n, rss0,
             out[name]["rss_after_kib"],
             out[name]["hwm_kib"], "  ERRORS %d" % bad if bad else ""),
          file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--calls", type=int, default=300)
    opts = ap.parse_args()
    os.environ["top_builddir"] = os.path.abspath(opts.build)
    os.environ["top_srcdir"] = TOP
    import sbtest
    from smtp_server import MockSMTP

    n = opts.calls
    out = {"build": opts.build}
    store = tempfile.mkdtemp(prefix="sb-bench-mime-")
    with MockSMTP([]) as mx:
        cfg = ("[module mapi-stub]\nenabled = yes\n\n[instance local]\n"
               "broker = mapi-stub\nstore_dir = %s\nmailboxes = %s, %s, %s\n"
               "quota = 10GiB\nmax_message_size = 2MiB\n\n"
               "[module smtp]\nenabled = yes\n[instance mail]\nbroker = smtp\n"
               "url = smtp://127.0.0.1:%d\nhelo_name = client.example.test\n"
               "from = %s\ntimeout = 60s\n" % (store, ALICE, BOB, CAROL,
                                               mx.port, ALICE))
        with sbtest.Daemon(cfg, server_extra="log_level = warn\n") as d:
            pid = daemon_pid(d)
            c = Client(d.port)
            msg = {"To": [BOB], "Cc": [CAROL], "Body": BODY,
                   "HtmlBody": HTML, "Attachments": ATTS}
            # warm up
            for i in range(5):
                c.call("local/Email.Send", dict(msg, Subject=SUBJECT % -i))
                c.call("mail/Email.Send", dict(msg, Subject=SUBJECT % -i))
            phase("mapi-stub Send", pid, n, lambda i: c.call(
                "local/Email.Send", dict(msg, Subject=SUBJECT % i))[0], out)
            st, b = c.call("local/Email.List", {"Mailbox": BOB,
                                                "PageSize": 1000})
            ids = [r["Id"] for r in b.get("rows", [])]
            if len(ids) < n:
                sys.exit("bench.py: listed %d of %d messages" % (len(ids), n))
            phase("mapi-stub List", pid, max(n // 5, 1), lambda i: c.call(
                "local/Email.List", {"Mailbox": BOB, "PageSize": 50})[0], out)
            phase("mapi-stub Load", pid, n, lambda i: c.call(
                "local/Email.Load", {"Mailbox": BOB, "Id": ids[i]})[0], out)
            phase("smtp Send", pid, n, lambda i: c.call(
                "mail/Email.Send", dict(msg, Subject=SUBJECT % i))[0], out)
    print(json.dumps(out))
    return 1 if any(v["errors"] for k, v in out.items() if k != "build") else 0


if __name__ == "__main__":
    sys.exit(main())
