#!/usr/bin/python3
"""A stateful mock Exchange Web Services (EWS) server for svcbroker's
tests, on loopback.  Python standard library plus python3-lxml (schema
validation), python3-pycryptodome (MD4 for NTLM) and python3-cryptography
(JWT signatures).

    ews_server.py --port-file F [--cert C --key K]
        [--auth basic|ntlm|negotiate|oauth2|none] [--keytab KT]
        [--jwks-cert PEM] [--tokens-file F]
        [--schema-dir DIR] [--lifetime S] [--log FILE]
        [--validate-responses]

Listens on 127.0.0.1; the ephemeral port is written to F once it accepts
connections.  Stops on SIGTERM, when its parent goes away, or after
--lifetime seconds (default 1800).  HTTP/1.1 with keep-alive.

Users (mailboxes): alice@, bob@, carol@example.test, password
"Secret-Pw-1" each; the user name may be the address, EXAMPLE\\alice or
alice.  Every EWS and Autodiscover request is authenticated by --auth:
  basic   Authorization: Basic
  ntlm    NTLM (type 1/2/3 on one connection, NTLMv2 response recomputed
          from the password); a connection stays authenticated, so a
          second request on it needs no handshake
  negotiate  Kerberos through SPNEGO (tests/mock/spnego.py, GSS-API):
          the service keys come from --keytab, KRB5_CONFIG names the realm
          (tests/lib/krb5kdc.py makes both; the client asks for
          HTTP/localhost, so reach the server as http://localhost:PORT);
          connection-based like IIS; alice@REALM is alice@example.test;
          counted in "negotiate_handshakes"
  oauth2  Authorization: Bearer <JWT RS256-signed by the key of
          --jwks-cert (claims upn/preferred_username/email name the user;
          without one the token is an application's, which acts through
          ExchangeImpersonation or X-AnchorMailbox)>, a token listed in
          --tokens-file (tests/mock/token_server.py's "tokens"; an
          application's) or one registered with /_mock/token
  none    nobody is asked; requests act as X-AnchorMailbox or alice

Paths:
  POST /EWS/Exchange.asmx      SOAP 1.1 EWS.  Each header child and the
        body's first child are validated against messages.xsd of
        --schema-dir (default ../shared/protocol/ews/schema from the source
        tree root); a violation answers ErrorSchemaValidation (HTTP 500
        fault) and is recorded in /_mock/stats "violations".  A
        RequestServerVersion newer than Exchange2016 (exchangelib's first
        guess, Exchange2019) answers ErrorInvalidServerVersion, as
        Exchange 2016 does.
  POST /autodiscover/autodiscover.xml (any case)   POX Autodiscover.
  Control (JSON, no authentication):
  POST /_mock/reset     empty every mailbox; clear injections, stats,
                        registered tokens, autodiscover and access settings
  POST /_mock/deliver   {"mailbox", "from", "to", "cc", "bcc", "reply_to",
        "subject" ("{n}" is replaced by the message's number), "body",
        "html_body", "folder" (well-known id, folder name or id; default
        inbox), "is_read", "received" (ISO time), "attachments": [{"name",
        "content_type", "content_b64", "is_inline", "content_id",
        "item": {a message: same keys}}], "count": N, "from_ex": true,
        "hostile": true (odd values: control characters, invalid dates, a
        From that is no address, a recipient without one) or "missing"
        (no Subject, From, DateTimeReceived, DateTimeSent,
        InternetMessageId)} -> {"ids": [...]}
  POST /_mock/inject    {"operation": "FindItem" | "*" | "Autodiscover",
        "count": 1 (-1: every request), one of:
          "response_code": code   every response message answers it, or
                                  only the one at "item_index" (0-based);
                                  "response_class" default Error
          "fault": code           a SOAP fault, HTTP 500 (+ "back_off_ms",
                                  "message")
          "http_status": N        (+ "body")
          "drop": "before_read"   the connection closes, the request is not
                                  executed; "after_read": it is executed,
                                  then the connection closes unanswered
          "delay_ms": N           then answers normally (or as one of the
                                  others says)
          "raw": body             (+ "raw_status", "content_type")
          "raw_preset": "billion_laughs" | "xxe" | "dtd" | "malformed" |
                        "truncated" | "huge" (+ "size") | "not_xml"
        and "headers": {name: value} added to the answer}
  POST /_mock/autodiscover {"redirect_addr", "redirect_url", "ews_url",
        "error" (an ErrorCode, e.g. 500), "redirect_count" (default: every
        request), "http_status"}; {} restores the default
  POST /_mock/token     {"token", "user" (optional: an application's)}
  POST /_mock/calendar {"mailbox", "start", "end" (with offsets),
                        "legacy_free_busy", "rrule", "exdates",
                        "is_all_day", "subject"}: a calendar item (a room
                        of the room directory gets a mailbox) -> {"id"}
  POST /_mock/config    {"impersonators": [addresses allowed to use
        ExchangeImpersonation; default alice], "delegates": {owner:
        [addresses that may open owner's mailbox]; default: everyone},
        "gzip": true (gzip answers when the client accepts it; default
        off)}
  POST /_mock/directory {"restore": true, "add": [{"address", "name", ...}],
                        "remove": [addresses]}: change what ResolveNames
                        finds (restore: back to the start first)
  GET  /_mock/stats     {"requests", "by_operation", "max_concurrent",
        "concurrent", "violations", "response_violations",
        "ntlm_handshakes", "negotiate_handshakes", "connections",
        "last_headers" (Authorization shows its scheme only),
        "auth_failures",
        "anchor_mailboxes", "impersonated", "delegated", "sent_external",
        "invalid_versions", "auth_schemes", "autodiscover_requests",
        "internal_errors" (defects of the mock, with tracebacks)}
  GET  /_mock/mailbox?mailbox=A[&folder=F]   every folder and item as JSON
"""
import argparse
import base64
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from lxml import etree  # noqa: E402

import ews_ops  # noqa: E402
import ews_freebusy  # noqa: E402
import ews_store  # noqa: E402
from ews_ops import Ctx, Fault, MsgError  # noqa: E402
from ews_store import (NS_E, NS_M, NS_S, NS_T, Attachment, Item,  # noqa
                       Recipient, Store, esc, parse_iso, DIRECTORY,
                       DIRECTORY_START)

SRC_ROOT = os.path.dirname(os.path.dirname(HERE))
def _protocol_dir():
    """The EWS protocol material: EWS_PROTOCOL_DIR, else SB_PROTOCOL_DIR/ews,
    else ../shared/protocol/ews beside the source tree."""
    if os.environ.get("EWS_PROTOCOL_DIR"):
        return os.environ["EWS_PROTOCOL_DIR"]
    if os.environ.get("SB_PROTOCOL_DIR"):
        return os.path.join(os.environ["SB_PROTOCOL_DIR"], "ews")
    return os.path.join(SRC_ROOT, "..", "shared", "protocol", "ews")


DEFAULT_SCHEMA = os.path.join(_protocol_dir(), "schema")


def schema_missing():
    """"" when the schema the mock validates with is there, else why not
    (a test then skips: e.g. make distcheck outside the project's tree)."""
    x = os.path.join(DEFAULT_SCHEMA, "messages.xsd")
    return "" if os.path.exists(x) else "no EWS schema at %s" % x
MAX_BODY = 96 << 20

SERVER_VERSION = (
    '<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" '
    'MajorBuildNumber="2507" MinorBuildNumber="6" Version="Exchange2016" '
    'xmlns:h="%s" xmlns="%s" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>' % (NS_T, NS_T))

VERSIONS_OK = {
    "Exchange2007", "Exchange2007_SP1", "Exchange2009", "Exchange2010",
    "Exchange2010_SP1", "Exchange2010_SP2", "Exchange2012", "Exchange2013",
    "Exchange2013_SP1", "Exchange2015", "Exchange2016", "V2015_10_05",
    "V2016_01_06", "V2016_04_13", "V2016_07_13", "V2016_10_10"}

FAULT_TEXT = {
    "ErrorServerBusy": "The server cannot service this request right now. "
                       "Try again later.",
    "ErrorImpersonateUserDenied": "The account does not have permission to "
                                  "impersonate the requested user.",
    "ErrorInvalidServerVersion": "The specified server version is invalid.",
    "ErrorSchemaValidation": "The request failed schema validation.",
    "ErrorAccessDenied": "Access is denied. Check credentials and try again.",
    "ErrorInvalidRequest": "The request is invalid.",
    "ErrorMailboxMoveInProgress": "The mailbox is being moved.",
    "ErrorNonExistentMailbox": "No mailbox with such guid.",
    "ErrorInternalServerError": "An internal server error occurred. The "
                                "operation failed.",
}

RAW_PRESETS = {
    "billion_laughs": '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol '
                      '"lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;'
                      '&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;'
                      '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
                      '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'
                      '&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;'
                      '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">'
                      '<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'
                      '&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;'
                      '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">'
                      '<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'
                      '&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;'
                      '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>'
                      '<s:Envelope xmlns:s="%s"><s:Body><lolz>&lol9;</lolz>'
                      '</s:Body></s:Envelope>' % NS_S,
    "xxe": '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM '
           '"file:///etc/passwd">]><s:Envelope xmlns:s="%s"><s:Body>'
           '<r>&xxe;</r></s:Body></s:Envelope>' % NS_S,
    "dtd": '<?xml version="1.0"?><!DOCTYPE s:Envelope SYSTEM '
           '"http://127.0.0.1:9/ews.dtd"><s:Envelope xmlns:s="%s"><s:Body/>'
           '</s:Envelope>' % NS_S,
    "malformed": '<?xml version="1.0" encoding="utf-8"?><s:Envelope '
                 'xmlns:s="%s"><s:Body><m:FindItemResponse xmlns:m="%s">'
                 '<m:ResponseMessages></s:Body></s:Envelope>' % (NS_S, NS_M),
    "truncated": '<?xml version="1.0" encoding="utf-8"?><s:Envelope '
                 'xmlns:s="%s"><s:Header>' % NS_S,
    "not_xml": "<html><body>502 Bad Gateway</body></html>",
}


def log(msg):
    if OPTS and OPTS.log:
        with LOG_LOCK:
            with open(OPTS.log, "a") as f:
                f.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))


OPTS = None
LOG_LOCK = threading.Lock()


def envelope(body):
    if "xmlns:m=" not in body.split(">", 1)[0]:
        body = re.sub(r"^<(m:\w+)",
                      r'<\1 xmlns:m="%s" xmlns:t="%s"' % (NS_M, NS_T),
                      body, count=1)
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<s:Envelope xmlns:s="%s"><s:Header>%s</s:Header>'
            '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema">%s</s:Body>'
            '</s:Envelope>' % (NS_S, SERVER_VERSION, body))


def fault_xml(code, text, back_off_ms=None, message_xml=None):
    mx = ""
    if back_off_ms is not None:
        mx = ('<t:MessageXml xmlns:t="%s"><t:Value Name="BackOffMilliseconds">'
              '%d</t:Value></t:MessageXml>' % (NS_T, int(back_off_ms)))
    elif message_xml:
        mx = '<t:MessageXml xmlns:t="%s">%s</t:MessageXml>' % (NS_T,
                                                              message_xml)
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<s:Envelope xmlns:s="%s"><s:Body><s:Fault>'
            '<faultcode xmlns:a="%s">a:%s</faultcode>'
            '<faultstring xml:lang="en-US">%s</faultstring><detail>'
            '<e:ResponseCode xmlns:e="%s">%s</e:ResponseCode>'
            '<e:Message xmlns:e="%s">%s</e:Message>%s</detail>'
            '</s:Fault></s:Body></s:Envelope>' % (
                NS_S, NS_T, code, esc(text), NS_E, code, NS_E,
                esc(FAULT_TEXT.get(code, text)), mx))


class Drop(Exception):
    pass


class TooBig(Exception):
    pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, opts, schema):
        super().__init__(addr, Handler)
        self.opts = opts
        self.schema = schema
        self.schema_lock = threading.Lock()
        self.store = Store()
        self.lock = threading.Lock()
        self.pubkey = None
        self.spnego = None
        if opts.auth == "negotiate":
            from spnego import Spnego
            self.spnego = Spnego(opts.keytab)
        if opts.jwks_cert:
            from cryptography import x509
            with open(opts.jwks_cert, "rb") as f:
                self.pubkey = x509.load_pem_x509_certificate(
                    f.read()).public_key()
        self.reset()

    def reset(self):
        with self.store.lock:
            DIRECTORY[:] = DIRECTORY_START
        with self.lock:
            self.injections = []
            self.tokens = {}
            self.autodiscover = {}
            self.impersonators = {"alice@example.test"}
            self.delegates = {}
            self.gzip = False
            self.stats = {
                "requests": 0, "by_operation": {}, "max_concurrent": 0,
                "concurrent": self.stats["concurrent"]
                if hasattr(self, "stats") else 0,
                "violations": [], "response_violations": [],
                "ntlm_handshakes": 0, "negotiate_handshakes": 0,
                "connections": self.stats["connections"]
                if hasattr(self, "stats") else 0,
                "last_headers": {}, "auth_failures": 0,
                "anchor_mailboxes": [], "impersonated": [], "delegated": [],
                "sent_external": [], "invalid_versions": 0,
                "auth_schemes": {}, "autodiscover_requests": 0,
                "internal_errors": []}
        with self.store.lock:
            self.store.reset()

    def bump(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def note_outbound(self, addr):
        self.stats["sent_external"].append(addr)

    def take_injection(self, op, when):
        """The first injection for op (or "*") of kind when ("before": drop
        before_read; "any": everything else), its count decremented."""
        with self.lock:
            for inj in self.injections:
                if inj["operation"] not in ("*", op):
                    continue
                is_before = inj.get("drop") == "before_read"
                if (when == "before") != is_before:
                    continue
                if when == "before" and inj["operation"] != "*" and \
                        op is None:
                    continue
                if inj["count"] > 0:
                    inj["count"] -= 1
                    if inj["count"] == 0:
                        self.injections.remove(inj)
                return inj
        return None

    def validate(self, el):
        with self.schema_lock:
            if self.schema.validate(el):
                return None
            errs = list(self.schema.error_log)
        e = errs[0] if errs else None
        return {"line": e.line if e else 0, "column": e.column if e else 0,
                "message": e.message if e else "invalid"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 120
    # TCP_NODELAY: an answer goes out as two writes (headers, body); with
    # Nagle the body waits for the client's delayed ACK of the headers,
    # 40 ms on every request of a kept connection after the first few
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.ntlm = None       # NTLM state of this connection
        self.auth_reply = None  # WWW-Authenticate of a completed Negotiate
        self.conn_user = None  # the user this connection authenticated as
        self.server.bump("connections")

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    # ---- plumbing ----
    def send(self, status, body, ctype="text/xml; charset=utf-8",
             headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        # the request is done before its answer leaves: counted as in
        # flight no longer, or a client's next request could meet it
        self.leave_ews()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-BackEndHttpStatus", str(status))
        self.send_header("request-id", str(uuid.uuid4()))
        self.send_header("X-FEServer", "MBX01")
        if self.auth_reply:
            self.send_header("WWW-Authenticate", self.auth_reply)
            self.auth_reply = None
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            for _ in range(1 << 20):
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline(8)
                if len(out) > MAX_BODY:
                    raise TooBig()
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise TooBig()
        return self.rfile.read(n) if n > 0 else b""

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def json_reply(self, status, obj):
        self.send(status, json.dumps(obj, indent=1),
                  "application/json")

    # ---- routing ----
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/_mock/stats":
            with self.server.lock:
                s = json.loads(json.dumps(self.server.stats))
            return self.json_reply(200, s)
        if u.path == "/_mock/mailbox":
            st = self.server.store
            with st.lock:
                mb = st.mailbox(q.get("mailbox", ""))
                if mb is None:
                    return self.json_reply(404, {"error": "no mailbox %r"
                                                 % q.get("mailbox")})
                return self.json_reply(200, mb.to_json(q.get("folder")))
        if u.path.lower() in ("/ews/exchange.asmx", "/ews/services.wsdl"):
            self.read_body()
            return self.send(405, "POST only", "text/plain")
        self.send(404, "not found", "text/plain")

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        low = path.lower()
        try:
            if path.startswith("/_mock/"):
                return self.control(path)
            if low == "/ews/exchange.asmx":
                return self.ews()
            if low == "/autodiscover/autodiscover.xml":
                return self.pox_autodiscover()
            self.read_body()
            self.send(404, "not found", "text/plain")
        except Drop:
            self.drop()
        except TooBig:
            self.close_connection = True
            self.send(413, "Request Entity Too Large", "text/plain",
                      {"Connection": "close"})
        except (ConnectionError, socket.timeout):
            self.close_connection = True

    # ---- control API ----
    def control(self, path):
        raw = self.read_body()
        try:
            req = json.loads(raw.decode() or "{}")
            if not isinstance(req, dict):
                raise ValueError("a JSON object is expected")
        except ValueError as e:
            return self.json_reply(400, {"error": "bad JSON: %s" % e})
        srv = self.server
        try:
            if path == "/_mock/reset":
                srv.reset()
                return self.json_reply(200, {"ok": True})
            if path == "/_mock/deliver":
                with srv.store.lock:
                    ids = deliver(srv.store, req)
                return self.json_reply(200, {"ids": ids})
            if path == "/_mock/inject":
                inj = check_injection(req)
                with srv.lock:
                    srv.injections.append(inj)
                return self.json_reply(200, {"ok": True})
            if path == "/_mock/autodiscover":
                with srv.lock:
                    srv.autodiscover = dict(req)
                return self.json_reply(200, {"ok": True})
            if path == "/_mock/token":
                if not isinstance(req.get("token"), str) or \
                        not req["token"]:
                    raise ValueError("token: a non-empty string is needed")
                with srv.lock:
                    srv.tokens[req["token"]] = req.get("user")
                return self.json_reply(200, {"ok": True})
            if path == "/_mock/directory":
                with srv.store.lock:
                    directory_change(req)
                return self.json_reply(200, {"ok": True})
            if path == "/_mock/calendar":
                with srv.store.lock:
                    ident = ews_freebusy.calendar_add(srv.store, req)
                return self.json_reply(200, {"id": ident})
            if path == "/_mock/config":
                with srv.lock:
                    if "impersonators" in req:
                        srv.impersonators = {a.lower() for a in
                                             req["impersonators"]}
                    if "gzip" in req:
                        srv.gzip = bool(req["gzip"])
                    if "delegates" in req:
                        srv.delegates = {k.lower(): {a.lower() for a in v}
                                         for k, v in
                                         req["delegates"].items()}
                return self.json_reply(200, {"ok": True})
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            return self.json_reply(400, {"error": "%s: %s" % (
                type(e).__name__, e)})
        return self.json_reply(404, {"error": "no control path %s" % path})

    # ---- authentication ----
    def authenticate(self):
        """The authenticated address, or None after answering 401 (the
        body has been read then).  For an application's token: "app:" +
        its name."""
        import ews_auth
        return ews_auth.authenticate(self)

    # ---- EWS ----
    def ews(self):
        srv = self.server
        with srv.lock:
            srv.stats["concurrent"] += 1
            srv.stats["max_concurrent"] = max(srv.stats["max_concurrent"],
                                              srv.stats["concurrent"])
        self.in_flight = True
        try:
            self._ews()
        finally:
            self.leave_ews()

    def leave_ews(self):
        """The EWS request in flight (if any) is no longer."""
        if getattr(self, "in_flight", False):
            self.in_flight = False
            with self.server.lock:
                self.server.stats["concurrent"] -= 1

    def _ews(self):
        srv = self.server
        inj = srv.take_injection(None, "before")
        if inj:
            log("drop before_read (any operation)")
            raise Drop()
        user = self.authenticate()
        if user is None:
            return
        raw = self.read_body()
        hdrs = {k: v for k, v in self.headers.items()}
        if "Authorization" in hdrs:
            hdrs["Authorization"] = hdrs["Authorization"].split(" ")[0] + \
                " (hidden)"
        anchor = self.headers.get("X-AnchorMailbox")
        with srv.lock:
            srv.stats["requests"] += 1
            srv.stats["last_headers"] = hdrs
            if anchor:
                srv.stats["anchor_mailboxes"].append(anchor)
        self.extra_headers = {}
        self.content_type = "text/xml; charset=utf-8"
        status, body = self.soap(user, raw)
        if status is None:
            raise Drop()
        headers = dict(self.extra_headers)
        if srv.gzip and "gzip" in (self.headers.get("Accept-Encoding") or
                                   "").lower():
            import gzip
            body = gzip.compress(body.encode("utf-8")
                                 if isinstance(body, str) else body, 6)
            headers["Content-Encoding"] = "gzip"
        self.send(status, body, self.content_type, headers=headers)

    def soap(self, user, raw):
        """(status, body) for one EWS request; status None: drop."""
        srv = self.server
        parser = etree.XMLParser(resolve_entities=False, no_network=True,
                                 load_dtd=False, huge_tree=True,
                                 remove_blank_text=False)
        try:
            doc = etree.fromstring(raw, parser).getroottree()
        except etree.XMLSyntaxError as e:
            return self.violation("(unparsed)", 0, 0,
                                  "not well-formed XML: %s" % e)
        if doc.docinfo.internalDTD is not None or doc.docinfo.doctype:
            return self.violation("(envelope)", 1, 0,
                                  "a DTD is not allowed in a request")
        env = doc.getroot()
        if env.tag != "{%s}Envelope" % NS_S:
            return self.violation("(envelope)", env.sourceline or 0, 0,
                                  "the root is %s, not soap:Envelope"
                                  % env.tag)
        header = env.find("{%s}Header" % NS_S)
        body = env.find("{%s}Body" % NS_S)
        if body is None or len(body) == 0:
            return self.violation("(envelope)", env.sourceline or 0, 0,
                                  "soap:Body with one element is required")
        op_el = body[0]
        op = etree.QName(op_el).localname
        with srv.lock:
            bo = srv.stats["by_operation"]
            bo[op] = bo.get(op, 0) + 1
        version = None
        imp = None
        for h in (header if header is not None else []):
            if not isinstance(h.tag, str):
                continue
            name = etree.QName(h).localname
            if name == "RequestServerVersion":
                version = h.get("Version")
                if version not in VERSIONS_OK:
                    srv.bump("invalid_versions")
                    return 500, fault_xml(
                        "ErrorInvalidServerVersion",
                        FAULT_TEXT["ErrorInvalidServerVersion"])
            err = srv.validate(h)
            if err:
                return self.violation(name, err["line"], err["column"],
                                      err["message"], op)
            if name == "ExchangeImpersonation":
                imp = h
        err = srv.validate(op_el)
        if err:
            return self.violation(op, err["line"], err["column"],
                                  err["message"], op)
        inj = srv.take_injection(op, "any")
        after_drop = False
        if inj:
            log("inject %s: %s" % (op, json.dumps(inj)[:300]))
            self.extra_headers = dict(inj.get("headers") or {})
            if inj.get("delay_ms"):
                time.sleep(min(inj["delay_ms"], 120000) / 1000.0)
            if inj.get("drop") == "before_read":
                return None, None
            if inj.get("drop") == "after_read":
                after_drop = True
            elif "fault" in inj:
                code = inj["fault"]
                return 500, fault_xml(code, inj.get("message") or
                                      FAULT_TEXT.get(code, code),
                                      inj.get("back_off_ms"))
            elif "http_status" in inj:
                return inj["http_status"], inj.get("body", "")
            elif "raw" in inj or "raw_preset" in inj:
                if inj.get("content_type"):
                    self.content_type = inj["content_type"]
                return inj.get("raw_status", 200), raw_body(inj)
            elif "response_code" in inj and "item_index" not in inj:
                return 200, envelope(injected_messages(op, op_el, inj))
        fn = ews_ops.OPERATIONS.get(op)
        if fn is None:
            return 500, fault_xml("ErrorInvalidRequest",
                                  "The mock does not implement %s." % op)
        store = srv.store
        try:
            with store.lock:
                ctx = Ctx(srv, store, None)
                principal = self.acting(user, imp, ctx)
                ctx.principal = principal
                out = fn(ctx, op_el)
                if ctx.delegated:
                    with srv.lock:
                        srv.stats["delegated"].extend(sorted(ctx.delegated))
        except Fault as f:
            log("%s fault %s" % (op, f.code))
            return f.http, fault_xml(f.code, f.text, f.back_off_ms,
                                     f.message_xml)
        except MsgError as e:
            return 500, fault_xml(e.code, e.text)
        except Exception as e:  # a defect of the mock: say so loudly
            import traceback
            tb = traceback.format_exc()
            with srv.lock:
                srv.stats["internal_errors"].append(
                    {"operation": op, "error": repr(e), "traceback": tb})
            log("internal error in %s: %s" % (op, tb))
            return 500, fault_xml("ErrorInternalServerError",
                                  "mock defect in %s: %r" % (op, e))
        if inj and "item_index" in inj:
            out = replace_message(op, out, inj)
        text = envelope(out)
        if OPTS.validate_responses:
            self.check_response(op, text)
        log("%s by %s -> 200" % (op, user))
        if after_drop:
            return None, None
        return 200, text

    def acting(self, user, imp, ctx):
        """The mailbox this request acts as: the impersonated one when the
        header is there and allowed, else the authenticated user (an
        application's token acts through the header or X-AnchorMailbox)."""
        srv = self.server
        app = user.startswith("app:")
        if imp is not None:
            cs = imp.find("{%s}ConnectingSID" % NS_T)
            target = None
            for c in cs:
                target = (c.text or "").strip().lower()
                kind = etree.QName(c).localname
                if kind == "PrincipalName" and "@" not in target:
                    target += "@example.test"
                break
            if not app and user not in srv.impersonators:
                raise Fault("ErrorImpersonateUserDenied",
                            FAULT_TEXT["ErrorImpersonateUserDenied"])
            if srv.store.mailbox(target) is None:
                raise Fault("ErrorNonExistentMailbox",
                            "The SMTP address has no mailbox associated "
                            "with it.")
            with srv.lock:
                srv.stats["impersonated"].append(target)
            return target
        if app:
            anchor = (self.headers.get("X-AnchorMailbox") or "").lower()
            if srv.store.mailbox(anchor) is None:
                raise Fault("ErrorAccessDenied",
                            "An application's token needs "
                            "ExchangeImpersonation or X-AnchorMailbox naming "
                            "a mailbox.")
            return anchor
        return user

    def violation(self, element, line, col, message, op=None):
        srv = self.server
        rec = {"operation": op, "element": element, "line": line,
               "column": col, "message": message}
        with srv.lock:
            srv.stats["violations"].append(rec)
        log("schema violation: %s" % json.dumps(rec))
        mx = ("<t:LineNumber>%d</t:LineNumber><t:LinePosition>%d"
              "</t:LinePosition><t:Violation>%s</t:Violation>"
              % (line or 0, col or 0, esc(message)))
        return 500, fault_xml("ErrorSchemaValidation",
                              "The request failed schema validation: %s"
                              % message, message_xml=mx)

    def check_response(self, op, text):
        srv = self.server
        doc = etree.fromstring(text.encode())
        body = doc.find("{%s}Body" % NS_S)
        for el in [doc.find("{%s}Header" % NS_S)[0], body[0]]:
            err = srv.validate(el)
            if err:
                with srv.lock:
                    srv.stats["response_violations"].append(
                        dict(err, operation=op))
                log("response violation %s: %s" % (op, err))

    # ---- POX Autodiscover ----
    def pox_autodiscover(self):
        import ews_autodiscover
        ews_autodiscover.answer(self)


def raw_body(inj):
    if "raw" in inj:
        return inj["raw"]
    p = inj["raw_preset"]
    if p == "huge":
        return envelope('<m:GetFolderResponse><m:ResponseMessages>'
                        '<m:GetFolderResponseMessage ResponseClass="Error">'
                        '<m:MessageText>%s</m:MessageText><m:ResponseCode>'
                        'ErrorInternalServerError</m:ResponseCode>'
                        '</m:GetFolderResponseMessage></m:ResponseMessages>'
                        '</m:GetFolderResponse>' % ("x" * (
                            int(inj.get("size", 64 << 20)))))
    return RAW_PRESETS[p]


def injected_messages(op, op_el, inj):
    code = inj["response_code"]
    cls = inj.get("response_class", "Error")
    n = 1
    for tag in ("ItemIds", "FolderIds", "AttachmentIds", "ItemChanges",
                "Items", "Folders", "ParentFolderIds", "SourceIds",
                "Attachments"):
        c = op_el.find("{%s}%s" % (NS_M, tag))
        if c is not None:
            n = max(1, len(c))
            break
    text = inj.get("message") or ews_ops.text_of(code)
    if op in ("GetUserOofSettingsRequest", "SetUserOofSettingsRequest"):
        name = op.replace("Request", "Response")
        return "<m:%s>%s</m:%s>" % (name, ews_ops.oof_msg(code, cls, text),
                                    name)
    fill = ews_ops.ERROR_FILL.get(op, "")
    return ews_ops.wrap(op, [ews_ops.rmsg(op, fill, cls, code, text)] * n)


def replace_message(op, out, inj):
    """The answer with its item_index-th response message (0-based)
    replaced by the injected response_code."""
    el = etree.fromstring(envelope(out).encode()).find(
        "{%s}Body" % NS_S)[0]
    msgs = el.find("{%s}ResponseMessages" % NS_M)
    k = int(inj["item_index"])
    if msgs is None or not 0 <= k < len(msgs):
        return out
    fill = ews_ops.ERROR_FILL.get(op, "")
    new = etree.fromstring(
        '<m:X xmlns:m="%s" xmlns:t="%s">%s</m:X>' % (
            NS_M, NS_T, ews_ops.rmsg(
                op, fill, inj.get("response_class", "Error"),
                inj["response_code"], inj.get("message") or
                ews_ops.text_of(inj["response_code"]))))[0]
    msgs[k].addprevious(new)
    msgs.remove(msgs[k + 1])
    return etree.tostring(el, encoding="unicode")


def check_injection(req):
    op = req.get("operation")
    if not isinstance(op, str) or not op:
        raise ValueError("operation: an EWS operation name, \"*\" or "
                         "\"Autodiscover\" is needed")
    kinds = [k for k in ("response_code", "fault", "http_status", "drop",
                         "raw", "raw_preset") if k in req]
    if len(kinds) > 1:
        raise ValueError("one of response_code, fault, http_status, drop, "
                         "raw, raw_preset (got %s)" % ", ".join(kinds))
    if not kinds and "delay_ms" not in req:
        raise ValueError("one of response_code, fault, http_status, drop, "
                         "raw, raw_preset, delay_ms is needed")
    if req.get("drop") not in (None, "before_read", "after_read"):
        raise ValueError("drop: before_read or after_read")
    if "raw_preset" in req and req["raw_preset"] not in \
            list(RAW_PRESETS) + ["huge"]:
        raise ValueError("raw_preset: one of %s" % ", ".join(
            sorted(list(RAW_PRESETS) + ["huge"])))
    inj = dict(req)
    inj["count"] = int(req.get("count", 1))
    if inj["count"] == 0:
        raise ValueError("count: 1 or more, or -1 for every request")
    return inj


# ---- /_mock/directory ----------------------------------------------------
def directory_change(req):
    """{"restore": true, "add": [{"address", "name", "type": "Contact"...}],
    "remove": [addresses]}: what ResolveNames sees from now on (restore:
    the directory as it started, before the rest)."""
    if req.get("restore"):
        DIRECTORY[:] = DIRECTORY_START
    for a in req.get("remove", []):
        a = str(a).lower()
        DIRECTORY[:] = [e for e in DIRECTORY if e["address"].lower() != a]
    for e in req.get("add", []):
        if not isinstance(e, dict) or not isinstance(e.get("address"), str) \
                or not isinstance(e.get("name"), str):
            raise ValueError("add: objects with address and name")
        DIRECTORY.append(dict({"type": "Contact"}, **e))


# ---- /_mock/deliver ------------------------------------------------------

def parse_addr(s):
    import email.utils
    name, addr = email.utils.parseaddr(s or "")
    if not addr:
        return Recipient(s or "")
    return Recipient(addr, name or None)


def build_item(store, mailbox, req, folder_id, n):
    it = Item(mailbox, folder_id)
    subj = req.get("subject", "")
    it.subject = subj.replace("{n}", str(n))
    if req.get("html_body") is not None:
        it.body, it.body_type = req["html_body"], "HTML"
    else:
        it.body, it.body_type = req.get("body", ""), "Text"
    if req.get("from_ex"):
        local = (req.get("from") or "someone@example.test").split("@")[0]
        it.from_ = Recipient(
            "/o=ExampleOrg/ou=Exchange Administrative Group "
            "(FYDIBOHF23SPDLT)/cn=Recipients/cn=%s" % local,
            req.get("from_name", local.title()), routing="EX")
    elif req.get("from"):
        it.from_ = parse_addr(req["from"])
    it.sender = it.from_
    it.to = [parse_addr(a) for a in req.get("to", [])]
    it.cc = [parse_addr(a) for a in req.get("cc", [])]
    it.bcc = [parse_addr(a) for a in req.get("bcc", [])]
    it.reply_to = [parse_addr(a) for a in req.get("reply_to", [])]
    it.is_read = bool(req.get("is_read", False))
    if req.get("importance"):
        it.importance = req["importance"]
    if req.get("received"):
        it.received = parse_iso(req["received"])
        it.sent = it.received
    for a in req.get("attachments", []):
        if a.get("item") is not None:
            inner = build_item(store, mailbox, a["item"], None, n)
            at = Attachment(a.get("name", inner.subject), b"",
                            a.get("content_type"), a.get("is_inline"),
                            a.get("content_id"), item=inner)
        else:
            at = Attachment(a.get("name", ""),
                            base64.b64decode(a.get("content_b64", "")),
                            a.get("content_type"), a.get("is_inline"),
                            a.get("content_id"))
        it.add_attachment(at)
    if req.get("hostile") == "missing":
        it.hostile = {"no_subject": 1, "no_from": 1, "no_sent": 1,
                      "no_received": 1, "no_message_id": 1}
    elif req.get("hostile"):
        it.hostile = {
            "subject": "odd\x7f\u0085\u009f\u202e\u200b\ttab "
                       "\U0001F600 " + it.subject,
            "received": "not-a-date",
            "sent": "9999-99-99T99:99:99Z",
            "from_raw": "<t:Name>\u0085\u202e</t:Name>"
                        "<t:EmailAddress>not an address</t:EmailAddress>"
                        "<t:RoutingType>SMTP</t:RoutingType>",
        }
        it.to.append(Recipient("", "\u0085"))
    return it


def deliver(store, req):
    mb = store.mailbox(req.get("mailbox", ""))
    if mb is None:
        raise ValueError("mailbox: no mailbox %r" % req.get("mailbox"))
    fname = req.get("folder", "inbox")
    f = mb.by_wk.get(fname) or mb.folders.get(fname)
    if f is None:
        hits = [x for x in mb.folders.values() if x.name == fname]
        if len(hits) != 1:
            raise ValueError("folder: %r names %d folders" % (fname,
                                                              len(hits)))
        f = hits[0]
    count = int(req.get("count", 1))
    if not 1 <= count <= 100000:
        raise ValueError("count: 1..100000")
    ids = []
    for n in range(1, count + 1):
        it = build_item(store, mb.address, req, f.id, n)
        mb.items[it.id] = it
        ids.append(it.id)
    return ids


# ---- a child-process handle for tests ------------------------------------

from mock_handle import DirHandle, handle_dir  # noqa: E402


class MockEWS(DirHandle):
    """Run this file as a server in a child process (bounded waits):

        with MockEWS(["--auth", "ntlm"]) as ews:
            ews.url, ews.control("deliver", {...}), ews.stats(),
            ews.mailbox("bob@example.test"), ews.post_soap(xml, auth=...)
    """

    def __init__(self, args=(), start_timeout=20.0, env=None):
        self.dir = handle_dir("sbtest-ews-")
        self.err = None
        self.args = list(args)
        self.env = env
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.tls = "--cert" in self.args
        self.log_path = os.path.join(self.dir, "server.log")

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http",
                                      self.port)

    @property
    def url(self):
        return self.base + "/EWS/Exchange.asmx"

    @property
    def autodiscover_url(self):
        return self.base + "/autodiscover/autodiscover.xml"

    def start(self):
        import subprocess
        pf = os.path.join(self.dir, "port")
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.abspath(__file__), "--port-file",
             pf, "--log", self.log_path] + self.args, env=self.env,
            stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if os.path.exists(pf):
                with open(pf) as f:
                    self.port = int(f.read().strip())
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        with open(os.path.join(self.dir, "stderr"), "rb") as f:
            raise RuntimeError("ews_server did not start: %s"
                               % f.read()[-2000:].decode(errors="replace"))

    def stop(self):
        import subprocess
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self):
        return self.start()

    def _http(self, method, path, body=None, headers=None, timeout=30):
        import http.client
        if self.tls:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout,
                context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                              timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def control(self, name, obj=None):
        """POST /_mock/<name> with obj as JSON -> (status, decoded JSON)."""
        st, _, body = self._http("POST", "/_mock/" + name,
                                 json.dumps(obj or {}).encode(),
                                 {"Content-Type": "application/json"})
        return st, json.loads(body)

    def ok(self, name, obj=None):
        st, body = self.control(name, obj)
        if st != 200:
            raise RuntimeError("/_mock/%s: %d %s" % (name, st, body))
        return body

    def stats(self):
        return json.loads(self._http("GET", "/_mock/stats")[2])

    def mailbox(self, addr, folder=None):
        q = "mailbox=" + urllib.parse.quote(addr)
        if folder:
            q += "&folder=" + urllib.parse.quote(folder)
        st, _, body = self._http("GET", "/_mock/mailbox?" + q)
        if st != 200:
            raise RuntimeError("/_mock/mailbox: %d %s" % (st, body))
        return json.loads(body)

    def items(self, addr, folder):
        mb = self.mailbox(addr, folder)
        return [i for f in mb["folders"] for i in f["items"]]

    def post(self, path, body, headers=None):
        h = {"Content-Type": "text/xml; charset=utf-8"}
        h.update(headers or {})
        if isinstance(body, str):
            body = body.encode()
        return self._http("POST", path, body, h)

    def post_soap(self, body_xml, user="alice@example.test",
                  password=ews_store.PASSWORD, headers=None, header_xml="",
                  version="Exchange2016"):
        """One EWS request with Basic credentials -> (status, headers,
        body bytes)."""
        env = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope '
               'xmlns:s="%s" xmlns:m="%s" xmlns:t="%s"><s:Header>'
               '<t:RequestServerVersion Version="%s"/>%s</s:Header>'
               '<s:Body>%s</s:Body></s:Envelope>' % (
                   NS_S, NS_M, NS_T, version, header_xml, body_xml))
        h = dict(headers or {})
        if user is not None and "Authorization" not in h:
            h["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % (user, password)).encode()).decode()
        return self.post("/EWS/Exchange.asmx", env, h)


# ---- main ----------------------------------------------------------------

def load_schema(d):
    path = os.path.join(d, "messages.xsd")
    if not os.path.exists(path):
        sys.exit("ews_server: no messages.xsd in %s (use --schema-dir)" % d)
    return etree.XMLSchema(etree.parse(path))


def main():
    global OPTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth", default="basic",
                    choices=["basic", "ntlm", "negotiate", "oauth2",
                             "none"])
    ap.add_argument("--keytab", help="the service keytab (negotiate)")
    ap.add_argument("--jwks-cert")
    ap.add_argument("--tokens-file")
    ap.add_argument("--schema-dir", default=DEFAULT_SCHEMA)
    ap.add_argument("--lifetime", type=float, default=1800)
    ap.add_argument("--log")
    ap.add_argument("--validate-responses", action="store_true")
    opts = ap.parse_args()
    OPTS = opts
    if bool(opts.cert) != bool(opts.key):
        ap.error("--cert and --key go together")
    if opts.auth == "negotiate" and not opts.keytab:
        ap.error("--auth negotiate needs --keytab (the service keytab)")
    schema = load_schema(opts.schema_dir)
    srv = Server(("127.0.0.1", opts.port), opts, schema)
    if opts.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.cert, opts.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.scheme = "https" if opts.cert else "http"
    port = srv.server_address[1]
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, opts.port_file)

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parent = os.getppid()
    t0 = time.monotonic()

    def watchdog():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent or \
                    time.monotonic() - t0 > opts.lifetime:
                stop()
                return
    threading.Thread(target=watchdog, daemon=True).start()
    log("listening on %d (auth %s)" % (port, opts.auth))
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    main()
