#!/usr/bin/python3
"""auth = ntlm-negotiate of the SDK's HTTP client (sb_http_perform): NTLMv2
carried in the Negotiate scheme, against a loopback server that checks it
with tests/mock/ews_ntlm.py (the NTLMv2 response recomputed from the
password with pycryptodome's MD4: an implementation independent of the
client's).

test_http_ntlm_negotiate_client runs the requests with the instance's own
account:
  - EXAMPLE\\alice and alice@example.test: 200, the handshake on the first
    request's connection (NEGOTIATE, 401 with the CHALLENGE in
    WWW-Authenticate: Negotiate, AUTHENTICATE) with the body sent whole on
    each leg, the AUTHENTICATE message's MIC checked too; later requests on the kept connection send no Authorization
    and no new handshake; a new connection (SB_HTTP_FRESH_CONNECT) has its
    own handshake;
  - the server closing a kept connection: the next request's new
    connection is authenticated again; the server forgetting a kept
    connection (a 401 on it): one new handshake on it;
  - a wrong password: upstream_auth (502) naming auth = ntlm-negotiate,
    after one handshake and no more;
  - a challenge that is not one: upstream_error, code ntlm_challenge;
  - a username NTLM cannot send, no password: the instance does not open,
    the message naming the key;
  - the debug transcript shows "Authorization: Negotiate ***" and no part
    of any token nor the password.
With SB_TEST_VALGRIND=1 the client runs under valgrind's memcheck; an
ASan build reports through its stderr: either fails the test.
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import shutil
import socketserver
import struct
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402

try:
    import ews_ntlm  # noqa: E402  (needs pycryptodome for MD4)
except ImportError as e:
    print("# SKIP: tests/mock/ews_ntlm.py cannot be loaded: %s" % e)
    sys.exit(sbtest.SKIP)
import ews_auth  # noqa: E402
from ews_store import PASSWORD  # noqa: E402

CLIENT = os.path.join(sbtest.TOP_BUILDDIR, "tests", "integration",
                      "test_http_ntlm_negotiate_client")
POST_BODY_LEN = len("<probe>ntlm in negotiate</probe>")
SANITIZER_MARKS = sbtest.Daemon.SANITIZER_MARKS + ("==ERROR", "Invalid read",
                                                   "definitely lost")
ALICE = "alice@example.test"

if not os.path.exists(CLIENT):
    print("# SKIP: %s is not built (make check builds it)" % CLIENT)
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.stats = {"connections": 0, "requests": 0,
                          "ntlm_handshakes": 0, "auth_failures": 0,
                          "auth_schemes": {}, "mic_ok": 0, "mic_bad": 0,
                          "no_mic": 0}
            # one entry per request: (connection, scheme, NTLM message
            # type or 0, body length, path)
            self.log = []
            self.tokens = []  # every token in and out

    def bump(self, key, n=1):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + n
            return self.stats[key]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.conn_id = self.server.bump("connections")
        self.ntlm = None
        self.conn_user = None
        self.m1 = self.m2 = None  # NEGOTIATE and CHALLENGE, for the MIC

    def log_message(self, fmt, *args):  # quiet
        pass

    def read_body(self):
        if self._body is None:
            n = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(n) if n else b""
        return self._body

    def send_header(self, name, value):
        if name.lower() == "www-authenticate" and " " in value:
            tok = value.split(" ", 1)[1]
            with self.server.lock:
                self.server.tokens.append(tok)
            self.m2 = base64.b64decode(tok)
        super().send_header(name, value)

    def handle_any(self):
        srv = self.server
        self._body = None
        srv.bump("requests")
        auth = self.headers.get("Authorization") or ""
        scheme, _, tok = auth.partition(" ")
        kind, msg = 0, b""
        if tok:
            with srv.lock:
                srv.tokens.append(tok.strip())
            try:
                msg = base64.b64decode(tok.strip())
                if msg[:8] == b"NTLMSSP\x00":
                    kind = struct.unpack_from("<I", msg, 8)[0]
            except (ValueError, struct.error):
                pass
        body = self.read_body()
        with srv.lock:
            srv.log.append((self.conn_id, scheme, kind, len(body),
                            self.path))
        if self.path == "/badchallenge" and kind == 1:
            bad = base64.b64encode(b"NTLMSSP\x00" + struct.pack("<I", 3) +
                                   b"\x00" * 40).decode()
            self.send_response(401)
            self.send_header("WWW-Authenticate", "Negotiate " + bad)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == 1:
            self.m1 = msg
        if kind == 3 and not self.mic_ok(msg):
            return ews_auth.refuse(self, ["Negotiate"])
        user = ews_ntlm.authenticate(self, auth, offer="Negotiate")
        if user is None:
            return  # it answered 401
        out = user.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-Body-Length", str(len(body)))
        if self.path == "/bye":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(out)
        if self.path == "/forget":
            self.conn_user = None  # as a server restarted behind a proxy

    do_GET = do_POST = handle_any

    def mic_ok(self, m3):
        """The MIC of an AUTHENTICATE message whose NTLMv2 proof is right
        (ews_ntlm judges the rest): False if MsvAvFlags says there is one
        and it is not HMAC-MD5(session base key, NEGOTIATE + CHALLENGE +
        AUTHENTICATE with the MIC zero)."""
        try:
            nt = ews_ntlm.field(m3, 20)
            dom = ews_ntlm.field(m3, 28).decode("utf-16-le")
            user = ews_ntlm.field(m3, 36).decode("utf-16-le")
        except (ews_ntlm.BadMessage, UnicodeDecodeError, struct.error):
            return True
        key = ews_ntlm.nt_owf_v2(user, dom, PASSWORD)
        if len(nt) <= 48 or self.ntlm is None or not hmac.compare_digest(
                hmac.new(key, self.ntlm + nt[16:], hashlib.md5).digest(),
                nt[:16]):
            return True  # not NTLMv2, or a wrong proof: ews_ntlm refuses
        flags, ti = 0, nt[16 + 28:]
        p = 0
        while p + 4 <= len(ti):
            av, ln = struct.unpack_from("<HH", ti, p)
            if av == 0:
                break
            if av == 6 and ln == 4:
                flags = struct.unpack_from("<I", ti, p + 4)[0]
            p += 4 + ln
        if not flags & 2:
            self.server.bump("no_mic")
            return True
        sbk = hmac.new(key, nt[:16], hashlib.md5).digest()
        zeroed = m3[:72] + b"\x00" * 16 + m3[88:]
        want = hmac.new(sbk, self.m1 + self.m2 + zeroed, hashlib.md5).digest()
        good = len(m3) >= 88 and hmac.compare_digest(want, m3[72:88])
        self.server.bump("mic_ok" if good else "mic_bad")
        return good


def client_command():
    if not sbtest.VALGRIND:
        return [CLIENT]
    return [os.path.join(sbtest.TOP_BUILDDIR, "libtool"), "--mode=execute",
            "valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect", CLIENT]


def run_client(name, user, password, requests, want_rc=0):
    """Run the client; {i: {...}} (0: the "open" line) and the
    transcript's lines."""
    log = os.path.join(WORK, name + ".transcript")
    env = dict(os.environ, SB_TEST_NTLM_PASSWORD=password, no_proxy="*",
               NO_PROXY="*")
    for k in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(k, None)
    timeout = 60 * (4 if sbtest.VALGRIND else 1)
    try:
        p = subprocess.run(client_command() + [URL, user, log] +
                           list(requests), env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        c.ok(False, "%s: the client finished" % name,
             "(no answer in %d s)" % timeout)
        return {}, []
    bad = [m for m in SANITIZER_MARKS if m in p.stderr]
    c.ok(p.returncode == want_rc and not bad,
         "%s: the client ran cleanly (exit %d, no crash, leak or memory "
         "error)" % (name, want_rc),
         "(exit %d)\n%s" % (p.returncode, p.stderr[-3000:]))
    res = {}
    for line in p.stdout.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "open":
            res[0] = {"open": rest}
            continue
        i, _, val = rest.partition(" ")
        if not i.isdigit():
            continue
        r = res.setdefault(int(i), {})
        if tag == "result":
            f = val.split(" ")
            r.update(status=int(f[0]), sb=f[1], api=int(f[2]),
                     code=f[3], conns=int(f[4]))
        elif tag in ("body", "length", "message"):
            r[tag] = val
    lines = []
    if os.path.exists(log):
        with open(log, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    return res, lines


def token_pieces(tokens, size=16):
    out = set()
    for t in tokens:
        for k in range(0, max(1, len(t) - size + 1)):
            out.add(t[k:k + size])
    return out


def leaked(lines, pieces, size=16):
    """The first log line holding a piece of a token, or None."""
    for ln in lines:
        for k in range(0, max(0, len(ln) - size + 1)):
            if ln[k:k + size] in pieces:
                return ln
    return None


def all_ok(name, res, n, body=ALICE):
    for i in range(1, n + 1):
        r = res.get(i, {})
        c.ok(r.get("status") == 200 and r.get("sb") == "ok" and
             r.get("body") == body,
             "%s: request %d is 200 as %s" % (name, i, body), r)


def no_secrets(name, lines):
    hit = leaked(lines, token_pieces(SRV.tokens))
    c.ok(SRV.tokens and hit is None,
         "%s: no part of any NTLM token is in the transcript" % name, hit)
    c.ok(not any(PASSWORD in ln for ln in lines),
         "%s: nor the password" % name)


WORK = sbtest.tempdir("sbntlm-")
SRV = Server()
URL = "http://127.0.0.1:%d" % SRV.server_address[1]
threading.Thread(target=SRV.serve_forever, kwargs={"poll_interval": 0.1},
                 daemon=True).start()
try:
    # -- the handshake, a kept connection, a new one ------------------------
    reqs = ["POST /ntlm", "GET /ntlm", "POST /ntlm", "FRESH GET /ntlm",
            "GET /ntlm"]
    res, lines = run_client("domain user", "EXAMPLE\\alice", PASSWORD, reqs)
    all_ok("domain user", res, len(reqs))
    c.eq([res.get(i, {}).get("conns") for i in range(1, 6)],
         [1, 0, 0, 1, 0],
         "domain user: new connections only for the first and the fresh one")
    c.eq([res.get(i, {}).get("length") for i in (1, 3)],
         [str(POST_BODY_LEN)] * 2, "domain user: each POST's body arrived whole")
    st, log = SRV.stats, SRV.log
    c.eq(st["ntlm_handshakes"], 2,
         "domain user: one handshake per connection, none more")
    c.eq(st["auth_failures"], 0, "domain user: nothing refused")
    c.eq((st["mic_ok"], st["mic_bad"], st["no_mic"]), (2, 0, 0),
         "domain user: each AUTHENTICATE had a MIC, checked by the server")
    want = [(1, "Negotiate", 1, POST_BODY_LEN, "/ntlm"),
            (1, "Negotiate", 3, POST_BODY_LEN, "/ntlm"),
            (1, "", 0, 0, "/ntlm"),
            (1, "", 0, POST_BODY_LEN, "/ntlm"),
            (2, "Negotiate", 1, 0, "/ntlm"),
            (2, "Negotiate", 3, 0, "/ntlm"),
            (2, "", 0, 0, "/ntlm")]
    c.eq(log, want, "domain user: NEGOTIATE and AUTHENTICATE in the "
         "Negotiate scheme on one connection, the body with each leg; then "
         "requests without Authorization; a new connection's own handshake")
    c.eq(sum("http > Authorization: Negotiate ***" in ln for ln in lines), 4,
         "domain user: the transcript shows the four tokens sent redacted")
    c.eq(sum("http < WWW-Authenticate: Negotiate ***" in ln for ln in lines),
         2, "domain user: and the two challenges")
    no_secrets("domain user", lines)

    # -- a user principal name ------------------------------------------------
    SRV.reset()
    res, lines = run_client("upn", "alice@example.test", PASSWORD,
                            ["GET /ntlm", "GET /ntlm"])
    all_ok("upn", res, 2)
    c.eq(SRV.stats["ntlm_handshakes"], 1, "upn: one handshake")

    # -- the server closes a kept connection; then forgets one --------------
    SRV.reset()
    res, lines = run_client("reauth", "EXAMPLE\\alice", PASSWORD,
                            ["GET /bye", "POST /ntlm", "GET /forget",
                             "POST /ntlm", "GET /ntlm"])
    all_ok("reauth", res, 5)
    c.eq([res.get(i, {}).get("conns") for i in range(1, 6)],
         [1, 1, 0, 0, 0], "reauth: a new connection only after the server "
         "closed one")
    c.eq(res.get(4, {}).get("length"), str(POST_BODY_LEN),
         "reauth: the POST re-sent whole after the 401")
    c.eq(SRV.stats["ntlm_handshakes"], 3,
         "reauth: one handshake more for the new connection and one for the "
         "forgotten one")
    c.eq([(e[0], e[2]) for e in SRV.log],
         [(1, 1), (1, 3), (2, 0), (2, 1), (2, 3), (2, 0), (2, 0), (2, 1),
          (2, 3), (2, 0)],
         "reauth: an unauthenticated try, refused, then the handshake on "
         "that same connection, each time")
    no_secrets("reauth", lines)

    # -- a wrong password ------------------------------------------------------
    SRV.reset()
    res, lines = run_client("wrong password", "EXAMPLE\\alice",
                            "not-" + PASSWORD, ["POST /ntlm"])
    r = res.get(1, {})
    c.ok(r.get("status") == 401 and r.get("sb") == "upstream_auth" and
         r.get("api") == 502 and r.get("code") == "http_401",
         "wrong password: 401 gives upstream_auth (502), code http_401", r)
    msg = r.get("message", "")
    print("# wrong password: %s" % msg)
    c.ok("the server refused the credentials of auth = ntlm-negotiate" in msg
         and "it offers Negotiate" in msg,
         "wrong password: the message names the auth and the offer", msg)
    c.eq((SRV.stats["ntlm_handshakes"], SRV.stats["auth_failures"],
          len(SRV.log)), (1, 1, 2),
         "wrong password: one handshake, refused, not tried again")
    no_secrets("wrong password", lines)
    c.ok(not any("not-" + PASSWORD in ln for ln in lines),
         "wrong password: the wrong password is not logged either")

    # -- a challenge that is none ---------------------------------------------
    SRV.reset()
    res, lines = run_client("bad challenge", "EXAMPLE\\alice", PASSWORD,
                            ["GET /badchallenge"])
    r = res.get(1, {})
    c.ok(r.get("sb") == "upstream_error" and r.get("code") ==
         "ntlm_challenge" and r.get("status") == 0 and
         "not a CHALLENGE message (type 3)" in r.get("message", ""),
         "bad challenge: upstream_error naming what is wrong", r)

    # -- configurations refused -------------------------------------------------
    res, _ = run_client("bad username", "\\alice", PASSWORD, ["GET /ntlm"],
                        want_rc=2)
    c.ok("username: expected DOMAIN\\user" in res.get(0, {}).get("open", ""),
         "bad username: the instance does not open, naming the key", res)
    res, _ = run_client("no password", "EXAMPLE\\alice", "", ["GET /ntlm"],
                        want_rc=2)
    c.ok("password: required when auth = ntlm-negotiate" in
         res.get(0, {}).get("open", ""),
         "no password: the instance does not open, naming the key", res)
    res, _ = run_client("long password", "EXAMPLE\\alice", "p" * 1100,
                        ["GET /ntlm"], want_rc=2)
    c.ok("password: NTLM takes valid UTF-8 of at most 1024 bytes" in
         res.get(0, {}).get("open", ""),
         "long password: the instance does not open, naming the key", res)
finally:
    SRV.shutdown()
    SRV.server_close()
    if c.failed == 0:
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        print("# kept " + WORK)
c.done()
