#!/usr/bin/python3
"""mapi-stub calendar benchmark (not a test): one svcbrokerd from BUILD_DIR
with a fresh store; N appointments created (a third in UTC, a third in
Europe/Berlin, a third with a Windows zone name), every tenth a weekly
series (--series-every), and N tasks; then timed, one client after another:

  Appointment.Create, Appointment.Load (each), Appointment.List without a
  window and with a one-month window (series expanded), Task.Create,
  Task.Load (each), Task.List.

Prints milliseconds per call (wall clock, and the daemon's CPU time,
which a loaded machine disturbs less) and the daemon's resident memory (VmRSS and
VmHWM) at the end.  Run it on two builds of the same machine to compare.

    bench_calendar.py --build BUILD_DIR [--items N] [--lists L] [--series-every K]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

p = argparse.ArgumentParser()
p.add_argument("--build", required=True)
p.add_argument("--items", type=int, default=300)
p.add_argument("--lists", type=int, default=20)
p.add_argument("--series-every", type=int, default=10,
               help="every Nth appointment a weekly series (0: none)")
a = p.parse_args()
top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.environ["top_builddir"] = os.path.abspath(a.build)
os.environ.setdefault("top_srcdir", top)
sys.path.insert(0, os.path.join(top, "tests", "lib"))
import sbtest  # noqa: E402

store = tempfile.mkdtemp(prefix="bench-mapi-")
conf = ("[module mapi-stub]\nenabled = yes\n\n[instance local]\nbroker = mapi-stub\n"
        "store_dir = %s\nmailboxes = alice@example.test\nquota = 1GiB\n" % store)
zones = [None, "Europe/Berlin", "W. Europe Standard Time"]


TICK = os.sysconf("SC_CLK_TCK")


def cpu(d):
    """The daemon's CPU time (user + system), in ms."""
    with open("/proc/%d/stat" % d.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / TICK


def report(name, n, t0, c0, d):
    print("%-34s %8.2f ms/call wall %8.2f ms/call daemon CPU (%d calls)" % (
        name, (time.perf_counter() - t0) * 1000 / n, (cpu(d) - c0) / n, n))


def timed(d, method, args_list):
    t0, c0 = time.perf_counter(), cpu(d)
    out = []
    for args in args_list:
        st, b = d.call("local/" + method, strip(args))
        if st != 200:
            sys.exit("%s: %s %s" % (method, st, b))
        out.append(b)
    report(method + (" " + args_list[0].get("_", "") if args_list else ""),
           max(1, len(args_list)), t0, c0, d)
    return out


def strip(args):
    return {k: v for k, v in args.items() if k != "_"}


with sbtest.Daemon(conf) as d:
    creates = []
    for i in range(a.items):
        day = 1 + i % 28
        c = {"Subject": "item %d" % i, "Start": "2027-03-%02dT09:00:00+01:00" % day,
             "End": "2027-03-%02dT10:00:00+01:00" % day, "Reminder": 15,
             "Categories": ["Work", "a,b"]}
        if zones[i % 3]:
            c["TimeZone"] = zones[i % 3]
        if a.series_every and i % a.series_every == 0:
            c["Recurrence"] = "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=30"
        creates.append(c)
    t0, c0 = time.perf_counter(), cpu(d)
    ids = []
    for c in creates:
        st, b = d.call("local/Appointment.Create", c)
        if st == 400 and "Recurrence" in c and \
                b.get("error", {}).get("code") == "ErrorRecurrenceNotSupported":
            # A build that keeps no series: a single appointment instead.
            del c["Recurrence"]
            st, b = d.call("local/Appointment.Create", c)
        if st != 200:
            sys.exit("Create: %s %s" % (st, b))
        ids.append(b["rows"][0]["Id"])
    report("Appointment.Create", len(creates), t0, c0, d)
    timed(d, "Appointment.Load", [{"Id": i} for i in ids])
    timed(d, "Appointment.List", [{"_": "(no window)"} for _ in range(a.lists)])
    timed(d, "Appointment.List", [{"_": "(month)", "WindowStart": "2027-03-01T00:00:00Z",
                                   "WindowEnd": "2027-04-01T00:00:00Z"}
                                  for _ in range(a.lists)])
    tids = []
    t0, c0 = time.perf_counter(), cpu(d)
    for i in range(a.items):
        st, b = d.call("local/Task.Create", {"Subject": "task %d" % i,
                                             "DueDate": "2027-03-%02d" % (1 + i % 28),
                                             "Owner": "Alice"})
        tids.append(b["rows"][0]["Id"])
    report("Task.Create", a.items, t0, c0, d)
    timed(d, "Task.Load", [{"Id": i} for i in tids])
    timed(d, "Task.List", [{} for _ in range(a.lists)])
    with open("/proc/%d/status" % d.proc.pid) as f:
        mem = {ln.split(":")[0]: ln.split(":")[1].strip() for ln in f if ln.startswith("Vm")}
    print("daemon VmRSS %s, VmHWM %s" % (mem.get("VmRSS"), mem.get("VmHWM")))
shutil.rmtree(store, ignore_errors=True)
