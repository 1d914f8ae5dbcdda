#!/usr/bin/python3
"""The mock WinRM server (tests/mock/winrm_server.py) answers like Windows:
pywinrm 0.3.0 (Debian python3-winrm), an independent WinRM client, opens
shells, runs commands and PowerShell, reads output across several
Receive answers, re-sends the Receive on the TimedOut fault, cleans up
with Signal and Delete (checking RelatesTo), meets the documented faults
as WinRMError with the fault's data, and authenticates with Basic and
with NTLM inside Negotiate (requests-ntlm) and Kerberos (a loopback MIT
KDC, requests-kerberos); a bad password is
InvalidCredentialsError.  Also checks the mock's control API."""
import base64
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402

try:
    import winrm
    from winrm.exceptions import (InvalidCredentialsError, WinRMError,
                                  WinRMOperationTimeoutError)
    from winrm.protocol import Protocol
except ImportError as e:
    print("# missing python3-winrm: %s" % e)
    sys.exit(sbtest.SKIP)

from winrm_server import MockWinRM  # noqa: E402

c = sbtest.Checks()
ADMIN = "EXAMPLE\\administrator"
PW = "Secret-Pw-1"


def protocol(w, transport="basic", user=ADMIN, pw=PW):
    return Protocol(w.url, transport=transport, username=user, password=pw,
                    operation_timeout_sec=2, read_timeout_sec=5,
                    message_encryption="never")


def no_defects(w, name):
    s = w.stats()
    c.eq(s["violations"], [], name + ": pywinrm's requests are all valid")
    c.eq(s["internal_errors"], [], name + ": no defect of the mock met")


# ---- Basic ---------------------------------------------------------------
with MockWinRM(["--exchange", "none", "--auth", "basic",
                "--chunk", "7"]) as w:
    s = winrm.Session(w.url, auth=(ADMIN, PW), transport="basic")
    r = s.run_cmd("echo", ["hello", "world"])
    c.eq((r.status_code, r.std_out, r.std_err),
         (0, b"hello world\r\n", b""), "run_cmd: echo")
    r = s.run_cmd("exit", ["5"])
    c.eq(r.status_code, 5, "run_cmd: exit code")
    r = s.run_cmd("nosuchthing")
    c.ok(r.status_code == 1 and b"is not recognized" in r.std_err,
         "run_cmd: unknown command on stderr, exit 1")
    text = "Grüße 東京 😀"
    r = s.run_ps("Write-Output '%s'" % text)
    c.eq((r.status_code, r.std_out), (0, (text + "\r\n").encode("utf-8")),
         "run_ps: -encodedcommand, output in 7-byte pieces joined")
    st = w.stats()
    c.ok(st["scripts"][-1] == "Write-Output '%s'" % text,
         "run_ps: the mock decoded the UTF-16LE script")
    c.eq(st["option_sets"][0], {"WINRS_NOPROFILE": "FALSE",
                                "WINRS_CODEPAGE": "437"},
         "options: pywinrm's Create OptionSet recorded")
    c.eq(st["option_sets"][1], {"WINRS_CONSOLEMODE_STDIN": "TRUE",
                                "WINRS_SKIP_CMD_SHELL": "FALSE"},
         "options: pywinrm's Command OptionSet recorded")
    c.eq((st["shells_created"], st["shells_deleted"], st["shells_open"]),
         (4, 4, 0), "shells: one per run_*, each deleted")
    c.eq(st["signals"], 4, "Signal terminate after each command")
    c.ok(st["last_headers"].get("Authorization") == "Basic",
         "stats: Authorization shown by its scheme only")
    no_defects(w, "basic")

    # the Protocol API: one shell, several commands, timeouts re-sent
    w.ok("reset")
    p = protocol(w)
    shell = p.open_shell(codepage=65001)
    cid = p.run_command(shell, "powershell.exe",
                        ["-NoProfile", "-NonInteractive", "-Command",
                         "Start-Sleep -Milliseconds 2500; "
                         "Write-Output 'slow'"])
    try:
        p._raw_get_command_output(shell, cid)
        c.ok(False, "timeout: a Receive with no output faults")
    except WinRMOperationTimeoutError:
        c.ok(True, "timeout: a Receive with no output is "
                   "WinRMOperationTimeoutError (2150858793)")
    out, err, code = p.get_command_output(shell, cid)
    c.eq((out, code), (b"slow\r\n", 0),
         "timeout: get_command_output re-sends Receive until Done")
    p.cleanup_command(shell, cid)
    w.ok("inject", {"action": "Receive", "fault": "timeout", "count": 2})
    cid = p.run_command(shell, "echo", ["again"])
    out, err, code = p.get_command_output(shell, cid)
    c.eq(out, b"again\r\n", "inject timeout: swallowed by pywinrm's loop")
    p.cleanup_command(shell, cid)
    # stdin: -Command - with the script sent
    cid = p.run_command(shell, "powershell", ["-Command", "-"])
    script = "Write-Output 'from stdin'\r\nexit 4\r\n"
    msg = ('<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"'
           ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
           ' xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"'
           ' xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/'
           'shell"><env:Header><a:To>%s</a:To><a:ReplyTo><a:Address '
           'env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/'
           'addressing/role/anonymous</a:Address></a:ReplyTo><a:Action '
           'env:mustUnderstand="true">http://schemas.microsoft.com/wbem/'
           'wsman/1/windows/shell/Send</a:Action><a:MessageID>uuid:'
           '00000000-0000-4000-8000-000000000001</a:MessageID>'
           '<w:ResourceURI env:mustUnderstand="true">http://schemas.'
           'microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>'
           '<w:SelectorSet><w:Selector Name="ShellId">%s</w:Selector>'
           '</w:SelectorSet></env:Header><env:Body><rsp:Send><rsp:Stream '
           'Name="stdin" CommandId="%s" End="true">%s</rsp:Stream>'
           '</rsp:Send></env:Body></env:Envelope>' % (
               w.url, shell, cid,
               base64.b64encode(script.encode()).decode()))
    p.send_message(msg)
    out, err, code = p.get_command_output(shell, cid)
    c.eq((out, code), (b"from stdin\r\n", 4),
         "stdin: rsp:Send feeds -Command -")
    p.cleanup_command(shell, cid)
    p.close_shell(shell)
    st = w.stats()
    c.eq(st["sends"], 1, "stdin: one Send counted")
    c.eq(st["shells_open"], 0, "close_shell: Delete (RelatesTo checked)")
    no_defects(w, "protocol")

    # faults as WinRMError with the fault's data
    def fault_of(action, kind):
        w.ok("reset")
        w.ok("inject", {"action": action, "fault": kind})
        p = protocol(w)
        try:
            shell = p.open_shell()
            p.run_command(shell, "echo", ["x"])
        except WinRMError as e:
            return str(e)
        return ""
    e = fault_of("Command", "shell_not_found")
    c.ok("2150858843" in e and "InvalidSelectors" in e,
         "fault: shell not found (%s)" % e[:80])
    e = fault_of("Create", "too_many_shells")
    c.ok("2150859174" in e and "maximum number of 5" in e,
         "fault: too many shells")
    e = fault_of("Create", "access_denied")
    c.ok("Access is denied." in e and "AccessDenied" in e,
         "fault: access denied")

    # the server's own quota and idle reaping, and forget
    w.ok("reset")
    p = protocol(w)
    shells = [p.open_shell() for _ in range(5)]
    try:
        p.open_shell()
        c.ok(False, "quota: a sixth shell refused")
    except WinRMError as e:
        c.ok("2150859174" in str(e), "quota: a sixth shell refused")
    w.ok("forget")
    try:
        p.run_command(shells[0], "echo", ["x"])
        c.ok(False, "forget: a forgotten shell faults")
    except WinRMError as e:
        c.ok("2150858843" in str(e), "forget: a forgotten shell faults")

    # a shell idle past its IdleTimeOut is reaped
    w.ok("reset")
    p = protocol(w)
    shell = p.open_shell(idle_timeout="PT1S")
    c.eq(w.stats()["idle_timeouts"], [1.0], "idle: IdleTimeOut recorded")
    time.sleep(1.6)
    try:
        p.run_command(shell, "echo", ["x"])
        c.ok(False, "idle: a reaped shell faults")
    except WinRMError as e:
        c.ok("2150858843" in str(e), "idle: a reaped shell faults")
    c.eq(w.stats()["shells_open"], 0, "idle: reaped")

    # bad password, and a user unknown
    w.ok("reset")
    for user, pw, name in ((ADMIN, "wrong", "bad password"),
                           ("EXAMPLE\\mallory", PW, "unknown user")):
        try:
            winrm.Session(w.url, auth=(user, pw),
                          transport="basic").run_cmd("echo", ["x"])
            c.ok(False, name + ": refused")
        except InvalidCredentialsError:
            c.ok(True, name + ": InvalidCredentialsError (401)")
    c.eq(w.stats()["auth_failures"], 2, "auth failures counted")
    # the other account, by its UPN
    r = winrm.Session(w.url, auth=("operator@example.test", PW),
                      transport="basic").run_cmd("echo", ["op"])
    c.eq(r.std_out, b"op\r\n", "the operator account, by its UPN")

# ---- NTLM inside Negotiate -----------------------------------------------
# ntlm-auth computes MD4 with hashlib, which OpenSSL 3 leaves to its legacy
# provider: pycryptodome's MD4 stands in for this process.
try:
    hashlib.new("md4", b"")
except ValueError:
    try:
        from Cryptodome.Hash import MD4
    except ImportError:
        from Crypto.Hash import MD4
    _new = hashlib.new

    def _md4_new(name, data=b"", **kw):
        if name.lower() == "md4":
            return MD4.new(data)
        return _new(name, data, **kw)
    hashlib.new = _md4_new
try:
    import requests_ntlm  # noqa: F401
    have_ntlm = True
except ImportError:
    print("# python3-requests-ntlm missing: NTLM not checked")
    have_ntlm = False
if have_ntlm:
    with MockWinRM(["--exchange", "none", "--auth", "ntlm"]) as w:
        s = winrm.Session(w.url, auth=(ADMIN, PW), transport="ntlm",
                          message_encryption="never")
        r = s.run_cmd("echo", ["ntlm"])
        c.eq((r.status_code, r.std_out), (0, b"ntlm\r\n"),
             "ntlm: NTLMSSP inside Negotiate accepted")
        st = w.stats()
        c.eq(st["ntlm_handshakes"], 1,
             "ntlm: one handshake, the connection stays authenticated")
        c.eq(st["last_headers"].get("Authorization"), None,
             "ntlm: later requests carry no Authorization")
        try:
            winrm.Session(w.url, auth=(ADMIN, "wrong"), transport="ntlm",
                          message_encryption="never").run_cmd("echo", ["x"])
            c.ok(False, "ntlm: bad password refused")
        except InvalidCredentialsError:
            c.ok(True, "ntlm: bad password refused (401)")
        no_defects(w, "ntlm")

# ---- Kerberos from a real MIT KDC on loopback (requests-kerberos) --------
def kerberos_round():
    import krb5kdc
    import spnego
    why = krb5kdc.missing() or spnego.available()
    try:
        import requests_kerberos  # noqa: F401
    except ImportError as e:
        why = why or "python3-requests-kerberos: %s" % e
    if why:
        print("# Kerberos not checked: %s" % why)
        return
    with krb5kdc.Realm() as kdc:
        kdc.add_principal("administrator", keytab=kdc.client_keytab)
        kdc.add_principal("HTTP/localhost", keytab=kdc.service_keytab)
        env = kdc.env()
        saved = {k: os.environ.get(k) for k in env if k.startswith("KRB5")}
        os.environ.update({k: v for k, v in env.items()
                           if k.startswith("KRB5")})
        try:
            with MockWinRM(["--exchange", "none", "--auth", "kerberos",
                            "--keytab", kdc.service_keytab], env=env) as w:
                url = "http://localhost:%d/wsman" % w.port
                s = winrm.Session(url, auth=(None, None),
                                  transport="kerberos",
                                  message_encryption="never")
                r = s.run_cmd("echo", ["kerberos"])
                c.eq((r.status_code, r.std_out), (0, b"kerberos\r\n"),
                     "kerberos: SPNEGO/Kerberos accepted")
                c.ok(w.stats()["negotiate_handshakes"] >= 1,
                     "kerberos: the handshake counted")
                no_defects(w, "kerberos")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


kerberos_round()

# ---- the control API refuses what it does not know ------------------------
with MockWinRM(["--exchange", "none", "--auth", "basic"]) as w:
    st, body = w.control("inject", {"action": "Nope", "fault": "timeout"})
    c.eq(st, 400, "control: an unknown action refused")
    st, body = w.control("inject", {"action": "Create", "fault": "nope"})
    c.eq(st, 400, "control: an unknown fault refused")
    st, body = w.control("nope")
    c.eq(st, 404, "control: an unknown control refused")
    st, _, _ = w.post("<s:Envelope xmlns:s='http://www.w3.org/2003/05/"
                      "soap-envelope'><s:Body/></s:Envelope>")
    c.eq(st, 401, "wsman: no credentials, 401")
c.done()
