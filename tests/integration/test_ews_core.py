#!/usr/bin/python3
"""exchange-ews broker, its core, end to end through the real daemon
against the mock EWS server (tests/mock/ews_server.py, which validates
every request against Microsoft's schema): Service (Test, Autodiscover)
and the broker's test(), Folder (List, Load, Create), Contact.Resolve,
AutomaticReply (Load, Save); the impersonation modes; Basic, NTLM and
Negotiate against a real MIT KDC on loopback (one handshake per kept
connection) and OAuth2 (a revoked token renewed once);
Autodiscover redirects and refusals; ErrorServerBusy retried and 429;
every ResponseCode of the broker's table answered with its status;
hostile answers; max_concurrency never exceeded at the server, also
across a reload; no secret in any log line, answer or /metrics; no schema
violation at the end."""
import base64
import os
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402
from ews_mock import FINDITEM_NO_ROOT  # noqa: E402

if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)
try:
    from ews_server import MockEWS  # noqa: E402
    from token_server import MockTokenServer  # noqa: E402
except ImportError as e:  # python3-lxml, -pycryptodome, -cryptography
    print("# the mock EWS server cannot run here: %s" % e)
    sys.exit(sbtest.SKIP)
import ews_server  # noqa: E402
if ews_server.schema_missing():
    print("# %s" % ews_server.schema_missing())
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()
ALICE, BOB, CAROL = ("alice@example.test", "bob@example.test",
                     "carol@example.test")
PW = "Secret-Pw-1"
CLIENT_SECRET = "Client-Secret-Value-42"

HTTP_OF = {
    "SB_ERR_INVALID_INPUT": 400, "SB_ERR_UPSTREAM_DENIED": 403,
    "SB_ERR_NOT_FOUND": 404, "SB_ERR_CONFLICT": 409,
    "SB_ERR_PAYLOAD_TOO_LARGE": 413, "SB_ERR_THROTTLED": 429,
    "SB_ERR_UPSTREAM_AUTH": 502, "SB_ERR_UPSTREAM": 502,
    "SB_ERR_UNAVAILABLE": 503, "SB_ERR_TIMEOUT": 504, "SB_ERR_QUOTA": 507,
}


def code_table():
    """The broker's ResponseCode table, read from its source."""
    with open(os.path.join(SRC, "brokers", "exchange-ews",
                           "ews_errors.c")) as f:
        return re.findall(r'\{"(\w+)", (SB_ERR_\w+)\}', f.read())


def err(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def rows(body):
    return body.get("rows", []) if isinstance(body, dict) else []


def first(body):
    r = rows(body)
    return r[0] if r else {}


def inst(name, url, extra=""):
    if "timeout" not in extra:
        extra += "timeout = 60s\n"
    return ("[instance %s]\nbroker = exchange-ews\nurl = %s\n"
            "auth = basic\nusername = %s\npassword = %s\n%s\n"
            % (name, url, ALICE, PW, extra))


answers = []  # every answer body, searched for secrets at the end


def call(d, addr, inputs=None, timeout=90):
    st, b = d.call(addr, inputs, timeout=timeout)
    answers.append(repr(b))
    return st, b


def basic_tests(d, ews):
    # ---- Service.Test and test() -------------------------------------------
    st, b = call(d, "ews/Service.Test")
    c.eq(st, 200, "Service.Test answers 200")
    c.eq(first(b).get("ServerVersion"), "15.1.2507.6",
         "Service.Test: ServerVersion from ServerVersionInfo")
    c.eq(first(b).get("EwsUrl"), ews.url, "Service.Test: EwsUrl")
    st, b = call(d, "ews/Service.Test", {"Mailbox": BOB})
    c.eq(st, 200, "Service.Test with a Mailbox (impersonation) answers 200")
    c.ok(BOB in ews.stats().get("impersonated", []),
         "Service.Test: the mailbox was impersonated")
    st, b = d.request("POST", "/v1/test/ews")
    answers.append(repr(b))
    c.eq(st, 200, "test() of the instance answers 200")
    st, b = call(d, "plain/Service.Test", {"Mailbox": BOB})
    c.eq((st, err(b).get("category")), (405, "method_not_allowed"),
         "impersonation = none: a Mailbox is 405")
    ews.ok("config", {"impersonators": [CAROL]})
    st, b = call(d, "ews/Service.Test", {"Mailbox": BOB})
    c.eq((st, err(b).get("category"), err(b).get("code")),
         (403, "upstream_denied", "ErrorImpersonateUserDenied"),
         "impersonation refused: 403 upstream_denied with the EWS code")
    ews.ok("config", {"impersonators": [ALICE]})

    # ---- Folder ----------------------------------------------------------------
    st, b = call(d, "ews/Folder.List")
    c.eq(st, 200, "Folder.List answers 200")
    names = [r.get("Name") for r in rows(b)]
    c.ok(names[:1] == ["Inbox"], "Folder.List: Inbox first", names)
    c.ok(all(isinstance(r.get("TotalCount"), int) for r in rows(b)),
         "Folder.List: counts")
    st, b = call(d, "ews/Folder.Create", {"Name": "Projects"})
    c.eq(st, 200, "Folder.Create answers 200")
    proj = first(b)
    c.eq(proj.get("Name"), "Projects", "Folder.Create: the new folder's row")
    c.eq(proj.get("TotalCount"), 0, "Folder.Create: empty")
    st, b = call(d, "ews/Folder.Create", {"Name": "Projects"})
    c.eq(st, 409, "Folder.Create: a name taken is 409")
    st, b = call(d, "ews/Folder.Create", {"Name": "Sub",
                                          "Parent": "Projects"})
    c.eq((st, first(b).get("Parent")), (200, proj.get("Id")),
         "Folder.Create with Parent by name")
    st, b = call(d, "ews/Folder.Load", {"Folder": "Projects"})
    c.eq((st, first(b).get("Id")), (200, proj.get("Id")),
         "Folder.Load by name")
    st, b = call(d, "ews/Folder.Load", {"Folder": proj.get("Id", "x")})
    c.eq((st, first(b).get("Name")), (200, "Projects"), "Folder.Load by Id")
    st, b = call(d, "ews/Folder.Load", {"Folder": "sentitems"})
    c.eq(st, 200, "Folder.Load by well-known id")
    st, b = call(d, "ews/Folder.Load", {"Folder": "No Such Folder"})
    c.eq(st, 404, "Folder.Load: an unknown name is 404")
    call(d, "ews/Folder.Create", {"Name": "Twice"})
    call(d, "ews/Folder.Create", {"Name": "Twice", "Parent": "Projects"})
    st, b = call(d, "ews/Folder.Load", {"Folder": "Twice"})
    c.eq(st, 409, "Folder.Load: an ambiguous name is 409")
    seen, token, pages = [], None, 0
    while pages < 20:
        inp = {"PageSize": 2}
        if token:
            inp["PageToken"] = token
        st, b = call(d, "ews/Folder.List", inp)
        if st != 200:
            break
        seen += [r["Id"] for r in rows(b)]
        pages += 1
        token = b.get("next_page_token")
        if not token:
            break
    st, b = call(d, "ews/Folder.List", {"PageSize": 1000})
    c.eq(seen, [r["Id"] for r in rows(b)],
         "Folder.List paged by 2: every folder once, in order")
    # a folder made between pages, before the position: no row twice
    seen, token, made = [], None, False
    for _ in range(30):
        inp = {"PageSize": 2}
        if token:
            inp["PageToken"] = token
        st, b = call(d, "ews/Folder.List", inp)
        if st != 200:
            break
        seen += [r["Id"] for r in rows(b)]
        if not made and "Projects" in [r["Name"] for r in rows(b)]:
            st2, b2 = call(d, "ews/Folder.Create", {"Name": "Aardvark"})
            made = st2 == 200
        token = b.get("next_page_token")
        if not token:
            break
    c.ok(made and len(seen) == len(set(seen)),
         "Folder.List: a folder made between pages repeats no row",
         "%s %d %d" % (made, len(seen), len(set(seen))))
    st, b = call(d, "ews/Folder.List", {"Mailbox": BOB})
    c.ok(st == 200 and "Projects" not in [r["Name"] for r in rows(b)],
         "Folder.List of another mailbox (impersonated)")
    st, b = call(d, "deleg/Folder.List", {"Mailbox": BOB})
    c.eq(st, 200, "delegate: Folder.List of another mailbox")
    c.ok(BOB in ews.stats().get("delegated", []),
         "delegate: addressed through DistinguishedFolderId/Mailbox")

    # ---- Contact.Resolve ------------------------------------------------------
    st, b = call(d, "ews/Contact.Resolve", {"Name": "alice"})
    c.eq(st, 200, "Contact.Resolve answers 200")
    c.ok(ALICE in [r.get("Email") for r in rows(b)],
         "Contact.Resolve: alice found", rows(b))
    st, b = call(d, "ews/Contact.Resolve", {"Name": "al", "PageSize": 1})
    got = [r.get("Email") for r in rows(b)]
    token = b.get("next_page_token")
    while token and len(got) < 10:
        st, b = call(d, "ews/Contact.Resolve", {"Name": "al",
                                                "PageSize": 1,
                                                "PageToken": token})
        got += [r.get("Email") for r in rows(b)]
        token = b.get("next_page_token")
    st, b = call(d, "ews/Contact.Resolve", {"Name": "al"})
    c.ok(len(got) >= 3 and got == [r.get("Email") for r in rows(b)],
         "Contact.Resolve pages one by one: every row once", got)
    # the answer changes between pages (ResolveNames has no paging of its
    # own: each page recomputes it): an entry added after the position
    # and one added before it, then the last row shown removed; no row
    # comes twice and none after the position is skipped
    def resolve_pages(change_after_first):
        st, b = call(d, "ews/Contact.Resolve", {"Name": "al", "PageSize": 1})
        seen = [r.get("Email") for r in rows(b)]
        token = b.get("next_page_token")
        change_after_first(seen[0])
        while token and len(seen) < 20:
            st, b = call(d, "ews/Contact.Resolve",
                         {"Name": "al", "PageSize": 1, "PageToken": token})
            if st != 200:
                return seen, (st, b)
            seen += [r.get("Email") for r in rows(b)]
            token = b.get("next_page_token")
        return seen, None
    before = [r.get("Email") for r in rows(call(
        d, "ews/Contact.Resolve", {"Name": "al"})[1])]
    seen, bad = resolve_pages(lambda first: ews.ok("directory", {"add": [
        {"address": "aaron.al@example.test", "name": "Aaron Al"},
        {"address": "alz.zed@example.test", "name": "Alz Zed"}]}))
    c.ok(bad is None and len(seen) == len(set(seen)) and
         seen == before[:1] + before[1:] + ["alz.zed@example.test"],
         "Contact.Resolve: entries added between pages: none twice, the "
         "one after the position shown, every earlier row once",
         (seen, before, bad))
    ews.ok("directory", {"restore": True})
    seen, bad = resolve_pages(lambda first: ews.ok(
        "directory", {"remove": [first]}))
    c.ok(bad is None and seen == before,
         "Contact.Resolve: the last row shown removed between pages: the "
         "rest follow, none skipped or twice", (seen, before, bad))
    ews.ok("directory", {"restore": True})

    st, b = call(d, "ews/Contact.Resolve", {"Name": "zz-nobody-zz"})
    c.eq((st, rows(b)), (200, []), "Contact.Resolve: nobody is no rows")

    # ---- AutomaticReply -----------------------------------------------------------
    st, b = call(d, "ews/AutomaticReply.Save", {
        "State": "Scheduled", "ExternalAudience": "Known",
        "InternalReply": "Away until Monday", "ExternalReply": "Out",
        "Start": "2026-12-24T08:00:00Z", "End": "2027-01-04T08:00:00+01:00"})
    c.eq(st, 200, "AutomaticReply.Save answers 200")
    st, b = call(d, "ews/AutomaticReply.Load")
    r = first(b)
    c.eq((st, r.get("State"), r.get("ExternalAudience"), r.get("Start"),
          r.get("End")),
         (200, "Scheduled", "Known", "2026-12-24T08:00:00Z",
          "2027-01-04T07:00:00Z"), "AutomaticReply.Load: what was saved")
    c.ok("Away until Monday" in (r.get("InternalReply") or ""),
         "AutomaticReply.Load: the internal reply")
    st, b = call(d, "ews/AutomaticReply.Save", {"State": "Disabled",
                                                "Mailbox": BOB})
    st2, b2 = call(d, "ews/AutomaticReply.Load", {"Mailbox": BOB})
    c.eq((st, st2, first(b2).get("State")), (200, 200, "Disabled"),
         "AutomaticReply of another mailbox")
    st, b = call(d, "ews/AutomaticReply.Load")
    c.eq(first(b).get("State"), "Scheduled",
         "AutomaticReply: the other mailbox's change left alice's alone")
    n = ews.stats().get("requests", 0)
    st, b = call(d, "ews/AutomaticReply.Save", {
        "State": "Scheduled", "Start": "2027-01-02T00:00:00Z",
        "End": "2027-01-01T00:00:00Z"})
    c.eq((st, ews.stats().get("requests", 0)), (400, n),
         "AutomaticReply.Save: End before Start is 400 before any request")


def error_tests(d, ews):
    # ---- every ResponseCode of the table -------------------------------------
    table = code_table()
    c.ok(len(table) > 100, "the code table is read")
    with open(os.path.join(SRC, "docs", "brokers", "exchange-ews.md")) as f:
        documented = dict(re.findall(r"^\| `(\w+)` \| (\d{3}) `", f.read(),
                                     re.M))
    c.eq(documented, {code: str(HTTP_OF[st]) for code, st in table},
         "docs/brokers/exchange-ews.md shows the code table as it is")
    wrong = []
    for code, st_name in table:
        ews.ok("inject", {"operation": "GetFolder", "count": 1,
                          "response_code": code})
        st, b = call(d, "plain/Folder.Load", {"Folder": "inbox"})
        if (st, err(b).get("code")) != (HTTP_OF[st_name], code):
            wrong.append((code, st, err(b).get("code")))
    c.eq(wrong, [], "every ResponseCode answers its status, code kept")
    # a FindFolder success without RootFolder is a malformed answer, not
    # a mailbox without folders
    ews.ok("inject", {"operation": "FindFolder", "count": 1,
                      "raw_status": 200,
                      "raw": FINDITEM_NO_ROOT.replace("FindItem",
                                                      "FindFolder")})
    st, b = call(d, "plain/Folder.List")
    c.eq((st, err(b).get("code")), (502, "invalid_response"),
         "Folder.List: FindFolder without RootFolder is 502 "
         "invalid_response")
    st, b = call(d, "plain/Folder.List")
    c.ok(st == 200 and len(rows(b)) > 0,
         "Folder.List: the next FindFolder lists the folders again")
    ews.ok("inject", {"operation": "ResolveNames", "count": 1,
                      "response_code": "ErrorNameResolutionMultipleResults",
                      "response_class": "Warning"})
    st, b = call(d, "plain/Contact.Resolve", {"Name": "alice"})
    c.eq(st, 200, "a Warning does not fail the call")
    for code, want in (("ErrorAccessDenied", 403),
                       ("ErrorQuotaExceeded", 507),
                       ("ErrorInvalidServerVersion", 502)):
        ews.ok("inject", {"operation": "GetFolder", "count": 1,
                          "fault": code})
        st, b = call(d, "plain/Folder.Load", {"Folder": "inbox"})
        c.eq((st, err(b).get("code")), (want, code),
             "a %s fault answers %d" % (code, want))
    ews.ok("inject", {"operation": "GetFolder", "count": 1,
                      "http_status": 401})
    st, b = call(d, "plain/Folder.Load", {"Folder": "inbox"})
    c.eq((st, err(b).get("category")), (502, "upstream_auth"),
         "a transport 401 is 502 upstream_auth")
    for preset in ("billion_laughs", "xxe", "dtd", "malformed", "truncated",
                   "not_xml", "huge"):
        ews.ok("inject", {"operation": "GetFolder", "count": 1,
                          "raw_preset": preset})
        st, b = call(d, "small/Folder.Load", {"Folder": "inbox"})
        c.eq((st, err(b).get("category")), (502, "upstream_error"),
             "a hostile answer (%s) is upstream_error" % preset)
    st, b = call(d, "plain/Folder.Load", {"Folder": "inbox"})
    c.eq(st, 200, "the instance works after hostile answers")

    # ---- ErrorServerBusy --------------------------------------------------------
    n = ews.stats()["by_operation"].get("GetFolder", 0)
    ews.ok("inject", {"operation": "GetFolder", "count": 1,
                      "fault": "ErrorServerBusy", "back_off_ms": 400})
    t0 = time.monotonic()
    st, b = call(d, "busy/Folder.Load", {"Folder": "inbox"})
    c.eq(st, 200, "ErrorServerBusy: waited and retried")
    c.ok(time.monotonic() - t0 >= 0.39, "ErrorServerBusy: the back-off kept")
    c.eq(ews.stats()["by_operation"].get("GetFolder", 0) - n, 2,
         "ErrorServerBusy: one retry")
    # ... also when it comes in the response message, not as a fault
    busy_msg = (
        '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://'
        'schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetFolderResponse '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/'
        'messages" xmlns:t="http://schemas.microsoft.com/exchange/services/'
        '2006/types"><m:ResponseMessages><m:GetFolderResponseMessage '
        'ResponseClass="Error"><m:MessageText>The server cannot service '
        'this request right now.</m:MessageText><m:ResponseCode>'
        'ErrorServerBusy</m:ResponseCode><m:DescriptiveLinkKey>0'
        '</m:DescriptiveLinkKey><m:MessageXml><t:Value Name="BackOff'
        'Milliseconds">%d</t:Value></m:MessageXml>'
        '</m:GetFolderResponseMessage></m:ResponseMessages>'
        '</m:GetFolderResponse></s:Body></s:Envelope>')
    n = ews.stats()["by_operation"].get("GetFolder", 0)
    ews.ok("inject", {"operation": "GetFolder", "count": 1,
                      "raw": busy_msg % 400})
    t0 = time.monotonic()
    st, b = call(d, "busy/Folder.Load", {"Folder": "inbox"})
    c.eq(st, 200, "ErrorServerBusy in a message: waited and retried")
    c.ok(time.monotonic() - t0 >= 0.39,
         "ErrorServerBusy in a message: the back-off kept")
    c.eq(ews.stats()["by_operation"].get("GetFolder", 0) - n, 2,
         "ErrorServerBusy in a message: one retry")
    ews.ok("inject", {"operation": "GetFolder", "count": 1,
                      "fault": "ErrorServerBusy", "back_off_ms": 120000})
    st, b = call(d, "busy/Folder.Load", {"Folder": "inbox"})
    c.eq((st, err(b).get("code")), (429, "ErrorServerBusy"),
         "a back-off past the deadline: 429")
    c.ok(int(err(b).get("retry_after_ms", 0)) > 100000,
         "429 carries retry_after_ms", err(b))
    n = ews.stats().get("requests", 0)
    st, b = call(d, "busy/Folder.List")
    c.eq(st, 429, "while the back-off is in force: 429")
    c.eq(ews.stats().get("requests", 0), n, "... without a request")


def autodiscover_tests(d, ews):
    st, b = call(d, "ad/Service.Autodiscover")
    c.eq(st, 200, "Service.Autodiscover answers 200")
    c.eq(first(b).get("EwsUrl"), ews.url, "Autodiscover: the EWS URL")
    c.ok(re.match(r"^15\.\d+\.\d+$", first(b).get("ServerVersion", "")),
         "Autodiscover: the server version", first(b))
    st, b = call(d, "ad/Folder.Load", {"Folder": "inbox"})
    c.eq(st, 200, "an instance found by Autodiscover works")
    n = ews.stats()["by_operation"].get("Autodiscover", 0)
    call(d, "ad/Folder.Load", {"Folder": "inbox"})
    c.eq(ews.stats()["by_operation"].get("Autodiscover", 0), n,
         "Autodiscover: cached")
    ews.ok("inject", {"operation": "GetFolder", "count": 1,
                      "response_code": "ErrorMailboxMoveInProgress"})
    st, b = call(d, "ad/Folder.Load", {"Folder": "inbox"})
    c.eq(st, 200, "ErrorMailboxMoveInProgress: discovered again, retried")
    c.eq(ews.stats()["by_operation"].get("Autodiscover", 0), n + 1,
         "... with one Autodiscover")
    # redirects
    ews.ok("autodiscover", {"redirect_addr": BOB, "redirect_count": 1})
    st, b = call(d, "ad/Service.Autodiscover", {"Refresh": True})
    c.eq((st, first(b).get("EwsUrl")), (200, ews.url),
         "Autodiscover follows redirectAddr")
    ews.ok("autodiscover", {"redirect_url": ews.autodiscover_url,
                            "redirect_count": 2})
    st, b = call(d, "ad/Service.Autodiscover", {"Refresh": True})
    c.eq(st, 200, "Autodiscover follows redirectUrl to its own server")
    ews.ok("autodiscover", {"redirect_url": ews.autodiscover_url})
    st, b = call(d, "ad/Service.Autodiscover", {"Refresh": True})
    c.eq((st, err(b).get("code")), (502, "autodiscover_redirects"),
         "Autodiscover: at most 10 redirects")
    for target in ("https://evil.example.org/autodiscover/autodiscover.xml",
                   "http://autodiscover.example.test/autodiscover/"
                   "autodiscover.xml"):
        ews.ok("autodiscover", {"redirect_url": target})
        n = ews.stats().get("requests", 0)
        st, b = call(d, "ad/Service.Autodiscover", {"Refresh": True})
        c.eq((st, err(b).get("code")), (502, "autodiscover_refused"),
             "Autodiscover refuses redirectUrl %s" % target)
    ews.ok("autodiscover", {"redirect_addr": "alice@example.org"})
    st, b = call(d, "ad/Service.Autodiscover", {"Refresh": True})
    c.eq((st, err(b).get("code")), (502, "autodiscover_refused"),
         "Autodiscover refuses an address outside the domain")
    ews.ok("autodiscover", {"ews_url": "https://evil.example.org/EWS/"
                                       "Exchange.asmx"})
    st, b = call(d, "ad/Service.Autodiscover", {"Refresh": True})
    c.eq((st, err(b).get("code")), (502, "autodiscover_refused"),
         "Autodiscover refuses an EwsUrl outside the domain")
    c.ok("evil.example.org" in err(b).get("message", ""),
         "... naming its host", err(b).get("message"))
    ews.ok("autodiscover", {"error": 500})
    st, b = call(d, "ad/Service.Autodiscover", {"Refresh": True})
    c.eq(st, 404, "Autodiscover: no such mailbox is 404")
    ews.ok("autodiscover", {})
    st, b = call(d, "ad/Service.Autodiscover", {"Refresh": True})
    c.eq(st, 200, "Autodiscover again once the server answers settings")


def secrets_absent(where, text, secrets):
    for s in secrets:
        if s and s in text:
            c.ok(False, "no secret in %s" % where, "found %r" % s[:6])
            return
    c.ok(True, "no secret in %s" % where)


basic_b64 = base64.b64encode(("%s:%s" % (ALICE, PW)).encode()).decode()

# ---- Basic: the objects, errors, Autodiscover --------------------------------
with MockEWS(["--auth", "basic", "--lifetime", "900"]) as ews:
    cfg = ("[module exchange-ews]\nenabled = yes\n" +
           inst("ews", ews.url, "impersonation = impersonate\n") +
           inst("plain", ews.url) +
           inst("deleg", ews.url, "impersonation = delegate\n") +
           inst("small", ews.url, "max_response_size = 256KiB\n") +
           inst("busy", ews.url, "retries = 2\ntimeout = 20s\n") +
           "[instance ad]\nbroker = exchange-ews\n"
           "autodiscover_email = %s\nautodiscover_url = %s\n"
           "auth = basic\nusername = %s\npassword = %s\ntimeout = 60s\n"
           % (ALICE, ews.autodiscover_url, ALICE, PW))
    with sbtest.Daemon(cfg, server_extra="log_level = debug\n") as d:
        c.eq(ews.stats().get("requests"), 0, "open() contacted nothing")
        basic_tests(d, ews)
        error_tests(d, ews)
        autodiscover_tests(d, ews)
        st, metrics = d.get("/metrics")
        answers.append(str(metrics))
        log = d.read_log()
        c.ok("http > POST /EWS/Exchange.asmx" in log,
             "the debug transcript is in the log")
        secrets_absent("the daemon log (Basic)", log, [PW, basic_b64])
        secrets_absent("answers and /metrics (Basic)", "\n".join(answers),
                       [PW, basic_b64])
    c.eq(ews.stats().get("violations"), [],
         "no request violated the schema (Basic)")

# ---- NTLM: one handshake per kept connection ---------------------------------
with MockEWS(["--auth", "ntlm", "--lifetime", "300"]) as ews:
    cfg = ("[module exchange-ews]\nenabled = yes\n"
           "[instance ntlm]\nbroker = exchange-ews\nurl = %s\nauth = ntlm\n"
           "username = EXAMPLE\\alice\npassword = %s\nmax_concurrency = 1\n"
           % (ews.url, PW))
    with sbtest.Daemon(cfg, server_extra="log_level = debug\n") as d:
        st, b = call(d, "ntlm/Service.Test")
        c.eq(st, 200, "NTLM: Service.Test answers 200")
        h1 = ews.stats().get("ntlm_handshakes")
        st, b = call(d, "ntlm/Folder.Load", {"Folder": "inbox"})
        st2, b = call(d, "ntlm/Folder.List")
        c.eq((st, st2), (200, 200), "NTLM: the next calls answer 200")
        c.eq((h1, ews.stats().get("ntlm_handshakes")), (1, 1),
             "NTLM: later calls on the kept connection make no handshake")
        log = d.read_log()
        c.ok("NTLM ***" in log, "NTLM: the handshake is in the transcript, "
             "hidden")
        secrets_absent("the daemon log (NTLM)", log,
                       [PW] + re.findall(r"NTLM (TlRMTVNT\S+)", log))
        n = ews.stats().get("auth_failures", 0)
    bad = ("[module exchange-ews]\nenabled = yes\n"
           "[instance ntlm]\nbroker = exchange-ews\nurl = %s\nauth = ntlm\n"
           "username = EXAMPLE\\alice\npassword = wrong-password\n"
           % ews.url)
    with sbtest.Daemon(bad) as d:
        st, b = call(d, "ntlm/Service.Test")
        c.eq((st, err(b).get("category")), (502, "upstream_auth"),
             "NTLM: a wrong password is 502 upstream_auth")
    c.eq(ews.stats().get("violations"), [], "no violation (NTLM)")

# ---- OAuth2: client credentials, a revoked token renewed once ----------------
with MockTokenServer(["--client-secret", CLIENT_SECRET]) as ts:
    with MockEWS(["--auth", "oauth2", "--tokens-file", ts.tokens_file(),
                  "--lifetime", "300"]) as ews:
        cfg = ("[module exchange-ews]\nenabled = yes\n"
               "[instance oa]\nbroker = exchange-ews\nurl = %s\n"
               "auth = oauth2\ntoken_url = %s\nclient_id = app-1\n"
               "client_secret = %s\nimpersonation = impersonate\n"
               % (ews.url, ts.url, CLIENT_SECRET))
        with sbtest.Daemon(cfg, server_extra="log_level = debug\n") as d:
            st, b = call(d, "oa/Folder.List", {"Mailbox": ALICE})
            c.eq(st, 200, "OAuth2: Folder.List answers 200")
            st, b = call(d, "oa/Service.Test", {"Mailbox": BOB})
            c.eq((st, ts.requests()), (200, 1), "OAuth2: the token is kept")
            c.ok(BOB in ews.stats().get("anchor_mailboxes", []),
                 "OAuth2: X-AnchorMailbox sent")
            tokens = ts.tokens()
            ts.revoke()
            st, b = call(d, "oa/Service.Test", {"Mailbox": BOB})
            c.eq((st, ts.requests()), (200, 2),
                 "OAuth2: a revoked token is renewed once and the call "
                 "goes through")
            ts.revoke()
            ews.ok("inject", {"operation": "*", "count": -1,
                              "http_status": 401})
            st, b = call(d, "oa/Service.Test", {"Mailbox": BOB})
            c.eq((st, err(b).get("category")), (502, "upstream_auth"),
                 "OAuth2: refused again: 502, no loop")
            c.ok(ts.requests() <= 3, "OAuth2: at most one renewal per call")
            log = d.read_log()
            st, metrics = d.get("/metrics")
            secrets_absent("the daemon log and /metrics (OAuth2)",
                           log + str(metrics),
                           [CLIENT_SECRET] + tokens + ts.tokens())
        c.eq(ews.stats().get("violations"), [], "no violation (OAuth2)")


# ---- Negotiate: Kerberos from a real MIT KDC on loopback ----------------------
def negotiate_tests():
    import krb5kdc
    import spnego
    why = krb5kdc.missing() or spnego.available()
    if why:
        print("# skip Negotiate: %s" % why)
        return
    cfg_neg = ("[module exchange-ews]\nenabled = yes\n"
               "[instance neg]\nbroker = exchange-ews\nurl = %s\n"
               "auth = negotiate\n")
    with krb5kdc.Realm() as kdc:
        kdc.add_principal("alice", keytab=kdc.client_keytab)
        kdc.add_principal("HTTP/localhost", keytab=kdc.service_keytab)
        with MockEWS(["--auth", "negotiate", "--keytab", kdc.service_keytab,
                      "--lifetime", "300"], env=kdc.env()) as ews:
            # the service principal is HTTP/localhost: the URL names it
            url = "http://localhost:%d/EWS/Exchange.asmx" % ews.port
            with sbtest.Daemon(cfg_neg % url,
                               server_extra="log_level = debug\n",
                               env=kdc.env(KRB5CCNAME="MEMORY:svcbroker",
                                           KRB5_KTNAME=None)) as d:
                st, b = call(d, "neg/Service.Test")
                c.eq((st, first(b).get("EwsUrl")), (200, url),
                     "Negotiate: Service.Test with the daemon's Kerberos "
                     "credentials (a client keytab)")
                st1, b = call(d, "neg/Folder.Load", {"Folder": "inbox"})
                st2, b = call(d, "neg/Folder.List")
                c.eq((st1, st2), (200, 200),
                     "Negotiate: later calls answer 200")
                # libcurl sends a Negotiate token with the first request
                # (from the service ticket it got: no 401 round trip)
                stt = ews.stats()
                c.ok(stt.get("auth_failures") == 0 and
                     stt.get("negotiate_handshakes", 0) >= 1,
                     "Negotiate: accepted, no 401 round trip", stt)
                log = d.read_log()
                c.ok("Negotiate ***" in log,
                     "Negotiate: the token is hidden in the transcript")
                secrets_absent("the daemon log (Negotiate)", log,
                               re.findall(r"Negotiate (YI\S{20,})", log))
            nokey = kdc.env(
                KRB5_CLIENT_KTNAME="FILE:" + os.path.join(kdc.dir, "no.kt"),
                KRB5CCNAME="FILE:" + os.path.join(kdc.dir, "cc-none"),
                KRB5_KTNAME=None)
            with sbtest.Daemon(cfg_neg % url, env=nokey) as d:
                st, b = call(d, "neg/Service.Test")
                c.eq((st, err(b).get("category")), (502, "upstream_auth"),
                     "Negotiate: without Kerberos credentials, 502 "
                     "upstream_auth")
            c.eq(ews.stats().get("violations"), [],
                 "no violation (Negotiate)")


negotiate_tests()


# ---- max_concurrency at the server, also across a reload ---------------------
def conc_cfg(retries):
    return ("[module exchange-ews]\nenabled = yes\n" +
            inst("conc", ews.url, "max_concurrency = 2\nretries = %d\n"
                 % retries))


def generation(d):
    st, body = d.get("/v1/health")
    return body.get("generation") if st == 200 else None


with MockEWS(["--auth", "basic", "--lifetime", "300"]) as ews:
    with sbtest.Daemon(conc_cfg(3)) as d:
        ews.ok("inject", {"operation": "GetFolder", "count": -1,
                          "delay_ms": 300})
        results = []
        lock = threading.Lock()

        def one():
            st, b = d.call("conc/Folder.Load", {"Folder": "inbox"},
                           timeout=120)
            with lock:
                results.append(st)
        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.4)
        g0 = generation(d)
        with open(d.config) as f:
            text = f.read()
        server = text.split("\n[module", 1)[0]
        with open(d.config + ".new", "w") as f:
            f.write(server + "\n" + conc_cfg(2))
        os.replace(d.config + ".new", d.config)
        d.signal(signal.SIGHUP)
        c.ok(sbtest.wait_for(lambda: generation(d) not in (None, g0), 20),
             "concurrency: the reload applied")
        more = [threading.Thread(target=one) for _ in range(6)]
        for t in more:
            t.start()
        for t in threads + more:
            t.join(180)
        c.eq(sorted(set(results)), [200],
             "concurrency: every call answered 200")
        c.ok(1 <= ews.stats().get("max_concurrent", 99) <= 2,
             "max_concurrency = 2 never exceeded at the server, across a "
             "reload", ews.stats().get("max_concurrent"))
        ews.ok("reset")

secrets_absent("every answer", "\n".join(answers), [PW, CLIENT_SECRET])
c.done()
