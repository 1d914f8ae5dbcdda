"""svcbrokerd's HTTP/JSON API: every route, every error status, typed round
trips through testmod's Echo.Echo, paging through Echo.List, and the
mapping of every error category to its HTTP status."""
import base64
import http.client
import json
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

CONFIG = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = first
list_total = 7

[instance broken]
broker = testmod
label = broken
open_fail = yes
"""

HTTP_OF = {
    "invalid_input": 400, "unauthenticated": 401, "forbidden": 403,
    "upstream_denied": 403, "not_found": 404, "method_not_allowed": 405,
    "conflict": 409, "payload_too_large": 413,
    "unsupported_media_type": 415, "throttled": 429, "internal": 500,
    "upstream_auth": 502, "upstream_error": 502, "unavailable": 503,
    "timeout": 504, "quota_exceeded": 507,
}


def raw(d, method, path, body=None, headers=None, chunks=None):
    """Full control over headers (urllib adds a Content-Type of its own).
    Returns (status, headers, parsed JSON or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    try:
        if chunks is not None:
            conn.request(method, path, body=iter(chunks),
                         headers=headers or {}, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read().decode("utf-8", "replace")
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data
        return r.status, r.headers, parsed
    finally:
        conn.close()


def err_of(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def test_catalog(t, d):
    st, body = d.get("/v1/catalog")
    t.eq(st, 200, "GET /v1/catalog is 200")
    insts = {i["name"]: i for i in body.get("instances", [])}
    t.ok("t1" in insts and "broken" in insts, "catalog lists both instances")
    t1 = insts.get("t1", {})
    t.eq(t1.get("broker"), "testmod", "catalog: instance broker")
    t.ok(bool(t1.get("version")), "catalog: instance version")
    t.eq(t1.get("state"), "ready", "catalog: t1 ready")
    t.eq(insts.get("broken", {}).get("state"), "failed",
         "catalog: broken instance failed")
    objs = {o["name"]: o for o in t1.get("objects", [])}
    t.ok({"Echo", "Instance", "Dynamic"} <= set(objs),
         "catalog: t1 objects incl. the dynamic one")
    t.ok(all(o.get("doc") for o in objs.values()), "catalog: objects have docs")

    st, obj = d.get("/v1/catalog/t1/Echo")
    t.eq(st, 200, "GET /v1/catalog/t1/Echo is 200")
    props = {p["name"]: p for p in obj.get("properties", [])}
    t.eq(props.get("Number", {}).get("type"), "number", "object: Number type")
    t.eq(props.get("Texts", {}).get("multi"), True, "object: Texts multi")
    t.eq(props.get("Choice", {}).get("choices"), ["Alpha", "Beta", "Gamma"],
         "object: Choice choices")
    t.ok(all(p.get("doc") for p in props.values()), "object: property docs")
    methods = {m["name"]: m for m in obj.get("methods", [])}
    t.eq(methods.get("List", {}).get("kind"), "list", "object: List kind")
    lin = {i["name"]: i for i in methods.get("List", {}).get("inputs", [])}
    t.ok("PageSize" in lin and "PageToken" in lin,
         "object: list method shows host PageSize/PageToken")
    t.eq(lin.get("PageSize", {}).get("type"), "number", "PageSize is a number")
    fin = {i["name"]: i for i in methods.get("Fail", {}).get("inputs", [])}
    t.eq(fin.get("Status", {}).get("required"), True,
         "object: Fail.Status required")
    t.ok("quota_exceeded" in (fin.get("Status", {}).get("choices") or []),
         "object: input choices")
    ein = {i["name"]: i for i in methods.get("Echo", {}).get("inputs", [])}
    t.eq(ein.get("Short", {}).get("max_size"), 16, "object: input max_size")
    t.ok(all(i.get("doc") for i in ein.values()), "object: input docs")
    t.eq(methods.get("List", {}).get("returns"), ["Index", "Name"],
         "object: returns")

    st, body = d.get("/v1/catalog/nope/Echo")
    t.eq(st, 404, "unknown instance in catalog path is 404")
    t.ok("nope" in err_of(body).get("message", ""), "404 names the instance")
    st, body = d.get("/v1/catalog/t1/Nope")
    t.eq(st, 404, "unknown object is 404")
    t.ok("Nope" in err_of(body).get("message", ""), "404 names the object")


def test_health(t, d):
    st, body = d.get("/v1/health")
    t.eq(st, 200, "GET /v1/health is 200")
    insts = {i["name"]: i for i in body.get("instances", [])}
    t.eq(insts.get("t1", {}).get("state"), "ready", "health: t1 ready")
    t.eq(insts.get("broken", {}).get("state"), "failed", "health: broken failed")
    t.ok("open_fail" in insts.get("broken", {}).get("error", ""),
         "health: says why the instance failed")


def test_errors(t, d):
    st, _, body = raw(d, "GET", "/v1/nothing")
    t.eq(st, 404, "unknown path is 404")
    t.eq(err_of(body).get("category"), "not_found", "404 is JSON not_found")
    st, _, _ = raw(d, "GET", "/")
    t.eq(st, 404, "/ is 404")
    st, _, _ = raw(d, "GET", "/v1/catalog/")
    t.eq(st, 404, "trailing slash is 404")

    st, h, body = raw(d, "GET", "/v1/call/t1/Echo/Echo")
    t.eq(st, 405, "GET on a call path is 405")
    t.eq(h.get("Allow"), "POST", "405 says Allow: POST")
    t.eq(err_of(body).get("category"), "method_not_allowed", "405 JSON")
    for path in ("/v1/catalog", "/v1/health", "/v1/openapi.json", "/metrics",
                 "/v1/catalog/t1/Echo"):
        st, h, _ = raw(d, "POST", path, body=b"{}",
                       headers={"Content-Type": "application/json"})
        t.eq(st, 405, "POST %s is 405" % path)
        t.ok("GET" in (h.get("Allow") or ""), "405 on %s allows GET" % path)
    st, h, _ = raw(d, "DELETE", "/v1/catalog")
    t.eq(st, 405, "DELETE /v1/catalog is 405")

    call = "/v1/call/t1/Echo/Echo"
    st, _, body = raw(d, "POST", call, body=b'{"inputs":{}}')
    t.eq(st, 415, "POST without Content-Type is 415")
    t.eq(err_of(body).get("category"), "unsupported_media_type", "415 JSON")
    st, _, _ = raw(d, "POST", call, body=b'{"inputs":{}}',
                   headers={"Content-Type": "text/plain"})
    t.eq(st, 415, "POST text/plain is 415")
    st, _, body = raw(d, "POST", call, body=b'{"inputs":{}}',
                      headers={"Content-Type":
                               "application/json; charset=utf-8"})
    t.eq(st, 200, "application/json with charset is accepted")

    js = {"Content-Type": "application/json"}
    for bad, name in ((b'{"inputs": {', "truncated"),
                      (b'not json', "garbage"),
                      (b'', "empty body"),
                      (b'[1,2]', "array"),
                      (b'{"inputs": 5}', "inputs not an object"),
                      (b'{"inputs": {"Text": "a", "Text": "b"}}',
                       "duplicate keys"),
                      (b'{"inputs": {"Text": "\\u0000"}}', "NUL")):
        st, _, body = raw(d, "POST", call, body=bad, headers=js)
        t.eq(st, 400, "malformed JSON (%s) is 400" % name)
        t.eq(err_of(body).get("category"), "invalid_input",
             "malformed JSON (%s) is invalid_input" % name)
    st, _, body = raw(d, "POST", call, body=b'{"inputs": {}, "extra": 1}',
                      headers=js)
    t.eq(st, 400, "unknown top-level key is 400")
    t.ok("extra" in err_of(body).get("message", ""),
         "unknown top-level key is named")
    st, _, body = raw(d, "POST", call, body=b'{"inputs": {"Bogus": 1}}',
                      headers=js)
    t.eq(st, 400, "unknown input is 400")
    t.ok("Bogus" in err_of(body).get("message", ""), "unknown input named")

    for name, addr in (("instance", "/v1/call/zz/Echo/Echo"),
                       ("object", "/v1/call/t1/Zz/Echo"),
                       ("method", "/v1/call/t1/Echo/Zz")):
        st, _, body = raw(d, "POST", addr, body=b'{"inputs":{}}', headers=js)
        t.eq(st, 404, "unknown %s is 404" % name)
        t.ok("Zz" in err_of(body).get("message", "")
             or "zz" in err_of(body).get("message", ""),
             "unknown %s is named" % name)

    # max_body is 4 KiB in this daemon
    big = b'{"inputs":{"Memo":"' + b"x" * 20000 + b'"}}'
    st, _, body = raw(d, "POST", call, body=big, headers=js)
    t.eq(st, 413, "body over max_body (Content-Length) is 413")
    t.eq(err_of(body).get("category"), "payload_too_large", "413 JSON")
    st, _, body = raw(d, "POST", call, headers=js,
                      chunks=[big[i:i + 1000] for i in range(0, len(big), 1000)])
    t.eq(st, 413, "chunked body over max_body is 413")
    st, body = d.call("t1/Echo.Echo", {"Short": "x" * 17})
    t.eq(st, 413, "input over its max_size is 413")
    t.ok("Short" in err_of(body).get("message", ""), "413 names the input")

    st, body = d.call("broken/Echo.Echo", {})
    t.eq(st, 503, "call to an instance that failed to open is 503")
    t.ok("broken" in err_of(body).get("message", ""), "503 names the instance")
    t.ok(d.last_headers.get("Retry-After"), "503 has Retry-After")


def test_types(t, d):
    f1 = {"Name": "a.txt", "ContentType": "text/plain",
          "Content": base64.b64encode(b"hello\x00\xff").decode()}
    f2 = {"Name": "b.bin", "ContentType": "application/octet-stream",
          "Content": base64.b64encode(bytes(range(256))).decode()}
    inputs = {
        "Text": "héllo wörld", "Short": "sixteen-bytes-ok"[:16],
        "Memo": "line 1\nline 2\r\n\ttabbed",
        "Number": -9223372036854775808, "Decimal": "-12345678901234567890.0125",
        "Boolean": False, "DateTime": "2026-01-31T09:00:00+01:00",
        "Date": "2026-01-31", "Time": "09:30:15", "Duration": "P1DT2H30M",
        "Guid": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "Email": "someone@example.com", "Choice": "Beta", "File": f1,
        "Texts": ["a", "b", ""], "Numbers": [0, 9223372036854775807, -1],
        "Booleans": [True, False], "Choices": ["Gamma", "Alpha"],
        "Emails": ["a@example.com", "b@example.org"], "Files": [f1, f2],
    }
    st, body = d.call("t1/Echo.Echo", inputs)
    t.eq(st, 200, "Echo with every type is 200")
    row = (body.get("rows") or [{}])[0]
    for k, v in inputs.items():
        t.eq(row.get(k), v, "round trip of %s" % k)
    t.eq(body.get("more"), False, "Echo: more is false")
    t.eq(body.get("next_page_token"), None, "Echo: no page token")
    for k in ("Texts", "Numbers", "Files"):
        st, body = d.call("t1/Echo.Echo", {k: []})
        t.eq((body.get("rows") or [{}])[0].get(k), [], "empty %s is []" % k)
    st, body = d.call("t1/Echo.Echo", {"Text": None})
    t.eq(st, 200, "null input counts as not given")
    t.eq(body.get("rows"), [{}], "no inputs: one empty row")

    wrong = {
        "Number": "5", "Boolean": "true", "Text": 5, "Decimal": 1.5,
        "DateTime": "yesterday", "Date": "2026-13-01", "Guid": "nope",
        "Email": "not an address", "Choice": "Delta", "File": "abc",
        "Texts": "one", "Numbers": [1, "2"], "Time": True,
        "Duration": "30 minutes", "Memo": ["a"],
    }
    for k, v in wrong.items():
        st, body = d.call("t1/Echo.Echo", {k: v})
        t.eq(st, 400, "%s=%r is 400" % (k, v))
        t.ok(k in err_of(body).get("message", ""),
             "%s mismatch message names the input" % k)
    st, body = d.call("t1/Echo.Echo", {"Number": 1.5})
    t.eq(st, 400, "a fraction for a number is 400")
    st, body = d.call("t1/Echo.Echo", {"Text": "a\nb"})
    t.eq(st, 400, "a newline in text is 400")
    st, body = d.call("t1/Echo.Echo", {"File": {"Name": "x",
                                                "Content": "!!notbase64"}})
    t.eq(st, 400, "bad base64 is 400")
    st, body = d.call("t1/Echo.Echo", {"File": {"Content": "", "Size": 1}})
    t.eq(st, 400, "unknown file field is 400")
    st, body = d.call("t1/Echo.Echo", {"File": {"Name": "x"}})
    t.eq(st, 400, "file without Content is 400")


def test_paging(t, d):
    seen = []
    token = None
    pages = 0
    while pages < 10:
        inputs = {"PageSize": 3}
        if token:
            inputs["PageToken"] = token
        st, body = d.call("t1/Echo.List", inputs)
        if not t.eq(st, 200, "List page %d is 200" % pages):
            break
        pages += 1
        seen += [r.get("Index") for r in body.get("rows", [])]
        token = body.get("next_page_token")
        t.eq(body.get("more"), token is not None, "more matches the token")
        if not body.get("more"):
            break
    t.eq(pages, 3, "7 rows in pages of 3 is 3 pages")
    t.eq(seen, list(range(7)), "paging returns every row once, in order")
    st, body = d.call("t1/Echo.List", {"PageToken": "forged"})
    t.eq(st, 400, "a forged page token is 400")
    t.eq(err_of(body).get("code"), "ErrorInvalidPageToken",
         "upstream code is kept")
    st, body = d.call("t1/Echo.List", {"PageSize": 0})
    t.eq(st, 400, "PageSize 0 is 400")
    st, body = d.call("t1/Echo.List", {"PageSize": 5000})
    t.eq(st, 400, "PageSize over 1000 is 400")
    st, body = d.call("t1/Echo.List", {"Total": 0})
    t.eq((st, body.get("rows"), body.get("more")), (200, [], False),
         "empty list")


def test_fail_mapping(t, d):
    for cat, code in sorted(HTTP_OF.items()):
        inputs = {"Status": cat, "Code": "Up" + cat.title().replace("_", ""),
                  "Message": "told to fail: " + cat}
        if cat in ("throttled", "unavailable"):
            inputs["RetryAfterMs"] = 2500
        st, body = d.call("t1/Echo.Fail", inputs)
        e = err_of(body)
        t.eq(st, code, "Fail %s is HTTP %d" % (cat, code))
        t.eq(e.get("category"), cat, "Fail %s: category" % cat)
        t.eq(e.get("code"), inputs["Code"], "Fail %s: upstream code" % cat)
        t.eq(e.get("message"), inputs["Message"], "Fail %s: message" % cat)
        if cat in ("throttled", "unavailable"):
            t.eq(d.last_headers.get("Retry-After"), "3",
                 "Fail %s: Retry-After in seconds, rounded up" % cat)
            t.eq(e.get("retry_after_ms"), 2500, "Fail %s: retry_after_ms" % cat)
        else:
            t.ok("retry_after_ms" not in e, "Fail %s: no retry_after_ms" % cat)
    # A broker passes an upstream's retry delay as it came: an absurd one
    # is capped at a day (it overflowed the rounding to seconds), a
    # negative one dropped.
    for ms in (2 ** 63 - 1, 2 ** 62):
        st, body = d.call("t1/Echo.Fail", {"Status": "throttled",
                                           "RetryAfterMs": ms})
        t.eq((st, err_of(body).get("retry_after_ms"),
              d.last_headers.get("Retry-After")), (429, 86400000, "86400"),
             "RetryAfterMs %d: capped at a day" % ms)
    st, body = d.call("t1/Echo.Fail", {"Status": "unavailable",
                                       "RetryAfterMs": -5})
    t.ok(st == 503 and "retry_after_ms" not in err_of(body),
         "a negative RetryAfterMs is dropped", repr(body))
    st, body = d.call("t1/Echo.Fail", {"Status": "conflict", "Code": ""})
    t.eq(err_of(body).get("code"), "", "no code: code is \"\"")
    st, body = d.call("t1/Echo.Fail", {})
    t.eq(st, 400, "missing required input is 400")
    t.ok("Status" in err_of(body).get("message", ""),
         "missing required input is named")


def test_metrics_and_misc(t, d):
    st, _, text = raw(d, "GET", "/metrics")
    t.eq(st, 200, "GET /metrics is 200")
    t.ok(isinstance(text, str) and
         'svcbroker_calls_total{instance="t1",object="Echo",method="Echo",status="ok"}'
         in text, "metrics count calls by instance/method/status")
    t.ok('status="throttled"' in text, "metrics count failures by status")
    for name in ("svcbroker_call_duration_seconds_bucket",
                 "svcbroker_calls_in_flight", "svcbroker_queue_depth",
                 "svcbroker_reloads_total"):
        t.ok(name in text, "metrics has %s" % name)
    # the histogram of one method: a fast call and a 300 ms one more
    def series(text, name, labels):
        out = []
        for line in text.splitlines():
            if line.startswith(name + "{") and labels in line:
                out.append((line[line.index("{"):line.rindex("}") + 1],
                            float(line.rsplit(" ", 1)[1])))
        return out
    lab = 'instance="t1",object="Echo",method="Sleep"'
    before = series(text, "svcbroker_call_duration_seconds_count", lab)
    n0 = before[0][1] if before else 0
    d.call("t1/Echo.Sleep", {"Ms": 1})
    d.call("t1/Echo.Sleep", {"Ms": 300})
    _, _, text = raw(d, "GET", "/metrics")
    buckets = series(text, "svcbroker_call_duration_seconds_bucket", lab)
    counts = [v for _, v in buckets]
    total = series(text, "svcbroker_call_duration_seconds_count", lab)
    ssum = series(text, "svcbroker_call_duration_seconds_sum", lab)
    t.ok(len(buckets) == 14 and counts == sorted(counts) and
         'le="+Inf"' in buckets[-1][0],
         "metrics: histogram buckets are cumulative, up to +Inf", buckets)
    t.ok(total and total[0][1] == counts[-1] == n0 + 2,
         "metrics: the count is the +Inf bucket and counts each call",
         (total, counts[-1:], n0))
    le = {k: v for k, v in buckets}
    t.ok(le.get(lab.join(["{", ',le="0.25"}'])) is not None and
         le[lab.join(["{", ',le="0.25"}'])] <= counts[-1] - 1,
         "metrics: the 300 ms call is counted above the 0.25 s bound", le)
    t.ok(ssum and ssum[0][1] >= 0.3,
         "metrics: the sum holds the 300 ms call", ssum)
    st, h, _ = raw(d, "HEAD", "/v1/health")
    t.eq(st, 200, "HEAD /v1/health is 200")
    st, body = d.get("/v1/openapi.json")
    t.eq(st, 200, "GET /v1/openapi.json is 200")
    t.eq(body.get("openapi"), "3.0.3", "OpenAPI version")
    t.ok("/v1/call/t1/Echo/Echo" in body.get("paths", {}),
         "OpenAPI has a path per method")


def test_garbage(t, d):
    """Random bodies and values never crash the daemon nor reach a 5xx."""
    import random
    rnd = random.Random(1234)
    js = {"Content-Type": "application/json"}
    names = ["Text", "Memo", "Number", "Decimal", "Boolean", "DateTime",
             "Guid", "Email", "Choice", "File", "Texts", "Numbers", "Files",
             "Bogus", ""]
    values = [None, True, 1, -1, 2 ** 63 - 1, 1.5, "", "x", "\u00e9",
              "\n", [], [1], ["a"], {}, {"Content": "QQ=="},
              {"Name": 1}, [[]], [{}], "9" * 100]
    worst = 0
    for i in range(150):
        if i % 3 == 0:
            body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(64)))
        else:
            inputs = {rnd.choice(names): rnd.choice(values)
                      for _ in range(rnd.randrange(4))}
            body = json.dumps({"inputs": inputs}).encode()
        st, _, out = raw(d, "POST", "/v1/call/t1/Echo/Echo", body=body,
                         headers=js)
        worst = max(worst, st)
        if st >= 500 or not (st == 200 or "error" in (out or {})):
            t.ok(False, "garbage body answered properly", repr(body)[:200])
            return
    t.ok(worst < 500, "150 garbage requests: no 5xx (worst %d)" % worst)


def test_escaped_paths(t, d):
    """%00 and %2F in a path name nothing (they neither cut a name short
    nor split it); a name that is not UTF-8 is quoted without cutting the
    message; a GET that carries a body still gets its answer."""
    js = {"Content-Type": "application/json"}
    body = json.dumps({"inputs": {}})
    st, _, out = raw(d, "POST", "/v1/call/t1/Echo/Echo%00junk", body=body,
                     headers=js)
    t.eq((st, err_of(out).get("code")), (404, "UnknownMethod"),
         "%00 in a method name: 404, not a call of Echo")
    t.ok("Echo%00junk" in err_of(out).get("message", ""),
         "the message quotes the name as sent", repr(out))
    st, _, out = raw(d, "POST", "/v1/call/t1%2FEcho/Echo/Echo", body=body,
                     headers=js)
    t.eq((st, err_of(out).get("code")), (404, "UnknownInstance"),
         "%2F does not split an instance name")
    st, _, out = raw(d, "GET", "/v1/catalog/t1%2FEcho")
    t.eq(st, 404, "GET /v1/catalog/t1%2FEcho is not t1/Echo")
    st, _, out = raw(d, "GET", "/v1/catalog/t%31/Ech%6F")
    t.eq(st, 200, "other escapes are decoded")
    st, _, out = raw(d, "GET", "/v1/catalog/t%FF1/Echo")
    t.eq(st, 404, "a name that is not UTF-8: 404")
    t.ok("t\ufffd1" in err_of(out).get("message", ""),
         "a name that is not UTF-8 is quoted whole, bad bytes as U+FFFD",
         repr(out))
    for path in ("/v1/catalog", "/v1/health", "/metrics"):
        st, _, out = raw(d, "GET", path, body="x" * 5000)
        t.eq(st, 200, "GET %s with a body is answered" % path)


def test_ambiguous_length(t, d):
    """A request whose body could end in two places (two Content-Length
    headers, or one with Transfer-Encoding) is refused and its connection
    closed, so no part of its body is ever read as another request."""
    import socket
    body = b'{"inputs":{}}'
    inner = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    cases = {
        "two Content-Length headers":
            b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n%s%s" % (
                len(body), len(body) + len(inner), body, inner),
        "Content-Length and Transfer-Encoding":
            b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"%x\r\n%s\r\n0\r\n\r\n%s" % (len(body), body, inner),
    }
    for name, rest in cases.items():
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        try:
            s.sendall(b"POST /v1/call/t1/Echo/Echo HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\n" + rest)
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:  # left open: fails below
                    break
                if not chunk:
                    break
                out += chunk
        finally:
            s.close()
        t.ok(out.startswith(b"HTTP/1.1 400") and b"AmbiguousLength" in out,
             "%s: 400 AmbiguousLength" % name, repr(out[:200]))
        t.eq(out.count(b"HTTP/1.1 "), 1,
             "%s: nothing after the body is answered" % name)


def main():
    t = sbtest.Checks()
    with sbtest.Daemon(CONFIG, server_extra="max_body = 4KiB") as d:
        test_catalog(t, d)
        test_health(t, d)
        test_errors(t, d)
        test_types(t, d)
        test_paging(t, d)
        test_fail_mapping(t, d)
        test_metrics_and_misc(t, d)
        test_garbage(t, d)
        test_escaped_paths(t, d)
        test_ambiguous_length(t, d)
        st, _ = d.get("/v1/health")
        t.eq(st, 200, "daemon still healthy after every error")
    t.done()


if __name__ == "__main__":
    main()
