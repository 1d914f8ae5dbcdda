"""The executor seen through the API: per-call deadlines (504 on time),
per-instance concurrency caps without head-of-line blocking, catalog reads
that stay fast while an instance is saturated, a full queue (503 +
Retry-After) and a call that cannot start before its deadline (busy 503)."""
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

CONFIG = """
[module testmod]
enabled = yes

[instance fast]
broker = testmod
label = fast

[instance capped]
broker = testmod
label = capped
max_concurrency = 2
timeout = 20s

[instance short]
broker = testmod
label = short
timeout = 500ms
"""

# one worker and one waiting place: deterministic queue and busy answers
TIGHT = """
[module testmod]
enabled = yes

[instance long]
broker = testmod
label = long
timeout = 20s

[instance quick]
broker = testmod
label = quick
timeout = 600ms
"""


def timed(fn, *a, **kw):
    t0 = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t0


def queued(d):
    st, text = d.get("/metrics")
    for line in text.splitlines() if st == 200 else []:
        if line.startswith("svcbroker_queue_depth "):
            return int(line.split()[1])
    return -1


def err_of(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def test_deadline(t, d):
    (st, body), el = timed(d.call, "short/Echo.Sleep", {"Ms": 5000})
    t.eq(st, 504, "a call past its deadline is 504")
    t.eq(err_of(body).get("category"), "timeout", "504 category timeout")
    t.ok(0.4 <= el < 1.5, "504 comes at the deadline (%.2fs)" % el)
    # the broker noticed the cancellation and its late answer was dropped
    deadline = time.monotonic() + 5
    nrun = None
    while time.monotonic() < deadline:
        nrun = d.running("short")
        if nrun == 0:
            break
        time.sleep(0.05)
    t.eq(nrun, 0, "the abandoned call left the instance")
    # (test_api_executor shows the 504 going out while a broker that
    # ignores cancellation still runs; testmod stops by itself at the
    # deadline, so which of the two answers first is a race here)
    st, body = d.call("short/Echo.Sleep", {"Ms": 10})
    t.eq(st, 200, "the instance answers again after a timeout")


def test_cap(t, d):
    results = []
    lock = threading.Lock()

    def sleeper():
        r = timed(d.call, "capped/Echo.Sleep", {"Ms": 1500})
        with lock:
            results.append(r)

    with ThreadPoolExecutor(max_workers=4) as pool:
        futs = [pool.submit(sleeper) for _ in range(4)]
        # two run, two wait behind the cap
        t.ok(sbtest.wait_for(lambda: d.running("capped") == 2 and queued(d) == 2),
             "two capped calls run and two wait")
        (st, _), el = timed(d.get, "/v1/catalog")
        t.eq(st, 200, "catalog while an instance is saturated")
        t.ok(el < 0.2, "catalog GET under 200 ms while sleeps run (%.3fs)" % el)
        (st, _), el = timed(d.get, "/v1/catalog/capped/Echo")
        t.ok(st == 200 and el < 0.2, "object GET fast (%.3fs)" % el)
        (st, _), el = timed(d.get, "/v1/health")
        t.ok(st == 200 and el < 0.2, "health fast (%.3fs)" % el)
        (st, body), el = timed(d.call, "fast/Echo.Echo", {"Text": "hi"})
        t.eq(st, 200, "another instance's call while one is saturated")
        t.ok(el < 0.2, "another instance is not held back (%.3fs)" % el)
        _, h = d.get("/v1/health")
        t.eq((h.get("calls_running"), h.get("calls_queued")), (2, 2),
             "health shows the executor's running and waiting calls")
        nrun = {i["name"]: i for i in h["instances"]}["capped"]["running"]
        t.eq(nrun, 2, "the capped instance runs exactly max_concurrency")
        for f in futs:
            f.result(timeout=30)
    sts = sorted(r[0][0] for r in results)
    t.eq(sts, [200] * 4, "every capped call completes")
    times = sorted(r[1] for r in results)
    t.ok(times[1] < 2.4, "the first two ran at once (%.2fs)" % times[1])
    t.ok(times[3] >= 2.9, "the last two waited for a slot (%.2fs)" % times[3])


def test_queue_and_busy(t):
    with sbtest.Daemon(TIGHT, server_extra="workers = 1\nqueue = 1") as d:
        with ThreadPoolExecutor(max_workers=2) as pool:
            hog = pool.submit(timed, d.call, "long/Echo.Sleep", {"Ms": 2500})
            t.ok(sbtest.wait_for(lambda: d.running("long") == 1),
                 "the only worker is busy")
            waiting = pool.submit(timed, d.call, "quick/Echo.Echo", {})
            t.ok(sbtest.wait_for(lambda: queued(d) == 1),
                 "the only waiting place is taken")
            (st, body), el = timed(d.call, "long/Echo.Echo", {})
            t.eq(st, 503, "a call beyond the queue is 503")
            t.eq(err_of(body).get("category"), "unavailable",
                 "queue full: category unavailable")
            t.ok(d.last_headers.get("Retry-After", "").isdigit(),
                 "queue full: Retry-After header")
            t.ok(el < 0.3, "queue full is answered at once (%.3fs)" % el)
            (st, body), el = waiting.result(timeout=10)
            t.eq(st, 503, "a call that cannot start by its deadline is 503")
            t.eq(err_of(body).get("code"), "Busy", "busy code")
            t.ok("quick" in err_of(body).get("message", ""),
                 "busy names the instance")
            t.ok(0.5 <= el < 1.5, "busy comes at the deadline (%.2fs)" % el)
            (st, _), el = hog.result(timeout=10)
            t.eq(st, 200, "the long call completes meanwhile")
        st, _ = d.call("quick/Echo.Echo", {})
        t.eq(st, 200, "calls run again once the worker is free")
        _, text = d.get("/metrics")
        t.ok('status="unavailable"' in text, "metrics count 503s")


def main():
    t = sbtest.Checks()
    # 6 workers for 3 instances: 2 reserved each (the executor's fair
    # share), so capped may run its max_concurrency of 2
    with sbtest.Daemon(CONFIG, server_extra="workers = 6") as d:
        test_deadline(t, d)
        test_cap(t, d)
    test_queue_and_busy(t)
    t.done()


if __name__ == "__main__":
    main()
