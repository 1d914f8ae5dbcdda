"""The HTTP/1.1 front on raw sockets: every answer, including a refusal of
a malformed request, is JSON with the documented status and comes at once
(not when idle_timeout closes the connection); keep-alive, pipelining,
HTTP/1.0 and Expect: 100-continue.  Every wait is bounded."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
INST = ("[module testmod]\nenabled = yes\n"
        "[instance t1]\nbroker = testmod\nlabel = x\nmax_echo = 4MiB\n")
CALL = b"POST /v1/call/t1/Echo/Echo HTTP/1.1\r\nHost: x\r\n"
JS = b"Content-Type: application/json\r\n"
PROMPT = 3.0  # seconds: idle_timeout is 30 s, so an answer is not a timeout


LEFT = {}  # bytes read past an answer, by socket


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(10)
    LEFT.pop(s.fileno(), None)
    return s


def read_answer(s, timeout=10):
    """(status, headers dict (lower-case names), body bytes, seconds) of one
    answer; status None if the connection ended without one."""
    start = time.monotonic()
    deadline = start + timeout
    data = LEFT.pop(s.fileno(), b"")
    s.settimeout(timeout)
    try:
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, data, time.monotonic() - start
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return None, {}, data, time.monotonic() - start
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    length = int(hdrs.get("content-length", "0"))
    try:
        while len(body) < length and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    except OSError:
        pass
    LEFT[s.fileno()] = body[length:]
    return status, hdrs, body[:length], time.monotonic() - start


def closed_after(s, wait=3.0):
    """True if the server closes s within wait seconds (EOF or reset)."""
    s.settimeout(wait)
    end = time.monotonic() + wait
    try:
        while time.monotonic() < end:
            if s.recv(65536) == b"":
                return True
    except socket.timeout:
        return False
    except OSError:
        return True
    return False


def error_of(body):
    try:
        e = json.loads(body)["error"]
        return e if isinstance(e, dict) else {}
    except (ValueError, KeyError, TypeError):
        return {}


def check_refusal(name, raw, status, category, code, closes=True,
                  port=None):
    s = connect(port)
    try:
        s.sendall(raw)
        st, hdrs, body, took = read_answer(s)
        e = error_of(body)
        t.eq(st, status, "%s: %d" % (name, status))
        t.ok(hdrs.get("content-type", "").startswith("application/json")
             and set(e) >= {"category", "code", "message"},
             "%s: a JSON error" % name, repr(body[:200]))
        t.eq((e.get("category"), e.get("code")), (category, code),
             "%s: category and code" % name)
        t.ok(took < PROMPT, "%s: answered at once" % name,
             "%.1f s" % took)
        if closes:
            t.ok(closed_after(s), "%s: the connection is closed" % name)
    finally:
        s.close()


with sbtest.Daemon(INST, server_extra="max_body = 64KiB\n"
                   "max_body_total = 1MiB\nidle_timeout = 30s\n") as d:
    p = d.port
    # --- bodies ---------------------------------------------------------
    # a chunked body past max_body: 413 as soon as it passes, before its
    # end (the client keeps the rest)
    s = connect(p)
    s.sendall(CALL + JS + b"Transfer-Encoding: chunked\r\n\r\n")
    for _ in range(3):
        s.sendall(b"8000\r\n" + b"x" * 0x8000 + b"\r\n")
    st, hdrs, body, took = read_answer(s)
    t.eq(st, 413, "a chunked body past max_body: 413 before its end")
    t.eq(error_of(body).get("category"), "payload_too_large",
         "413 in JSON")
    t.ok(took < PROMPT, "413 at once", "%.1f s" % took)
    t.ok("max_body" in error_of(body).get("message", ""),
         "the message names max_body", body[:200])
    s.close()

    # a chunked body past max_body_total: 503 ServerBusy as soon as it
    # passes (17 bodies of 60 KiB held, 4 KiB of the 1 MiB budget left)
    held = []
    for _ in range(17):
        h = connect(p)
        h.sendall(CALL + JS + b"Content-Length: 61440\r\n\r\n{")
        held.append(h)
    time.sleep(0.3)
    s = connect(p)
    s.sendall(CALL + JS + b"Transfer-Encoding: chunked\r\n\r\n")
    s.sendall(b"f000\r\n" + b"x" * 0xf000 + b"\r\n")
    st, hdrs, body, took = read_answer(s)
    t.eq((st, error_of(body).get("code")), (503, "ServerBusy"),
         "a chunked body past max_body_total: 503 ServerBusy before its "
         "end")
    t.eq(hdrs.get("retry-after"), "1", "with Retry-After: 1")
    t.ok(took < PROMPT, "503 at once", "%.1f s" % took)
    s.close()
    for h in held:
        h.close()

    # chunk sizes: 2^64-1 and more digits than any size, not hexadecimal
    for size in (b"ffffffffffffffff", b"1" + b"0" * 40):
        check_refusal("chunk size %s" % size[:20].decode(),
                      CALL + JS + b"Transfer-Encoding: chunked\r\n\r\n" +
                      size + b"\r\nabc", 413, "payload_too_large",
                      "PayloadTooLarge", port=p)
    check_refusal("a chunk size that is not hexadecimal",
                  CALL + JS + b"Transfer-Encoding: chunked\r\n\r\n"
                  b"zz\r\nabc\r\n0\r\n\r\n", 400, "invalid_input",
                  "BadChunk", port=p)
    check_refusal("no CRLF after a chunk",
                  CALL + JS + b"Transfer-Encoding: chunked\r\n\r\n"
                  b"2\r\n{}XX0\r\n\r\n", 400, "invalid_input", "BadChunk",
                  port=p)
    # Transfer-Encoding other than chunked
    for te in (b"gzip", b"chunked, gzip", b"gzip, chunked", b"xchunked",
               b"identity", b""):
        check_refusal("Transfer-Encoding: %s" % te.decode(),
                      CALL + JS + b"Transfer-Encoding: " + te +
                      b"\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400,
                      "invalid_input", "BadTransferEncoding", port=p)
    check_refusal("Content-Length that is not a number",
                  CALL + JS + b"Content-Length: 1x\r\n\r\n{}", 400,
                  "invalid_input", "BadContentLength", port=p)
    check_refusal("Content-Length of 2^64",
                  CALL + JS + b"Content-Length: 18446744073709551616\r\n"
                  b"\r\n{}", 413, "payload_too_large", "PayloadTooLarge",
                  port=p)

    # --- heads ----------------------------------------------------------
    check_refusal("a request line that is not METHOD TARGET VERSION",
                  b"GET\r\nHost: x\r\n\r\n", 400, "invalid_input",
                  "BadRequest", port=p)
    check_refusal("a target that is 9000 bytes long",
                  b"GET /v1/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                  414, "invalid_input", "UriTooLong", port=p)
    check_refusal("a head of 20 KiB",
                  b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " +
                  b"a" * 20000 + b"\r\n\r\n", 431, "invalid_input",
                  "HeadersTooLarge", port=p)
    check_refusal("100 header lines",
                  b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" +
                  b"".join(b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n",
                  431, "invalid_input", "HeadersTooLarge", port=p)
    check_refusal("HTTP/2.0", b"GET /v1/health HTTP/2.0\r\nHost: x\r\n\r\n",
                  505, "invalid_input", "HttpVersionNotSupported", port=p)
    check_refusal("HTTP/1.1 without Host",
                  b"GET /v1/health HTTP/1.1\r\n\r\n", 400, "invalid_input",
                  "BadRequest", port=p)
    check_refusal("white space before a colon",
                  b"GET /v1/health HTTP/1.1\r\nHost : x\r\n\r\n", 400,
                  "invalid_input", "BadRequest", port=p)
    check_refusal("a folded header line",
                  b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n"
                  b"\r\n", 400, "invalid_input", "BadRequest", port=p)
    check_refusal("a bare CR in a header",
                  b"GET /v1/health HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n",
                  400, "invalid_input", "BadRequest", port=p)
    check_refusal("a NUL in the head",
                  b"GET /v1/health HTTP/1.1\r\nHost: x\x00\r\n\r\n",
                  400, "invalid_input", "BadRequest", port=p)

    # --- keep-alive, pipelining, HTTP/1.0, 100-continue ------------------
    s = connect(p)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n" +
              CALL + JS + b"Content-Length: 24\r\n\r\n"
              b'{"inputs":{"Text":"hi"}}')
    a1, a2, a3 = read_answer(s), read_answer(s), read_answer(s)
    t.eq((a1[0], a2[0], a3[0]), (200, 404, 200),
         "three pipelined requests: three answers in order")
    t.ok(b'"hi"' in a3[2], "the pipelined call's answer", a3[2][:200])
    t.ok(not closed_after(s, 0.3), "and the connection stays open")
    s.close()

    # a call, then a GET in the same packet, and a call whose next request
    # comes while it runs (testmod Echo.Sleep): each is answered at once, not
    # when the connection next wakes its thread
    s = connect(p)
    start = time.monotonic()
    s.sendall(CALL + JS + b"Content-Length: 24\r\n\r\n"
              b'{"inputs":{"Text":"hi"}}'
              b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    a1, a2 = read_answer(s), read_answer(s)
    took = time.monotonic() - start
    t.eq((a1[0], a2[0]), (200, 200), "a call and a GET in one packet")
    t.ok(took < 0.5, "both answered at once", "%.2f s" % took)
    body = b'{"inputs":{"Ms":300}}'
    start = time.monotonic()
    s.sendall(b"POST /v1/call/t1/Echo/Sleep HTTP/1.1\r\nHost: x\r\n" + JS +
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(0.1)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    a1, a2 = read_answer(s), read_answer(s)
    took = time.monotonic() - start
    t.eq((a1[0], a2[0]), (200, 200),
         "a request sent while the call before it runs")
    t.ok(took < 0.8, "answered right after the call", "%.2f s" % took)
    s.close()

    # more pipelined requests than one round of the loop takes: all are
    # answered (the rest is not left waiting for an event that never comes)
    import threading
    s = connect(p)
    many = 5000
    sender = threading.Thread(target=s.sendall, args=(
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n" * many,))
    sender.start()
    got, start = 0, time.monotonic()
    while got < many and time.monotonic() - start < 60:
        st = read_answer(s)[0]
        if st != 200:
            break
        got += 1
    sender.join(10)
    t.eq(got, many, "%d pipelined requests in one go: all answered" % many)
    s.close()

    s = connect(p)
    s.sendall(b"GET /v1/health HTTP/1.0\r\n\r\n")
    st, hdrs, body, _ = read_answer(s)
    t.eq(st, 200, "HTTP/1.0 without Host is served")
    t.eq(hdrs.get("connection", "").lower(), "close",
         "HTTP/1.0: Connection: close")
    t.ok(closed_after(s), "and the connection is closed")
    s.close()

    s = connect(p)
    s.sendall(b"GET /v1/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    st, hdrs, body, _ = read_answer(s)
    t.eq((st, hdrs.get("connection", "").lower()), (200, "keep-alive"),
         "HTTP/1.0 asking for keep-alive gets it")
    s.sendall(b"GET /v1/health HTTP/1.0\r\n\r\n")
    t.eq(read_answer(s)[0], 200, "a second request on it")
    s.close()

    s = connect(p)
    s.sendall(CALL + JS + b"Content-Length: 24\r\nExpect: 100-continue\r\n"
              b"\r\n")
    st, _, _, took = read_answer(s)
    t.eq(st, 100, "Expect: 100-continue gets 100 Continue")
    s.sendall(b'{"inputs":{"Text":"hi"}}')
    st, _, body, _ = read_answer(s)
    t.eq(st, 200, "then the call's answer")
    s.close()

    s = connect(p)
    s.sendall(CALL + JS + b"Content-Length: 70000\r\nExpect: 100-continue\r\n"
              b"\r\n")
    st, _, body, _ = read_answer(s)
    t.eq(st, 413, "Expect with a body past max_body: 413, no 100")
    s.close()

    # a chunked call with an extension and a trailer is served
    s = connect(p)
    s.sendall(CALL + JS + b"Transfer-Encoding: chunked\r\n\r\n"
              b"b;ext=1\r\n{\"inputs\":{\r\nd\r\n\"Text\":\"hi\"}}\r\n"
              b"0\r\nX-Trailer: y\r\n\r\n")
    st, _, body, _ = read_answer(s)
    t.eq(st, 200, "a chunked call with an extension and a trailer")
    t.ok(b'"hi"' in body, "its answer", body[:200])
    s.close()

    # an answer to a GET with a 2 MiB body (past what is dropped): the
    # answer, then the connection closes
    s = connect(p)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 2097152\r\n\r\n")
    st, hdrs, _, took = read_answer(s)
    t.eq((st, hdrs.get("connection", "").lower()), (200, "close"),
         "a GET announcing 2 MiB of body: answered, Connection: close")
    s.close()

    st, _ = d.get("/v1/health")
    t.eq(st, 200, "the daemon still serves")
    t.ok(not [ln for ln in d.read_log().splitlines()
              if " warn " in ln and "malformed" in ln],
         "malformed requests are no warnings in the log",
         d.read_log()[-600:])
t.done()
