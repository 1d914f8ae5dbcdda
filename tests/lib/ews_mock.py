"""The mock EWS server (tests/mock/ews_server.py) for the tests that run
the daemon against it (test_ews_calendar, test_ews_meeting, test_ews_tasks,
test_ews_mail, test_calendar_interchange): the checks that it can run here
(else the test is skipped), the server on loopback, an exchange-ews
instance section for it, and readers of the daemon's answers."""
import json
import os
import sys
import urllib.request

import sbtest

SRC = os.environ.get("top_srcdir") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
MOCK = os.path.join(SRC, "tests", "mock", "ews_server.py")
ALICE, BOB, CAROL = ("alice@example.test", "bob@example.test",
                     "carol@example.test")
PW = "Secret-Pw-1"



# A FindItem success without its RootFolder: a malformed answer the
# broker's List must refuse (502 invalid_response), not read as empty.
FINDITEM_NO_ROOT = (
    '<?xml version="1.0" encoding="utf-8"?><s:Envelope '
    'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
    '<s:Body><m:FindItemResponse xmlns:m="http://schemas.'
    'microsoft.com/exchange/services/2006/messages">'
    '<m:ResponseMessages><m:FindItemResponseMessage '
    'ResponseClass="Success"><m:ResponseCode>NoError'
    '</m:ResponseCode></m:FindItemResponseMessage>'
    '</m:ResponseMessages></m:FindItemResponse></s:Body>'
    '</s:Envelope>')

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
    """The mock EWS server on loopback, its answers validated too unless
    validate=False; started and stopped by the mock's own runner
    (ews_server.MockEWS: bounded waits, its stderr kept in self.dir) and
    gone after lifetime seconds should this process die first. ctl()
    waits timeout seconds unless told otherwise. require() first."""

    def __init__(self, validate=True, lifetime=900, timeout=60):
        import ews_server
        args = ["--auth", "basic", "--lifetime", str(lifetime)]
        if validate:
            args.append("--validate-responses")
        self.srv = ews_server.MockEWS(args, start_timeout=30).start()
        self.dir, self.port = self.srv.dir, self.srv.port
        self.timeout = timeout

    def ctl(self, path, body=None, timeout=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.port, path), data=data,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(
                req, timeout=timeout or self.timeout) as r:
            return json.loads(r.read().decode())

    def mailbox(self, who, folder=None):
        q = "/_mock/mailbox?mailbox=" + who
        if folder:
            q += "&folder=" + folder
        return self.ctl(q)

    def calendar(self, who):
        out = []
        for f in self.mailbox(who, "calendar").get("folders", []):
            out.extend(f.get("items", []))
        return out

    def stats(self):
        return self.ctl("/_mock/stats")

    def stop(self):
        """Stop the server; its directory (sbtest.tempdir) stays for the
        test's end: removed then unless the test failed."""
        self.srv.stop()
        self.srv.err.close()


def instance(name, port, extra="", timeout="120s"):
    """An exchange-ews instance section for the mock on `port`, signed in
    as alice, impersonating."""
    return ("[instance %s]\nbroker = exchange-ews\n"
            "url = http://127.0.0.1:%d/EWS/Exchange.asmx\nauth = basic\n"
            "username = %s\npassword = %s\nimpersonation = impersonate\n"
            "timeout = %s\n%s\n" % (name, port, ALICE, PW, timeout, extra))


def err(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def rows(body):
    return body.get("rows", []) if isinstance(body, dict) else []


def row(body):
    r = rows(body)
    return r[0] if r else {}
