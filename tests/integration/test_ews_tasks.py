#!/usr/bin/python3
"""exchange-ews broker: the Task object end to end through the real daemon
against the mock EWS server (tests/mock/ews_server.py with ews_tasks.py,
which checks every request against Microsoft's schema): Create, Load,
Update, Complete, Delete and List; a stale ChangeKey answers 409; dates
come back as given at instances at UTC-10, UTC and UTC+13; List pages
without a repeat and filters by Status; impersonation; bad inputs 400."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import sbtest  # noqa: E402
from ews_mock import FINDITEM_NO_ROOT  # noqa: E402
from ews_mock import (BOB, MockEWS, err, instance, require,  # noqa: E402
                      row, rows)

require()
c = sbtest.Checks()


def list_all(d, inst, inputs, page_size):
    """Every row of a listing, page by page (at most 50 pages)."""
    out, token, pages = [], None, 0
    while pages < 50:
        q = dict(inputs, PageSize=page_size)
        if token:
            q["PageToken"] = token
        st, b = d.call(inst + "/Task.List", q)
        if st != 200:
            return None, pages
        out.extend(rows(b))
        pages += 1
        token = b.get("next_page_token")
        if not b.get("more") or not token:
            break
    return out, pages


def instance_60s(name, extra=""):
    """An instance for the mock that gives up on a call after 60 s."""
    return instance(name, mock.port, extra, timeout="60s")


mock = MockEWS()
try:
    cfg = ("[module exchange-ews]\nenabled = yes\n" +
           instance_60s("ews") +
           instance_60s("hnl", "timezone = Pacific/Honolulu") +
           instance_60s("akl", "timezone = Pacific/Auckland") +
           instance_60s("win", "timezone = Hawaiian Standard Time") +
           instance_60s("noimp").replace(
               "impersonation = impersonate", "impersonation = none") +
           instance_60s("deleg").replace(
               "impersonation = impersonate", "impersonation = delegate"))
    with sbtest.Daemon(cfg) as d:
        mock.ctl("/_mock/reset", {})

        # ---- Create and Load -------------------------------------------------
        full = {"Subject": "Renew <TLS> & certs", "Body": "line 1\nline 2",
                "StartDate": "2027-03-14", "DueDate": "2027-03-25",
                "Status": "InProgress", "PercentComplete": 40,
                "Importance": "High", "Owner": "Alice Example"}
        st, b = d.call("ews/Task.Create", full)
        c.eq(st, 200, "Create answers 200")
        t = row(b)
        c.ok(t.get("Id") and t.get("ChangeKey"), "Create: Id and ChangeKey")
        for k, v in full.items():
            c.eq(t.get(k), v, "Create: %s as given" % k)
        st, b = d.call("ews/Task.Load", {"Id": t.get("Id", "x")})
        c.eq((st, row(b)), (200, t), "Load gives the row Create gave")

        # ---- Update: only the given properties change; stale ChangeKey ---
        ck0 = t.get("ChangeKey")
        st, b = d.call("ews/Task.Update", {"Id": t["Id"], "ChangeKey": ck0,
                                           "Subject": "Renew certificates",
                                           "DueDate": "2027-03-28"})
        u = row(b)
        c.eq(st, 200, "Update answers 200")
        c.eq((u.get("Subject"), u.get("DueDate"), u.get("StartDate"),
              u.get("Body"), u.get("Status"), u.get("PercentComplete"),
              u.get("Importance"), u.get("Owner")),
             ("Renew certificates", "2027-03-28", "2027-03-14",
              "line 1\nline 2", "InProgress", 40, "High", "Alice Example"),
             "Update: the given properties change, the others stay")
        c.ok(u.get("ChangeKey") and u.get("ChangeKey") != ck0,
             "Update: a new ChangeKey")
        st, b = d.call("ews/Task.Update", {"Id": t["Id"], "ChangeKey": ck0,
                                           "Subject": "lost update"})
        c.eq((st, err(b).get("category")), (409, "conflict"),
             "Update with a stale ChangeKey answers 409 conflict")
        st, b = d.call("ews/Task.Load", {"Id": t["Id"]})
        c.eq(row(b).get("Subject"), "Renew certificates",
             "the stale Update changed nothing")
        st, b = d.call("ews/Task.Update", {"Id": t["Id"], "Owner": "",
                                           "Body": ""})
        c.eq((st, "Owner" in row(b), "Body" in row(b)), (200, False, False),
             "Update: an empty Owner and Body clear them")
        st, b = d.call("ews/Task.Update", {"Id": t["Id"],
                                           "Owner": "Bob Builder",
                                           "Importance": "Low"})
        c.eq((st, row(b).get("Owner"), row(b).get("Importance")),
             (200, "Bob Builder", "Low"), "Update: Owner and Importance")
        st, b = d.call("ews/Task.Update", {"Id": t["Id"],
                                           "PercentComplete": 100})
        c.eq((st, row(b).get("Status"), row(b).get("PercentComplete")),
             (200, "Completed", 100),
             "Update: PercentComplete 100 makes it Completed")
        st, b = d.call("ews/Task.Update", {"Id": t["Id"],
                                           "Status": "WaitingOnOthers",
                                           "PercentComplete": 60})
        c.eq((st, row(b).get("Status"), row(b).get("PercentComplete")),
             (200, "WaitingOnOthers", 60),
             "Update: Status and PercentComplete together")

        # ---- Update's Clear: StartDate and DueDate have no empty value ----
        st, b = d.call("ews/Task.Create", dict(full, Subject="to clear"))
        tk = row(b)
        tid = tk.get("Id", "x")
        for inputs, want, what in (
                ({"DueDate": "2027-04-01", "Clear": ["DueDate"]}, "DueDate",
                 "a DueDate given and named in Clear"),
                ({"StartDate": "2027-03-01", "Clear": ["StartDate"]},
                 "StartDate", "a StartDate given and named in Clear"),
                ({"Body": "x", "Clear": ["Body"]}, "Body",
                 "a Body given and named in Clear"),
                ({"Owner": "Bob", "Clear": ["Owner", "DueDate"]}, "Owner",
                 "an Owner given and named in Clear"),
                ({"Clear": ["Status"]}, "Clear", "Status in Clear"),
                ({"Clear": ["Reminder"]}, "Clear", "an unknown name")):
            st, b = d.call("ews/Task.Update", dict(inputs, Id=tid))
            c.ok(st == 400 and want in err(b).get("message", ""),
                 "Update refuses %s (400 naming %s)" % (what, want),
                 "%s %s" % (st, json.dumps(b)[:200]))
        st, b = d.call("ews/Task.Load", {"Id": tid})
        c.eq(row(b), tk, "the refused Updates changed nothing")
        st, b = d.call("ews/Task.Update", {"Id": tid,
                                           "Clear": ["DueDate", "Body"]})
        u = row(b)
        c.eq((st, "DueDate" in u, "Body" in u, u.get("StartDate"),
              u.get("Owner"), u.get("Subject")),
             (200, False, False, "2027-03-14", "Alice Example", "to clear"),
             "Clear: DueDate and Body removed, the rest kept")
        st, b = d.call("ews/Task.Update", {
            "Id": tid, "Owner": "", "Clear": ["StartDate", "Owner"],
            "Importance": "Low"})
        u = row(b)
        c.eq((st, [k for k in ("StartDate", "DueDate", "Body", "Owner")
                   if k in u], u.get("Importance")), (200, [], "Low"),
             "Clear: StartDate and Owner removed too (Owner also \"\")")
        st, b = d.call("ews/Task.Load", {"Id": tid})
        c.eq((st, row(b)), (200, u), "Clear: Load shows them gone")
        st, b = d.call("ews/Task.List", {})
        c.eq([[k for k in ("StartDate", "DueDate") if k in r]
              for r in rows(b) if r.get("Id") == tid], [[]],
             "Clear: List shows no dates either")
        st, b = d.call("ews/Task.Update", {"Id": tid, "DueDate": "2027-05-02"})
        c.eq((st, row(b).get("DueDate"), "StartDate" in row(b)),
             (200, "2027-05-02", False), "a cleared DueDate can be set again")

        # ---- Complete ----------------------------------------------------------
        st, b = d.call("ews/Task.Create", {"Subject": "to complete"})
        tc = row(b)
        c.eq((st, tc.get("Status"), tc.get("PercentComplete"),
              tc.get("Importance")), (200, "NotStarted", 0, "Normal"),
             "Create: defaults NotStarted, 0, Normal")
        st, b = d.call("ews/Task.Update", {"Id": tc["Id"],
                                           "Subject": "to complete!"})
        st, b = d.call("ews/Task.Complete", {"Id": tc["Id"],
                                             "ChangeKey": tc["ChangeKey"]})
        c.eq((st, err(b).get("category")), (409, "conflict"),
             "Complete with a stale ChangeKey answers 409")
        st, b = d.call("ews/Task.Load", {"Id": tc["Id"]})
        c.eq(row(b).get("Status"), "NotStarted",
             "the stale Complete changed nothing")
        st, b = d.call("ews/Task.Complete", {"Id": tc["Id"],
                                             "ChangeKey":
                                             row(b).get("ChangeKey")})
        c.eq((st, row(b).get("Status"), row(b).get("PercentComplete"),
              row(b).get("Subject")),
             (200, "Completed", 100, "to complete!"),
             "Complete: Status Completed, PercentComplete 100")
        st, b = d.call("ews/Task.Complete", {"Id": tc["Id"]})
        c.eq((st, row(b).get("Status")), (200, "Completed"),
             "Complete without ChangeKey, again: still Completed")

        # ---- dates at UTC-10, UTC, UTC+13 -------------------------------------
        for inst, zone in (("hnl", "UTC-10"), ("ews", "UTC"),
                           ("akl", "UTC+13 (NZDT)"),
                           ("win", "UTC-10 (Windows id)")):
            st, b = d.call(inst + "/Task.Create", {
                "Subject": "dates " + inst, "StartDate": "2027-01-15",
                "DueDate": "2027-01-31"})
            x = row(b)
            c.eq((st, x.get("StartDate"), x.get("DueDate")),
                 (200, "2027-01-15", "2027-01-31"),
                 "dates at %s: Create gives them back" % zone)
            st, b = d.call(inst + "/Task.Load", {"Id": x.get("Id", "x")})
            c.eq((row(b).get("StartDate"), row(b).get("DueDate")),
                 ("2027-01-15", "2027-01-31"),
                 "dates at %s: Load gives them back" % zone)
            st, b = d.call(inst + "/Task.Update", {"Id": x.get("Id", "x"),
                                                   "DueDate": "2027-12-31",
                                                   "StartDate":
                                                   "2027-07-01"})
            c.eq((row(b).get("StartDate"), row(b).get("DueDate")),
                 ("2027-07-01", "2027-12-31"),
                 "dates at %s: Update gives them back (other season)"
                 % zone)
            got, _ = list_all(d, inst, {}, 100)
            mine = [r for r in (got or []) if r.get("Id") == x.get("Id")]
            c.eq([(r.get("StartDate"), r.get("DueDate")) for r in mine],
                 [("2027-07-01", "2027-12-31")],
                 "dates at %s: List gives them" % zone)
        # what Exchange keeps: midnight of the instance's zone, so the
        # same task read at UTC is on another day for UTC+13
        st, b = d.call("akl/Task.Create", {"Subject": "NZ",
                                           "DueDate": "2027-01-20"})
        st, b = d.call("ews/Task.Load", {"Id": row(b).get("Id", "x")})
        c.eq(row(b).get("DueDate"), "2027-01-19",
             "a UTC+13 midnight is the day before at UTC")

        # ---- Delete ----------------------------------------------------------------
        st, b = d.call("ews/Task.Create", {"Subject": "to delete"})
        td = row(b)
        st, b = d.call("ews/Task.Delete", {"Id": td.get("Id", "x")})
        c.eq((st, row(b).get("Id")), (200, td.get("Id")),
             "Delete answers the Id")
        st, b = d.call("ews/Task.Load", {"Id": td.get("Id", "x")})
        c.eq((st, err(b).get("category")), (404, "not_found"),
             "a deleted task is not found")
        st, b = d.call("ews/Task.Delete", {"Id": td.get("Id", "x")})
        c.eq(st, 404, "Delete twice: 404")

        # ---- List: paging and the Status filter --------------------------------
        mock.ctl("/_mock/reset", {})
        made = {}
        statuses = ["NotStarted", "InProgress", "Completed",
                    "WaitingOnOthers", "Deferred"]
        for i in range(11):
            s = statuses[i % 5]
            st, b = d.call("ews/Task.Create", {"Subject": "task %02d" % i,
                                               "Status": s})
            made[row(b).get("Id")] = s
        c.eq(len(made), 11, "11 tasks made")
        got, pages = list_all(d, "ews", {}, 3)
        ids = [r.get("Id") for r in got or []]
        c.eq((sorted(ids), len(ids), pages),
             (sorted(made), 11, 4),
             "List: 4 pages of 3, every task once")
        c.eq([r.get("Subject") for r in got or []],
             ["task %02d" % i for i in range(10, -1, -1)],
             "List: newest first")
        c.eq({r.get("Id"): r.get("Status") for r in got or []}, made,
             "List: every status as created")
        for s in statuses:
            got, _ = list_all(d, "ews", {"Status": s}, 2)
            c.eq(sorted(r.get("Id") for r in got or []),
                 sorted(i for i, v in made.items() if v == s),
                 "List Status=%s: those tasks only" % s)
        # a task created between two pages is not met on the next ones
        st, b = d.call("ews/Task.List", {"PageSize": 4})
        first = [r.get("Id") for r in rows(b)]
        tok = b.get("next_page_token")
        st, b = d.call("ews/Task.Create", {"Subject": "late"})
        late = row(b).get("Id")
        rest = []
        for _ in range(10):
            if not tok:
                break
            st, b = d.call("ews/Task.List", {"PageSize": 4,
                                             "PageToken": tok})
            rest.extend(r.get("Id") for r in rows(b))
            tok = b.get("next_page_token") if b.get("more") else None
        seen = first + rest
        c.eq((len(seen), len(set(seen)), sorted(set(seen) - {late})),
             (len(set(seen)), len(set(seen)), sorted(made)),
             "List: with a task created meanwhile, every task once and "
             "none twice")
        st, b = d.call("ews/Task.List", {"PageSize": 2,
                                         "PageToken": "bogus"})
        c.eq(st, 400, "List: a bad PageToken is 400")
        st, b = d.call("ews/Task.List", {"PageSize": 2})
        st, b = d.call("ews/Task.List", {"PageSize": 2, "Status":
                                         "Completed",
                                         "PageToken":
                                         b.get("next_page_token")})
        c.eq(st, 400, "List: a PageToken of another listing is 400")

        # ---- Mailbox (impersonation) --------------------------------------------
        st, b = d.call("ews/Task.Create", {"Subject": "bob's",
                                           "Mailbox": BOB})
        tb = row(b)
        c.eq(st, 200, "Create with Mailbox answers 200")
        got, _ = list_all(d, "ews", {"Mailbox": BOB}, 10)
        c.eq([r.get("Subject") for r in got or []], ["bob's"],
             "List with Mailbox: that mailbox's tasks")
        got, _ = list_all(d, "ews", {}, 100)
        c.ok(got is not None and tb.get("Id") not in
             [r.get("Id") for r in got], "alice's List has not bob's task")
        st, b = d.call("ews/Task.Complete", {"Id": tb.get("Id", "x"),
                                             "Mailbox": BOB})
        c.eq((st, row(b).get("Status")), (200, "Completed"),
             "Complete with Mailbox")
        st, b = d.call("deleg/Task.Create", {"Subject": "delegated",
                                             "Mailbox": BOB})
        c.eq(st, 200, "delegate: Create in another mailbox")
        got, _ = list_all(d, "deleg", {"Mailbox": BOB}, 10)
        c.eq(sorted(r.get("Subject") for r in got or []),
             ["bob's", "delegated"],
             "delegate: List of that mailbox's Tasks folder")
        c.ok(BOB in mock.stats().get("delegated", []),
             "delegate: the mock saw bob's folder opened by alice")
        st, b = d.call("noimp/Task.List", {"Mailbox": BOB})
        c.eq(st, 405, "Mailbox on an instance without impersonation: 405")
        c.ok(BOB in mock.stats().get("anchor_mailboxes", []),
             "impersonation: X-AnchorMailbox of bob sent")

        # ---- odd values from the server: made valid or left out ------------
        mock.ctl("/_mock/reset", {})
        st, b = d.call("hnl/Task.Create", {"Subject": "real"})
        ids = ["AAMkAGZha2UtbWJ4LTAwMQBGAAAAAAB0YXNrLTAwMD%sAAA==" % n
               for n in "EFG"]
        odd = (
            '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s='
            '"http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            '<m:GetItemResponse xmlns:m="http://schemas.microsoft.com/'
            'exchange/services/2006/messages" xmlns:t="http://schemas.'
            'microsoft.com/exchange/services/2006/types">'
            '<m:ResponseMessages>'
            '<m:GetItemResponseMessage ResponseClass="Success">'
            '<m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Task>'
            '<t:ItemId Id="%s" ChangeKey="Ck1"/>'
            '<t:Subject>odd\tone</t:Subject>'
            '<t:Importance>Urgent</t:Importance>'
            '<t:DueDate>not a date</t:DueDate>'
            '<t:PercentComplete>250</t:PercentComplete>'
            '<t:Status>Postponed</t:Status></t:Task></m:Items>'
            '</m:GetItemResponseMessage>'
            '<m:GetItemResponseMessage ResponseClass="Success">'
            '<m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Task>'
            '<t:Subject>no id</t:Subject></t:Task></m:Items>'
            '</m:GetItemResponseMessage>'
            '<m:GetItemResponseMessage ResponseClass="Success">'
            '<m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Task>'
            '<t:ItemId Id="%s" ChangeKey="Ck3"/>'
            '<t:Subject>offsets</t:Subject>'
            '<t:DueDate>2027-01-15T00:00:00-10:00</t:DueDate>'
            '<t:PercentComplete>12.6</t:PercentComplete>'
            '<t:StartDate>2027-01-14T10:00:00Z</t:StartDate>'
            '<t:Status>Deferred</t:Status></t:Task></m:Items>'
            '</m:GetItemResponseMessage>'
            '</m:ResponseMessages></m:GetItemResponse></s:Body>'
            '</s:Envelope>' % (ids[0], ids[2]))
        mock.ctl("/_mock/inject", {"operation": "GetItem", "raw": odd})
        st, b = d.call("hnl/Task.List", {})
        got = {r.get("Id"): r for r in rows(b)}
        c.eq((st, sorted(got)), (200, sorted([ids[0], ids[2]])),
             "odd tasks: List answers 200, an item without Id skipped")
        r0, r2 = got.get(ids[0], {}), got.get(ids[2], {})
        c.eq((r0.get("Subject"), "Status" in r0, "PercentComplete" in r0,
              "Importance" in r0, "DueDate" in r0),
             ("odd one", False, False, False, False),
             "odd tasks: odd values cleaned or left out of the row")
        c.eq((r2.get("StartDate"), r2.get("DueDate"), r2.get("Status"),
              r2.get("PercentComplete")),
             ("2027-01-14", "2027-01-15", "Deferred", 13),
             "odd tasks: dates in UTC or with the zone's offset read as "
             "the day in the instance's zone")
        # a FindItem success without RootFolder is a malformed answer,
        # not an empty folder
        no_root = FINDITEM_NO_ROOT
        mock.ctl("/_mock/inject", {"operation": "FindItem", "count": 1,
                                   "raw_status": 200, "raw": no_root})
        st, b = d.call("hnl/Task.List", {})
        c.eq((st, b.get("error", {}).get("code")), (502, "invalid_response"),
             "Task.List: FindItem without RootFolder is 502 invalid_response")

        # ---- bad inputs: 400 naming the field, before any request -----------
        n0 = mock.stats().get("requests", 0)
        bad = [
            ("Create", {"Body": "no subject"}, "Subject"),
            ("Create", {"Subject": "x", "PercentComplete": 150},
             "PercentComplete"),
            ("Create", {"Subject": "x", "StartDate": "2027-02-05",
                        "DueDate": "2027-02-01"}, "DueDate"),
            ("Create", {"Subject": "x", "DueDate": "2027-02-30"},
             "DueDate"),
            ("Create", {"Subject": "x", "StartDate": "tomorrow"},
             "StartDate"),
            ("Create", {"Subject": "x", "Status": "Bogus"}, "Status"),
            ("Create", {"Subject": "x", "Importance": "Urgent"},
             "Importance"),
            ("Load", {"Id": "not an id!"}, "Id"),
            ("Load", {}, "Id"),
            ("Update", {"Id": tb.get("Id", "x")}, "nothing to change"),
            ("Update", {"Id": tb.get("Id", "x"), "ChangeKey": "b@d"},
             "ChangeKey"),
            ("Complete", {"Id": "%%%"}, "Id"),
            ("Delete", {"Id": ""}, "Id"),
            ("List", {"Status": "Done"}, "Status"),
            ("Create", {"Subject": "x", "Mailbox": "not-an-address"},
             "Mailbox"),
        ]
        for m, inputs, field in bad:
            st, b = d.call("ews/Task." + m, inputs)
            c.ok(st == 400 and field in err(b).get("message", ""),
                 "%s %s: 400 naming %s" % (m, sorted(inputs), field),
                 "%s %s" % (st, err(b)))
        c.eq(mock.stats().get("requests", 0) - n0, 0,
             "bad inputs send no request")


        # Delete with a stale ChangeKey: 409 and nothing deleted; with
        # the current one: deleted
        st, b = d.call("ews/Task.Create", {"Subject": "to delete"})
        made = row(b)
        st, b = d.call("ews/Task.Update", {"Id": made.get("Id", ""),
                                               "Subject": "changed"})
        cur = row(b)
        st, b = d.call("ews/Task.Delete", {"Id": made.get("Id", ""),
                                               "ChangeKey": made.get("ChangeKey", "")})
        c.eq((st, err(b).get("category")), (409, "conflict"),
             "Task.Delete with a stale ChangeKey: 409")
        st, b = d.call("ews/Task.Load", {"Id": made.get("Id", "")})
        c.eq(st, 200, "Task: still there after the refused Delete")
        st, b = d.call("ews/Task.Delete", {"Id": cur.get("Id", ""),
                                               "ChangeKey": cur.get("ChangeKey", "")})
        c.eq(st, 200, "Task.Delete with the current ChangeKey")

        s = mock.stats()
        c.eq(s.get("violations"), [], "no schema violation at the mock")
        c.eq(s.get("response_violations"), [],
             "no answer of the mock broke the schema")
        c.eq(s.get("internal_errors"), [], "no mock defect")
finally:
    mock.stop()
c.done()
