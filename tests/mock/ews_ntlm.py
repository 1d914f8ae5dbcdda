"""NTLM for the mock EWS server (tests/mock/ews_server.py), as IIS does it
for Exchange: connection-based.  A NEGOTIATE (type 1) message gets a
CHALLENGE (type 2) in a 401; the AUTHENTICATE (type 3) message's NTLMv2
response is recomputed from the user's password (MD4 from pycryptodome,
HMAC-MD5) and compared.  Once a connection has authenticated, later
requests on it need no Authorization header.  NTLMv1 and anonymous
responses are refused.  /_mock/stats "ntlm_handshakes" counts NEGOTIATE
messages.  A token in the Negotiate scheme (a raw NTLMSSP token, as
WinRM's clients send it) is answered in that scheme; offer= names the
scheme a 401 without credentials offers (default "NTLM").
"""
import base64
import hashlib
import hmac
import os
import struct
import time

from ews_auth import refuse, scheme_seen, user_of
from ews_store import PASSWORD

try:
    from Crypto.Hash import MD4
except ImportError:  # Debian's python3-pycryptodome installs Cryptodome
    from Cryptodome.Hash import MD4

SIG = b"NTLMSSP\x00"
NEGOTIATE_UNICODE = 0x00000001
NEGOTIATE_OEM = 0x00000002
REQUEST_TARGET = 0x00000004
NEGOTIATE_NTLM = 0x00000200
NEGOTIATE_ALWAYS_SIGN = 0x00008000
TARGET_TYPE_DOMAIN = 0x00010000
NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NEGOTIATE_TARGET_INFO = 0x00800000
NEGOTIATE_VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
NEGOTIATE_KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000

NB_DOMAIN = "EXAMPLE"
NB_COMPUTER = "MBX01"
DNS_DOMAIN = "example.test"
DNS_COMPUTER = "mbx01.example.test"


class BadMessage(Exception):
    pass


def md4(data):
    return MD4.new(data).digest()


def nt_owf_v2(user, domain, password):
    key = md4(password.encode("utf-16-le"))
    return hmac.new(key, (user.upper() + domain).encode("utf-16-le"),
                    hashlib.md5).digest()


def field(msg, off):
    """A security buffer (len, maxlen, offset) at off -> its bytes."""
    if len(msg) < off + 8:
        raise BadMessage("short message")
    ln, _, at = struct.unpack_from("<HHI", msg, off)
    if at + ln > len(msg):
        raise BadMessage("field outside the message")
    return msg[at:at + ln]


def av_pairs():
    out = b""
    now = int((time.time() + 11644473600) * 10000000)
    for av_id, val in ((2, NB_DOMAIN), (1, NB_COMPUTER), (4, DNS_DOMAIN),
                       (3, DNS_COMPUTER)):
        v = val.encode("utf-16-le")
        out += struct.pack("<HH", av_id, len(v)) + v
    out += struct.pack("<HHQ", 7, 8, now)
    out += struct.pack("<HH", 0, 0)
    return out


def challenge_message(neg_flags, challenge):
    flags = (NEGOTIATE_UNICODE if neg_flags & NEGOTIATE_UNICODE else
             NEGOTIATE_OEM) | REQUEST_TARGET | NEGOTIATE_NTLM | \
        NEGOTIATE_ALWAYS_SIGN | TARGET_TYPE_DOMAIN | NEGOTIATE_TARGET_INFO | \
        NEGOTIATE_VERSION
    flags |= neg_flags & (NEGOTIATE_EXTENDED_SESSIONSECURITY |
                          NEGOTIATE_128 | NEGOTIATE_56 | NEGOTIATE_KEY_EXCH)
    target = NB_DOMAIN.encode("utf-16-le" if flags & NEGOTIATE_UNICODE
                              else "ascii")
    info = av_pairs()
    head = 56
    msg = SIG + struct.pack("<I", 2)
    msg += struct.pack("<HHI", len(target), len(target), head)
    msg += struct.pack("<I", flags)
    msg += challenge + b"\x00" * 8
    msg += struct.pack("<HHI", len(info), len(info), head + len(target))
    msg += bytes([10, 0]) + struct.pack("<H", 17763) + b"\x00\x00\x00\x0f"
    return msg + target + info


def parse_type(msg):
    if len(msg) < 12 or msg[:8] != SIG:
        raise BadMessage("not an NTLMSSP message")
    return struct.unpack_from("<I", msg, 8)[0]


def verify(msg, challenge):
    """A type 3 message -> the user's address, or None."""
    if len(msg) < 64:
        raise BadMessage("short AUTHENTICATE message")
    flags = struct.unpack_from("<I", msg, 60)[0]
    nt = field(msg, 20)
    dom_b = field(msg, 28)
    user_b = field(msg, 36)
    enc = "utf-16-le" if flags & NEGOTIATE_UNICODE else "latin-1"
    try:
        domain = dom_b.decode(enc)
        user = user_b.decode(enc)
    except UnicodeDecodeError:
        raise BadMessage("undecodable names")
    if len(nt) <= 24:
        return None  # NTLMv1 or anonymous: refused
    name = user if not domain or "@" in user else domain + "\\" + user
    addr = user_of(name)
    if addr is None:
        return None
    key = nt_owf_v2(user, domain, PASSWORD)
    blob = nt[16:]
    proof = hmac.new(key, challenge + blob, hashlib.md5).digest()
    if not hmac.compare_digest(proof, nt[:16]):
        return None
    return addr


def authenticate(h, auth, offer="NTLM"):
    challenge = [offer]
    if not auth:
        if h.conn_user:
            return h.conn_user
        return refuse(h, challenge)
    scheme, _, data = auth.partition(" ")
    if scheme.lower() not in ("ntlm", "negotiate"):
        return refuse(h, challenge)
    scheme_seen(h, "NTLM")
    try:
        msg = base64.b64decode(data.strip(), validate=True)
        kind = parse_type(msg)
        if kind == 1:
            h.server.bump("ntlm_handshakes")
            h.conn_user = None
            ch = os.urandom(8)
            h.ntlm = ch
            neg = struct.unpack_from("<I", msg, 12)[0] if len(msg) >= 16 \
                else NEGOTIATE_UNICODE
            h.server.stats_ntlm_flags = neg
            h.read_body()
            t2 = base64.b64encode(challenge_message(neg, ch)).decode()
            h.send_response(401)
            name = "Negotiate" if scheme.lower() == "negotiate" else "NTLM"
            h.send_header("WWW-Authenticate", name + " " + t2)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return None
        if kind == 3:
            if h.ntlm is None:
                return refuse(h, challenge)
            ch, h.ntlm = h.ntlm, None
            user = verify(msg, ch)
            if user is None:
                return refuse(h, challenge)
            h.conn_user = user
            return user
    except (BadMessage, ValueError, struct.error):
        pass
    h.ntlm = None
    return refuse(h, challenge)
