"""HTTP Negotiate (SPNEGO/Kerberos, RFC 4559) for the mock servers: the
server's half, through GSS-API (Debian python3-gssapi over MIT Kerberos)
with the service's keytab.

    from spnego import Spnego
    neg = Spnego("/tmp/.../service.keytab")
    ok, header, principal = neg.step(handler.headers.get("Authorization"))
    if not ok:
        reply 401 with "WWW-Authenticate: <header>"
    else:
        reply 200 (with "WWW-Authenticate: <header>" if header), the
        client is principal ("alice@EXAMPLE.TEST")

step() takes the whole Authorization value ("Negotiate <base64>"; None,
"" or another scheme count as no credentials) and answers
  (True, "Negotiate <base64>" or None, principal)  accepted: the header
      carries the server's token for mutual authentication (send it with
      the answer), principal is the client's name;
  (False, "Negotiate", None)  refused: challenge again with header; the
      answer's .error says why ("no Negotiate credentials", the
      GSS-API message for a bad or replayed token, a stale service key).
      With Spnego(keytab, reject_token=True) header carries the
      acceptor's error token when it made one ("Negotiate <base64>": a
      SPNEGO reject with the KRB-ERROR inside, as Windows answers a
      ticket for a key it no longer has), which the client's GSS-API
      reads ("Key version is not available").
The answer is a tuple of three with an .error attribute (None when ok).
Kerberos completes in one round trip: every request is checked on its
own and nothing is kept between requests (a mechanism that needs a second
leg, such as NTLM inside SPNEGO, is refused).  One Spnego serves
concurrent requests from many threads.

The Kerberos library finds its configuration from the environment
(KRB5_CONFIG: tests/lib/krb5kdc.py's env() sets it); the keytab given
here is the only one used.  The replay cache (a token seen twice is
refused) is the one KRB5RCACHENAME or KRB5RCACHEDIR names (env() sets
the latter), else a file next to the keytab: never the system's
/var/tmp.  Importing this module needs python3-gssapi: a server imports
it only when asked to check Negotiate, and available() says whether it
can.
"""
import base64
import binascii
import collections
import os
import threading

try:
    import gssapi
    import gssapi.exceptions
    _IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - depends on the machine
    gssapi = None
    _IMPORT_ERROR = str(e)

SCHEME = "Negotiate"


def available():
    """"" when python3-gssapi is importable, else why not."""
    if gssapi is None:
        return "python3-gssapi is not installed (%s)" % _IMPORT_ERROR
    return ""


class Result(collections.namedtuple("Result", "ok header principal")):
    """(ok, header, principal), with .error (None when ok)."""
    error = None


def _result(ok, header, principal, error=None):
    r = Result(ok, header, principal)
    r.error = error
    return r


def parse(value):
    """The token of an Authorization value "Negotiate <base64>" (scheme
    in any case, white space around), or None for anything else."""
    if not value:
        return None
    parts = value.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() != SCHEME.lower():
        return None
    try:
        return base64.b64decode(parts[1].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


class Spnego:
    """The acceptor for one service keytab (a path).  principal: the
    service name to accept for (e.g. "HTTP/localhost@EXAMPLE.TEST"); None
    accepts a ticket for any principal in the keytab.  reject_token: see
    the module's description.  rcache: a replay cache name ("file2:PATH",
    "none:"), default as the module's description says."""

    def __init__(self, keytab, principal=None, reject_token=False,
                 rcache=None):
        why = available()
        if why:
            raise RuntimeError(why)
        name = None
        if principal:
            name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
        # the keytab alone: not KRB5_KTNAME, not /etc/krb5.keytab
        store = {"keytab": keytab}
        if rcache is None and not (os.environ.get("KRB5RCACHENAME") or
                                   os.environ.get("KRB5RCACHEDIR")):
            rcache = "file2:%s.rcache" % os.path.abspath(keytab)
        if rcache:
            store["rcache"] = rcache
        self.creds = gssapi.Credentials(usage="accept", name=name,
                                        store=store)
        self.reject_token = reject_token
        self.lock = threading.Lock()
        self.accepted = 0
        self.refused = 0

    def _count(self, ok):
        with self.lock:
            if ok:
                self.accepted += 1
            else:
                self.refused += 1

    def step(self, value):
        """Check one Authorization value; see the module's description."""
        token = parse(value)
        if token is None:
            why = ("no Negotiate credentials" if not value
                   or not value.strip().lower().startswith("negotiate")
                   else "a Negotiate token that is not base64")
            self._count(False)
            return _result(False, SCHEME, None, why)
        ctx = gssapi.SecurityContext(creds=self.creds, usage="accept")
        out = None
        try:
            # SPNEGO answers a bad token with a reject token and keeps
            # the error for the next use of the context: complete raises
            out = ctx.step(token)
            complete = ctx.complete
            principal = str(ctx.initiator_name) if complete else None
        except gssapi.exceptions.GSSError as e:
            self._count(False)
            header = SCHEME
            if out and self.reject_token:
                header = "%s %s" % (SCHEME, base64.b64encode(out).decode())
            return _result(False, header, None, e.gen_message())
        if not complete:
            self._count(False)
            return _result(False, SCHEME, None,
                           "the handshake needs another leg (not Kerberos)")
        self._count(True)
        header = None
        if out:
            header = "%s %s" % (SCHEME, base64.b64encode(out).decode())
        return _result(True, header, principal)
