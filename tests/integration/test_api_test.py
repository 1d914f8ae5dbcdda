#!/usr/bin/python3
"""Test settings: POST /v1/test/{instance} runs the broker's test() on a
worker, bounded by the instance's timeout, and answers the verdict as
JSON (200 with ok true or false; 404 for an unknown instance; 503 for one
that failed to open, with its error).  `svcbroker test INSTANCE` exits 1
when the test fails and prints the message; `svcbroker health` exits 1
when the daemon is degraded.  sb_runtime_test_json gives the same in
process (test_api_test_client)."""
import json
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402
from smtp_server import MockSMTP  # noqa: E402

if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()
CLI = sbtest.cli_path()
TESTMOD = """[module testmod]
enabled = yes

[instance good]
broker = testmod
label = good

[instance bad]
broker = testmod
label = bad
token = wrong

[instance down]
broker = testmod
label = down
open_fail = yes
"""
SERIAL = """
[instance one]
broker = testmod
label = one
max_concurrency = 1
"""


def cli(*args, url=None, timeout=60):
    e = dict(os.environ)
    e.pop("SVCBROKER_URL", None)
    argv = [CLI] + (["--url", url] if url else []) + list(args)
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       env=e, timeout=timeout)
    return (r.returncode, r.stdout.decode("utf-8", "replace"),
            r.stderr.decode("utf-8", "replace"))


def smtp(name, port, extra=""):
    return ("[instance %s]\nbroker = smtp\nurl = smtp://127.0.0.1:%d\n"
            "helo_name = client.example.test\nfrom = sender@example.test\n"
            "%s\n" % (name, port, extra))


def verdict(body):
    """(ok, category, code) of a test answer, or None."""
    if not isinstance(body, dict) or "ok" not in body:
        return None
    d = body.get("details", {})
    return (body["ok"], d.get("category"), d.get("code"))


work = sbtest.tempdir("sbtest-probe-")
store = os.path.join(work, "store")
mx = MockSMTP([]).start()
auth_mx = MockSMTP(["--auth", "--user", "u", "--password", "right"]).start()
hang = MockSMTP(["--hang", "greeting"]).start()
closed = sbtest.free_port()
try:
    cfg = TESTMOD + SERIAL + (
        "[module mapi-stub]\nenabled = yes\n\n[module smtp]\nenabled = yes\n"
        "\n[instance local]\nbroker = mapi-stub\nstore_dir = %s\n"
        "mailboxes = a@example.test\n\n" % store) + "".join([
            smtp("mail", mx.port),
            smtp("mail_closed", closed),
            smtp("mail_badpw", auth_mx.port,
                 "auth = plain\nusername = u\npassword = wrong-Pw\n"),
            smtp("mail_hang", hang.port, "timeout = 2s\n"),
        ])
    with sbtest.Daemon(cfg) as d:
        # ---- the route -----------------------------------------------------
        st, body = d.request("POST", "/v1/test/good")
        c.eq((st, verdict(body)), (200, (True, "ok", "")),
             "testmod: the test passes")
        c.ok(isinstance(body, dict) and body.get("instance") == "good" and
             body.get("broker") == "testmod" and
             body.get("details", {}).get("tested") is True and
             isinstance(body.get("elapsed_ms"), int) and
             body.get("message") == "the settings work",
             "the answer names the instance and broker, with a message",
             body)
        st, body = d.request("POST", "/v1/test/bad")
        c.eq((st, verdict(body)),
             (200, (False, "upstream_auth", "TokenRejected")),
             "a failing test: 200, ok false, the broker's category and code")
        c.ok(isinstance(body, dict) and
             body.get("message") == "the token was rejected",
             "a failing test: the broker's message", body)
        st, body = d.request("POST", "/v1/test/nope")
        c.eq((st, body.get("error", {}).get("code")
              if isinstance(body, dict) else body),
             (404, "UnknownInstance"), "unknown instance: 404")
        st, body = d.request("POST", "/v1/test/down")
        e = body.get("error", {}) if isinstance(body, dict) else {}
        c.ok(st == 503 and e.get("category") == "unavailable" and
             "open_fail is set" in e.get("message", "") and
             d.last_headers.get("Retry-After"),
             "an instance that failed to open: 503 with its error", body)
        st, body = d.request("GET", "/v1/test/good")
        c.ok(st == 405 and d.last_headers.get("Allow") == "POST",
             "GET: 405, Allow: POST", body)
        st, body = d.request("POST", "/v1/test/good", "{\"any\": \"body\"}",
                             {"Content-Type": "application/json"})
        c.eq((st, verdict(body)), (200, (True, "ok", "")),
             "a body, if any, is ignored")
        st, body = d.request("POST", "/v1/test/good/extra")
        c.eq(st, 404, "a longer path: 404")

        # mapi-stub: its mailbox directories must be usable
        st, body = d.request("POST", "/v1/test/local")
        c.eq((st, verdict(body)), (200, (True, "ok", "")),
             "mapi-stub: the test passes")

        # smtp: against the mock server, a closed port, bad credentials
        st, body = d.request("POST", "/v1/test/mail")
        c.eq((st, verdict(body)), (200, (True, "ok", "")),
             "smtp against the mock server: ok")
        st, body = d.request("POST", "/v1/test/mail_closed")
        v = verdict(body)
        c.ok(st == 200 and v and v[0] is False and v[1] == "unavailable" and
             "cannot reach the SMTP server" in body.get("message", ""),
             "smtp against a closed port: ok false, says why", body)
        st, body = d.request("POST", "/v1/test/mail_badpw")
        v = verdict(body)
        c.ok(st == 200 and v and v[0] is False and
             v[1] == "upstream_auth" and v[2] == "535",
             "smtp with a wrong password: ok false, upstream_auth 535",
             body)
        c.ok("wrong-Pw" not in json.dumps(body), "the password is not shown")

        # a test that does not finish: answered by the instance's timeout,
        # while the daemon goes on serving
        got = {}

        def slow():
            t0 = time.monotonic()
            got["answer"] = d.request("POST", "/v1/test/mail_hang")
            got["took"] = time.monotonic() - t0
        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        st, _ = d.get("/v1/catalog")
        c.ok(st == 200 and time.monotonic() - t0 < 1,
             "the catalog answers while a test hangs")
        th.join(30)
        st, body = got.get("answer", (None, None))
        v = verdict(body)
        c.ok(st == 200 and v and v[0] is False and v[1] == "timeout" and
             "within 2000 ms" in body.get("message", ""),
             "a hanging test: ok false, timeout, by the instance's timeout",
             body)
        c.ok(1.5 <= got.get("took", 0) <= 6,
             "a hanging test is answered after about its timeout",
             "(%.1f s)" % got.get("took", 0))
        hang.stop()  # the stuck test ends: the daemon can stop at once

        # the mailboxes gone: the mapi-stub test fails
        shutil.rmtree(store)
        st, body = d.request("POST", "/v1/test/local")
        v = verdict(body)
        c.ok(st == 200 and v and v[0] is False and v[1] == "unavailable" and
             "not usable" in body.get("message", ""),
             "mapi-stub without its store: ok false", body)

        # a test waits for a slot of its instance like a call
        th = threading.Thread(target=d.call, args=("one/Echo.Sleep",
                                                   {"Ms": 1500}))
        th.start()
        c.ok(sbtest.wait_for(lambda: d.running("one") == 1, 5),
             "a call holds the only slot of instance one")
        st, body = d.request("POST", "/v1/test/one")
        th.join(30)
        c.ok(st == 200 and verdict(body) == (True, "ok", "") and
             body.get("elapsed_ms", 0) >= 800,
             "the test waited for the slot (max_concurrency = 1)", body)

        # ---- the OpenAPI document ------------------------------------------
        st, doc = d.get("/v1/openapi.json")
        op = doc.get("paths", {}).get("/v1/test/{instance}", {}).get(
            "post", {}) if isinstance(doc, dict) else {}
        c.ok(op.get("operationId") == "testInstance" and
             "200" in op.get("responses", {}) and
             "404" in op.get("responses", {}) and
             "503" in op.get("responses", {}),
             "OpenAPI: POST /v1/test/{instance} with 200, 404 and 503", op)
        schema = doc.get("components", {}).get("schemas", {}).get(
            "TestResult", {}) if isinstance(doc, dict) else {}
        st, body = d.request("POST", "/v1/test/good")
        c.ok(isinstance(body, dict) and
             sorted(body) == sorted(schema.get("properties", {})) and
             sorted(body["details"]) == sorted(
                 schema["properties"]["details"].get("properties", {})),
             "OpenAPI: the TestResult schema names every field of an answer",
             schema)

        # ---- the CLI -------------------------------------------------------
        if os.access(CLI, os.X_OK):
            u = d.url
            code, out, err = cli("test", "good", url=u)
            c.ok(code == 0 and out.startswith("good: ok: the settings work"),
                 "svcbroker test: exit 0 when the test passes", out + err)
            code, out, err = cli("test", "bad", url=u)
            c.ok(code == 1 and "FAILED: the token was rejected" in out and
                 "upstream_auth, TokenRejected" in out,
                 "svcbroker test: exit 1 and the message when it fails",
                 "%d %s %s" % (code, out, err))
            code, out, err = cli("--json", "test", "bad", url=u)
            try:
                j = json.loads(out)
            except ValueError:
                j = {}
            c.ok(code == 1 and j.get("ok") is False,
                 "svcbroker --json test: the answer, exit 1", out + err)
            code, out, err = cli("--json", "test", "good", url=u)
            c.ok(code == 0 and '"ok":true' in out.replace(" ", ""),
                 "svcbroker --json test: exit 0 when it passes", out + err)
            code, out, err = cli("test", "nope", url=u)
            c.ok(code == 1 and "no instance named nope" in err,
                 "svcbroker test, unknown instance: exit 1", err)
            code, out, err = cli("test", "down", url=u)
            c.ok(code == 1 and "open_fail is set" in err,
                 "svcbroker test, instance that failed to open: exit 1 and "
                 "its error", err)
            code, out, err = cli("test", url=u)
            c.eq(code, 2, "svcbroker test without an instance: exit 2")
            code, out, err = cli("test", "a", "b", url=u)
            c.eq(code, 2, "svcbroker test with two instances: exit 2")
            code, out, err = cli("test", "good",
                                 url="http://127.0.0.1:%d" %
                                 sbtest.free_port())
            c.eq(code, 3, "svcbroker test, daemon not reachable: exit 3")
            # `down` failed to open: degraded
            code, out, err = cli("health", url=u)
            c.ok(code == 1 and out.startswith("degraded"),
                 "svcbroker health, degraded: exit 1", out + err)
        # counted as calls of (settings).Test: a failed check is a verdict
        st, text = d.get("/metrics")
        c.ok(st == 200 and 'svcbroker_calls_total{instance="bad",'
             'object="(settings)",method="Test",status="ok"}' in str(text),
             "/metrics counts tests as (settings).Test, a failed one ok")
        # the log says what each test found
        log = d.read_log()
        c.ok("[testmod:bad] test failed" in log and
             "[testmod:good] test passed" in log, "tests are logged")

    if os.access(CLI, os.X_OK):
        with sbtest.Daemon(TESTMOD.split("[instance bad]")[0]) as d:
            code, out, err = cli("health", url=d.url)
            c.ok(code == 0 and out.startswith("ok"),
                 "svcbroker health, every instance open: exit 0", out + err)
            code, out, err = cli("--json", "health", url=d.url)
            c.ok(code == 0 and json.loads(out).get("status") == "ok",
                 "svcbroker --json health, healthy: exit 0", out + err)
        # the man page has the command
        with open(os.path.join(SRC, "docs", "man", "svcbroker.1")) as f:
            man = f.read()
        c.ok(".B test" in man, "svcbroker(1) documents the test command")

    # ---- in process ----------------------------------------------------------
    client = os.path.join(sbtest.TOP_BUILDDIR, "tests", "integration",
                          "test_api_test_client")
    if os.path.exists(client):
        mods = sbtest.make_module_dir(os.path.join(work, "modules"))
        path = os.path.join(work, "runtime.ini")
        with open(path, "w") as f:
            f.write("[server]\nmodule_dir = %s\nworkers = 2\n\n%s"
                    % (mods, TESTMOD))
        p = subprocess.run([client, path], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=120)
        sys.stdout.write(p.stdout)
        bad = [m for m in sbtest.Daemon.SANITIZER_MARKS if m in p.stderr]
        c.eq(p.returncode, 0, "sb_runtime_test_json: the client passed")
        c.ok(not bad, "sb_runtime_test_json: no sanitizer report",
             p.stderr[-3000:])
    else:
        c.ok(False, "test_api_test_client is built", client)
finally:
    for s in (mx, auth_mx, hang):
        s.stop()
        s.cleanup()
    shutil.rmtree(work, ignore_errors=True)
c.done()
