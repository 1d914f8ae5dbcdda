#!/usr/bin/python3
"""smtp broker: max_per_minute end to end.  Over the limit, a call whose
deadline allows it waits for a free slot and then sends: nothing is
dropped, and the server never sees more than the limit in any window.
(A call whose deadline is too short is answered throttled at once:
test_smtp_errors.py.)  The window is shortened with rate_window (1m by
default), so this takes seconds, not a minute; the code path is the
same."""
import os
import sys
import threading
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
LIMIT = 2
# Under valgrind every step is many times slower: a longer window keeps
# "not sent yet" and "waited" about the limit, not about the slowdown.
SLOW = 4 if sbtest.VALGRIND else 1
WINDOW = 20 if sbtest.VALGRIND else 8  # seconds (rate_window)


def inst(name, port, extra):
    return ("[instance %s]\nbroker = smtp\nurl = smtp://127.0.0.1:%d\n"
            "helo_name = client.example.test\nfrom = sender@example.test\n"
            "%s\n" % (name, port, extra))


mx = MockSMTP([]).start()
try:
    cfg = "[module smtp]\nenabled = yes\n" + \
        inst("wait", mx.port, "timeout = 100s\nmax_per_minute = %d\n"
             "rate_window = %ds\n" % (LIMIT, WINDOW)) + inst("other", mx.port, "timeout = 10s\n")
    with sbtest.Daemon(cfg) as d:
        t0 = time.monotonic()
        for i in range(LIMIT):
            st, _ = d.call("wait/Email.Send", {
                "To": ["r@example.test"], "Subject": "n%d" % i})
            c.eq(st, 200, "send %d within the limit" % (i + 1))
        c.ok(time.monotonic() - t0 < 5 * SLOW,
             "sends within the limit go at once")

        # two more, at the same time: each waits for its slot
        results = {}

        def send(i):
            t = time.monotonic()
            st, body = d.call("wait/Email.Send", {
                "To": ["r@example.test"], "Subject": "n%d" % i})
            results[i] = (st, time.monotonic() - t, body, time.monotonic())
        threads = [threading.Thread(target=send, args=(i,))
                   for i in range(LIMIT, 2 * LIMIT)]
        for t in threads:
            t.start()
        time.sleep(3)
        c.eq(len(mx.messages()), LIMIT, "over the limit: not sent yet")
        # the daemon and other instances are not held up meanwhile
        t = time.monotonic()
        st, _ = d.call("other/Email.Send", {"To": ["r@example.test"],
                                            "Subject": "other"})
        c.ok(st == 200 and time.monotonic() - t < 5 * SLOW,
             "another instance sends while calls wait")
        for t in threads:
            t.join(120)
        for i in range(LIMIT, 2 * LIMIT):
            st, took, body, end = results.get(i, (None, 0, None, 0))
            c.ok(st == 200, "call %d over the limit: sent after waiting"
                 % (i + 1), body)
            # its slot frees a window after a first send, which began
            # after t0 (the calls started a little after that)
            c.ok(end - t0 >= WINDOW - 0.5 and took <= WINDOW + 15 * SLOW,
                 "call %d waited about a window (%d s)" % (i + 1, WINDOW),
                 "(waited %.1f s, ended %.1f s after the first send)"
                 % (took, end - t0))

        msgs = [m for m in mx.messages()
                if str(parse_strict(m[0])[0]["Subject"]).startswith("n")]
        subjects = sorted(str(parse_strict(m[0])[0]["Subject"])
                          for m in msgs)
        c.eq(subjects, ["n%d" % i for i in range(2 * LIMIT)],
             "every message delivered once, none dropped")
        # arrival times at the server (when each file was written)
        times = sorted(os.path.getmtime(os.path.join(
            mx.save_dir, f)) for f in os.listdir(mx.save_dir)
            if f.endswith(".eml") and
            str(parse_strict(open(os.path.join(mx.save_dir, f), "rb")
                             .read())[0]["Subject"]).startswith("n"))
        gaps = [times[i + LIMIT] - times[i] for i in range(len(times) - LIMIT)]
        # The broker spaces the starts of its sends; the server stamps a
        # message when its DATA ends, so a send that took longer than the
        # next one narrows the gap seen here by the difference.
        c.ok(len(gaps) == LIMIT and all(g >= WINDOW - 0.5 * SLOW
                                        for g in gaps),
             "never more than %d in any %d s window" % (LIMIT, WINDOW),
             ["%.1f" % g for g in gaps])
finally:
    mx.stop()
    mx.cleanup()
c.done()
