"""mapi-stub's Appointment.Update and Task.Update through the daemon's API:

- only the given properties change, the answer is the row Load gives, with
  a new ChangeKey; an empty value (or the name in Clear) removes one;
- a stale ChangeKey answers 409 conflict and leaves the file byte for byte;
  without a ChangeKey the update applies;
- of two Updates sent together with the same ChangeKey exactly one wins,
  the other gets 409 (several rounds, appointments and tasks);
- bad input answers 400 naming the field, and the file is left as it was;
- the file keeps its zone: python3-icalendar reads it with its VTIMEZONE
  and TZID, also a custom VTIMEZONE another tool wrote;
- a series whose Start or Recurrence changes lists, over a window, exactly
  the occurrences python-dateutil gives for the new pattern; its exceptions
  (EXDATE, a moved occurrence) are kept by other changes, dropped by those;
- Task: Status and PercentComplete stay coherent (Completed <=> 100)."""
import datetime as dt
import os
import shutil
import sys
import threading
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
UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
top = sbtest.tempdir("mapi-upd-")
store = os.path.join(top, "store")
conf = ("[module mapi-stub]\nenabled = yes\n\n[instance local]\nbroker = mapi-stub\n"
        "store_dir = %s\nmailboxes = %s\nquota = 100MiB\n" % (store, ALICE))
cal_dir = os.path.join(store, ALICE, "Calendar")
task_dir = os.path.join(store, ALICE, "Tasks")


def row(body):
    r = body.get("rows", []) if isinstance(body, dict) else []
    return r[0] if r else {}


def error(body):
    e = body.get("error", {}) if isinstance(body, dict) else {}
    return e.get("category"), e.get("code"), e.get("message", "")


def iso(d):
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def event(aid):
    cal = icalendar.Calendar.from_ical(read(os.path.join(cal_dir, aid + ".ics")))
    evs = [c for c in cal.walk("VEVENT") if "RECURRENCE-ID" not in c]
    return cal, evs[0]


def list_window(d, ws, we, aid):
    out, token = [], None
    for _ in range(50):
        a = {"WindowStart": ws, "WindowEnd": we}
        if token:
            a["PageToken"] = token
        st, b = d.call("local/Appointment.List", a)
        if st != 200:
            return None
        out += [r for r in b.get("rows", []) if r.get("Id") == aid]
        token = b.get("next_page_token")
        if not b.get("more") or not token:
            break
    return out


def expected(rule, start, dur, ws, we):
    out = []
    for occ in du_rrule.rrulestr(rule, dtstart=start):
        if occ >= we or len(out) > 500:
            break
        if occ + dur > ws:
            out.append((iso(occ), iso(occ + dur)))
    return out


def tmp_empty(folder):
    tmp = os.path.join(folder, "tmp")
    return not os.path.isdir(tmp) or os.listdir(tmp) == []


def race(d, method, aid, ck, field, rounds=8):
    """Two Updates at once with the same ChangeKey, `rounds` times: the
    statuses of each pair, and whether the item holds the winner's value."""
    outcomes = []
    for i in range(rounds):
        barrier = threading.Barrier(2, timeout=30)
        res = [None, None]

        def go(k):
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
            res[k] = d.call(method, {"Id": aid, "ChangeKey": ck,
                                     field: "round %d by %d" % (i, k)})

        th = [threading.Thread(target=go, args=(k,)) for k in range(2)]
        for x in th:
            x.start()
        for x in th:
            x.join(120)
        sts = sorted(r[0] if r else None for r in res)
        won = [k for k in range(2) if res[k] and res[k][0] == 200]
        loser = [k for k in range(2) if res[k] and res[k][0] == 409]
        load = "local/%s.Load" % method.split("/")[1].split(".")[0]
        st, b = d.call(load, {"Id": aid})
        holds = (len(won) == 1 and row(b).get(field) == "round %d by %d" % (i, won[0])
                 and row(b).get("ChangeKey") == row(res[won[0]][1]).get("ChangeKey"))
        codes = [error(res[k][1])[:2] for k in loser]
        outcomes.append((sts, holds, codes))
        ck = row(b).get("ChangeKey")
    return outcomes


with sbtest.Daemon(conf) as d:
    # ---- fields, ChangeKey, the row ------------------------------------
    start = dt.datetime(2026, 12, 1, 9, 30, tzinfo=BERLIN)
    st, b = d.call("local/Appointment.Create", {
        "Subject": "Planning", "Start": start.isoformat(),
        "End": (start + dt.timedelta(hours=1)).isoformat(),
        "TimeZone": "Europe/Berlin", "Body": "agenda", "Location": "Room 1",
        "Categories": ["Work", "Blue"], "Reminder": 15})
    t.eq(st, 200, "Create")
    a0 = row(b)
    aid, ck0 = a0.get("Id", ""), a0.get("ChangeKey", "")
    path = os.path.join(cal_dir, aid + ".ics")

    st, b = d.call("local/Appointment.Update",
                   {"Id": aid, "ChangeKey": ck0, "Subject": "Planning (moved room)",
                    "Location": "Room 2"})
    t.eq(st, 200, "Update with the current ChangeKey")
    a1 = row(b)
    t.ok(a1.get("ChangeKey") and a1.get("ChangeKey") != ck0, "a new ChangeKey", repr(a1))
    want = dict(a0, Subject="Planning (moved room)", Location="Room 2",
                ChangeKey=a1.get("ChangeKey"))
    t.eq(a1, want, "only Subject and Location changed; the rest kept")
    st, b = d.call("local/Appointment.Load", {"Id": aid})
    t.eq(row(b), a1, "Update answers the row Load gives")
    cal, ev = event(aid)
    got = ev.decoded("DTSTART")
    t.eq((str(ev.get("DTSTART").params.get("TZID")), got.replace(tzinfo=None),
          got.utcoffset(), [str(z.get("TZID")) for z in cal.walk("VTIMEZONE")],
          str(ev.get("SUMMARY"))),
         ("Europe/Berlin", dt.datetime(2026, 12, 1, 9, 30), dt.timedelta(hours=1),
          ["Europe/Berlin"], "Planning (moved room)"),
         "icalendar reads the updated file in its zone, with its VTIMEZONE")
    t.ok(int(ev.get("SEQUENCE", 0)) >= 1 and "LAST-MODIFIED" in ev,
         "SEQUENCE and LAST-MODIFIED written", repr(ev))

    # A stale ChangeKey: 409 and not a byte changed.
    before = read(path)
    st, b = d.call("local/Appointment.Update",
                   {"Id": aid, "ChangeKey": ck0, "Subject": "lost update"})
    t.eq((st, error(b)[:2]), (409, ("conflict", "ErrorIrresolvableConflict")),
         "a stale ChangeKey answers 409 conflict")
    t.eq(read(path), before, "the file is left as it was")
    # Without a ChangeKey the update applies.
    st, b = d.call("local/Appointment.Update", {"Id": aid, "Body": "new agenda"})
    t.eq((st, row(b).get("Body"), row(b).get("Subject")),
         (200, "new agenda", "Planning (moved room)"), "without a ChangeKey it applies")
    ck = row(b).get("ChangeKey")

    # Move it: Start and End in the item's zone, which is kept.
    s2 = dt.datetime(2026, 12, 3, 14, 0, tzinfo=BERLIN)
    st, b = d.call("local/Appointment.Update", {
        "Id": aid, "ChangeKey": ck, "Start": s2.isoformat(),
        "End": iso(s2 + dt.timedelta(minutes=45))})
    t.eq((st, row(b).get("Start"), row(b).get("End"), row(b).get("TimeZone")),
         (200, iso(s2), iso(s2 + dt.timedelta(minutes=45)), "Europe/Berlin"),
         "Start and End moved, TimeZone kept")
    cal, ev = event(aid)
    t.eq((ev.decoded("DTSTART").replace(tzinfo=None), str(ev.get("DTEND").params.get("TZID")),
          [str(z.get("TZID")) for z in cal.walk("VTIMEZONE")]),
         (dt.datetime(2026, 12, 3, 14, 0), "Europe/Berlin", ["Europe/Berlin"]),
         "icalendar reads the moved times at their local time in the zone")
    # Another zone: the same instants, written in it.
    st, b = d.call("local/Appointment.Update", {"Id": aid, "TimeZone": "America/New_York"})
    t.eq((st, row(b).get("Start"), row(b).get("TimeZone")),
         (200, iso(s2), "America/New_York"), "TimeZone changed, the instant kept")
    cal, ev = event(aid)
    t.eq((ev.decoded("DTSTART").replace(tzinfo=None),
          [str(z.get("TZID")) for z in cal.walk("VTIMEZONE")]),
         (dt.datetime(2026, 12, 3, 8, 0), ["America/New_York"]),
         "the file holds the new zone's local time and only its VTIMEZONE")

    # Clearing: "" for text, [] for a list, Clear for the rest.
    st, b = d.call("local/Appointment.Update", {
        "Id": aid, "Body": "", "Categories": [], "Clear": ["Reminder", "Location"]})
    r = row(b)
    t.eq((st, "Body" in r, r.get("Categories"), "Reminder" in r, "Location" in r),
         (200, False, [], False, False), "Body, Categories, Reminder, Location removed")
    ev = event(aid)[1]
    t.ok(not any(k in ev for k in ("DESCRIPTION", "CATEGORIES", "LOCATION")) and
         not list(ev.walk("VALARM")), "and gone from the file", repr(ev))
    st, b = d.call("local/Appointment.Update", {"Id": aid, "Reminder": 30,
                                                "Categories": ["Red"]})
    t.eq((st, row(b).get("Reminder"), row(b).get("Categories")), (200, 30, ["Red"]),
         "Reminder and Categories set again")
    st, b = d.call("local/Appointment.Update", {"Id": aid, "Clear": ["TimeZone"]})
    t.eq((st, "TimeZone" in row(b), row(b).get("Start")), (200, False, iso(s2)),
         "TimeZone cleared: UTC times, same instant")
    t.ok(b"VTIMEZONE" not in read(path) and b"TZID" not in read(path),
         "no zone left in the file")
    st, b = d.call("local/Appointment.Update", {"Id": aid,
                                                "TimeZone": "W. Europe Standard Time"})
    t.eq((st, row(b).get("TimeZone"), row(b).get("Start")),
         (200, "W. Europe Standard Time", iso(s2)), "a Windows zone name kept")
    t.ok(b"X-SVCBROKER-TIMEZONE:W. Europe Standard Time\r\n" in read(path) and
         b"VTIMEZONE" not in read(path), "as Create keeps one: UTC times and the name")
    d.call("local/Appointment.Update", {"Id": aid, "TimeZone": "Europe/Berlin"})
    t.ok(b"X-SVCBROKER-TIMEZONE" not in read(path) and
         b"DTSTART;TZID=Europe/Berlin:20261203T140000" in read(path),
         "an IANA zone again: local times with TZID")

    # ---- bad input: 400 naming the field, nothing written ---------------
    before = read(path)
    bad = [({"Location": "x", "Clear": ["Location"]}, "Location"),
           ({"Recurrence": "FREQ=HOURLY"}, "Recurrence"),
           ({"Recurrence": "FREQ=WEEKLY;COUNT=2;UNTIL=20270101"}, "Recurrence"),
           ({"Reminder": -5}, "Reminder"),
           ({"Reminder": 50000}, "Reminder"),
           ({"Start": iso(s2 + dt.timedelta(hours=2)),
             "End": iso(s2 + dt.timedelta(hours=1))}, "before Start"),
           ({"End": iso(s2 - dt.timedelta(hours=1))}, "before Start"),
           ({"IsAllDay": True}, "IsAllDay"),
           ({"Start": "tomorrow"}, "Start"),
           ({"Start": "0999-01-01T00:00:00Z", "End": "0999-01-01T01:00:00Z"}, "Start/End"),
           ({"Clear": ["Subject"]}, "Clear")]
    for inputs, name in bad:
        st, b = d.call("local/Appointment.Update", dict(inputs, Id=aid))
        t.ok(st == 400 and name in error(b)[2], "400 naming %s for %r" % (name, inputs),
             "(%r %r)" % (st, b))
    t.eq(read(path), before, "no bad input changed the file")
    # Start alone moves the item and keeps its duration, as exchange-ews
    st, b = d.call("local/Appointment.Load", {"Id": aid})
    was = row(b)
    dur = dt.datetime.fromisoformat(was["End"].replace("Z", "+00:00")) - \
        dt.datetime.fromisoformat(was["Start"].replace("Z", "+00:00"))
    later = s2 + dt.timedelta(hours=3)
    st, b = d.call("local/Appointment.Update", {"Id": aid, "Start": iso(later)})
    t.eq((st, row(b).get("Start"), row(b).get("End")),
         (200, iso(later), iso(later + dur)),
         "Start alone: moved, the duration kept")
    st, b = d.call("local/Appointment.Update", {"Id": aid, "Start": was["Start"]})
    t.eq((st, row(b).get("Start"), row(b).get("End")),
         (200, was["Start"], was["End"]), "and back")
    before = read(path)
    st, b = d.call("local/Appointment.Update", {"Subject": "no id"})
    t.ok(st == 400 and "Id" in error(b)[2], "400 without an Id", repr(b))
    st, b = d.call("local/Appointment.Update", {"Id": "../x", "Subject": "y"})
    t.ok(st == 400 and "Id" in error(b)[2], "400 for a malformed Id", repr(b))
    st, b = d.call("local/Appointment.Update", {"Id": "no-such-item", "Subject": "y"})
    t.eq((st, error(b)[1]), (404, "ErrorItemNotFound"), "404 for an unknown Id")
    t.ok(tmp_empty(cal_dir), "no temporary file left behind")

    # All day and back (a change of IsAllDay comes with Start and End).
    st, b = d.call("local/Appointment.Update", {
        "Id": aid, "IsAllDay": True, "Start": "2026-12-10T00:00:00+01:00",
        "End": "2026-12-10T00:00:00+01:00"})
    t.eq((st, row(b).get("IsAllDay"), row(b).get("Start"), row(b).get("End"),
          row(b).get("TimeZone")),
         (200, True, "2026-12-10T00:00:00Z", "2026-12-11T00:00:00Z", "Europe/Berlin"),
         "made all-day: one whole day, the zone name kept")
    ev = event(aid)[1]
    t.eq((ev.decoded("DTSTART"), ev.decoded("DTEND")),
         (dt.date(2026, 12, 10), dt.date(2026, 12, 11)), "icalendar reads DATE values")
    st, b = d.call("local/Appointment.Update", {
        "Id": aid, "IsAllDay": False, "Start": "2026-12-10T09:00:00+01:00",
        "End": "2026-12-10T10:00:00+01:00"})
    t.eq((st, row(b).get("IsAllDay"), row(b).get("Start")),
         (200, False, "2026-12-10T08:00:00Z"), "and back to set hours")
    cal, ev = event(aid)
    t.eq((str(ev.get("DTSTART").params.get("TZID")),
          [str(z.get("TZID")) for z in cal.walk("VTIMEZONE")]),
         ("Europe/Berlin", ["Europe/Berlin"]), "in its zone again")

    # ---- a series: Start and Recurrence changed, List follows ------------
    s0 = dt.datetime(2027, 3, 1, 9, 0, tzinfo=BERLIN)  # a Monday, before DST
    rule = "FREQ=WEEKLY;BYDAY=MO;COUNT=8"
    st, b = d.call("local/Appointment.Create", {
        "Subject": "Weekly", "Start": s0.isoformat(),
        "End": (s0 + dt.timedelta(hours=1)).isoformat(),
        "TimeZone": "Europe/Berlin", "Recurrence": rule})
    sid = row(b).get("Id", "")
    ws, we = dt.datetime(2027, 2, 1, tzinfo=UTC), dt.datetime(2027, 7, 1, tzinfo=UTC)

    def occ(sid):
        got = list_window(d, iso(ws), iso(we), sid) or []
        return [(r.get("Start"), r.get("End")) for r in got]

    t.eq(occ(sid), expected(rule, s0, dt.timedelta(hours=1), ws, we),
         "the series as created")
    s1 = dt.datetime(2027, 3, 2, 10, 30, tzinfo=BERLIN)  # Tuesdays 10:30
    rule1 = "FREQ=WEEKLY;BYDAY=TU;COUNT=8"
    st, b = d.call("local/Appointment.Update", {
        "Id": sid, "Start": s1.isoformat(),
        "End": (s1 + dt.timedelta(minutes=30)).isoformat(), "Recurrence": rule1})
    t.eq((st, row(b).get("Recurrence")), (200, rule1), "series moved to Tuesdays")
    got = occ(sid)
    t.eq(got, expected(rule1, s1, dt.timedelta(minutes=30), ws, we),
         "List over a window gives the moved series, 10:30 local across DST")
    t.eq({dt.datetime.fromisoformat(x.replace("Z", "+00:00")).astimezone(BERLIN).strftime("%H:%M")
          for x, _ in got}, {"10:30"}, "every occurrence at 10:30 in Berlin")
    # Start alone, the rule kept.
    s2 = dt.datetime(2027, 3, 9, 8, 0, tzinfo=BERLIN)
    st, b = d.call("local/Appointment.Update", {
        "Id": sid, "Start": s2.isoformat(), "End": (s2 + dt.timedelta(hours=1)).isoformat()})
    t.eq(occ(sid), expected(rule1, s2, dt.timedelta(hours=1), ws, we),
         "Start moved alone: the occurrences follow it")
    rule2 = "FREQ=DAILY;INTERVAL=2;UNTIL=20270320"
    st, b = d.call("local/Appointment.Update", {"Id": sid, "Recurrence": rule2})
    t.eq((st, row(b).get("Recurrence")), (200, "FREQ=DAILY;INTERVAL=2;UNTIL=20270320T225959Z"),
         "a date UNTIL is stored as the end of that day in the zone")
    t.eq(occ(sid), expected("FREQ=DAILY;INTERVAL=2;UNTIL=20270320T225959Z", s2,
                            dt.timedelta(hours=1), ws, we),
         "the new rule's occurrences")
    ev = event(sid)[1]
    t.eq(str(ev.get("DTSTART").params.get("TZID")), "Europe/Berlin", "series keeps its TZID")
    st, b = d.call("local/Appointment.Update", {"Id": sid, "Recurrence": ""})
    t.eq((st, "Recurrence" in row(b), occ(sid)),
         (200, False, [(iso(s2), iso(s2 + dt.timedelta(hours=1)))]),
         "Recurrence cleared: one appointment")

    # ---- a file another tool wrote: custom VTIMEZONE, EXDATE, override ---
    ics = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//other tool//EN",
        "BEGIN:VTIMEZONE", "TZID:Eastern Standard Time",
        "BEGIN:STANDARD", "DTSTART:16011104T020000",
        "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11",
        "TZOFFSETFROM:-0400", "TZOFFSETTO:-0500", "END:STANDARD",
        "BEGIN:DAYLIGHT", "DTSTART:16010311T020000",
        "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3",
        "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "END:DAYLIGHT",
        "END:VTIMEZONE",
        "BEGIN:VEVENT", "UID:series-2", "DTSTAMP:20261101T000000Z",
        "SUMMARY:Sync", "X-OTHER-TOOL:kept",
        "DTSTART;TZID=Eastern Standard Time:20261029T100000",
        "DTEND;TZID=Eastern Standard Time:20261029T103000",
        "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=6",
        "EXDATE;TZID=Eastern Standard Time:20261112T100000",
        "END:VEVENT",
        "BEGIN:VEVENT", "UID:series-2", "DTSTAMP:20261101T000000Z",
        "RECURRENCE-ID;TZID=Eastern Standard Time:20261119T100000",
        "SUMMARY:Sync (moved)",
        "DTSTART;TZID=Eastern Standard Time:20261120T140000",
        "DTEND;TZID=Eastern Standard Time:20261120T150000",
        "END:VEVENT", "END:VCALENDAR", ""])
    with open(os.path.join(cal_dir, "series-2.ics"), "w", encoding="utf-8") as f:
        f.write(ics)
    ws, we = "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"

    def subjects(sid):
        got = list_window(d, ws, we, sid) or []
        return [(r.get("Start"), r.get("Subject")) for r in got]

    st, b = d.call("local/Appointment.Update", {"Id": "series-2", "Subject": "Team sync"})
    t.eq(st, 200, "Update of a file another tool wrote")
    t.eq(subjects("series-2"),
         [("2026-10-29T14:00:00Z", "Team sync"), ("2026-11-05T15:00:00Z", "Team sync"),
          ("2026-11-20T19:00:00Z", "Sync (moved)"), ("2026-11-26T15:00:00Z", "Team sync"),
          ("2026-12-03T15:00:00Z", "Team sync")],
         "a new Subject keeps the EXDATE and the moved occurrence")
    data = read(os.path.join(cal_dir, "series-2.ics"))
    cal = icalendar.Calendar.from_ical(data)
    t.ok(b"X-OTHER-TOOL:kept" in data and
         [str(z.get("TZID")) for z in cal.walk("VTIMEZONE")] == ["Eastern Standard Time"] and
         b"STANDARD" in data, "its other properties and its own VTIMEZONE kept",
         data.decode(errors="replace"))
    # Its Start moves (10:00 -> 11:00 local): the exceptions go, the custom
    # zone stays.
    st, b = d.call("local/Appointment.Update", {
        "Id": "series-2", "Start": "2026-10-29T15:00:00Z", "End": "2026-10-29T15:30:00Z"})
    t.eq((st, row(b).get("TimeZone")), (200, "Eastern Standard Time"),
         "the series moved, its zone kept")
    t.eq(subjects("series-2"),
         [(x, "Team sync") for x in ["2026-10-29T15:00:00Z", "2026-11-05T16:00:00Z",
                                     "2026-11-12T16:00:00Z", "2026-11-19T16:00:00Z",
                                     "2026-11-26T16:00:00Z", "2026-12-03T16:00:00Z"]],
         "all six occurrences at 11:00 local, the exceptions dropped")
    data = read(os.path.join(cal_dir, "series-2.ics"))
    cal = icalendar.Calendar.from_ical(data)
    ev = [c for c in cal.walk("VEVENT")]
    t.ok(len(ev) == 1 and b"EXDATE" not in data and
         "DTSTART;TZID=Eastern Standard Time:20261029T110000" in data.decode() and
         [str(z.get("TZID")) for z in cal.walk("VTIMEZONE")] == ["Eastern Standard Time"],
         "the file: one VEVENT at 11:00 in its own zone", data.decode(errors="replace"))

    # ---- concurrent updates with the same ChangeKey ----------------------
    st, b = d.call("local/Appointment.Load", {"Id": aid})
    out = race(d, "local/Appointment.Update", aid, row(b).get("ChangeKey"), "Subject")
    t.eq(out, [([200, 409], True, [("conflict", "ErrorIrresolvableConflict")])] * len(out),
         "Appointment: of two Updates with one ChangeKey exactly one wins, each time")

    # ---- Task ---------------------------------------------------------------
    # Create keeps Status and PercentComplete together as Update does.
    st, b = d.call("local/Task.Create", {"Subject": "x", "Status": "NotStarted",
                                         "PercentComplete": 100})
    t.ok(st == 400 and "disagree" in error(b)[2],
         "Task.Create: NotStarted with 100 percent is refused", b)
    st, b = d.call("local/Task.Create", {"Subject": "x", "PercentComplete": 100})
    t.eq((st, row(b).get("Status")), (200, "Completed"),
         "Task.Create: 100 percent is Completed")
    made = [row(b)]
    st, b = d.call("local/Task.Create", {"Subject": "x", "PercentComplete": 40})
    t.eq((st, row(b).get("Status"), row(b).get("PercentComplete")),
         (200, "InProgress", 40), "Task.Create: 40 percent is InProgress")
    made.append(row(b))
    for r in made:
        st, _ = d.call("local/Task.Delete", {"Id": r.get("Id", "")})
        t.eq(st, 200, "Task.Delete of a task made for the check")
    st, b = d.call("local/Task.Create", {"Subject": "Report", "Body": "draft",
                                         "StartDate": "2026-12-01", "DueDate": "2026-12-10",
                                         "Owner": "Alice", "Importance": "High"})
    k0 = row(b)
    tid = k0.get("Id", "")
    tpath = os.path.join(task_dir, tid + ".ics")

    def upd(**kw):
        st, b = d.call("local/Task.Update", dict(kw, Id=tid))
        return st, row(b), b

    st, r, _ = upd(ChangeKey=k0.get("ChangeKey"), Subject="Final report")
    t.eq(r, dict(k0, Subject="Final report", ChangeKey=r.get("ChangeKey")),
         "Task: Subject changed, the rest kept")
    t.ok(r.get("ChangeKey") != k0.get("ChangeKey"), "a new ChangeKey")
    st, b = d.call("local/Task.Load", {"Id": tid})
    t.eq(row(b), r, "Task.Update answers the row Load gives")
    before = read(tpath)
    st, _, b = upd(ChangeKey=k0.get("ChangeKey"), Subject="lost")
    t.eq((st, error(b)[:2], read(tpath) == before),
         (409, ("conflict", "ErrorIrresolvableConflict"), True), "Task: stale ChangeKey 409")
    steps = [({"PercentComplete": 50}, ("InProgress", 50)),
             ({"Status": "NotStarted"}, ("NotStarted", 50)),
             ({"Status": "InProgress"}, ("InProgress", 50)),
             ({"PercentComplete": 100}, ("Completed", 100)),
             ({"PercentComplete": 30}, ("InProgress", 30)),
             ({"Status": "Completed"}, ("Completed", 100)),
             ({"Status": "WaitingOnOthers"}, ("WaitingOnOthers", 0)),
             ({"Status": "Completed", "PercentComplete": 100}, ("Completed", 100)),
             ({"PercentComplete": 0}, ("NotStarted", 0)),
             ({"Status": "Deferred", "PercentComplete": 20}, ("Deferred", 20))]
    for inputs, want in steps:
        st, r, _ = upd(**inputs)
        t.eq((st, r.get("Status"), r.get("PercentComplete")), (200,) + want,
             "Task %r -> %s %d%%" % (inputs, want[0], want[1]))
    ev = icalendar.Calendar.from_ical(read(tpath)).walk("VTODO")[0]
    t.eq((str(ev.get("STATUS")), int(ev.get("PERCENT-COMPLETE")), "COMPLETED" in ev),
         ("NEEDS-ACTION", 20, False), "the file's STATUS and PERCENT-COMPLETE follow")
    upd(Status="Completed")
    ev = icalendar.Calendar.from_ical(read(tpath)).walk("VTODO")[0]
    t.eq((str(ev.get("STATUS")), int(ev.get("PERCENT-COMPLETE")), "COMPLETED" in ev),
         ("COMPLETED", 100, True), "completed: STATUS, 100 and COMPLETED time")
    before = read(tpath)
    for inputs, name in [({"Status": "Completed", "PercentComplete": 50}, "disagree"),
                         ({"Status": "InProgress", "PercentComplete": 100}, "disagree"),
                         ({"PercentComplete": 101}, "PercentComplete"),
                         ({"PercentComplete": -1}, "PercentComplete"),
                         ({"DueDate": "2026-11-01"}, "DueDate"),
                         ({"StartDate": "2026-12-31"}, "StartDate"),
                         ({"DueDate": "2026-02-30"}, "DueDate"),
                         ({"Status": "Done"}, "Status"),
                         ({"Owner": "Bob", "Clear": ["Owner"]}, "Owner"),
                         ({"Clear": ["Status"]}, "Clear")]:
        st, _, b = upd(**inputs)
        t.ok(st == 400 and name in error(b)[2], "Task: 400 naming %s for %r" % (name, inputs),
             "(%r %r)" % (st, b))
    t.eq(read(tpath), before, "no bad input changed the task's file")
    st, r, _ = upd(Clear=["DueDate", "StartDate"], Owner="", Body="", Importance="Low")
    t.eq((st, [k for k in ("DueDate", "StartDate", "Owner", "Body") if k in r],
          r.get("Importance")), (200, [], "Low"), "Task: dates, Owner and Body removed")
    st, r, _ = upd(DueDate="2027-01-15")
    t.eq((st, r.get("DueDate"), "StartDate" in r), (200, "2027-01-15", False),
         "Task: a DueDate set again")
    st, b = d.call("local/Task.Load", {"Id": tid})
    out = race(d, "local/Task.Update", tid, row(b).get("ChangeKey"), "Subject")
    t.eq(out, [([200, 409], True, [("conflict", "ErrorIrresolvableConflict")])] * len(out),
         "Task: of two Updates with one ChangeKey exactly one wins, each time")

    # Delete with a stale ChangeKey: 409 and nothing deleted; with
    # the current one: deleted
    st, b = d.call("local/Task.Create", {"Subject": "to delete"})
    made = row(b)
    st, b = d.call("local/Task.Update", {"Id": made.get("Id", ""),
                                           "Subject": "changed"})
    cur = row(b)
    st, b = d.call("local/Task.Delete", {"Id": made.get("Id", ""),
                                           "ChangeKey": made.get("ChangeKey", "")})
    t.eq((st, error(b)[0]), (409, "conflict"),
         "Task.Delete with a stale ChangeKey: 409")
    st, b = d.call("local/Task.Load", {"Id": made.get("Id", "")})
    t.eq(st, 200, "Task: still there after the refused Delete")
    st, b = d.call("local/Task.Delete", {"Id": cur.get("Id", ""),
                                           "ChangeKey": cur.get("ChangeKey", "")})
    t.eq(st, 200, "Task.Delete with the current ChangeKey")

    # Delete with a stale ChangeKey: 409 and nothing deleted; with
    # the current one: deleted
    st, b = d.call("local/Appointment.Create", {"Subject": "to delete", "Start": "2027-09-01T10:00:00Z", "End": "2027-09-01T11:00:00Z"})
    made = row(b)
    st, b = d.call("local/Appointment.Update", {"Id": made.get("Id", ""),
                                           "Subject": "changed"})
    cur = row(b)
    st, b = d.call("local/Appointment.Delete", {"Id": made.get("Id", ""),
                                           "ChangeKey": made.get("ChangeKey", "")})
    t.eq((st, error(b)[0]), (409, "conflict"),
         "Appointment.Delete with a stale ChangeKey: 409")
    st, b = d.call("local/Appointment.Load", {"Id": made.get("Id", "")})
    t.eq(st, 200, "Appointment: still there after the refused Delete")
    st, b = d.call("local/Appointment.Delete", {"Id": cur.get("Id", ""),
                                           "ChangeKey": cur.get("ChangeKey", "")})
    t.eq(st, 200, "Appointment.Delete with the current ChangeKey")
    t.ok(tmp_empty(task_dir) and tmp_empty(cal_dir), "no temporary file left behind")

    code = d.stop()
    log = d.read_log()
    t.ok(code == 0 and "AddressSanitizer" not in log and "runtime error:" not in log,
         "daemon exits 0 with a clean log", log[-2000:])

shutil.rmtree(top, ignore_errors=True)
t.done()
