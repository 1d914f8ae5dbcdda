#!/usr/bin/python3
"""An OAuth2 token endpoint (client credentials grant) for svcbroker's
tests, on loopback; standard library only, plus python3-cryptography to
check the signature of JWT client assertions.

Prints "READY <port>" on stdout once it listens, then serves until SIGTERM
or SIGINT.  POST /token (any path ending in /token) takes
grant_type=client_credentials with client_id and either client_secret or
a client assertion (RFC 7523: client_assertion_type
urn:ietf:params:oauth:client-assertion-type:jwt-bearer and
client_assertion).  The assertion must be an RS256 JWT whose signature
verifies with --cert's key, whose x5t is the SHA-1 thumbprint of --cert,
with aud = the URL the request was sent to, iss = sub = client_id, a jti
not seen before, and nbf <= now < exp <= now + 10 minutes.  A good request
gets {"access_token", "token_type": "Bearer", "expires_in"}; a bad one
401 {"error": "invalid_client", "error_description": ...} (or 400
invalid_request / unsupported_grant_type / invalid_scope).

In --state-dir: `requests` (token requests received so far, answered or
not), `tokens` (every token issued, one a line: a resource server mock
accepts those; remove a line to revoke that token), `last.json` (the last
request's client_id, scope, how the client authenticated and the
assertion's header and claims; never a secret).

Imported, MockTokenServer starts and stops one such server as a child
process:

    with MockTokenServer(["--client-secret", "s3"]) as ts:
        ... ts.url, ts.requests(), ts.tokens(), ts.revoke(token) ...

Options:
  --port N              0 = any free port (default)
  --client-id ID        the client accepted (default "app-1")
  --client-secret S     the secret accepted (secret authentication)
  --cert FILE           the PEM certificate assertions are checked with
  --scope S             the scope required (default: any)
  --expires-in N        the lifetime given to tokens (default 3600)
  --delay S             wait S seconds before answering (concurrency tests)
  --fail-after N        answer the requests after the first N with
                        HTTP 503 temporarily_unavailable
  --token-prefix P      tokens start with P (default "tok-")
  --tls-cert F --tls-key F   serve HTTPS instead of HTTP
  --state-dir DIR       required
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import select
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mock_handle import DirHandle, handle_dir

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class MockTokenServer(DirHandle):
    """Run this file as a server in a child process (bounded waits)."""

    DIR_ATTR = "state_dir"

    def __init__(self, args=(), start_timeout=15.0):
        self.state_dir = handle_dir("sbtest-oauth-")
        self.err = None
        self.args = list(args)
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.err_path = os.path.join(self.state_dir, "server.log")
        self.tls = "--tls-cert" in self.args

    @property
    def url(self):
        return "%s://127.0.0.1:%d/tenant-1/oauth2/v2.0/token" % (
            "https" if self.tls else "http", self.port)

    def start(self):
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.abspath(__file__),
             "--state-dir", self.state_dir] + self.args,
            stdout=subprocess.PIPE, stderr=self.err,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                ch = os.read(self.proc.stdout.fileno(), 64)
                if not ch:
                    break
                line += ch
        if not line.startswith(b"READY "):
            self.stop()
            raise RuntimeError("token server did not start: %r %s" % (
                line, open(self.err_path, "rb").read()[-2000:]))
        self.port = int(line.split()[1])
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self):
        return self.start()

    def requests(self):
        try:
            with open(os.path.join(self.state_dir, "requests")) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def tokens(self):
        try:
            with open(os.path.join(self.state_dir, "tokens")) as f:
                return [t for t in f.read().split("\n") if t]
        except OSError:
            return []

    def tokens_file(self):
        return os.path.join(self.state_dir, "tokens")

    def revoke(self, token=None):
        """Revoke one token (default: every token issued so far)."""
        keep = [t for t in self.tokens() if token is not None and t != token]
        path = self.tokens_file()
        with open(path + ".tmp", "w") as f:
            f.write("".join(t + "\n" for t in keep))
        os.rename(path + ".tmp", path)

    def last(self):
        with open(os.path.join(self.state_dir, "last.json")) as f:
            return json.load(f)


# ---- the server ------------------------------------------------------------

def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Refused(Exception):
    def __init__(self, status, error, description):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class State:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.count = 0
        self.jtis = set()
        self.cert_der = None
        self.pubkey = None
        if opts.cert:
            from cryptography import x509
            with open(opts.cert, "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())
            from cryptography.hazmat.primitives.serialization import Encoding
            self.cert_der = cert.public_bytes(Encoding.DER)
            self.pubkey = cert.public_key()

    def write(self, name, text):
        path = os.path.join(self.opts.state_dir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)

    def check_assertion(self, jwt, url, client_id):
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        parts = jwt.split(".")
        if len(parts) != 3:
            raise Refused(401, "invalid_client", "AADSTS50027: assertion "
                          "is not a compact JWT")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError:
            raise Refused(401, "invalid_client", "AADSTS50027: assertion "
                          "is not valid base64url JSON")
        info = {"header": header, "claims": claims}
        if header.get("alg") != "RS256" or header.get("typ") != "JWT":
            raise Refused(401, "invalid_client", "AADSTS5002730: alg must "
                          "be RS256 and typ JWT")
        want = base64.urlsafe_b64encode(
            hashlib.sha1(self.cert_der).digest()).decode().rstrip("=")
        if header.get("x5t") != want:
            raise Refused(401, "invalid_client", "AADSTS700027: x5t does "
                          "not name the registered certificate")
        try:
            self.pubkey.verify(sig, (parts[0] + "." + parts[1]).encode(),
                               padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise Refused(401, "invalid_client", "AADSTS700027: client "
                          "assertion failed signature validation")
        now = time.time()
        if claims.get("aud") != url:
            raise Refused(401, "invalid_client", "AADSTS700016: aud %r is "
                          "not this endpoint" % claims.get("aud"))
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise Refused(401, "invalid_client", "AADSTS700021: iss and "
                          "sub must be the client id")
        for k in ("nbf", "iat", "exp"):
            if not isinstance(claims.get(k), int):
                raise Refused(401, "invalid_client", "AADSTS700024: %s "
                              "missing" % k)
        if claims["nbf"] > now + 5 or claims["exp"] <= now or \
                claims["exp"] > now + 600:
            raise Refused(401, "invalid_client", "AADSTS700024: assertion "
                          "is not within its valid time range")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise Refused(401, "invalid_client", "AADSTS700024: no jti")
        with self.lock:
            if jti in self.jtis:
                raise Refused(401, "invalid_client", "AADSTS700025: jti "
                              "replayed")
            self.jtis.add(jti)
        return info


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # no request lines with bodies
        sys.stderr.write("token-server: %s\n" % (fmt % args))

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(405, {"error": "invalid_request",
                          "error_description": "POST only"})

    def do_POST(self):
        st = self.server.state
        opts = st.opts
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if 0 < n <= 1 << 20 else b""
        with st.lock:
            st.count += 1
            count = st.count
            st.write("requests", "%d\n" % count)
        if opts.delay:
            time.sleep(opts.delay)
        try:
            if not self.path.endswith("/token"):
                raise Refused(404, "invalid_request", "no such endpoint")
            if opts.fail_after is not None and count > opts.fail_after:
                raise Refused(503, "temporarily_unavailable",
                              "AADSTS90033: a transient error occurred")
            ctype = self.headers.get("Content-Type", "")
            if ctype.split(";")[0].strip() != \
                    "application/x-www-form-urlencoded":
                raise Refused(400, "invalid_request", "form body expected")
            form = urllib.parse.parse_qs(raw.decode("ascii"),
                                         keep_blank_values=True,
                                         strict_parsing=True)
            one = {k: v[0] for k, v in form.items() if len(v) == 1}
            if len(one) != len(form):
                raise Refused(400, "invalid_request", "repeated parameter")
            if one.get("grant_type") != "client_credentials":
                raise Refused(400, "unsupported_grant_type",
                              "AADSTS70003: grant_type must be "
                              "client_credentials")
            cid = one.get("client_id")
            last = {"client_id": cid, "scope": one.get("scope"),
                    "auth": None}
            if cid != opts.client_id:
                raise Refused(400, "unauthorized_client", "AADSTS700016: "
                              "application %r not found" % cid)
            if "client_assertion" in one:
                if one.get("client_assertion_type") != ASSERTION_TYPE or \
                        not st.pubkey:
                    raise Refused(401, "invalid_client", "AADSTS50027: "
                                  "assertion not accepted here")
                scheme = "https" if opts.tls_cert else "http"
                url = "%s://127.0.0.1:%d%s" % (
                    scheme, self.server.server_address[1], self.path)
                last.update(st.check_assertion(one["client_assertion"],
                                               url, cid))
                last["auth"] = "assertion"
            elif "client_secret" in one:
                if not opts.client_secret or \
                        one["client_secret"] != opts.client_secret:
                    raise Refused(401, "invalid_client", "AADSTS7000215: "
                                  "Invalid client secret provided.")
                last["auth"] = "secret"
            else:
                raise Refused(401, "invalid_client", "AADSTS7000216: "
                              "client_assertion or client_secret is "
                              "required")
            if opts.scope is not None and one.get("scope") != opts.scope:
                raise Refused(400, "invalid_scope", "AADSTS1002012: scope "
                              "%r is not valid" % one.get("scope"))
            st.write("last.json", json.dumps(last))
            token = opts.token_prefix + secrets.token_urlsafe(24)
            with st.lock:
                with open(os.path.join(opts.state_dir, "tokens"), "a") as f:
                    f.write(token + "\n")
            self.answer(200, {"token_type": "Bearer",
                              "expires_in": opts.expires_in,
                              "ext_expires_in": opts.expires_in,
                              "access_token": token})
        except Refused as r:
            self.answer(r.status, {"error": r.error,
                                   "error_description": r.description,
                                   "error_codes": [7000215],
                                   "trace_id": "00000000-test"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--client-id", default="app-1")
    ap.add_argument("--client-secret")
    ap.add_argument("--cert")
    ap.add_argument("--scope")
    ap.add_argument("--expires-in", type=int, default=3600)
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--fail-after", type=int)
    ap.add_argument("--token-prefix", default="tok-")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--state-dir", required=True)
    opts = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", opts.port), Handler)
    srv.daemon_threads = True
    srv.state = State(opts)
    srv.state.write("requests", "0\n")
    open(os.path.join(opts.state_dir, "tokens"), "a").close()
    if opts.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write("READY %d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    main()
