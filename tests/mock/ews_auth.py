"""Authentication of the mock EWS server (tests/mock/ews_server.py):
Basic, NTLM (ews_ntlm.py), Negotiate (Kerberos through spnego.py and the
service keytab of --keytab), OAuth2 bearer tokens, or none.

authenticate(handler) answers the authenticated address ("app:<name>" for
an application's token), or None after it has answered 401 itself (the
request body read, so the connection stays usable).  Secrets are never
logged or echoed.
"""
import base64
import json
import time

from ews_store import PASSWORD, USERS

REALM = "example.test"


def user_of(name):
    """alice, alice@example.test, EXAMPLE\\alice -> alice@example.test."""
    n = (name or "").strip().lower()
    if "\\" in n:
        dom, n = n.split("\\", 1)
        if dom not in ("example", "example.test"):
            return None
    if "@" not in n:
        n += "@example.test"
    for u in USERS:
        if u["address"] == n:
            return n
    return None


def refuse(h, challenges, extra=None):
    srv = h.server
    srv.bump("auth_failures")
    h.read_body()
    headers = {"WWW-Authenticate": challenges[0]}
    if extra:
        headers.update(extra)
    body = b""
    h.send_response(401)
    for c in challenges:
        h.send_header("WWW-Authenticate", c)
    for k, v in (extra or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", "0")
    h.end_headers()
    h.wfile.write(body)
    return None


def scheme_seen(h, scheme):
    srv = h.server
    with srv.lock:
        d = srv.stats["auth_schemes"]
        d[scheme] = d.get(scheme, 0) + 1


def authenticate(h):
    mode = h.server.opts.auth
    auth = h.headers.get("Authorization") or ""
    if mode == "none":
        anchor = h.headers.get("X-AnchorMailbox")
        return user_of(anchor) or "alice@example.test"
    if mode == "basic":
        return basic(h, auth)
    if mode == "ntlm":
        import ews_ntlm
        return ews_ntlm.authenticate(h, auth)
    if mode == "oauth2":
        return bearer(h, auth)
    if mode == "negotiate":
        return negotiate(h, auth)
    raise RuntimeError("unknown auth mode %s" % mode)


def basic(h, auth):
    challenge = ['Basic realm="%s"' % REALM]
    if not auth.lower().startswith("basic "):
        return refuse(h, challenge)
    scheme_seen(h, "Basic")
    try:
        dec = base64.b64decode(auth[6:].strip(), validate=True).decode()
        name, _, pw = dec.partition(":")
    except (ValueError, UnicodeDecodeError):
        return refuse(h, challenge)
    u = user_of(name)
    if u is None or pw != PASSWORD:
        return refuse(h, challenge)
    return u


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def bearer(h, auth):
    srv = h.server
    challenge = ['Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
                 'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
                 'token_types="app_asserted_user_v1 service_asserted_app_v1",'
                 ' authorization_uri="https://login.microsoftonline.com/'
                 'common/oauth2/authorize", error="invalid_token"']
    if not auth.lower().startswith("bearer "):
        return refuse(h, challenge)
    scheme_seen(h, "Bearer")
    tok = auth[7:].strip()
    with srv.lock:
        if tok in srv.tokens:
            u = srv.tokens[tok]
            return user_of(u) if u else "app:registered"
    tf = srv.opts.tokens_file
    if tf:
        try:
            with open(tf) as f:
                if tok in f.read().split():
                    return "app:token-server"
        except OSError:
            pass
    parts = tok.split(".")
    if len(parts) == 3 and srv.pubkey is not None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        try:
            header = json.loads(b64url(parts[0]))
            claims = json.loads(b64url(parts[1]))
            sig = b64url(parts[2])
            if header.get("alg") != "RS256":
                raise ValueError("alg")
            srv.pubkey.verify(sig, (parts[0] + "." + parts[1]).encode(),
                              padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, InvalidSignature):
            return refuse(h, challenge)
        now = time.time()
        if not isinstance(claims.get("exp"), (int, float)) or \
                claims["exp"] <= now or claims.get("nbf", 0) > now + 60:
            return refuse(h, challenge)
        for k in ("upn", "preferred_username", "email", "smtp"):
            if claims.get(k):
                u = user_of(claims[k])
                return u if u else refuse(h, challenge)
        return "app:" + str(claims.get("appid") or claims.get("sub") or
                            "jwt")
    return refuse(h, challenge)


def negotiate(h, auth):
    """SPNEGO/Kerberos through tests/mock/spnego.py (the --keytab service
    keytab), connection-based like IIS (authPersistNonNTLM): once a
    request on a connection was accepted, later requests on it need no
    header.  The server's token goes back in the answer's
    WWW-Authenticate (mutual authentication)."""
    if not auth:
        if h.conn_user:
            return h.conn_user
        return refuse(h, ["Negotiate"])
    if auth.split(" ", 1)[0].lower() != "negotiate":
        return refuse(h, ["Negotiate"])
    scheme_seen(h, "Negotiate")
    h.server.bump("negotiate_handshakes")
    h.conn_user = None
    r = h.server.spnego.step(auth)
    if not r.ok:
        return refuse(h, [r.header or "Negotiate"])
    user = user_of((r.principal or "").split("@")[0])
    if user is None:
        return refuse(h, ["Negotiate"])
    h.conn_user = user
    if r.header:
        h.auth_reply = r.header
    return user
