#!/usr/bin/python3
"""A loopback HTTP/1.1 server for the tests of the SDK's HTTP client
(tests/unit/test_http.c).  Standard library only.

    http_server.py --port-file F [--cert C --key K] [--lifetime S]
                   [--keytab KT [--reject-token]]

Listens on 127.0.0.1, an ephemeral port written to F once it accepts
connections; with --cert/--key it speaks TLS.  Stops on SIGTERM, when its
parent goes away, or after --lifetime seconds (default 300).  Keep-alive
is on (HTTP/1.1).  Paths:

  GET  /hello               200 text "hello"
  *    /echo                200 JSON {method, path, headers, body}
  GET  /basic               200 with Authorization: Basic user:pass
                            (alice:s3cret-Basic-pw), else 401 Basic
  GET  /status/N?retry=S&soap=1&text=T
                            status N (with Retry-After: S, a SOAP-like
                            fault body, or T as a text/plain body)
  GET  /gzip                a gzip-encoded text body (honours nothing:
                            always gzip)
  GET  /bomb?mb=N           N MiB of zeros, gzip-encoded (small on the wire)
  GET  /big?n=N             N bytes of text
  GET  /slow?s=S            answers after S seconds (at most 30)
  GET  /close               closes the connection without an answer
  GET  /partial             headers and half the body, then closes
  *    /negotiate            with --keytab KT (a service keytab, e.g.
                            for HTTP/localhost; tests/mock/spnego.py):
                            200 with the client's Kerberos principal as
                            the body (and the server's mutual token in
                            WWW-Authenticate) for a valid Authorization:
                            Negotiate, else 401 WWW-Authenticate:
                            Negotiate (the reason as the body; with
                            --reject-token the acceptor's error token
                            with it, as Windows sends a KRB-ERROR)
  GET  /stats               JSON {connections, requests}; with --keytab
                            also negotiate: {challenges (401 without
                            credentials), accepted, refused, principals,
                            errors, tokens (every token in and out,
                            base64: for tests that look for them in logs)}
"""
import argparse
import gzip
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

BASIC_USER = "alice"
BASIC_PASS = "s3cret-Basic-pw"

STATS = {"connections": 0, "requests": 0}
LOCK = threading.Lock()
NEGOTIATE = None  # a spnego.Spnego with --keytab
NEG_STATS = {"challenges": 0, "accepted": 0, "refused": 0, "principals": [],
             "errors": [], "tokens": []}
NEG_KEEP = 100  # entries kept in each list

SOAP_FAULT = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
    "<s:Body><s:Fault><faultcode>s:Client</faultcode>"
    "<faultstring>The mailbox is not valid.</faultstring>"
    "</s:Fault></s:Body></s:Envelope>")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-http/1"

    def setup(self):
        super().setup()
        with LOCK:
            STATS["connections"] += 1

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, code, body=b"", ctype="text/plain; charset=utf-8",
              headers=None, reason=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code, reason)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        with LOCK:
            STATS["requests"] += 1
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        p = u.path
        data = self.body()
        if p == "/hello":
            return self.reply(200, "hello")
        if p == "/echo":
            return self.reply(200, json.dumps({
                "method": self.command, "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": data.decode("utf-8", "replace")}),
                "application/json")
        if p == "/basic":
            want = "Basic " + __import__("base64").b64encode(
                ("%s:%s" % (BASIC_USER, BASIC_PASS)).encode()).decode()
            if self.headers.get("Authorization") == want:
                return self.reply(200, "welcome")
            return self.reply(401, "who are you?", headers={
                "WWW-Authenticate": 'Basic realm="mock"'})
        if p.startswith("/status/"):
            code = int(p.split("/")[2])
            hdr = {}
            if "retry" in q:
                hdr["Retry-After"] = q["retry"]
            if code == 401:
                hdr["WWW-Authenticate"] = "Negotiate"
            if q.get("soap"):
                return self.reply(code, SOAP_FAULT, "text/xml; charset=utf-8",
                                  hdr)
            return self.reply(code, q.get("text", ""), headers=hdr)
        if p == "/gzip":
            return self.reply(200, gzip.compress(b"compressed hello " * 100),
                              headers={"Content-Encoding": "gzip"})
        if p == "/bomb":
            mb = min(int(q.get("mb", "64")), 512)
            z = gzip.compress(b"\0" * (mb << 20), 9)
            return self.reply(200, z, "application/octet-stream",
                              {"Content-Encoding": "gzip"})
        if p == "/big":
            n = min(int(q.get("n", "1000")), 64 << 20)
            return self.reply(200, b"x" * n)
        if p == "/slow":
            end = time.monotonic() + min(float(q.get("s", "5")), 30.0)
            while time.monotonic() < end:
                time.sleep(0.05)
            return self.reply(200, "late")
        if p == "/close":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if p == "/partial":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"y" * 500)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if p == "/negotiate":
            return self.negotiate(data)
        if p == "/stats":
            with LOCK:
                s = dict(STATS)
                if NEGOTIATE:
                    s["negotiate"] = json.loads(json.dumps(NEG_STATS))
            return self.reply(200, json.dumps(s), "application/json")
        return self.reply(404, "no such path: " + p)

    def negotiate(self, data):
        if not NEGOTIATE:
            return self.reply(404, "no /negotiate: started without --keytab")
        value = self.headers.get("Authorization")
        if not value:
            with LOCK:
                NEG_STATS["challenges"] += 1
            return self.reply(401, "Negotiate, please", headers={
                "WWW-Authenticate": "Negotiate"})
        ok, header, principal = r = NEGOTIATE.step(value)

        def note(key, item):
            lst = NEG_STATS[key]
            lst.append(item)
            del lst[:-NEG_KEEP]

        with LOCK:
            parts = value.split(None, 1)
            if len(parts) == 2:
                note("tokens", parts[1].strip())
            if header and " " in header:
                note("tokens", header.split(None, 1)[1])
            if ok:
                NEG_STATS["accepted"] += 1
                note("principals", principal)
            else:
                NEG_STATS["refused"] += 1
                note("errors", r.error)
        if not ok:
            return self.reply(401, "Negotiate refused: %s" % r.error,
                              headers={"WWW-Authenticate": header})
        hdr = {"WWW-Authenticate": header} if header else {}
        if data:
            hdr["X-Body-Length"] = str(len(data))
        return self.reply(200, principal, headers=hdr)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up (a refused certificate) is expected


def main():
    global NEGOTIATE
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("--keytab", help="serve /negotiate with this service "
                    "keytab (needs python3-gssapi)")
    ap.add_argument("--reject-token", action="store_true",
                    help="answer a refused Negotiate token with the "
                    "acceptor's error token")
    a = ap.parse_args()
    if a.keytab:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import spnego
        why = spnego.available()
        if why:
            sys.exit("http_server.py: --keytab: " + why)
        if not os.path.isfile(a.keytab):
            sys.exit("http_server.py: --keytab: no such file: " + a.keytab)
        NEGOTIATE = spnego.Spnego(a.keytab, reject_token=a.reject_token)
    srv = Server(("127.0.0.1", 0), Handler)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    parent = os.getppid()

    def stop(*_):
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)

    def watchdog():
        end = time.monotonic() + a.lifetime
        while time.monotonic() < end and os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    sys.exit(main())
