"""The API's security through the real daemon: [client] sections with
bearer tokens (401 without or with a wrong one), grants per method (403
before any broker runs) and per mailbox (mapi-stub's Mailbox input),
max_calls_per_minute (429), what the catalog and the OpenAPI document
show each client, request ids (echoed, in error JSON, in the audit and
access log lines, handed to the broker), CORS and preflights, and the
refusal to serve a non-loopback address unguarded."""
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()

ADMIN_TOKEN = "adm-7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b"
ALICE_TOKEN = "alc-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
ECHO_TOKEN = "ech-1234567890abcdef1234567890abcdef"
SLOW_TOKEN = "slw-fedcba0987654321fedcba0987654321"
DOMAIN_TOKEN = "dom-00112233445566778899aabbccddeeff"
NOBODY_TOKEN = "nob-ffeeddccbbaa99887766554433221100"
EMPTY_TOKEN = "emp-0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def h(tok):
    return hashlib.sha256(tok.encode()).hexdigest()


top = sbtest.tempdir("sb-apisec-")
CONFIG = """
[module testmod]
enabled = yes

[module mapi-stub]
enabled = yes

[instance t1]
broker = testmod
label = first

[instance quick]
broker = testmod
label = quick
timeout = 300ms
# Echo.Sleep ignores the deadline: the call surely returns after it (a
# Sleep that stops at its deadline may beat the executor's timer, and then
# its own timeout is the answer, without the line checked below)
stuck = yes

[instance local]
broker = mapi-stub
store_dir = %(store)s
mailboxes = alice@example.test, bob@example.test

[client admin]
token_sha256 = %(admin)s
allow = */*.*
mailboxes = *

[client alice]
token_sha256 = %(alice)s
allow = local/Email.*
mailboxes = alice@example.test

[client domain]
token_sha256 = %(domain)s
allow = local/Email.List
mailboxes = *@example.test

[client nobody]
token_sha256 = %(nobody)s
allow = local/Email.List
mailboxes = none

[client empty]
token_sha256 = %(empty)s
allow = local/Email.List
mailboxes =

[client echo]
token_sha256 = %(echo)s
allow = t1/Echo.Echo

[client slow]
token_sha256 = %(slow)s
allow = t1/Echo.*
max_calls_per_minute = 2
""" % {"store": os.path.join(top, "store"), "admin": h(ADMIN_TOKEN),
       "alice": h(ALICE_TOKEN), "echo": h(ECHO_TOKEN),
       "slow": h(SLOW_TOKEN), "domain": h(DOMAIN_TOKEN),
       "nobody": h(NOBODY_TOKEN), "empty": h(EMPTY_TOKEN)}


def req(d, method, path, token=None, body=None, headers=None):
    """(status, headers, parsed JSON or text)."""
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        raw = r.read().decode("utf-8", "replace")
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
        return r.status, r.headers, parsed
    finally:
        conn.close()


def call(d, address, token, inputs=None, headers=None):
    inst, rest = address.split("/", 1)
    obj, meth = rest.split(".", 1)
    return req(d, "POST", "/v1/call/%s/%s/%s" % (inst, obj, meth), token,
               {"inputs": inputs or {}}, headers)


def err_of(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


with sbtest.Daemon(CONFIG, server_extra="cors_origins = "
                   "https://app.example.test\n") as d:
    # ---- authentication -------------------------------------------------
    st, hd, body = req(d, "GET", "/v1/catalog")
    t.eq(st, 401, "no credentials: 401")
    t.ok((hd.get("WWW-Authenticate") or "").startswith("Bearer"),
         "401 says WWW-Authenticate: Bearer", repr(hd.get("WWW-Authenticate")))
    t.eq(err_of(body).get("category"), "unauthenticated",
         "401 is the JSON error document")
    t.ok(err_of(body).get("request_id"), "the 401 JSON has a request_id")
    t.eq(err_of(body).get("request_id"), hd.get("X-Request-Id"),
         "the JSON's request_id is the X-Request-Id header")
    st, hd, body = req(d, "GET", "/v1/catalog", token="wrong-token")
    t.eq(st, 401, "a wrong token: 401")
    t.ok("invalid_token" in (hd.get("WWW-Authenticate") or ""),
         "a wrong token: error=\"invalid_token\"")
    st, _, _ = req(d, "GET", "/v1/catalog",
                   headers={"Authorization": "Basic YWRtaW46eA=="})
    t.eq(st, 401, "Basic credentials: 401")
    st, _, body = req(d, "GET", "/v1/health")
    t.eq(st, 200, "health needs no credentials (load balancers)")
    t.ok(isinstance(body, dict) and body.get("status") == "ok" and
         "instances" not in body and "t1" not in json.dumps(body),
         "... and without them it names no instance", repr(body)[:300])
    st, _, body = req(d, "GET", "/v1/health", token=ADMIN_TOKEN)
    names = sorted(i["name"] for i in body.get("instances", [])) \
        if st == 200 and isinstance(body, dict) else None
    t.eq(names, ["local", "quick", "t1"],
         "health with the admin's token lists every instance")
    st, _, body = req(d, "GET", "/v1/health", token=ALICE_TOKEN)
    names = sorted(i["name"] for i in body.get("instances", [])) \
        if st == 200 and isinstance(body, dict) else None
    t.eq(names, ["local", "quick", "t1"],
         "health with alice's token lists them too (any client, as "
         "/metrics: a monitor needs no call grants)")
    st, hd, _ = req(d, "GET", "/v1/health", token="wrong-token")
    t.ok(st == 401 and "invalid_token" in (hd.get("WWW-Authenticate") or ""),
         "health with a wrong token: 401, not a quiet anonymous answer")
    for auth in ("Basic YWRtaW46eA==", ""):
        st, _, body = req(d, "GET", "/v1/health",
                          headers={"Authorization": auth})
        t.ok(st == 200 and "instances" not in body,
             "health with Authorization %r (no bearer token): the "
             "anonymous answer, not 401" % auth, "%s %r" % (st, body))
    st, _, _ = req(d, "GET", "/v1/catalog", token=ADMIN_TOKEN)
    t.eq(st, 200, "a valid token: 200")
    st, _, _ = req(d, "GET", "/v1/catalog", token=ADMIN_TOKEN + "x")
    t.eq(st, 401, "a token with one more character: 401")

    # ---- grants per method ----------------------------------------------
    st, _, body = call(d, "t1/Echo.Echo", ECHO_TOKEN, {"Text": "hi"})
    t.eq(st, 200, "echo may call t1/Echo.Echo")
    st, _, body = call(d, "t1/Echo.List", ECHO_TOKEN)
    t.eq(st, 403, "echo may not call t1/Echo.List: 403")
    t.eq(err_of(body).get("category"), "forbidden", "403 is forbidden")
    t.ok("t1/Echo.List" in err_of(body).get("message", ""),
         "the 403 names the method refused", repr(body))
    st, _, body = call(d, "t1/Echo.Nope", ECHO_TOKEN)
    t.eq(st, 403, "an unknown method outside the grants: 403, not 404")
    st, _, body = call(d, "t1/Echo.Sleep", ECHO_TOKEN, {"Ms": 1})
    t.eq(st, 403, "echo may not call t1/Echo.Sleep")
    # refused before any broker runs: the executor counted no call of the
    # refused methods, and the one of the granted method
    st, _, metrics = req(d, "GET", "/metrics", token=ADMIN_TOKEN)
    t.eq(st, 200, "/metrics for the admin")

    def counted(method):
        pat = (r'^svcbroker_calls_total\{instance="t1",object="Echo",'
               r'method="%s",status="[^"]*"\} (\d+)$' % method)
        return sum(int(n) for n in re.findall(pat, metrics, re.M))
    t.eq(counted("Echo"), 1, "the granted call reached the broker")
    t.ok(counted("List") + counted("Sleep") == 0,
         "the calls refused by method grant never reached it",
         metrics[-1500:])

    # ---- grants per mailbox ---------------------------------------------
    st, _, body = call(d, "local/Email.List", ALICE_TOKEN,
                       {"Mailbox": "alice@example.test", "Folder": "Inbox"})
    t.ok(st == 200, "alice may list alice@example.test", repr(body))
    st, _, body = call(d, "local/Email.List", ALICE_TOKEN,
                       {"Mailbox": "ALICE@example.test", "Folder": "Inbox"})
    t.eq(st, 200, "addresses compare without case")
    st, _, body = call(d, "local/Email.List", ALICE_TOKEN,
                       {"Mailbox": "bob@example.test", "Folder": "Inbox"})
    t.eq(st, 403, "alice may not act for bob: 403")
    t.ok("bob@example.test" in err_of(body).get("message", ""),
         "the 403 names the mailbox refused", repr(body))
    st, _, body = call(d, "local/Email.List", ALICE_TOKEN,
                       {"Folder": "Inbox"})
    t.eq(st, 403, "alice without default: a call naming no Mailbox is 403")
    t.ok("default mailbox" in err_of(body).get("message", ""),
         "... saying it is the default mailbox", repr(body))
    st, _, body = call(d, "local/Email.List", ADMIN_TOKEN,
                       {"Mailbox": "bob@example.test", "Folder": "Inbox"})
    t.eq(st, 200, "admin (mailboxes = *) may act for bob")
    st, _, body = call(d, "local/Email.List", DOMAIN_TOKEN,
                       {"Mailbox": "alice@example.test", "Folder": "Inbox"})
    t.ok(st == 200, "mailboxes = *@example.test may act for alice@example.test",
         repr(body))
    st, _, body = call(d, "local/Email.List", DOMAIN_TOKEN,
                       {"Mailbox": "someone@other.test", "Folder": "Inbox"})
    t.eq(st, 403, "... but not for someone@other.test: 403")
    t.ok("someone@other.test" in err_of(body).get("message", ""),
         "... naming the mailbox refused", repr(body))
    # mailboxes = none, and its other spelling, an empty value: no mailbox
    for tok, how in ((NOBODY_TOKEN, "mailboxes = none"),
                     (EMPTY_TOKEN, "an empty mailboxes =")):
        st, _, body = call(d, "local/Email.List", tok,
                           {"Mailbox": "alice@example.test",
                            "Folder": "Inbox"})
        t.eq(st, 403, "%s: may not act for alice@example.test" % how)
        t.ok("alice@example.test" in err_of(body).get("message", ""),
             "%s: ... the 403 names it" % how, repr(body))
        st, _, body = call(d, "local/Email.List", tok, {"Folder": "Inbox"})
        t.eq(st, 403, "%s: nor for the default mailbox" % how)
    st, _, body = call(d, "t1/Echo.Echo", ALICE_TOKEN, {"Text": "x"})
    t.eq(st, 403, "alice may not call testmod")

    # ---- what each client sees ------------------------------------------
    st, _, cat = req(d, "GET", "/v1/catalog", token=ECHO_TOKEN)
    names = [i["name"] for i in cat.get("instances", [])]
    t.eq(names, ["t1"], "echo's catalog shows t1 only")
    objs = {o["name"]: o["methods"] for o in cat["instances"][0]["objects"]}
    t.eq(objs, {"Echo": ["Echo"]}, "... and Echo.Echo only")
    st, _, cat = req(d, "GET", "/v1/catalog", token=ADMIN_TOKEN)
    t.eq(sorted(i["name"] for i in cat.get("instances", [])),
         ["local", "quick", "t1"], "admin's catalog shows every instance")
    st, _, doc = req(d, "GET", "/v1/openapi.json", token=ECHO_TOKEN)
    calls = sorted(p for p in doc.get("paths", {}) if p.startswith("/v1/call/"))
    t.eq(calls, ["/v1/call/t1/Echo/Echo"], "echo's OpenAPI has its one call")
    t.eq(doc.get("components", {}).get("securitySchemes", {}).get(
        "bearer", {}).get("scheme"), "bearer",
        "the OpenAPI document declares the bearer scheme")
    t.eq(doc.get("security"), [{"bearer": []}], "... required globally")
    t.eq(doc["paths"]["/v1/health"]["get"].get("security"),
         [{}, {"bearer": []}],
         "... but optional for the health check")
    t.ok("401" in doc["paths"]["/v1/health"]["get"].get("responses", {}),
         "... which may answer 401 (a wrong token)")
    srcdir = os.environ.get("top_srcdir", os.path.join(
        os.path.dirname(__file__), "..", ".."))
    node = shutil.which("node")
    if node and os.path.isdir(os.path.join(srcdir, "tests", "openapi",
                                           "node_modules")):
        st, _, full = req(d, "GET", "/v1/openapi.json", token=ADMIN_TOKEN)
        path = os.path.join(top, "openapi.json")
        with open(path, "w") as f:
            json.dump(full, f)
        p = subprocess.run([node, os.path.join(srcdir, "tests", "openapi",
                                               "validate.js"), path],
                           capture_output=True, text=True, timeout=120)
        t.eq(p.returncode, 0, "the secured OpenAPI document validates")
        if p.returncode:
            print(p.stdout[-1500:], p.stderr[-1500:])
    st, _, _ = req(d, "GET", "/v1/catalog/t1/Info", token=ECHO_TOKEN)
    t.eq(st, 404, "an object echo may not call is not found for it")
    st, _, _ = req(d, "GET", "/v1/catalog/t1/Echo", token=ECHO_TOKEN)
    t.eq(st, 200, "an object echo may call is shown")
    st, _, _ = req(d, "POST", "/v1/test/local", token=ECHO_TOKEN)
    t.eq(st, 403, "echo may not test an instance it may not call")

    # ---- rate -------------------------------------------------------------
    got = [call(d, "t1/Echo.Echo", SLOW_TOKEN, {"Text": "r"})[0]
           for _ in range(3)]
    t.eq(got[:2], [200, 200], "slow: two calls in a minute pass")
    st, hd, body = call(d, "t1/Echo.Echo", SLOW_TOKEN, {"Text": "r"})
    t.eq(st, 429, "slow: the next is 429")
    t.ok(int(hd.get("Retry-After") or 0) >= 1, "429 says Retry-After")
    t.eq(err_of(body).get("category"), "throttled", "429 is throttled")
    # a reload keeps what each client has spent of its rate
    n_reloads = d.read_log().count("reloaded in")
    d.signal(signal.SIGHUP)
    t.ok(sbtest.wait_for(
        lambda: d.read_log().count("reloaded in") > n_reloads, 30),
        "SIGHUP: reloaded", d.read_log()[-1500:])
    st, _, _ = call(d, "t1/Echo.Echo", SLOW_TOKEN, {"Text": "r"})
    t.eq(st, 429, "slow: still 429 after a reload (its calls stay spent)")

    # ---- request ids ------------------------------------------------------
    st, hd, body = call(d, "t1/Echo.Echo", ECHO_TOKEN, {"Text": "id"},
                        headers={"X-Request-Id": "trace-42.abc"})
    t.eq(hd.get("X-Request-Id"), "trace-42.abc",
         "a valid X-Request-Id is echoed")
    st, hd, body = call(d, "t1/Echo.List", ECHO_TOKEN,
                        headers={"X-Request-Id": "refused-7"})
    t.eq(err_of(body).get("request_id"), "refused-7",
         "an error's JSON carries the request id")
    st, hd, body = req(d, "GET", "/v1/health",
                       headers={"X-Request-Id": "bad id with spaces"})
    rid = hd.get("X-Request-Id") or ""
    t.ok(rid and " " not in rid and rid != "bad id with spaces",
         "an invalid X-Request-Id is replaced", repr(rid))
    st, hd, body = req(d, "GET", "/v1/health",
                       headers={"X-Request-Id": "x" * 65})
    t.ok(len(hd.get("X-Request-Id") or "") <= 64,
         "an over-long X-Request-Id is replaced")
    st, hd, _ = req(d, "GET", "/v1/health")
    t.ok(re.fullmatch(r"[0-9a-f]{24}", hd.get("X-Request-Id") or ""),
         "a request without one gets a generated id",
         repr(hd.get("X-Request-Id")))
    # the broker gets it: testmod's Instance.RequestId returns it
    st, _, body = call(d, "t1/Instance.RequestId", ADMIN_TOKEN,
                       headers={"X-Request-Id": "to-the-broker-1"})
    rows = body.get("rows", []) if isinstance(body, dict) else []
    t.eq(rows and rows[0].get("RequestId"), "to-the-broker-1",
         "the broker reads the request id (sb_call_request_id)")

    # a call past its deadline: the executor's line carries the id too
    st, _, body = call(d, "quick/Echo.Sleep", ADMIN_TOKEN, {"Ms": 1200},
                       headers={"X-Request-Id": "late-call-9"})
    t.eq(st, 504, "a call past its deadline: 504")
    t.ok(sbtest.wait_for(lambda: re.search(
        r"returned after its deadline .*request_id=late-call-9",
        d.read_log()), timeout=20),
        "the executor's line about it carries the request id")

    # ---- CORS -------------------------------------------------------------
    st, hd, body = req(d, "OPTIONS", "/v1/call/t1/Echo/Echo", headers={
        "Origin": "https://app.example.test",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    t.eq(st, 204, "a preflight of an allowed origin: 204 (not 405 or 401)")
    t.eq(hd.get("Access-Control-Allow-Origin"), "https://app.example.test",
         "... allowing the origin")
    t.ok("POST" in (hd.get("Access-Control-Allow-Methods") or ""),
         "... and POST")
    t.ok("Authorization" in (hd.get("Access-Control-Allow-Headers") or ""),
         "... and the Authorization header")
    st, hd, body = req(d, "OPTIONS", "/v1/catalog", headers={
        "Origin": "https://evil.example.test",
        "Access-Control-Request-Method": "GET"})
    t.eq(st, 204, "a preflight of another origin is answered")
    t.eq(hd.get("Access-Control-Allow-Origin"), None,
         "... without allowing it")
    st, hd, _ = req(d, "GET", "/v1/catalog", token=ADMIN_TOKEN,
                    headers={"Origin": "https://app.example.test"})
    t.eq(hd.get("Access-Control-Allow-Origin"), "https://app.example.test",
         "a request from an allowed origin gets Allow-Origin")
    t.ok("X-Request-Id" in (hd.get("Access-Control-Expose-Headers") or ""),
         "... and may read X-Request-Id")
    st, hd, _ = req(d, "GET", "/v1/catalog", token=ADMIN_TOKEN,
                    headers={"Origin": "https://evil.example.test"})
    t.eq(hd.get("Access-Control-Allow-Origin"), None,
         "another origin gets no Allow-Origin")

    # ---- the log ----------------------------------------------------------
    log = d.read_log()
    t.ok(re.search(r"audit: client=echo call=t1/Echo\.List mailbox=- "
                   r"status=403 request_id=refused-7", log),
         "the audit line of a refused call", log[-1500:])
    t.ok(re.search(r"audit: client=alice call=local/Email\.List "
                   r"mailbox=bob@example\.test status=403 request_id=\S+",
                   log), "the audit line names the mailbox refused")
    t.ok(re.search(r"audit: client=echo call=t1/Echo\.Echo mailbox=- "
                   r"status=200 request_id=trace-42\.abc", log),
         "the audit line of a call that ran")
    t.ok(re.search(r"POST /v1/call/t1/Echo/Echo 200 \d+ms \d+ bytes "
                   r"client=echo request_id=trace-42\.abc addr=127\.0\.0\.1$",
                   log, re.M),
         "the access line: method, path, status, duration, bytes, client, "
         "request id, peer address")
    t.ok(re.search(r"\[testmod:t1\] asked for the request id "
                   r"request_id=to-the-broker-1", log),
         "the broker's own log line carries the request id")
    t.ok("id\"" not in log and "\"Text\"" not in log and "rid\"" not in log,
         "no input values in the log")
    for tok in (ADMIN_TOKEN, ALICE_TOKEN, ECHO_TOKEN, SLOW_TOKEN,
                DOMAIN_TOKEN):
        t.ok(tok not in log, "no token in the log")

# ---- access_log = no ------------------------------------------------------
with sbtest.Daemon("[module testmod]\nenabled = yes\n\n[instance t1]\n"
                   "broker = testmod\nlabel = q\n",
                   server_extra="access_log = no\n") as d:
    st, hd, _ = req(d, "GET", "/v1/catalog",
                    headers={"X-Request-Id": "quiet-1"})
    t.eq(st, 200, "without clients the API is open")
    t.eq(hd.get("X-Request-Id"), "quiet-1", "... and echoes request ids")
    st, hd, _ = req(d, "OPTIONS", "/v1/catalog")
    t.eq(st, 204, "OPTIONS without CORS: 204 with Allow")
    t.ok("GET" in (hd.get("Allow") or ""), "... Allow lists GET")
    t.ok("quiet-1" not in d.read_log(), "access_log = no: no access line")

    # ---- OpenAPI: null for optional inputs, typed answers ------------------
    st, _, doc = req(d, "GET", "/v1/openapi.json")
    props = doc["paths"]["/v1/call/t1/Echo/Echo"]["post"]["requestBody"][
        "content"]["application/json"]["schema"]
    props = props.get("properties", {}).get("inputs", props).get(
        "properties", {})
    t.eq(props.get("Text", {}).get("nullable"), True,
         "an optional input's schema is nullable")
    st, _, body = req(d, "POST", "/v1/call/t1/Echo/Echo",
                      body={"inputs": {"Text": None, "Memo": "m"}})
    t.ok(st == 200 and "Text" not in body["rows"][0],
         "... and the API takes null as not given", repr(body)[:200])
    schemas = doc["components"]["schemas"]
    t.ok("instances" in schemas.get("Catalog", {}).get("properties", {}),
         "the catalog's answer has a typed schema")
    t.ok("status" in schemas.get("Health", {}).get("properties", {}),
         "the health answer has a typed schema")
    t.eq(doc["paths"]["/v1/catalog"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"], {"$ref": "#/components/schemas/Catalog"},
        "GET /v1/catalog refers to it")
    t.ok("security" not in doc, "without clients: no security requirement")

    # ---- ETag and gzip ----------------------------------------------------
    for path in ("/v1/catalog", "/v1/openapi.json"):
        st, hd, plain = req(d, "GET", path)
        etag = hd.get("ETag")
        t.ok(st == 200 and etag and etag.startswith('"'),
             "%s has a strong ETag" % path, repr(etag))
        st, hd, _ = req(d, "GET", path, headers={"If-None-Match": etag})
        t.eq(st, 304, "%s: If-None-Match with its ETag: 304" % path)
        st, hd, _ = req(d, "GET", path, headers={"If-None-Match": '"other"'})
        t.eq(st, 200, "%s: another ETag: 200" % path)
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        t.eq(r.headers.get("Content-Encoding"), "gzip",
             "%s: Accept-Encoding: gzip gets gzip" % path)
        t.eq(json.loads(gzip.decompress(raw)), plain,
             "%s: ... the same document" % path)
        t.ok(r.headers.get("ETag") not in (None, etag),
             "%s: ... with an ETag of its own" % path)
        t.ok("Accept-Encoding" in (r.headers.get("Vary") or ""),
             "%s: Vary: Accept-Encoding" % path)
        st, hd, _ = req(d, "GET", path, headers={
            "If-None-Match": r.headers.get("ETag")})
        t.eq(st, 304, "%s: the gzip ETag revalidates too" % path)
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        conn.request("GET", path, headers={"Accept-Encoding": "gzip;q=0"})
        r = conn.getresponse()
        r.read()
        conn.close()
        t.eq(r.headers.get("Content-Encoding"), None,
             "%s: gzip;q=0 is refused" % path)

# ---- audit lines are security records: log_level = warn keeps them ---------
for extra, want in (("log_level = warn\n", True),
                    ("log_level = warn\naudit_log = no\n", False)):
    with sbtest.Daemon("[module testmod]\nenabled = yes\n\n[instance t1]\n"
                       "broker = testmod\nlabel = w\n\n[client echo]\n"
                       "token_sha256 = %s\nallow = t1/Echo.Echo\n"
                       % h(ECHO_TOKEN), server_extra=extra) as d:
        st, _, _ = call(d, "t1/Echo.Echo", ECHO_TOKEN, {"Text": "w"},
                        headers={"X-Request-Id": "warn-ok-1"})
        t.eq(st, 200, "%s: a call" % extra.strip().replace("\n", ", "))
        st, _, _ = call(d, "t1/Echo.List", ECHO_TOKEN,
                        headers={"X-Request-Id": "warn-refused-2"})
        t.eq(st, 403, "... and a refused one")
        log = d.read_log()
        t.eq(bool(re.search(r"audit: client=echo call=t1/Echo\.Echo "
                            r"mailbox=- status=200 request_id=warn-ok-1",
                            log)), want,
             "... audit line of the call %s" % (
                 "written" if want else "not written (audit_log = no)"))
        t.eq(bool(re.search(r"audit: client=echo call=t1/Echo\.List "
                            r"mailbox=- status=403 request_id=warn-refused-2",
                            log)), want,
             "... audit line of the refused call %s" % (
                 "written" if want else "not written"))
        t.ok("bytes client=echo" not in log,
             "... the access line follows log_level (info)", log[-800:])

# ---- the access line over IPv6 names the IPv6 peer ------------------------
try:
    with socket.socket(socket.AF_INET6) as s6:
        s6.bind(("::1", 0))
        have6 = True
except OSError:
    have6 = False
if have6:
    d = sbtest.Daemon("[module testmod]\nenabled = yes\n\n[instance t1]\n"
                      "broker = testmod\nlabel = six\n")
    with open(d.config) as f:
        text = f.read()
    with open(d.config, "w") as f:
        f.write(text.replace("listen = 127.0.0.1:%d" % d.port,
                             "listen = [::1]:%d" % d.port))
    d.log = open(d.log_path, "ab")
    d.proc = subprocess.Popen(sbtest.daemon_command() + ["-c", d.config],
                              stdout=d.log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)

    def six():
        try:
            c = http.client.HTTPConnection("::1", d.port, timeout=2)
            c.request("GET", "/v1/health", headers={"X-Request-Id": "six-1"})
            ok = c.getresponse().status == 200
            c.close()
            return ok
        except OSError:
            return False
    t.ok(sbtest.wait_for(six, timeout=20 * (4 if sbtest.VALGRIND else 1)),
         "the daemon answers on [::1]")
    t.ok(sbtest.wait_for(lambda: re.search(
        r"GET /v1/health 200 .* client=- request_id=six-1 addr=::1$",
        d.read_log(), re.M), timeout=10),
        "the access line names the IPv6 peer: addr=::1", d.read_log()[-800:])
    t.eq(d.stop(), 0, "the IPv6 daemon stops cleanly")
    d.log.close()
    shutil.rmtree(d.workdir, ignore_errors=True)

# ---- configuration errors -------------------------------------------------


def check_fails(body, server_extra, want, name):
    d = sbtest.Daemon(body, server_extra=server_extra)
    r = subprocess.run(sbtest.daemon_command() + ["-c", d.config, "--check"],
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    t.ok(r.returncode != 0 and want in out, name, out[-800:])


BASE = "[module testmod]\nenabled = yes\n\n[instance t1]\nbroker = testmod\nlabel = b\n"
check_fails(BASE + "\n[client x]\ntoken_sha256 = abc\n", "",
            "expected 64 hexadecimal digits", "a short token hash is refused")
check_fails(BASE + "\n[client x]\nallow = t1/Echo.Echo\n", "",
            "no credential", "a client without a credential is refused")
check_fails(BASE + "\n[client x]\ntoken_sha256 = %s\nallow = Echo\n"
            % h("a"), "", "is not instance/Object.Method",
            "a malformed grant is refused")
check_fails(BASE + "\n[client x]\ntoken_sha256 = %s\nmailboxes = bob\n"
            % h("a"), "", "is not an address",
            "a malformed mailbox grant is refused")
check_fails(BASE + "\n[client x]\ntoken_sha256 = %s\n"
            "mailboxes = none, alice@example.test\n" % h("a"), "",
            "mailboxes: none stands alone",
            "mailboxes = none with an address is refused")
check_fails(BASE + "\n[client x]\ntoken_sha256 = %s\n[client y]\n"
            "token_sha256 = %s\n" % (h("a"), h("a")), "",
            "the same token as [client x]", "two clients with one token")
check_fails(BASE, "tls_cert = /nonexistent/cert.pem\n",
            "tls_cert and tls_key go together",
            "tls_cert without tls_key is refused")
check_fails(BASE, "tls_cert = /nonexistent/cert.pem\n"
            "tls_key = /nonexistent/key.pem\n",
            "tls_cert: cannot read /nonexistent/cert.pem",
            "--check: an unreadable certificate is refused")
check_fails(BASE + "\n[client x]\ncert_subject = CN=x\n", "",
            "needs [server] tls_client_ca",
            "cert_subject without tls_client_ca is refused")

# ---- secure by default ------------------------------------------------------
# A non-loopback address without TLS and clients is refused before the
# daemon listens.  192.0.2.1 (TEST-NET-1) is no address of this host: had
# the check let it through, binding would fail with another message, so
# the test never serves anything beyond loopback.
d = sbtest.Daemon(BASE)
with open(d.config) as f:
    text = f.read()
with open(d.config, "w") as f:
    f.write(text.replace("listen = 127.0.0.1:", "listen = 192.0.2.1:"))
r = subprocess.run(sbtest.daemon_command() + ["-c", d.config],
                   capture_output=True, text=True, timeout=60)
t.ok(r.returncode != 0 and "allow_insecure" in r.stderr + r.stdout,
     "a non-loopback address without TLS or clients is refused",
     (r.stdout + r.stderr)[-600:])

# allow_insecure = yes lets it through, with a warning at every start
# (here the bind to 192.0.2.1 then fails: still nothing served)
d = sbtest.Daemon(BASE, "allow_insecure = yes\n")
with open(d.config) as f:
    text = f.read()
with open(d.config, "w") as f:
    f.write(text.replace("listen = 127.0.0.1:", "listen = 192.0.2.1:"))
r = subprocess.run(sbtest.daemon_command() + ["-c", d.config],
                   capture_output=True, text=True, timeout=60)
t.ok(r.returncode != 0 and "serving a non-loopback address without TLS "
     "and without clients (allow_insecure = yes)" in r.stderr + r.stdout and
     "allow_insecure = yes in [server]" not in r.stderr + r.stdout,
     "allow_insecure = yes: a non-loopback address is let through, warned",
     (r.stdout + r.stderr)[-600:])
d.cleanup()



def private_network():
    """Moves this process, and the daemons it starts from now on, into a
    network namespace of its own whose only interface is its loopback, up:
    0.0.0.0 there is reachable from nowhere else.  Needs root (CI runs as
    root); False when it cannot be done."""
    import ctypes
    import fcntl
    import socket
    import struct
    libc = ctypes.CDLL(None, use_errno=True)
    clone_newnet = 0x40000000
    if libc.unshare(clone_newnet) != 0:
        return False
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sk:
            req = struct.pack("16sH22x", b"lo", 0)
            flags = struct.unpack("16sH22x",
                                  fcntl.ioctl(sk, siocgifflags, req))[1]
            fcntl.ioctl(sk, siocsifflags,
                        struct.pack("16sH22x", b"lo", flags | iff_up))
    except OSError:
        return False
    return True


# A reload may not remove every [client] while the daemon listens beyond
# loopback without TLS.  The daemon listens on 0.0.0.0 of a network
# namespace of its own (only a loopback interface): no other host or
# process outside it can reach it.
if not private_network():
    print("# the reload exposure checks need a network namespace of their "
          "own (root): not run")
    t.done()
    sys.exit(0)
GUARDED = BASE + "\n[client admin]\ntoken_sha256 = %s\nallow = */*.*\n" % (
    h(ADMIN_TOKEN))
d = sbtest.Daemon(GUARDED)
with open(d.config) as f:
    server = f.read().split("\n[module", 1)[0].replace(
        "listen = 127.0.0.1:", "listen = 0.0.0.0:")


def write_config(body, extra=""):
    with open(d.config + ".new", "w") as f:
        f.write(server + extra + "\n" + body)
    os.replace(d.config + ".new", d.config)


def generation():
    st, body = d.get("/v1/health")
    return body.get("generation") if st == 200 else None


write_config(GUARDED)
with d:
    st, _ = d.call("t1/Echo.Echo", {"Text": "x"})
    t.eq(st, 401, "0.0.0.0 with a client: a call without a token is 401")
    write_config(BASE)
    d.signal(signal.SIGHUP)
    t.ok(sbtest.wait_for(lambda: "reload refused" in d.read_log(),
                         timeout=15 * (4 if sbtest.VALGRIND else 1)),
         "a reload removing every [client] beyond loopback is refused",
         d.read_log()[-2000:])
    t.ok("no [client] section left: listen 0.0.0.0:%d: not a loopback "
         "address" % d.port in d.read_log() and
         "allow_insecure = yes" in d.read_log(),
         "the refused reload says why", d.read_log()[-2000:])
    t.eq(generation(), 1, "the old configuration keeps serving")
    st, _ = d.call("t1/Echo.Echo", {"Text": "x"})
    t.eq(st, 401, "after the refused reload a call without a token is 401")
    st, _ = d.request("POST", "/v1/call/t1/Echo/Echo",
                      {"inputs": {"Text": "x"}},
                      headers={"Authorization": "Bearer " + ADMIN_TOKEN})
    t.eq(st, 200, "and the old client is still served")
    t.ok("serving a non-loopback address" not in d.read_log(),
         "no allow_insecure warning for a refused reload")
    # allow_insecure = yes accepts it, with the warning of the start
    write_config("[module testmod]\nenabled = yes\n",
                 "allow_insecure = yes\n")
    d.signal(signal.SIGHUP)
    t.ok(sbtest.wait_for(lambda: generation() == 2,
                         timeout=15 * (4 if sbtest.VALGRIND else 1)),
         "with allow_insecure = yes the reload applies", d.read_log()[-2000:])
    t.ok("listen 0.0.0.0:%d: serving a non-loopback address without TLS and "
         "without clients (allow_insecure = yes)" % d.port in d.read_log(),
         "the accepted reload gives the warning of the start",
         d.read_log()[-2000:])

t.done()
