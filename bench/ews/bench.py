#!/usr/bin/python3
"""exchange-ews benchmark (not a test): Email.List, Email.Load,
Email.Send, Availability.List (free/busy of three mailboxes over a week),
Task.List, Task.Create and Meeting.Create (two required attendees, the
invitations delivered to their Inboxes) against the mock EWS server
(tests/mock/ews_server.py), with Basic and NTLM authentication, side by
side in every run:

  1. svcbroker: POST /v1/call/<instance>/<Object>/<Method> to svcbrokerd
     (exchange-ews broker), timed by curl (one curl process, one kept
     HTTP connection to the daemon, libcurl's own time_total per call);
  2. curl: the very SOAP requests the broker sent (captured verbatim
     through a recording proxy before the runs, from the second call of
     each method) posted straight to the mock by one curl process on one
     kept, authenticated connection (`--basic` / `--ntlm`), timed the same
     way, each checked once first to answer without an error message.
     Where a call is several requests (Email.List and Task.List:
     FindItem, then GetItem of the page; Task.Create and Meeting.Create:
     CreateItem, then GetItem of the new item) their sum is the
     baseline.  Email.Send is
     also measured the way the broker sends, a fresh connection per
     message (fresh.c);
  3. exchangelib (python3-exchangelib), one Account per process, the
     same operations (get_free_busy_info for Availability.List, Task
     objects for the tasks, a CalendarItem with required_attendees saved
     with SEND_TO_ALL_AND_SAVE_COPY for Meeting.Create), timed with perf_counter around each call.

The mock's calendars (Availability.List) are seeded through its
/_mock/calendar control endpoint and its Tasks folders (Task.List) with
PAGE tasks through the daemon before the runs.  The first call of a
connection is reported apart from the calls on the kept connection: each
run starts a new daemon with one instance per operation and
authentication (so each instance's first call opens its connection), and
each curl and exchangelib sequence starts on a new one.  CPU time per
call of the daemon, of the mock and of the exchangelib process is read
from /proc and getrusage; the SOAP requests the mock answered per call
from its statistics.

    bench.py --build BUILD_DIR [--runs R] [--calls N] [--auth basic,ntlm]
             [--ops Email.List,...] [--markdown F] [--json F]
"""
import argparse
import http.client
import http.server
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "mock"))

ALICE, BOB, CAROL = ("alice@example.test", "bob@example.test",
                     "carol@example.test")
PW = "Secret-Pw-1"
PAGE = 20                 # Email.List page size (messages in the Inbox)
BODY = "This is a benchmark message of about one kilobyte.\n" * 20
SUBJECT = "Benchmark message"
# every operation, in the order of a run (Task.List before Task.Create:
# the Creates add to the Tasks folder it lists)
ALL_OPS = ("Email.List", "Email.Load", "Email.Send", "Availability.List",
           "Task.List", "Task.Create", "Meeting.Create")
OPS = ALL_OPS             # those chosen (--ops)
# Availability.List: three mailboxes over one week (Monday to Monday, UTC)
AV_MAILBOXES = (ALICE, BOB, CAROL)
AV_START, AV_END = "2030-03-11T00:00:00Z", "2030-03-18T00:00:00Z"
# per weekday and mailbox: (start hour, minutes, busy type), none overlapping
AV_DAY = ((9, 60, "Busy"), (11, 30, "Tentative"), (13, 90, "Busy"),
          (16, 60, "OOF"))
AV_ROWS = len(AV_MAILBOXES) * 5 * len(AV_DAY)
TASK_SUBJECT = "Benchmark task"
TASK_BODY = "A benchmark task with a description of a few lines.\n" * 5
TASK_INPUTS = {"Subject": TASK_SUBJECT, "Body": TASK_BODY,
               "StartDate": "2030-03-11", "DueDate": "2030-03-15",
               "Status": "InProgress", "PercentComplete": 40,
               "Importance": "High"}
# Meeting.Create: Alice invites Bob and Carol (required), one hour in
# April 2030, outside Availability.List's window (the attendees' calendars
# get a tentative copy of every meeting)
MEETING_SUBJECT = "Benchmark meeting"
MEETING_BODY = "A benchmark meeting with an agenda of a few lines.\n" * 5
MEETING_ATTENDEES = (BOB, CAROL)
MEETING_INPUTS = {"Subject": MEETING_SUBJECT, "Body": MEETING_BODY,
                  "Location": "Room 1", "Start": "2030-04-02T09:00:00Z",
                  "End": "2030-04-02T10:00:00Z",
                  "RequiredAttendees": list(MEETING_ATTENDEES)}
CLK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- helpers
def cpu_seconds(pid):
    """utime + stime of a process (all its threads), seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def cpu_threads(pid):
    """Run time of every live thread of a process, seconds (schedstat:
    nanoseconds, where /proc/PID/stat counts clock ticks of 10 ms; the
    daemon's threads live as long as it does)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def run_curl(args, n_transfers, timeout=300):
    """Run curl with args (each transfer must write -w "%{http_code}
    %{time_total} %{num_connects}\\n"); returns [(code, seconds,
    connects)] or raises."""
    if args and args[0] == "--next":
        args = args[1:]
    p = subprocess.run(["curl"] + args, capture_output=True,
                       text=True, timeout=timeout)
    out = []
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((int(parts[0]), float(parts[1]), int(parts[2])))
    if p.returncode != 0 or len(out) != n_transfers:
        raise RuntimeError("curl exited %d with %d of %d transfers: %s" % (
            p.returncode, len(out), n_transfers, p.stderr[-500:]))
    return out


WFMT = "%{http_code} %{time_total} %{num_connects}\\n"


def curl_transfer(url, body_file, headers, auth=None):
    # --next ends the transfer's options (several --data-binary would be
    # joined into one body); the connection cache is kept across it
    # "Expect:": no 100-continue round trip (the broker sends none either)
    a = ["--next", "-sS", "-o", "/dev/null", "-w", WFMT, "-H", "Expect:",
         "--data-binary", "@" + body_file]
    for h in headers:
        a += ["-H", h]
    if auth:
        a += ["--" + auth, "-u", "%s:%s" % (ALICE, PW)]
    return a + [url]


# ------------------------------------------------------ the capture proxy
class Recorder(http.server.ThreadingHTTPServer):
    daemon_threads = True


def start_recorder(target_port):
    """A loopback proxy that forwards every request to the mock (Basic
    authentication passes through) and keeps (path, headers, body)."""
    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            hdrs = [(k, v) for k, v in self.headers.items()]
            seen.append((self.path, hdrs, body))
            c = http.client.HTTPConnection("127.0.0.1", target_port,
                                           timeout=60)
            fwd = {k: v for k, v in hdrs
                   if k.lower() not in ("host", "content-length",
                                        "connection", "expect")}
            c.request("POST", self.path, body, fwd)
            r = c.getresponse()
            data = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("content-length", "connection",
                                     "transfer-encoding", "date",
                                     "server"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            c.close()

    srv = Recorder(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, seen


def soap_op(body):
    """The EWS operation of a captured SOAP body (first element of
    s:Body)."""
    from lxml import etree
    root = etree.fromstring(body)
    b = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    return etree.QName(b[0]).localname


# ------------------------------------------------------------ exchangelib
def exchangelib_worker(argv):
    """Child process: one Account, one operation, N+1 calls; prints JSON
    {"times": [...], "cpu": seconds of the calls after the first}."""
    url, auth, op, n, item_id = argv
    n = int(n)
    import logging
    logging.disable(logging.CRITICAL)
    import decimal
    from exchangelib import (Account, Configuration, Credentials, DELEGATE,
                             BASIC, NTLM, UTC, Message, Mailbox, Task,
                             EWSDate, EWSDateTime, CalendarItem, Attendee)
    from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY
    from exchangelib.version import Build, Version
    from exchangelib.properties import ItemId
    cfg = Configuration(service_endpoint=url,
                        credentials=Credentials(ALICE, PW),
                        auth_type=BASIC if auth == "basic" else NTLM,
                        version=Version(Build(15, 1, 2507, 6),
                                        "Exchange2016"),
                        max_connections=1)
    a = Account(ALICE, config=cfg, autodiscover=False, access_type=DELEGATE,
                default_timezone=UTC)
    only = ("id", "changekey", "sender", "to_recipients", "cc_recipients",
            "subject", "importance", "datetime_sent", "datetime_received",
            "is_read", "has_attachments", "message_id")

    LOAD_FIELDS = ("parent_folder_id", "subject", "body", "text_body",
                   "attachments", "datetime_received", "importance",
                   "datetime_sent", "has_attachments", "to_recipients",
                   "cc_recipients", "bcc_recipients", "author",
                   "message_id", "is_read", "reply_to", "sender")

    TASK_FIELDS = ("subject", "body", "importance", "due_date", "owner",
                   "percent_complete", "start_date", "status")
    av_start = EWSDateTime(2030, 3, 11, tzinfo=UTC)
    av_end = EWSDateTime(2030, 3, 18, tzinfo=UTC)

    def call(i):
        if op == "Availability.List":
            # FreeBusyMerged, as the broker asks (exchangelib sends a
            # GetServerTimeZones before each GetUserAvailability)
            got = list(a.protocol.get_free_busy_info(
                [(m, "Required", False) for m in AV_MAILBOXES],
                av_start, av_end, merged_free_busy_interval=30,
                requested_view="FreeBusyMerged"))
            ev = sum(len(v.calendar_events or []) for v in got)
            if len(got) != len(AV_MAILBOXES) or ev != AV_ROWS:
                raise RuntimeError("Availability.List: %d views, %d events"
                                   % (len(got), ev))
        elif op == "Task.List":
            # a FindItem and a GetItem (body is not a FindItem property),
            # as the broker
            got = list(a.tasks.all().order_by("-datetime_created")
                       .only(*TASK_FIELDS)[:PAGE])
            if len(got) != PAGE or not got[0].subject:
                raise RuntimeError("Task.List: %d items" % len(got))
        elif op == "Task.Create":
            # one CreateItem (the broker also reads the task back)
            t = Task(folder=a.tasks, subject="%s %d" % (TASK_SUBJECT, i),
                     body=TASK_BODY, start_date=EWSDate(2030, 3, 11),
                     due_date=EWSDate(2030, 3, 15), status="InProgress",
                     percent_complete=decimal.Decimal(40),
                     importance="High")
            t.save()
            if not t.id:
                raise RuntimeError("Task.Create: no id")
        elif op == "Meeting.Create":
            # one CreateItem sending the invitations (the broker also
            # reads the meeting back)
            mt = CalendarItem(
                account=a, folder=a.calendar,
                subject="%s %d" % (MEETING_SUBJECT, i), body=MEETING_BODY,
                location="Room 1",
                start=EWSDateTime(2030, 4, 2, 9, tzinfo=UTC),
                end=EWSDateTime(2030, 4, 2, 10, tzinfo=UTC),
                required_attendees=[
                    Attendee(mailbox=Mailbox(email_address=m),
                             response_type="Unknown")
                    for m in MEETING_ATTENDEES])
            mt.save(send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
            if not mt.id:
                raise RuntimeError("Meeting.Create: no id")
        elif op == "Email.List":
            got = list(a.inbox.all().order_by("-datetime_received")
                       .only(*only)[:PAGE])
            if len(got) != PAGE:
                raise RuntimeError("List: %d items" % len(got))
        elif op == "Email.Load":
            # the properties the broker's GetItem asks for (exchangelib
            # would otherwise ask for every field of a Message)
            got = list(a.fetch(ids=[ItemId(id=item_id)],
                               only_fields=LOAD_FIELDS))
            if len(got) != 1 or not getattr(got[0], "subject", None):
                raise RuntimeError("Load: %r" % (got,))
        else:
            Message(account=a, subject="%s %d" % (SUBJECT, i), body=BODY,
                    to_recipients=[Mailbox(email_address=BOB)]
                    ).send_and_save()

    times = []
    cpu0 = None
    for i in range(n + 1):
        if i == 1:
            ru = resource.getrusage(resource.RUSAGE_SELF)
            cpu0 = ru.ru_utime + ru.ru_stime
        t0 = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - t0)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"times": times,
                      "cpu": ru.ru_utime + ru.ru_stime - cpu0}))
    return 0


def run_exchangelib(url, auth, op, n, item_id, mock):
    mock_pid = mock.proc.pid
    q0 = mock.stats().get("requests", 0)
    m0 = cpu_seconds(mock_pid)
    p = subprocess.run(
        ["/usr/bin/python3", os.path.abspath(__file__), "--exchangelib",
         url, auth, op, str(n), item_id],
        capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError("exchangelib %s/%s failed: %s" % (
            auth, op, p.stderr[-1500:]))
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["mock_cpu"] = cpu_seconds(mock_pid) - m0
    r["requests"] = mock.stats().get("requests", 0) - q0
    return r


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--calls", type=int, default=50,
                    help="calls on the kept connection per run and sender")
    ap.add_argument("--auth", default="basic,ntlm")
    ap.add_argument("--ops", default=",".join(ALL_OPS),
                    help="operations, comma-separated, of: "
                    + ", ".join(ALL_OPS))
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    ap.add_argument("--exchangelib", nargs=5)
    opts = ap.parse_args()
    if opts.exchangelib:
        return exchangelib_worker(opts.exchangelib)
    if not opts.build:
        ap.error("--build is required")
    os.environ["top_builddir"] = os.path.abspath(opts.build)
    os.environ["top_srcdir"] = TOP
    import sbtest
    from ews_server import MockEWS

    auths = [x for x in opts.auth.split(",") if x]
    for x in auths:
        if x not in ("basic", "ntlm"):
            sys.exit("bench.py: --auth takes basic and/or ntlm, not %r" % x)
    global OPS
    want = [x.strip() for x in opts.ops.split(",") if x.strip()]
    for x in want:
        if x not in ALL_OPS:
            sys.exit("bench.py: --ops takes %s, not %r"
                     % (", ".join(ALL_OPS), x))
    if not want:
        sys.exit("bench.py: --ops names no operation")
    OPS = tuple(x for x in ALL_OPS if x in want)
    n = opts.calls
    cap_mock = None
    tmp = tempfile.mkdtemp(prefix="sb-bench-ews-")
    mocks = {}
    results = {"runs": [], "calls": n, "runs_n": opts.runs, "auths": auths,
               "ops": list(OPS), "warm_op": warm_op(), "load": [],
               "env": environment()}
    try:
        fresh_bin = build_fresh(tmp)
        for x in auths:
            mocks[x] = MockEWS(["--auth", x, "--lifetime", "3600"]).start()
        # the requests are captured through a proxy with Basic: without a
        # Basic mock among those timed, one more, seeded alike, for that
        seeded = dict(mocks)
        if "basic" not in mocks:
            seeded["cap"] = cap_mock = MockEWS(
                ["--auth", "basic", "--lifetime", "3600"]).start()
        cap = "basic" if "basic" in mocks else "cap"
        ids = {}
        for x, m in seeded.items():
            m.ok("reset")
            ids[x] = m.ok("deliver", {
                "mailbox": ALICE, "from": CAROL, "to": [ALICE], "cc": [BOB],
                "subject": "Inbox message {n}", "body": BODY,
                "count": PAGE})["ids"]
            seed_calendars(m)
        task_ref = seed_tasks(sbtest, seeded, tmp)
        meeting_ref = seed_meeting(sbtest, seeded)
        bodies = capture(sbtest, seeded[cap], ids[cap][0], tmp)
        results["requests"] = {op: [q["op"] for q in bodies[op]]
                               for op in OPS}
        for x in auths:
            if x != cap:
                # the captured Email.Load names an item of the capture's
                # mock, Task.Create's GetItem the task it created there:
                # the other mocks' items have other ids (a task created
                # there with the same inputs stands for the latter)
                swaps = [(ids[cap][0], ids[x][0])]
                if "Task.Create" in OPS:
                    swaps.append((bodies["Task.Create_answer"]["Id"],
                                  task_ref[x]))
                if "Meeting.Create" in OPS:
                    swaps.append((bodies["Meeting.Create_answer"]["Id"],
                                  meeting_ref[x]))
                bodies.setdefault("by_auth", {})[x] = swap_id(
                    bodies, swaps, tmp, x)
        for x, m in mocks.items():
            check_bodies(m, x, bodies.get("by_auth", {}).get(x, bodies))
        for run in range(opts.runs):
            results["load"].append(os.getloadavg()[0])
            print("run %d of %d (load %.1f)" % (run + 1, opts.runs,
                                               os.getloadavg()[0]),
                  flush=True)
            results["runs"].append(one_run(sbtest, mocks, ids, bodies, n,
                                           tmp, fresh_bin))
        for x, m in mocks.items():
            st = m.stats()
            results.setdefault("mock_stats", {})[x] = {
                k: st.get(k) for k in ("requests", "connections",
                                       "ntlm_handshakes", "violations",
                                       "internal_errors", "auth_failures")}
            if st.get("violations") or st.get("internal_errors"):
                print("bench.py: the %s mock saw violations or errors: %s"
                      % (x, json.dumps(results["mock_stats"][x])[:2000]),
                      file=sys.stderr)
    finally:
        for m in mocks.values():
            m.stop()
        if cap_mock:
            cap_mock.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    summary = summarize(results)
    print_summary(summary)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"raw": results, "summary": summary}, f, indent=1)
    if opts.markdown:
        with open(opts.markdown, "w") as f:
            f.write(markdown(results, summary))
    return 0


def instance_cfg(name, url, auth):
    return ("[instance %s]\nbroker = exchange-ews\nurl = %s\nauth = %s\n"
            "username = %s\npassword = %s\ntimeout = 60s\n"
            % (name, url, auth, ALICE, PW))


def capture(sbtest, mock, item_id, tmp, tag="basic"):
    """The SOAP requests the broker sends for one call of each method,
    recorded through a proxy in front of the mock (Basic authentication,
    whatever the auth: the bodies do not depend on it).  Each method is
    called twice and the second call's requests are kept: the calls on a
    kept connection are what is compared, and a first call may ask for
    what the instance then remembers (Email.Send: Sent Items' FolderId)."""
    srv, seen = start_recorder(mock.port)
    out = {}
    try:
        url = "http://127.0.0.1:%d/EWS/Exchange.asmx" % srv.server_port
        cfg = "[module exchange-ews]\nenabled = yes\n" + instance_cfg(
            "cap", url, "basic")
        with sbtest.Daemon(cfg, server_extra="log_level = warn\n") as d:
            for op in OPS:
                inp = op_inputs(op, item_id)
                for _ in range(2):
                    k = len(seen)
                    st, b = d.call("cap/" + op, inp)
                    if st != 200:
                        raise RuntimeError("capture: %s answered %d: %s"
                                           % (op, st, b))
                check_answer(op, b)
                out[op + "_answer"] = (b.get("rows") or [{}])[0]
                reqs = []
                for j, (path, hdrs, body) in enumerate(seen[k:]):
                    f = os.path.join(tmp, "%s-%s-%d.xml" % (tag, op, j))
                    with open(f, "wb") as fh:
                        fh.write(body)
                    keep = ["%s: %s" % (h, v) for h, v in hdrs
                            if h.lower() not in (
                                "host", "content-length", "authorization",
                                "user-agent", "accept", "expect",
                                "connection", "accept-encoding")]
                    reqs.append({"file": f, "headers": keep,
                                 "op": soap_op(body), "bytes": len(body)})
                out[op] = reqs
                inputs = os.path.join(tmp, "%s-%s.json" % (tag, op))
                with open(inputs, "w") as fh:
                    json.dump({"inputs": inp}, fh)
                out[op + "_inputs"] = inputs
    finally:
        srv.shutdown()
        srv.server_close()
    return out


def op_inputs(op, item_id):
    """The inputs of one call of op through the daemon."""
    return {"Email.List": {"PageSize": PAGE},
            "Email.Load": {"Id": item_id},
            "Email.Send": {"To": [BOB], "Subject": SUBJECT, "Body": BODY},
            "Availability.List": {"Mailboxes": list(AV_MAILBOXES),
                                  "WindowStart": AV_START,
                                  "WindowEnd": AV_END, "PageSize": 1000},
            "Task.List": {"PageSize": PAGE},
            "Task.Create": TASK_INPUTS,
            "Meeting.Create": MEETING_INPUTS}[op]


def check_answer(op, b):
    """The capture's answer is the one the bench means to time."""
    rows_ = b.get("rows") or []
    want = {"Email.List": PAGE, "Email.Load": 1, "Availability.List": AV_ROWS,
            "Task.List": PAGE, "Task.Create": 1,
            "Meeting.Create": 1}.get(op)
    if want is not None and (len(rows_) != want or b.get("more")):
        raise RuntimeError("capture: %s gave %d rows (more: %r), not %d"
                           % (op, len(rows_), b.get("more"), want))


def seed_calendars(m):
    """AV_DAY's events on every weekday of the window, in each of the
    three mailboxes' calendars."""
    for mb in AV_MAILBOXES:
        for day in range(11, 16):
            for h, mins, t in AV_DAY:
                end = h * 60 + mins
                m.ok("calendar", {
                    "mailbox": mb,
                    "start": "2030-03-%02dT%02d:00:00Z" % (day, h),
                    "end": "2030-03-%02dT%02d:%02d:00Z" % (day, end // 60,
                                                           end % 60),
                    "legacy_free_busy": t})


def seed_tasks(sbtest, mocks, tmp):
    """PAGE tasks in each mock's Tasks folder, through a daemon with an
    instance per mock; returns {auth: Id of the first} (a task made with
    Task.Create's inputs).  mocks: {auth: mock}, "cap" a Basic one."""
    if not any(op.startswith("Task.") for op in OPS):
        return {}
    cfg = "[module exchange-ews]\nenabled = yes\n"
    for x, m in mocks.items():
        cfg += instance_cfg("seed" + x, m.url, "basic" if x == "cap" else x)
    ref = {}
    with sbtest.Daemon(cfg, server_extra="log_level = warn\n") as d:
        for x in mocks:
            for i in range(PAGE):
                inp = dict(TASK_INPUTS)
                if i:
                    inp["Subject"] = "%s %d" % (TASK_SUBJECT, i)
                st, b = d.call("seed%s/Task.Create" % x, inp)
                if st != 200:
                    raise RuntimeError("seed: Task.Create answered %d: %s"
                                       % (st, b))
                if not i:
                    ref[x] = b["rows"][0]["Id"]
    return ref


def seed_meeting(sbtest, mocks):
    """One meeting with Meeting.Create's inputs in each mock's calendar,
    through a daemon with an instance per mock; returns {auth: its Id}
    (the captured GetItem of another mock's meeting names it instead)."""
    if "Meeting.Create" not in OPS:
        return {}
    cfg = "[module exchange-ews]\nenabled = yes\n"
    for x, m in mocks.items():
        cfg += instance_cfg("mtg" + x, m.url, "basic" if x == "cap" else x)
    ref = {}
    with sbtest.Daemon(cfg, server_extra="log_level = warn\n") as d:
        for x in mocks:
            st, b = d.call("mtg%s/Meeting.Create" % x, MEETING_INPUTS)
            if st != 200 or (b["rows"][0].get("RequiredAttendees")
                             != list(MEETING_ATTENDEES)):
                raise RuntimeError("seed: Meeting.Create answered %d: %s"
                                   % (st, b))
            ref[x] = b["rows"][0]["Id"]
    return ref


def check_bodies(m, auth, b):
    """Each captured request posted once by curl to mock m answers 200
    without an error response message (an id of another mock would
    answer ErrorItemNotFound, fast, and be timed as if it were the
    operation)."""
    for op in OPS:
        for q in b[op]:
            args = ["curl", "-sS", "-w", "\n%{http_code}", "-H", "Expect:",
                    "--data-binary", "@" + q["file"], "--" + auth,
                    "-u", "%s:%s" % (ALICE, PW)]
            for h in q["headers"]:
                args += ["-H", h]
            p = subprocess.run(args + [m.url], capture_output=True,
                               text=True, timeout=60)
            body, _, code = p.stdout.rpartition("\n")
            if code != "200" or 'ResponseClass="Error"' in body \
                    or 'ResponseClass="Warning"' in body:
                raise RuntimeError("%s %s %s: curl's request answered %s: %s"
                                   % (auth, op, q["op"], code, body[:800]))


def swap_id(bodies, swaps, tmp, tag):
    """The captured requests with each item id old replaced by new, for
    (old, new) in swaps (the requests sent to another mock, whose items
    have other ids)."""
    out = dict(bodies)
    out.pop("by_auth", None)
    for op in OPS:
        reqs = []
        for j, q in enumerate(bodies[op]):
            with open(q["file"], "rb") as fh:
                body = fh.read()
            for old, new in swaps:
                body = body.replace(old.encode(), new.encode())
            f = os.path.join(tmp, "%s-%s-%d.xml" % (tag, op, j))
            with open(f, "wb") as fh:
                fh.write(body)
            reqs.append(dict(q, file=f))
        out[op] = reqs
        with open(bodies[op + "_inputs"]) as fh:
            inp = fh.read()
        for old, new in swaps:
            inp = inp.replace(old, new)
        f = os.path.join(tmp, "%s-%s.json" % (tag, op))
        with open(f, "w") as fh:
            fh.write(inp)
        out[op + "_inputs"] = f
    return out


def build_fresh(tmp):
    """Compile fresh.c (a libcurl loop, a new connection per request)."""
    exe = os.path.join(tmp, "fresh")
    cc = os.environ.get("CC", "cc")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libcurl"],
                           capture_output=True, text=True).stdout.split() \
        or ["-lcurl"]
    p = subprocess.run([cc, "-O2", "-o", exe,
                        os.path.join(os.path.dirname(os.path.abspath(
                            __file__)), "fresh.c")] + flags,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("bench.py: cannot build fresh.c: %s" % p.stderr[-1000:])
    return exe


def run_fresh(exe, url, req, auth, n):
    p = subprocess.run([exe, url, req["file"], auth, ALICE, PW, str(n)] +
                       req["headers"], capture_output=True, text=True,
                       timeout=600)
    out = [tuple(f(v) for f, v in zip((int, float, int), line.split()))
           for line in p.stdout.splitlines()]
    if p.returncode != 0 or len(out) != n or any(o[0] != 200 for o in out):
        raise RuntimeError("fresh: exit %d, %d of %d answers, %s" % (
            p.returncode, len(out), n, p.stderr[-500:]))
    return out


ROUNDS = 5


def timed_op(r, d, pid, x, m, op, b, n, fresh_bin):
    """The daemon, curl on a kept connection and (Send) the fresh-
    connection loop in turn, ROUNDS times n/ROUNDS calls each, so that
    they see the same load on a shared machine.  Each round is a new curl
    process, hence a new connection: its first call is dropped, except in
    the first round, where it is the "first call" (for the daemon, the
    first of the instance's upstream connection)."""
    mpid = m.proc.pid
    per = max(2, n // ROUNDS)
    reqs = b[op]
    k = len(reqs)
    url = "%s/v1/call/%s/%s" % (d.url, instance_name(x, op),
                                op.replace(".", "/"))
    r.update(daemon=[], curl=[], daemon_cpu=0.0, daemon_mock_cpu=0.0,
             curl_mock_cpu=0.0, daemon_calls=0, curl_calls=0,
             daemon_upstream_conns=0, curl_conns=0, daemon_requests=0)
    if op == "Email.Send":
        r["curl_fresh"] = []
    for rnd in range(ROUNDS):
        # 1. the daemon: one client connection; the instance keeps its
        #    upstream connection across the rounds (Send: a new one each)
        args = []
        for _ in range(per + 1):
            args += curl_transfer(url, b[op + "_inputs"],
                                  ["Content-Type: application/json"])
        st0 = m.stats()
        m0, q0 = st0.get("connections", 0), st0.get("requests", 0)
        dc0, mc0 = cpu_threads(pid), cpu_seconds(m.proc.pid)
        out = run_curl(args, per + 1)
        r["daemon_cpu"] += cpu_threads(pid) - dc0
        r["daemon_mock_cpu"] += cpu_seconds(mpid) - mc0
        r["daemon_calls"] += per + 1
        # (less the connection of this stats request)
        st1 = m.stats()
        r["daemon_upstream_conns"] += st1.get("connections", 0) - m0 - 1
        r["daemon_requests"] += st1.get("requests", 0) - q0
        bad = [o for o in out if o[0] != 200]
        if bad:
            raise RuntimeError("daemon %s/%s: status %s" % (x, op, bad[:3]))
        r["daemon"] += [o[1] for o in (out if rnd == 0 else out[1:])]
        # 2. curl straight to the mock on one kept connection
        args = []
        for _ in range(per + 1):
            for q in reqs:
                args += curl_transfer(m.url, q["file"], q["headers"], x)
        mc0 = cpu_seconds(mpid)
        out = run_curl(args, (per + 1) * k)
        r["curl_mock_cpu"] += cpu_seconds(mpid) - mc0
        r["curl_calls"] += per + 1
        bad = [o for o in out if o[0] != 200]
        if bad:
            raise RuntimeError("curl %s/%s: status %s" % (x, op, bad[:3]))
        sums = [sum(o[1] for o in out[i:i + k])
                for i in range(0, len(out), k)]
        r["curl"] += sums if rnd == 0 else sums[1:]
        r["curl_conns"] += sum(o[2] for o in out)
        # 2b. Send on a new connection per message, as the broker sends
        #     (libcurl, FRESH_CONNECT + FORBID_REUSE); the first of each
        #     process is dropped (its first use of libcurl and OpenSSL)
        if op == "Email.Send":
            out = run_fresh(fresh_bin, m.url, reqs[0], x, per + 1)
            r["curl_fresh"] += [o[1] for o in out[1:]]


def warm_op():
    """The operation of a new daemon's first call (Email.Load, a read,
    when it is chosen)."""
    return "Email.Load" if "Email.Load" in OPS else OPS[0]


def instance_name(x, op):
    return x + op.lower().replace(".", "")


def one_run(sbtest, mocks, ids, bodies, n, tmp, fresh_bin):
    """One daemon (one instance per operation and auth), then for each
    auth and operation: the daemon, curl and exchangelib in turn."""
    cfg = "[module exchange-ews]\nenabled = yes\n"
    for x, m in mocks.items():
        for op in OPS:
            cfg += instance_cfg(instance_name(x, op), m.url, x)
    first = list(mocks)[0]
    cfg += instance_cfg("warm", mocks[first].url, first)
    res = {}
    with sbtest.Daemon(cfg, server_extra="log_level = warn\n") as d:
        pid = d.proc.pid
        # let start-up finish, then one call on an instance of its own:
        # what the process does once (libxml2, libcurl, the broker's first
        # use) is timed here, not in the first call of a connection below
        time.sleep(0.5)
        out = run_curl(curl_transfer(
            "%s/v1/call/warm/%s" % (d.url, warm_op().replace(".", "/")),
            bodies.get("by_auth", {}).get(first, bodies)[
                warm_op() + "_inputs"],
            ["Content-Type: application/json"])[1:], 1)
        res["process_first"] = out[0][1]
        for x, m in mocks.items():
            b = bodies.get("by_auth", {}).get(x, bodies)
            for op in OPS:
                r = res.setdefault(x, {}).setdefault(op, {})
                timed_op(r, d, pid, x, m, op, b, n, fresh_bin)
                # 3. exchangelib
                e = run_exchangelib(m.url, x, op, n, ids[x][0], m)
                r["exchangelib"] = e["times"]
                r["exchangelib_requests"] = e["requests"]
                r["exchangelib_cpu"] = e["cpu"]
                r["exchangelib_mock_cpu"] = e["mock_cpu"]
    return res


# ------------------------------------------------------------- reporting
def summarize(results):
    """Medians over runs of the per-run medians (kept calls) and of the
    first calls; spread = min..max of the per-run medians."""
    n = results["calls"]
    s = {}
    for x in results["auths"]:
        for op in OPS:
            runs = [r[x][op] for r in results["runs"]]
            row = {}
            for who in ("daemon", "curl", "exchangelib"):
                kept = [median(r[who][1:]) for r in runs]
                first = [r[who][0] for r in runs]
                row[who] = {"kept": median(kept), "kept_min": min(kept),
                            "kept_max": max(kept), "first": median(first),
                            "first_min": min(first),
                            "first_max": max(first),
                            # calls per second on one connection
                            "rate": median([(len(r[who]) - 1) /
                                            sum(r[who][1:]) for r in runs])}
            if op == "Email.Send":
                fr = [median(r["curl_fresh"]) for r in runs]
                row["curl_fresh"] = {"kept": median(fr), "kept_min": min(fr),
                                     "kept_max": max(fr)}
            ratios = [median(r["daemon"][1:]) / median(r["curl"][1:])
                      for r in runs]
            row["lat_ratio"] = median(ratios)
            row["lat_ratio_min"], row["lat_ratio_max"] = min(ratios), \
                max(ratios)
            if op == "Email.Send":
                fr = [median(r["daemon"][1:]) / median(r["curl_fresh"])
                      for r in runs]
                row["lat_ratio_fresh"] = median(fr)
                row["lat_ratio_fresh_min"] = min(fr)
                row["lat_ratio_fresh_max"] = max(fr)
            # mean time per call (the senders may make different numbers
            # of calls: ROUNDS rounds of CALLS / ROUNDS, at least 2)
            tp = [statistics.mean(r["exchangelib"][1:]) /
                  statistics.mean(r["daemon"][1:]) for r in runs]
            row["tp_ratio"] = median(tp)
            row["tp_ratio_min"], row["tp_ratio_max"] = min(tp), max(tp)
            # CPU per call of the client side (daemon process vs the
            # exchangelib process) and of the mock in each case
            dcpu = [r["daemon_cpu"] / r["daemon_calls"] for r in runs]
            ecpu = [r["exchangelib_cpu"] / n for r in runs]
            row["daemon_cpu"] = median(dcpu)
            row["exchangelib_cpu"] = median(ecpu)
            row["cpu_ratio"] = median([e / d if d else float("inf")
                                       for e, d in zip(ecpu, dcpu)])
            row["mock_cpu_daemon"] = median([r["daemon_mock_cpu"] /
                                             r["daemon_calls"] for r in runs])
            row["mock_cpu_curl"] = median([r["curl_mock_cpu"] /
                                           r["curl_calls"] for r in runs])
            row["mock_cpu_exchangelib"] = median(
                [r["exchangelib_mock_cpu"] / (n + 1) for r in runs])
            row["upstream_conns"] = median([r["daemon_upstream_conns"]
                                            for r in runs])
            row["curl_conns"] = median([r["curl_conns"] for r in runs])
            # SOAP requests the mock answered per call
            row["daemon_reqs"] = median([r["daemon_requests"] /
                                         r["daemon_calls"] for r in runs])
            row["curl_reqs"] = len(results["requests"][op])
            row["exchangelib_reqs"] = median([r["exchangelib_requests"] /
                                              (n + 1) for r in runs])
            s["%s/%s" % (x, op)] = row
    pf = [r["process_first"] for r in results["runs"]]
    s["process_first"] = {"median": median(pf), "min": min(pf),
                          "max": max(pf)}
    return s


def reqs(v):
    """Requests per call: whole numbers as such."""
    return "%d" % v if abs(v - round(v)) < 0.005 else "%.2f" % v


def ms(v):
    return "%.2f" % (v * 1000)


def print_summary(s):
    print("\n%-23s %-11s %8s %8s %8s %8s %7s %8s" % (
        "auth/op", "who", "first", "kept", "min", "max", "calls/s",
        "cpu/call"))
    for key, row in s.items():
        if key == "process_first":
            print("first call of a new daemon process (%s): "
                  "%s ms (%s..%s)" % (warm_op(), ms(row["median"]),
                                      ms(row["min"]), ms(row["max"])))
            continue
        for who in ("daemon", "curl", "curl_fresh", "exchangelib"):
            if who not in row:
                continue
            w = row[who]
            cpu = ""
            if who == "daemon":
                cpu = ms(row["daemon_cpu"])
            elif who == "exchangelib":
                cpu = ms(row["exchangelib_cpu"])
            print("%-23s %-11s %8s %8s %8s %8s %7s %8s" % (
                key, who, ms(w["first"]) if "first" in w else "-",
                ms(w["kept"]), ms(w["kept_min"]), ms(w["kept_max"]),
                "%.0f" % w["rate"] if "rate" in w else "-", cpu))
        print("%-23s daemon/curl latency %.2f (%.2f..%.2f)%s; "
              "daemon/exchangelib throughput %.1f (%.1f..%.1f); "
              "exchangelib/daemon CPU per call %.1f" % (
                  key, row["lat_ratio"], row["lat_ratio_min"],
                  row["lat_ratio_max"],
                  "; vs fresh-connection curl %.2f" % row["lat_ratio_fresh"]
                  if "lat_ratio_fresh" in row else "",
                  row["tp_ratio"], row["tp_ratio_min"], row["tp_ratio_max"],
                  row["cpu_ratio"]))


def environment():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    toks = subprocess.run(["curl", "--version"], capture_output=True,
                          text=True).stdout.split()
    lib = [t.split("/", 1)[1] for t in toks if t.startswith("libcurl/")]
    try:
        import exchangelib
        el = exchangelib.__version__
    except Exception:  # noqa: BLE001 - reported as unknown
        el = "?"
    commit = subprocess.run(["git", "-C", TOP, "describe", "--always",
                             "--dirty"], capture_output=True,
                            text=True).stdout.strip() or "?"
    return {"cpu": cpu, "ncpu": os.cpu_count(), "commit": commit,
            "python": platform.python_version(),
            "libcurl": lib[0] if lib else "?", "exchangelib": el,
            "date": time.strftime("%Y-%m-%d")}


def kept_calls(results):
    """Calls on the kept connection per sender in one run (the daemon's
    first operation of the first run: all are alike)."""
    r = results["runs"][0]
    return len(r[results["auths"][0]][results["ops"][0]]["daemon"]) - 1


def rows(s):
    return [(k, v) for k, v in s.items() if "/" in k]


def markdown(results, s):
    """The figures as Markdown tables (run.sh puts them into the
    "## exchange-ews" section of docs/performance.md between the
    method, which is hand-written there, and the reading)."""
    env = results["env"]
    lines = [
        "<!-- bench/ews figures: begin -->",
        "Measured %s at `%s` with `bench/ews/run.sh` on %d CPUs (%s), "
        "Python %s, libcurl %s, exchangelib %s; %d run%s of %d calls on the "
        "kept connection (plus the first) per sender, operation and "
        "authentication; 1-minute load average at the start of the runs: "
        "%s." % (env["date"], env.get("commit", "?"), env["ncpu"],
                 env["cpu"], env["python"], env["libcurl"],
                 env["exchangelib"], results["runs_n"],
                 "" if results["runs_n"] == 1 else "s", kept_calls(results),
                 ", ".join("%.1f" % v for v in results["load"])),
        "",
        "Latency, milliseconds: median over the runs of each run's median "
        "(min–max of those per-run medians).",
        "",
        "| auth | operation | svcbroker first call | svcbroker kept | "
        "curl first call | curl kept | svcbroker / curl | exchangelib "
        "first call | exchangelib kept |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(w, k):
        return "%s (%s–%s)" % (ms(w[k]), ms(w[k + "_min"]), ms(w[k + "_max"]))
    for key, row in rows(s):
        x, op = key.split("/")
        lines.append("| %s | %s | %s | %s | %s | %s | **%.2f×** "
                     "(%.2f–%.2f) | %s | %s |" % (
                         x, op, cell(row["daemon"], "first"),
                         cell(row["daemon"], "kept"),
                         cell(row["curl"], "first"),
                         cell(row["curl"], "kept"), row["lat_ratio"],
                         row["lat_ratio_min"], row["lat_ratio_max"],
                         cell(row["exchangelib"], "first"),
                         cell(row["exchangelib"], "kept")))
        if "curl_fresh" in row:
            lines.append(
                "| %s | Email.Send, curl on a fresh connection per message "
                "| | | | %s | **%.2f×** (%.2f–%.2f) | | |" % (
                    x, cell(row["curl_fresh"], "kept"),
                    row["lat_ratio_fresh"], row["lat_ratio_fresh_min"],
                    row["lat_ratio_fresh_max"]))
    lines += [
        "",
        "Throughput on one connection (calls/s, median of the runs) and "
        "CPU time per call (ms: the daemon process; the exchangelib "
        "process; the mock's for the same call).",
        "",
        "| auth | operation | svcbroker calls/s | exchangelib calls/s | "
        "svcbroker / exchangelib | daemon CPU | exchangelib CPU | "
        "exchangelib / daemon CPU | mock CPU (svcbroker / curl / "
        "exchangelib) | SOAP requests per call (svcbroker / curl / "
        "exchangelib) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, row in rows(s):
        x, op = key.split("/")
        lines.append("| %s | %s | %.0f | %.0f | **%.1f×** "
                     "(%.1f–%.1f) | %s | %s | %.0f× | %s / %s / %s | "
                     "%s / %s / %s |" % (
                         x, op, row["daemon"]["rate"],
                         row["exchangelib"]["rate"], row["tp_ratio"],
                         row["tp_ratio_min"], row["tp_ratio_max"],
                         ms(row["daemon_cpu"]), ms(row["exchangelib_cpu"]),
                         row["cpu_ratio"], ms(row["mock_cpu_daemon"]),
                         ms(row["mock_cpu_curl"]),
                         ms(row["mock_cpu_exchangelib"]),
                         reqs(row["daemon_reqs"]), row["curl_reqs"],
                         reqs(row["exchangelib_reqs"])))
    lines += ["", "The broker's requests, as curl posts them: " + "; ".join(
        "%s %s" % (op, " + ".join(q)) for op, q in
        results["requests"].items()) + ".  First call of a new daemon "
        "process (%s, on an instance of its own): %s ms (%s–%s)." % (
            results.get("warm_op", "Email.Load"),
            ms(s["process_first"]["median"]), ms(s["process_first"]["min"]),
            ms(s["process_first"]["max"]))]
    ms_ = results.get("mock_stats", {})
    lines += ["", "Mock totals: " + "; ".join(
        "%s: %s requests, %s NTLM handshakes, %d schema "
        "violations, %d internal errors" % (
            x, v.get("requests"),
            v.get("ntlm_handshakes"), len(v.get("violations") or []),
            len(v.get("internal_errors") or []))
        for x, v in ms_.items()) + ".",
        "<!-- bench/ews figures: end -->", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
