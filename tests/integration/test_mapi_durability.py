"""mapi-stub durability and concurrency through the real daemon.

1. Concurrent: N threads Send and List at once; counts are exact and every
   listed message loads completely.
2. Crash: several client threads Send in a burst, the daemon is killed with
   SIGKILL in the middle, then restarted on the same store (three rounds).  Every Send that
   answered 200 is delivered exactly once to each recipient and present in
   the sender's Sent Items; no duplicates anywhere; no half-written files
   (tmp/ empty); every Outbox empty.
3. A Send recorded in the Outbox but never delivered is finished at start.
4. The write protocol, seen in the daemon's system calls (strace): every
   item is written to tmp/, fsynced, linked or renamed into place, and its
   directory fsynced after.
"""
import email
import email.policy
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)

MBX = ["alice@example.test", "bob@example.test", "carol@example.test",
       "dave@example.test"]
FOLDERS = ["Inbox", "Drafts", "Sent Items", "Deleted Items", "Outbox"]
top = sbtest.tempdir("mapi-durability-")


def conf(store):
    return ("[module mapi-stub]\nenabled = yes\n\n[instance local]\n"
            "broker = mapi-stub\nmax_concurrency = 16\nstore_dir = %s\n"
            "mailboxes = %s\n" % (store, ", ".join(MBX)))


def clean_stop(d, what):
    """Stop d (SIGTERM) and check its exit and log: no sanitizer report."""
    code = d.stop()
    log = d.read_log()
    bad = [w for w in ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                       "Invalid read", "Invalid write")
           if w in log]
    t.ok(code == 0 and not bad, "%s: daemon exits 0 with a clean log" % what,
         "(exit %r, %r)\n%s" % (code, bad, log[-3000:]))


def rows(body):
    return body.get("rows", []) if isinstance(body, dict) else []


def message_ids(store, mb, folder):
    """Message-IDs of every file in new/ and cur/ (read directly)."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(store, mb, folder, sub)
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            out.append((msg["Message-ID"], msg, name))
    return out


def tmp_files(store):
    left = []
    for mb in MBX:
        for folder in FOLDERS + ["Calendar", "Tasks"]:
            d = os.path.join(store, mb, folder, "tmp")
            if os.path.isdir(d):
                left += [os.path.join(d, n) for n in os.listdir(d)]
    return left


# ---- 1. concurrent Sends and Lists -----------------------------------------
store1 = os.path.join(top, "store1")
N_THREADS, PER_THREAD = 8, 12
with sbtest.Daemon(conf(store1), server_extra="workers = 16\n") as d:
    sent = []
    problems = []
    lock = threading.Lock()

    def sender(k):
        me = MBX[k % 2]          # alice or bob send
        to = [MBX[2], MBX[3]]    # carol and dave receive
        for i in range(PER_THREAD):
            body = ("thread %d message %d\n" % (k, i)) * 20
            st, b = d.call("local/Email.Send", {
                "Mailbox": me, "To": to, "Subject": "t%d-m%d ✓" % (k, i),
                "Body": body})
            r = rows(b)
            with lock:
                if st == 200 and r:
                    sent.append((me, r[0].get("MessageId"), body))
                else:
                    problems.append("send %d/%d: %s %r" % (k, i, st, b))

    def lister(k):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if len(sent) + len(problems) >= N_THREADS * PER_THREAD:
                    return
            st, b = d.call("local/Email.List", {"Mailbox": MBX[2],
                                                "PageSize": 1000})
            if st != 200:
                with lock:
                    problems.append("list: %s %r" % (st, b))
                continue
            for r in rows(b)[:5]:
                st, lb = d.call("local/Email.Load", {"Mailbox": MBX[2],
                                                     "Id": r.get("Id")})
                body = rows(lb)[0].get("Body", "") if rows(lb) else ""
                if st != 200 or not body.startswith("thread ") or \
                        len(body) < 20 * len("thread 0 message 0\n"):
                    with lock:
                        problems.append("load: %s %r" % (st, lb))

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(N_THREADS)]
    threads += [threading.Thread(target=lister, args=(k,)) for k in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    t.eq(problems[:3], [], "no failed Send, List or Load under concurrency")
    total = N_THREADS * PER_THREAD
    t.eq(len(sent), total, "every concurrent Send answered 200")
    for rcpt in (MBX[2], MBX[3]):
        ids = []
        token = None
        for _ in range(100):
            inputs = {"Mailbox": rcpt, "PageSize": 25}
            if token:
                inputs["PageToken"] = token
            st, b = d.call("local/Email.List", inputs)
            ids += [r.get("Id") for r in rows(b)]
            token = b.get("next_page_token") if isinstance(b, dict) else None
            if not token:
                break
        t.eq(len(ids), total, "%s: paged List counts every message" % rcpt)
        t.eq(len(set(ids)), total, "%s: no message listed twice" % rcpt)
    sent_counts = Counter(me for me, _, _ in sent)
    for me in MBX[:2]:
        st, b = d.call("local/Email.List", {"Mailbox": me, "Folder": "Sent Items",
                                            "PageSize": 1000})
        t.eq(len(rows(b)), sent_counts[me], "%s: Sent Items count exact" % me)
    got = Counter(m for m, _, _ in message_ids(store1, MBX[2], "Inbox"))
    t.ok(all(got[m] == 1 for _, m, _ in sent) and len(got) == total,
         "each Message-ID delivered exactly once")
    t.eq(tmp_files(store1), [], "no file left in tmp/")
    clean_stop(d, "concurrency daemon")

# ---- 2. SIGKILL during a burst, three times --------------------------------
# Each round starts a daemon on the same store (which finishes what the
# previous kill interrupted), sends from several threads, and kills it.
store2 = os.path.join(top, "store2")
ok_sends = []        # (sender, message-id, recipients) answered 200
lock = threading.Lock()
recovered = 0


def burst(d, stop, k, rnd):
    me = MBX[k % 2]
    to = [MBX[(k % 2) ^ 1], MBX[2], MBX[3]]
    i = 0
    while not stop.is_set() and i < 400:
        i += 1
        try:
            st, b = d.call("local/Email.Send", {
                "Mailbox": me, "To": to, "Cc": [MBX[3]],
                "Subject": "burst %d %d/%d" % (rnd, k, i),
                "Body": "x" * random.randint(10, 20000)}, timeout=10)
        except Exception:  # the daemon is gone
            return
        r = rows(b)
        if st == 200 and r:
            with lock:
                ok_sends.append((me, r[0].get("MessageId"), tuple(to)))


for rnd in range(3):
    d = sbtest.Daemon(conf(store2), server_extra="workers = 16\n")
    d.start()
    if rnd > 0:
        t.eq(tmp_files(store2), [], "round %d: tmp/ empty after the restart" % rnd)
    before = len(ok_sends)
    stop = threading.Event()
    threads = [threading.Thread(target=burst, args=(d, stop, k, rnd))
               for k in range(6)]
    for th in threads:
        th.start()
    want = before + random.randint(20, 40)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if len(ok_sends) >= want:
                break
        time.sleep(0.005)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    stop.set()
    for th in threads:
        th.join(30)
    recovered += d.read_log().count("finished interrupted send")
    t.ok(len(ok_sends) >= want, "round %d: Sends went through before the kill (%d)"
         % (rnd, len(ok_sends) - before))
    if d.log:
        d.log.close()
    shutil.rmtree(d.workdir, ignore_errors=True)

d2 = sbtest.Daemon(conf(store2))
d2.start()
t.eq(tmp_files(store2), [], "tmp/ is empty after restart")
for mb in MBX:
    st, b = d2.call("local/Email.List", {"Mailbox": mb, "Folder": "Outbox"})
    t.eq((st, len(rows(b))), (200, 0), "%s: Outbox empty after restart" % mb)
inbox = {mb: Counter(m for m, _, _ in message_ids(store2, mb, "Inbox")) for mb in MBX}
sent_box = {mb: Counter(m for m, _, _ in message_ids(store2, mb, "Sent Items"))
            for mb in MBX}
missing, dup = [], []
for me, mid, to in ok_sends:
    for rcpt in set(to):
        n = inbox[rcpt][mid]
        if n == 0:
            missing.append((rcpt, mid))
        elif n > 1:
            dup.append((rcpt, mid))
    if sent_box[me][mid] != 1:
        missing.append((me, "Sent Items", mid, sent_box[me][mid]))
t.eq(missing[:5], [], "every Send that answered 200 is delivered and in Sent Items")
t.eq(dup[:5], [], "no Send delivered twice")
t.ok(all(n == 1 for c in list(inbox.values()) + list(sent_box.values())
         for n in c.values()),
     "no duplicate Message-ID in any Inbox or Sent Items (sends finished at "
     "restart included)")
# Every Send recovered at restart reached all of its recipients.
for me in MBX[:2]:
    for mid in sent_box[me]:
        rcpts = [MBX[MBX.index(me) ^ 1], MBX[2], MBX[3]]
        if any(inbox[r][mid] != 1 for r in rcpts):
            t.ok(False, "sent message %s reached every recipient" % mid)
            break
# No half-written file: every stored message parses completely.
broken = []
for mb in MBX:
    for folder in ("Inbox", "Sent Items"):
        for mid, msg, name in message_ids(store2, mb, folder):
            body = msg.get_body(("plain",))
            content = body.get_content() if body else ""
            if msg.defects or not content.strip() or set(content.strip()) != {"x"}:
                broken.append((mb, folder, name))
t.eq(broken[:5], [], "every stored message is complete")
st, b = d2.call("local/Email.List", {"Mailbox": MBX[2], "PageSize": 1000})
t.eq(len(rows(b)), sum(inbox[MBX[2]].values()), "List agrees with the files")
recovered += d2.read_log().count("finished interrupted send")
clean_stop(d2, "restarted daemon")
print("# %d Send(s) answered 200 before the kills; %d finished at restarts"
      % (len(ok_sends), recovered))
d2.__exit__(None, None, None)

# ---- 3. a Send recorded in the Outbox but never delivered -------------------
# What the daemon leaves when killed right after the Outbox record: plant
# such a record (with a Bcc line, as the sender's copy has) and restart.
planted = ("Bcc: dave@example.test\n"
           "From: alice@example.test\nTo: bob@example.test, nobody@example.test\n"
           "Cc: carol@example.test\nSubject: planted\n"
           "Date: Mon, 30 Nov 2026 10:00:00 +0000\n"
           "Message-ID: <planted-1@example.test>\nMIME-Version: 1.0\n"
           "Content-Type: text/plain; charset=utf-8\n\nxxxx\n")
outbox = os.path.join(store2, MBX[0], "Outbox")
with open(os.path.join(outbox, "tmp", "planted"), "w") as f:
    f.write(planted)
os.rename(os.path.join(outbox, "tmp", "planted"),
          os.path.join(outbox, "new", "1700000000.planted.host"))
for attempt in range(2):  # the second start must not deliver again
    with sbtest.Daemon(conf(store2)) as d3:
        for mb in MBX[1:]:
            n = sum(1 for m, _, _ in message_ids(store2, mb, "Inbox")
                    if m == "<planted-1@example.test>")
            t.eq(n, 1, "start %d: planted Send delivered once to %s" % (attempt + 1, mb))
        n = sum(1 for m, msg, _ in message_ids(store2, MBX[0], "Sent Items")
                if m == "<planted-1@example.test>")
        t.eq(n, 1, "start %d: planted Send in Sent Items once" % (attempt + 1))
        mids = [m for m, msg, _ in message_ids(store2, MBX[3], "Inbox")
                if m == "<planted-1@example.test>"]
        dave = [msg for m, msg, _ in message_ids(store2, MBX[3], "Inbox")
                if m == "<planted-1@example.test>"]
        t.ok(mids and dave[0]["Bcc"] is None, "the Bcc recipient's copy has no Bcc line")
        st, b = d3.call("local/Email.List", {"Mailbox": MBX[0], "Folder": "Outbox"})
        t.eq(len(rows(b)), 0, "start %d: Outbox empty" % (attempt + 1))
        clean_stop(d3, "start %d" % (attempt + 1))

# ---- 4. the write protocol, seen in the system calls ------------------------
def syscalls(path):
    """(index, name, args) of each traced call, "unfinished" lines joined
    with their "resumed" end; index is where the call started."""
    out, pending = [], {}
    with open(path, errors="replace") as f:
        for i, line in enumerate(f):
            m = re.match(r"(\d+)\s+(.*)", line.strip())
            if not m:
                continue
            pid, rest = m.group(1), m.group(2)
            m = re.match(r"<\.\.\. (\w+) resumed>(.*)", rest)
            if m and pid in pending:
                j, name, head = pending.pop(pid)
                out.append((j, name, head + m.group(2)))
                continue
            m = re.match(r"(\w+)\((.*)", rest)
            if not m:
                continue
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (i, m.group(1), m.group(2))
            else:
                out.append((i, m.group(1), m.group(2)))
    return sorted(out)


def result_ok(args):
    return re.search(r"\)\s*= 0\s*$", args) is not None


strace = shutil.which("strace")
probe = subprocess.run([strace, "-qq", "-e", "trace=none", "true"],
                       capture_output=True) if strace else None
if not strace or probe.returncode != 0:
    print("# strace cannot trace here: write protocol not checked")
else:
    store4 = os.path.join(top, "store4")
    trace = os.path.join(top, "trace.txt")
    real = sbtest.daemon_command
    sbtest.daemon_command = lambda: [
        strace, "-f", "-y", "-qq", "-o", trace, "-e",
        "trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat"] + real()
    try:
        # LeakSanitizer cannot run under ptrace; the other daemons of this
        # test check for leaks.
        asan = os.environ.get("ASAN_OPTIONS", "")
        with sbtest.Daemon(conf(store4), env={
                "ASAN_OPTIONS": (asan + ":" if asan else "") + "detect_leaks=0"}) as d4:
            st, b = d4.call("local/Email.Send", {"Mailbox": MBX[0], "To": [MBX[1]],
                                                 "Subject": "traced"})
            t.eq(st, 200, "traced Send")
            st, b = d4.call("local/Email.SaveDraft", {"Subject": "traced draft"})
            t.eq(st, 200, "traced SaveDraft")
            st, b = d4.call("local/Email.List", {"Mailbox": MBX[1]})
            bid = rows(b)[0].get("Id") if rows(b) else ""
            st, b = d4.call("local/Email.MarkRead", {"Mailbox": MBX[1], "Id": bid})
            t.eq(st, 200, "traced MarkRead")
            st, b = d4.call("local/Email.Move", {"Mailbox": MBX[1], "Id": bid,
                                                 "Folder": "Deleted Items"})
            t.eq(st, 200, "traced Move")
            st, b = d4.call("local/Appointment.Create", {
                "Subject": "traced", "Start": "2026-12-01T09:00:00Z",
                "End": "2026-12-01T10:00:00Z"})
            t.eq(st, 200, "traced Appointment.Create")
            st, b = d4.call("local/Task.Create", {"Subject": "traced"})
            tid = rows(b)[0].get("Id") if rows(b) else ""
            st, b = d4.call("local/Task.Complete", {"Id": tid})
            t.eq(st, 200, "traced Task.Complete")
            # SIGTERM to the daemon itself (strace would only detach);
            # strace then exits with the daemon's status.
            spid = d4.proc.pid
            with open("/proc/%d/task/%d/children" % (spid, spid)) as f:
                child = int(f.read().split()[0])
            os.kill(child, signal.SIGTERM)
            code = d4.proc.wait(30)
            t.eq(code, 0, "traced daemon exits 0 on SIGTERM")
    finally:
        sbtest.daemon_command = real
    calls = syscalls(trace)
    root = os.path.realpath(store4)
    fsyncs = [(i, re.match(r"\d+<(.*)>\)", a).group(1)) for i, n, a in calls
              if n in ("fsync", "fdatasync") and result_ok(a) and
              re.match(r"\d+<(.*)>\)", a)]
    moves = []  # (index, src, dst) of every link/rename into the store
    for i, n, a in calls:
        if n in ("link", "linkat", "rename", "renameat", "renameat2") and result_ok(a):
            q = re.findall(r'"((?:[^"\\]|\\.)*)"', a)
            if len(q) >= 2 and q[1].startswith(root + "/"):
                moves.append((i, q[0], q[1]))

    def from_tmp(src):  # written to a tmp/ directory of the store
        return src.startswith(root + "/") and "/tmp/" in src[len(root):]
    items = [m for m in moves if from_tmp(m[1])]
    kinds = Counter()
    for _, src, dst in items:
        kinds["ics" if dst.endswith(".ics") else os.path.basename(os.path.dirname(
            os.path.dirname(dst)))] += 1
    t.ok(kinds["Inbox"] >= 1 and kinds["Outbox"] >= 1 and kinds["Drafts"] >= 1 and
         kinds["ics"] >= 3, "every kind of item is written through tmp/", repr(kinds))
    bad = []
    for i, src, dst in moves:
        if from_tmp(src) and not any(j < i and p == src for j, p in fsyncs):
            bad.append(("file not fsynced before it was put in place", src))
        ddir = os.path.dirname(dst)
        if not any(j > i and p == ddir for j, p in fsyncs):
            bad.append(("directory not fsynced after", dst))
    t.eq(bad, [], "every write and move: file fsynced, then put in place, then "
         "its directory fsynced (%d checked)" % len(moves))
    renames = [m for m in moves if not from_tmp(m[1])]
    t.ok(len(renames) >= 3, "MarkRead, Move and Sent Items moves were traced "
         "(%d)" % len(renames))

shutil.rmtree(top, ignore_errors=True)
t.done()
