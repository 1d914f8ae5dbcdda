#!/usr/bin/python3
"""auth = negotiate of the SDK's HTTP client (sb_http_perform) against a
real MIT KDC on loopback.

A throwaway realm EXAMPLE.TEST (tests/lib/krb5kdc.py) holds a client
alice (and bob), each with a keytab, and the service HTTP/localhost, the
principal libcurl asks a ticket for with a URL of http://localhost:PORT.
tests/mock/http_server.py --keytab checks Authorization: Negotiate with
the service's keytab through GSS-API (tests/mock/spnego.py) and answers
the client's principal.  test_http_negotiate_client runs the requests
with the process's own credentials, as the daemon would have them:
  - a kinit'd credential cache (KRB5CCNAME): 200 as alice, on every
    request of a kept connection, a POST's body sent whole;
  - nothing but a client keytab (KRB5_CLIENT_KTNAME) and a MEMORY cache:
    200 as bob, the library getting the ticket-granting ticket itself,
    once for both requests;
  - no credentials at all, a credential cache whose ticket expired, a
    service keytab older than the key the KDC issues tickets with (the
    server answering a bare Negotiate, or a KRB-ERROR as Windows does), a URL
    of 127.0.0.1 (no such service principal) and a KDC that is down: a
    clean upstream_auth (502) naming auth = negotiate and GSS-API's
    reason when it gave one;
  - the debug transcript shows "Authorization: Negotiate ***" and no part
    of any token that went either way.
Skips (77) without krb5-kdc/krb5-admin-server/krb5-user or python3-gssapi.
With SB_TEST_VALGRIND=1 the client runs under valgrind's memcheck; an
ASan build reports through its stderr: either fails the test.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import krb5kdc  # noqa: E402
import sbtest  # noqa: E402
import spnego  # noqa: E402

CLIENT = os.path.join(sbtest.TOP_BUILDDIR, "tests", "integration",
                      "test_http_negotiate_client")
MOCK = os.path.join(SRC, "tests", "mock", "http_server.py")
POST_BODY_LEN = len("<probe>negotiate</probe>")
SANITIZER_MARKS = sbtest.Daemon.SANITIZER_MARKS + ("==ERROR", "Invalid read",
                                                   "definitely lost")

why = krb5kdc.missing() or spnego.available()
if why:
    print("# SKIP: " + why)
    sys.exit(sbtest.SKIP)
if not os.path.exists(CLIENT):
    print("# SKIP: %s is not built (make check builds it)" % CLIENT)
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()
# loopback only, whatever proxy the environment names
NOPROXY = {"no_proxy": "*", "NO_PROXY": "*", "http_proxy": None,
           "HTTP_PROXY": None, "all_proxy": None, "ALL_PROXY": None}


class Mock:
    """http_server.py serving /negotiate with a service keytab."""

    def __init__(self, workdir, name, keytab, env, extra=()):
        self.port_file = os.path.join(workdir, name + ".port")
        self.log = open(os.path.join(workdir, name + ".log"), "wb")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", MOCK, "--port-file", self.port_file,
             "--keytab", keytab, "--lifetime", "600"] + list(extra),
            env=env, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        sbtest.wait_for(lambda: os.path.exists(self.port_file)
                        or self.proc.poll() is not None, 15)
        if not os.path.exists(self.port_file):
            self.stop()
            with open(self.log.name, "rb") as f:
                raise RuntimeError("mock %s did not start: %s" % (
                    name, f.read().decode("utf-8", "replace")))
        with open(self.port_file) as f:
            self.port = int(f.read())

    def url(self, host="localhost"):
        return "http://%s:%d" % (host, self.port)

    def stats(self):
        with urllib.request.build_opener(
                urllib.request.ProxyHandler({})).open(
                    "http://127.0.0.1:%d/stats" % self.port, timeout=10) as r:
            return json.loads(r.read())["negotiate"]

    def replay(self, token):
        """GET /negotiate with this token again: (status, body)."""
        req = urllib.request.Request(
            "http://127.0.0.1:%d/negotiate" % self.port,
            headers={"Authorization": "Negotiate " + token})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=10) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()


def client_command():
    if not sbtest.VALGRIND:
        return [CLIENT]
    return [os.path.join(sbtest.TOP_BUILDDIR, "libtool"), "--mode=execute",
            "valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect", CLIENT]


def run_client(name, url, requests, env):
    """Run the client; {i: {status, sb, api, code, conns, body, length,
    message}} and the transcript's lines.  Checks that it ran cleanly."""
    log = os.path.join(WORK, name + ".transcript")
    timeout = 120 * (4 if sbtest.VALGRIND else 1)
    try:
        p = subprocess.run(client_command() + [url, log] + list(requests),
                           env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        c.ok(False, "%s: the client finished" % name,
             "(no answer in %d s)" % timeout)
        return {}, []
    bad = [m for m in SANITIZER_MARKS if m in p.stderr]
    c.ok(p.returncode == 0 and not bad,
         "%s: the client ran cleanly (no crash, leak or memory error)" % name,
         "(exit %d)\n%s" % (p.returncode, p.stderr[-3000:]))
    res = {}
    for line in p.stdout.splitlines():
        tag, _, rest = line.partition(" ")
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
    """Every run of size characters of every token (base64): none may
    appear anywhere in a log."""
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


WORK = sbtest.tempdir("sbneg-")
mocks = []
try:
    with krb5kdc.Realm() as kdc:
        alice = kdc.add_principal("alice", keytab=kdc.client_keytab)
        bob_kt = os.path.join(kdc.dir, "bob.keytab")
        bob = kdc.add_principal("bob", keytab=bob_kt)
        svc = kdc.add_principal("HTTP/localhost")
        # a keytab that the next export makes stale (an older key
        # version), then the one in force
        stale_kt = kdc.export_keytab(svc, os.path.join(kdc.dir,
                                                       "stale.keytab"))
        kdc.export_keytab(svc, kdc.service_keytab)
        kdc.kinit("alice")
        nothing = "FILE:" + os.path.join(kdc.dir, "absent")
        base = kdc.env(**NOPROXY)
        good = Mock(WORK, "good", kdc.service_keytab, base)
        mocks.append(good)
        stale = Mock(WORK, "stale", stale_kt, base)
        mocks.append(stale)
        stale_krb_error = Mock(WORK, "stale-krb-error", stale_kt, base,
                               ["--reject-token"])
        mocks.append(stale_krb_error)

        # -- alice's credential cache, as after kinit ----------------------
        env = kdc.env(KRB5_CLIENT_KTNAME=nothing, **NOPROXY)
        reqs = ["GET /negotiate", "GET /negotiate", "POST /negotiate",
                "GET /negotiate"]
        res, lines = run_client("ccache", good.url(), reqs, env)
        for i in range(1, len(reqs) + 1):
            r = res.get(i, {})
            c.ok(r.get("status") == 200 and r.get("sb") == "ok" and
                 r.get("body") == alice,
                 "ccache: request %d (%s) is 200 as %s" % (i, reqs[i - 1],
                                                           alice), r)
        c.eq([res.get(i, {}).get("conns") for i in range(1, 5)],
             [1, 0, 0, 0], "ccache: one connection, kept for every request")
        c.eq(res.get(3, {}).get("length"), str(POST_BODY_LEN),
             "ccache: the POST's body reached the server whole")
        st = good.stats()
        c.eq(st["accepted"], len(reqs),
             "ccache: the server checked a Kerberos ticket on each request")
        c.eq((st["refused"], st["challenges"]), (0, 0),
             "ccache: the token went with each request itself: no 401 "
             "round trip, nothing refused")
        c.ok("HTTP/localhost@EXAMPLE.TEST" in kdc.klist(),
             "ccache: the service ticket was for HTTP/localhost@EXAMPLE.TEST")
        c.eq(sum("http > Authorization: Negotiate ***" in ln for ln in lines),
             len(reqs), "ccache: the transcript shows the header redacted")
        c.ok(any("http < WWW-Authenticate: Negotiate ***" in ln
                 for ln in lines),
             "ccache: and the server's mutual-authentication token too")
        pieces = token_pieces(st["tokens"])
        c.ok(len(st["tokens"]) >= len(reqs) and pieces,
             "ccache: the server recorded the tokens", st["tokens"][:2])
        hit = leaked(lines, pieces)
        c.ok(hit is None, "ccache: no part of any token is in the transcript",
             hit)
        # the mock is a real acceptor: a token seen before is refused
        code, body = good.replay(st["tokens"][0])
        c.ok(code == 401 and "replay" in body,
             "the mock refuses a replayed token", (code, body))

        # -- bob's client keytab alone, a memory credential cache ---------
        env = kdc.env(KRB5CCNAME="MEMORY:negotiate-test",
                      KRB5_CLIENT_KTNAME="FILE:" + bob_kt, **NOPROXY)
        res, lines = run_client("keytab", good.url(),
                                ["GET /negotiate", "POST /negotiate"], env)
        for i in (1, 2):
            r = res.get(i, {})
            c.ok(r.get("status") == 200 and r.get("body") == bob,
                 "client keytab: request %d is 200 as %s, no kinit" % (i, bob),
                 r)
        issued = [ln for ln in kdc.read_log().splitlines()
                  if "ISSUE" in ln and "bob@EXAMPLE.TEST for" in ln]
        c.eq((sum("AS_REQ" in ln for ln in issued),
              sum("TGS_REQ" in ln for ln in issued)), (1, 1),
             "client keytab: one ticket-granting and one service ticket, "
             "kept for both requests")
        hit = leaked(lines, token_pieces(good.stats()["tokens"]))
        c.ok(hit is None, "client keytab: no part of a token is logged", hit)

        def refused(name, url, env, want_msg, reqs=("GET /negotiate",)):
            res, lines = run_client(name, url, reqs, env)
            r = res.get(len(reqs), {})
            c.ok(r.get("status") == 401 and r.get("sb") == "upstream_auth"
                 and r.get("api") == 502 and r.get("code") == "http_401",
                 "%s: 401 gives upstream_auth (502), code http_401" % name, r)
            msg = r.get("message", "")
            print("# %s: %s" % (name, msg))
            c.ok("auth = negotiate" in msg and "it offers Negotiate" in msg
                 and want_msg in msg,
                 "%s: the message says what went wrong" % name, msg)
            return res, lines

        # -- no credentials at all -----------------------------------------
        before = good.stats()
        env = kdc.env(KRB5CCNAME=nothing, KRB5_CLIENT_KTNAME=nothing,
                      **NOPROXY)
        refused("no credentials", good.url(), env,
                "auth = negotiate sent no Kerberos ticket: No credentials")
        after = good.stats()
        c.eq((after["challenges"] - before["challenges"],
              after["accepted"] - before["accepted"]), (1, 0),
             "no credentials: one 401 and no second try without a token")

        # -- tickets that expire: a kinit'd cache is not renewed, a
        # client keytab gets a new ticket-granting ticket -----------------
        # (long enough for valgrind to start the client within it)
        life = 15 if sbtest.VALGRIND else 2
        wait = "sleep %d" % ((life + 1) * 1000)
        short = os.path.join(kdc.dir, "short.cc")
        kdc.kinit("alice", ccache=short, lifetime="%ds" % life)
        env = kdc.env(KRB5CCNAME="FILE:" + short, KRB5_CLIENT_KTNAME=nothing,
                      **NOPROXY)
        res, _ = refused("expired cache", good.url(), env,
                         "sent no Kerberos ticket: Ticket expired",
                         ["GET /negotiate", wait, "GET /negotiate"])
        c.eq(res.get(1, {}).get("body"), alice,
             "expired cache: 200 as alice while the ticket was valid")
        carol_kt = os.path.join(kdc.dir, "carol.keytab")
        carol = kdc.add_principal("carol", keytab=carol_kt)
        kdc.kadmin("modprinc -maxlife %ds %s" % (life, carol))
        env = kdc.env(KRB5CCNAME="MEMORY:negotiate-refresh",
                      KRB5_CLIENT_KTNAME="FILE:" + carol_kt, **NOPROXY)
        res, _ = run_client("keytab refresh", good.url(),
                            ["GET /negotiate", wait, "GET /negotiate"], env)
        c.ok(all(res.get(i, {}).get("body") == carol for i in (1, 3)),
             "client keytab: 200 again after the first tickets expired", res)
        issued = [ln for ln in kdc.read_log().splitlines()
                  if "ISSUE" in ln and "AS_REQ" in ln and
                  "carol@EXAMPLE.TEST for" in ln]
        c.eq(len(issued), 2, "client keytab: a new ticket-granting ticket "
             "from the keytab when the first expired")

        # -- the service's keytab is older than its key --------------------
        env = kdc.env(KRB5_CLIENT_KTNAME=nothing, **NOPROXY)
        _, lines = refused("stale service key", stale.url(), env,
                           "the server refused the credentials of auth = "
                           "negotiate")
        st = stale.stats()
        c.ok(st["refused"] >= 1 and st["accepted"] == 0,
             "stale service key: the server refused the ticket", st["errors"])
        c.ok(any("kvno" in e.lower() or "key version" in e.lower()
                 or "no key" in e.lower() for e in st["errors"]),
             "stale service key: for the key version", st["errors"])
        hit = leaked(lines, token_pieces(st["tokens"]))
        c.ok(hit is None, "stale service key: no part of a token is logged",
             hit)

        # -- the same, answered with a KRB-ERROR as Windows does ----------
        _, lines = refused("stale key, KRB-ERROR", stale_krb_error.url(), env,
                           "the server refused the credentials of auth = "
                           "negotiate: Key version is not available")
        st = stale_krb_error.stats()
        c.ok(st["refused"] >= 1 and st["accepted"] == 0 and
             len(st["tokens"]) >= 2,
             "stale key, KRB-ERROR: refused with a token of the server's",
             st)
        hit = leaked(lines, token_pieces(st["tokens"]))
        c.ok(hit is None, "stale key, KRB-ERROR: no part of either token is "
             "logged", hit)

        # -- 127.0.0.1: libcurl asks a ticket for HTTP/127.0.0.1 -----------
        before = good.stats()
        refused("ip address", good.url("127.0.0.1"), env,
                "sent no Kerberos ticket: Server HTTP/127.0.0.1@EXAMPLE.TEST "
                "not found in Kerberos database")
        after = good.stats()
        c.eq((after["challenges"] - before["challenges"],
              after["accepted"] - before["accepted"]), (1, 0),
             "ip address: no ticket for HTTP/127.0.0.1, no token sent")
        c.ok("HTTP/127.0.0.1@EXAMPLE.TEST" in kdc.read_log() and
             "Server not found in Kerberos database" in kdc.read_log(),
             "ip address: the KDC was asked for HTTP/127.0.0.1 and knew none")

        # -- a client keytab, but no KDC to be reached ---------------------
        kdc.stop_kdc()
        env = kdc.env(KRB5CCNAME="MEMORY:negotiate-nokdc",
                      KRB5_CLIENT_KTNAME="FILE:" + bob_kt, **NOPROXY)
        t0 = time.monotonic()
        refused("no KDC", good.url(), env, "Cannot contact any KDC")
        took = time.monotonic() - t0
        c.ok(took < 30 * (4 if sbtest.VALGRIND else 1),
             "no KDC: the answer came at once (%.1f s)" % took)
        for m in mocks:
            m.stop()
        mocks = []
except krb5kdc.KdcError as e:
    c.ok(False, "the realm could be made", str(e))
finally:
    for m in mocks:
        m.stop()
    if c.failed == 0:
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        print("# kept " + WORK)
c.done()
