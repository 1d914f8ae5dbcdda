"""GET answers keep the connection open (HTTP/1.1 keep-alive), so catalog
readers don't pay for a new TCP connection per request."""
import http.client
import json
import os
import socket
import sys
import time

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


def read_to_eof(s, limit):
    """What s sends until it closes, and how long that took (bounded)."""
    s.settimeout(limit)
    t0 = time.monotonic()
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data, time.monotonic() - t0, True
            data += b
    except socket.timeout:
        return data, time.monotonic() - t0, False


# A client that sends its last request and its end (FIN) together, on a
# kept connection or a new one, then reads until the daemon closes: the
# answer comes and the connection is closed at once, not after
# idle_timeout (the end is in the socket behind the request, with no new
# event to announce it).
GET = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
CALL = (b"POST /v1/call/alpha/Echo/Echo HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 26\r\n\r\n"
        b'{"inputs":{"Text":"bye!"}}')
with sbtest.Daemon("[module testmod]\nenabled = yes\n"
                   "[instance alpha]\nbroker = testmod\nlabel = a\n",
                   server_extra="idle_timeout = 20s") as d:
    for what, req in (("a GET", GET), ("a call", CALL)):
        for kept in (True, False):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            if kept:
                s.sendall(GET)
                first = b""
                while b"\r\n\r\n" not in first or not first.endswith(b"}"):
                    b = s.recv(65536)
                    if not b:
                        break
                    first += b
            # the request and the FIN in one segment
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
            data, took, closed = read_to_eof(s, 15)
            s.close()
            where = "a kept connection" if kept else "a new connection"
            t.ok(data.startswith(b"HTTP/1.1 200"),
                 "%s and the client's end on %s: answered (%r)"
                 % (what, where, data[:40]))
            t.ok(closed and took < 5,
                 "%s and the client's end on %s: closed at once, not "
                 "after idle_timeout (%.2f s)" % (what, where, took))
t.done()
