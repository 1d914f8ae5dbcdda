#!/usr/bin/python3
"""A mock WinRM server (WS-Management, WinRS) for svcbroker's tests, on
loopback.  Python standard library, plus python3-pycryptodome (MD4, for
NTLM) and python3-gssapi (Kerberos) when those are asked for.

    winrm_server.py --port-file F [--cert C --key K]
        [--auth basic|ntlm|kerberos|none] [--keytab KT]
        [--exchange 2007|2010|2013|none] [--max-shells N] [--chunk BYTES]
        [--lifetime S] [--log FILE]

Listens on 127.0.0.1; the ephemeral port is written to F once it accepts
connections.  Stops on SIGTERM, when its parent goes away, or after
--lifetime seconds (default 1800).  HTTP/1.1 with keep-alive.

Accounts: EXAMPLE\\administrator (also administrator@example.test) and
EXAMPLE\\operator, password "Secret-Pw-1".  --auth:
  basic     Authorization: Basic
  ntlm      NTLMv2 as Windows takes it from non-Windows clients: a raw
            NTLMSSP token inside "Authorization: Negotiate <b64>" (the
            401s offer Negotiate and Kerberos only, as WinRM does); the
            response is recomputed from the password (tests/mock/ews_ntlm.py)
            and the connection stays authenticated
  kerberos  SPNEGO/Kerberos through tests/mock/spnego.py with the service
            keytab of --keytab (administrator@REALM is the administrator)
  none      nobody is asked; requests act as the administrator
--max-shells is each user's quota (default 5): one more Create answers the
too-many-shells fault 2150859174.  A shell is reaped once idle for its
IdleTimeOut (default 7200 s); the next use of it answers 2150858843.

  POST /wsman  WS-Man SOAP 1.2: Create, Command, Receive, Signal, Delete
        and Send of ResourceURI .../windows/shell/cmd, answered as
        ../shared/protocol/winrm/samples are; a request lacking a header
        WinRM requires (a:To, a:ReplyTo, a:Action, a:MessageID,
        w:ResourceURI, a SelectorSet after Create) answers a fault and is
        recorded in stats "violations".  Faults are HTTP 500.
        Commands: `powershell[.exe] ... -EncodedCommand <b64 UTF-16LE>`
        (any abbreviation PowerShell takes), `... -Command -` with the
        script on stdin (rsp:Send; UTF-8, or UTF-16LE with a BOM), or
        `... -Command <text>`: the script goes to tests/mock/winrm_exchange.py's
        run(directory, script) -> (stdout, stderr, exit code) when that
        module is there (directory = winrm_exchange.Directory(version)
        made at start-up; --exchange none: never), else to a tiny
        executor (Write-Output/echo X,
        Write-Error X (CLIXML on stderr, as powershell.exe writes it),
        Start-Sleep [-Seconds] N | -Milliseconds N, exit N).  Any other
        command: `echo ARGS` prints ARGS and CRLF, `exit N`, `sleep S`;
        else cmd.exe's "is not recognized" on stderr, exit 1.
        A command runs as soon as it is complete; Receive waits for its
        output up to OperationTimeout, else answers 2150858793.  stdout,
        then stderr, goes out in rsp:Stream elements of --chunk bytes
        (default 700, cut at any byte, also inside a UTF-8 character), at
        most 3 per answer and within the request's MaxEnvelopeSize.
  Control (JSON, no authentication):
  POST /_mock/reset    forget shells, injections, stats (and the
                       directory's state: directory.reset() if it has one)
  POST /_mock/inject   {"action": "Create"|"Command"|"Receive"|"Signal"|
        "Delete"|"Send"|"*", "count": 1 (-1: every one), and one of
        "fault": "timeout" | "shell_not_found" | "too_many_shells" |
        "access_denied", "http_status": 401|500|503, "drop": true (the
        connection closes unanswered), "delay_ms": N (alone: then answers
        normally)}
  POST /_mock/forget   forget every shell (a restarted server)
  GET  /_mock/stats    {"requests", "by_action", "shells_open",
        "max_shells_open", "shells_created", "shells_deleted", "commands",
        "signals", "sends", "ntlm_handshakes", "connections",
        "auth_failures", "scripts" (the last 20 scripts, decoded),
        "last_headers" (Authorization: its scheme only), "option_sets"
        (the last 20 OptionSets, {name: value}), "idle_timeouts" (the last
        20 asked, in seconds), "violations", "internal_errors"}
  ANY  /_mock/exchange/<path>  winrm_exchange.control(directory, method,
        path, json body) -> (status, JSON)
"""
import argparse
import base64
import json
import os
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import winrm_exchange  # noqa: E402  (the Exchange emulator)
except ImportError:
    winrm_exchange = None

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
T = NS["x"] + "/"
SH = NS["rsp"] + "/"
ACTIONS = {
    T + "Create": "Create", T + "Delete": "Delete",
    SH + "Command": "Command", SH + "Receive": "Receive",
    SH + "Signal": "Signal", SH + "Send": "Send",
}
RESOURCE_CMD = SH + "cmd"
ANON = NS["a"] + "/role/anonymous"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
DONE = SH + "CommandState/Done"
RUNNING = SH + "CommandState/Running"
TERMINATE = SH + "signal/terminate"
MACHINE = "exch01.example.test"

PASSWORD = "Secret-Pw-1"
ACCOUNTS = ("administrator", "operator")
NB_DOMAIN = "EXAMPLE"
MAX_BODY = 8 << 20
KEEP = 20

FAULTS = {
    "timeout": (2150858793, "s:Receiver", "w:TimedOut",
                "The WS-Management service cannot complete the operation "
                "within the time specified in OperationTimeout."),
    "shell_not_found": (
        2150858843, "s:Sender", "w:InvalidSelectors",
        "The request for the Windows Remote Shell with ShellId {shell} "
        "failed because the shell was not found on the server. Possible "
        "causes are: the specified ShellId is incorrect or the shell no "
        "longer exists on the server. Provide the correct ShellId or "
        "create a new shell and retry the operation."),
    "too_many_shells": (
        2150859174, "s:Receiver", "w:QuotaLimit",
        "The WS-Management service cannot process the request. This user "
        "is allowed a maximum number of {max} concurrent shells, which has "
        "been exceeded. Close existing shells or raise the quota for this "
        "user."),
    "access_denied": (5, "s:Sender", "w:AccessDenied", "Access is denied."),
    "no_command": (
        2150858802, "s:Sender", "w:InvalidParameter",
        "The Windows Remote Shell received a request to perform an "
        "operation on a command identifier that does not exist. Either "
        "the command has completed execution or the client specified an "
        "invalid command identifier."),
    "header": (2150858817, "s:Sender", "a:MessageInformationHeaderRequired",
               "The WS-Management service cannot process the request "
               "because a required header is missing: {what}."),
    "bad_request": (2150858778, "s:Sender", "w:SchemaValidationError",
                    "The SOAP XML in the message does not match the "
                    "corresponding XML schema definition: {what}."),
}

LOG_FILE = None


def log(msg):
    if LOG_FILE:
        with open(LOG_FILE, "a") as f:
            f.write("%.3f %s\n" % (time.time(), msg))


def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


def envelope(action, relates_to, body):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xml:lang="en-US" xmlns:s="%s" xmlns:a="%s" '
        'xmlns:w="%s" xmlns:p="%s" xmlns:rsp="%s" xmlns:x="%s">'
        '<s:Header><a:Action>%s</a:Action>'
        '<a:MessageID>uuid:%s</a:MessageID><a:To>%s</a:To>'
        '%s</s:Header><s:Body>%s</s:Body></s:Envelope>' % (
            NS["s"], NS["a"], NS["w"], NS["p"], NS["rsp"], NS["x"],
            action, str(uuid.uuid4()).upper(), ANON,
            "<a:RelatesTo>%s</a:RelatesTo>" % esc(relates_to)
            if relates_to else "", body))


def fault_xml(kind, relates_to, **kw):
    code, value, subcode, text = FAULTS[kind]
    text = text.format(**kw)
    return envelope(
        FAULT_ACTION, relates_to,
        '<s:Fault><s:Code><s:Value>%s</s:Value><s:Subcode><s:Value>%s'
        '</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">'
        '%s</s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="%s" '
        'Code="%d" Machine="%s"><f:Message>%s</f:Message></f:WSManFault>'
        '</s:Detail></s:Fault>' % (value, subcode, esc(text), NS["f"], code,
                                    MACHINE, esc(text)))


def duration_s(text, default):
    """xs:duration PTnS / PTnMnS / PnDTnHnMnS -> seconds (float)."""
    m = re.fullmatch(r"\s*P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?"
                     r"(?:(\d+(?:\.\d*)?)S)?)?\s*", text or "")
    if not m or not any(m.groups()):
        return default
    d, h, mi, s = m.groups()
    return (int(d or 0) * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 +
            float(s or 0))


class Fault(Exception):
    def __init__(self, kind, status=500, **kw):
        super().__init__(kind)
        self.kind = kind
        self.status = status
        self.kw = kw


class Drop(Exception):
    pass


# ---- commands ----------------------------------------------------------

class Command:
    def __init__(self, cid, line):
        self.id = cid
        self.line = line
        self.cond = threading.Condition()
        self.out = bytearray()
        self.err = bytearray()
        self.out_sent = 0
        self.err_sent = 0
        self.done = False
        self.exit_code = 0
        self.stdin = bytearray()
        self.waits_stdin = False
        self.terminated = False

    def finish(self, out, err, code):
        with self.cond:
            if self.terminated:
                return
            self.out += out
            self.err += err
            self.exit_code = code
            self.done = True
            self.cond.notify_all()


def split_cmdline(line):
    """Windows-like splitting: white space, "double quotes" group."""
    out, cur, quoted, have = [], [], False, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
            have = True
        elif ch in " \t" and not quoted:
            if have or cur:
                out.append("".join(cur))
            cur, have = [], False
        else:
            cur.append(ch)
    if have or cur:
        out.append("".join(cur))
    return out


VALUED = ("-executionpolicy", "-inputformat", "-outputformat",
          "-windowstyle", "-configurationname", "-psconsolefile",
          "-version", "-file", "-settingsfile", "-workingdirectory")


def ps_is(a, full, least):
    """Is a (lower case) PowerShell's parameter full, abbreviated to at
    least least characters (dash included)?"""
    return len(a) >= least and full.startswith(a)


def decode_stdin(data):
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", "replace")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", "replace")


def clixml_error(text):
    def enc(s):
        out = []
        for ch in s:
            if ch == "\r":
                out.append("_x000D_")
            elif ch == "\n":
                out.append("_x000A_")
            elif ch == "_":
                out.append("_x005F_")
            else:
                out.append(esc(ch))
        return "".join(out)
    lines = [text + " ", "At line:1 char:1", "+ " + text[:40],
             "    + CategoryInfo          : NotSpecified: (:) [Write-Error]"
             ", WriteErrorException",
             "    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands."
             "WriteErrorException", " "]
    body = "".join('<S S="Error">%s</S>' % enc(l + "\r\n") for l in lines)
    return ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.'
            'microsoft.com/powershell/2004/04">%s</Objs>' % body).encode()


def tiny_powershell(script):
    """The few cmdlets tests use without the Exchange emulator."""
    out, err, code = bytearray(), bytearray(), 0
    for stmt in re.split(r"[;\r\n]+", script):
        s = stmt.strip()
        if not s or s.startswith("#") or s.lower().startswith(
                "$progresspreference"):
            continue
        m = re.fullmatch(r"(?i)(?:write-output|echo|write-host)\s+(.*)", s)
        if m:
            v = m.group(1).strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            out += (v + "\r\n").encode("utf-8")
            continue
        m = re.fullmatch(r"(?i)write-error\s+(.*)", s)
        if m:
            v = m.group(1).strip().strip("'\"")
            err += clixml_error(v)
            code = 1
            continue
        m = re.fullmatch(r"(?i)start-sleep\s+(?:-s(?:econds)?\s+)?"
                         r"([\d.]+)", s)
        if m:
            time.sleep(min(float(m.group(1)), 120))
            continue
        m = re.fullmatch(r"(?i)start-sleep\s+-m(?:illiseconds)?\s+(\d+)", s)
        if m:
            time.sleep(min(int(m.group(1)), 120000) / 1000.0)
            continue
        m = re.fullmatch(r"(?i)exit\s+(-?\d+)", s)
        if m:
            return bytes(out), bytes(err), int(m.group(1))
        err += clixml_error(
            "%s : The term '%s' is not recognized as the name of a cmdlet, "
            "function, script file, or operable program." % (
                s.split()[0], s.split()[0]))
        code = 1
    return bytes(out), bytes(err), code


def run_script(srv, script):
    srv.note_script(script)
    if winrm_exchange is not None and srv.directory is not None:
        out, err, code = winrm_exchange.run(srv.directory, script)
        if isinstance(out, str):
            out = out.encode("utf-8")
        if isinstance(err, str):
            err = err.encode("utf-8")
        return out, err, int(code)
    return tiny_powershell(script)


def run_other(args):
    if not args:
        return b"", b"", 0
    name = args[0].lower()
    if name in ("echo", "echo."):
        return (" ".join(args[1:]) + "\r\n").encode("utf-8"), b"", 0
    if name == "exit":
        try:
            return b"", b"", int(args[1]) if len(args) > 1 else 0
        except ValueError:
            return b"", b"", 1
    if name == "sleep":
        time.sleep(min(float(args[1]) if len(args) > 1 else 1.0, 120))
        return b"", b"", 0
    return b"", ("'%s' is not recognized as an internal or external "
                 "command,\r\noperable program or batch file.\r\n"
                 % args[0]).encode(), 1


def plan_command(srv, cmd):
    """Start cmd, or wait for its stdin (-Command -)."""
    args = split_cmdline(cmd.line)
    exe = args[0].lower() if args else ""
    if exe not in ("powershell", "powershell.exe"):
        return start(cmd, lambda: run_other(args))

    def from_stdin():
        cmd.waits_stdin = True
        cmd.script_runner = lambda data: run_script(
            srv, decode_stdin(bytes(data)))
    rest = args[1:]
    i = 0
    while i < len(rest):
        a = rest[i].lower()
        if a in ("-e", "-ec") or ps_is(a, "-encodedcommand", 3):
            if i + 1 >= len(rest):
                return start(cmd, lambda: (
                    b"", b"Missing argument for parameter EncodedCommand."
                    b"\r\n", 1))
            try:
                script = base64.b64decode(rest[i + 1], validate=True) \
                    .decode("utf-16-le")
            except (ValueError, UnicodeDecodeError):
                return start(cmd, lambda: (
                    b"", b"Cannot process the command because the value "
                    b"specified with -EncodedCommand is not properly "
                    b"encoded.\r\n", 1))
            return start(cmd, lambda: run_script(srv, script))
        if ps_is(a, "-command", 2):
            tail = rest[i + 1:]
            if tail == ["-"]:
                return from_stdin()
            text = " ".join(tail)
            return start(cmd, lambda: run_script(srv, text))
        if any(ps_is(a, v, 4) for v in VALUED) or a == "-ex":
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        text = " ".join(rest[i:])
        return start(cmd, lambda: run_script(srv, text))
    return from_stdin()


def start(cmd, fn):
    def go():
        try:
            out, err, code = fn()
        except Exception:  # a defect of the mock or the emulator
            tb = traceback.format_exc()
            SERVER.note_internal(tb)
            out, err, code = b"", ("mock: " + tb).encode(), 1
        cmd.finish(out, err, code)
    threading.Thread(target=go, daemon=True).start()


# ---- NTLM inside Negotiate ------------------------------------------------

def ntlm_user(msg, challenge):
    """An AUTHENTICATE message -> the account, or None."""
    import hashlib
    import hmac
    import ews_ntlm
    if len(msg) < 64:
        return None
    flags = struct.unpack_from("<I", msg, 60)[0]
    nt = ews_ntlm.field(msg, 20)
    dom_b = ews_ntlm.field(msg, 28)
    user_b = ews_ntlm.field(msg, 36)
    enc = "utf-16-le" if flags & ews_ntlm.NEGOTIATE_UNICODE else "latin-1"
    try:
        domain, user = dom_b.decode(enc), user_b.decode(enc)
    except UnicodeDecodeError:
        return None
    if len(nt) <= 24:
        return None  # NTLMv1 or anonymous: refused
    name = account_of(user if not domain or "@" in user
                      else domain + "\\" + user)
    if name is None:
        return None
    key = ews_ntlm.nt_owf_v2(user, domain, PASSWORD)
    proof = hmac.new(key, challenge + nt[16:], hashlib.md5).digest()
    return name if hmac.compare_digest(proof, nt[:16]) else None


def account_of(name):
    """administrator, EXAMPLE\\administrator, administrator@example.test ->
    administrator; None for anyone else."""
    n = (name or "").strip().lower()
    if "\\" in n:
        dom, n = n.split("\\", 1)
        if dom not in ("example", "example.test"):
            return None
    elif "@" in n:
        n, dom = n.split("@", 1)
        if dom not in ("example.test", "example"):
            return None
    return n if n in ACCOUNTS else None


# ---- the server ----------------------------------------------------------

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, opts):
        super().__init__(addr, Handler)
        self.opts = opts
        self.lock = threading.Lock()
        self.spnego = None
        if opts.auth == "kerberos":
            from spnego import Spnego
            self.spnego = Spnego(opts.keytab)
        self.directory = None
        if winrm_exchange is not None and opts.exchange != "none":
            self.directory = winrm_exchange.Directory(opts.exchange)
        self.reset()

    def reset(self):
        with self.lock:
            self.shells = {}
            self.injections = []
            self.stats = {
                "requests": 0, "by_action": {}, "shells_open": 0,
                "max_shells_open": 0, "shells_created": 0,
                "shells_deleted": 0, "shells_reaped": 0, "commands": 0,
                "signals": 0, "sends": 0, "ntlm_handshakes": 0,
                "negotiate_handshakes": 0, "connections": 0,
                "auth_failures": 0, "scripts": [], "last_headers": {},
                "option_sets": [], "idle_timeouts": [], "violations": [],
                "internal_errors": []}
        if self.directory is not None and hasattr(self.directory, "reset"):
            self.directory.reset()

    def bump(self, key, n=1):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def keep(self, key, item):
        with self.lock:
            lst = self.stats[key]
            lst.append(item)
            del lst[:-KEEP]

    def note_script(self, script):
        self.keep("scripts", script)

    def note_internal(self, tb):
        log("internal error: " + tb)
        self.keep("internal_errors", tb)

    def take_injection(self, action):
        with self.lock:
            for inj in self.injections:
                if inj["count"] == 0:
                    continue
                if inj["action"] not in ("*", action):
                    continue
                if inj["count"] > 0:
                    inj["count"] -= 1
                return dict(inj)
        return None

    def reap(self):
        """Shells idle longer than their IdleTimeOut go (lock held)."""
        now = time.monotonic()
        for sid in [k for k, s in self.shells.items()
                    if not s["busy"] and now - s["last_used"] > s["idle"]]:
            del self.shells[sid]
            self.stats["shells_reaped"] += 1
        self.stats["shells_open"] = len(self.shells)


SERVER = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 120
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.ntlm = None
        self.conn_user = None
        self.auth_reply = None
        self.server.bump("connections")

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    def send(self, status, body, ctype="application/soap+xml;charset=UTF-8",
             headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.auth_reply:
            self.send_header("WWW-Authenticate", self.auth_reply)
            self.auth_reply = None
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise Drop()
        return self.rfile.read(n) if n > 0 else b""

    def json_reply(self, status, obj):
        self.send(status, json.dumps(obj), "application/json")

    def do_GET(self):
        try:
            if self.path == "/_mock/stats":
                with self.server.lock:
                    self.server.reap()
                    s = json.loads(json.dumps(self.server.stats))
                return self.json_reply(200, s)
            if self.path.startswith("/_mock/exchange/"):
                return self.exchange(b"")
            self.read_body()
            self.send(404, "", "text/plain")
        except Drop:
            self.close_connection = True

    def do_POST(self):
        try:
            if self.path.startswith("/_mock/"):
                return self.control()
            if self.path.split("?")[0].lower() != "/wsman":
                self.read_body()
                return self.send(404, "", "text/plain")
            return self.wsman()
        except Drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except Exception:
            tb = traceback.format_exc()
            self.server.note_internal(tb)
            try:
                self.send(500, "mock internal error", "text/plain")
            except OSError:
                pass

    do_PUT = do_DELETE = do_PATCH = do_POST

    # ---- control ----
    def control(self):
        name = self.path.split("?")[0][len("/_mock/"):]
        if name.startswith("exchange/"):
            return self.exchange(self.read_body())
        raw = self.read_body()
        try:
            req = json.loads(raw or b"{}")
        except ValueError as e:
            return self.json_reply(400, {"error": "not JSON: %s" % e})
        srv = self.server
        if name == "reset":
            srv.reset()
            return self.json_reply(200, {"ok": True})
        if name == "forget":
            with srv.lock:
                srv.shells.clear()
                srv.stats["shells_open"] = 0
            return self.json_reply(200, {"ok": True})
        if name == "inject":
            action = req.get("action")
            if action not in ("Create", "Command", "Receive", "Signal",
                              "Delete", "Send", "*"):
                return self.json_reply(400, {"error": "action: one of "
                                             "Create, Command, Receive, "
                                             "Signal, Delete, Send, *"})
            kinds = [k for k in ("fault", "http_status", "drop") if k in req]
            if len(kinds) > 1 or (not kinds and "delay_ms" not in req):
                return self.json_reply(400, {"error": "one of fault, "
                                             "http_status, drop (and/or "
                                             "delay_ms)"})
            if "fault" in req and req["fault"] not in (
                    "timeout", "shell_not_found", "too_many_shells",
                    "access_denied"):
                return self.json_reply(400, {"error": "fault: timeout, "
                                             "shell_not_found, "
                                             "too_many_shells or "
                                             "access_denied"})
            if "http_status" in req and req["http_status"] not in (
                    401, 500, 503):
                return self.json_reply(400, {"error": "http_status: 401, "
                                             "500 or 503"})
            inj = dict(req)
            inj["count"] = int(req.get("count", 1))
            with srv.lock:
                srv.injections.append(inj)
            return self.json_reply(200, {"ok": True})
        return self.json_reply(404, {"error": "no such control: " + name})

    def exchange(self, raw):
        if winrm_exchange is None or not hasattr(winrm_exchange, "control"):
            return self.json_reply(404, {"error": "no Exchange emulator"})
        try:
            body = json.loads(raw) if raw else None
        except ValueError as e:
            return self.json_reply(400, {"error": "not JSON: %s" % e})
        path = self.path.split("?")[0][len("/_mock/exchange/"):]
        st, obj = winrm_exchange.control(self.server.directory, self.command,
                                         path, body)
        return self.json_reply(st, obj)

    # ---- authentication ----
    def refuse(self, offers):
        self.server.bump("auth_failures")
        self.send_response(401)
        for o in offers:
            self.send_header("WWW-Authenticate", o)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    def authenticate(self):
        mode = self.server.opts.auth
        auth = self.headers.get("Authorization") or ""
        if mode == "none":
            return "administrator"
        if mode == "basic":
            if not auth.lower().startswith("basic "):
                return self.refuse(['Basic realm="WSMAN"', "Negotiate"])
            try:
                dec = base64.b64decode(auth[6:].strip(),
                                       validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return self.refuse(['Basic realm="WSMAN"', "Negotiate"])
            name, _, pw = dec.partition(":")
            user = account_of(name)
            if user is None or pw != PASSWORD:
                return self.refuse(['Basic realm="WSMAN"', "Negotiate"])
            return user
        if mode == "ntlm":
            return self.auth_ntlm(auth)
        if mode == "kerberos":
            return self.auth_kerberos(auth)
        raise RuntimeError("unknown auth mode")

    def auth_ntlm(self, auth):
        import ews_ntlm
        offers = ["Negotiate", "Kerberos"]
        if not auth:
            return self.conn_user or self.refuse(offers)
        scheme, _, data = auth.partition(" ")
        if scheme.lower() != "negotiate":
            return self.refuse(offers)
        try:
            msg = base64.b64decode(data.strip(), validate=True)
            kind = ews_ntlm.parse_type(msg)
        except (ValueError, ews_ntlm.BadMessage):
            self.ntlm = None
            return self.refuse(offers)
        if kind == 1:
            self.server.bump("ntlm_handshakes")
            self.conn_user = None
            ch = os.urandom(8)
            self.ntlm = ch
            neg = struct.unpack_from("<I", msg, 12)[0] if len(msg) >= 16 \
                else ews_ntlm.NEGOTIATE_UNICODE
            t2 = base64.b64encode(ews_ntlm.challenge_message(neg, ch))
            self.send_response(401)
            self.send_header("WWW-Authenticate", "Negotiate " + t2.decode())
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if kind == 3 and self.ntlm is not None:
            ch, self.ntlm = self.ntlm, None
            try:
                user = ntlm_user(msg, ch)
            except (ews_ntlm.BadMessage, struct.error):
                user = None
            if user:
                self.conn_user = user
                return user
        self.ntlm = None
        return self.refuse(offers)

    def auth_kerberos(self, auth):
        if not auth:
            return self.conn_user or self.refuse(["Negotiate", "Kerberos"])
        self.server.bump("negotiate_handshakes")
        self.conn_user = None
        r = self.server.spnego.step(auth)
        if not r.ok:
            return self.refuse([r.header or "Negotiate"])
        user = account_of((r.principal or "").split("@")[0])
        if user is None:
            return self.refuse(["Negotiate"])
        self.conn_user = user
        if r.header:
            self.auth_reply = r.header
        return user

    # ---- WS-Management ----
    def wsman(self):
        srv = self.server
        hdrs = {}
        for k, v in self.headers.items():
            if k.lower() == "authorization":
                v = v.split(" ", 1)[0]
            hdrs[k] = v
        with srv.lock:
            srv.stats["requests"] += 1
            srv.stats["last_headers"] = hdrs
        raw = self.read_body()  # read first: a 401 keeps the connection
        user = self.authenticate()
        if user is None:
            return None
        ctype = (self.headers.get("Content-Type") or "").lower()
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as e:
            return self.send(400, "not XML: %s" % e, "text/plain")
        head = root.find("s:Header", NS)
        body = root.find("s:Body", NS)
        mid = (head.findtext("a:MessageID", "", NS) if head is not None
               else "").strip()

        def text(path):
            return (head.findtext(path, None, NS)
                    if head is not None else None)
        action_uri = (text("a:Action") or "").strip()
        op = ACTIONS.get(action_uri, action_uri.rsplit("/", 1)[-1] or "?")
        with srv.lock:
            d = srv.stats["by_action"]
            d[op] = d.get(op, 0) + 1
        try:
            if root.tag != "{%s}Envelope" % NS["s"] or body is None:
                raise Fault("bad_request", what="not a SOAP 1.2 envelope")
            if "application/soap+xml" not in ctype:
                self.violation(op, "Content-Type " + ctype)
            missing = [n for n, v in (
                ("a:To", text("a:To")),
                ("a:ReplyTo/a:Address", text("a:ReplyTo/a:Address")),
                ("a:Action", text("a:Action")),
                ("a:MessageID", text("a:MessageID")),
                ("w:ResourceURI", text("w:ResourceURI"))) if not v]
            if missing:
                self.violation(op, "missing " + ", ".join(missing))
                raise Fault("header", what=", ".join(missing))
            if (text("w:ResourceURI") or "").strip() != RESOURCE_CMD:
                self.violation(op, "ResourceURI " + text("w:ResourceURI"))
                raise Fault("bad_request", what="unknown ResourceURI")
            if op not in ("Create", "Command", "Receive", "Signal",
                          "Delete", "Send"):
                self.violation(op, "Action " + action_uri)
                raise Fault("header", what="a known a:Action")
            max_env = int(float(text("w:MaxEnvelopeSize") or 153600))
            op_timeout = duration_s(text("w:OperationTimeout"), 60.0)
            opts = {}
            os_el = head.find("w:OptionSet", NS)
            if os_el is not None:
                for o in os_el.findall("w:Option", NS):
                    opts[o.get("Name")] = (o.text or "").strip()
                srv.keep("option_sets", opts)
            shell_id = None
            for sel in head.findall("w:SelectorSet/w:Selector", NS):
                if sel.get("Name") == "ShellId":
                    shell_id = (sel.text or "").strip()
            inj = srv.take_injection(op)
            if inj:
                if inj.get("delay_ms"):
                    time.sleep(min(int(inj["delay_ms"]), 300000) / 1000.0)
                if inj.get("drop"):
                    raise Drop()
                if inj.get("http_status"):
                    st = int(inj["http_status"])
                    if st == 401:
                        return self.refuse(["Negotiate", "Kerberos"])
                    hdr = {"Retry-After": "1"} if st == 503 else {}
                    return self.send(st, "", "text/plain", hdr)
                if inj.get("fault"):
                    raise Fault(inj["fault"], shell=shell_id or "",
                                max=srv.opts.max_shells)
            if op == "Create":
                return self.op_create(user, body, mid, opts)
            if not shell_id:
                self.violation(op, "no ShellId selector")
                raise Fault("header", what="w:SelectorSet/ShellId")
            with srv.lock:
                srv.reap()
                sh = srv.shells.get(shell_id)
                if sh is None or sh["user"] != user:
                    sh = None
                else:
                    sh["busy"] += 1
            if sh is None:
                raise Fault("shell_not_found", shell=shell_id)
            try:
                return getattr(self, "op_" + op.lower())(
                    sh, body, mid, op_timeout, max_env)
            finally:
                with srv.lock:
                    sh["busy"] -= 1
                    sh["last_used"] = time.monotonic()
        except Fault as f:
            return self.send(f.status, fault_xml(f.kind, mid, **f.kw))

    def violation(self, op, what):
        self.server.keep("violations", "%s: %s" % (op, what))

    def op_create(self, user, body, mid, opts):
        srv = self.server
        shell = body.find("rsp:Shell", NS)
        if shell is None:
            raise Fault("bad_request", what="no rsp:Shell")
        idle_text = shell.findtext("rsp:IdleTimeOut", None, NS)
        idle = duration_s(idle_text, 7200.0) if idle_text else 7200.0
        if idle_text:
            srv.keep("idle_timeouts", idle)
        with srv.lock:
            srv.reap()
            mine = sum(1 for s in srv.shells.values() if s["user"] == user)
            if mine >= srv.opts.max_shells:
                raise Fault("too_many_shells", max=srv.opts.max_shells)
            sid = str(uuid.uuid4()).upper()
            srv.shells[sid] = {"id": sid, "user": user, "idle": idle,
                               "last_used": time.monotonic(), "busy": 0,
                               "commands": {}, "options": opts,
                               "codepage": opts.get("WINRS_CODEPAGE",
                                                    "437")}
            srv.stats["shells_created"] += 1
            srv.stats["shells_open"] = len(srv.shells)
            srv.stats["max_shells_open"] = max(
                srv.stats["max_shells_open"], len(srv.shells))
        host = self.headers.get("Host") or MACHINE
        return self.send(200, envelope(
            T + "CreateResponse", mid,
            '<x:ResourceCreated><a:Address>%s://%s/wsman</a:Address>'
            '<a:ReferenceParameters><w:ResourceURI>%s</w:ResourceURI>'
            '<w:SelectorSet><w:Selector Name="ShellId">%s</w:Selector>'
            '</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>'
            '<rsp:Shell><rsp:ShellId>%s</rsp:ShellId><rsp:ResourceUri>%s'
            '</rsp:ResourceUri><rsp:Owner>%s</rsp:Owner><rsp:InputStreams>'
            'stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr'
            '</rsp:OutputStreams><rsp:IdleTimeOut>PT%.3fS</rsp:IdleTimeOut>'
            '</rsp:Shell>' % (
                srv.scheme, esc(host), RESOURCE_CMD, sid, sid, RESOURCE_CMD,
                "EXAMPLE\\" + user, idle)))

    def op_command(self, sh, body, mid, op_timeout, max_env):
        srv = self.server
        cl = body.find("rsp:CommandLine", NS)
        if cl is None:
            raise Fault("bad_request", what="no rsp:CommandLine")
        parts = [(cl.findtext("rsp:Command", "", NS) or "").strip()]
        parts += [(a.text or "") for a in cl.findall("rsp:Arguments", NS)]
        line = " ".join(p for p in parts if p)
        cid = str(uuid.uuid4()).upper()
        cmd = Command(cid, line)
        with srv.lock:
            sh["commands"][cid] = cmd
            srv.stats["commands"] += 1
        plan_command(srv, cmd)
        return self.send(200, envelope(
            SH + "CommandResponse", mid,
            "<rsp:CommandResponse><rsp:CommandId>%s</rsp:CommandId>"
            "</rsp:CommandResponse>" % cid))

    def command_of(self, sh, cid):
        cmd = sh["commands"].get((cid or "").strip().upper())
        if cmd is None:
            raise Fault("no_command")
        return cmd

    def op_send(self, sh, body, mid, op_timeout, max_env):
        srv = self.server
        srv.bump("sends")
        send = body.find("rsp:Send", NS)
        if send is None:
            raise Fault("bad_request", what="no rsp:Send")
        for st in send.findall("rsp:Stream", NS):
            cmd = self.command_of(sh, st.get("CommandId"))
            if st.get("Name") != "stdin":
                raise Fault("bad_request", what="stream " + st.get("Name"))
            try:
                cmd.stdin += base64.b64decode((st.text or "").strip(),
                                              validate=True)
            except ValueError:
                raise Fault("bad_request", what="stdin not base64")
            if (st.get("End") or "").lower() == "true" and cmd.waits_stdin:
                cmd.waits_stdin = False
                data = bytes(cmd.stdin)
                start(cmd, lambda: cmd.script_runner(data))
        return self.send(200, envelope(SH + "SendResponse", mid,
                                       "<rsp:SendResponse/>"))

    def op_receive(self, sh, body, mid, op_timeout, max_env):
        ds = body.find("rsp:Receive/rsp:DesiredStream", NS)
        if ds is None:
            raise Fault("bad_request", what="no rsp:DesiredStream")
        cmd = self.command_of(sh, ds.get("CommandId"))
        chunk = max(1, self.server.opts.chunk)
        end = time.monotonic() + min(op_timeout, 300.0)
        with cmd.cond:
            while (not cmd.done and len(cmd.out) == cmd.out_sent and
                   len(cmd.err) == cmd.err_sent):
                left = end - time.monotonic()
                if left <= 0:
                    raise Fault("timeout")
                cmd.cond.wait(min(left, 0.5))
            # at most 3 pieces and what the envelope allows, base64 4/3
            room = max(chunk, (max_env - 4096) * 3 // 4)
            streams, used = [], 0
            for name in ("stdout", "stderr"):
                buf = cmd.out if name == "stdout" else cmd.err
                sent = cmd.out_sent if name == "stdout" else cmd.err_sent
                while sent < len(buf) and len(streams) < 3 and used < room:
                    n = min(chunk, len(buf) - sent, room - used)
                    piece = bytes(buf[sent:sent + n])
                    streams.append((name, piece))
                    sent += n
                    used += n
                if name == "stdout":
                    cmd.out_sent = sent
                else:
                    cmd.err_sent = sent
            finished = (cmd.done and cmd.out_sent == len(cmd.out) and
                        cmd.err_sent == len(cmd.err))
            code = cmd.exit_code
        parts = ['<rsp:Stream Name="%s" CommandId="%s">%s</rsp:Stream>' % (
            n, cmd.id, base64.b64encode(p).decode()) for n, p in streams]
        if finished:
            parts += ['<rsp:Stream Name="stdout" CommandId="%s" End="true">'
                      '</rsp:Stream><rsp:Stream Name="stderr" CommandId="%s"'
                      ' End="true"></rsp:Stream>' % (cmd.id, cmd.id),
                      '<rsp:CommandState CommandId="%s" State="%s">'
                      '<rsp:ExitCode>%d</rsp:ExitCode></rsp:CommandState>'
                      % (cmd.id, DONE, code)]
        else:
            parts.append('<rsp:CommandState CommandId="%s" State="%s"/>'
                         % (cmd.id, RUNNING))
        return self.send(200, envelope(
            SH + "ReceiveResponse", mid,
            '<rsp:ReceiveResponse>%s</rsp:ReceiveResponse>' % "".join(parts)))

    def op_signal(self, sh, body, mid, op_timeout, max_env):
        srv = self.server
        sig = body.find("rsp:Signal", NS)
        if sig is None:
            raise Fault("bad_request", what="no rsp:Signal")
        cmd = self.command_of(sh, sig.get("CommandId"))
        code = (sig.findtext("rsp:Code", "", NS) or "").strip()
        srv.bump("signals")
        if code == TERMINATE:
            with cmd.cond:
                cmd.terminated = True
                cmd.done = True
                cmd.cond.notify_all()
            with srv.lock:
                sh["commands"].pop(cmd.id, None)
        return self.send(200, envelope(SH + "SignalResponse", mid,
                                       "<rsp:SignalResponse/>"))

    def op_delete(self, sh, body, mid, op_timeout, max_env):
        srv = self.server
        with srv.lock:
            if srv.shells.pop(sh["id"], None) is not None:
                srv.stats["shells_deleted"] += 1
            srv.stats["shells_open"] = len(srv.shells)
        for cmd in list(sh["commands"].values()):
            with cmd.cond:
                cmd.terminated = True
                cmd.done = True
                cmd.cond.notify_all()
        return self.send(200, envelope(T + "DeleteResponse", mid, ""))


# ---- a child-process handle for tests ------------------------------------

from mock_handle import DirHandle, handle_dir  # noqa: E402


class MockWinRM(DirHandle):
    """Run this file as a server in a child process (bounded waits):

        with MockWinRM(["--auth", "ntlm"]) as w:
            w.url, w.control("inject", {...}), w.stats()
    """

    def __init__(self, args=(), start_timeout=20.0, env=None):
        self.dir = handle_dir("sbtest-winrm-")
        self.args = list(args)
        self.env = env
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.err = None
        self.tls = "--cert" in self.args
        self.log_path = os.path.join(self.dir, "server.log")

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http",
                                      self.port)

    @property
    def url(self):
        return self.base + "/wsman"

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
            raise RuntimeError("winrm_server did not start: %s"
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

    def post(self, body, headers=None):
        """One raw POST /wsman -> (status, headers, body bytes)."""
        h = {"Content-Type": "application/soap+xml;charset=UTF-8"}
        h.update(headers or {})
        if isinstance(body, str):
            body = body.encode()
        return self._http("POST", "/wsman", body, h)


# ---- main ----------------------------------------------------------------

def main():
    global LOG_FILE, SERVER
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth", default="basic",
                    choices=["basic", "ntlm", "kerberos", "none"])
    ap.add_argument("--keytab", help="the service keytab (kerberos)")
    ap.add_argument("--exchange", default="2013",
                    choices=["2007", "2010", "2013", "none"])
    ap.add_argument("--max-shells", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=700)
    ap.add_argument("--lifetime", type=float, default=1800)
    ap.add_argument("--log")
    opts = ap.parse_args()
    LOG_FILE = opts.log
    if bool(opts.cert) != bool(opts.key):
        ap.error("--cert and --key go together")
    if opts.auth == "kerberos" and not opts.keytab:
        ap.error("--auth kerberos needs --keytab (the service keytab)")
    if opts.max_shells < 1 or opts.chunk < 1:
        ap.error("--max-shells and --chunk must be at least 1")
    srv = Server(("127.0.0.1", opts.port), opts)
    SERVER = srv
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
    log("listening on %d (auth %s, exchange %s, emulator %s)" % (
        port, opts.auth, opts.exchange,
        "yes" if winrm_exchange is not None else "no"))
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    main()
