#!/usr/bin/python3
"""The mock EWS server (tests/mock/ews_server.py) answers like Exchange:
exchangelib 4.9.0 (Debian python3-exchangelib), an independent EWS client,
lists folders, sends mail and sees it delivered, loads messages, creates
and reads attachments, resolves names, gets and sets automatic replies,
lists room lists and rooms and gets free/busy against it, with Basic and
with NTLM, and not one of its requests (nor one of the mock's answers)
breaks Microsoft's schema.  Also checks the mock's
own control API, its schema validation, injections, Autodiscover,
impersonation, OAuth2 bearer tokens and Kerberos (Negotiate) from a real
MIT KDC on loopback."""
import base64
import datetime
import json
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402

try:
    __import__("lxml")  # the mock needs it
    import exchangelib
    from exchangelib import (Account, Configuration, Credentials, DELEGATE,
                             IMPERSONATION, BASIC, NTLM, UTC, Message,
                             Mailbox, FileAttachment, ItemAttachment,
                             Folder, OofSettings, EWSDateTime)
    from exchangelib.errors import (ErrorServerBusy,
                                    ErrorImpersonateUserDenied,
                                    UnauthorizedError, ErrorItemNotFound)
except ImportError as e:
    print("# missing python3-lxml / python3-exchangelib: %s" % e)
    sys.exit(sbtest.SKIP)

from ews_server import MockEWS  # noqa: E402

import ews_server  # noqa: E402
SCHEMA = os.path.join(ews_server.DEFAULT_SCHEMA, "messages.xsd")
if ews_server.schema_missing():
    print("# %s" % ews_server.schema_missing())
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()
PW = "Secret-Pw-1"
ATT = bytes(range(256)) * 20 + "é 東京 😀".encode()


def account(ews, user, auth=BASIC, access=DELEGATE, login=None, pw=PW):
    cfg = Configuration(service_endpoint=ews.url,
                        credentials=Credentials(login or user, pw),
                        auth_type=auth)
    return Account(user, config=cfg, autodiscover=False, access_type=access,
                   default_timezone=UTC)


def no_violations(ews, name):
    s = ews.stats()
    c.eq(s["violations"], [], name + ": no request broke the schema")
    c.eq(s["response_violations"], [],
         name + ": no answer of the mock broke the schema")
    c.eq(s["internal_errors"], [], name + ": no defect of the mock met")


def subjects(ews, addr, folder):
    return sorted(i["subject"] for i in ews.items(addr, folder))


def task_round(a):
    from decimal import Decimal
    from exchangelib import Task
    from exchangelib.errors import ErrorIrresolvableConflict
    t = Task(folder=a.tasks, subject="Plan <Q3> & budget",
             body="steps 1–3", importance="High",
             start_date=datetime.date(2027, 1, 15),
             due_date=datetime.date(2027, 1, 31), status="InProgress",
             percent_complete=Decimal(30))
    t.save()
    c.ok(t.id and t.changekey, "Task: CreateItem answers its ItemId")
    got = a.tasks.get(id=t.id)
    c.eq((got.subject, got.body, got.importance, got.start_date,
          got.due_date, got.status, got.percent_complete),
         ("Plan <Q3> & budget", "steps 1–3", "High",
          datetime.date(2027, 1, 15), datetime.date(2027, 1, 31),
          "InProgress", Decimal(30)), "Task: GetItem reads it back")
    got.subject = "Plan Q3"
    got.due_date = datetime.date(2027, 2, 5)
    got.save(update_fields=["subject", "due_date"])
    again = a.tasks.get(id=t.id)
    c.eq((again.subject, again.due_date, again.start_date, again.status),
         ("Plan Q3", datetime.date(2027, 2, 5),
          datetime.date(2027, 1, 15), "InProgress"),
         "Task: UpdateItem changes the fields given, no other")
    c.ok(again.changekey != t.changekey, "Task: a new ChangeKey")
    stale = a.tasks.get(id=t.id)
    stale.changekey = t.changekey
    stale.subject = "stale"
    try:
        stale.save(update_fields=["subject"])
        c.ok(False, "Task: a stale ChangeKey is refused")
    except ErrorIrresolvableConflict:
        c.ok(True, "Task: a stale ChangeKey is refused")
    again.complete()
    done = a.tasks.get(id=t.id)
    c.eq((done.status, done.percent_complete, done.is_complete,
          done.complete_date is not None, done.subject),
         ("Completed", Decimal(100), True, True, "Plan Q3"),
         "Task: completed (PercentComplete 100, CompleteDate set)")
    c.eq([x.subject for x in a.tasks.all()], ["Plan Q3"],
         "Task: FindItem in the tasks folder lists it")
    done.delete()
    c.eq(list(a.tasks.all()), [], "Task: DeleteItem removes it")


# ---------------------------------------------------------------------------
# 1. Basic authentication, version negotiation, the whole mail round
# ---------------------------------------------------------------------------
def basic_round(ews):
    # unpinned: exchangelib probes with ConvertId and "Exchange2019"; the
    # mock answers ErrorInvalidServerVersion and exchangelib settles on
    # Exchange2016 from ServerVersionInfo
    cfg = Configuration(service_endpoint=ews.url,
                        credentials=Credentials("alice@example.test", PW))
    a = Account("alice@example.test", config=cfg, autodiscover=False,
                access_type=DELEGATE, default_timezone=UTC)
    c.eq(cfg.auth_type, BASIC, "auth type detected from the 401")
    c.eq(a.version.api_version, "Exchange2016", "version negotiated")
    c.eq((a.version.build.major_version, a.version.build.minor_version),
         (15, 1), "server build 15.1 read from ServerVersionInfo")
    c.ok(ews.stats()["invalid_versions"] >= 1,
         "Exchange2019 refused with ErrorInvalidServerVersion")

    # folder listing
    names = [f.name for f in a.root.walk()]
    for n in ("Inbox", "Sent Items", "Drafts", "Deleted Items", "Outbox",
              "Junk Email"):
        c.ok(n in names, "folder listing has %s" % n, names)
    c.eq(a.inbox.name, "Inbox", "inbox by distinguished id")
    proj = Folder(parent=a.inbox, name="Projects")
    proj.save()
    sub = Folder(parent=proj, name="2030")
    sub.save()
    c.eq([f.name for f in a.inbox.children], ["Projects"],
         "CreateFolder: child of the inbox listed (FindFolder Shallow)")
    c.eq(sorted(f.name for f in a.inbox.walk()), ["2030", "Projects"],
         "FindFolder Deep sees the grandchild")
    dup = Folder(parent=a.inbox, name="Projects")
    try:
        dup.save()
        c.ok(False, "a duplicate folder name is refused")
    except exchangelib.errors.ErrorFolderExists:
        c.ok(True, "a duplicate folder name is refused")

    # sending, delivered to bob's and carol's inboxes, copy in sent items
    m = Message(account=a, subject="Build 1742 passed",
                body="All 312 tests passed.",
                to_recipients=[Mailbox(email_address="bob@example.test")],
                cc_recipients=["carol@example.test"],
                bcc_recipients=["outside@partner.test"])
    m.send_and_save()
    c.eq(subjects(ews, "bob@example.test", "inbox"), ["Build 1742 passed"],
         "sent mail delivered to bob's Inbox")
    c.eq(subjects(ews, "carol@example.test", "inbox"),
         ["Build 1742 passed"], "sent mail delivered to carol (Cc)")
    c.eq(subjects(ews, "alice@example.test", "sentitems"),
         ["Build 1742 passed"], "SendAndSaveCopy kept a copy in Sent Items")
    c.ok("outside@partner.test" in ews.stats()["sent_external"],
         "a non-local recipient is recorded as sent outside")

    # bob sees it with exchangelib, loads it, marks it read
    b = account(ews, "bob@example.test")
    got = list(b.inbox.all())
    c.eq([x.subject for x in got], ["Build 1742 passed"],
         "bob lists his inbox (FindItem)")
    full = b.inbox.get(id=got[0].id)
    c.eq(full.body, "All 312 tests passed.", "GetItem: body")
    c.eq(full.author.email_address, "alice@example.test", "GetItem: From")
    c.eq([r.email_address for r in full.to_recipients],
         ["bob@example.test"], "GetItem: To")
    c.eq([r.email_address for r in full.cc_recipients or []],
         ["carol@example.test"], "GetItem: Cc")
    c.eq(full.is_read, False, "delivered unread")
    old_ck = full.changekey
    full.is_read = True
    full.save(update_fields=["is_read"])
    row = ews.items("bob@example.test", "inbox")[0]
    c.eq(row["is_read"], True, "UpdateItem IsRead stored")
    c.ok(full.changekey != old_ck and row["change_key"] == full.changekey,
         "the ChangeKey changes on update")
    # several ids in one GetItem, one unknown: answered per item
    res = list(b.fetch(ids=[(got[0].id, None), ("AAMkAGZha2UtbWJ4=", None)]))
    c.eq(type(res[0]).__name__, "Message", "GetItem: first id found")
    c.ok(isinstance(res[1], ErrorItemNotFound),
         "GetItem: an unknown id answered ErrorItemNotFound", repr(res[1]))

    # reply: delivered back to alice with RE: and the original quoted
    full.reply(subject=None, body="Great, thanks!")
    c.eq(subjects(ews, "alice@example.test", "inbox"),
         ["RE: Build 1742 passed"], "ReplyToItem delivered to alice")
    reply = ews.items("alice@example.test", "inbox")[0]
    c.ok(reply["body"].startswith("Great, thanks!") and
         "All 312 tests passed." in reply["body"],
         "reply: new text first, then the original", reply["body"])
    c.eq(reply["in_reply_to"], row["message_id"],
         "reply: In-Reply-To is the original's Message-ID")

    # reply all and forward (response objects with ReferenceItemId)
    orig = [x for x in b.inbox.all() if x.subject == "Build 1742 passed"][0]
    orig.reply_all(subject=None, body="Noted by all")
    c.eq(subjects(ews, "carol@example.test", "inbox"),
         ["Build 1742 passed", "RE: Build 1742 passed"],
         "ReplyAllToItem reaches the Cc recipient")
    c.eq(subjects(ews, "alice@example.test", "inbox"),
         ["RE: Build 1742 passed", "RE: Build 1742 passed"],
         "ReplyAllToItem reaches the sender")
    orig.forward(subject=None, body="FYI",
                 to_recipients=["carol@example.test"])
    fw = [x for x in ews.items("carol@example.test", "inbox")
          if x["subject"] == "FW: Build 1742 passed"]
    c.ok(len(fw) == 1 and fw[0]["from"] == "bob@example.test" and
         fw[0]["body"].startswith("FYI"), "ForwardItem delivered", fw)

    # a draft sent later (SendItem) and an on-behalf send
    dr = Message(account=a, folder=a.drafts, subject="draft to send",
                 body="later", to_recipients=["bob@example.test"])
    dr.save()
    c.eq(subjects(ews, "alice@example.test", "drafts"), ["draft to send"],
         "SaveOnly keeps a draft")
    dr.send()
    c.eq(subjects(ews, "alice@example.test", "drafts"), [],
         "SendItem takes the draft out of Drafts")
    c.ok("draft to send" in subjects(ews, "bob@example.test", "inbox"),
         "SendItem delivered the draft")
    c.ok("draft to send" in subjects(ews, "alice@example.test",
                                     "sentitems"),
         "SendItem saved a copy in Sent Items")
    bob_as_alice = account(ews, "bob@example.test",
                           login="alice@example.test")
    Message(account=bob_as_alice, subject="on behalf", body="for bob",
            to_recipients=["carol@example.test"]).send_and_save()
    ob = [x for x in ews.items("carol@example.test", "inbox")
          if x["subject"] == "on behalf"]
    c.ok(len(ob) == 1 and ob[0]["from"] == "bob@example.test" and
         ob[0]["sender"] == "alice@example.test" and
         ob[0]["sent_by"] == "alice@example.test",
         "a delegate's send is on behalf (sent_by recorded)", ob)
    c.ok("on behalf" in subjects(ews, "bob@example.test", "sentitems"),
         "the delegate's copy goes to the owner's Sent Items")

    # attachments: file and item attachments on a draft
    d = Message(account=a, folder=a.drafts, subject="with files",
                body="see attached", to_recipients=["bob@example.test"])
    d.save()
    d.attach(FileAttachment(name="data é.bin", content=ATT,
                            content_type="application/octet-stream"))
    inner = Message(subject="the attached one", body="inner body",
                    to_recipients=["carol@example.test"])
    d.attach(ItemAttachment(name="forwarded", item=inner))
    stored = ews.items("alice@example.test", "drafts")
    c.eq([(x["name"], x["size"]) for x in stored[0]["attachments"]][0],
         ("data é.bin", len(ATT)), "CreateAttachment stored the file")
    c.eq(len(stored[0]["attachments"]), 2,
         "CreateAttachment stored the item attachment")
    again = a.drafts.get(id=d.id)
    files = [x for x in again.attachments if isinstance(x, FileAttachment)]
    c.eq([x.name for x in files], ["data é.bin"], "attachment listed")
    c.eq(files[0].content, ATT, "GetAttachment: content round trip")
    items = [x for x in again.attachments if isinstance(x, ItemAttachment)]
    c.eq(items[0].item.subject if items else None, "the attached one",
         "GetAttachment: the attached message")
    again.subject = "renamed"
    again.body = "a new body"
    again.save(update_fields=["subject", "body"])
    row = ews.items("alice@example.test", "drafts")[0]
    c.eq((row["subject"], row["body"]), ("renamed", "a new body"),
         "UpdateItem Subject and Body")
    files[0].detach()
    c.eq(len(ews.items("alice@example.test", "drafts")[0]["attachments"]),
         1, "DeleteAttachment removed the file")

    # delivered mail with attachments, loaded by exchangelib
    ews.ok("deliver", {
        "mailbox": "carol@example.test", "from": "Dave <dave@partner.test>",
        "to": ["carol@example.test"], "subject": "report",
        "html_body": "<p>see <b>report</b></p>",
        "attachments": [
            {"name": "r.pdf", "content_type": "application/pdf",
             "content_b64": base64.b64encode(ATT).decode()},
            {"name": "orig.eml", "item": {"subject": "inner",
                                          "from": "x@partner.test",
                                          "to": ["carol@example.test"],
                                          "body": "inner text"}}]})
    cz = account(ews, "carol@example.test")
    rep = [x for x in cz.inbox.all() if x.subject == "report"][0]
    c.ok("<b>report</b>" in str(rep.body), "HTML body loaded")
    c.eq(sorted(x.name for x in rep.attachments), ["orig.eml", "r.pdf"],
         "delivered attachments listed")
    c.eq([x.content for x in rep.attachments if x.name == "r.pdf"][0], ATT,
         "delivered file attachment content")

    # move (new id, as Exchange) and delete to Deleted Items
    old_id = rep.id
    rep.move(cz.trash)
    c.eq(subjects(ews, "carol@example.test", "deleteditems"), ["report"],
         "MoveItem to Deleted Items")
    new_id = ews.items("carol@example.test", "deleteditems")[0]["id"]
    c.ok(new_id != old_id and rep.id == new_id,
         "MoveItem gives a new id, as Exchange does")
    x = [x for x in cz.inbox.all() if x.subject == "FW: Build 1742 passed"]
    x[0].move_to_trash()
    c.ok("FW: Build 1742 passed" in subjects(ews, "carol@example.test",
                                             "deleteditems"),
         "DeleteItem MoveToDeletedItems")
    x = [x for x in cz.inbox.all() if x.subject == "RE: Build 1742 passed"]
    x[0].soft_delete()
    c.ok("RE: Build 1742 passed" not in
         subjects(ews, "carol@example.test", "inbox") + subjects(
             ews, "carol@example.test", "deleteditems") and
         "RE: Build 1742 passed" in subjects(
             ews, "carol@example.test", "recoverableitemsdeletions"),
         "DeleteItem SoftDelete: kept in Recoverable Items")
    msg = [x for x in cz.inbox.all() if x.subject == "on behalf"][0]
    msg.delete()
    c.ok("on behalf" not in subjects(ews, "carol@example.test", "inbox") and
         "on behalf" not in subjects(ews, "carol@example.test",
                                     "deleteditems"),
         "DeleteItem HardDelete")

    # paging and restrictions through FindItem
    ews.ok("deliver", {"mailbox": "bob@example.test", "count": 25,
                       "from": "robot@example.test",
                       "to": ["bob@example.test"], "subject": "n{n}"})
    qs = b.inbox.filter(subject__startswith="n").order_by(
        "-datetime_received")
    qs.page_size = 10
    seen = [x.subject for x in qs]
    c.eq(len(seen), 25, "paged FindItem: 25 messages")
    c.eq(len(set(seen)), 25, "paged FindItem: no message twice")
    c.ok(ews.stats()["by_operation"].get("FindItem", 0) >= 3,
         "paged FindItem needed several requests")
    cut = EWSDateTime.now(tz=UTC) - datetime.timedelta(days=1)
    n_bob = len(ews.items("bob@example.test", "inbox"))
    c.eq(b.inbox.filter(datetime_received__gt=cut).count(), n_bob,
         "Restriction IsGreaterThan DateTimeReceived")
    c.eq(b.inbox.filter(datetime_received__lte=cut).count(), 0,
         "Restriction IsLessThanOrEqualTo DateTimeReceived")

    # name resolution
    res = a.protocol.resolve_names(["ali"], return_full_contact_data=True)
    c.eq(sorted(m.email_address for m, _ in res),
         ["alice@example.test", "alistair@example.test"],
         "ResolveNames: an ambiguous name gives several resolutions")
    c.eq([ct.department for m, ct in res
          if m.email_address == "alice@example.test"], ["Engineering"],
         "ResolveNames: full contact data")
    res = a.protocol.resolve_names(["bob"])
    c.eq([m.email_address for m in res], ["bob@example.test"],
         "ResolveNames: one resolution")
    res = a.protocol.resolve_names(["qa-team"])
    c.eq([m.mailbox_type for m in res], ["PublicDL"],
         "ResolveNames: a distribution list")
    res = a.protocol.resolve_names(["nobody-by-that-name"])
    c.ok(len(res) == 1 and isinstance(
        res[0], exchangelib.errors.ErrorNameResolutionNoResults),
        "ResolveNames: no result", res)

    # automatic replies
    o = a.oof_settings
    c.eq(o.state, OofSettings.DISABLED, "GetUserOofSettings: disabled")
    start = EWSDateTime.now(tz=UTC).replace(microsecond=0)
    a.oof_settings = OofSettings(
        state=OofSettings.SCHEDULED, external_audience="Known",
        start=start, end=start + datetime.timedelta(days=3),
        internal_reply="Back on Monday — Zoë", external_reply="Away")
    o = a.oof_settings
    c.eq((o.state, o.external_audience, o.internal_reply, o.external_reply),
         (OofSettings.SCHEDULED, "Known", "Back on Monday — Zoë", "Away"),
         "SetUserOofSettings stored, GetUserOofSettings reads it back")
    c.eq(o.end - o.start, datetime.timedelta(days=3), "OOF duration")

    # delegate access to another mailbox; impersonation
    bob_as_alice = account(ews, "bob@example.test", login="alice@example.test")
    c.eq(len(list(bob_as_alice.inbox.all())), n_bob,
         "delegate access through DistinguishedFolderId/Mailbox")
    c.ok("bob@example.test" in ews.stats()["delegated"],
         "delegate access recorded")
    imp = account(ews, "carol@example.test", login="alice@example.test",
                  access=IMPERSONATION)
    c.eq(imp.inbox.total_count, len(ews.items("carol@example.test", "inbox")),
         "alice may impersonate carol")
    st = ews.stats()
    c.ok("carol@example.test" in st["impersonated"],
         "ExchangeImpersonation honoured")
    c.ok("carol@example.test" in st["anchor_mailboxes"],
         "X-AnchorMailbox recorded")
    try:
        account(ews, "carol@example.test", login="bob@example.test",
                access=IMPERSONATION).inbox.total_count
        c.ok(False, "bob may not impersonate")
    except ErrorImpersonateUserDenied:
        c.ok(True, "bob may not impersonate")

    # tasks: created, read, updated, completed and deleted as Exchange
    # does it (ews_tasks.py)
    task_round(a)

    # throttling as Exchange answers it
    ews.ok("inject", {"operation": "FindItem", "fault": "ErrorServerBusy",
                      "back_off_ms": 1500})
    try:
        list(b.inbox.all())
        c.ok(False, "ErrorServerBusy raised")
    except ErrorServerBusy as e:
        c.eq(e.back_off, 1.5, "ErrorServerBusy: BackOffMilliseconds read")
    no_violations(ews, "basic")


# ---------------------------------------------------------------------------
# 2. NTLM
# ---------------------------------------------------------------------------
def ntlm_round(ews):
    a = account(ews, "alice@example.test", auth=NTLM,
                login="EXAMPLE\\alice")
    names = [f.name for f in a.root.walk()]
    c.ok("Inbox" in names, "NTLM: folder listing")
    m = Message(account=a, subject="via NTLM", body="hello",
                to_recipients=["bob@example.test"])
    m.send_and_save()
    c.eq(subjects(ews, "bob@example.test", "inbox"), ["via NTLM"],
         "NTLM: sent and delivered")
    b = account(ews, "bob@example.test", auth=NTLM,
                login="bob@example.test")
    got = list(b.inbox.all())
    c.eq(b.inbox.get(id=got[0].id).body, "hello", "NTLM: loaded")
    res = a.protocol.resolve_names(["carol"])
    c.eq([x.email_address for x in res], ["carol@example.test"],
         "NTLM: name resolution")
    c.eq(a.oof_settings.state, OofSettings.DISABLED, "NTLM: OOF get")
    start = EWSDateTime.now(tz=UTC).replace(microsecond=0)
    a.oof_settings = OofSettings(
        state=OofSettings.ENABLED, external_audience="None",
        start=start, end=start + datetime.timedelta(hours=5),
        internal_reply="out", external_reply="away")
    c.eq(a.oof_settings.state, OofSettings.ENABLED, "NTLM: OOF set")
    d = Message(account=a, folder=a.drafts, subject="NTLM files",
                body="x", to_recipients=["bob@example.test"])
    d.save()
    d.attach(FileAttachment(name="n.bin", content=ATT))
    back = a.drafts.get(id=d.id)
    c.eq([x.content for x in back.attachments], [ATT],
         "NTLM: attachment created and read back")
    st = ews.stats()
    c.ok(1 <= st["ntlm_handshakes"] <= st["connections"],
         "NTLM: at most one handshake per connection",
         "%d handshakes, %d connections" % (st["ntlm_handshakes"],
                                            st["connections"]))
    c.ok(st["requests"] >= 2 * st["ntlm_handshakes"],
         "NTLM: kept connections answer without a new handshake",
         "%d requests, %d handshakes" % (st["requests"],
                                         st["ntlm_handshakes"]))
    try:
        account(ews, "alice@example.test", auth=NTLM,
                login="EXAMPLE\\alice", pw="wrong").root
        c.ok(False, "NTLM: a wrong password is refused")
    except UnauthorizedError:
        c.ok(True, "NTLM: a wrong password is refused")
    c.ok(ews.stats()["auth_failures"] >= 1, "NTLM: failure counted")
    no_violations(ews, "ntlm")
    log = open(ews.log_path).read()
    c.ok(PW not in log and "NTLMSSP" not in log and
         "TlRMTVNT" not in log, "NTLM: no secret in the mock's log")


# ---------------------------------------------------------------------------
# 3. The mock itself: control API, validation, injections, Autodiscover
# ---------------------------------------------------------------------------
GETFOLDER = ('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape>'
             '</m:FolderShape><m:FolderIds><t:DistinguishedFolderId '
             'Id="inbox"/></m:FolderIds></m:GetFolder>')


def self_test(ews):
    st, body = ews.control("deliver", {"mailbox": "nobody@example.test"})
    c.eq(st, 400, "deliver to an unknown mailbox: 400")
    c.ok("nobody@example.test" in body.get("error", ""),
         "the error names the mailbox", body)
    st, body = ews.control("inject", {"operation": "GetItem"})
    c.eq(st, 400, "an injection without an action: 400")
    st, body = ews.control("config", {"delegates": ["not", "a", "dict"]})
    c.eq(st, 400, "config with a malformed value: 400")
    st, body = ews.control("nope", {})
    c.eq(st, 404, "unknown control path: 404")
    ids = ews.ok("deliver", {"mailbox": "alice@example.test", "count": 3,
                             "subject": "s{n}", "from": "x@partner.test",
                             "to": ["alice@example.test"]})["ids"]
    c.eq(len(ids), 3, "deliver count 3 -> 3 ids")
    c.eq(subjects(ews, "alice@example.test", "inbox"), ["s1", "s2", "s3"],
         "/_mock/mailbox shows the delivered items")
    ews.ok("reset")
    c.eq(subjects(ews, "alice@example.test", "inbox"), [],
         "reset empties the mailboxes")
    c.eq(ews.stats()["requests"], 0, "reset clears the stats")

    # a request that passes the schema
    st, _, body = ews.post_soap(GETFOLDER)
    c.eq(st, 200, "a valid GetFolder: 200")
    c.ok(b'Version="Exchange2016"' in body and
         b'ResponseClass="Success"' in body, "ServerVersionInfo, Success")
    c.eq(ews.stats()["violations"], [], "valid request: no violation")
    # one that breaks it: recorded, answered like Exchange
    bad = GETFOLDER.replace("<m:FolderShape>", "<m:FolderShape><t:Bogus/>")
    st, _, body = ews.post_soap(bad)
    c.eq(st, 500, "schema violation: HTTP 500")
    c.ok(b"a:ErrorSchemaValidation" in body and b"<t:Violation>" in body,
         "schema violation: ErrorSchemaValidation fault", body[:300])
    v = ews.stats()["violations"]
    c.ok(len(v) == 1 and v[0]["operation"] == "GetFolder" and
         "Bogus" in v[0]["message"], "schema violation recorded", v)
    st, _, body = ews.post_soap(GETFOLDER, header_xml=(
        '<t:ExchangeImpersonation><t:Bogus/></t:ExchangeImpersonation>'))
    c.eq(st, 500, "a header that breaks the schema: 500")
    c.eq(len(ews.stats()["violations"]), 2, "header violation recorded")
    st, _, body = ews.post("/EWS/Exchange.asmx", b"<s:Envelope",
                           {"Authorization": "Basic " + base64.b64encode(
                               b"alice:" + PW.encode()).decode()})
    c.eq(st, 500, "malformed request XML: 500")
    dtd = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]>'
           '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
           '<s:Body/></s:Envelope>')
    st, _, body = ews.post("/EWS/Exchange.asmx", dtd.encode(), {
        "Authorization": "Basic " + base64.b64encode(
            b"alice:" + PW.encode()).decode()})
    c.ok(st == 500 and len(ews.stats()["violations"]) == 4,
         "a DTD in a request is refused and recorded")
    ews.ok("reset")

    # authentication
    st, hdrs, _ = ews.post_soap(GETFOLDER, password="wrong")
    c.eq(st, 401, "wrong password: 401")
    c.ok(hdrs.get("WWW-Authenticate", "").startswith("Basic"),
         "401 names Basic")
    c.eq(ews.stats()["auth_failures"], 1, "auth failure counted")
    st, _, body = ews.post_soap(GETFOLDER, user="EXAMPLE\\bob")
    c.eq(st, 200, "EXAMPLE\\bob accepted")

    # injections
    ews.ok("inject", {"operation": "GetFolder", "response_code":
                      "ErrorMailboxStoreUnavailable"})
    st, _, body = ews.post_soap(GETFOLDER)
    c.ok(st == 200 and b'ResponseClass="Error"' in body and
         b"ErrorMailboxStoreUnavailable" in body,
         "inject response_code: per-message error", body[-400:])
    st, _, body = ews.post_soap(GETFOLDER)
    c.ok(b'ResponseClass="Success"' in body, "injection used up (count 1)")
    ews.ok("inject", {"operation": "GetFolder", "item_index": 1,
                      "response_code": "ErrorItemNotFound",
                      "response_class": "Warning"})
    st, _, body = ews.post_soap(GETFOLDER.replace(
        "</m:FolderIds>", '<t:DistinguishedFolderId Id="drafts"/>'
        '<t:DistinguishedFolderId Id="sentitems"/></m:FolderIds>'))
    c.ok(body.count(b'ResponseClass="Success"') == 2 and
         body.count(b'ResponseClass="Warning"') == 1 and
         body.index(b"Warning") > body.index(b"Inbox") and
         b"Drafts" not in body and b"Sent Items" in body,
         "inject item_index: only the second message fails", body)
    ews.ok("inject", {"operation": "*", "fault": "ErrorServerBusy",
                      "back_off_ms": 250, "count": 2})
    for i in range(2):
        st, _, body = ews.post_soap(GETFOLDER)
        c.ok(st == 500 and b'<t:Value Name="BackOffMilliseconds">250<' in
             body, "inject fault ErrorServerBusy #%d" % (i + 1))
    ews.ok("inject", {"operation": "GetFolder", "http_status": 503,
                      "headers": {"Retry-After": "2"}})
    st, hdrs, _ = ews.post_soap(GETFOLDER)
    c.ok(st == 503 and hdrs.get("Retry-After") == "2",
         "inject http_status with a header")
    ews.ok("config", {"gzip": True})
    st, hdrs, body = ews.post_soap(GETFOLDER,
                                   headers={"Accept-Encoding": "gzip"})
    import gzip
    c.ok(hdrs.get("Content-Encoding") == "gzip" and
         b"GetFolderResponse" in gzip.decompress(body),
         "config gzip: gzip answers")
    ews.ok("config", {"gzip": False})
    ews.ok("inject", {"operation": "GetFolder", "raw_preset":
                      "billion_laughs"})
    st, _, body = ews.post_soap(GETFOLDER)
    c.ok(b"<!DOCTYPE" in body and b"&lol9;" in body,
         "inject raw_preset billion_laughs")
    ews.ok("inject", {"operation": "GetFolder", "raw": "<a><b></a>",
                      "content_type": "text/html"})
    st, hdrs, body = ews.post_soap(GETFOLDER)
    c.ok(body == b"<a><b></a>" and hdrs.get("Content-Type") == "text/html",
         "inject raw with a content type")
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", ews.port, timeout=30)
    conn.putrequest("POST", "/EWS/Exchange.asmx")
    conn.putheader("Content-Length", str(200 << 20))
    conn.putheader("Authorization", "Basic " + base64.b64encode(
        b"alice:" + PW.encode()).decode())
    conn.endheaders()
    r = conn.getresponse()
    c.eq(r.status, 413, "a request body over the limit: 413")
    conn.close()
    for when in ("before_read", "after_read"):
        ews.ok("inject", {"operation": "*" if when == "before_read" else
                          "CreateItem", "drop": when})
        create = ('<m:CreateItem MessageDisposition="SendAndSaveCopy">'
                  '<m:Items><t:Message><t:Subject>drop %s</t:Subject>'
                  '<t:ToRecipients><t:Mailbox><t:EmailAddress>'
                  'bob@example.test</t:EmailAddress></t:Mailbox>'
                  '</t:ToRecipients></t:Message></m:Items></m:CreateItem>'
                  % when)
        try:
            ews.post_soap(create)
            c.ok(False, "drop %s closes without an answer" % when)
        except (ConnectionError, OSError, Exception) as e:
            c.ok(isinstance(e, (ConnectionError, OSError)) or
                 "Remote" in type(e).__name__ or
                 "BadStatus" in type(e).__name__,
                 "drop %s closes without an answer" % when, repr(e))
    c.eq(subjects(ews, "bob@example.test", "inbox"), ["drop after_read"],
         "after_read executed the request, before_read did not")

    # concurrency is counted
    ews.ok("inject", {"operation": "GetFolder", "delay_ms": 400,
                      "count": 4})
    ts = [threading.Thread(target=ews.post_soap, args=(GETFOLDER,))
          for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    c.ok(ews.stats()["max_concurrent"] >= 2,
         "max_concurrent counts requests in flight",
         ews.stats()["max_concurrent"])
    c.eq(ews.stats()["concurrent"], 0, "nothing left in flight")

    # per-message answers, conflicts, ids
    ids = ews.ok("deliver", {"mailbox": "alice@example.test",
                             "subject": "ck", "from": "x@partner.test",
                             "to": ["alice@example.test"]})["ids"]
    item = ews.items("alice@example.test", "inbox")[0]
    upd = ('<m:UpdateItem ConflictResolution="AutoResolve">'
           '<m:ItemChanges><t:ItemChange><t:ItemId Id="%s" ChangeKey="%s"/>'
           '<t:Updates><t:SetItemField><t:FieldURI FieldURI="message:IsRead"'
           '/><t:Message><t:IsRead>true</t:IsRead></t:Message>'
           '</t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges>'
           '</m:UpdateItem>')
    st, _, body = ews.post_soap(upd % (ids[0], item["change_key"]))
    c.ok(b'ResponseClass="Success"' in body, "UpdateItem with the ChangeKey")
    st, _, body = ews.post_soap(upd % (ids[0], item["change_key"]))
    c.ok(b"ErrorIrresolvableConflict" in body,
         "a stale ChangeKey: ErrorIrresolvableConflict")

    # shapes, several ids per request, paging of folders, odd mail
    ids = ews.ok("deliver", {
        "mailbox": "alice@example.test", "from": "x@partner.test",
        "to": ["alice@example.test"], "subject": "shapes",
        "attachments": [{"name": "a.txt", "content_type": "text/plain",
                         "content_b64": base64.b64encode(b"A").decode()},
                        {"name": "b.txt", "content_type": "text/plain",
                         "content_b64": base64.b64encode(b"BB").decode()}]
    })["ids"]
    ids += ews.ok("deliver", {"mailbox": "alice@example.test",
                              "from": "boss@example.test", "from_ex": True,
                              "subject": "from EX"})["ids"]
    for base in ("IdOnly", "Default", "AllProperties"):
        st, _, body = ews.post_soap(
            '<m:GetItem><m:ItemShape><t:BaseShape>%s</t:BaseShape>'
            '<t:IncludeMimeContent>true</t:IncludeMimeContent>'
            '</m:ItemShape><m:ItemIds><t:ItemId Id="%s"/><t:ItemId Id="%s"/>'
            '<t:ItemId Id="AAMkAGZha2UtbWJ4LTAwMQBGAAAAAAA="/>'
            '</m:ItemIds></m:GetItem>' % (base, ids[0], ids[1]))
        c.ok(st == 200 and body.count(b'ResponseClass="Success"') == 2 and
             body.count(b"ErrorItemNotFound") == 1 and b"<t:MimeContent" in
             body, "GetItem %s: three ids answered one by one" % base)
    c.ok(b"<t:RoutingType>EX</t:RoutingType>" in body and
         b"/o=ExampleOrg/" in body, "from_ex: an EX legacyExchangeDN sender")
    st, _, body = ews.post_soap(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>'
        'AllProperties</t:BaseShape></m:ItemShape><m:IndexedPageItemView '
        'MaxEntriesReturned="1" Offset="0" BasePoint="Beginning"/>'
        '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/>'
        '</m:ParentFolderIds></m:FindItem>')
    c.ok(b'IndexedPagingOffset="1"' in body and b'TotalItemsInView="3"' in
         body and b'IncludesLastItemInRange="false"' in body and
         b"<t:Body" not in body, "FindItem page attributes, no Body", body)
    st, _, body = ews.post_soap(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly'
        '</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI='
        '"message:ToRecipients"/></t:AdditionalProperties></m:ItemShape>'
        '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/>'
        '</m:ParentFolderIds></m:FindItem>')
    c.ok(b"ErrorInvalidPropertyRequest" in body,
         "FindItem refuses ToRecipients as Exchange does")
    st, _, body = ews.post_soap(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly'
        '</t:BaseShape></m:ItemShape><m:Restriction><t:IsEqualTo><t:FieldURI'
        ' FieldURI="item:ItemId"/><t:FieldURIOrConstant><t:Constant Value='
        '"%s"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>'
        '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/>'
        '</m:ParentFolderIds></m:FindItem>' % ids[1])
    c.ok(b'TotalItemsInView="1"' in body and ids[1].encode() in body,
         "Restriction IsEqualTo item:ItemId")
    att = [a["id"] for a in ews.items("alice@example.test", "inbox")
           if a["subject"] == "shapes"][0]
    att = [a["id"] for a in [i for i in ews.items("alice@example.test",
                                                  "inbox")
                             if i["subject"] == "shapes"][0]["attachments"]]
    st, _, body = ews.post_soap(
        '<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="%s"/>'
        '<t:AttachmentId Id="%s"/></m:AttachmentIds></m:GetAttachment>'
        % tuple(att))
    c.ok(body.count(b'ResponseClass="Success"') == 2 and
         b"<t:Content>QQ==</t:Content>" in body and
         b"<t:Content>QkI=</t:Content>" in body,
         "GetAttachment: two ids in one request")
    for i in range(12):
        st, _, body = ews.post_soap(
            '<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId '
            'Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder>'
            '<t:DisplayName>f%02d</t:DisplayName></t:Folder></m:Folders>'
            '</m:CreateFolder>' % i)
    names = []
    for off in (0, 5, 10):
        st, _, body = ews.post_soap(
            '<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>'
            'Default</t:BaseShape></m:FolderShape><m:IndexedPageFolderView '
            'MaxEntriesReturned="5" Offset="%d" BasePoint="Beginning"/>'
            '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/>'
            '</m:ParentFolderIds></m:FindFolder>' % off)
        names += [n.decode() for n in
                  __import__("re").findall(rb"<t:DisplayName>(f\d+)<", body)]
    c.eq(names, ["f%02d" % i for i in range(12)], "FindFolder paging")
    ews.ok("deliver", {"mailbox": "carol@example.test", "count": 1005,
                       "subject": "bulk {n}", "from": "x@partner.test"})
    st, _, body = ews.post_soap(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly'
        '</t:BaseShape></m:ItemShape><m:IndexedPageItemView '
        'MaxEntriesReturned="5000" Offset="0" BasePoint="Beginning"/>'
        '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"><t:Mailbox>'
        '<t:EmailAddress>carol@example.test</t:EmailAddress></t:Mailbox>'
        '</t:DistinguishedFolderId></m:ParentFolderIds></m:FindItem>')
    c.ok(body.count(b"<t:ItemId ") == 1000 and
         b'IndexedPagingOffset="1000" TotalItemsInView="1005" '
         b'IncludesLastItemInRange="false"' in body,
         "FindItem: at most 1000 entries per answer, as Exchange")
    ews.ok("deliver", {"mailbox": "bob@example.test", "hostile": True,
                       "subject": "odd", "from": "x@partner.test"})
    st, _, body = ews.post_soap(
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default'
        '</t:BaseShape></m:ItemShape><m:ParentFolderIds>'
        '<t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>'
        'bob@example.test</t:EmailAddress></t:Mailbox>'
        '</t:DistinguishedFolderId></m:ParentFolderIds></m:FindItem>')
    c.ok(st == 200 and b"not-a-date" in body and b"not an address" in body,
         "hostile: odd values delivered as they are")
    st = ews.stats()
    c.eq([v["operation"] for v in st["response_violations"]], ["FindItem"],
         "only the hostile answer breaks the schema")
    ews.ok("reset")
    mid = ews.ok("deliver", {"mailbox": "bob@example.test",
                             "hostile": "missing", "subject": "gone",
                             "from": "x@partner.test"})["ids"][0]
    st, _, body = ews.post_soap(
        '<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape>'
        '</m:ItemShape><m:ItemIds><t:ItemId Id="%s"/></m:ItemIds>'
        '</m:GetItem>' % mid, user="bob@example.test")
    c.ok(st == 200 and mid.encode() in body and b"<t:Subject>" not in body
         and b"<t:From>" not in body and b"<t:DateTimeReceived>" not in body
         and b"<t:InternetMessageId>" not in body,
         "hostile missing: the fields are left out")


    # Autodiscover
    pox = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns='
           '"http://schemas.microsoft.com/exchange/autodiscover/outlook/'
           'requestschema/2006"><Request><EMailAddress>%s</EMailAddress>'
           '<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/'
           'autodiscover/outlook/responseschema/2006a'
           '</AcceptableResponseSchema></Request></Autodiscover>')
    auth = {"Authorization": "Basic " + base64.b64encode(
        b"alice@example.test:" + PW.encode()).decode()}
    st, _, body = ews.post("/autodiscover/autodiscover.xml",
                           pox % "alice@example.test", auth)
    c.ok(st == 200 and ("<EwsUrl>%s</EwsUrl>" % ews.url).encode() in body,
         "Autodiscover: settings with this server's EwsUrl", body[:200])
    ews.ok("autodiscover", {"redirect_addr": "alice@corp.example.test"})
    st, _, body = ews.post("/Autodiscover/Autodiscover.xml",
                           pox % "alice@example.test", auth)
    c.ok(b"<Action>redirectAddr</Action>" in body and
         b"alice@corp.example.test" in body, "Autodiscover: redirectAddr")
    st, _, body = ews.post("/Autodiscover/Autodiscover.xml",
                           pox % "alice@corp.example.test", auth)
    c.ok(b"<Action>settings</Action>" in body,
         "Autodiscover: the redirect target gets settings")
    ews.ok("autodiscover", {"redirect_url": ews.base +
                            "/autodiscover/autodiscover.xml",
                            "redirect_count": 1})
    st, _, body = ews.post("/autodiscover/autodiscover.xml",
                           pox % "alice@example.test", auth)
    c.ok(b"<Action>redirectUrl</Action>" in body, "Autodiscover: redirectUrl")
    st, _, body = ews.post("/autodiscover/autodiscover.xml",
                           pox % "alice@example.test", auth)
    c.ok(b"<Action>settings</Action>" in body,
         "Autodiscover: redirect_count 1 redirects once")
    ews.ok("autodiscover", {"error": 500})
    st, _, body = ews.post("/autodiscover/autodiscover.xml",
                           pox % "alice@example.test", auth)
    c.ok(b"<ErrorCode>500</ErrorCode>" in body, "Autodiscover: error")
    st, _, _ = ews.post("/autodiscover/autodiscover.xml",
                        pox % "alice@example.test")
    c.eq(st, 401, "Autodiscover is authenticated")


# ---------------------------------------------------------------------------
# 4. OAuth2 bearer tokens (JWT signed by the test certificate's key)
# ---------------------------------------------------------------------------
def make_cert(d):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .sign(key, hashes.SHA256()))
    path = os.path.join(d, "jwks.pem")
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key, path


def jwt(key, claims):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(x):
        return base64.urlsafe_b64encode(x).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = key.sign((head + "." + body).encode(), padding.PKCS1v15(),
                   hashes.SHA256())
    return head + "." + body + "." + b64(sig)


def oauth_round(ews, key):
    now = int(time.time())
    tok = jwt(key, {"upn": "bob@example.test", "exp": now + 600,
                    "nbf": now - 10, "aud": "https://outlook.office365.com"})
    st, _, body = ews.post_soap(GETFOLDER, headers={
        "Authorization": "Bearer " + tok})
    c.eq(st, 200, "OAuth2: a signed JWT is accepted")
    c.ok(b"ErrorAccessDenied" not in body, "OAuth2: acts as the upn")
    forged = tok[:-6] + ("AAAAAA" if not tok.endswith("AAAAAA") else "BBBBBB")
    st, hdrs, _ = ews.post_soap(GETFOLDER, headers={
        "Authorization": "Bearer " + forged})
    c.eq(st, 401, "OAuth2: a bad signature is refused")
    c.ok(hdrs.get("WWW-Authenticate", "").startswith("Bearer"),
         "OAuth2: 401 names Bearer")
    old = jwt(key, {"upn": "bob@example.test", "exp": now - 5})
    c.eq(ews.post_soap(GETFOLDER, headers={
        "Authorization": "Bearer " + old})[0], 401,
        "OAuth2: an expired JWT is refused")
    app = jwt(key, {"appid": "app-1", "exp": now + 600})
    imp = ('<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>'
           'carol@example.test</t:PrimarySmtpAddress></t:ConnectingSID>'
           '</t:ExchangeImpersonation>')
    st, _, body = ews.post_soap(GETFOLDER, header_xml=imp, headers={
        "Authorization": "Bearer " + app,
        "X-AnchorMailbox": "carol@example.test"})
    c.ok(st == 200 and "carol@example.test" in ews.stats()["impersonated"],
         "OAuth2: an application's token impersonates")
    c.eq(ews.post_soap(GETFOLDER, headers={
        "Authorization": "Bearer tok-from-file",
        "X-AnchorMailbox": "bob@example.test"})[0], 200,
        "OAuth2: a token of --tokens-file is accepted")
    ews.ok("token", {"token": "opaque-1", "user": "alice@example.test"})
    c.eq(ews.post_soap(GETFOLDER, headers={
        "Authorization": "Bearer opaque-1"})[0], 200,
        "OAuth2: a registered token is accepted")
    c.eq(ews.post_soap(GETFOLDER, headers={
        "Authorization": "Bearer opaque-2"})[0], 401,
        "OAuth2: an unknown token is refused")
    no_violations(ews, "oauth2")


# ---------------------------------------------------------------------------
# 5. Negotiate: Kerberos from a real MIT KDC on loopback
#    (tests/lib/krb5kdc.py, the server's half tests/mock/spnego.py)
# ---------------------------------------------------------------------------
def negotiate_round():
    import http.client
    import subprocess
    import krb5kdc
    import spnego
    why = krb5kdc.missing() or spnego.available()
    if why:
        print("# skip Negotiate: %s" % why)
        return
    import gssapi
    with krb5kdc.Realm() as kdc:
        kdc.add_principal("alice", keytab=kdc.client_keytab)
        kdc.add_principal("HTTP/localhost", keytab=kdc.service_keytab)
        env = kdc.env()
        with MockEWS(["--auth", "negotiate", "--keytab", kdc.service_keytab,
                      "--validate-responses"], env=env) as ews:
            url = "http://localhost:%d/EWS/Exchange.asmx" % ews.port
            req = os.path.join(ews.dir, "getfolder.xml")
            with open(req, "w") as f:
                f.write('<?xml version="1.0" encoding="utf-8"?><s:Envelope '
                        'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
                        ' xmlns:m="http://schemas.microsoft.com/exchange/'
                        'services/2006/messages" xmlns:t="http://schemas.'
                        'microsoft.com/exchange/services/2006/types">'
                        '<s:Header><t:RequestServerVersion Version='
                        '"Exchange2016"/></s:Header><s:Body>%s</s:Body>'
                        '</s:Envelope>' % GETFOLDER)

            def curl(e):
                r = subprocess.run(
                    ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                     "--negotiate", "-u", ":", "-H",
                     "Content-Type: text/xml; charset=utf-8",
                     "--data-binary", "@" + req, url], env=e,
                    capture_output=True, timeout=60)
                return r.stdout.decode()
            c.eq(curl(env), "200",
                 "Negotiate: curl with alice's Kerberos credentials")
            st = ews.stats()
            c.ok(st["negotiate_handshakes"] >= 1 and
                 st["auth_schemes"].get("Negotiate", 0) >= 1,
                 "Negotiate: the handshake counted", st["auth_schemes"])
            nokey = kdc.env(
                KRB5_CLIENT_KTNAME="FILE:" + os.path.join(ews.dir, "no.kt"),
                KRB5CCNAME="FILE:" + os.path.join(ews.dir, "no.cc"))
            c.eq(curl(nokey), "401", "Negotiate: no credentials, 401")

            # a kept connection stays authenticated (as with IIS)
            saved = {k: os.environ.get(k) for k in env if
                     k.startswith("KRB5")}
            os.environ.update({k: v for k, v in env.items()
                               if k.startswith("KRB5")})
            try:
                name = gssapi.Name("HTTP@localhost",
                                   gssapi.NameType.hostbased_service)
                spn = gssapi.Mechanism.from_sasl_name("SPNEGO")
                ctx = gssapi.SecurityContext(name=name, usage="initiate",
                                             mech=spn)
                tok = ctx.step()
                conn = http.client.HTTPConnection("localhost", ews.port,
                                                  timeout=30)
                body = open(req, "rb").read()
                conn.request("POST", "/EWS/Exchange.asmx", body, {
                    "Content-Type": "text/xml; charset=utf-8",
                    "Authorization": "Negotiate " +
                    base64.b64encode(tok).decode()})
                r = conn.getresponse()
                r.read()
                c.eq(r.status, 200, "Negotiate: one round trip with a "
                     "Kerberos ticket (python-gssapi)")
                mutual = r.getheader("WWW-Authenticate", "")
                try:
                    ctx.step(base64.b64decode(mutual.split(" ", 1)[1]))
                    c.ok(ctx.complete,
                         "Negotiate: mutual authentication token")
                except (IndexError, gssapi.exceptions.GSSError) as e:
                    c.ok(False, "Negotiate: mutual authentication token",
                         repr(e))
                before = ews.stats()["negotiate_handshakes"]
                conn.request("POST", "/EWS/Exchange.asmx", body, {
                    "Content-Type": "text/xml; charset=utf-8"})
                r = conn.getresponse()
                r.read()
                conn.close()
                c.eq(r.status, 200, "Negotiate: the kept connection needs "
                     "no new handshake")
                c.eq(ews.stats()["negotiate_handshakes"], before,
                     "Negotiate: no handshake counted for it")
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            no_violations(ews, "negotiate")


# ---------------------------------------------------------------------------
# 6. A defect of the mock is loud: run it in this process with one
#    operation broken on purpose
# ---------------------------------------------------------------------------
def defect_round():
    import argparse
    import shutil
    import ews_ops
    import ews_server

    def boom(ctx, el):
        raise KeyError("broken on purpose")
    saved = ews_ops.OPERATIONS["GetFolder"]
    ews_ops.OPERATIONS["GetFolder"] = boom
    ews_server.OPTS = argparse.Namespace(
        log=None, validate_responses=False, auth="basic", jwks_cert=None,
        tokens_file=None)
    srv = ews_server.Server(("127.0.0.1", 0), ews_server.OPTS,
                            ews_server.load_schema(os.path.dirname(SCHEMA)))
    srv.scheme = "http"
    t = threading.Thread(target=srv.serve_forever, kwargs={
        "poll_interval": 0.1}, daemon=True)
    t.start()
    h = MockEWS()
    h.port = srv.server_address[1]
    try:
        st, _, body = h.post_soap(GETFOLDER)
        c.ok(st == 500 and b"a:ErrorInternalServerError" in body and
             b"broken on purpose" in body,
             "a defect of the mock answers ErrorInternalServerError")
        errs = h.stats()["internal_errors"]
        c.ok(len(errs) == 1 and "broken on purpose" in errs[0]["error"] and
             "Traceback" in errs[0]["traceback"],
             "a defect of the mock is listed in stats", errs)
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(10)
        ews_ops.OPERATIONS["GetFolder"] = saved
        shutil.rmtree(h.dir, ignore_errors=True)

# ---------------------------------------------------------------------------
# Rooms and availability: room lists, rooms, free/busy from calendars
# ---------------------------------------------------------------------------
def availability_round(ews):
    a = account(ews, "alice@example.test")
    rl = list(a.protocol.get_roomlists())
    c.eq([(r.name, r.email_address, r.mailbox_type) for r in rl],
         [("Building 4 rooms", "rooms-bldg4@example.test", "PublicDL"),
          ("Building 2 rooms", "rooms-bldg2@example.test", "PublicDL")],
         "exchangelib get_roomlists(): the mock's room lists")
    rooms = list(a.protocol.get_rooms("rooms-bldg4@example.test"))
    c.eq([(r.name, r.email_address) for r in rooms][:1],
         [("Room A (Building 4)", "room-a@example.test")],
         "exchangelib get_rooms(): the list's rooms")
    c.eq(len(rooms), 3, "exchangelib get_rooms(): three rooms")
    try:
        list(a.protocol.get_rooms("no-such-list@example.test"))
        c.ok(False, "exchangelib get_rooms() of an unknown list raises")
    except Exception as e:
        c.eq(type(e).__name__, "ErrorNameResolutionNoResults",
             "exchangelib get_rooms() of an unknown list raises "
             "ErrorNameResolutionNoResults")

    for mb, s, e, t, rr in [
            ("bob@example.test", "09:00", "10:00", "Busy", None),
            ("bob@example.test", "10:00", "10:30", "OOF", None),
            ("room-a@example.test", "11:00", "12:00", "Tentative",
             "FREQ=DAILY;COUNT=3")]:
        req = {"mailbox": mb, "start": "2030-03-14T%s:00Z" % s,
               "end": "2030-03-14T%s:00Z" % e, "legacy_free_busy": t,
               "rrule": rr}
        if rr:
            req["exdates"] = ["2030-03-15T11:00:00Z"]
        ews.ok("calendar", req)
    st, body = ews.control("calendar", {"mailbox": "nobody@example.test",
                                        "start": "2030-03-14T09:00:00Z",
                                        "end": "2030-03-14T10:00:00Z"})
    c.eq(st, 400, "/_mock/calendar: an unknown mailbox is refused")
    start = EWSDateTime(2030, 3, 14, 8, tzinfo=UTC)
    end = EWSDateTime(2030, 3, 17, 0, tzinfo=UTC)
    views = list(a.protocol.get_free_busy_info(
        [("bob@example.test", "Required", False),
         ("room-a@example.test", "Room", False),
         ("nobody@example.test", "Required", False)],
        start, end, merged_free_busy_interval=60))
    c.eq(len(views), 3, "get_free_busy_info(): one answer per mailbox")
    bob, room, nobody = views
    c.eq(bob.view_type, "DetailedMerged",
         "get_free_busy_info(): the view asked for")
    c.eq([(ev.start.hour, ev.start.minute, ev.end.hour, ev.end.minute,
           ev.busy_type) for ev in bob.calendar_events],
         [(9, 0, 10, 0, "Busy"), (10, 0, 10, 30, "OOF")],
         "get_free_busy_info(): bob's events with their busy types")
    c.eq(bob.merged[:4], "0230",
         "get_free_busy_info(): the merged view per hour (OOF wins)")
    c.eq(len(bob.merged), 64, "get_free_busy_info(): one digit an hour")
    c.eq([(ev.start.day, ev.busy_type, ev.details.is_recurring)
          for ev in room.calendar_events],
         [(14, "Tentative", True), (16, "Tentative", True)],
         "get_free_busy_info(): a recurring room event without its "
         "exception")
    c.ok(bob.working_hours and bob.working_hours[0].start.hour == 8,
         "get_free_busy_info(): working hours", bob.working_hours)
    c.eq(type(nobody).__name__, "ErrorMailRecipientNotFound",
         "get_free_busy_info(): an unknown mailbox is "
         "ErrorMailRecipientNotFound")
    merged = list(a.protocol.get_free_busy_info(
        [("bob@example.test", "Required", False)], start, end,
        merged_free_busy_interval=30, requested_view="MergedOnly"))
    c.ok(merged[0].merged.startswith("002230") and
         not merged[0].calendar_events,
         "get_free_busy_info(MergedOnly): digits only",
         (merged[0].merged[:8], merged[0].calendar_events))
    # suggestions (exchangelib 4.9 cannot ask): Microsoft's sample request,
    # in a zone one hour east of UTC with daylight saving from March's
    # last Sunday
    samples = os.path.join(os.path.dirname(ews_server.DEFAULT_SCHEMA),
                           "samples")
    with open(os.path.join(samples, "getuseravailability-suggestions."
                           "request.xml")) as f:
        req = f.read()
    inner = req.split("<soap:Body>", 1)[1].split("</soap:Body>", 1)[0]
    inner = inner.replace("organizer@example.test", "bob@example.test")
    st, _, body = ews.post_soap(inner)
    text = body.decode()
    c.eq(st, 200, "GetUserAvailability with suggestions answers 200")
    c.ok("<t:StartTime>2030-03-14T10:00:00</t:StartTime>" in text,
         "free/busy in the request's zone (UTC+1 before daylight saving)")
    c.ok("<m:SuggestionsResponse>" in text and
         "<t:MeetingTime>2030-03-14T09:00:00</t:MeetingTime>" in text and
         "<t:MeetingTime>2030-03-14T10:00:00</t:MeetingTime>" not in text,
         "suggestions: 09:00 local (08:00Z) is free, 10:00 local (bob "
         "busy) is not suggested among the Fair or better")
    no_violations(ews, "availability")


def main():
    with MockEWS(["--auth", "basic", "--validate-responses"]) as ews:
        try:
            basic_round(ews)
        except Exception as e:
            import traceback
            traceback.print_exc()
            c.ok(False, "basic round completed", repr(e))
        ews.ok("reset")
        try:
            availability_round(ews)
        except Exception as e:
            import traceback
            traceback.print_exc()
            c.ok(False, "availability round completed", repr(e))
        ews.ok("reset")
        self_test(ews)
    with MockEWS(["--auth", "ntlm", "--validate-responses"]) as ews:
        try:
            ntlm_round(ews)
        except Exception as e:
            import traceback
            traceback.print_exc()
            c.ok(False, "ntlm round completed", repr(e))
    d = sbtest.tempdir("sbtest-ewsjwt-")
    key, cert = make_cert(d)
    with open(os.path.join(d, "tokens"), "w") as f:
        f.write("tok-other\ntok-from-file\n")
    tls = os.path.join(d, "tls")
    rc = os.system("sh '%s' '%s'" % (os.path.join(SRC, "tests", "mock",
                                                  "make_certs.sh"), tls))
    c.eq(rc, 0, "test certificates made")
    with MockEWS(["--auth", "oauth2", "--jwks-cert", cert,
                  "--tokens-file", os.path.join(d, "tokens"),
                  "--cert", os.path.join(tls, "server.pem"),
                  "--key", os.path.join(tls, "server.key"),
                  "--validate-responses"]) as ews:
        c.ok(ews.url.startswith("https://"), "the mock speaks TLS")
        oauth_round(ews, key)
    import shutil
    shutil.rmtree(d, ignore_errors=True)
    negotiate_round()
    defect_round()
    c.done()


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    main()
