#!/usr/bin/python3
"""The mock EWS server's calendar (tests/mock/ews_calendar.py) answers like
Exchange: exchangelib 4.9.0 (Debian python3-exchangelib), an independent
EWS client, creates a single appointment, an all-day one and a recurring
series in Europe/Berlin, reads them back (times, zone, recurrence
pattern), views a window (CalendarView: one item per occurrence, the
local time kept across the change to summer time), deletes one
occurrence, modifies another (an exception: its new time in the view,
the master's ModifiedOccurrences, an occurrence by its index) and
changes and deletes items, and neither its requests nor
the mock's answers break Microsoft's schema.  Like Exchange, the mock
wants SendMeetingInvitations (CreateItem), SendMeetingInvitationsOr
Cancellations (UpdateItem) and SendMeetingCancellations (DeleteItem) on
calendar items."""
import datetime
import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402

try:
    __import__("lxml")  # the mock needs it
    __import__("dateutil")
    from exchangelib import (Account, Configuration, Credentials, DELEGATE,
                             BASIC, UTC, CalendarItem, EWSDateTime, EWSDate,
                             EWSTimeZone)
    from exchangelib.recurrence import (Recurrence, WeeklyPattern,
                                        RelativeMonthlyPattern)
    from exchangelib.fields import MONDAY, WEDNESDAY, FRIDAY, LAST
except ImportError as e:
    print("# missing python3-lxml / -dateutil / -exchangelib: %s" % e)
    sys.exit(sbtest.SKIP)

import ews_server  # noqa: E402
from ews_server import MockEWS  # noqa: E402

if ews_server.schema_missing():
    print("# %s" % ews_server.schema_missing())
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()
PW = "Secret-Pw-1"
BERLIN = EWSTimeZone("Europe/Berlin")


def account(ews, user):
    cfg = Configuration(service_endpoint=ews.url,
                        credentials=Credentials(user, PW), auth_type=BASIC)
    return Account(user, config=cfg, autodiscover=False,
                   access_type=DELEGATE, default_timezone=UTC)


def utc(dt):
    """A datetime in UTC; an all-day item's date (exchangelib gives one)
    as its midnight."""
    if not isinstance(dt, datetime.datetime):
        return dt.isoformat() + "T00:00:00Z"
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def calendar_round(ews):
    a = account(ews, "alice@example.test")
    # ---- a single appointment ------------------------------------------------
    one = CalendarItem(
        account=a, folder=a.calendar, subject="Planning <Q3> & budget",
        body="Agenda", location="Room 4",
        start=EWSDateTime(2027, 3, 24, 14, 0, tzinfo=BERLIN),
        end=EWSDateTime(2027, 3, 24, 15, 30, tzinfo=BERLIN),
        categories=["Blue"], reminder_minutes_before_start=10)
    one.save(send_meeting_invitations="SendToNone")
    c.ok(one.id and one.changekey, "CreateItem: an ItemId and ChangeKey")
    got = a.calendar.get(id=one.id)
    c.eq((got.subject, got.location, str(got.body), got.categories),
         ("Planning <Q3> & budget", "Room 4", "Agenda", ["Blue"]),
         "GetItem: subject, location, body, categories")
    c.eq((utc(got.start), utc(got.end)),
         ("2027-03-24T13:00:00Z", "2027-03-24T14:30:00Z"),
         "GetItem: start and end (UTC)")
    c.eq(got._start_timezone.ms_id if got._start_timezone else None,
         "W. Europe Standard Time", "GetItem: StartTimeZone kept")
    c.eq(got.type, "Single", "GetItem: CalendarItemType Single")
    stored = [i for i in ews.items("alice@example.test", "calendar")
              if i["subject"] == "Planning <Q3> & budget"]
    c.eq([(i["start"], i["start_tz"], i["legacy_free_busy"], i["rrule"])
          for i in stored],
         [("2027-03-24T13:00:00Z", "W. Europe Standard Time", "Busy",
           None)],
         "stored in the calendar folder as the data contract says")

    # ---- all-day ---------------------------------------------------------
    ad = CalendarItem(account=a, folder=a.calendar, subject="Holiday",
                      start=EWSDate(2027, 3, 26), end=EWSDate(2027, 3, 27),
                      is_all_day=True)
    ad.save(send_meeting_invitations="SendToNone")
    got = a.calendar.get(id=ad.id)
    c.eq((got.is_all_day, str(got.start)[:10]), (True, "2027-03-26"),
         "all-day: read back as that day")

    # ---- a recurring series ----------------------------------------------
    series = CalendarItem(
        account=a, folder=a.calendar, subject="Standup",
        start=EWSDateTime(2027, 3, 22, 9, 0, tzinfo=BERLIN),
        end=EWSDateTime(2027, 3, 22, 9, 15, tzinfo=BERLIN),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[MONDAY, WEDNESDAY],
                                  first_day_of_week=MONDAY),
            start=EWSDate(2027, 3, 22), number=6))
    series.save(send_meeting_invitations="SendToNone")
    got = a.calendar.get(id=series.id)
    p = got.recurrence.pattern if got.recurrence else None
    c.eq((type(p).__name__, p and p.interval, p and sorted(p.weekdays),
          got.recurrence and got.recurrence.boundary.number),
         ("WeeklyPattern", 1, [1, 3], 6),
         "GetItem: the weekly pattern and its numbered range")
    c.eq(got.type, "RecurringMaster", "GetItem: RecurringMaster")
    c.eq([i["rrule"] for i in ews.items("alice@example.test", "calendar")
          if i["subject"] == "Standup"],
         ["FREQ=WEEKLY;BYDAY=MO,WE;WKST=MO;COUNT=6"],
         "the series' rrule (data contract)")
    monthly = CalendarItem(
        account=a, folder=a.calendar, subject="Review",
        start=EWSDateTime(2027, 1, 29, 16, 0, tzinfo=BERLIN),
        end=EWSDateTime(2027, 1, 29, 17, 0, tzinfo=BERLIN),
        recurrence=Recurrence(
            pattern=RelativeMonthlyPattern(interval=1, weekday=FRIDAY,
                                           week_number=LAST),
            start=EWSDate(2027, 1, 29), end=EWSDate(2027, 6, 30)))
    monthly.save(send_meeting_invitations="SendToNone")
    got = a.calendar.get(id=monthly.id)
    p = got.recurrence.pattern if got.recurrence else None
    # exchangelib reads weekday and week number as numbers (ISO weekday
    # 5 is Friday; week number 5 is Last)
    c.eq((type(p).__name__, p and p.weekday, p and p.week_number,
          str(got.recurrence.boundary.end)[:10] if got.recurrence else None),
         ("RelativeMonthlyPattern", 5, 5, "2027-06-30"),
         "GetItem: the relative monthly pattern and its end date")

    # ---- CalendarView ----------------------------------------------------
    start = EWSDateTime(2027, 3, 22, 0, 0, tzinfo=UTC)
    end = EWSDateTime(2027, 4, 8, 0, 0, tzinfo=UTC)
    occ = list(a.calendar.view(start=start, end=end).order_by("start"))
    got = [(o.subject, utc(o.start), o.type) for o in occ]
    c.eq(got, [("Standup", "2027-03-22T08:00:00Z", "Occurrence"),
               ("Standup", "2027-03-24T08:00:00Z", "Occurrence"),
               ("Planning <Q3> & budget", "2027-03-24T13:00:00Z", "Single"),
               ("Holiday", "2027-03-26T00:00:00Z", "Single"),
               ("Review", "2027-03-26T15:00:00Z", "Occurrence"),
               ("Standup", "2027-03-29T07:00:00Z", "Occurrence"),
               ("Standup", "2027-03-31T07:00:00Z", "Occurrence"),
               ("Standup", "2027-04-05T07:00:00Z", "Occurrence"),
               ("Standup", "2027-04-07T07:00:00Z", "Occurrence")],
         "CalendarView: occurrences at 09:00 Berlin across the change to "
         "summer time, last Friday of the month, singles")
    ids = [o.id for o in occ]
    c.eq(len(set(ids)), len(ids), "CalendarView: every occurrence has an id")
    # one occurrence deleted: the view leaves it out
    standups = [o for o in occ if o.subject == "Standup"]
    a.bulk_delete([(standups[2].id, standups[2].changekey)],
                  send_meeting_cancellations="SendToNone")
    again = [utc(o.start) for o in a.calendar.view(start=start, end=end)
             if o.subject == "Standup"]
    c.ok(utc(standups[2].start) not in again and len(again) == 5,
         "a deleted occurrence is not in the view", again)
    c.eq([i["exdates"] for i in ews.items("alice@example.test", "calendar")
          if i["subject"] == "Standup"], [["2027-03-29T07:00:00Z"]],
         "the deleted occurrence is an exdate (data contract)")
    # the view's window limits, as Exchange answers them
    try:
        list(a.calendar.view(start=start,
                             end=start + datetime.timedelta(days=800)))
        c.ok(False, "a view over two years is refused")
    except Exception as e:
        c.ok("RangeTooBig" in type(e).__name__ or "RangeTooBig" in str(e),
             "a view over two years is refused", repr(e))

    # ---- UpdateItem, DeleteItem ------------------------------------------
    one.subject = "Planning (moved)"
    one.start = EWSDateTime(2027, 3, 25, 14, 0, tzinfo=BERLIN)
    one.end = EWSDateTime(2027, 3, 25, 15, 0, tzinfo=BERLIN)
    one.save(update_fields=["subject", "start", "end"],
             send_meeting_invitations="SendToNone")
    got = a.calendar.get(id=one.id)
    c.eq((got.subject, utc(got.start)),
         ("Planning (moved)", "2027-03-25T13:00:00Z"),
         "UpdateItem: subject and start changed")
    one.delete(send_meeting_cancellations="SendToNone")
    c.eq([i["subject"] for i in ews.items("alice@example.test", "calendar")
          if i["subject"].startswith("Planning")], [],
         "DeleteItem: gone from the calendar")


def exceptions_round(ews):
    """A modified occurrence (an Exception): UpdateItem on an
    occurrence's id changes that occurrence only."""
    a = account(ews, "alice@example.test")
    series = CalendarItem(
        account=a, folder=a.calendar, subject="Sync",
        start=EWSDateTime(2027, 5, 3, 10, 0, tzinfo=BERLIN),
        end=EWSDateTime(2027, 5, 3, 10, 30, tzinfo=BERLIN),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[MONDAY],
                                  first_day_of_week=MONDAY),
            start=EWSDate(2027, 5, 3), number=4))
    series.save(send_meeting_invitations="SendToNone")
    start = EWSDateTime(2027, 5, 1, 0, 0, tzinfo=UTC)
    end = EWSDateTime(2027, 6, 1, 0, 0, tzinfo=UTC)
    occ = [o for o in a.calendar.view(start=start, end=end).order_by("start")
           if o.subject == "Sync"]
    c.eq(len(occ), 4, "the series: four Mondays")
    second = occ[1]
    second.subject = "Sync (moved)"
    second.location = "Room 9"
    second.start = EWSDateTime(2027, 5, 12, 15, 0, tzinfo=BERLIN)
    second.end = EWSDateTime(2027, 5, 12, 16, 0, tzinfo=BERLIN)
    second.save(update_fields=["subject", "location", "start", "end"],
                send_meeting_invitations="SendToNone")
    got = [(o.subject, utc(o.start), utc(o.end), o.type)
           for o in a.calendar.view(start=start, end=end).order_by("start")
           if o.subject.startswith("Sync")]
    c.eq(got, [("Sync", "2027-05-03T08:00:00Z", "2027-05-03T08:30:00Z",
                "Occurrence"),
               ("Sync (moved)", "2027-05-12T13:00:00Z",
                "2027-05-12T14:00:00Z", "Exception"),
               ("Sync", "2027-05-17T08:00:00Z", "2027-05-17T08:30:00Z",
                "Occurrence"),
               ("Sync", "2027-05-24T08:00:00Z", "2027-05-24T08:30:00Z",
                "Occurrence")],
         "CalendarView: the exception at its new time, not at 10 May")
    exc = a.calendar.get(id=second.id)
    c.eq((exc.type, exc.subject, exc.location, utc(exc.start),
          utc(exc.original_start)),
         ("Exception", "Sync (moved)", "Room 9", "2027-05-12T13:00:00Z",
          "2027-05-10T08:00:00Z"),
         "GetItem of the occurrence's id: the exception")
    master = a.calendar.get(id=series.id)
    mods = master.modified_occurrences or []
    c.eq([(m.id, utc(m.start), utc(m.original_start)) for m in mods],
         [(second.id, "2027-05-12T13:00:00Z", "2027-05-10T08:00:00Z")],
         "GetItem of the master: ModifiedOccurrences")
    c.eq((master.type, master.subject, bool(master.recurrence)),
         ("RecurringMaster", "Sync", True),
         "the master keeps its subject and pattern")
    # an occurrence by its index (OccurrenceItemId)
    byidx = master.occurrence(2)
    byidx.refresh()
    c.eq((byidx.type, byidx.subject, utc(byidx.start)),
         ("Exception", "Sync (moved)", "2027-05-12T13:00:00Z"),
         "GetItem of OccurrenceItemId index 2: the exception")
    last = master.occurrence(4)
    last.refresh()
    last.subject = "Sync (last)"
    last.save(update_fields=["subject"],
              send_meeting_invitations="SendToNone")
    got = [(o.subject, utc(o.start), o.type)
           for o in a.calendar.view(start=start, end=end).order_by("start")
           if o.subject.startswith("Sync")][-1]
    c.eq(got, ("Sync (last)", "2027-05-24T08:00:00Z", "Exception"),
         "occurrence(4) renamed: an exception at its own time")
    try:
        master.occurrence(9).refresh()
        c.ok(False, "an index beyond the series is refused")
    except Exception as e:
        c.ok("OutOfRecurrenceRange" in type(e).__name__ + str(e),
             "an index beyond the series is refused", repr(e))
    master = a.calendar.get(id=series.id)
    # deleting the exception: a deleted occurrence
    a.bulk_delete([(second.id, None)],
                  send_meeting_cancellations="SendToNone")
    master = a.calendar.get(id=series.id)
    c.eq(([utc(d.start) for d in master.deleted_occurrences or []],
          [utc(m.original_start)
           for m in master.modified_occurrences or []]),
         (["2027-05-10T08:00:00Z"], ["2027-05-24T08:00:00Z"]),
         "DeleteItem of the exception: DeletedOccurrences")
    c.eq(len([o for o in a.calendar.view(start=start, end=end)
              if o.subject.startswith("Sync")]), 3,
         "the view: three left")


def raw(ews, body):
    """One request of our own (Basic, as alice): the answer's text."""
    import base64
    import urllib.request
    env = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s='
           '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://'
           'schemas.microsoft.com/exchange/services/2006/messages" xmlns:t='
           '"http://schemas.microsoft.com/exchange/services/2006/types">'
           '<s:Header><t:RequestServerVersion Version="Exchange2013_SP1"/>'
           '</s:Header><s:Body>%s</s:Body></s:Envelope>' % body)
    req = urllib.request.Request(ews.url, data=env.encode(), headers={
        "Content-Type": "text/xml; charset=utf-8",
        "Authorization": "Basic " + base64.b64encode(
            ("alice@example.test:" + PW).encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        return e.read().decode()


def required_attributes(ews):
    """Exchange wants the meeting attributes on calendar items, even
    without attendees."""
    item = ('<t:CalendarItem><t:Subject>x</t:Subject><t:Start>'
            '2027-01-01T10:00:00Z</t:Start><t:End>2027-01-01T11:00:00Z'
            '</t:End></t:CalendarItem>')
    ans = raw(ews, '<m:CreateItem><m:Items>%s</m:Items></m:CreateItem>'
              % item)
    c.ok("ErrorSendMeetingInvitationsRequired" in ans,
         "CreateItem of a calendar item without SendMeetingInvitations")
    ans = raw(ews, '<m:CreateItem SendMeetingInvitations="SendToNone">'
              '<m:Items>%s</m:Items></m:CreateItem>' % item)
    ident = ans.split('ItemId Id="', 1)[-1].split('"', 1)[0]
    c.ok("NoError" in ans and ident, "... and with it")
    ans = raw(ews, '<m:UpdateItem ConflictResolution="AlwaysOverwrite">'
              '<m:ItemChanges><t:ItemChange><t:ItemId Id="%s"/><t:Updates>'
              '<t:SetItemField><t:FieldURI FieldURI="item:Subject"/>'
              '<t:CalendarItem><t:Subject>y</t:Subject></t:CalendarItem>'
              '</t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges>'
              '</m:UpdateItem>' % ident)
    c.ok("ErrorSendMeetingInvitationsOrCancellationsRequired" in ans,
         "UpdateItem of a calendar item without "
         "SendMeetingInvitationsOrCancellations")
    ans = raw(ews, '<m:DeleteItem DeleteType="HardDelete"><m:ItemIds>'
              '<t:ItemId Id="%s"/></m:ItemIds></m:DeleteItem>' % ident)
    c.ok("ErrorSendMeetingCancellationsRequired" in ans,
         "DeleteItem of a calendar item without SendMeetingCancellations")


def main():
    with MockEWS(["--auth", "basic", "--validate-responses"]) as ews:
        try:
            calendar_round(ews)
            exceptions_round(ews)
            required_attributes(ews)
        except Exception as e:
            import traceback
            traceback.print_exc()
            c.ok(False, "calendar round completed", repr(e))
        s = ews.stats()
        c.eq(s["violations"], [], "no request broke the schema")
        c.eq(s["response_violations"], [],
             "no answer of the mock broke the schema")
        c.eq(s["internal_errors"], [], "no defect of the mock met")
    c.done()


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    main()
