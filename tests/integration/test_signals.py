"""Signals always work: SIGTERM while a broker's open() never returns
(at start-up: the daemon exits at once and the log names the instance;
during a reload: the running generation drains and the daemon stops),
SIGTERM with a call stuck in a broker exits within the documented 30 s,
and SIGUSR1, SIGUSR2 and SIGALRM are logged and ignored instead of
killing the daemon."""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

BASE = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = first
"""

HANG = BASE + """
[instance hangs]
broker = testmod
label = hangs
open_hang = yes
"""

STUCK = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = first
stuck = yes
timeout = 2s
"""

SLOW = 3 if sbtest.VALGRIND else 1


def write_config(d, body):
    with open(d.config) as f:
        text = f.read()
    server = text.split("\n[module", 1)[0]
    tmp = d.config + ".new"
    with open(tmp, "w") as f:
        f.write(server + "\n" + body)
    os.replace(tmp, d.config)


def wait_exit(proc, timeout):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def test_open_hangs_at_startup(t):
    d = sbtest.Daemon(HANG)
    d.log = open(d.log_path, "ab")
    d.proc = subprocess.Popen(sbtest.daemon_command() + ["-c", d.config],
                              stdout=d.log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    try:
        t.ok(sbtest.wait_for(lambda: "open() never returns" in d.read_log(),
                             timeout=10 * SLOW),
             "start-up: the hanging open() runs")
        t.ok(d.proc.poll() is None, "start-up: the daemon waits in open()")
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        code = wait_exit(d.proc, 10 * SLOW)
        t.ok(code is not None and time.monotonic() - t0 < 3 * SLOW,
             "start-up: SIGTERM exits at once while open() never returns",
             "(code %r)" % code)
        t.eq(code, 1, "start-up: exit status 1 (it never served)")
        log = d.read_log()
        t.ok("SIGTERM during start-up while opening instance hangs "
             "(broker testmod)" in log,
             "start-up: the log names the instance being opened", log[-1500:])
    finally:
        d.kill()
        d.log.close()


def test_open_hangs_in_reload(t):
    d = sbtest.Daemon(BASE)
    with d:
        write_config(d, HANG)
        d.signal(signal.SIGHUP)
        t.ok(sbtest.wait_for(lambda: "open() never returns" in d.read_log(),
                             timeout=10 * SLOW),
             "reload: the hanging open() runs")
        st, body = d.call("t1/Instance.Info", {}, timeout=10)
        t.eq(st, 200, "reload: the old generation serves meanwhile")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        code = wait_exit(d.proc, 40 * SLOW)
        elapsed = time.monotonic() - t0
        t.ok(code is not None and elapsed < 31 * SLOW,
             "reload: SIGTERM stops within 30 s while a reload hangs",
             "(code %r after %.1f s)" % (code, elapsed))
        d.expect_exit = True
        log = d.read_log()
        t.ok("SIGTERM during a reload that is opening instance hangs "
             "(broker testmod)" in log,
             "reload: the log names the instance being opened", log[-1500:])


def test_stuck_call(t):
    d = sbtest.Daemon(STUCK)
    with d:
        box = {}

        def run():
            box["r"] = d.call("t1/Echo.Sleep", {"Ms": 120000}, timeout=90)

        th = threading.Thread(target=run)
        th.start()
        t.ok(sbtest.wait_for(lambda: d.running("t1") == 1, timeout=5),
             "stuck call: running")
        t.ok(sbtest.wait_for(lambda: box.get("r") is not None, timeout=10),
             "stuck call: answered at its deadline although the broker "
             "still runs it")
        t.eq(box.get("r", (None,))[0], 504, "stuck call: 504 timeout")
        t.eq(d.running("t1"), 1, "stuck call: the broker still runs it")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        code = wait_exit(d.proc, 60 * SLOW)
        elapsed = time.monotonic() - t0
        t.ok(code is not None and elapsed <= 30 * SLOW,
             "stuck call: SIGTERM exits within 30 s",
             "(code %r after %.1f s)" % (code, elapsed))
        t.eq(code, 0, "stuck call: exit status 0")
        log = d.read_log()
        t.ok("abandoned" in log and "stopped in" in log,
             "stuck call: the log says the call was abandoned", log[-1500:])
        th.join(timeout=5)


def test_other_signals(t):
    with sbtest.Daemon(BASE) as d:
        for sig, name in ((signal.SIGUSR1, "SIGUSR1"),
                          (signal.SIGUSR2, "SIGUSR2"),
                          (signal.SIGALRM, "SIGALRM")):
            d.signal(sig)
            t.ok(sbtest.wait_for(lambda: "%s ignored" % name in d.read_log(),
                                 timeout=5 * SLOW),
                 "%s: logged" % name, d.read_log()[-800:])
            t.ok(d.proc.poll() is None, "%s: the daemon lives on" % name)
            st, _ = d.call("t1/Instance.Info", {}, timeout=10)
            t.eq(st, 200, "%s: calls still answer" % name)
    t.eq(d.proc.returncode, 0, "SIGTERM after them exits 0")


def main():
    t = sbtest.Checks()
    test_other_signals(t)
    test_open_hangs_at_startup(t)
    test_stuck_call(t)
    test_open_hangs_in_reload(t)
    t.done()


main()
