"""GET answers keep the connection open (HTTP/1.1 keep-alive), so catalog
readers don't pay for a new TCP connection per request."""
import http.client
import json
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
with sbtest.Daemon("[module testmod]\nenabled = yes\n"
                   "[instance alpha]\nbroker = testmod\nlabel = a\n") as d:
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    for path in ("/v1/health", "/v1/catalog", "/v1/catalog/alpha/Echo",
                 "/v1/openapi.json", "/metrics", "/v1/catalog"):
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        t.eq(r.status, 200, "GET %s on the same connection" % path)
        t.ok((r.getheader("Connection") or "").lower() != "close",
             "GET %s keeps the connection open" % path)
    sock_before = conn.sock
    conn.request("POST", "/v1/call/alpha/Echo/Echo",
                 body=json.dumps({"inputs": {"Text": "hi"}}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    rows = json.loads(r.read()).get("rows", [])
    t.eq(r.status, 200, "a POST call on the same connection")
    t.eq(rows[0].get("Text") if rows else None, "hi", "the call's answer")
    t.ok(conn.sock is sock_before and sock_before is not None,
         "one TCP connection served every request")
    conn.close()
t.done()
