"""The mock EWS server (tests/mock/ews_server.py) for the calendar tests
that run the daemon against it: the checks that it can run here (else the
test is skipped), the server on loopback with its answers validated too,
an exchange-ews instance section for it, and readers of the daemon's
answers."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

import sbtest

SRC = os.environ.get("top_srcdir") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
MOCK = os.path.join(SRC, "tests", "mock", "ews_server.py")
ALICE, BOB = "alice@example.test", "bob@example.test"
PW = "Secret-Pw-1"


def require():
    """Skip the test (exit) unless the daemon, the mock, its Python
    modules and the schema are there; the mock's module ews_server."""
    if not os.path.exists(sbtest.daemon_path()) or not os.path.exists(MOCK):
        print("# svcbrokerd or the mock EWS server not built")
        sys.exit(sbtest.SKIP)
    sys.path.insert(0, os.path.join(SRC, "tests", "mock"))
    try:
        import ews_server
        __import__("dateutil")  # the mock expands series with it
    except ImportError as e:  # python3-lxml, -dateutil
        print("# the mock EWS server cannot run here: %s" % e)
        sys.exit(sbtest.SKIP)
    if ews_server.schema_missing():
        print("# %s" % ews_server.schema_missing())
        sys.exit(sbtest.SKIP)
    return ews_server


class MockEWS:
    """The mock EWS server on loopback (answers validated too)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ewsmock-")
        pf = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", MOCK, "--port-file", pf, "--auth", "basic",
             "--lifetime", "900", "--validate-responses",
             "--log", os.path.join(self.dir, "mock.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        ok = sbtest.wait_for(
            lambda: os.path.exists(pf) and open(pf).read().strip(), 30)
        if not ok:
            self.stop()
            raise RuntimeError("mock EWS server did not start")
        self.port = int(open(pf).read().strip())

    def ctl(self, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.port, path), data=data,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read().decode())

    def calendar(self, who):
        box = self.ctl("/_mock/mailbox?mailbox=%s&folder=calendar" % who)
        out = []
        for f in box.get("folders", []):
            out.extend(f.get("items", []))
        return out

    def stats(self):
        return self.ctl("/_mock/stats")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def instance(name, port, extra=""):
    return ("[instance %s]\nbroker = exchange-ews\n"
            "url = http://127.0.0.1:%d/EWS/Exchange.asmx\nauth = basic\n"
            "username = %s\npassword = %s\nimpersonation = impersonate\n"
            "timeout = 120s\n%s\n" % (name, port, ALICE, PW, extra))


def err(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def rows(body):
    return body.get("rows", []) if isinstance(body, dict) else []


def row(body):
    r = rows(body)
    return r[0] if r else {}
