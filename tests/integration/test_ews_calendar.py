#!/usr/bin/python3
"""exchange-ews broker: Appointment end to end through the real daemon
against the mock EWS server (tests/mock/ews_server.py, which checks every
request against Microsoft's schema; its calendar is
tests/mock/ews_calendar.py): every method, a stale ChangeKey (409), List
windows and their limits, occurrences, a deleted one and a modified
one (an exception, also in Availability), paging,
recurrence round trips, all-day dates in zones far from UTC, bad input,
and no schema violation at the end."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import sbtest  # noqa: E402
from ews_mock import FINDITEM_NO_ROOT  # noqa: E402
from ews_mock import (ALICE, BOB, MockEWS, err, instance,  # noqa: E402
                      require, row, rows)

require()
c = sbtest.Checks()
mock = MockEWS()
try:
    cfg = ("[module exchange-ews]\nenabled = yes\n" +
           instance("ews", mock.port) +
           instance("berlin", mock.port, "timezone = Europe/Berlin\n") +
           instance("noimp", mock.port).replace(
               "impersonation = impersonate", "impersonation = none") +
           instance("deleg", mock.port).replace(
               "impersonation = impersonate", "impersonation = delegate"))
    with sbtest.Daemon(cfg) as d:
        mock.ctl("/_mock/reset", {})

        # ---- Create, Load ---------------------------------------------------
        st, b = d.call("ews/Appointment.Create", {
            "Subject": "Design review <&>", "Body": "Agenda:\n1. <plan>",
            "Location": "Room 4 & 5", "Start": "2026-12-07T10:00:00+01:00",
            "End": "2026-12-07T11:30:00+01:00", "TimeZone": "Europe/Berlin",
            "Reminder": 30, "Categories": ["Blue", "Review"]})
        c.eq(st, 200, "Create answers 200")
        a = row(b)
        c.eq((a.get("Subject"), a.get("Body"), a.get("Location")),
             ("Design review <&>", "Agenda:\n1. <plan>", "Room 4 & 5"),
             "Create: text round trips (escaped in XML)")
        c.eq((a.get("Start"), a.get("End")),
             ("2026-12-07T09:00:00Z", "2026-12-07T10:30:00Z"),
             "Create: times come back in UTC")
        c.eq((a.get("TimeZone"), a.get("IsAllDay"), a.get("Reminder"),
              a.get("Categories")),
             ("W. Europe Standard Time", False, 30, ["Blue", "Review"]),
             "Create: zone (as its Windows id), reminder, categories")
        c.ok(a.get("Id") and a.get("ChangeKey"), "Create: Id and ChangeKey")
        c.ok("Recurrence" not in a, "Create: no Recurrence on a single one")
        items = mock.calendar(ALICE)
        c.eq([(i["subject"], i["start"], i["start_tz"]) for i in items],
             [("Design review <&>", "2026-12-07T09:00:00Z",
               "W. Europe Standard Time")],
             "Create: stored in the calendar folder with StartTimeZone")
        st, b = d.call("ews/Appointment.Load", {"Id": a.get("Id", "x")})
        c.eq((st, row(b)), (200, a), "Load: the same row as Create")

        # a Start without an offset, End before Start, bad zone/reminder
        for inputs, want, what in (
                ({"Start": "2026-12-07T10:00:00",
                  "End": "2026-12-07T11:00:00Z"}, "Start", "no offset"),
                ({"Start": "2026-12-07T10:00:00Z",
                  "End": "2026-12-07T09:00:00Z"}, "End", "End before Start"),
                ({"Start": "2026-12-07T10:00:00Z",
                  "End": "2026-12-07T11:00:00Z", "TimeZone": "Mars/Olympus"},
                 "TimeZone", "unknown TimeZone"),
                ({"Start": "2026-12-07T10:00:00Z",
                  "End": "2026-12-07T11:00:00Z", "Reminder": -5},
                 "Reminder", "negative Reminder"),
                ({"Start": "2026-12-07T10:00:00Z",
                  "End": "2026-12-07T11:00:00Z",
                  "Recurrence": "FREQ=HOURLY"}, "Recurrence",
                 "an RRULE outside the subset"),
                ({"Start": "2026-12-07T10:00:00Z",
                  "End": "2026-12-07T11:00:00Z",
                  "Recurrence": "FREQ=YEARLY;INTERVAL=2"}, "INTERVAL",
                 "a yearly INTERVAL EWS cannot keep"),
                ({"Start": "2026-12-07T10:00:00Z",
                  "End": "2026-12-07T11:00:00Z",
                  "Recurrence": "FREQ=MONTHLY;BYDAY=5MO"}, "ordinal",
                 "a fifth weekday EWS cannot keep"),
                ({"Start": "2026-12-07T10:00:00Z",
                  "End": "2026-12-07T11:00:00Z",
                  "Recurrence": "FREQ=MONTHLY;BYMONTHDAY=1,15"},
                 "BYMONTHDAY", "two days of the month")):
            inputs = dict(inputs, Subject="bad")
            st, b = d.call("ews/Appointment.Create", inputs)
            c.ok(st == 400 and want in err(b).get("message", ""),
                 "Create refuses %s (400 naming %s)" % (what, want),
                 "%s %s" % (st, json.dumps(b)[:200]))
        st, b = d.call("ews/Appointment.Load", {"Id": "not an id!"})
        c.eq(st, 400, "Load: a malformed Id is 400")
        st, b = d.call("ews/Appointment.Load",
                       {"Id": "AAMkAGI2TG93AAA=", "Mailbox": BOB})
        c.eq(st, 404, "Load: an unknown Id is 404")
        st, b = d.call("noimp/Appointment.Load",
                       {"Id": a.get("Id", "x"), "Mailbox": BOB})
        c.eq(st, 405, "Mailbox without impersonation: 405")

        # ---- Update, stale ChangeKey --------------------------------------
        ck0 = a.get("ChangeKey")
        st, b = d.call("ews/Appointment.Update", {
            "Id": a.get("Id"), "ChangeKey": ck0, "Subject": "Design review 2",
            "Location": "", "Start": "2026-12-07T14:00:00+01:00",
            "End": "2026-12-07T15:00:00+01:00"})
        u = row(b)
        c.eq(st, 200, "Update answers 200")
        c.eq((u.get("Subject"), u.get("Location"), u.get("Start"),
              u.get("End"), u.get("Body"), u.get("TimeZone")),
             ("Design review 2", None, "2026-12-07T13:00:00Z",
              "2026-12-07T14:00:00Z", "Agenda:\n1. <plan>",
              "W. Europe Standard Time"),
             "Update: changed what was given, kept the rest, removed "
             "Location")
        c.ok(u.get("ChangeKey") and u.get("ChangeKey") != ck0,
             "Update: a new ChangeKey")
        st, b = d.call("ews/Appointment.Update", {
            "Id": a.get("Id"), "ChangeKey": ck0, "Subject": "lost update"})
        c.eq((st, err(b).get("category")), (409, "conflict"),
             "Update with a stale ChangeKey: 409 conflict")
        st, b = d.call("ews/Appointment.Load", {"Id": a.get("Id")})
        c.eq(row(b).get("Subject"), "Design review 2",
             "stale Update: the appointment is left as it is")
        st, b = d.call("ews/Appointment.Update", {"Id": a.get("Id")})
        c.eq(st, 400, "Update without a change: 400")
        st, b = d.call("ews/Appointment.Update", {
            "Id": a.get("Id"), "Reminder": 5, "Categories": []})
        c.eq((st, row(b).get("Reminder"), row(b).get("Categories")),
             (200, 5, []), "Update without ChangeKey; Categories cleared")

        # ---- Clear: what has no empty value (Reminder) and the rest ------
        aid = a.get("Id", "x")
        st, b = d.call("ews/Appointment.Update", {
            "Id": aid, "Location": "Room 9", "Categories": ["Green"],
            "Recurrence": "FREQ=DAILY;COUNT=3"})
        c.eq((st, row(b).get("Location"), row(b).get("Categories"),
              row(b).get("Recurrence"), row(b).get("Reminder")),
             (200, "Room 9", ["Green"], "FREQ=DAILY;COUNT=3", 5),
             "Clear: the appointment has each property first")
        before = row(b)
        # refused: 400 naming the field, nothing changed
        for inputs, want, what in (
                ({"Reminder": 10, "Clear": ["Reminder"]}, "Reminder",
                 "a Reminder given and named in Clear"),
                ({"Body": "new", "Clear": ["Location", "Body"]}, "Body",
                 "a Body given and named in Clear"),
                ({"Categories": ["Red"], "Clear": ["Categories"]},
                 "Categories", "Categories given and named in Clear"),
                ({"TimeZone": "Europe/Paris", "Clear": ["TimeZone"]},
                 "TimeZone", "a TimeZone given and named in Clear"),
                ({"Clear": ["Subject"]}, "Clear", "Subject in Clear"),
                ({"Clear": ["Attendees"]}, "Clear", "an unknown name"),
                ({"Clear": "Reminder"}, "Clear", "Clear not a list")):
            st, b = d.call("ews/Appointment.Update", dict(inputs, Id=aid))
            c.ok(st == 400 and want in err(b).get("message", ""),
                 "Update refuses %s (400 naming %s)" % (what, want),
                 "%s %s" % (st, json.dumps(b)[:200]))
        st, b = d.call("ews/Appointment.Load", {"Id": aid})
        c.eq(row(b), before, "the refused Updates changed nothing")
        # an empty value and Clear of the same property agree: allowed
        st, b = d.call("ews/Appointment.Update", {
            "Id": aid, "Body": "", "Location": "",
            "Clear": ["Reminder", "Body", "Location", "Categories"]})
        u = row(b)
        c.eq((st, [k for k in ("Reminder", "Body", "Location") if k in u],
              u.get("Categories"), u.get("Subject"), u.get("Start"),
              u.get("Recurrence")),
             (200, [], [], "Design review 2", "2026-12-07T13:00:00Z",
              "FREQ=DAILY;COUNT=3"),
             "Clear: Reminder, Body, Location, Categories removed, the "
             "rest kept")
        st, b = d.call("ews/Appointment.Load", {"Id": aid})
        c.eq((st, row(b)), (200, u), "Clear: Load shows them gone")
        stored = [i for i in mock.calendar(ALICE) if i.get("id") == aid]
        c.eq([(i.get("body"), i.get("location")) for i in stored],
             [("", "")], "Clear: removed in the store")
        # Recurrence and TimeZone: no zone is UTC, the instants kept
        st, b = d.call("ews/Appointment.Update", {
            "Id": aid, "Clear": ["Recurrence", "TimeZone"]})
        u = row(b)
        c.eq((st, "Recurrence" in u, u.get("TimeZone"), u.get("Start"),
              u.get("End")),
             (200, False, "UTC", "2026-12-07T13:00:00Z",
              "2026-12-07T14:00:00Z"),
             "Clear: Recurrence removed; TimeZone removed is UTC, the "
             "instants kept")
        stored = [i for i in mock.calendar(ALICE) if i.get("id") == aid]
        c.eq([(i.get("rrule"), i.get("start_tz"), i.get("end_tz"))
              for i in stored], [(None, "UTC", "UTC")],
             "Clear: no pattern, the zone UTC in the store")
        st, b = d.call("ews/Appointment.Update", {
            "Id": aid, "TimeZone": "Europe/Berlin"})
        st, b = d.call("ews/Appointment.Update", {"Id": aid, "TimeZone": ""})
        c.eq((st, row(b).get("TimeZone"), row(b).get("Start")),
             (200, "UTC", "2026-12-07T13:00:00Z"),
             "an empty TimeZone removes it as Clear does")
        st, b = d.call("ews/Appointment.Update", {"Id": aid, "Reminder": 10})
        c.eq((st, row(b).get("Reminder")), (200, 10),
             "a cleared Reminder can be set again")
        st, b = d.call("ews/Appointment.Update", {
            "Id": aid, "Clear": ["Reminder"]})
        st, b = d.call("ews/Appointment.Load", {"Id": aid})
        c.eq((st, "Reminder" in row(b)), (200, False),
             "Clear of Reminder alone: Load shows none")

        # an Update making it all-day takes its local date (00:30 in
        # Berlin is the day before in UTC)
        st, b = d.call("ews/Appointment.Create", {
            "Subject": "early", "Start": "2026-12-08T00:30:00+01:00",
            "End": "2026-12-08T01:00:00+01:00", "TimeZone": "Europe/Berlin"})
        st, b = d.call("ews/Appointment.Update", {
            "Id": row(b).get("Id", "x"), "IsAllDay": True})
        c.eq((st, row(b).get("Start"), row(b).get("End"),
              row(b).get("IsAllDay")),
             (200, "2026-12-08T00:00:00Z", "2026-12-09T00:00:00Z", True),
             "Update to all-day: the local date")

        # a new Start alone keeps the duration
        st, b = d.call("ews/Appointment.Update", {
            "Id": row(b).get("Id", "x"), "Start": "2026-12-10T00:00:00Z"})
        c.eq((st, row(b).get("Start"), row(b).get("End")),
             (200, "2026-12-10T00:00:00Z", "2026-12-11T00:00:00Z"),
             "Update of Start alone: the duration kept (all-day)")
        st, b = d.call("ews/Appointment.Update", {
            "Id": row(b).get("Id", "x"), "IsAllDay": False,
            "Start": "2026-12-10T09:00:00+01:00",
            "End": "2026-12-10T10:00:00+01:00"})
        st, b = d.call("ews/Appointment.Update", {
            "Id": row(b).get("Id", "x"), "Start": "2026-12-11T14:00:00+01:00"})
        c.eq((st, row(b).get("Start"), row(b).get("End"),
              row(b).get("IsAllDay")),
             (200, "2026-12-11T13:00:00Z", "2026-12-11T14:00:00Z", False),
             "Update of Start alone: the duration kept (set hours)")

        # ---- all-day: the dates it was created with --------------------------
        # UTC, UTC-10, UTC+12 (June) and UTC+13 (December, NZ summer
        # time), and the instance's own zone
        for tz, inst, day, local_midnight in (
                (None, "ews", "06-10", "2026-06-10T00:00:00Z"),
                ("Pacific/Honolulu", "ews", "06-10", "2026-06-10T10:00:00Z"),
                ("Pacific/Auckland", "ews", "06-10", "2026-06-09T12:00:00Z"),
                ("Pacific/Auckland", "ews", "12-10", "2026-12-09T11:00:00Z"),
                (None, "berlin", "06-10", "2026-06-09T22:00:00Z")):
            nxt = "%s-%02d" % (day[:2], int(day[3:]) + 1)
            inputs = {"Subject": "all day %s %s %s" % (inst, tz, day),
                      "IsAllDay": True,
                      "Start": "2026-%sT00:00:00+05:00" % day,
                      "End": "2026-%sT00:00:00+05:00" % nxt}
            if tz:
                inputs["TimeZone"] = tz
            st, b = d.call("%s/Appointment.Create" % inst, inputs)
            r = row(b)
            c.eq((st, r.get("Start"), r.get("End"), r.get("IsAllDay")),
                 (200, "2026-%sT00:00:00Z" % day,
                  "2026-%sT00:00:00Z" % nxt, True),
                 "all-day in %s (%s): the same dates back" % (tz, inst))
            stored = [i for i in mock.calendar(ALICE)
                      if i["subject"] == inputs["Subject"]]
            c.eq([i["start"] for i in stored], [local_midnight],
                 "all-day in %s: stored from midnight there" % tz)
            st, b = d.call("ews/Appointment.Load", {"Id": r.get("Id", "x")})
            c.eq(row(b).get("Start"), "2026-%sT00:00:00Z" % day,
                 "all-day in %s: Load gives the date" % tz)

        # every zone of the broker's table is one Exchange (the mock) takes
        for tz in ("America/Bogota", "Asia/Tokyo", "America/Santiago"):
            st, b = d.call("ews/Appointment.Create", {
                "Subject": "in " + tz, "Start": "2027-02-01T10:00:00Z",
                "End": "2027-02-01T11:00:00Z", "TimeZone": tz})
            c.eq(st, 200, "Create with TimeZone %s" % tz)

        # ---- recurrence: round trips --------------------------------------
        for rule, back in (
                ("FREQ=DAILY;INTERVAL=2;COUNT=5", None),
                ("FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20270301", None),
                ("FREQ=WEEKLY;COUNT=3", "FREQ=WEEKLY;BYDAY=MO;COUNT=3"),
                ("FREQ=MONTHLY;BYMONTHDAY=15", None),
                ("FREQ=MONTHLY;INTERVAL=3;BYDAY=-1FR", None),
                ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1;COUNT=6",
                 None),
                ("FREQ=MONTHLY;BYMONTHDAY=-1", None),
                ("FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
                 "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3"),
                ("FREQ=YEARLY;COUNT=4", "FREQ=YEARLY;BYMONTHDAY=7;BYMONTH=12;"
                 "COUNT=4"),
                ("freq=daily;byday=mo,tu", "FREQ=WEEKLY;BYDAY=MO,TU")):
            st, b = d.call("ews/Appointment.Create", {
                "Subject": "series " + rule,
                "Start": "2026-12-07T09:00:00+01:00",
                "End": "2026-12-07T09:30:00+01:00",
                "TimeZone": "Europe/Berlin", "Recurrence": rule})
            c.eq((st, row(b).get("Recurrence")), (200, back or rule),
                 "Recurrence %s round trips" % rule)
        # UNTIL as a date-time comes back as the local date
        st, b = d.call("ews/Appointment.Create", {
            "Subject": "until", "Start": "2026-12-07T23:30:00+01:00",
            "End": "2026-12-07T23:45:00+01:00", "TimeZone": "Europe/Berlin",
            "Recurrence": "FREQ=DAILY;UNTIL=20261209T223000Z"})
        c.eq(row(b).get("Recurrence"), "FREQ=DAILY;UNTIL=20261209",
             "UNTIL date-time: the local date it ends on")
        # ... in the zone's offset at UNTIL: 22:30Z on 15 November is
        # 23:30 in Berlin (winter time, +01:00), though the series
        # started in summer time (+02:00, which would make it the 16th)
        st, b = d.call("ews/Appointment.Create", {
            "Subject": "until across DST", "Start": "2026-10-01T10:00:00+02:00",
            "End": "2026-10-01T10:30:00+02:00", "TimeZone": "Europe/Berlin",
            "Recurrence": "FREQ=DAILY;UNTIL=20261115T223000Z"})
        c.eq(row(b).get("Recurrence"), "FREQ=DAILY;UNTIL=20261115",
             "UNTIL date-time after a change to winter time: the local "
             "date in the offset of then")

        # ---- List: series, window, occurrences, paging ----------------------
        mock.ctl("/_mock/reset", {})
        st, b = d.call("ews/Appointment.Create", {
            "Subject": "standup", "Start": "2027-03-22T09:00:00+01:00",
            "End": "2027-03-22T09:15:00+01:00", "TimeZone": "Europe/Berlin",
            "Recurrence": "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6"})
        series = row(b)
        d.call("ews/Appointment.Create", {
            "Subject": "one-off", "Start": "2027-03-24T12:00:00Z",
            "End": "2027-03-24T13:00:00Z"})
        d.call("ews/Appointment.Create", {
            "Subject": "far away", "Start": "2028-01-10T12:00:00Z",
            "End": "2028-01-10T13:00:00Z"})
        st, b = d.call("ews/Appointment.List", {})
        c.eq((st, [r.get("Subject") for r in rows(b)]),
             (200, ["standup", "one-off", "far away"]),
             "List without a window: single items and the series once")
        c.eq([r.get("Recurrence") for r in rows(b)][0],
             "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6",
             "List without a window: the series' Recurrence")
        win = {"WindowStart": "2027-03-22T00:00:00Z",
               "WindowEnd": "2027-04-12T00:00:00Z"}
        st, b = d.call("ews/Appointment.List", win)
        occ = [(r.get("Subject"), r.get("Start")) for r in rows(b)]
        # Berlin changes to summer time on 2027-03-28: 09:00 local stays
        c.eq(occ, [("standup", "2027-03-22T08:00:00Z"),
                   ("standup", "2027-03-24T08:00:00Z"),
                   ("one-off", "2027-03-24T12:00:00Z"),
                   ("standup", "2027-03-29T07:00:00Z"),
                   ("standup", "2027-03-31T07:00:00Z"),
                   ("standup", "2027-04-05T07:00:00Z"),
                   ("standup", "2027-04-07T07:00:00Z")],
             "List over a window: every occurrence, local time kept "
             "across DST")
        ids = [r.get("Id") for r in rows(b)]
        c.eq(len(set(ids)), len(ids), "occurrences have Ids of their own")
        # delete one occurrence: the series leaves it out
        st, b = d.call("ews/Appointment.Delete", {"Id": ids[3]})
        c.eq((st, row(b).get("Id")), (200, ids[3]), "Delete an occurrence")
        st, b = d.call("ews/Appointment.List", win)
        c.eq([r.get("Start") for r in rows(b)
              if r.get("Subject") == "standup"],
             ["2027-03-22T08:00:00Z", "2027-03-24T08:00:00Z",
              "2027-03-31T07:00:00Z", "2027-04-05T07:00:00Z",
              "2027-04-07T07:00:00Z"],
             "a deleted occurrence is not listed")
        st, b = d.call("ews/Appointment.Load", {"Id": ids[0]})
        c.eq((st, row(b).get("Start"), row(b).get("Subject"),
              "Recurrence" in row(b)),
             (200, "2027-03-22T08:00:00Z", "standup", False),
             "Load by an occurrence's Id: that occurrence")
        st, b = d.call("ews/Appointment.List",
                       {"WindowStart": "2027-04-01T00:00:00Z"})
        c.eq((st, [(r.get("Subject"), r.get("Start")) for r in rows(b)]),
             (200, [("standup", "2027-04-05T07:00:00Z"),
                    ("standup", "2027-04-07T07:00:00Z"),
                    ("far away", "2028-01-10T12:00:00Z")]),
             "List with WindowStart alone: two years from it")
        # paging over the window: no row twice, none lost
        seen, token, pages = [], None, 0
        while pages < 10:
            inputs = dict(win, PageSize=2)
            if token:
                inputs["PageToken"] = token
            st, b = d.call("ews/Appointment.List", inputs)
            if st != 200:
                break
            seen += [(r.get("Subject"), r.get("Start")) for r in rows(b)]
            pages += 1
            token = b.get("next_page_token")
            if not b.get("more"):
                break
        c.eq((pages, len(seen), len(set(seen))), (3, 6, 6),
             "List pages over a window (PageSize 2)")
        st, b = d.call("ews/Appointment.List", {"PageSize": 2})
        tok = b.get("next_page_token")
        st2, b2 = d.call("ews/Appointment.List",
                         {"PageSize": 2, "PageToken": tok})
        c.eq(([r.get("Subject") for r in rows(b)] +
              [r.get("Subject") for r in rows(b2)], b2.get("more")),
             (["standup", "one-off", "far away"], False),
             "List pages without a window")
        # an item created before the position between two pages, and one
        # at the same Start as the last row shown: no row repeats, none
        # is skipped
        st, b = d.call("ews/Appointment.List", {"PageSize": 1})
        first = [r.get("Subject") for r in rows(b)]
        tok1 = b.get("next_page_token")
        st, made = d.call("ews/Appointment.Create", {
            "Subject": "earlier", "Start": "2020-01-01T09:00:00Z",
            "End": "2020-01-01T10:00:00Z"})
        st3, b3 = d.call("ews/Appointment.List",
                         {"PageSize": 5, "PageToken": tok1})
        c.eq((st3, first + [r.get("Subject") for r in rows(b3)]),
             (200, ["standup", "one-off", "far away"]),
             "List without a window: an item created before the position "
             "between pages neither repeats nor shifts a row")
        st, b = d.call("ews/Appointment.Delete",
                       {"Id": row(made).get("Id", "")})
        c.eq(st, 200, "the earlier item deleted")
        st, b = d.call("ews/Appointment.List", dict(win, PageToken=tok))
        c.eq(st, 400, "a page token of another listing: 400")
        # window limits
        st, b = d.call("ews/Appointment.List", {
            "WindowStart": "2027-01-01T00:00:00Z",
            "WindowEnd": "2029-06-01T00:00:00Z"})
        c.ok(st == 400 and "two years" in err(b).get("message", ""),
             "a window over two years: 400", json.dumps(b)[:200])
        st, b = d.call("ews/Appointment.List", {
            "WindowStart": "2027-02-01T00:00:00Z",
            "WindowEnd": "2027-01-01T00:00:00Z"})
        c.ok(st == 400 and "WindowEnd" in err(b).get("message", ""),
             "WindowEnd before WindowStart: 400")
        # one end near the limits of the years: the implied other end
        # stays within them; an end before 1601 is refused by name
        for inputs in ({"WindowStart": "9999-06-01T00:00:00Z"},
                       {"WindowEnd": "1601-06-01T00:00:00Z"}):
            st, b = d.call("ews/Appointment.List", inputs)
            c.eq((st, rows(b)), (200, []),
                 "List with %s alone: 200, nothing there" % list(inputs)[0])
        for name in ("WindowStart", "WindowEnd"):
            inputs = {"WindowStart": "1500-01-01T00:00:00Z",
                      "WindowEnd": "1500-02-01T00:00:00Z"}
            if name == "WindowEnd":
                inputs = {"WindowEnd": "0000-06-01T00:00:00Z"}
            st, b = d.call("ews/Appointment.List", inputs)
            c.ok(st == 400 and name in err(b).get("message", ""),
                 "List with a %s before 1601: 400 naming it" % name,
                 (st, err(b)))
        # the server's own refusal of a long view maps to 400 too
        mock.ctl("/_mock/inject", {"operation": "FindItem", "count": 1,
                                   "response_code":
                                   "ErrorCalendarViewRangeTooBig"})
        st, b = d.call("ews/Appointment.List", win)
        c.eq(st, 400, "ErrorCalendarViewRangeTooBig: 400")
        # the server's refusals of an item or series as given are the
        # caller's input too: 400, with the server's code
        for code in ("ErrorCalendarDurationIsTooLong",
                     "ErrorOccurrenceCrossingBoundary",
                     "ErrorRecurrenceEndDateTooBig"):
            mock.ctl("/_mock/inject", {"operation": "CreateItem",
                                       "count": 1, "response_code": code})
            st, b = d.call("ews/Appointment.Create", {
                "Subject": "refused", "Start": "2027-05-03T09:00:00Z",
                "End": "2027-05-05T09:00:00Z",
                "Recurrence": "FREQ=DAILY;UNTIL=20271231"})
            c.eq((st, err(b).get("code")), (400, code), "%s: 400" % code)

        # ---- Update of a series, Delete ----------------------------------------
        st, b = d.call("ews/Appointment.Update", {
            "Id": series.get("Id"), "Recurrence": "FREQ=DAILY;COUNT=2"})
        c.eq((st, row(b).get("Recurrence")), (200, "FREQ=DAILY;COUNT=2"),
             "Update: a new Recurrence")
        st, b = d.call("ews/Appointment.Update", {
            "Id": series.get("Id"), "Recurrence": ""})
        c.ok(st == 200 and "Recurrence" not in row(b),
             "Update: an empty Recurrence makes it single")
        st, b = d.call("ews/Appointment.Delete", {"Id": series.get("Id")})
        c.eq(st, 200, "Delete answers 200")
        st, b = d.call("ews/Appointment.Load", {"Id": series.get("Id")})
        c.eq(st, 404, "Delete: gone from the calendar")

        # ---- delegate access ------------------------------------------------
        st, b = d.call("deleg/Appointment.Create", {
            "Subject": "delegated", "Start": "2027-01-06T10:00:00Z",
            "End": "2027-01-06T11:00:00Z", "Mailbox": BOB})
        c.eq((st, row(b).get("Subject")), (200, "delegated"),
             "delegate: Create in another mailbox's calendar")
        st, b = d.call("deleg/Appointment.List", {
            "Mailbox": BOB, "WindowStart": "2027-01-06T00:00:00Z",
            "WindowEnd": "2027-01-07T00:00:00Z"})
        c.eq([r.get("Subject") for r in rows(b)], ["delegated"],
             "delegate: List over a window of that calendar")

        # ---- another mailbox by impersonation --------------------------------
        st, b = d.call("ews/Appointment.Create", {
            "Subject": "bob's", "Start": "2027-01-05T10:00:00Z",
            "End": "2027-01-05T11:00:00Z", "Mailbox": BOB})
        c.eq((st, sorted(i["subject"] for i in mock.calendar(BOB))),
             (200, ["bob's", "delegated"]),
             "Create with Mailbox: in that calendar")
        st, b = d.call("ews/Appointment.List", {"Mailbox": BOB})
        c.eq([r.get("Subject") for r in rows(b)], ["bob's", "delegated"],
             "List with Mailbox")

        # ---- a modified occurrence (an Exception) ----------------------------
        mock.ctl("/_mock/reset", {})
        st, b = d.call("ews/Appointment.Create", {
            "Subject": "weekly", "Start": "2027-06-07T10:00:00Z",
            "End": "2027-06-07T11:00:00Z",
            "Recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=4"})
        master = row(b)
        xwin = {"WindowStart": "2027-06-01T00:00:00Z",
                "WindowEnd": "2027-07-01T00:00:00Z"}
        st, b = d.call("ews/Appointment.List", xwin)
        occ = rows(b)
        c.eq([r.get("Start") for r in occ],
             ["2027-06-07T10:00:00Z", "2027-06-14T10:00:00Z",
              "2027-06-21T10:00:00Z", "2027-06-28T10:00:00Z"],
             "exception: the weekly series listed")
        moved_id = occ[1].get("Id") if len(occ) == 4 else "x"
        st, b = d.call("ews/Appointment.Update", {
            "Id": moved_id, "Subject": "weekly (moved)",
            "Start": "2027-06-16T14:00:00Z", "End": "2027-06-16T15:30:00Z"})
        c.eq((st, row(b).get("Id"), row(b).get("Subject"),
              row(b).get("Start"), row(b).get("End")),
             (200, moved_id, "weekly (moved)", "2027-06-16T14:00:00Z",
              "2027-06-16T15:30:00Z"),
             "exception: Update of an occurrence's Id moves and renames it")
        st, b = d.call("ews/Appointment.List", xwin)
        c.eq([(r.get("Subject"), r.get("Start"), r.get("End"),
               "Recurrence" in r) for r in rows(b)],
             [("weekly", "2027-06-07T10:00:00Z", "2027-06-07T11:00:00Z",
               False),
              ("weekly (moved)", "2027-06-16T14:00:00Z",
               "2027-06-16T15:30:00Z", False),
              ("weekly", "2027-06-21T10:00:00Z", "2027-06-21T11:00:00Z",
               False),
              ("weekly", "2027-06-28T10:00:00Z", "2027-06-28T11:00:00Z",
               False)],
             "exception: List shows it at its new time with its Subject, "
             "not at 14 June; the others unchanged")
        st, b = d.call("ews/Appointment.Load", {"Id": moved_id})
        c.eq((st, row(b).get("Subject"), row(b).get("Start"),
              row(b).get("End")),
             (200, "weekly (moved)", "2027-06-16T14:00:00Z",
              "2027-06-16T15:30:00Z"),
             "exception: Load of the occurrence's Id returns the exception")
        st, b = d.call("ews/Appointment.Load", {"Id": master.get("Id")})
        c.eq((st, row(b).get("Subject"), row(b).get("Start"),
              row(b).get("Recurrence")),
             (200, "weekly", "2027-06-07T10:00:00Z",
              "FREQ=WEEKLY;BYDAY=MO;COUNT=4"),
             "exception: the series keeps its Subject and Recurrence")
        fb = {"Mailboxes": [ALICE], "WindowStart": "2027-06-14T00:00:00Z",
              "WindowEnd": "2027-06-18T00:00:00Z"}
        st, b = d.call("ews/Availability.List", fb)
        c.eq((st, [(r.get("Start"), r.get("End"), r.get("BusyType"))
                   for r in rows(b)]),
             (200, [("2027-06-16T14:00:00Z", "2027-06-16T15:30:00Z",
                     "Busy")]),
             "exception: Availability busy at the new time, free at the "
             "old one")
        # another occurrence deleted: both respected
        st, b = d.call("ews/Appointment.Delete", {"Id": occ[2].get("Id")})
        c.eq(st, 200, "exception: Delete of another occurrence")
        st, b = d.call("ews/Appointment.List", xwin)
        c.eq([(r.get("Subject"), r.get("Start")) for r in rows(b)],
             [("weekly", "2027-06-07T10:00:00Z"),
              ("weekly (moved)", "2027-06-16T14:00:00Z"),
              ("weekly", "2027-06-28T10:00:00Z")],
             "exception and deletion both respected by List")
        fb["WindowEnd"] = "2027-06-25T00:00:00Z"
        st, b = d.call("ews/Availability.List", fb)
        c.eq([r.get("Start") for r in rows(b)], ["2027-06-16T14:00:00Z"],
             "exception and deletion both respected by Availability")
        stored = [i for i in mock.calendar(ALICE) if i["subject"] == "weekly"]
        c.eq([(i["exdates"], sorted(i["exceptions"])) for i in stored],
             [(["2027-06-21T10:00:00Z"], ["2027-06-14T10:00:00Z"])],
             "exception: stored on the master (mock data contract)")
        # deleting the exception itself: a deleted occurrence
        st, b = d.call("ews/Appointment.Delete", {"Id": moved_id})
        st2, b2 = d.call("ews/Appointment.List", xwin)
        c.eq((st, [r.get("Start") for r in rows(b2)]),
             (200, ["2027-06-07T10:00:00Z", "2027-06-28T10:00:00Z"]),
             "exception: Delete of it leaves the slot empty")
        # a new pattern of the series drops its exceptions (as Exchange)
        st, b = d.call("ews/Appointment.Update", {
            "Id": occ[3].get("Id"), "Subject": "last one"})
        st2, b2 = d.call("ews/Appointment.List", xwin)
        c.eq((st, [r.get("Subject") for r in rows(b2)]),
             (200, ["weekly", "last one"]),
             "exception: a rename only, kept at its time")
        st, b = d.call("ews/Appointment.Update", {
            "Id": master.get("Id"),
            "Recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=5"})
        st2, b2 = d.call("ews/Appointment.List", xwin)
        c.eq((st, [(r.get("Subject"), r.get("Start")) for r in rows(b2)]),
             (200, [("weekly", "2027-06-07T10:00:00Z"),
                    ("weekly", "2027-06-28T10:00:00Z")]),
             "exception: a new Recurrence of the series drops it")


        # Delete with a stale ChangeKey: 409 and nothing deleted; with
        # the current one: deleted
        st, b = d.call("ews/Appointment.Create", {"Subject": "to delete", "Start": "2027-09-01T10:00:00Z", "End": "2027-09-01T11:00:00Z"})
        made = row(b)
        st, b = d.call("ews/Appointment.Update", {"Id": made.get("Id", ""),
                                               "Subject": "changed"})
        cur = row(b)
        st, b = d.call("ews/Appointment.Delete", {"Id": made.get("Id", ""),
                                               "ChangeKey": made.get("ChangeKey", "")})
        c.eq((st, err(b).get("category")), (409, "conflict"),
             "Appointment.Delete with a stale ChangeKey: 409")
        st, b = d.call("ews/Appointment.Load", {"Id": made.get("Id", "")})
        c.eq(st, 200, "Appointment: still there after the refused Delete")
        st, b = d.call("ews/Appointment.Delete", {"Id": cur.get("Id", ""),
                                               "ChangeKey": cur.get("ChangeKey", "")})
        c.eq(st, 200, "Appointment.Delete with the current ChangeKey")

        # List without a window over appointments before 1970 (negative
        # epoch Starts, such as the birthdays of a contacts folder): more
        # of them than a page position remembers, then a later one;
        # every row once, none lost, a bounded number of pages
        made = 0
        for i in range(450):
            t = "1950-01-%02dT%02d:%%s:00Z" % (1 + i // 24, i % 24)
            st, b = d.call("ews/Appointment.Create", {
                "Subject": "old %03d" % i, "Start": t % "00",
                "End": t % "30"})
            made += st == 200
        st, b = d.call("ews/Appointment.Create", {
            "Subject": "new", "Start": "2030-01-01T10:00:00Z",
            "End": "2030-01-01T11:00:00Z"})
        c.eq((made, st), (450, 200), "450 appointments of 1950 and one "
             "of 2030 created")
        seen, token, pages = [], None, 0
        while pages < 12:
            inputs = {"PageSize": 100}
            if token:
                inputs["PageToken"] = token
            st, b = d.call("ews/Appointment.List", inputs)
            if st != 200:
                break
            seen += [r.get("Subject") for r in rows(b)
                     if r.get("Subject", "").startswith(("old", "new"))]
            pages += 1
            token = b.get("next_page_token")
            if not b.get("more") or not token:
                break
        c.eq((st, pages < 12, len(seen), len(set(seen)),
              seen == ["old %03d" % i for i in range(450)] + ["new"]),
             (200, True, 451, 451, True),
             "List without a window over 450 appointments before 1970: "
             "each once, in order, then the later one")

        # an answer whose all-day item falls on the last day of 9999: its
        # date rounds past what a row can hold; that item alone is left
        # out (Load: the server's answer is refused, 502)
        NT = "http://schemas.microsoft.com/exchange/services/2006/types"
        NM = "http://schemas.microsoft.com/exchange/services/2006/messages"

        def cal_item(ident, start, end, all_day):
            return (
                '<m:GetItemResponseMessage ResponseClass="Success">'
                '<m:ResponseCode>NoError</m:ResponseCode><m:Items>'
                '<t:CalendarItem><t:ItemId Id="%s" ChangeKey="DwAAAB"/>'
                '<t:Subject>%s</t:Subject><t:Start>%s</t:Start>'
                '<t:End>%s</t:End><t:IsAllDayEvent>%s</t:IsAllDayEvent>'
                '</t:CalendarItem></m:Items></m:GetItemResponseMessage>'
                % (ident, ident, start, end, all_day))

        def get_answer(*msgs):
            return (
                '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s='
                '"http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                '<m:GetItemResponse xmlns:m="%s" xmlns:t="%s">'
                '<m:ResponseMessages>%s</m:ResponseMessages>'
                '</m:GetItemResponse></s:Body></s:Envelope>'
                % (NM, NT, "".join(msgs)))
        last = cal_item("AAMkLast", "9999-12-31T00:00:00Z",
                        "9999-12-31T23:59:59Z", "true")
        good = cal_item("AAMkGood", "2027-01-04T09:00:00Z",
                        "2027-01-04T10:00:00Z", "false")
        mock.ctl("/_mock/inject", {"operation": "GetItem", "count": 1,
                                   "raw_status": 200,
                                   "raw": get_answer(good, last)})
        st, b = d.call("ews/Appointment.List", {"PageSize": 2})
        c.eq((st, [r.get("Id") for r in rows(b)]), (200, ["AAMkGood"]),
             "List: an all-day item on the last day of 9999 is left out")
        mock.ctl("/_mock/inject", {"operation": "GetItem", "count": 1,
                                   "raw_status": 200,
                                   "raw": get_answer(last)})
        st, b = d.call("ews/Appointment.Load", {"Id": "AAMkLast"})
        c.eq((st, err(b).get("category")), (502, "upstream_error"),
             "Load: an all-day item on the last day of 9999 is 502")
        # a FindItem success without RootFolder is a malformed answer,
        # not an empty folder
        no_root = FINDITEM_NO_ROOT
        mock.ctl("/_mock/inject", {"operation": "FindItem", "count": 1,
                                   "raw_status": 200, "raw": no_root})
        st, b = d.call("ews/Appointment.List", {})
        c.eq((st, b.get("error", {}).get("code")), (502, "invalid_response"),
             "Appointment.List: FindItem without RootFolder is 502 invalid_response")
        mock.ctl("/_mock/inject", {"operation": "FindItem", "count": 1,
                                   "raw_status": 200, "raw": no_root})
        st, b = d.call("ews/Meeting.List", {})
        c.eq((st, b.get("error", {}).get("code")), (502, "invalid_response"),
             "Meeting.List: FindItem without RootFolder is 502 invalid_response")

        s = mock.stats()
        c.eq(s.get("violations"), [], "no schema violation at the mock")
        c.eq(s.get("internal_errors"), [], "no mock defect")
finally:
    mock.stop()
c.done()
