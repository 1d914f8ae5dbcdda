#!/usr/bin/python3
"""exchange-powershell-winrm broker end to end through the real daemon
against the mock WinRM server (tests/mock/winrm_server.py) running the
broker's scripts on its Exchange emulator (tests/mock/winrm_exchange.py),
over https with the test's own CA: every method on Exchange 2013 and 2007
(StorageGroup, Enable-Mailbox's database), every error status of the
broker's docs, hostile identities arriving as data, display names
round-tripped exactly, Mailbox.List paging over 250 mailboxes with equal
names in two OUs, and max_shells never exceeded at the server, also
across a reload."""
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402

if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)
if not shutil.which("openssl"):
    print("# openssl command not found")
    sys.exit(sbtest.SKIP)
from winrm_server import MockWinRM  # noqa: E402

c = sbtest.Checks()
ADMIN = "EXAMPLE\\administrator"
PW = "Secret-Pw-1"
SLOW = 4 if sbtest.VALGRIND else 1

pki = sbtest.tempdir("sbtest-winrm-pki-")


def make_pki():
    ca_key, ca = os.path.join(pki, "ca.key"), os.path.join(pki, "ca.pem")
    key, csr = os.path.join(pki, "server.key"), os.path.join(pki, "s.csr")
    crt, ext = os.path.join(pki, "server.pem"), os.path.join(pki, "ext")

    def run(*a):
        subprocess.run(list(a), check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "1", "-subj",
        "/CN=svcbroker test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
        "-out", csr, "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", ext)
    return ca, crt, key


CA, CRT, KEY = make_pki()
TLS = ["--cert", CRT, "--key", KEY]


def inst(name, url, extra=""):
    if "timeout" not in extra:
        extra += "timeout = %ds\n" % (60 * SLOW)
    return ("[instance %s]\nbroker = exchange-powershell-winrm\nurl = %s\n"
            "auth = basic\nusername = %s\npassword = %s\nca_file = %s\n%s\n"
            % (name, url, ADMIN, PW, CA, extra))


MODULE = "[module exchange-powershell-winrm]\nenabled = yes\n"


def err(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def rows(body):
    return body.get("rows", []) if isinstance(body, dict) else []


def first(body):
    r = rows(body)
    return r[0] if r else {}


answers = []


def call(d, addr, inputs=None, timeout=120):
    st, b = d.call(addr, inputs, timeout=timeout * SLOW)
    answers.append(repr(b))
    return st, b


def ex(w, method, path, body=None):
    st, _, raw = w._http(method, "/_mock/exchange/" + path,
                         None if body is None else
                         __import__("json").dumps(body).encode(),
                         {"Content-Type": "application/json"})
    return st, __import__("json").loads(raw)


def state(w):
    return ex(w, "GET", "state")[1]


def seed(w, users):
    st, b = ex(w, "POST", "seed", {"users": users})
    if st != 200:
        raise RuntimeError("seed: %s" % b)
    return b


def no_refusal(w, what):
    refused = state(w).get("refused", [])
    c.eq([r["reason"] for r in refused], [],
         "%s: every script was one the broker writes (none refused)" % what)


# ---- Exchange 2013 ----------------------------------------------------------
def tests_2013(d, w):
    # ExchangeServer
    st, b = call(d, "ex/ExchangeServer.List")
    c.eq(st, 200, "ExchangeServer.List answers 200")
    c.eq(sorted(r.get("Name") for r in rows(b)), ["EX01", "EX02"],
         "ExchangeServer.List: both servers")
    ex01 = [r for r in rows(b) if r.get("Name") == "EX01"]
    c.eq(ex01 and ex01[0].get("ServerRole"), ["Mailbox", "ClientAccess"],
         "ExchangeServer.List: ServerRole is a list of roles")
    st, b = call(d, "ex/ExchangeServer.Load", {"Identity": "ex02.example.test"})
    c.eq((st, first(b).get("Name"), first(b).get("Edition")),
         (200, "EX02", "Standard"), "ExchangeServer.Load by FQDN")
    c.eq(first(b).get("AdminDisplayVersion"), "Version 15.1 (Build 2507.6)",
         "ExchangeServer.Load: AdminDisplayVersion as text")
    st, b = call(d, "ex/ExchangeServer.Load", {"Identity": "EX09"})
    c.eq((st, err(b).get("category"), err(b).get("code")),
         (404, "not_found", "ManagementObjectNotFoundException"),
         "unknown server: 404 with the cmdlet exception's name as code")
    c.ok("EX09" in err(b).get("message", ""),
         "unknown server: the message has the server's words",
         err(b).get("message"))

    # MailboxDatabase
    st, b = call(d, "ex/MailboxDatabase.List")
    c.eq(st, 200, "MailboxDatabase.List answers 200")
    by = {r.get("Name"): r for r in rows(b)}
    c.eq(sorted(by), ["DB01", "DB02", "DB03"], "MailboxDatabase.List: all")
    c.eq((by.get("DB01", {}).get("Mounted"),
          by.get("DB01", {}).get("DatabaseSize")), (True, 1610612736),
         "MailboxDatabase: Mounted and DatabaseSize in bytes")
    c.eq((by.get("DB02", {}).get("Mounted"),
          "DatabaseSize" in by.get("DB02", {})), (False, False),
         "a dismounted database: Mounted false, no DatabaseSize")
    c.eq(by.get("DB01", {}).get("EdbFilePath"),
         "D:\\Databases\\DB01\\DB01.edb", "MailboxDatabase: EdbFilePath")
    st, b = call(d, "ex/MailboxDatabase.List", {"Server": "EX02"})
    c.eq([r.get("Name") for r in rows(b)], ["DB03"],
         "MailboxDatabase.List Server filter")
    st, b = call(d, "ex/MailboxDatabase.Load", {"Identity": "DB03"})
    c.eq((st, first(b).get("Server"), first(b).get("DatabaseSize")),
         (200, "EX02", 52428800), "MailboxDatabase.Load")
    calls = state(w)["calls"]
    c.ok(calls and "-Status" in calls[-1]["switches"],
         "MailboxDatabase reads its status (-Status)")

    # StorageGroup: Exchange 2007 only
    for m, inp in (("List", {}), ("Load", {"Identity": "EX01\\SG"})):
        st, b = call(d, "ex/StorageGroup." + m, inp)
        c.eq((st, err(b).get("category")), (405, "method_not_allowed"),
             "StorageGroup.%s on Exchange 2013: 405" % m)
        c.ok("2007" in err(b).get("message", ""),
             "StorageGroup.%s: the refusal says why" % m)

    # Mailbox
    st, b = call(d, "ex/Mailbox.Load", {"Identity": "Alice Example"})
    c.eq((st, first(b).get("PrimarySmtpAddress"), first(b).get("Database")),
         (200, "AliceExample@example.test", "DB01"), "Mailbox.Load")
    c.eq(first(b).get("Identity"), "example.test/Users/Alice Example",
         "Mailbox.Load: Identity")
    st, b = call(d, "ex/Mailbox.Enable", {"Identity": "Bob Example",
                                          "Database": "DB03",
                                          "Alias": "bob"})
    c.eq((st, first(b).get("Alias"), first(b).get("Database"),
          first(b).get("PrimarySmtpAddress")),
         (200, "bob", "DB03", "bob@example.test"),
         "Mailbox.Enable returns the new mailbox")
    st, b = call(d, "ex/Mailbox.Enable", {"Identity": "Bob Example"})
    c.eq((st, err(b).get("category")), (409, "conflict"),
         "Mailbox.Enable of an enabled user: 409")
    c.ok("already mailbox-enabled" in err(b).get("message", ""),
         "already enabled: the server's words", err(b))
    st, b = call(d, "ex/Mailbox.Disable", {"Identity": "bob"})
    c.eq(st, 200, "Mailbox.Disable answers 200")
    c.ok("-Confirm:$false" in state(w)["calls"][-1]["switches"],
         "Disable-Mailbox carries -Confirm:$false")
    st, b = call(d, "ex/Mailbox.Load", {"Identity": "bob"})
    c.eq((st, err(b).get("code")), (404, "ManagementObjectNotFoundException"),
         "after Disable the mailbox is gone: 404")
    st, b = call(d, "ex/Mailbox.Disable", {"Identity": "bob"})
    c.eq(st, 404, "Disable of no mailbox: 404")
    st, b = call(d, "ex/Mailbox.Enable", {"Identity": "Bob Example"})
    c.eq((st, first(b).get("Database")), (200, "DB01"),
         "Exchange 2013: Enable without Database picks one")

    # ambiguous identity
    seed(w, [{"ou": "Sales", "name": "John Smith"},
             {"ou": "Engineering", "name": "John Smith"}])
    st, b = call(d, "ex/Mailbox.Enable", {"Identity": "John Smith"})
    c.eq((st, err(b).get("category"), err(b).get("code")),
         (409, "conflict", "ManagementObjectAmbiguousException"),
         "ambiguous identity: 409 with the exception name")
    st, b = call(d, "ex/Mailbox.Enable",
                 {"Identity": "CN=John Smith,OU=Sales,DC=example,DC=test"})
    c.eq((st, first(b).get("Identity")),
         (200, "example.test/Sales/John Smith"),
         "Enable by distinguished name picks the one user")

    # NamePrefix with a wildcard, tampered page token
    st, b = call(d, "ex/Mailbox.List", {"NamePrefix": "a*"})
    c.eq((st, err(b).get("category")), (400, "invalid_input"),
         "NamePrefix with '*': 400")
    c.ok("NamePrefix" in err(b).get("message", ""),
         "NamePrefix refusal names the input")
    no_refusal(w, "Exchange 2013 methods")


HOSTILE = ["x'; Remove-Mailbox -Identity * ;'",
           "a\u2019; Remove-Mailbox -Identity * ;\u2018",
           "b\u201a\u201b$(Remove-Mailbox -Identity *)",
           "c`; Remove-Mailbox `$x",
           "d\nRemove-Mailbox -Identity *",
           "e --% Remove-Mailbox -Identity *",
           "f\"$(Get-Process)\"# no comment"]
NAMES = ["O'Brien \u2019quoted\u2019 \"double\"",
         "line1\r\nline2\ttabbed",
         "$(Remove-Mailbox -Identity *) `backtick`",
         "\u4e2d\u6587\u540d\u5b57 \u65e5\u672c\u8a9e",
         "  spaced  "]


def tests_injection(d, w):
    users = [{"ou": "Hostile", "name": "Hostile %d" % i, "alias": "h%d" % i,
              "mailbox": True, "display": v}
             for i, v in enumerate(HOSTILE + NAMES)]
    users += [{"ou": "Hostile", "name": v, "mailbox": False}
              for v in HOSTILE]
    seed(w, users)
    for v in HOSTILE:
        if "\n" in v:
            # a text input holds no line break: the host refuses it
            st, b = call(d, "ex/Mailbox.Load", {"Identity": v})
            c.eq((st, err(b).get("category")), (400, "invalid_input"),
                 "an identity with a line break: 400 before any script")
            continue
        st, b = call(d, "ex/Mailbox.Enable", {"Identity": v})
        last = state(w)["calls"][-1]
        c.eq((st, last["cmdlet"], last["params"].get("Identity")),
             (200, "Enable-Mailbox", v),
             "hostile identity %r arrives whole as data" % v)
        st, b = call(d, "ex/Mailbox.Load", {"Identity": v})
        c.eq((st, first(b).get("Identity")),
             (200, "example.test/Hostile/" + v),
             "hostile identity %r: Mailbox.Load finds exactly it" % v)
        # OPATH's wildcard cannot be escaped: a prefix stops before it
        prefix = v.split("*")[0]
        st, b = call(d, "ex/Mailbox.List", {"NamePrefix": prefix})
        c.eq((st, [r.get("Identity") for r in rows(b)]),
             (200, ["example.test/Hostile/" + v]),
             "hostile NamePrefix %r: an OPATH value, one match" % prefix)
        c.eq(state(w)["calls"][-1]["params"].get("Filter"),
             "Name -like '%s*'" % "".join(
                 ch * 2 if ch in "'\u2018\u2019\u201a\u201b" else ch
                 for ch in prefix),
             "hostile NamePrefix %r: the filter escaped for OPATH" % prefix)
    st, b = call(d, "ex/Mailbox.Load", {"Identity": "Alice Example"})
    c.eq(st, 200, "no mailbox was removed by a hostile identity")
    c.eq(sum(1 for u in state(w)["users"] if u["Mailbox"]) >= 2 +
         len(HOSTILE) * 2, True, "every mailbox is still there")
    for i, v in enumerate(HOSTILE + NAMES):
        st, b = call(d, "ex/Mailbox.Load", {"Identity": "h%d" % i})
        c.eq((st, first(b).get("DisplayName")), (200, v),
             "display name %r round-trips exactly" % v)
    st, b = call(d, "ex/Mailbox.Load", {"Identity": "a\u0000b"})
    c.eq(st, 400, "a NUL in an identity is refused")
    no_refusal(w, "hostile identities")


def tests_paging(d, w):
    users = []
    for i in range(125):
        for ou in ("Paging A", "Paging B"):
            users.append({"ou": ou, "name": "Pg %03d" % i,
                          "alias": "pg%s%03d" % (ou[-1].lower(), i),
                          "mailbox": True,
                          "database": "DB03" if i % 5 == 0 else "DB01"})
    seed(w, users)
    seen, pages, token = [], 0, None
    while pages < 30:
        inp = {"NamePrefix": "Pg ", "PageSize": 40}
        if token:
            inp["PageToken"] = token
        st, b = call(d, "ex/Mailbox.List", inp)
        if st != 200:
            c.ok(False, "Mailbox.List page %d answers 200" % pages, b)
            break
        pages += 1
        c.ok(len(rows(b)) <= 40, "page %d holds at most PageSize rows"
             % pages)
        seen += [r.get("Identity") for r in rows(b)]
        token = b.get("next_page_token")
        if not token:
            break
    c.eq(len(seen), 250, "paging: 250 mailboxes in all")
    c.eq(len(set(seen)), 250, "paging: no mailbox twice")
    c.eq(pages, 7, "paging: 7 pages of at most 40")
    c.ok("example.test/Paging A/Pg 007" in seen and
         "example.test/Paging B/Pg 007" in seen,
         "paging: equal names in two OUs both listed")
    st, b = call(d, "ex/Mailbox.List", {"NamePrefix": "Pg ",
                                        "Database": "DB03",
                                        "PageSize": 1000})
    c.eq((st, len(rows(b))), (200, 50), "Mailbox.List Database filter")
    c.ok(all(r.get("Database") == "DB03" for r in rows(b)),
         "Database filter: only DB03's mailboxes")
    st, b = call(d, "ex/Mailbox.List", {"Server": "EX02", "PageSize": 1000})
    c.ok(st == 200 and len(rows(b)) >= 50 and
         all(r.get("Database") == "DB03" for r in rows(b)),
         "Mailbox.List Server filter: the mailboxes of EX02's database")
    seed(w, [{"ou": "Users", "name": "Shared Desk", "mailbox": True,
              "recipient_type": "SharedMailbox"}])
    st, b = call(d, "ex/Mailbox.List",
                 {"RecipientTypeDetails": "SharedMailbox"})
    c.eq((st, [r.get("Identity") for r in rows(b)]),
         (200, ["example.test/Users/Shared Desk"]),
         "Mailbox.List RecipientTypeDetails filter")
    # a token of another listing, and an altered one
    st, b = call(d, "ex/Mailbox.List", {"NamePrefix": "Pg ", "PageSize": 40})
    tok = b.get("next_page_token", "")
    st, b = call(d, "ex/Mailbox.List", {"NamePrefix": "Pq ",
                                        "PageToken": tok})
    c.eq((st, err(b).get("code")), (400, "ErrorInvalidPageToken"),
         "a page token of another listing: 400")
    st, b = call(d, "ex/Mailbox.List", {"NamePrefix": "Pg ",
                                        "PageToken": tok[:-2] + "AA"})
    c.eq(st, 400, "an altered page token: 400")
    no_refusal(w, "paging")


def tests_errors(d, w):
    w.ok("inject", {"action": "Create", "http_status": 401})
    w.ok("forget")
    st, b = call(d, "ex/ExchangeServer.List")
    c.eq((st, err(b).get("category")), (502, "upstream_auth"),
         "HTTP 401: 502 upstream_auth")
    w.ok("inject", {"action": "Command", "fault": "access_denied"})
    st, b = call(d, "ex/ExchangeServer.List")
    c.eq((st, err(b).get("category")), (403, "upstream_denied"),
         "WS-Man access denied: 403")
    w.ok("forget")
    w.ok("inject", {"action": "Create", "fault": "too_many_shells",
                    "count": -1})
    st, b = call(d, "ex/ExchangeServer.List")
    c.eq((st, err(b).get("category")), (429, "throttled"),
         "too many shells: 429")
    c.ok(err(b).get("retry_after_ms", 0) > 0, "429 carries retry_after_ms",
         err(b))
    w.ok("reset")
    # deadline passing after Enable was sent
    seed(w, [{"ou": "Users", "name": "Slow User"}])
    ex(w, "POST", "delay", {"ms": 8000 * SLOW,
                            "cmdlets": ["Enable-Mailbox"]})
    t0 = time.monotonic()
    st, b = call(d, "short/Mailbox.Enable", {"Identity": "Slow User"})
    took = time.monotonic() - t0
    c.ok(st in (502, 504) and "may or may not have run" in
         err(b).get("message", ""),
         "deadline after Enable was sent: it may or may not have run",
         (st, b))
    c.ok(took < 7 * SLOW, "the answer came within the deadline (%.1fs)"
         % took)
    ex(w, "POST", "delay", {"ms": 0})
    # hung host: Receive never answers in time
    w.ok("inject", {"action": "Receive", "delay_ms": 9000 * SLOW,
                    "count": -1})
    t0 = time.monotonic()
    st, b = call(d, "short/ExchangeServer.List")
    took = time.monotonic() - t0
    c.ok((st, err(b).get("category")) == (504, "timeout"),
         "hung host: 504", (st, b))
    c.ok(took < 7 * SLOW, "hung host: within the deadline (%.1fs)" % took)
    w.ok("reset")


def tests_unreachable():
    port = sbtest.free_port()
    body = MODULE + inst("gone", "https://127.0.0.1:%d/wsman" % port)
    with sbtest.Daemon(body) as d:
        st, b = call(d, "gone/ExchangeServer.List")
        c.eq((st, err(b).get("category")), (503, "unavailable"),
             "unreachable host: 503")


def tests_2007():
    with MockWinRM(TLS + ["--exchange", "2007", "--lifetime", "600"]) as w:
        body = MODULE + inst("e7", w.url, "exchange_version = 2007\n")
        with sbtest.Daemon(body) as d:
            st, b = call(d, "e7/StorageGroup.List")
            c.eq((st, sorted(r.get("Identity") for r in rows(b))),
                 (200, ["EX01\\First Storage Group",
                        "EX02\\First Storage Group"]),
                 "Exchange 2007: StorageGroup.List")
            st, b = call(d, "e7/StorageGroup.List", {"Server": "EX02"})
            c.eq([r.get("Server") for r in rows(b)], ["EX02"],
                 "StorageGroup.List Server filter")
            st, b = call(d, "e7/StorageGroup.Load",
                         {"Identity": "EX01\\First Storage Group"})
            c.eq((st, first(b).get("Name")), (200, "First Storage Group"),
                 "StorageGroup.Load")
            st, b = call(d, "e7/MailboxDatabase.Load", {"Identity": "DB03"})
            c.eq((st, first(b).get("StorageGroup"),
                  "DatabaseSize" in first(b)),
                 (200, "EX02\\First Storage Group", False),
                 "Exchange 2007: a database's StorageGroup, no size")
            st, b = call(d, "e7/Mailbox.Enable", {"Identity": "Bob Example"})
            c.eq((st, err(b).get("category")), (400, "invalid_input"),
                 "Exchange 2007: Enable without Database is 400")
            c.ok("Database" in err(b).get("message", ""),
                 "the 400 names Database")
            st, b = call(d, "e7/Mailbox.Enable",
                         {"Identity": "Bob Example",
                          "Database": "EX01\\First Storage Group\\DB01"})
            c.eq((st, first(b).get("Database")),
                 (200, "EX01\\First Storage Group\\DB01"),
                 "Exchange 2007: Enable with Database")
            st, b = call(d, "e7/ExchangeServer.Load", {"Identity": "EX01"})
            c.eq(first(b).get("AdminDisplayVersion"),
                 "Version 8.3 (Build 83.6)", "Exchange 2007 server")
            scripts = w.stats().get("scripts", [])
            c.ok(scripts and all("PowerShell.Admin" in s for s in scripts),
                 "Exchange 2007: the Admin snap-in is loaded")
            no_refusal(w, "Exchange 2007")


def shell_cfg(n):
    return MODULE + inst("sh", WURL, "max_shells = %d\n" % n)


def generation(d):
    st, body = d.get("/v1/health")
    return body.get("generation") if st == 200 else None


def tests_shells():
    with MockWinRM(TLS + ["--lifetime", "600", "--max-shells", "10"]) as w:
        global WURL
        WURL = w.url
        with sbtest.Daemon(shell_cfg(3)) as d:
            ex(w, "POST", "delay", {"ms": 300, "cmdlets":
                                    ["Get-ExchangeServer"]})
            results = []
            lock = threading.Lock()

            def one():
                st, b = d.call("sh/ExchangeServer.List", timeout=120 * SLOW)
                with lock:
                    results.append(st)
            threads = [threading.Thread(target=one) for _ in range(8)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            g0 = generation(d)
            with open(d.config) as f:
                text = f.read()
            server = text.split("\n[module", 1)[0]
            with open(d.config + ".new", "w") as f:
                f.write(server + "\n" + shell_cfg(2))
            os.replace(d.config + ".new", d.config)
            d.signal(signal.SIGHUP)
            c.ok(sbtest.wait_for(lambda: generation(d) not in (None, g0),
                                 20 * SLOW), "shells: the reload applied")
            more = [threading.Thread(target=one) for _ in range(6)]
            for t in more:
                t.start()
            for t in threads + more:
                t.join(300)
            c.eq(sorted(set(results)), [200],
                 "shells: every call answered 200")
            st = w.stats()
            c.ok(1 <= st.get("max_shells_open", 99) <= 3,
                 "max_shells never exceeded at the server, across a reload",
                 st.get("max_shells_open"))
            c.ok(st.get("commands", 0) >= 14 and
                 st.get("shells_created", 99) <= 3 + 2,
                 "shells are reused (%s shells for %s commands)"
                 % (st.get("shells_created"), st.get("commands")))


def check_config(body):
    """svcbrokerd --check of a configuration: (exit code, output)."""
    d = sbtest.Daemon(body)
    try:
        p = subprocess.run(sbtest.daemon_command() + ["-c", d.config,
                                                      "--check"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120 * SLOW)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    finally:
        shutil.rmtree(d.workdir, ignore_errors=True)


def tests_config():
    url = "https://127.0.0.1:5986/wsman"
    rc, out = check_config(MODULE + inst("a", url))
    c.eq(rc, 0, "--check accepts an https instance", )
    rc, out = check_config(MODULE + inst("a", "http://127.0.0.1:5985/wsman"))
    c.ok(rc != 0 and "allow_unencrypted" in out,
         "--check refuses http:// without allow_unencrypted", out[-500:])
    rc, out = check_config(
        MODULE + "[instance k]\nbroker = exchange-powershell-winrm\n"
        "url = %s\nauth = kerberos\nusername = x\n" % url)
    c.ok(rc != 0 and "kerberos" in out,
         "--check refuses an account with auth = kerberos", out[-500:])
    rc, out = check_config(
        MODULE + "[instance n]\nbroker = exchange-powershell-winrm\n"
        "url = %s\nauth = ntlm\nusername = x\n" % url)
    c.ok(rc != 0 and "password" in out,
         "--check: auth = ntlm needs a password", out[-500:])
    rc, out = check_config(MODULE + inst("v", url, "exchange_version = 2003\n"))
    c.ok(rc != 0 and "exchange_version" in out,
         "--check refuses an unknown exchange_version", out[-500:])
    rc, out = check_config(MODULE + re.sub(
        r"(?m)^ca_file = .*$", "ca_file = /no/such-ca.pem", inst("f", url)))
    c.ok(rc != 0 and "ca_file: /no/such-ca.pem: no such file" in out,
         "--check: a ca_file that does not exist", out[-500:])
    rc, out = check_config(MODULE + inst(
        "u", "https://user:pw@127.0.0.1:5986/wsman"))
    c.ok(rc != 0 and "no credentials in the URL" in out,
         "--check: credentials in the url are refused", out[-500:])
    # plain http with allow_unencrypted: works, with a warning at start-up
    with MockWinRM(["--lifetime", "300"]) as w:
        body = MODULE + inst("plain", w.url, "allow_unencrypted = yes\n")
        with sbtest.Daemon(body) as d:
            st, b = call(d, "plain/ExchangeServer.List")
            c.eq(st, 200, "http:// with allow_unencrypted = yes works")
            c.ok("clear text" in d.read_log(),
                 "http://: a warning at start-up", d.read_log()[-1000:])


def tests_ntlm():
    with MockWinRM(TLS + ["--auth", "ntlm", "--lifetime", "300"]) as w:
        body = MODULE + inst("nt", w.url, "").replace(
            "auth = basic", "auth = ntlm") + inst("ntbad", w.url).replace(
            "auth = basic", "auth = ntlm").replace(PW, "Wrong-Pw-2")
        with sbtest.Daemon(body) as d:
            for i in range(3):
                st, b = call(d, "nt/Mailbox.Load",
                             {"Identity": "Alice Example"})
                c.eq((st, first(b).get("Alias")), (200, "AliceExample"),
                     "auth = ntlm (NTLMv2 in Negotiate): call %d" % (i + 1))
            st = w.stats()
            c.ok(1 <= st.get("ntlm_handshakes", 0) <= 2,
                 "ntlm: the handshake is not repeated per call",
                 st.get("ntlm_handshakes"))
            st, b = call(d, "ntbad/Mailbox.Load",
                         {"Identity": "Alice Example"})
            c.eq((st, err(b).get("category")), (502, "upstream_auth"),
                 "ntlm with a wrong password: 502 upstream_auth")


def tests_kerberos():
    """auth = kerberos: the daemon's own credentials, from a real MIT KDC
    on loopback (tests/lib/krb5kdc.py)."""
    import krb5kdc
    import spnego
    why = krb5kdc.missing() or spnego.available()
    if why:
        print("# skip Kerberos: %s" % why)
        return
    with krb5kdc.Realm() as kdc:
        kdc.add_principal("administrator", keytab=kdc.client_keytab)
        kdc.add_principal("HTTP/localhost", keytab=kdc.service_keytab)
        with MockWinRM(["--auth", "kerberos", "--keytab",
                        kdc.service_keytab, "--lifetime", "300"],
                       env=kdc.env()) as w:
            # the service principal is HTTP/localhost: the URL names it
            url = "http://localhost:%d/wsman" % w.port
            body = (MODULE + "[instance kr]\nbroker = "
                    "exchange-powershell-winrm\nurl = %s\nauth = kerberos\n"
                    "allow_unencrypted = yes\ntimeout = %ds\n"
                    % (url, 60 * SLOW))
            with sbtest.Daemon(body, env=kdc.env(
                    KRB5CCNAME="MEMORY:svcbroker", KRB5_KTNAME=None)) as d:
                st, b = call(d, "kr/Mailbox.Load",
                             {"Identity": "Alice Example"})
                c.eq((st, first(b).get("Alias")), (200, "AliceExample"),
                     "auth = kerberos: a call with the daemon's Kerberos "
                     "credentials (a client keytab)")
                st, b = call(d, "kr/ExchangeServer.List")
                c.eq(st, 200, "auth = kerberos: a second call")
            nokey = kdc.env(
                KRB5_CLIENT_KTNAME="FILE:" + os.path.join(kdc.dir, "no.kt"),
                KRB5CCNAME="FILE:" + os.path.join(kdc.dir, "cc-none"),
                KRB5_KTNAME=None)
            with sbtest.Daemon(body, env=nokey) as d:
                st, b = call(d, "kr/ExchangeServer.List")
                c.eq((st, err(b).get("category")), (502, "upstream_auth"),
                     "auth = kerberos without credentials: 502 "
                     "upstream_auth")


def tests_grants():
    """Mailbox.Enable, Disable and Load act for the mailbox their Identity
    names (SB_MAILBOX): checked against the client's mailbox grants
    before any script runs."""
    import hashlib
    toks = {n: "%s-%s" % (n, "0123456789abcdef" * 2)
            for n in ("admin", "helpdesk", "own")}

    def h(n):
        return hashlib.sha256(toks[n].encode()).hexdigest()
    with MockWinRM(TLS + ["--lifetime", "300"]) as w:
        body = (MODULE + inst("ex", w.url) +
                "[client admin]\ntoken_sha256 = %s\nallow = */*.*\n"
                "mailboxes = *\n\n[client helpdesk]\ntoken_sha256 = %s\n"
                "allow = ex/Mailbox.*\nmailboxes = *@example.test\n\n"
                "[client own]\ntoken_sha256 = %s\nallow = ex/Mailbox.*\n"
                % (h("admin"), h("helpdesk"), h("own")))
        with sbtest.Daemon(body) as d:
            def as_(who, method, ident):
                return d.request(
                    "POST", "/v1/call/ex/Mailbox/" + method,
                    {"inputs": {"Identity": ident}},
                    headers={"Authorization": "Bearer " + toks[who]},
                    timeout=120 * SLOW)
            st, b = as_("helpdesk", "Load", "AliceExample@example.test")
            c.eq((st, first(b).get("Alias")), (200, "AliceExample"),
                 "a helpdesk client of *@example.test loads a mailbox of "
                 "that domain by its address")
            before = len(state(w)["calls"])
            st, b = as_("helpdesk", "Load", "Alice Example")
            c.ok(st == 403 and "give the mailbox's address" in
                 err(b).get("message", ""),
                 "... but not by a name its grants cannot match: 403",
                 "%s %s" % (st, err(b)))
            st, b = as_("helpdesk", "Disable", "someone@example.org")
            c.ok(st == 403 and "someone@example.org" in
                 err(b).get("message", ""),
                 "Mailbox.Disable of another domain's address: 403 "
                 "naming it", "%s %s" % (st, err(b)))
            st, b = as_("own", "Disable", "AliceExample@example.test")
            c.eq(st, 403, "a client of the default grant disables no "
                 "mailbox (Identity is checked, not the default mailbox)")
            st, b = as_("own", "Enable", "bob@example.test")
            c.eq(st, 403, "... and enables none")
            c.eq(len(state(w)["calls"]), before,
                 "no refused call ran a script")
            st, b = as_("admin", "Load", "Alice Example")
            c.eq((st, first(b).get("Alias")), (200, "AliceExample"),
                 "a client of mailboxes = * loads it by name")
            c.ok("mailbox=AliceExample@example.test" in d.read_log(),
                 "the audit line names the Identity as the mailbox",
                 d.read_log()[-800:])


def main():
    try:
        tests_grants()
        tests_config()
        tests_ntlm()
        tests_kerberos()
        with MockWinRM(TLS + ["--lifetime", "900"]) as w:
            body = (MODULE + inst("ex", w.url, "max_shells = 2\n") +
                    inst("short", w.url, "max_shells = 2\ntimeout = %ds\n"
                         % (5 * SLOW)))
            with sbtest.Daemon(body) as d:
                tests_2013(d, w)
                tests_injection(d, w)
                tests_paging(d, w)
                st = w.stats()
                c.ok(1 <= st.get("max_shells_open", 99) <= 2,
                     "max_shells = 2 never exceeded at the server",
                     st.get("max_shells_open"))
                c.eq(st.get("violations", []), [],
                     "no WS-Man protocol violation")
                tests_errors(d, w)
                log = d.read_log()
                c.ok(PW not in log and PW not in "\n".join(answers),
                     "the password is in no log line or answer")
        tests_unreachable()
        tests_2007()
        tests_shells()
    finally:
        shutil.rmtree(pki, ignore_errors=True)
    c.done()


main()
