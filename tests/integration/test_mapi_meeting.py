"""mapi-stub's meetings between mailboxes of the store, through the daemon's
HTTP API, with what the store writes read by Python's email and icalendar:

- the organizer creates a meeting with two local attendees (and a resource
  outside the store): each attendee finds a METHOD:REQUEST message in the
  Inbox (text/calendar; method=REQUEST: ORGANIZER, ATTENDEEs, UID) and a
  copy in the calendar, answered NoResponseReceived;
- one accepts, one declines (the declined copy leaves the calendar): the
  organizer's MeetingAttendee.List shows each answer with its time, and
  METHOD:REPLY messages reach the organizer's Inbox;
- Update bumps SEQUENCE and reaches the attendees; a stale ChangeKey is
  409; a new time asks everyone again; Cancel reaches the attendees, whose
  copies are STATUS:CANCELLED, and an answer after it is 409;
- a recurring meeting in a zone expands over a List window as dateutil
  expands it; without a window it is one row;
- a Create retried with the same X-Request-Id makes one meeting;
- every .ics file and every text/calendar part the store wrote opens in
  icalendar."""
import datetime as dt
import email
import email.policy
import glob
import os
import re
import shutil
import sys
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)
try:
    import icalendar
    from dateutil import rrule as du_rrule
except ImportError as e:
    print("# python3-icalendar and python3-dateutil are needed: %s" % e)
    sys.exit(sbtest.SKIP)

ALICE = "alice@example.test"
BOB = "bob@example.test"
CAROL = "carol@example.test"
ROOM = "room1@elsewhere.test"
UTC = dt.timezone.utc
top = sbtest.tempdir("mapi-mtg-")
store = os.path.join(top, "store")
conf = ("[module mapi-stub]\nenabled = yes\n\n[instance local]\nbroker = mapi-stub\n"
        "store_dir = %s\nmailboxes = %s, %s, %s\nquota = 100MiB\n"
        % (store, ALICE, BOB, CAROL))


def rows(body):
    return body.get("rows", []) if isinstance(body, dict) else []


def row(body):
    r = rows(body)
    return r[0] if r else {}


def iso(d):
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ics_path(mb, mid):
    return os.path.join(store, mb, "Calendar", mid + ".ics")


def read_event(mb, mid):
    with open(ics_path(mb, mid), "rb") as f:
        cal = icalendar.Calendar.from_ical(f.read())
    return cal, [c for c in cal.walk("VEVENT")][0]


def addr(v):
    v = str(v)
    return v[7:].lower() if v.lower().startswith("mailto:") else v.lower()


def invitations(mb, uid=None, method=None):
    """(message, method parameter, VCALENDAR) of every text/calendar part in
    mb's Inbox, optionally only of one UID and METHOD."""
    out = []
    for path in sorted(glob.glob(os.path.join(store, mb, "Inbox", "*", "*"))):
        if os.path.basename(os.path.dirname(path)) not in ("new", "cur"):
            continue
        with open(path, "rb") as f:
            msg = email.message_from_bytes(f.read(), policy=email.policy.default)
        for part in msg.walk():
            if part.get_content_type() != "text/calendar":
                continue
            cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
            ev = [c for c in cal.walk("VEVENT")][0]
            if uid and str(ev.get("UID")) != uid:
                continue
            if method and str(cal.get("METHOD")) != method:
                continue
            out.append((msg, part.get_param("method"), cal))
    return out


def attendees(ev):
    a = ev.get("ATTENDEE")
    if a is None:
        return []
    return a if isinstance(a, list) else [a]


def plant(mb, mid, line):
    """Add line (an ATTENDEE another tool wrote) to mb's file of mid."""
    with open(ics_path(mb, mid), "rb") as f:
        data = f.read()
    t.ok(b"END:VEVENT" in data, "%s's file of %s to plant in" % (mb, mid))
    with open(ics_path(mb, mid), "wb") as f:
        f.write(data.replace(b"END:VEVENT", line + b"END:VEVENT", 1))


def list_all(d, address, args):
    out, token = [], None
    for _ in range(100):
        a = dict(args)
        if token:
            a["PageToken"] = token
        st, b = d.call(address, a)
        if st != 200:
            return st, out
        out += rows(b)
        token = b.get("next_page_token")
        if not b.get("more") or not token:
            break
    return 200, out


with sbtest.Daemon(conf) as d:
    start = dt.datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    st, b = d.call("local/Meeting.Create", {
        "Subject": "Design review", "Body": "Agenda: the store",
        "Location": "Room 1", "Start": iso(start),
        "End": iso(start + dt.timedelta(hours=1)),
        "RequiredAttendees": [BOB], "OptionalAttendees": [CAROL],
        "Resources": [ROOM], "Mailbox": ALICE})
    t.eq(st, 200, "organizer creates a meeting")
    m = row(b)
    mid = m.get("Id", "none")
    t.eq((m.get("Organizer"), m.get("RequiredAttendees"), m.get("OptionalAttendees"),
          m.get("Resources"), m.get("ResponseStatus")),
         (ALICE, [BOB], [CAROL], [ROOM], "Organizer"),
         "Create answers organizer, attendees and ResponseStatus Organizer")

    # The organizer's file: ORGANIZER, ATTENDEE roles and NEEDS-ACTION.
    cal, ev = read_event(ALICE, mid)
    t.eq(addr(ev.get("ORGANIZER")), ALICE, "organizer's copy has ORGANIZER")
    got = sorted((addr(a), a.params.get("ROLE"), a.params.get("CUTYPE"),
                  a.params.get("PARTSTAT")) for a in attendees(ev))
    t.eq(got, sorted([(BOB, "REQ-PARTICIPANT", "INDIVIDUAL", "NEEDS-ACTION"),
                      (CAROL, "OPT-PARTICIPANT", "INDIVIDUAL", "NEEDS-ACTION"),
                      (ROOM, "NON-PARTICIPANT", "RESOURCE", "NEEDS-ACTION")]),
         "ATTENDEE lines with ROLE, CUTYPE and PARTSTAT")
    t.eq(int(ev.get("SEQUENCE")), 0, "a new meeting has SEQUENCE 0")

    # Each attendee: a REQUEST in the Inbox and a copy in the calendar.
    for who in (BOB, CAROL):
        inv = invitations(who, mid)
        t.eq(len(inv), 1, "%s has one invitation in the Inbox" % who)
        if inv:
            msg, meth, ical = inv[0]
            ev2 = [c for c in ical.walk("VEVENT")][0]
            t.eq((meth, str(ical.get("METHOD")), addr(ev2.get("ORGANIZER")),
                  sorted(addr(a) for a in attendees(ev2)), str(ev2.get("UID")),
                  str(msg["From"]), str(msg["Subject"])),
                 ("REQUEST", "REQUEST", ALICE, sorted([BOB, CAROL, ROOM]), mid,
                  ALICE, "Invitation: Design review"),
                 "%s's REQUEST: method, ORGANIZER, ATTENDEEs, UID" % who)
        st, b = d.call("local/Meeting.Load", {"Id": mid, "Mailbox": who})
        t.eq((st, row(b).get("ResponseStatus"), row(b).get("Organizer"),
              row(b).get("Subject")),
             (200, "NoResponseReceived", ALICE, "Design review"),
             "%s's calendar has the meeting, not answered yet" % who)
        st, lst = list_all(d, "local/Meeting.List", {"Mailbox": who})
        t.eq([r.get("Id") for r in lst], [mid], "%s's Meeting.List shows it" % who)
    t.ok(not os.path.exists(os.path.join(store, ROOM)),
         "nothing is delivered outside the store")
    sent = glob.glob(os.path.join(store, ALICE, "Sent Items", "cur", "*"))
    t.eq(len(sent), 1, "the invitation is in the organizer's Sent Items")

    # Bad calls.
    st, b = d.call("local/Meeting.Create", {
        "Subject": "x", "Start": iso(start), "End": iso(start), "Mailbox": ALICE})
    t.ok(st == 400 and "RequiredAttendees" in str(b), "no attendee: 400 naming it", b)
    st, b = d.call("local/Meeting.Create", {
        "Subject": "x", "Start": iso(start), "End": iso(start),
        "RequiredAttendees": [ALICE], "Mailbox": ALICE})
    t.ok(st == 400 and "RequiredAttendees" in str(b), "organizer as attendee: 400", b)
    st, b = d.call("local/Meeting.Update", {"Id": mid, "Subject": "mine", "Mailbox": BOB})
    t.eq(st, 400, "an attendee cannot update the meeting")
    st, b = d.call("local/Meeting.Accept", {"Id": mid, "Mailbox": ALICE})
    t.eq(st, 400, "the organizer has nothing to accept")
    st, b = d.call("local/Meeting.Load", {"Id": "no-such", "Mailbox": ALICE})
    t.eq(st, 404, "unknown meeting: 404")

    # Answers.
    st, b = d.call("local/Meeting.Accept", {"Id": mid, "Mailbox": BOB})
    t.eq((st, row(b).get("ResponseStatus")), (200, "Accept"), "bob accepts")
    st, b = d.call("local/Meeting.Decline", {"Id": mid, "Mailbox": CAROL})
    t.eq((st, row(b).get("ResponseStatus")), (200, "Decline"), "carol declines")
    t.ok(not os.path.exists(ics_path(CAROL, mid)), "a declined meeting leaves the calendar")
    st, b = d.call("local/Meeting.Load", {"Id": mid, "Mailbox": BOB})
    t.eq(row(b).get("ResponseStatus"), "Accept", "bob's copy says Accept")
    _, ev = read_event(BOB, mid)
    t.eq({addr(a): a.params.get("PARTSTAT") for a in attendees(ev)}.get(BOB),
         "ACCEPTED", "bob's copy: PARTSTAT ACCEPTED")

    st, lst = list_all(d, "local/MeetingAttendee.List", {"Id": mid, "Mailbox": ALICE})
    t.eq(st, 200, "MeetingAttendee.List as organizer")
    by = {r.get("Email"): r for r in lst}
    t.eq({k: (v.get("Kind"), v.get("ResponseStatus")) for k, v in by.items()},
         {BOB: ("Required", "Accept"), CAROL: ("Optional", "Decline"),
          ROOM: ("Resource", "NoResponseReceived")},
         "the organizer sees each answer and kind")
    now = dt.datetime.now(UTC)
    for who in (BOB, CAROL):
        lrt = by.get(who, {}).get("LastResponseTime")
        ok = False
        if lrt:
            when = dt.datetime.fromisoformat(lrt.replace("Z", "+00:00"))
            ok = abs((now - when).total_seconds()) < 300
        t.ok(ok, "%s's LastResponseTime is when it answered" % who, lrt)
    t.ok("LastResponseTime" not in by.get(ROOM, {}) or not by[ROOM]["LastResponseTime"],
         "no LastResponseTime before an answer")
    st, lst = list_all(d, "local/MeetingAttendee.List",
                       {"Id": mid, "Mailbox": ALICE, "PageSize": 1})
    t.eq(sorted(r.get("Email") for r in lst), sorted([BOB, CAROL, ROOM]),
         "MeetingAttendee.List pages")
    replies = invitations(ALICE, mid, "REPLY")
    got = sorted((addr(a), a.params.get("PARTSTAT"))
                 for _, meth, c in replies
                 for a in attendees([e for e in c.walk("VEVENT")][0]))
    t.eq(got, [(BOB, "ACCEPTED"), (CAROL, "DECLINED")],
         "METHOD:REPLY messages with the answers reach the organizer's Inbox")
    t.eq(sorted(meth for _, meth, _ in replies), ["REPLY", "REPLY"],
         "REPLY parts are text/calendar; method=REPLY")

    # Update: ChangeKey, SEQUENCE, delivery.
    st, b = d.call("local/Meeting.Load", {"Id": mid, "Mailbox": ALICE})
    ck = row(b).get("ChangeKey")
    st, b = d.call("local/Meeting.Update", {
        "Id": mid, "ChangeKey": ck, "Subject": "Design review (2)",
        "Location": "Room 2", "Mailbox": ALICE})
    t.eq((st, row(b).get("Subject")), (200, "Design review (2)"), "organizer updates")
    t.ok(row(b).get("ChangeKey") not in (None, ck), "the ChangeKey changes")
    st, b = d.call("local/Meeting.Update", {
        "Id": mid, "ChangeKey": ck, "Subject": "stale", "Mailbox": ALICE})
    t.ok(st == 409 and b.get("error", {}).get("category") == "conflict",
         "a stale ChangeKey: 409 conflict", b)
    _, ev = read_event(ALICE, mid)
    t.eq((int(ev.get("SEQUENCE")), str(ev.get("SUMMARY"))), (1, "Design review (2)"),
         "the update bumped SEQUENCE, the stale one changed nothing")
    _, ev = read_event(BOB, mid)
    t.eq((int(ev.get("SEQUENCE")), str(ev.get("LOCATION"))), (1, "Room 2"),
         "bob's copy has the update")
    st, b = d.call("local/Meeting.Load", {"Id": mid, "Mailbox": BOB})
    t.eq(row(b).get("ResponseStatus"), "Accept", "same time: bob's answer stays")
    t.ok(not os.path.exists(ics_path(CAROL, mid)),
         "an update does not put a declined meeting back")
    for who in (BOB, CAROL):
        seqs = sorted(int([e for e in c.walk("VEVENT")][0].get("SEQUENCE"))
                      for _, _, c in invitations(who, mid, "REQUEST"))
        t.eq(seqs, [0, 1], "%s got the update as a REQUEST with SEQUENCE 1" % who)

    # A new time asks everyone again.
    st, b = d.call("local/Meeting.Update", {
        "Id": mid, "Start": iso(start + dt.timedelta(hours=2)),
        "End": iso(start + dt.timedelta(hours=3)), "Mailbox": ALICE})
    t.eq(st, 200, "organizer moves the meeting")
    st, lst = list_all(d, "local/MeetingAttendee.List", {"Id": mid, "Mailbox": ALICE})
    t.eq(sorted((r.get("Email"), r.get("ResponseStatus")) for r in lst),
         sorted([(BOB, "NoResponseReceived"), (CAROL, "NoResponseReceived"),
                 (ROOM, "NoResponseReceived")]),
         "a new time resets the answers")
    st, b = d.call("local/Meeting.Load", {"Id": mid, "Mailbox": CAROL})
    t.eq((st, row(b).get("Start")), (200, iso(start + dt.timedelta(hours=2))),
         "the new time puts the meeting back in carol's calendar")
    st, b = d.call("local/Meeting.AcceptTentatively", {"Id": mid, "Mailbox": CAROL})
    t.eq((st, row(b).get("ResponseStatus")), (200, "Tentative"), "carol accepts tentatively")
    st, lst = list_all(d, "local/MeetingAttendee.List", {"Id": mid, "Mailbox": ALICE})
    t.eq({r.get("Email"): r.get("ResponseStatus") for r in lst}.get(CAROL), "Tentative",
         "the organizer sees Tentative")

    # IsAllDay changes only with Start and End (as Appointment.Update)
    st, b = d.call("local/Meeting.Update", {"Id": mid, "IsAllDay": True,
                                            "Mailbox": ALICE})
    t.ok(st == 400 and "IsAllDay" in b.get("error", {}).get("message", ""),
         "Meeting.Update IsAllDay alone: 400", b)

    # The Appointment methods do not change a meeting behind its
    # attendees' backs.
    with open(ics_path(ALICE, mid), "rb") as f:
        before = f.read()
    st, b = d.call("local/Appointment.Update", {"Id": mid, "Subject": "quiet",
                                                "Mailbox": ALICE})
    t.ok(st == 400 and "Meeting.Update" in b.get("error", {}).get("message", ""),
         "Appointment.Update on a meeting: 400 naming Meeting.Update", b)
    st, b = d.call("local/Appointment.Delete", {"Id": mid, "Mailbox": BOB})
    t.ok(st == 400 and "Meeting.Decline" in b.get("error", {}).get("message", ""),
         "Appointment.Delete on a live meeting: 400 naming Meeting.Decline", b)
    with open(ics_path(ALICE, mid), "rb") as f:
        t.ok(f.read() == before, "the organizer's file is unchanged")
    t.ok(os.path.exists(ics_path(BOB, mid)), "bob's copy is still there")

    # Cancel.
    st, b = d.call("local/Meeting.Cancel", {"Id": mid, "Mailbox": BOB})
    t.eq(st, 400, "an attendee cannot cancel")
    st, b = d.call("local/Meeting.Cancel", {"Id": mid, "Mailbox": ALICE})
    t.eq((st, row(b).get("Id")), (200, mid), "organizer cancels")
    st, b = d.call("local/Meeting.Load", {"Id": mid, "Mailbox": ALICE})
    t.eq(st, 404, "the cancelled meeting leaves the organizer's calendar")
    for who in (BOB, CAROL):
        c = invitations(who, mid, "CANCEL")
        t.eq([meth for _, meth, _ in c], ["CANCEL"], "%s got a METHOD:CANCEL" % who)
        _, ev = read_event(who, mid)
        t.eq(str(ev.get("STATUS")), "CANCELLED", "%s's copy is STATUS:CANCELLED" % who)
        st, b = d.call("local/Meeting.Accept", {"Id": mid, "Mailbox": who})
        t.ok(st == 409 and b.get("error", {}).get("category") == "conflict",
             "%s answering a cancelled meeting: 409" % who, b)
    st, b = d.call("local/Appointment.Delete", {"Id": mid, "Mailbox": CAROL})
    t.ok(st == 200 and not os.path.exists(ics_path(CAROL, mid)),
         "a cancelled meeting's copy can be removed with Appointment.Delete", b)

    # A recurring meeting in a zone: occurrences over a window.
    tz = ZoneInfo("Europe/Berlin")
    rstart = dt.datetime(2027, 3, 15, 9, 30, tzinfo=tz)  # DST change inside
    rule = "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=8"
    st, b = d.call("local/Meeting.Create", {
        "Subject": "Weekly", "Start": rstart.isoformat(),
        "End": (rstart + dt.timedelta(minutes=45)).isoformat(),
        "TimeZone": "Europe/Berlin", "Recurrence": rule,
        "RequiredAttendees": [BOB], "Mailbox": ALICE})
    t.eq(st, 200, "a recurring meeting")
    rid = row(b).get("Id", "none")
    ws, we = dt.datetime(2027, 3, 1, tzinfo=UTC), dt.datetime(2027, 5, 1, tzinfo=UTC)
    want = [(iso(o), iso(o + dt.timedelta(minutes=45)))
            for o in du_rrule.rrulestr(rule, dtstart=rstart)]
    for who in (ALICE, BOB):
        st, lst = list_all(d, "local/Meeting.List", {
            "WindowStart": iso(ws), "WindowEnd": iso(we), "Mailbox": who,
            "PageSize": 3})
        got = [(r.get("Start"), r.get("End")) for r in lst if r.get("Id") == rid]
        t.eq(got, want, "%s: the series expands as dateutil expands it" % who)
        st, lst = list_all(d, "local/Meeting.List", {"Mailbox": who})
        t.eq([(r.get("Id"), r.get("Recurrence")) for r in lst if r.get("Id") == rid],
             [(rid, rule)], "%s: without a window, the series once" % who)
    st, lst = list_all(d, "local/Meeting.List", {
        "WindowStart": iso(dt.datetime(2027, 3, 20, tzinfo=UTC)),
        "WindowEnd": iso(dt.datetime(2027, 3, 27, tzinfo=UTC)), "Mailbox": BOB})
    t.eq([r.get("Start") for r in lst],
         [w[0] for w in want if "2027-03-20" <= w[0] < "2027-03-27"],
         "a narrow window: only its occurrences")
    _, ev = read_event(BOB, rid)
    t.eq(str(ev.get("DTSTART").params.get("TZID")), "Europe/Berlin",
         "the attendee's copy keeps the zone")

    # Replacing the attendees: the removed one gets a CANCEL.
    st, b = d.call("local/Meeting.Update", {
        "Id": rid, "RequiredAttendees": [CAROL], "Mailbox": ALICE})
    t.eq((st, row(b).get("RequiredAttendees")), (200, [CAROL]),
         "organizer replaces the attendees")
    t.eq([meth for _, meth, _ in invitations(BOB, rid, "CANCEL")], ["CANCEL"],
         "the removed attendee gets a METHOD:CANCEL")
    _, ev = read_event(BOB, rid)
    t.eq(str(ev.get("STATUS")), "CANCELLED", "the removed attendee's copy is cancelled")
    st, b = d.call("local/Meeting.Load", {"Id": rid, "Mailbox": CAROL})
    t.eq((st, row(b).get("ResponseStatus"), row(b).get("Recurrence")),
         (200, "NoResponseReceived", rule), "the new attendee has the series")

    # An appointment is not a meeting.
    st, b = d.call("local/Appointment.Create", {
        "Subject": "alone", "Start": iso(start), "End": iso(start), "Mailbox": BOB})
    aid = row(b).get("Id", "none")
    st, lst = list_all(d, "local/Meeting.List", {"Mailbox": BOB})
    t.ok(aid not in [r.get("Id") for r in lst], "Meeting.List leaves appointments out")
    st, b = d.call("local/Meeting.Load", {"Id": aid, "Mailbox": BOB})
    t.eq(st, 404, "Meeting.Load of an appointment: 404")

    # A Create retried with the same X-Request-Id.
    req = {"inputs": {"Subject": "Retry", "Start": iso(start), "End": iso(start),
                      "RequiredAttendees": [BOB], "Mailbox": ALICE}}
    hdr = {"X-Request-Id": "meeting-retry-1"}
    st1, b1 = d.request("POST", "/v1/call/local/Meeting/Create", req, headers=hdr)
    # bob reads the invitation (it moves to cur/) before the retry
    st, lst = list_all(d, "local/Email.List", {"Mailbox": BOB})
    for r in lst:
        d.call("local/Email.MarkRead", {"Id": r.get("Id"), "Mailbox": BOB})
    st2, b2 = d.request("POST", "/v1/call/local/Meeting/Create", req, headers=hdr)
    t.eq((st1, st2, row(b1).get("Id")), (200, 200, row(b2).get("Id")),
         "a retried Create gives the same meeting")
    t.eq(len(invitations(BOB, row(b1).get("Id"), "REQUEST")), 1,
         "a retried Create delivers once, also when the first was read")
    t.eq(len(glob.glob(os.path.join(store, BOB, "Inbox", "new", "*"))), 0,
         "nothing new in bob's Inbox after the retry")
    req["inputs"]["Subject"] = "Other"
    st3, b3 = d.request("POST", "/v1/call/local/Meeting/Create", req, headers=hdr)
    t.ok(st3 == 200 and row(b3).get("Id") not in (None, row(b1).get("Id")),
         "the same X-Request-Id for another meeting makes another one", b3)

    # A file another tool wrote with an attendee whose address is none:
    # the valid attendees still get the messages, that one is left out.
    st, b = d.call("local/Meeting.Create", {
        "Subject": "Odd address", "Start": iso(start), "End": iso(start),
        "RequiredAttendees": [BOB], "Mailbox": ALICE})
    oid = row(b).get("Id", "none")
    plant(ALICE, oid, b"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:no address\r\n")
    st, b = d.call("local/Meeting.Update", {"Id": oid, "Subject": "Odd address 2",
                                            "Mailbox": ALICE})
    t.eq(st, 200, "Update of a meeting with an invalid attendee address")
    t.eq(sorted(str(c.walk("VEVENT")[0].get("SUMMARY"))
                for _, _, c in invitations(BOB, oid, "REQUEST")),
         ["Odd address", "Odd address 2"],
         "the valid attendee gets the update beside an invalid address")
    # (the Update wrote the file without it: planted again)
    plant(ALICE, oid, b"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:no address\r\n")
    st, b = d.call("local/Meeting.Cancel", {"Id": oid, "Mailbox": ALICE})
    t.eq((st, len(invitations(BOB, oid, "CANCEL"))), (200, 1),
         "and the CANCEL")
    t.ok("left out of the REQUEST message" in d.read_log() and
         "left out of the CANCEL message" in d.read_log(),
         "the address left out is logged")

    # An attendee address with a lone CR (or another control character)
    # is no address the store can write: rewriting the file leaves it out.
    st, b = d.call("local/Meeting.Create", {
        "Subject": "CR address", "Start": iso(start), "End": iso(start),
        "RequiredAttendees": [BOB], "Mailbox": ALICE})
    cid = row(b).get("Id", "none")
    hostile = (b"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:eve\r@example.test\r\n"
               b"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:mallory\x01@example.test\r\n")

    def clean(mb):
        with open(ics_path(mb, cid), "rb") as f:
            data = f.read()
        return (re.search(rb"\r(?!\n)|[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]", data)
                is None and b"eve" not in data and b"mallory" not in data)

    plant(ALICE, cid, hostile)
    st, b = d.call("local/Meeting.Update", {"Id": cid, "Subject": "CR address 2",
                                            "Mailbox": ALICE})
    t.eq(st, 200, "Update of a meeting with a control character in an address")
    t.ok(clean(ALICE) and clean(BOB),
         "Update writes no address with a control character")
    plant(ALICE, cid, hostile)
    plant(BOB, cid, hostile)
    st, b = d.call("local/Meeting.Accept", {"Id": cid, "Mailbox": BOB})
    t.eq(st, 200, "Accept of a meeting with a control character in an address")
    t.ok(clean(ALICE) and clean(BOB),
         "Accept writes no address with a control character")
    st, lst = list_all(d, "local/MeetingAttendee.List", {"Id": cid, "Mailbox": ALICE})
    t.eq([(r.get("Email"), r.get("ResponseStatus")) for r in lst], [(BOB, "Accept")],
         "the attendees are the valid one")

    # Everything written opens in icalendar.
    n_files = 0
    bad = []
    for path in glob.glob(os.path.join(store, "*", "Calendar", "*.ics")):
        n_files += 1
        try:
            with open(path, "rb") as f:
                c = icalendar.Calendar.from_ical(f.read())
            [e for e in c.walk("VEVENT")][0].decoded("DTSTART")
        except Exception as e:  # noqa: BLE001
            bad.append("%s: %s" % (path, e))
    t.ok(n_files >= 6 and not bad, "every .ics file opens in icalendar (%d)" % n_files,
         bad)
    n_parts = sum(len(invitations(mb)) for mb in (ALICE, BOB, CAROL))
    t.ok(n_parts >= 10, "every text/calendar part opens in icalendar (%d)" % n_parts)

shutil.rmtree(top, ignore_errors=True)
sys.exit(t.done())
