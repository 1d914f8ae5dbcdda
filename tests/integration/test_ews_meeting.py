#!/usr/bin/python3
"""exchange-ews broker: Meeting and MeetingAttendee end to end through the
real daemon against the mock EWS server (tests/mock/ews_server.py, which
checks every request against Microsoft's schema; its meetings are
tests/mock/ews_meeting.py): Create delivering invitations and the rooms'
automatic answers, Load, List (meetings only), MeetingAttendee.List,
Accept, AcceptTentatively and Decline as attendees (impersonated), Cancel
with a stale ChangeKey (409) and answers to a cancelled meeting (409),
bad input (400), and no schema violation at the end."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import sbtest  # noqa: E402
from ews_mock import (ALICE, BOB, MockEWS, err, instance,  # noqa: E402
                      require, row, rows)

require()
c = sbtest.Checks()
mock = MockEWS()
CAROL, ROOM_A, ROOM_B = ("carol@example.test", "room-a@example.test",
                         "room-b@example.test")
try:
    cfg = ("[module exchange-ews]\nenabled = yes\n" +
           instance("ews", mock.port) +
           instance("deleg", mock.port).replace(
               "impersonation = impersonate", "impersonation = delegate"))
    with sbtest.Daemon(cfg) as d:
        mock.ctl("/_mock/reset", {})
        # room B is busy at the meeting's time, room A free
        mock.ctl("/_mock/calendar", {
            "mailbox": ROOM_B, "start": "2026-12-08T09:30:00Z",
            "end": "2026-12-08T10:30:00Z", "subject": "taken"})

        # ---- Create, Load ---------------------------------------------------
        st, b = d.call("ews/Meeting.Create", {
            "Subject": "Planning <&>", "Body": "Agenda & notes",
            "Location": "Room A", "Start": "2026-12-08T10:00:00+01:00",
            "End": "2026-12-08T11:00:00+01:00", "TimeZone": "Europe/Berlin",
            "RequiredAttendees": [BOB], "OptionalAttendees": [CAROL],
            "Resources": [ROOM_A, ROOM_B]})
        c.ok(st == 200, "Create answers 200", json.dumps(b)[:300])
        m = row(b)
        c.eq((m.get("Subject"), m.get("Start"), m.get("End"),
              m.get("TimeZone")),
             ("Planning <&>", "2026-12-08T09:00:00Z", "2026-12-08T10:00:00Z",
              "W. Europe Standard Time"),
             "Create: Appointment's properties (times in UTC, zone)")
        c.eq((m.get("Organizer"), m.get("RequiredAttendees"),
              m.get("OptionalAttendees"), m.get("Resources"),
              m.get("ResponseStatus")),
             (ALICE, [BOB], [CAROL], [ROOM_A, ROOM_B], "Organizer"),
             "Create: organizer, the three lists, ResponseStatus Organizer")
        mid = m.get("Id", "x")
        st, b = d.call("ews/Meeting.Load", {"Id": mid})
        c.eq((st, row(b)), (200, m), "Load: the same row as Create")

        # the invitations: a request in Bob's and Carol's Inbox and a
        # tentative copy in their calendars
        for who in (BOB, CAROL):
            inbox = mock.ctl("/_mock/mailbox?mailbox=%s&folder=inbox" % who)
            subjects = [i.get("subject") for f in inbox.get("folders", [])
                        for i in f.get("items", [])]
            c.ok("Planning <&>" in subjects,
                 "Create: a meeting request in %s's Inbox" % who,
                 json.dumps(subjects))
            cal = mock.calendar(who)
            c.eq([(i["subject"], i["my_response"]) for i in cal],
                 [("Planning <&>", "NoResponseReceived")],
                 "Create: a tentative copy in %s's calendar" % who)

        # ---- MeetingAttendee.List: rooms answered at once ------------------
        st, b = d.call("ews/MeetingAttendee.List", {"Id": mid})
        att = {r["Email"]: r for r in rows(b)}
        c.eq(st, 200, "MeetingAttendee.List answers 200")
        c.eq([(r["Email"], r["Kind"], r["ResponseStatus"]) for r in rows(b)],
             [(BOB, "Required", "Unknown"), (CAROL, "Optional", "Unknown"),
              (ROOM_A, "Resource", "Accept"), (ROOM_B, "Resource",
                                                "Decline")],
             "attendees: kinds; the free room accepts, the busy one "
             "declines")
        c.ok(att.get(ROOM_A, {}).get("LastResponseTime", "").endswith("Z")
             and "LastResponseTime" not in att.get(BOB, {}),
             "attendees: LastResponseTime only where answered")
        c.eq([i["subject"] for i in mock.calendar(ROOM_A)], ["Planning <&>"],
             "the accepting room's calendar holds the meeting")

        # ---- List -----------------------------------------------------------
        st, b = d.call("ews/Appointment.Create", {
            "Subject": "alone", "Start": "2026-12-08T12:00:00Z",
            "End": "2026-12-08T13:00:00Z"})
        c.eq(st, 200, "an appointment beside the meeting")
        st, b = d.call("ews/Meeting.Load", {"Id": row(b).get("Id", "x")})
        c.eq(st, 404, "Load of an appointment (no attendees): 404")
        st, b = d.call("ews/Meeting.List", {})
        c.eq((st, [r.get("Subject") for r in rows(b)]),
             (200, ["Planning <&>"]), "List: meetings only")
        st, b = d.call("ews/Meeting.List", {
            "WindowStart": "2026-12-08T00:00:00Z",
            "WindowEnd": "2026-12-09T00:00:00Z"})
        c.eq([r.get("Subject") for r in rows(b)], ["Planning <&>"],
             "List over a window: meetings only")
        st, b = d.call("ews/Meeting.Load", {"Id": "AAMkAGI2TG93AAA="})
        c.eq(st, 404, "Load: an unknown Id is 404")

        # a series: a row per occurrence over a window, each a meeting
        st, b = d.call("ews/Meeting.Create", {
            "Subject": "daily", "Start": "2027-02-01T08:00:00Z",
            "End": "2027-02-01T08:15:00Z", "Recurrence": "FREQ=DAILY;COUNT=3",
            "Resources": ["room-c@example.test"]})
        c.eq((st, row(b).get("Recurrence")), (200, "FREQ=DAILY;COUNT=3"),
             "Create: a recurring meeting")
        st, b = d.call("ews/Meeting.List", {
            "WindowStart": "2027-02-01T00:00:00Z",
            "WindowEnd": "2027-02-05T00:00:00Z", "PageSize": 2})
        got = [(r.get("Start"), r.get("Resources")) for r in rows(b)]
        tok = b.get("next_page_token") if isinstance(b, dict) else None
        if tok:
            st, b = d.call("ews/Meeting.List", {
                "WindowStart": "2027-02-01T00:00:00Z",
                "WindowEnd": "2027-02-05T00:00:00Z", "PageSize": 2,
                "PageToken": tok})
            got += [(r.get("Start"), r.get("Resources")) for r in rows(b)]
        c.eq(got, [("2027-02-0%dT08:00:00Z" % i, ["room-c@example.test"])
                   for i in (1, 2, 3)],
             "List over a window, paged: each occurrence with attendees")

        # Bob's copy
        st, b = d.call("ews/Meeting.List", {"Mailbox": BOB})
        bm = row(b)
        c.eq((st, bm.get("Subject"), bm.get("ResponseStatus"),
              bm.get("Organizer")),
             (200, "Planning <&>", "NoResponseReceived", ALICE),
             "List as Bob: his copy, not answered yet")

        # ---- answers --------------------------------------------------------
        st, b = d.call("ews/Meeting.Accept", {"Id": bm.get("Id", "x"),
                                               "Mailbox": BOB})
        c.eq((st, row(b).get("ResponseStatus")), (200, "Accept"),
             "Accept as Bob")
        # the organizer answering her own meeting: the server's refusal
        # is a conflict with the item, as a cancelled meeting's is
        mock.ctl("/_mock/inject", {"operation": "CreateItem", "count": 1,
                                   "response_code":
                                   "ErrorCalendarIsOrganizerForAccept"})
        st, b = d.call("ews/Meeting.Accept", {"Id": mid})
        c.eq((st, err(b).get("code")),
             (409, "ErrorCalendarIsOrganizerForAccept"),
             "Accept by the organizer: 409")
        st, b = d.call("ews/MeetingAttendee.List", {"Id": mid})
        att = {r["Email"]: r for r in rows(b)}
        c.eq(att.get(BOB, {}).get("ResponseStatus"), "Accept",
             "the organizer's item records Bob's answer")
        c.ok(att.get(BOB, {}).get("LastResponseTime", "").endswith("Z"),
             "... with its time")
        st, b = d.call("ews/Meeting.List", {"Mailbox": CAROL})
        cm = row(b)
        st, b = d.call("ews/Meeting.AcceptTentatively", {
            "Id": cm.get("Id", "x"), "Mailbox": CAROL})
        c.eq((st, row(b).get("ResponseStatus")), (200, "Tentative"),
             "AcceptTentatively as Carol")
        st, b = d.call("ews/Meeting.Decline", {"Id": cm.get("Id", "x"),
                                                "Mailbox": CAROL})
        c.eq((st, row(b).get("ResponseStatus"), row(b).get("Subject")),
             (200, "Decline", "Planning <&>"), "Decline as Carol")
        c.eq(mock.calendar(CAROL), [],
             "Decline: gone from Carol's calendar")
        st, b = d.call("ews/MeetingAttendee.List", {"Id": mid})
        c.eq({r["Email"]: r["ResponseStatus"] for r in rows(b)}.get(CAROL),
             "Decline", "the organizer's item records the decline")
        st, b = d.call("ews/Meeting.Accept", {"Id": mid})
        c.eq(st, 400,
             "the organizer cannot answer (ErrorInvalidReferenceItem)")

        # ---- Update --------------------------------------------------------
        st, b = d.call("ews/Meeting.Update", {
            "Id": mid, "ChangeKey": m.get("ChangeKey"), "Subject": "x"})
        c.eq(st, 409, "Update with a stale ChangeKey: 409")
        st, b = d.call("ews/Meeting.Load", {"Id": mid})
        c.eq(row(b).get("Subject"), "Planning <&>",
             "... and the meeting is left as it is")
        st, b = d.call("ews/Meeting.Update", {
            "Id": mid, "ChangeKey": row(b).get("ChangeKey"),
            "Subject": "Planning 2"})
        c.eq((st, row(b).get("Subject"), row(b).get("RequiredAttendees")),
             (200, "Planning 2", [BOB]), "Update: a new Subject")
        c.eq([(i["subject"], i["my_response"]) for i in mock.calendar(BOB)],
             [("Planning 2", "Accept")],
             "Update: Bob's copy follows, his answer kept")
        st, b = d.call("ews/Meeting.Update", {
            "Id": mid, "Start": "2026-12-08T14:00:00Z",
            "End": "2026-12-08T15:00:00Z"})
        c.eq((st, row(b).get("Start")), (200, "2026-12-08T14:00:00Z"),
             "Update: a new time")
        st, b = d.call("ews/MeetingAttendee.List", {"Id": mid})
        c.eq([(r["Email"], r["ResponseStatus"]) for r in rows(b)],
             [(BOB, "Unknown"), (CAROL, "Unknown"), (ROOM_A, "Accept"),
              (ROOM_B, "Accept")],
             "a new time asks again: answers reset, the now free room B "
             "accepts")
        c.eq([(i["start"], i["my_response"]) for i in mock.calendar(BOB)],
             [("2026-12-08T14:00:00Z", "NoResponseReceived")],
             "Update: Bob's copy at the new time, to be answered again")
        c.eq(len(mock.calendar(CAROL)), 1,
             "a new time invites the decliner again")
        st, b = d.call("ews/Meeting.Update", {"Id": mid,
                                               "OptionalAttendees": []})
        c.eq((st, row(b).get("OptionalAttendees")), (200, []),
             "Update: an empty list removes those attendees")
        c.eq([i["is_cancelled"] for i in mock.calendar(CAROL)], [True],
             "Update: the removed attendee's copy is cancelled")
        st, b = d.call("ews/Meeting.Update", {"Id": mid})
        c.ok(st == 400 and "RequiredAttendees" in err(b).get("message", ""),
             "Update without a change: 400", json.dumps(b)[:200])
        st, b = d.call("ews/Meeting.Update", {
            "Id": mid, "RequiredAttendees": ["nobody"]})
        c.ok(st == 400 and "RequiredAttendees" in err(b).get("message", ""),
             "Update: a bad address is 400", json.dumps(b)[:200])

        # ---- Cancel ---------------------------------------------------------
        st, b = d.call("ews/Meeting.Cancel", {
            "Id": mid, "ChangeKey": 'x"/><t:Bad x="'})
        c.ok(st == 400 and "ChangeKey" in err(b).get("message", ""),
             "Cancel: a ChangeKey that is no EWS id is 400, naming it",
             json.dumps(b)[:200])
        st, b = d.call("ews/Meeting.Load", {"Id": mid})
        c.eq(st, 200, "and the meeting is not cancelled")
        st, b = d.call("ews/Meeting.Cancel", {
            "Id": mid, "ChangeKey": m.get("ChangeKey")})
        c.eq(st, 409, "Cancel with a stale ChangeKey: 409")
        st, b = d.call("ews/Meeting.Load", {"Id": mid})
        ck = row(b).get("ChangeKey")
        st, b = d.call("ews/Meeting.Cancel", {"Id": mid, "ChangeKey": ck})
        c.eq((st, row(b).get("Id")), (200, mid), "Cancel answers 200")
        st, b = d.call("ews/Meeting.Load", {"Id": mid})
        c.eq(st, 404, "Cancel: gone from the organizer's calendar")
        c.eq([i["is_cancelled"] for i in mock.calendar(BOB)], [True],
             "Cancel: Bob's copy is cancelled")
        for meth in ("Accept", "AcceptTentatively", "Decline"):
            st, b = d.call("ews/Meeting.%s" % meth, {
                "Id": bm.get("Id", "x"), "Mailbox": BOB})
            c.ok(st == 409, "%s of a cancelled meeting: 409" % meth,
                 "%s %s" % (st, json.dumps(b)[:200]))

        # ---- delegate access ------------------------------------------------
        st, b = d.call("deleg/Meeting.Create", {
            "Subject": "for bob", "Start": "2026-12-09T10:00:00Z",
            "End": "2026-12-09T11:00:00Z", "RequiredAttendees": [CAROL],
            "Mailbox": BOB})
        c.eq((st, row(b).get("Organizer")), (200, BOB),
             "delegate: Create organized by another mailbox")

        # ---- bad input ------------------------------------------------------
        base = {"Subject": "bad", "Start": "2026-12-10T10:00:00Z",
                "End": "2026-12-10T11:00:00Z", "RequiredAttendees": [BOB]}
        for inputs, want, what in (
                ({"RequiredAttendees": []}, "RequiredAttendees",
                 "no attendee"),
                ({"RequiredAttendees": ["not an address"]},
                 "RequiredAttendees", "a bad address"),
                ({"End": "2026-12-10T09:00:00Z"}, "End", "End before Start"),
                ({"TimeZone": "Mars/Olympus"}, "TimeZone", "a bad zone"),
                ({"Recurrence": "FREQ=HOURLY"}, "Recurrence",
                 "an RRULE outside the subset")):
            st, b = d.call("ews/Meeting.Create", dict(base, **inputs))
            c.ok(st == 400 and want in err(b).get("message", ""),
                 "Create refuses %s (400 naming %s)" % (what, want),
                 "%s %s" % (st, json.dumps(b)[:200]))
        st, b = d.call("ews/MeetingAttendee.List", {"Id": "not an id!"})
        c.eq(st, 400, "MeetingAttendee.List: a malformed Id is 400")
        st, b = d.call("ews/Meeting.Accept", {})
        c.eq(st, 400, "Accept without Id: 400")

        # a server naming the organizer by its legacyExchangeDN (routing
        # type EX) and an attendee by no address at all: left out, the
        # meeting still read (an address cell holds an address only)
        NT = "http://schemas.microsoft.com/exchange/services/2006/types"
        NM = "http://schemas.microsoft.com/exchange/services/2006/messages"
        dn = "/O=EXCHANGELABS/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=ALICE"
        odd = (
            '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s='
            '"http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            '<m:GetItemResponse xmlns:m="%s" xmlns:t="%s">'
            '<m:ResponseMessages><m:GetItemResponseMessage '
            'ResponseClass="Success"><m:ResponseCode>NoError'
            '</m:ResponseCode><m:Items><t:CalendarItem>'
            '<t:ItemId Id="AAMkOdd" ChangeKey="DwAAAB"/>'
            '<t:Subject>odd</t:Subject><t:Start>2027-03-01T09:00:00Z'
            '</t:Start><t:End>2027-03-01T10:00:00Z</t:End>'
            '<t:IsMeeting>true</t:IsMeeting><t:Organizer><t:Mailbox>'
            '<t:Name>Alice</t:Name><t:EmailAddress>%s</t:EmailAddress>'
            '<t:RoutingType>EX</t:RoutingType></t:Mailbox></t:Organizer>'
            '<t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>'
            'Bob (no address)</t:EmailAddress></t:Mailbox></t:Attendee>'
            '<t:Attendee><t:Mailbox><t:EmailAddress>%s</t:EmailAddress>'
            '</t:Mailbox></t:Attendee></t:RequiredAttendees>'
            '</t:CalendarItem></m:Items></m:GetItemResponseMessage>'
            '</m:ResponseMessages></m:GetItemResponse></s:Body>'
            '</s:Envelope>' % (NM, NT, dn, CAROL))
        for what in ("Meeting.Load", "MeetingAttendee.List"):
            mock.ctl("/_mock/inject", {"operation": "GetItem", "count": 1,
                                       "raw_status": 200, "raw": odd})
            st, b = d.call("ews/" + what, {"Id": "AAMkOdd"})
            got = ((row(b).get("Organizer"), row(b).get("RequiredAttendees"))
                   if what == "Meeting.Load" else
                   [r.get("Email") for r in rows(b)])
            c.eq((st, got),
                 (200, (None, [CAROL]) if what == "Meeting.Load"
                  else [CAROL]),
                 "%s: an organizer or attendee without an SMTP address "
                 "is left out" % what)

        s = mock.stats()
        c.eq(s.get("violations"), [], "no schema violation at the mock")
        c.eq(s.get("response_violations"), [],
             "no answer of the mock broke the schema")
        c.eq(s.get("internal_errors"), [], "no mock defect")
finally:
    mock.stop()
c.done()
