#!/usr/bin/python3
"""exchange-ews broker: Email and Attachment end to end through the real
daemon against the mock EWS server (tests/mock/ews_server.py, which checks
every request against Microsoft's schema): every method, List paging while
mail arrives, a hostile mailbox, 413 for oversize mail, a 25 MiB attachment
(memory measured), Send never repeated after the connection drops once the
request was read, and no schema violation at the end."""
import base64
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import sbtest  # noqa: E402
import ews_mock  # noqa: E402
from ews_mock import FINDITEM_NO_ROOT  # noqa: E402
from ews_mock import (ALICE, BOB, CAROL, err, instance, require,  # noqa: E402
                      rows)

require()
c = sbtest.Checks()


class MockEWS(ews_mock.MockEWS):
    """The mock EWS server (requests checked against the schema, its
    answers not), with mail delivery and readers of its folders."""

    def __init__(self):
        super().__init__(validate=False, lifetime=1200, timeout=120)

    def deliver(self, **kw):
        kw.setdefault("mailbox", ALICE)
        kw.setdefault("from", CAROL)
        kw.setdefault("to", [kw["mailbox"]])
        return self.ctl("/_mock/deliver", kw)["ids"]

    def items(self, who, folder):
        """Every item of one folder of a mailbox, whatever the JSON's
        nesting (a list of items, or folders holding them)."""
        box = self.mailbox(who, folder)
        found = []

        def walk(x):
            if isinstance(x, dict):
                if "subject" in x and "id" in x:
                    found.append(x)
                    return
                for v in x.values():
                    walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)
        walk(box)
        return found

    def ops(self, name):
        return self.stats().get("by_operation", {}).get(name, 0)


def f_in(name, data, ctype="application/octet-stream"):
    return {"Name": name, "ContentType": ctype,
            "Content": base64.b64encode(data).decode()}


def subjects(items):
    return [i.get("subject") for i in items]


def sanitized(pid):
    """True when the daemon runs with AddressSanitizer (its quarantine
    and redzones make its memory no measure of the broker's)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


def vm_hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


mock = MockEWS()
try:
    cfg = ("[module exchange-ews]\nenabled = yes\n" +
           instance("ews", mock.port, "max_response_size = 64MiB\n") +
           instance("small", mock.port, "max_attachment_size = 1KiB\n") +
           instance("tight", mock.port, "max_attachment_size = 16KiB\n"
                    "max_response_size = 64KiB\n") +
           instance("deleg", mock.port, "").replace(
               "impersonation = impersonate", "impersonation = delegate"))
    with sbtest.Daemon(cfg) as d:
        mock.ctl("/_mock/reset", {})

        # ---- Send -----------------------------------------------------------
        before = mock.ops("CreateItem")
        st, b = d.call("ews/Email.Send", {
            "To": [BOB], "Cc": [CAROL], "Subject": "Plan & <budget>",
            "Body": "plain text", "HtmlBody": "<p>the <b>HTML</b></p>",
            "Importance": "High",
            "Attachments": [f_in("plan.pdf", b"%PDF-1.4\x00\xff" * 50,
                                 "application/pdf")]})
        c.eq(st, 200, "Send answers 200")
        r = rows(b)[0] if rows(b) else {}
        c.eq(sorted(r.get("Accepted", [])), [BOB, CAROL],
             "Send: Accepted = every recipient")
        c.ok(not r.get("Id"), "Send: no Id (EWS answers a send with no item)")
        c.eq(mock.ops("CreateItem") - before, 1,
             "Send: one CreateItem, attachments in it")
        st2, b2 = d.call("ews/Folder.Load", {"Folder": "sentitems"})
        sent_fid = (rows(b2)[0] if rows(b2) else {}).get("Id")
        c.ok(sent_fid and r.get("Folder") == sent_fid,
             "Send: Folder is the FolderId of Sent Items, as List gives it",
             "%r %r" % (r.get("Folder"), sent_fid))
        # Sent Items' FolderId is remembered: a second Send asks no
        # GetFolder for it
        gf = mock.ops("GetFolder")
        st, b = d.call("ews/Email.Send", {"To": [CAROL],
                                          "Subject": "second send"})
        r2 = rows(b)[0] if rows(b) else {}
        c.eq((st, r2.get("Folder"), mock.ops("GetFolder") - gf),
             (200, sent_fid, 0),
             "Send: the Sent Items FolderId comes from the cache the "
             "second time")
        got = [i for i in mock.items(BOB, "inbox")
               if i.get("subject") == "Plan & <budget>"]
        c.eq(len(got), 1, "Send: delivered to bob's Inbox once")
        if got:
            c.ok("<b>HTML</b>" in (got[0].get("html_body") or ""),
                 "Send: HtmlBody wins")
            c.eq([a.get("name") for a in got[0].get("attachments", [])],
                 ["plan.pdf"], "Send: the attachment went with it")
        c.eq(len([i for i in mock.items(ALICE, "sentitems")
                  if i.get("subject") == "Plan & <budget>"]), 1,
             "Send: a copy in Sent Items")

        # bad inputs fail before any request
        n0 = mock.stats().get("requests", 0)
        st, b = d.call("ews/Email.Send", {"To": [BOB], "From": BOB})
        c.eq(st, 400, "Send: From another mailbox is 400")
        st, b = d.call("ews/Email.Send", {"To": ["not-an-address"]})
        c.eq(st, 400, "Send: invalid address is 400")
        st, b = d.call("small/Email.Send", {
            "To": [BOB], "Attachments": [f_in("big.bin", b"x" * 4096)]})
        c.eq((st, err(b).get("code")), (413, "ErrorMessageSizeExceeded"),
             "Send: attachments over max_attachment_size: 413")
        # max_attachment_size bounds the attachments of a message together
        st, b = d.call("small/Email.Send", {
            "To": [BOB], "Attachments": [f_in("half%d.bin" % k, b"x" * 600)
                                         for k in range(2)]})
        c.eq((st, err(b).get("code")), (413, "ErrorMessageSizeExceeded"),
             "Send: attachments each under, together over "
             "max_attachment_size: 413")
        for meth, inp in (("Email.Load", {"Id": "not an id!"}),
                          ("Email.Move", {"Id": "<x>", "Folder": "inbox"}),
                          ("Email.Reply", {"Id": "a b"}),
                          ("Attachment.List", {"ItemId": "%%%"})):
            st, b = d.call("ews/" + meth, inp)
            c.eq((st, err(b).get("code")), (400, "ErrorInvalidIdMalformed"),
                 "%s: a malformed id is 400" % meth)
        c.eq(mock.stats().get("requests", 0), n0,
             "bad inputs sent no request")

        # ---- SaveDraft, Attachment.Add/List/Delete -------------------------
        st, b = d.call("ews/Email.SaveDraft", {
            "To": [BOB], "Subject": "draft one", "Body": "text",
            "Attachments": [f_in("a.txt", b"alpha", "text/plain")]})
        c.eq(st, 200, "SaveDraft answers 200")
        draft = rows(b)[0] if rows(b) else {}
        c.ok(draft.get("Id") and draft.get("ChangeKey"),
             "SaveDraft: Id and ChangeKey")
        st, b = d.call("ews/Email.Load", {"Id": draft.get("Id", "x")})
        c.ok(draft.get("Folder") and draft.get("Folder") ==
             (rows(b)[0] if rows(b) else {}).get("Folder"),
             "SaveDraft: Folder is the Drafts FolderId, as Load gives it")
        st, b = d.call("ews/Attachment.Add", {
            "ItemId": draft.get("Id", "x"),
            "Content": f_in("b.bin", bytes(range(256)))})
        c.eq(st, 200, "Attachment.Add answers 200")
        added = rows(b)[0] if rows(b) else {}
        c.eq((added.get("Name"), added.get("Size")), ("b.bin", 256),
             "Attachment.Add: row of the new attachment")
        st, b = d.call("ews/Attachment.List", {"ItemId": draft.get("Id", "x")})
        c.eq(st, 200, "Attachment.List answers 200")
        c.eq(sorted(x.get("Name") for x in rows(b)), ["a.txt", "b.bin"],
             "Attachment.List: both attachments")
        st, b = d.call("ews/Attachment.Load", {"Id": added.get("Id", "x")})
        c.eq(st, 200, "Attachment.Load answers 200")
        cont = (rows(b)[0] if rows(b) else {}).get("Content", {})
        c.eq(base64.b64decode(cont.get("Content", "")), bytes(range(256)),
             "Attachment.Load: the bytes")
        st, b = d.call("ews/Attachment.Delete", {"Id": added.get("Id", "x")})
        c.eq(st, 200, "Attachment.Delete answers 200")
        st, b = d.call("ews/Attachment.List", {"ItemId": draft.get("Id", "x")})
        c.eq([x.get("Name") for x in rows(b)], ["a.txt"],
             "Attachment.Delete: it is gone")

        # the draft loads with every column, Bcc and ReplyTo too
        st, b = d.call("ews/Email.SaveDraft", {
            "To": [BOB], "Bcc": [CAROL], "ReplyTo": [BOB],
            "Subject": "draft two", "Importance": "Low"})
        d2 = rows(b)[0] if rows(b) else {}
        st, b = d.call("ews/Email.Load", {"Id": d2.get("Id", "x")})
        r = rows(b)[0] if rows(b) else {}
        c.eq((st, r.get("Bcc"), r.get("ReplyTo"), r.get("Importance")),
             (200, [CAROL], [BOB], "Low"), "Load of a draft: Bcc, ReplyTo")
        c.eq(r.get("Folder") and r.get("Attachments"), [],
             "Load of a draft: no attachments, a folder")

        # attachments page over the recomputed answer
        st, b = d.call("ews/Email.SaveDraft", {
            "To": [BOB], "Subject": "three files",
            "Attachments": [f_in("f%d.txt" % k, b"x%d" % k, "text/plain")
                            for k in range(3)]})
        d3 = rows(b)[0] if rows(b) else {}
        names, token = [], None
        for _ in range(5):
            inp = {"ItemId": d3.get("Id", "x"), "PageSize": 2}
            if token:
                inp["PageToken"] = token
            st, b = d.call("ews/Attachment.List", inp)
            names += [x.get("Name") for x in rows(b)]
            token = b.get("next_page_token") if st == 200 else None
            if not token:
                break
        c.eq(sorted(names), ["f0.txt", "f1.txt", "f2.txt"],
             "Attachment.List pages: every file once")
        # one removed before the position between pages skips nothing
        st, b = d.call("ews/Attachment.List", {"ItemId": d3.get("Id", "x"),
                                               "PageSize": 2})
        first_page = rows(b)
        token = b.get("next_page_token")
        st2, b2 = d.call("ews/Attachment.Delete", {
            "Id": first_page[0].get("Id", "x") if first_page else "x"})
        st, b = d.call("ews/Attachment.List", {"ItemId": d3.get("Id", "x"),
                                               "PageSize": 2,
                                               "PageToken": token or "x"})
        c.eq((st2, st, [x.get("Name") for x in rows(b)]),
             (200, 200, ["f2.txt"]),
             "Attachment.List: a file removed meanwhile moves no row")
        # the last one shown removed between pages: the next follows
        st, b = d.call("ews/Email.SaveDraft", {
            "To": [BOB], "Subject": "three more files",
            "Attachments": [f_in("g%d.txt" % k, b"y%d" % k, "text/plain")
                            for k in range(3)]})
        d4 = rows(b)[0] if rows(b) else {}
        st, b = d.call("ews/Attachment.List", {"ItemId": d4.get("Id", "x"),
                                               "PageSize": 2})
        first_page = rows(b)
        token = b.get("next_page_token")
        st2, b2 = d.call("ews/Attachment.Delete", {
            "Id": first_page[-1].get("Id", "x") if first_page else "x"})
        st, b = d.call("ews/Attachment.List", {"ItemId": d4.get("Id", "x"),
                                               "PageSize": 2,
                                               "PageToken": token or "x"})
        c.eq((st2, st, [x.get("Name") for x in first_page],
              [x.get("Name") for x in rows(b)]),
             (200, 200, ["g0.txt", "g1.txt"], ["g2.txt"]),
             "Attachment.List: the last file shown removed meanwhile: "
             "the next one follows")

        # impersonation: the Mailbox input sends as bob
        st, b = d.call("ews/Email.Send", {"To": [CAROL], "Subject": "as bob",
                                          "Mailbox": BOB})
        c.eq(st, 200, "Send with Mailbox (impersonate) answers 200")
        got = [i for i in mock.items(CAROL, "inbox")
               if i.get("subject") == "as bob"]
        c.eq([i.get("from") for i in got], [BOB],
             "Send with Mailbox: carol got it from bob")

        # delegate access: sent on behalf of bob, listed from bob's Inbox
        st, b = d.call("deleg/Email.Send", {"To": [CAROL],
                                            "Subject": "on behalf",
                                            "Mailbox": BOB})
        c.eq(st, 200, "delegate Send answers 200")
        got = [i for i in mock.items(CAROL, "inbox")
               if i.get("subject") == "on behalf"]
        c.eq([(i.get("from"), i.get("sent_by")) for i in got],
             [(BOB, ALICE)], "delegate Send: from bob, sent by alice")
        mock.deliver(mailbox=BOB, subject="for bob only", to=[BOB])
        st, b = d.call("deleg/Email.List", {"Mailbox": BOB})
        c.ok(st == 200 and "for bob only" in
             [x.get("Subject") for x in rows(b)],
             "delegate List: bob's Inbox", str(st))

        # a folder by name: Move there, List it
        st, b = d.call("ews/Folder.Create", {"Name": "Projects"})
        c.eq(st, 200, "Folder.Create Projects")
        st, b = d.call("ews/Email.Move", {"Id": d3.get("Id", "x"),
                                          "Folder": "Projects"})
        c.eq(st, 200, "Move to a folder by name")
        moved = rows(b)[0] if rows(b) else {}
        st, b = d.call("ews/Email.Load", {"Id": moved.get("Id", "x")})
        c.ok(moved.get("Folder") not in (None, "Projects") and
             moved.get("Folder") == (rows(b)[0] if rows(b) else {}).get(
                 "Folder"), "Move: Folder is the FolderId, as Load gives it")
        st, b = d.call("ews/Email.List", {"Folder": "Projects"})
        c.eq([x.get("Subject") for x in rows(b)], ["three files"],
             "List of a folder by name")
        # a long name of base64's characters is still a name, not an Id
        st, b = d.call("ews/Folder.Create", {"Name": "Quarterly-Reports-2024"})
        c.eq(st, 200, "Folder.Create Quarterly-Reports-2024")
        st, b = d.call("ews/Email.Move", {"Id": d2.get("Id", "x"),
                                          "Folder": "Quarterly-Reports-2024"})
        c.eq(st, 200, "Move to a folder by a long name")
        st, b = d.call("ews/Email.List", {"Folder": "Quarterly-Reports-2024"})
        c.eq((st, [x.get("Subject") for x in rows(b)]), (200, ["draft two"]),
             "List of a folder by a long name")

        # ---- List: To and Cc, one GetItem per page -------------------------
        mock.ctl("/_mock/reset", {})
        mock.deliver(subject="first", to=[ALICE, BOB], cc=[CAROL])
        time.sleep(1.1)
        mock.deliver(subject="second", to=[ALICE])
        gi = mock.ops("GetItem")
        st, b = d.call("ews/Email.List", {"Folder": "inbox"})
        c.eq(st, 200, "List answers 200")
        c.eq([x.get("Subject") for x in rows(b)], ["second", "first"],
             "List: newest first")
        first = rows(b)[1] if len(rows(b)) > 1 else {}
        c.eq((sorted(first.get("To", [])), first.get("Cc")),
             ([ALICE, BOB], [CAROL]), "List: To and Cc")
        c.eq(first.get("From"), CAROL, "List: From")
        c.eq(mock.ops("GetItem") - gi, 1, "List: one batched GetItem")
        # one odd item never fails a List: its recipients are left out
        mock.ctl("/_mock/inject", {"operation": "GetItem", "count": 1,
                                   "response_code": "ErrorItemNotFound",
                                   "item_index": 0})
        st, b = d.call("ews/Email.List", {"Folder": "inbox"})
        c.eq([x.get("Subject") for x in rows(b)], ["second", "first"],
             "List with an item gone meanwhile: every row")
        c.eq([x.get("To") for x in rows(b)], [[], [ALICE, BOB]],
             "List with an item gone meanwhile: only its To left out")
        # a page of nothing but unreadable entries does not end the list
        mock.ctl("/_mock/inject", {
            "operation": "FindItem", "count": 1, "raw": (
                '<?xml version="1.0" encoding="utf-8"?><s:Envelope '
                'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
                '<s:Body><m:FindItemResponse xmlns:m="http://schemas.'
                'microsoft.com/exchange/services/2006/messages" xmlns:t='
                '"http://schemas.microsoft.com/exchange/services/2006/'
                'types"><m:ResponseMessages><m:FindItemResponseMessage '
                'ResponseClass="Success"><m:ResponseCode>NoError'
                '</m:ResponseCode><m:RootFolder TotalItemsInView="4" '
                'IncludesLastItemInRange="false"><t:Items>'
                '<t:Message><t:Subject>no id</t:Subject></t:Message>'
                '<t:Message><t:Subject>no id</t:Subject></t:Message>'
                '</t:Items></m:RootFolder></m:FindItemResponseMessage>'
                '</m:ResponseMessages></m:FindItemResponse></s:Body>'
                '</s:Envelope>')})
        st, b = d.call("ews/Email.List", {"Folder": "inbox", "PageSize": 2})
        c.eq((st, [x.get("Subject") for x in rows(b)]),
             (200, ["second", "first"]),
             "List past a page of entries without an ItemId")
        # a FindItem success without RootFolder is a malformed answer,
        # not an empty folder
        no_root = FINDITEM_NO_ROOT
        mock.ctl("/_mock/inject", {"operation": "FindItem", "count": 1,
                                   "raw_status": 200, "raw": no_root})
        st, b = d.call("ews/Email.List", {"Folder": "inbox"})
        c.eq((st, b.get("error", {}).get("code")), (502, "invalid_response"),
             "Email.List: FindItem without RootFolder is 502 invalid_response")
        st, b = d.call("ews/Email.List", {"Folder": "no such folder"})
        c.eq(st, 404, "List: unknown folder is 404")

        # ---- paging through 250 while 10 arrive ------------------------------
        mock.ctl("/_mock/reset", {})
        orig = set(mock.deliver(subject="bulk", count=250))
        seen, dup, token, pages = [], 0, None, 0
        while pages < 20:
            inp = {"PageSize": 40}
            if token:
                inp["PageToken"] = token
            st, b = d.call("ews/Email.List", inp)
            if st != 200:
                c.ok(False, "paging: page %d answers 200" % pages, str(b))
                break
            for x in rows(b):
                if x["Id"] in seen:
                    dup += 1
                seen.append(x["Id"])
            pages += 1
            if pages <= 5:
                mock.deliver(subject="arrived", count=2)
            token = b.get("next_page_token")
            if not token:
                break
        c.eq(dup, 0, "paging: no row twice while 10 arrive")
        c.eq(len(orig - set(seen)), 0, "paging: every one of the 250 seen")

        # ---- Load: bodies, attachments inline, attached message --------------
        mock.ctl("/_mock/reset", {})
        att = os.urandom(3000)
        ids = mock.deliver(
            subject="with files", to=[ALICE], cc=[BOB], body="hello",
            html_body="<p>hello</p>",
            attachments=[
                {"name": "data.bin", "content_type": "application/x-data",
                 "content_b64": base64.b64encode(att).decode()},
                {"name": "old mail", "item": {
                    "subject": "the old one", "from": BOB, "to": [ALICE],
                    "body": "inner body"}}])
        ga = mock.ops("GetAttachment")
        st, b = d.call("ews/Email.Load", {"Id": ids[0]})
        c.eq(st, 200, "Load answers 200")
        r = rows(b)[0] if rows(b) else {}
        c.eq(r.get("Subject"), "with files", "Load: Subject")
        c.ok("<p>hello</p>" in (r.get("HtmlBody") or ""), "Load: HtmlBody")
        files = {f.get("Name"): f for f in r.get("Attachments", [])}
        c.eq(base64.b64decode(files.get("data.bin", {}).get("Content", "")),
             att, "Load: the file's bytes")
        eml = [f for f in files.values()
               if f.get("ContentType") == "message/rfc822"]
        c.eq(len(eml), 1, "Load: the attached message as message/rfc822")
        if eml:
            c.ok(b"the old one" in base64.b64decode(eml[0]["Content"]),
                 "Load: the attached message's MIME source")
        c.eq(mock.ops("GetAttachment") - ga, 1, "Load: one GetAttachment")
        st, b = d.call("ews/Email.Load", {"Id": "AAMkDoesNotExist="})
        c.eq(st, 404, "Load: unknown Id is 404")

        # ---- 413 for oversize mail ----------------------------------------
        big = mock.deliver(subject="big one", attachments=[
            {"name": "big.bin", "content_type": "application/octet-stream",
             "content_b64": base64.b64encode(b"y" * 8192).decode()}])
        st, b = d.call("small/Email.Load", {"Id": big[0]})
        c.eq((st, err(b).get("code")), (413, "ErrorMessageSizeExceeded"),
             "Load over max_attachment_size: 413 ErrorMessageSizeExceeded")
        c.ok("Attachment" in err(b).get("message", ""),
             "the 413 names the Attachment object", err(b).get("message"))
        # an attachment answer over the response cap is 413 too, not 502
        for meth, inp in (("Attachment.Load", {"Id": ids[0]}),
                          ("Email.Load", {"Id": ids[0]})):
            mock.ctl("/_mock/inject", {"operation": "GetAttachment",
                                       "count": 1, "raw_preset": "huge",
                                       "size": 2 << 20})
            st, b = d.call("tight/" + meth, inp)
            c.eq((st, err(b).get("code")), (413, "ErrorMessageSizeExceeded"),
                 "%s: answer over max_response_size: 413" % meth)
            c.ok("Attachment" in err(b).get("message", ""),
                 "%s: the 413 names the Attachment object" % meth,
                 err(b).get("message"))

        # ---- hostile mailbox ----------------------------------------------
        mock.ctl("/_mock/reset", {})
        mock.deliver(subject="fine", to=[ALICE])
        mock.deliver(hostile=True, count=3)
        mock.deliver(from_ex=True, subject="from EX")
        st, b = d.call("ews/Email.List", {})
        c.eq(st, 200, "hostile mailbox: List answers 200")
        c.ok(len(rows(b)) >= 2, "hostile mailbox: the good rows are there")
        for x in rows(b):
            c.ok("From" not in x or ("@" in x["From"] and
                                     not x["From"].startswith("/")),
                 "hostile mailbox: From is an SMTP address or absent")
            st2, b2 = d.call("ews/Email.Load", {"Id": x["Id"]})
            c.eq(st2, 200, "hostile mailbox: Load of %s" % x.get("Subject"))

        # paging over rows whose time cannot be read: none twice, none lost
        want = set(mock.deliver(subject="plain {n}", count=5)) | \
            set(mock.deliver(hostile=True, count=4))
        mock.deliver(subject="late", count=1)
        ids, token = [], None
        for _ in range(30):
            inp = {"PageSize": 2}
            if token:
                inp["PageToken"] = token
            st, b = d.call("ews/Email.List", inp)
            if st != 200:
                break
            ids += [x["Id"] for x in rows(b)]
            token = b.get("next_page_token")
            if not token:
                break
        c.eq(len(ids), len(set(ids)), "hostile paging: no row twice")
        c.eq(want - set(ids), set(), "hostile paging: every row seen")

        # ---- Reply, ReplyAll, Forward ---------------------------------------
        mock.ctl("/_mock/reset", {})
        o = mock.deliver(subject="question", to=[ALICE], cc=[BOB],
                         body="what now?",
                         attachments=[{"name": "q.txt",
                                       "content_type": "text/plain",
                                       "content_b64": "cQ=="}])[0]
        st, b = d.call("ews/Email.Reply", {"Id": o, "Body": "this"})
        c.eq(st, 200, "Reply answers 200")
        st2, b2 = d.call("ews/Folder.Load", {"Folder": "sentitems"})
        c.eq((rows(b)[0] if rows(b) else {}).get("Folder"),
             (rows(b2)[0] if rows(b2) else {}).get("Id", "?"),
             "Reply: Folder is the FolderId of Sent Items")
        c.eq((rows(b)[0] if rows(b) else {}).get("Accepted"), [CAROL],
             "Reply: to the sender")
        c.ok(any((s or "").lower().startswith("re: question")
                 for s in subjects(mock.items(CAROL, "inbox"))),
             "Reply: carol got RE: question")
        st, b = d.call("ews/Email.ReplyAll", {"Id": o, "Body": "all"})
        c.eq(st, 200, "ReplyAll answers 200")
        c.eq(sorted((rows(b)[0] if rows(b) else {}).get("Accepted", [])),
             [BOB, CAROL], "ReplyAll: sender and Cc, not alice herself")
        st, b = d.call("ews/Email.Forward", {
            "Id": o, "To": [BOB], "Body": "fyi",
            "Attachments": [f_in("extra.txt", b"extra", "text/plain")]})
        c.eq(st, 200, "Forward answers 200")
        fw = [i for i in mock.items(BOB, "inbox")
              if (i.get("subject") or "").lower().startswith("fw")]
        c.eq(len(fw), 1, "Forward: bob got FW: once")
        if fw:
            c.eq(sorted(a.get("name") for a in fw[0].get("attachments", [])),
                 ["extra.txt", "q.txt"],
                 "Forward: original attachment kept, new one added")
        st, b = d.call("ews/Email.Reply", {"Id": "AAMkDoesNotExist="})
        c.eq(st, 404, "Reply to an unknown Id is 404")

        # ---- MarkRead, Move, Delete ----------------------------------------
        st, b = d.call("ews/Email.Load", {"Id": o})
        ck = (rows(b)[0] if rows(b) else {}).get("ChangeKey", "")
        st, b = d.call("ews/Email.MarkRead", {"Id": o, "ChangeKey": ck})
        c.eq(st, 200, "MarkRead answers 200")
        r = rows(b)[0] if rows(b) else {}
        c.ok(r.get("ChangeKey") and r.get("ChangeKey") != ck,
             "MarkRead: a new ChangeKey")
        c.ok(all(i.get("is_read") for i in mock.items(ALICE, "inbox")
                 if i.get("id") == o), "MarkRead: read at the server")
        st, b = d.call("ews/Email.MarkRead", {"Id": o, "ChangeKey": ck,
                                              "IsRead": False})
        c.eq(st, 409, "MarkRead with a stale ChangeKey: 409")
        st, b = d.call("ews/Email.MarkRead", {"Id": o, "ChangeKey": "a b<c>",
                                              "IsRead": False})
        c.ok(st == 400 and "ChangeKey" in
             (b.get("error") or {}).get("message", ""),
             "MarkRead: a ChangeKey that is no EWS id is 400, naming it",
             repr(b)[:200])
        # Delete without HardDelete: to Deleted Items, with its new Id
        soft = mock.deliver(subject="soft delete", to=[ALICE])[0]
        st, b = d.call("ews/Email.Delete", {"Id": soft})
        c.eq(st, 200, "soft Delete answers 200")
        r = rows(b)[0] if rows(b) else {}
        c.ok(r.get("Id") and r.get("Id") != soft and r.get("ChangeKey"),
             "soft Delete: the new Id and ChangeKey", str(r))
        c.eq([i.get("id") for i in mock.items(ALICE, "deleteditems")
              if i.get("subject") == "soft delete"], [r.get("Id")],
             "soft Delete: the message is in Deleted Items")
        st, b = d.call("ews/Email.Load", {"Id": r.get("Id") or "x"})
        c.eq((st, (rows(b)[0] if rows(b) else {}).get("Folder")),
             (200, r.get("Folder")),
             "soft Delete: the new Id loads, in the Folder returned")
        st, b = d.call("ews/Email.Delete", {"Id": r.get("Id") or "x"})
        c.eq((st, (rows(b)[0] if rows(b) else {}).get("Folder")),
             (200, None), "soft Delete in Deleted Items: removed")
        c.eq([i for i in mock.items(ALICE, "deleteditems")
              if i.get("subject") == "soft delete"], [],
             "soft Delete in Deleted Items: gone for good")
        st, b = d.call("ews/Email.Move", {"Id": o, "Folder": "deleteditems"})
        c.eq(st, 200, "Move answers 200")
        new_id = (rows(b)[0] if rows(b) else {}).get("Id")
        c.ok(new_id and new_id != o, "Move: a new Id")
        st, b = d.call("ews/Email.Load", {"Id": new_id or "x"})
        c.eq(st, 200, "Move: the new Id loads")
        # an answer without the new Id fails instead of returning the old
        mock.ctl("/_mock/inject", {
            "operation": "MoveItem", "count": 1, "raw": (
                '<?xml version="1.0" encoding="utf-8"?><s:Envelope '
                'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
                '<s:Body><m:MoveItemResponse xmlns:m="http://schemas.'
                'microsoft.com/exchange/services/2006/messages">'
                '<m:ResponseMessages><m:MoveItemResponseMessage '
                'ResponseClass="Success"><m:ResponseCode>NoError'
                '</m:ResponseCode><m:Items/></m:MoveItemResponseMessage>'
                '</m:ResponseMessages></m:MoveItemResponse></s:Body>'
                '</s:Envelope>')})
        st, b = d.call("ews/Email.Move", {"Id": new_id or "x",
                                          "Folder": "inbox"})
        c.eq((st, err(b).get("code")), (502, "invalid_response"),
             "Move answered without the new Id: upstream error")
        st, b = d.call("ews/Email.Delete", {"Id": new_id or "x",
                                            "HardDelete": True})
        c.eq(st, 200, "Delete answers 200")
        st, b = d.call("ews/Email.Load", {"Id": new_id or "x"})
        c.eq(st, 404, "Delete: gone")

        # ---- a Send the server refused as busy is retried, once -----------
        before = mock.ops("CreateItem")
        mock.ctl("/_mock/inject", {"operation": "CreateItem", "count": 1,
                                   "fault": "ErrorServerBusy",
                                   "back_off_ms": 200})
        st, b = d.call("ews/Email.Send", {"To": [BOB], "Subject": "busy"})
        c.eq(st, 200, "Send after ErrorServerBusy answers 200")
        c.eq(len([i for i in mock.items(BOB, "inbox")
                  if i.get("subject") == "busy"]), 1,
             "Send after ErrorServerBusy: delivered once")
        c.eq(mock.ops("CreateItem") - before, 2,
             "Send after ErrorServerBusy: retried once")

        # ---- Send is not repeated after the request was read ---------------
        before = mock.ops("CreateItem")
        mock.ctl("/_mock/inject", {"operation": "CreateItem", "count": 1,
                                   "drop": "after_read"})
        st, b = d.call("ews/Email.Send", {"To": [BOB], "Subject": "once"})
        c.ok(st >= 500, "Send after a dropped connection fails", str(st))
        time.sleep(0.5)
        c.ok(len([i for i in mock.items(BOB, "inbox")
                  if i.get("subject") == "once"]) <= 1,
             "Send: never delivered twice")
        c.eq(mock.ops("CreateItem") - before, 1, "Send: not retried")

        c.eq(mock.stats().get("violations"), [],
             "no schema violation at the mock")

    # ---- the 25 MiB attachment, memory measured ----------------------------
    mock.ctl("/_mock/reset", {})
    blob = os.urandom(25 * 1024 * 1024)
    ids = mock.deliver(subject="huge", attachments=[
        {"name": "huge.bin", "content_type": "application/octet-stream",
         "content_b64": base64.b64encode(blob).decode()}])
    # default max_response_size and max_attachment_size: a 25 MiB file
    # (35 MB in base64) loads although the answer is over 32 MiB
    with sbtest.Daemon("[module exchange-ews]\nenabled = yes\n" +
                       instance("ews", mock.port, "")) as d:
        st, b = d.call("ews/Attachment.List", {"ItemId": ids[0]})
        c.eq(st, 200, "25 MiB: Attachment.List answers 200")
        a = rows(b)[0] if rows(b) else {}
        c.eq(a.get("Size"), len(blob), "25 MiB: Size")
        measure = not sbtest.VALGRIND and not sanitized(d.proc.pid)
        base = vm_hwm(d.proc.pid) if measure else -1
        st, b = d.call("ews/Attachment.Load", {"Id": a.get("Id", "x")},
                       timeout=300)
        c.eq(st, 200, "25 MiB: Attachment.Load answers 200")
        data = base64.b64decode(
            (rows(b)[0] if rows(b) else {}).get("Content", {}).get(
                "Content", ""))
        c.eq(hashlib.sha256(data).hexdigest(),
             hashlib.sha256(blob).hexdigest(), "25 MiB: the exact bytes")
        if base > 0:
            peak = vm_hwm(d.proc.pid) - base
            print("# 25 MiB attachment: daemon peak RSS grew by %.1f MiB "
                  "(%.2fx the file)" % (peak / 1048576.0,
                                        peak / float(len(blob))))
            # what is held at the peak: the answer's base64 (1.33x, freed
            # once parsed), the decoded file (1x, the content decoded while
            # parsed: never a base64 text node), the result's copy (1x)
            # and the host's JSON rendering of it (1.33x): measured 3.67x.
            # Parsing the answer into a tree first (a base64 text node
            # besides the raw answer) measured 4.0x, so the bound, 3.85x,
            # is met only while the content is decoded as it streams.
            c.ok(peak < 3.85 * len(blob),
                 "25 MiB: memory stays bounded (content streamed)",
                 "%d bytes" % peak)
        c.eq(mock.stats().get("violations"), [],
             "no schema violation at the mock (25 MiB)")
finally:
    mock.stop()
c.done()
