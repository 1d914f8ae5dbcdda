#!/usr/bin/python3
"""SMTP benchmark (not a test): the same N messages sent to one local
aiosmtpd server (tests/mock/smtp_server.py, which writes each message to
disk) by

  1. svcbroker: POST /v1/call/mail/Email/Send to svcbrokerd (smtp broker),
     one HTTP keep-alive connection per client, CLIENTS clients at once;
  2. swaks: one process (and SMTP connection) per message, CLIENTS at once;
  3. Python smtplib: one SMTP connection per client, reused for every
     message (the best case for a script), CLIENTS clients at once.

Prints messages/second for each and the ratios, and writes a Markdown
section to the file given with --markdown.

    bench.py --build BUILD_DIR [--messages N] [--clients C] [--markdown F]
"""
import argparse
import base64
import http.client
import json
import os
import platform
import shutil
import smtplib
import subprocess
import sys
import threading
import time
from email.message import EmailMessage

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "mock"))

SUBJECT = "Benchmark message %d"
BODY = ("This is a benchmark message of about one kilobyte.\n" * 20)
FROM = "bench@example.test"
TO = "rcpt@example.test"


def run_clients(n, clients, work):
    """Split n messages over `clients` threads running work(k, indices);
    returns (elapsed seconds, errors)."""
    errors = []
    lock = threading.Lock()

    def worker(k):
        idx = list(range(k, n, clients))
        try:
            bad = work(k, idx)
        except Exception as e:  # noqa: BLE001 - counted, reported
            bad = len(idx)
            with lock:
                errors.append(repr(e))
        if bad:
            with lock:
                errors.append("%d failed in client %d" % (bad, k))

    threads = [threading.Thread(target=worker, args=(k,))
               for k in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(3600)
    return time.monotonic() - t0, errors


def bench_broker(port, n, clients):
    def work(k, idx):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        bad = 0
        for i in idx:
            body = json.dumps({"inputs": {
                "From": FROM, "To": [TO], "Subject": SUBJECT % i,
                "Body": BODY}})
            conn.request("POST", "/v1/call/mail/Email/Send", body,
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                bad += 1
        conn.close()
        return bad
    return run_clients(n, clients, work)


def bench_swaks(port, n, clients):
    def work(k, idx):
        bad = 0
        for i in idx:
            p = subprocess.run(
                ["swaks", "--silent", "2", "--server", "127.0.0.1",
                 "--port", str(port), "--helo", "client.example.test",
                 "--from", FROM, "--to", TO,
                 "--header", "Subject: " + SUBJECT % i,
                 "--body", BODY],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                timeout=60)
            bad += p.returncode != 0
        return bad
    return run_clients(n, clients, work)


def bench_smtplib(port, n, clients):
    def work(k, idx):
        bad = 0
        with smtplib.SMTP("127.0.0.1", port,
                          local_hostname="client.example.test",
                          timeout=60) as s:
            for i in idx:
                m = EmailMessage()
                m["From"] = FROM
                m["To"] = TO
                m["Subject"] = SUBJECT % i
                m.set_content(BODY)
                refused = s.send_message(m)
                bad += bool(refused)
        return bad
    return run_clients(n, clients, work)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--swaks-messages", type=int, default=100,
                    help="swaks is slow: fewer messages, same rate")
    ap.add_argument("--markdown")
    opts = ap.parse_args()
    os.environ["top_builddir"] = os.path.abspath(opts.build)
    os.environ["top_srcdir"] = TOP
    import sbtest
    from smtp_server import MockSMTP

    if not shutil.which("swaks"):
        sys.exit("bench.py: swaks not found (apt-get install swaks)")
    n, clients = opts.messages, opts.clients
    results = []
    with MockSMTP([]) as mx:
        cfg = ("[module smtp]\nenabled = yes\n[instance mail]\nbroker = smtp\n"
               "url = smtp://127.0.0.1:%d\nhelo_name = client.example.test\n"
               "from = %s\nmax_concurrency = %d\ntimeout = 60s\n"
               % (mx.port, FROM, max(clients, 1)))
        with sbtest.Daemon(cfg, server_extra="log_level = warn\n") as d:
            # warm up: first connection, code paths
            for i in range(5):
                st, _ = d.call("mail/Email.Send", {"To": [TO], "Body": "w"})
                if st != 200:
                    sys.exit("bench.py: warm-up send failed: %s" % st)
            for name, fn, port, count in [
                    ("svcbroker (smtp broker via HTTP API)", bench_broker,
                     d.port, n),
                    ("Python smtplib (one connection per client)",
                     bench_smtplib, mx.port, n),
                    ("swaks (one process per message)", bench_swaks,
                     mx.port, min(n, opts.swaks_messages))]:
                before = len(mx.messages())
                conns = mx.connections()
                load = os.getloadavg()[0]
                elapsed, errors = fn(port, count, clients)
                got = len(mx.messages()) - before
                results.append({
                    "name": name, "seconds": elapsed, "received": got,
                    "sent": count, "load": load,
                    "errors": errors, "rate": got / elapsed if elapsed else 0,
                    "connections": mx.connections() - conns})
                print("%-45s %6d msgs in %7.2f s = %8.1f msg/s "
                      "(%d SMTP connections)%s" % (
                          name, got, elapsed, got / elapsed,
                          mx.connections() - conns,
                          " ERRORS: %s" % errors[:3] if errors else ""),
                      flush=True)
    broker = results[0]["rate"]
    ratios = {r["name"]: broker / r["rate"] if r["rate"] else 0
              for r in results[1:]}
    for name, ratio in ratios.items():
        print("svcbroker / %s = %.2f" % (name, ratio))
    if opts.markdown:
        with open(opts.markdown, "w") as f:
            f.write(markdown(results, ratios, n, clients))
    return 1 if any(r["errors"] or r["received"] != r["sent"]
                    for r in results) else 0


def markdown(results, ratios, n, clients):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ncpu = os.cpu_count()
    toks = subprocess.run(["curl", "--version"], capture_output=True,
                          text=True).stdout.split()
    lib = [t.split("/", 1)[1] for t in toks if t.startswith("libcurl/")]
    tls = [t.replace("/", " ") for t in toks if t.startswith("OpenSSL/")]
    curl = "libcurl %s%s" % (lib[0] if lib else "?",
                             " (%s)" % tls[0] if tls else "")
    swaks = subprocess.run(["swaks", "--version"], capture_output=True,
                           text=True).stdout.strip().split("\n")[0]
    import aiosmtpd
    import textwrap

    def para(text):
        return textwrap.fill(text, 76)

    def item(text):
        return textwrap.fill(text, 76, initial_indent="- ",
                             subsequent_indent="  ")
    lines = [
        "## SMTP",
        "",
        para("Measured %s with `bench/smtp/run.sh` on %d CPUs (%s), Python %s, "
        "%s, %s, aiosmtpd %s.  One local aiosmtpd server "
        "(`tests/mock/smtp_server.py`, which writes every message to disk) "
        "receives the same plain-text messages (about 1 KiB each, one "
        "recipient; %d per sender, %d for swaks which is slow) from each "
        "sender in turn, %d clients at a time; a sender is credited only "
        "with messages the server saved.  The load average column is the "
        "machine's 1-minute load when each run started (other work on "
        "the machine slows the process-heavy swaks most)."
        % (time.strftime("%Y-%m-%d"), ncpu, cpu, platform.python_version(),
           curl, swaks, aiosmtpd.__version__, n, results[-1]["sent"],
           clients)),
        "",
        "| sender | messages | seconds | messages/s | SMTP connections "
        "| svcbroker is | load average |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = ratios.get(r["name"])
        lines.append("| %s | %d | %.2f | %.1f | %d | %s | %.1f |" % (
            r["name"], r["received"], r["seconds"], r["rate"],
            r["connections"], "%.2f× as fast" % ratio if ratio else "—",
            r["load"]))
    lines += [
        "",
        item("svcbroker: each message is a `POST "
             "/v1/call/mail/Email/Send` (JSON in, inputs validated, MIME "
             "built, sent with libcurl, JSON out) on an HTTP keep-alive "
             "connection; the broker keeps one libcurl handle, and so one "
             "SMTP connection, per concurrent call and reuses it (its "
             "connection count excludes the one opened by the warm-up "
             "sends)."),
        item("Python smtplib: one `smtplib.SMTP` connection per client, "
             "reused for every message (`send_message`), the fastest way a "
             "script sends; no HTTP, no JSON, no validation."),
        item("swaks: one `swaks` process per message, hence one Perl "
             "start-up and one SMTP connection per message, which is how "
             "shell scripts and monitoring checks usually send."),
        *([item("This run shared the machine with other builds and tests "
                 "(load average above twice the CPU count): absolute "
                 "figures are low and noisy, and swaks, which starts a "
                 "process per message, suffers most; rerun on an idle "
                 "machine for clean figures.")]
          if max(r["load"] for r in results) > 2 * (ncpu or 1) else []),
        item("The server is one Python process and, with the senders, "
             "shares the machine's CPUs: the figures compare clients of the "
             "same server, not the broker's own limit.  The HTTP clients of "
             "the broker run are Python threads too, so that run has two "
             "Python processes and the daemon on the CPUs where smtplib has "
             "one.  Short runs vary a lot (500 messages: 290 to 510 msg/s "
             "for svcbroker on an idle machine); use MESSAGES=3000 or more."),
        "",
        para("Reproduce: `bench/smtp/run.sh [BUILD_DIR]` (environment: "
             "MESSAGES, default 500; SWAKS_MESSAGES, default 100; CLIENTS, "
             "default 4; WRITE=0 to print without rewriting this "
             "section)."),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
