#!/usr/bin/python3
"""A real SMTP server for svcbroker's tests (aiosmtpd), on loopback.

Prints "READY <port>" on stdout once it listens, then serves until SIGTERM
or SIGINT.  Every accepted message is saved to --save-dir as NNNN.eml (the
bytes received) with NNNN.json (envelope: mail_from, rcpt_tos, login,
auth_mech, helo, tls); the number of TCP connections accepted so far is kept
in <save-dir>/connections, the number of MAIL and RCPT commands received
(accepted or not) in <save-dir>/mail_commands and rcpt_commands.

Imported, MockSMTP starts and stops one such server as a child process:

    with MockSMTP(["--tls", "starttls", ...]) as mx:
        ... mx.port, mx.messages(), mx.connections(), mx.mail_commands() ...

Options:
  --port N                 0 = any free port (default)
  --tls none|starttls|implicit, --cert FILE --key FILE
  --require-starttls       refuse commands before STARTTLS
  --starttls-reply REPLY   offer STARTTLS but answer it with REPLY ("454 ...")
  --auth                   offer AUTH (PLAIN, LOGIN, XOAUTH2) and require it
  --auth-optional          with --auth: offer AUTH but take mail without it
  --auth-mechs LIST        with --auth: offer only these (e.g. LOGIN,PLAIN)
  --user NAME --password PW   the credentials PLAIN/LOGIN accept
  --token TOKEN            the bearer token XOAUTH2 accepts (for --user)
  --token-file FILE        XOAUTH2 also accepts the tokens listed in FILE,
                           one a line, read at each AUTH (repeatable; the
                           `tokens` list of tests/mock/token_server.py);
                           the number of such AUTHs is kept in
                           <save-dir>/xoauth2_auths
  --echo-auth              with --auth: refuse every AUTH with a 535 reply
                           that echoes the client's SASL responses (base64,
                           as sent) and the password they carry, as some
                           servers do in their error text
  --refuse ADDR=REPLY      refuse RCPT TO:<ADDR> with REPLY ("550 5.1.1 ...")
  --mail-reply REPLY       answer every MAIL FROM with REPLY
  --data-reply REPLY       answer the end of DATA with REPLY (nothing saved)
  --hang greeting|rcpt|data   never answer at that point
  --drop-after-data        close the connection when the content has
                           arrived, without a reply (nothing saved)
  --idle-timeout S         close a silent session after S seconds (421)
  --size-limit N           largest message accepted (SIZE extension)
  --no-smtputf8            do not offer SMTPUTF8
"""
import argparse
import asyncio
import base64
import glob
import json
import os
import select
import signal
import ssl
import subprocess
import sys
import time

from mock_handle import DirHandle, handle_dir

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, syntax
except ImportError:  # importing MockSMTP only needs the standard library
    SMTP = object

    def syntax(*_a, **_k):
        return lambda f: f


class MockSMTP(DirHandle):
    """Run this file as a server in a child process (bounded waits)."""

    DIR_ATTR = "save_dir"

    def __init__(self, args=(), start_timeout=15.0):
        self.save_dir = handle_dir("sbtest-mx-")
        self.err = None
        self.args = list(args)
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.err_path = os.path.join(self.save_dir, "server.log")

    def start(self):
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.abspath(__file__),
             "--save-dir", self.save_dir] + self.args,
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
            raise RuntimeError("SMTP test server did not start: %r %s" % (
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

    def messages(self):
        """[(raw bytes, envelope dict)] in arrival order."""
        out = []
        for eml in sorted(glob.glob(os.path.join(self.save_dir, "*.eml"))):
            with open(eml, "rb") as f:
                raw = f.read()
            with open(eml[:-4] + ".json") as f:
                meta = json.load(f)
            out.append((raw, meta))
        return out

    def _counter(self, name):
        try:
            with open(os.path.join(self.save_dir, name)) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return -1

    def connections(self):
        return self._counter("connections")

    def mail_commands(self):
        return self._counter("mail_commands")

    def rcpt_commands(self):
        return self._counter("rcpt_commands")


def parse_strict(raw):
    """Parse raw bytes with Python's email package (policy=default).
    Returns (message, [defect strings]) over every part and header."""
    import email
    import email.policy
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = []
    for part in msg.walk():
        defects += ["%s: %s" % (part.get_content_type(), d)
                    for d in part.defects]
        for name, value in part.items():
            for d in getattr(value, "defects", ()):
                defects.append("%s header: %s" % (name, d))
    return msg, defects


class Handler:
    def __init__(self, opts):
        self.opts = opts
        self.refuse = {}
        for r in opts.refuse or []:
            addr, _, reply = r.partition("=")
            self.refuse[addr.lower()] = reply
        self.count = 0
        self.connections = 0
        self.mails = 0
        self.rcpts = 0
        self.xoauth2_auths = 0  # AUTH XOAUTH2 checked against --token-file

    def bump(self, name, value):
        path = os.path.join(self.opts.save_dir, name)
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % value)
        os.replace(path + ".tmp", path)

    async def handle_MAIL(self, server, session, envelope, address, options):
        self.mails += 1
        self.bump("mail_commands", self.mails)
        if self.opts.mail_reply:
            return self.opts.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        self.rcpts += 1
        self.bump("rcpt_commands", self.rcpts)
        if self.opts.hang == "rcpt":
            await asyncio.sleep(3600)
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.opts.hang == "data":
            await asyncio.sleep(3600)
        if self.opts.drop_after_data:
            server.transport.abort()
            return "451 never seen"
        if self.opts.data_reply:
            return self.opts.data_reply
        self.count += 1
        base = os.path.join(self.opts.save_dir, "%04d" % self.count)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(content)
        login = session.auth_data
        if isinstance(login, LoginPassword):
            login = login.login
        if isinstance(login, bytes):
            login = login.decode("utf-8", "replace")
        meta = {"mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "login": login,
                "auth_mech": getattr(session, "auth_mech", None)
                if session.authenticated else None,
                "helo": session.host_name,
                "tls": session.ssl is not None}
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 OK queued as %04d" % self.count

    # XOAUTH2 (RFC 7628 style, as Gmail and Office 365 speak it): aiosmtpd
    # 1.4.3 has PLAIN and LOGIN only.
    async def auth_XOAUTH2(self, server, args):
        if len(args) < 2:
            blob = await server.challenge_auth("", encode_to_b64=False)
            if not isinstance(blob, bytes):
                return AuthResult(success=False)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except Exception:
                return AuthResult(success=False, handled=False,
                                  message="501 5.5.2 Can't decode base64")
        fields = {}
        for part in blob.split(b"\x01"):
            k, _, v = part.partition(b"=")
            if k:
                fields[k.decode("ascii", "replace")] = v.decode(
                    "utf-8", "replace")
        user = fields.get("user")
        token = fields.get("auth", "")
        if (user == self.opts.user and self.opts.token
                and token == "Bearer " + self.opts.token):
            return AuthResult(success=True, auth_data=user)
        if user == self.opts.user and self.opts.token_file and \
                token.startswith("Bearer "):
            valid = set()
            for path in self.opts.token_file:
                try:
                    with open(path) as f:
                        valid.update(t for t in f.read().split("\n") if t)
                except OSError:
                    pass
            self.xoauth2_auths += 1
            self.bump("xoauth2_auths", self.xoauth2_auths)
            if token[len("Bearer "):] in valid:
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and Password not "
                                  "accepted (XOAUTH2)")


class CountingSMTP(SMTP):
    def connection_made(self, transport):
        if self._original_transport is None:  # not the STARTTLS upgrade
            h = self.event_handler
            h.connections += 1
            h.bump("connections", h.connections)
        super().connection_made(transport)

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg):
        reply = self.event_handler.opts.starttls_reply
        if reply:
            return await self.push(reply)
        return await super().smtp_STARTTLS(arg)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg):
        # remember the mechanism the client chose (saved with the message)
        if arg and not self.session.authenticated:
            self.session.auth_mech = arg.split()[0].upper()
            if self.event_handler.opts.echo_auth:
                return await self.echo_auth(arg)
        return await super().smtp_AUTH(arg)

    async def echo_auth(self, arg):
        """Read the client's SASL responses and refuse, echoing them."""
        parts = arg.split()
        mech = parts[0].upper()
        sent = parts[1:2]  # an initial response
        prompts = {"LOGIN": [b"Username:", b"Password:"]}.get(mech, [b""])
        while len(sent) < len(prompts):
            blob = await self.challenge_auth(prompts[len(sent)])
            if not isinstance(blob, bytes):
                return await self.push("501 5.7.0 Auth aborted")
            sent.append(base64.b64encode(blob).decode("ascii"))
        try:
            blobs = [base64.b64decode(x) for x in sent]
        except ValueError:
            return await self.push("501 5.5.2 Can't decode base64")
        if mech == "PLAIN":
            password = blobs[0].split(b"\0")[-1]
        elif mech == "XOAUTH2":
            password = blobs[0].split(b"Bearer ")[-1].split(b"\x01")[0]
        else:
            password = blobs[-1]
        return await self.push(
            "535 5.7.8 Authentication failed for %s (password %s)"
            % (" ".join(sent), password.decode("utf-8", "replace")))


class Hang(asyncio.Protocol):
    """Accepts and never says a word."""

    def connection_made(self, transport):
        self.transport = transport


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", choices=["none", "starttls", "implicit"],
                    default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--require-starttls", action="store_true")
    ap.add_argument("--starttls-reply")
    ap.add_argument("--auth", action="store_true")
    ap.add_argument("--auth-optional", action="store_true")
    ap.add_argument("--auth-mechs")
    ap.add_argument("--user", default="user")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--token")
    ap.add_argument("--token-file", action="append")
    ap.add_argument("--echo-auth", action="store_true")
    ap.add_argument("--refuse", action="append")
    ap.add_argument("--mail-reply")
    ap.add_argument("--data-reply")
    ap.add_argument("--hang", choices=["greeting", "rcpt", "data"])
    ap.add_argument("--size-limit", type=int, default=64 * 1024 * 1024,
                    help="largest message accepted (SIZE)")
    ap.add_argument("--idle-timeout", type=float, default=300,
                    help="close a silent session after this many seconds")
    ap.add_argument("--no-smtputf8", action="store_true")
    ap.add_argument("--drop-after-data", action="store_true")
    ap.add_argument("--save-dir", required=True)
    opts = ap.parse_args()
    os.makedirs(opts.save_dir, exist_ok=True)

    handler = Handler(opts)
    ctx = None
    if opts.tls != "none":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.cert, opts.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword)
                and auth_data.login == opts.user.encode()
                and auth_data.password == opts.password.encode()):
            return AuthResult(success=True, auth_data=opts.user)
        return AuthResult(success=False, handled=False)

    def factory():
        kw = dict(hostname="mx.example.test", ident="svcbroker-test-mx",
                  enable_SMTPUTF8=not opts.no_smtputf8, data_size_limit=opts.size_limit,
                  timeout=opts.idle_timeout)
        if opts.tls == "starttls":
            kw["tls_context"] = ctx
            kw["require_starttls"] = opts.require_starttls
        if opts.auth:
            kw["authenticator"] = authenticator
            kw["auth_required"] = not opts.auth_optional
            if opts.auth_mechs:
                offer = {m.strip().upper() for m in opts.auth_mechs.split(",")}
                kw["auth_exclude_mechanism"] = [
                    m for m in ("PLAIN", "LOGIN", "XOAUTH2") if m not in offer]
            # with STARTTLS, AUTH only after it, as real servers do
            kw["auth_require_tls"] = opts.tls == "starttls"
        return CountingSMTP(handler, **kw)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if opts.hang == "greeting":
        server = loop.run_until_complete(
            loop.create_server(Hang, "127.0.0.1", opts.port))
    else:
        server = loop.run_until_complete(loop.create_server(
            factory, "127.0.0.1", opts.port,
            ssl=ctx if opts.tls == "implicit" else None))
    port = server.sockets[0].getsockname()[1]
    for name in ("connections", "mail_commands", "rcpt_commands"):
        with open(os.path.join(opts.save_dir, name), "w") as f:
            f.write("0\n")
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("READY %d" % port, flush=True)
    loop.run_until_complete(stop.wait())
    server.close()
    try:
        loop.run_until_complete(asyncio.wait_for(server.wait_closed(), 2))
    except Exception:
        pass
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
