#!/usr/bin/python3
"""The exchange-powershell-winrm transport (wr_wsman.c, wr_pool.c) against
the mock WinRM server (tests/mock/winrm_server.py) through a small driver
(brokers/exchange-powershell-winrm/tests/wr_transport_client), without the
daemon: scripts run over Basic and over TLS, shells are reused and never
more than max_shells, output cut inside UTF-8 characters comes back whole,
a long script goes on stdin, the Receive is re-sent on the TimedOut fault,
a forgotten shell is replaced, NTLMv2 inside Negotiate and Kerberos
(a loopback MIT KDC) authenticate,
the server's shell quota and a bad password
give the documented errors, a hung server times out within the deadline,
and every shell is deleted at the end."""
import base64
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
BUILD = os.environ.get("top_builddir") or SRC
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402
from winrm_server import MockWinRM  # noqa: E402

c = sbtest.Checks()
DRIVER = os.path.join(BUILD, "brokers", "exchange-powershell-winrm",
                      "tests", "wr_transport_client")
if not os.path.exists(DRIVER):
    print("# no %s (not built)" % DRIVER)
    sys.exit(sbtest.SKIP)
ADMIN = "EXAMPLE\\administrator"
PW = "Secret-Pw-1"


def run(w, scripts, user=ADMIN, pw=PW, auth="basic", max_shells=2,
        deadline_ms=20000, threads=1, ca=None, url=None, timeout=120,
        env=None):
    args = [DRIVER, url or w.url, auth, user, pw, str(max_shells),
            str(deadline_ms)]
    if threads > 1:
        args += ["-t", str(threads)]
    if ca:
        args += ["-c", ca]
    p = subprocess.run(args + list(scripts), capture_output=True,
                       timeout=timeout, env=env)
    runs, stats, done = [], None, False
    for line in p.stdout.decode().splitlines():
        if line.startswith("R "):
            f = dict(kv.split("=", 1) for kv in line.split()[2:])
            for k in ("out", "err", "msg"):
                f[k] = base64.b64decode(f[k])
            f["exit"] = int(f["exit"])
            f["started"] = f["started"] == "1"
            runs.append(f)
        elif line.startswith("STATS "):
            stats = dict((k, int(v)) for k, v in
                         (kv.split("=") for kv in line.split()[1:]))
        elif line == "DONE":
            done = True
    if p.returncode != 0 or not done:
        print("# driver rc %d: %s" % (p.returncode,
                                     p.stderr.decode()[-2000:]))
    return runs, stats, done


def no_defects(w, name):
    s = w.stats()
    c.eq(s["violations"], [], name + ": no request broke the protocol")
    c.eq(s["internal_errors"], [], name + ": no defect of the mock met")


# ---- Basic: a round, shells reused, deleted at the end -------------------
with MockWinRM(["--exchange", "none", "--auth", "basic",
                "--chunk", "5"]) as w:
    text = "Grüße, 東京 😀 ’quotes’"
    runs, stats, done = run(w, ["Write-Output '%s'" % text, "exit 3",
                                "Write-Error 'Mailbox not found'"])
    c.ok(done and len(runs) == 3, "basic: three runs")
    r = runs[0]
    c.eq((r["st"], r["exit"], r["started"]), ("ok", 0, True),
         "basic: a script runs")
    c.eq(r["out"], (text + "\r\n").encode("utf-8"),
         "basic: output cut every 5 bytes, inside characters, comes back "
         "whole as bytes")
    c.eq((runs[1]["st"], runs[1]["exit"]), ("ok", 3), "basic: exit code")
    c.eq(runs[2]["err"], b"Mailbox not found",
         "basic: CLIXML stderr reduced to the cmdlet's words")
    s = w.stats()
    c.eq(s["shells_created"], 1, "basic: one shell for three scripts")
    c.eq(s["shells_deleted"], 1, "basic: deleted at the last put")
    c.eq(s["signals"], 3, "basic: Signal terminate after every command")
    c.ok(s["by_action"].get("Receive", 0) > 3,
         "basic: output in several Receive answers")
    c.eq(s["option_sets"][0], {"WINRS_NOPROFILE": "TRUE",
                               "WINRS_CODEPAGE": "65001",
                               "WINRS_SKIP_CMD_SHELL": "TRUE"},
         "basic: the shell's options")
    c.eq(s["option_sets"][1], {"WINRS_CONSOLEMODE_STDIN": "TRUE",
                               "WINRS_SKIP_CMD_SHELL": "TRUE"},
         "basic: the command's options")
    c.eq(s["idle_timeouts"], [600.0], "basic: IdleTimeOut asked")
    c.eq(s["scripts"][0], "Write-Output '%s'" % text,
         "basic: the script arrived as written (-EncodedCommand)")
    no_defects(w, "basic")

    # a long script goes on stdin and still runs
    with tempfile.NamedTemporaryFile("w", suffix=".ps1", delete=False,
                                     encoding="utf-8") as f:
        f.write("# " + "x" * 20000 + "\nWrite-Output 'long é'\n")
        long_path = f.name
    w.ok("reset")
    runs, _, _ = run(w, ["@" + long_path])
    os.unlink(long_path)
    c.eq((runs[0]["st"], runs[0]["out"]), ("ok", "long é\r\n".encode()),
         "stdin: a script past the command-line limit runs")
    s = w.stats()
    c.ok(s["sends"] >= 1, "stdin: sent with rsp:Send")
    c.ok(s["scripts"][0].startswith("# xxx") and "long é" in s["scripts"][0],
         "stdin: the server read the whole script as UTF-8")

    # the Receive is re-sent on the TimedOut fault
    w.ok("reset")
    w.ok("inject", {"action": "Receive", "fault": "timeout", "count": 3})
    runs, _, _ = run(w, ["Write-Output 'late'"])
    c.eq((runs[0]["st"], runs[0]["out"]), ("ok", b"late\r\n"),
         "timeout fault: Receive re-sent until Done")
    c.eq(w.stats()["by_action"].get("Receive"), 4,
         "timeout fault: three faults, then the answer")

    # a slow command: the server's own TimedOut faults, then the output
    w.ok("reset")
    runs, _, _ = run(w, ["Start-Sleep -Seconds 5",
                         "Write-Output 'after'"], deadline_ms=2500)
    c.eq(runs[0]["st"], "timeout",
         "deadline: a command outliving the call times out")
    c.eq(runs[0]["code"], "outcome_unknown",
         "deadline: it may or may not have run")
    c.ok(b"may or may not have run" in runs[0]["msg"],
         "deadline: the message says so")
    c.eq((runs[1]["st"], runs[1]["out"]), ("ok", b"after\r\n"),
         "deadline: the shell serves the next call")
    c.ok(w.stats()["signals"] >= 2, "deadline: Signal after the timeout too")
    no_defects(w, "deadline")

    # a forgotten shell (a restarted server) is replaced
    w.ok("reset")
    w.ok("inject", {"action": "Command", "fault": "shell_not_found"})
    runs, _, _ = run(w, ["Write-Output 'again'"])
    c.eq((runs[0]["st"], runs[0]["out"]), ("ok", b"again\r\n"),
         "forgotten shell: replaced before the command starts")
    c.eq(w.stats()["shells_created"], 2,
         "forgotten shell: a new one was made")

    # concurrency: never more than max_shells
    w.ok("reset")
    runs, stats, _ = run(w, ["Start-Sleep -Milliseconds 300",
                             "Write-Output 'x'"], threads=6, max_shells=2)
    c.eq([r["st"] for r in runs], ["ok"] * 12,
         "pool: 12 runs on 6 threads all done")
    s = w.stats()
    c.ok(s["max_shells_open"] <= 2 and stats["max"] <= 2,
         "pool: never more than max_shells shells (%d)"
         % s["max_shells_open"])
    c.eq(s["shells_open"], 0, "pool: every shell deleted at the end")

    # deadline while waiting for a shell: throttled
    w.ok("reset")
    runs, _, _ = run(w, ["Start-Sleep -Seconds 3"], threads=2, max_shells=1,
                     deadline_ms=2000)
    sts = sorted(r["st"] for r in runs)
    c.ok("throttled" in sts,
         "pool: a call that cannot get a shell in time is throttled (%s)"
         % sts)

    # bad password, access denied
    w.ok("reset")
    runs, _, _ = run(w, ["Write-Output 'x'"], pw="wrong")
    c.eq((runs[0]["st"], runs[0]["started"]), ("upstream_auth", False),
         "bad password: upstream_auth")
    w.ok("inject", {"action": "Create", "fault": "access_denied"})
    runs, _, _ = run(w, ["Write-Output 'x'"])
    c.eq(runs[0]["st"], "upstream_denied", "access denied: 403")
    c.ok(b"Access is denied." in runs[0]["msg"],
         "access denied: the server's words")
    no_defects(w, "errors")

# ---- the server's shell quota -------------------------------------------
with MockWinRM(["--exchange", "none", "--auth", "basic",
                "--max-shells", "1"]) as w:
    runs, stats, _ = run(w, ["Start-Sleep -Milliseconds 500",
                             "Write-Output 'q'"], threads=3, max_shells=3)
    c.eq([r["st"] for r in runs], ["ok"] * 6,
         "quota: the too-many-shells fault waits for our own shell")
    c.eq(w.stats()["max_shells_open"], 1, "quota: the server's quota held")
    w.ok("reset")
    # someone else holds the only shell: throttled with a retry
    w.ok("inject", {"action": "Create", "fault": "too_many_shells"})
    runs, _, _ = run(w, ["Write-Output 'q'"])
    c.eq((runs[0]["st"], runs[0]["code"]), ("throttled", "2150859174"),
         "quota: throttled, with the fault's code")

# ---- NTLM inside Negotiate (the SDK's ntlm-negotiate) ------------------
with MockWinRM(["--exchange", "none", "--auth", "ntlm"]) as w:
    runs, _, _ = run(w, ["Write-Output 'n1'", "Write-Output 'n2'"],
                     auth="ntlm")
    c.eq([(r["st"], r["out"]) for r in runs],
         [("ok", b"n1\r\n"), ("ok", b"n2\r\n")],
         "ntlm: scripts run with NTLMv2 inside Negotiate")
    s = w.stats()
    c.eq(s["ntlm_handshakes"], 1,
         "ntlm: one handshake, the connection stays authenticated")
    runs, _, _ = run(w, ["Write-Output 'x'"], auth="ntlm", pw="wrong")
    c.eq((runs[0]["st"], runs[0]["started"]), ("upstream_auth", False),
         "ntlm: a bad password is upstream_auth")
    no_defects(w, "ntlm")

# ---- Kerberos (the SDK's negotiate) from a real MIT KDC on loopback ----
def kerberos_round():
    import krb5kdc
    import spnego
    why = krb5kdc.missing() or spnego.available()
    if why:
        print("# Kerberos not checked: %s" % why)
        return
    with krb5kdc.Realm() as kdc:
        kdc.add_principal("administrator", keytab=kdc.client_keytab)
        kdc.add_principal("HTTP/localhost", keytab=kdc.service_keytab)
        env = kdc.env()
        with MockWinRM(["--exchange", "none", "--auth", "kerberos",
                        "--keytab", kdc.service_keytab], env=env) as w:
            url = "http://localhost:%d/wsman" % w.port
            runs, _, _ = run(w, ["Write-Output 'k1'", "Write-Output 'k2'"],
                             auth="kerberos", url=url, env=env)
            c.eq([(r["st"], r["out"]) for r in runs],
                 [("ok", b"k1\r\n"), ("ok", b"k2\r\n")],
                 "kerberos: scripts run with the process's own ticket")
            c.ok(w.stats()["negotiate_handshakes"] >= 1,
                 "kerberos: the Negotiate handshake counted")
            nokey = kdc.env(
                KRB5_CLIENT_KTNAME="FILE:" + os.path.join(w.dir, "no.kt"),
                KRB5CCNAME="FILE:" + os.path.join(w.dir, "no.cc"))
            runs, _, _ = run(w, ["Write-Output 'x'"], auth="kerberos",
                             url=url, env=nokey)
            c.eq(runs[0]["st"], "upstream_auth",
                 "kerberos: no credentials is upstream_auth")
            no_defects(w, "kerberos")


kerberos_round()

# ---- a hung server ---------------------------------------------------------
with MockWinRM(["--exchange", "none", "--auth", "basic"]) as w:
    w.ok("inject", {"action": "Create", "delay_ms": 8000})
    t0 = time.monotonic()
    runs, _, _ = run(w, ["Write-Output 'x'"], deadline_ms=2000)
    took = time.monotonic() - t0
    c.eq((runs[0]["st"], runs[0]["started"]), ("timeout", False),
         "hung server: timeout before any command")
    c.ok(took < 6, "hung server: within the deadline (%.1f s)" % took)

# ---- TLS with the tests' own CA -----------------------------------------
certs = sbtest.tempdir("sbtest-winrm-certs-")
mk = os.path.join(SRC, "tests", "mock", "make_certs.sh")
p = subprocess.run(["sh", mk, certs], capture_output=True, timeout=60)
cert = os.path.join(certs, "server.pem")
key = os.path.join(certs, "server.key")
ca = os.path.join(certs, "ca.pem")
if p.returncode == 0 and os.path.exists(cert) and os.path.exists(ca):
    with MockWinRM(["--exchange", "none", "--auth", "basic", "--cert", cert,
                    "--key", key]) as w:
        url = "https://localhost:%d/wsman" % w.port
        runs, _, _ = run(w, ["Write-Output 'tls'"], ca=ca, url=url)
        c.eq((runs[0]["st"], runs[0]["out"]), ("ok", b"tls\r\n"),
             "tls: verified against the tests' CA")
        runs, _, _ = run(w, ["Write-Output 'tls'"], url=url)
        c.eq((runs[0]["st"], runs[0]["code"]),
             ("upstream_error", "tls_verify"),
             "tls: an unknown CA is refused")
else:
    print("# make_certs.sh failed, TLS not checked: %s" %
          p.stderr.decode()[-500:])
c.done()
