"""svcbrokerd's lifecycle: SIGHUP reloads (a new instance appears, a call
running on the old catalog still completes and the old instance closes
exactly once afterwards; a bad configuration is refused and the old one
keeps serving), SIGTERM and SIGINT drain a running call and exit 0, and a
secret never shows in the API or the log."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

SECRET = "S3cr3t-Tok3n-do-not-show"

BASE = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = first
token = %s
""" % SECRET

ADDED = BASE + """
[instance t2]
broker = testmod
label = second
"""

BAD = BASE + """
[instance t3]
broker = testmod
no_such_key = 1
"""


def write_config(d, body):
    with open(d.config) as f:
        text = f.read()
    server = text.split("\n[module", 1)[0]
    tmp = d.config + ".new"
    with open(tmp, "w") as f:
        f.write(server + "\n" + body)
    os.replace(tmp, d.config)


def lifecycle(d, inst):
    p = os.path.join(d.workdir, "state", inst, "lifecycle.log")
    try:
        with open(p) as f:
            return f.read().split()
    except OSError:
        return []


def names(d):
    st, body = d.get("/v1/catalog")
    return [i["name"] for i in body.get("instances", [])] if st == 200 else []


def background_call(d, address, inputs):
    box = {}

    def run():
        t0 = time.monotonic()
        try:
            box["result"] = d.call(address, inputs)
        except Exception as e:  # reported by the caller's check
            box["result"] = (None, repr(e))
        box["elapsed"] = time.monotonic() - t0

    th = threading.Thread(target=run)
    th.start()
    return th, box


def test_reload(t):
    with sbtest.Daemon(BASE) as d:
        t.eq(names(d), ["t1"], "one instance at start")
        th, box = background_call(d, "t1/Echo.Sleep", {"Ms": 2000})
        t.ok(sbtest.wait_for(lambda: d.running("t1") == 1), "the call is running")
        write_config(d, ADDED)
        d.signal(signal.SIGHUP)
        t.ok(sbtest.wait_for(lambda: "t2" in names(d)), "SIGHUP: new instance appears")
        st, body = d.get("/v1/health")
        t.eq(body.get("generation"), 2, "SIGHUP: generation 2")
        st, body = d.call("t2/Instance.Info", {})
        t.eq((st, body.get("rows", [{}])[0].get("Label")), (200, "second"),
             "the new instance answers")
        t.eq(lifecycle(d, "t1"), ["open", "open"],
             "old t1 still open while its call runs")
        th.join(timeout=30)
        t.eq(box.get("result", (None,))[0], 200,
             "the call running on the old catalog completes")
        t.ok(sbtest.wait_for(lambda: lifecycle(d, "t1") == ["open", "open", "close"]),
             "the old t1 closes exactly once after its last call",
             repr(lifecycle(d, "t1")))

        write_config(d, BAD)
        d.signal(signal.SIGHUP)
        t.ok(sbtest.wait_for(lambda: "reload refused" in d.read_log()),
             "a bad configuration is refused")
        t.ok("no_such_key" in d.read_log(), "the refusal names the problem")
        t.eq(names(d), ["t1", "t2"], "the old catalog keeps serving")
        st, body = d.call("t2/Echo.Echo", {"Text": "still"})
        t.eq(st, 200, "calls work after a refused reload")
        st, text = d.get("/metrics")
        t.ok('svcbroker_reloads_total{result="ok"} 1' in text and
             'svcbroker_reloads_total{result="failed"} 1' in text,
             "metrics count reloads")
        write_config(d, BASE)
        d.signal(signal.SIGHUP)
        t.ok(sbtest.wait_for(lambda: names(d) == ["t1"]),
             "a reload can remove an instance")
        t.ok(sbtest.wait_for(lambda: lifecycle(d, "t2") == ["open", "close"]),
             "a removed instance is closed")
        st, body = d.call("t2/Echo.Echo", {})
        t.eq(st, 404, "a removed instance is 404")


def test_drain(t, sig, name):
    d = sbtest.Daemon(BASE)
    with d:
        th, box = background_call(d, "t1/Echo.Sleep", {"Ms": 1500})
        t.ok(sbtest.wait_for(lambda: d.running("t1") == 1),
             "%s: the call is running" % name)
        t0 = time.monotonic()
        d.signal(sig)
        try:
            code = d.proc.wait(timeout=20)
        except Exception:
            code = None
        th.join(timeout=30)
        t.ok(box.get("result", (None,))[0] == 200,
             "%s: the running call completes" % name,
             repr(box.get("result"))[:300] + "\n" + d.read_log()[-2000:])
        t.eq(code, 0, "%s: exit status 0" % name)
        t.ok(time.monotonic() - t0 < 5, "%s: exits promptly" % name)
        t.eq(lifecycle(d, "t1"), ["open", "close"],
             "%s: the instance is closed once" % name)
        t.ok("stopped" in d.read_log(), "%s: logged" % name)


def test_second_signal(t):
    d = sbtest.Daemon(BASE)
    with d:
        d.expect_exit = True
        th, box = background_call(d, "t1/Echo.Sleep", {"Ms": 20000})
        t.ok(sbtest.wait_for(lambda: d.running("t1") == 1),
             "second signal: the call is running")
        d.signal(signal.SIGTERM)
        t.ok(sbtest.wait_for(lambda: "finishing running calls" in d.read_log()),
             "second signal: the first one started the drain")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        try:
            code = d.proc.wait(timeout=10)
        except Exception:
            code = None
        t.eq(code, 1, "a second SIGTERM exits 1")
        t.ok(time.monotonic() - t0 < 3, "a second SIGTERM exits at once")
        th.join(timeout=30)


def test_secrets(t):
    with sbtest.Daemon(BASE, server_extra="log_level = debug") as d:
        seen = []
        for path in ("/v1/catalog", "/v1/catalog/t1/Instance",
                     "/v1/catalog/t1/Echo", "/v1/health", "/v1/openapi.json",
                     "/metrics"):
            st, body = d.get(path)
            seen.append(repr(body))
        st, body = d.call("t1/Instance.Info", {})
        t.eq(st, 200, "Instance.Info answers")
        t.eq(body["rows"][0].get("HasToken"), True, "the token is set")
        seen.append(repr(body))
        d.call("t1/Echo.Fail", {"Status": "upstream_auth"})
        d.call("t1/Echo.Echo", {"Bogus": SECRET})
        t.ok(not any(SECRET in s for s in seen),
             "the secret never appears in API answers")
        t.ok("[testmod:t1]" in d.read_log(), "logs carry [broker:instance]")
        t.ok(" info " in d.read_log(), "logs carry the level")
    t.ok(SECRET not in d.read_log(), "the secret never appears in the log")


def main():
    t = sbtest.Checks()
    test_reload(t)
    test_drain(t, signal.SIGTERM, "SIGTERM")
    test_drain(t, signal.SIGINT, "SIGINT")
    test_second_signal(t)
    test_secrets(t)
    t.done()


if __name__ == "__main__":
    main()
