#!/usr/bin/python3
"""exchange-ews hands the client's request id to Exchange: a call made
with X-Request-Id reaches the mock EWS server with the same value in its
client-request-id header (so both logs tie together), and a call without
one carries the id the daemon made and echoed."""
import os
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402

if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)
try:
    from ews_server import MockEWS  # noqa: E402
except ImportError as e:
    print("# the mock EWS server cannot run here: %s" % e)
    sys.exit(sbtest.SKIP)
import ews_server  # noqa: E402
if ews_server.schema_missing():
    print("# %s" % ews_server.schema_missing())
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()


def sent_id(ews):
    hdrs = ews.stats().get("last_headers", {})
    return {k.lower(): v for k, v in hdrs.items()}.get("client-request-id")


with MockEWS(["--auth", "basic", "--lifetime", "900"]) as ews:
    cfg = ("[module exchange-ews]\nenabled = yes\n"
           "[instance ews]\nbroker = exchange-ews\nurl = %s\n"
           "auth = basic\nusername = alice@example.test\n"
           "password = Secret-Pw-1\n" % ews.url)
    with sbtest.Daemon(cfg) as d:
        st, b = d.request("POST", "/v1/call/ews/Folder/List",
                          {"inputs": {}},
                          headers={"X-Request-Id": "ews-trace-0042"})
        c.eq(st, 200, "Folder.List answers 200")
        c.eq(sent_id(ews), "ews-trace-0042",
             "the client's X-Request-Id goes to EWS as client-request-id")
        st, b = d.request("POST", "/v1/call/ews/Folder/List",
                          {"inputs": {}})
        made = d.last_headers.get("X-Request-Id")
        c.ok(made and sent_id(ews) == made,
             "without one, the id the daemon made and echoed goes to EWS",
             "(%r, %r)" % (made, sent_id(ews)))
c.done()
