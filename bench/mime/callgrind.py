#!/usr/bin/python3
"""Instructions per call of mapi-stub's and smtp's Email.Send and of
mapi-stub's Email.Load of the messages sent (not a test):
svcbrokerd under valgrind's callgrind, the message of bench/mime/bench.py,
instrumentation on only for the calls measured (callgrind_control), one
profile per phase.  Instruction counts are what a shared, loaded machine
does not disturb (wall clock and CPU time are).

    callgrind.py --build BUILD_DIR [--calls N] [--keep DIR]
    callgrind.py --build BUILD_DIR --task-clock [--calls N]

With --task-clock no valgrind: the daemon's CPU time per call (all its
threads) from `perf stat -e task-clock -p PID` over N calls (default then
300) of each broker, split into user and system time (/proc/PID/stat, in
clock ticks), with page faults and context switches per call; machine
load moves it, instructions do not.

Prints, per call, the daemon's instructions over the whole call (HTTP,
JSON, the broker) and those of the functions named in FUNCS that the
build has.  The profiles (callgrind_annotate reads them) stay in DIR with
--keep.  Needs valgrind and python3-aiosmtpd.
"""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "mock"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# file:function as callgrind_annotate names them (inclusive counts)
FUNCS = ["mapi_mail.c:email_send", "smtp_send.c:send_message",
         "mapi_mail.c:email_load", ":sbc_json_result",
         ":sb_mime_build", ":sb_base64_decode", ":sbc_json_decode_call"]


def inclusive(profile):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", profile],
                         capture_output=True, text=True, check=True).stdout
    total, funcs = 0, {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) .*PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S+) \[", line)
        if m:
            for f in FUNCS:
                if m.group(2).endswith(f) and f not in funcs:
                    funcs[f] = int(m.group(1).replace(",", ""))
    return total, funcs


def PHASES(send, load):
    """What is measured: (profile tag, name, the call of round i)."""
    return (("mapisend", "mapi-stub Send", send and send("local")),
            ("smtpsend", "smtp Send", send and send("mail")),
            ("mapiload", "mapi-stub Load", load))


def user_sys(pid):
    """The process's user and system CPU time so far, in ms (clock ticks
    from /proc/PID/stat: coarse, so only over many calls)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) * 1000.0 / hz, int(fields[12]) * 1000.0 / hz)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--keep")
    ap.add_argument("--task-clock", action="store_true")
    opts = ap.parse_args()
    if opts.task_clock and opts.calls == 20:
        opts.calls = 300
    build = os.path.abspath(opts.build)
    os.environ["top_builddir"] = build
    os.environ["top_srcdir"] = TOP
    import sbtest
    import bench
    from smtp_server import MockSMTP

    outdir = opts.keep or tempfile.mkdtemp(prefix="sb-callgrind-")
    os.makedirs(outdir, exist_ok=True)
    prefix = os.path.join(outdir, "callgrind.out")
    if not opts.task_clock:
        sbtest.daemon_command = lambda: [
            os.path.join(build, "libtool"), "--mode=execute", "valgrind",
            "--tool=callgrind", "--instr-atstart=no",
            "--callgrind-out-file=" + prefix + ".%p", sbtest.daemon_path()]
    store = tempfile.mkdtemp(prefix="sb-callgrind-store-")
    n = opts.calls
    try:
        with MockSMTP([]) as mx:
            cfg = ("[module mapi-stub]\nenabled = yes\n\n[instance local]\n"
                   "broker = mapi-stub\nstore_dir = %s\nmailboxes = %s, %s, "
                   "%s\nquota = 10GiB\nmax_message_size = 2MiB\n\n"
                   "[module smtp]\nenabled = yes\n[instance mail]\n"
                   "broker = smtp\nurl = smtp://127.0.0.1:%d\n"
                   "helo_name = client.example.test\nfrom = %s\n"
                   "timeout = 60s\n" % (store, bench.ALICE, bench.BOB,
                                        bench.CAROL, mx.port, bench.ALICE))
            with sbtest.Daemon(cfg, server_extra="log_level = warn\n",
                               start_timeout=120) as d:
                pid = d.proc.pid
                c = bench.Client(d.port)
                msg = {"To": [bench.BOB], "Cc": [bench.CAROL],
                       "Body": bench.BODY, "HtmlBody": bench.HTML,
                       "Attachments": bench.ATTS}

                def ctl(*a):
                    subprocess.run(["callgrind_control", *a, str(pid)],
                                   check=True, stdout=subprocess.DEVNULL)

                for i in range(5):  # warm up
                    for inst in ("local", "mail"):
                        st, _ = c.call(inst + "/Email.Send",
                                       dict(msg, Subject=bench.SUBJECT % -i))
                        if st != 200:
                            sys.exit("callgrind.py: %s answered %d"
                                     % (inst, st))
                def send(inst):
                    def fn(i):
                        st, _ = c.call(inst + "/Email.Send", dict(
                            msg, Subject=bench.SUBJECT % i))
                        return st
                    return fn
                ids = []

                def load(i):
                    if not ids:
                        st, b = c.call("local/Email.List", {
                            "Mailbox": bench.BOB, "PageSize": 1000})
                        ids.extend(r["Id"] for r in b.get("rows", []))
                        if len(ids) < n:
                            sys.exit("callgrind.py: listed %d of %d "
                                     "messages" % (len(ids), n))
                    st, _ = c.call("local/Email.Load",
                                   {"Mailbox": bench.BOB, "Id": ids[i]})
                    return st
                for tag, name, fn in PHASES(send, load):
                    if tag == "mapiload":
                        load(0)  # the ids, before measuring
                    if opts.task_clock:
                        p = subprocess.Popen(
                            ["perf", "stat", "-x,", "-e",
                             "task-clock,page-faults,context-switches",
                             "-p", str(pid)], stderr=subprocess.PIPE,
                            text=True)
                        time.sleep(0.5)  # perf attached
                        t0 = user_sys(pid)
                        for i in range(n):
                            st = fn(i)
                            if st != 200:
                                sys.exit("callgrind.py: %s answered %d"
                                         % (name, st))
                        t1 = user_sys(pid)
                        p.send_signal(signal.SIGINT)
                        ev = {}
                        for x in p.communicate()[1].splitlines():
                            f = x.split(",")
                            if len(f) > 2 and f[0][:1].isdigit():
                                ev[f[2]] = float(f[0])
                        if "task-clock" not in ev:
                            sys.exit("callgrind.py: no figure from perf")
                        print("%-15s task-clock %.3f ms per call (user %.3f,"
                              " system %.3f), %.1f page faults, %.2f context"
                              " switches"
                              % (name, ev["task-clock"] / n,
                                 (t1[0] - t0[0]) / n, (t1[1] - t0[1]) / n,
                                 ev.get("page-faults", 0) / n,
                                 ev.get("context-switches", 0) / n))
                        continue
                    ctl("-z")
                    ctl("-i", "on")
                    for i in range(n):
                        st = fn(i)
                        if st != 200:
                            sys.exit("callgrind.py: %s answered %d"
                                     % (name, st))
                    ctl("-i", "off")
                    ctl("-d", tag)
        for tag, name, _ in (() if opts.task_clock else
                             PHASES(None, None)):
            found = [p for p in glob.glob(prefix + ".*")
                     if open(p, errors="replace").read(4096).find(
                         "Trigger: dump " + tag) >= 0]
            if not found:
                sys.exit("callgrind.py: no profile for " + tag)
            total, funcs = inclusive(found[0])
            print("%-15s whole call %6.3f M instructions per call"
                  % (name, total / n / 1e6))
            for f in FUNCS:
                if f in funcs:
                    print("    %-28s %6.3f M" % (f.lstrip(":"),
                                                 funcs[f] / n / 1e6))
    finally:
        shutil.rmtree(store, ignore_errors=True)
        if not opts.keep:
            shutil.rmtree(outdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
