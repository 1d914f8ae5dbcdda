"""mapi-stub's calendar against Python's own calendar libraries:

- appointments created with an IANA TimeZone are written in that zone with
  its VTIMEZONE, and python3-icalendar reads them back at the same instant
  and in the same zone;
- recurring series expand, over a List window, to exactly the occurrences
  python-dateutil's rrule gives for the same rule and DTSTART in the same
  zone: a few hundred rules generated from a fixed seed, starting in spring
  and autumn so that daylight-saving changes fall inside the series;
- a file another tool wrote with EXDATE and an overridden occurrence
  (RECURRENCE-ID) lists without the excluded dates and with the override;
- concurrent Creates and Lists with zone aliases (which libical adds to its
  shared table of zones) each get their own zone and instant."""
import datetime as dt
import threading
import os
import random
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
UTC = dt.timezone.utc
top = sbtest.tempdir("mapi-cal-")
store = os.path.join(top, "store")
conf = ("[module mapi-stub]\nenabled = yes\n\n[instance local]\nbroker = mapi-stub\n"
        "store_dir = %s\nmailboxes = %s\nquota = 100MiB\n" % (store, ALICE))
cal_dir = os.path.join(store, ALICE, "Calendar")


def rows(body):
    return body.get("rows", []) if isinstance(body, dict) else []


def iso(d):
    if d.tzinfo is None:  # a date of an all-day series
        d = d.replace(tzinfo=UTC)
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_all(d, args):
    """Every row of a List, following its pages (bounded)."""
    out, token = [], None
    for _ in range(100):
        a = dict(args)
        if token:
            a["PageToken"] = token
        st, b = d.call("local/Appointment.List", a)
        if st != 200:
            return st, out
        out += rows(b)
        token = b.get("next_page_token")
        if not b.get("more") or not token:
            break
    return 200, out


WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def gen_rule(rng):
    """A rule of the shared subset both libical and dateutil read alike."""
    freq = rng.choice(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"])
    parts = ["FREQ=" + freq]
    if rng.random() < 0.4:
        parts.append("INTERVAL=%d" % rng.randint(2, 3))
    if freq == "DAILY":
        if rng.random() < 0.3:
            parts.append("BYDAY=" + ",".join(sorted(
                rng.sample(WEEKDAYS, rng.randint(1, 5)), key=WEEKDAYS.index)))
    elif freq == "WEEKLY":
        parts.append("BYDAY=" + ",".join(sorted(
            rng.sample(WEEKDAYS, rng.randint(1, 3)), key=WEEKDAYS.index)))
    elif freq == "MONTHLY":
        k = rng.random()
        if k < 0.4:
            parts.append("BYMONTHDAY=%d" % rng.choice([1, 5, 13, 15, 28, -1]))
        elif k < 0.8:
            parts.append("BYDAY=%d%s" % (rng.choice([1, 2, 3, 4, -1]),
                                         rng.choice(WEEKDAYS)))
        else:
            parts.append("BYDAY=MO,TU,WE,TH,FR;BYSETPOS=%d" % rng.choice([1, -1]))
    else:
        parts.append("BYMONTH=%d" % rng.randint(1, 12))
        if rng.random() < 0.5:
            parts.append("BYDAY=%d%s" % (rng.choice([1, 2, -1]), rng.choice(WEEKDAYS)))
        else:
            parts.append("BYMONTHDAY=%d" % rng.choice([1, 10, 20, 28]))
    return parts


def expected(rule, start, dur, ws, we):
    r = du_rrule.rrulestr(rule, dtstart=start)
    out = []
    for occ in r:
        if occ >= we:
            break
        if occ + dur > ws:
            out.append((iso(occ), iso(occ + dur)))
        if len(out) > 1000:
            break
    return out


with sbtest.Daemon(conf) as d:
    # ---- zones, as python3-icalendar reads them ----------------------------
    zones = [("Europe/Berlin", "2026-07-01T09:30:00+02:00"),
             ("America/New_York", "2026-12-01T09:30:00-05:00"),
             ("Asia/Kolkata", "2026-12-01T09:30:00+05:30"),
             ("Australia/Sydney", "2026-12-01T09:30:00+11:00")]
    for zone, start in zones:
        s = dt.datetime.fromisoformat(start)
        st, b = d.call("local/Appointment.Create", {
            "Subject": "in " + zone, "Start": start,
            "End": (s + dt.timedelta(hours=1)).isoformat(), "TimeZone": zone})
        t.eq(st, 200, "Create in %s" % zone)
        aid = rows(b)[0].get("Id") if rows(b) else ""
        t.eq((rows(b)[0].get("Start"), rows(b)[0].get("TimeZone")) if rows(b) else None,
             (iso(s), zone), "Create answers the UTC start and the zone")
        with open(os.path.join(cal_dir, aid + ".ics"), "rb") as f:
            data = f.read()
        cal = icalendar.Calendar.from_ical(data)
        ev = [c for c in cal.walk("VEVENT")][0]
        got = ev.decoded("DTSTART")
        t.eq((got.replace(tzinfo=None).isoformat(), got.utcoffset(),
              str(ev.get("DTSTART").params.get("TZID"))),
             (s.replace(tzinfo=None).isoformat(), s.utcoffset(), zone),
             "icalendar reads %s's DTSTART at its local time and offset" % zone)
        t.eq([str(z.get("TZID")) for z in cal.walk("VTIMEZONE")], [zone],
             "%s: the file carries its VTIMEZONE" % zone)
        st, b = d.call("local/Appointment.Load", {"Id": aid})
        t.eq((rows(b)[0].get("Start"), rows(b)[0].get("TimeZone")) if rows(b) else None,
             (iso(s), zone), "Load gives the same instant and zone")
        d.call("local/Appointment.Delete", {"Id": aid})
    # A name that is no IANA zone is kept as before, with UTC times.
    st, b = d.call("local/Appointment.Create", {
        "Subject": "windows zone", "Start": "2026-12-01T09:00:00+01:00",
        "End": "2026-12-01T10:00:00+01:00", "TimeZone": "W. Europe Standard Time"})
    aid = rows(b)[0].get("Id") if rows(b) else ""
    with open(os.path.join(cal_dir, aid + ".ics"), "rb") as f:
        data = f.read()
    t.ok(b"DTSTART:20261201T080000Z\r\n" in data and
         b"X-SVCBROKER-TIMEZONE:W. Europe Standard Time\r\n" in data and
         b"VTIMEZONE" not in data, "a Windows zone name: UTC times and the name kept",
         data.decode(errors="replace"))
    d.call("local/Appointment.Delete", {"Id": aid})

    # ---- recurrence: libical's expansion against dateutil's -----------------
    rng = random.Random(20261202)
    n_rules, n_same, n_dst = 300, 0, 0
    mismatches = []
    for i in range(n_rules):
        zone = rng.choice(["Europe/Berlin", "America/New_York", "Australia/Sydney"])
        tz = ZoneInfo(zone)
        all_day = rng.random() < 0.1
        parts = gen_rule(rng)
        # Start in March or October (daylight-saving changes in both
        # hemispheres), at an hour that exists once on every day.
        base = dt.datetime(rng.choice([2026, 2027]), rng.choice([2, 3, 9, 10]),
                           rng.randint(1, 28), rng.choice([0, 4, 8, 9, 12, 17, 23]),
                           rng.choice([0, 15, 30]))
        first = du_rrule.rrulestr(";".join(parts), dtstart=base).after(base, inc=True)
        if first is None:
            continue
        k = rng.random()
        if k < 0.35:
            parts.append("COUNT=%d" % rng.randint(1, 40))
        elif k < 0.7:
            until = (first.replace(tzinfo=None if all_day else tz) +
                     dt.timedelta(days=rng.randint(20, 500)))
            if all_day:
                parts.append("UNTIL=%s" % until.strftime("%Y%m%d"))
            else:
                parts.append("UNTIL=%s" % until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
        rule = ";".join(parts)
        if all_day:
            start = dt.datetime(first.year, first.month, first.day, tzinfo=UTC)
            dur = dt.timedelta(days=1)
            args = {"IsAllDay": True, "Start": start.date().isoformat() + "T00:00:00Z",
                    "End": (start + dur).date().isoformat() + "T00:00:00Z"}
            du_start = start.replace(tzinfo=None)
        else:
            start = first.replace(tzinfo=tz)
            dur = dt.timedelta(minutes=rng.choice([30, 60, 90]))
            args = {"Start": start.isoformat(), "End": (start + dur).isoformat(),
                    "TimeZone": zone}
            du_start = start
        args.update({"Subject": "rule %d" % i, "Recurrence": rule})
        st, b = d.call("local/Appointment.Create", args)
        if st != 200:
            mismatches.append((rule, "Create", st, b))
            continue
        aid = rows(b)[0].get("Id")
        ws = start - dt.timedelta(days=rng.choice([0, 3]))
        we = start + dt.timedelta(days=rng.choice([120, 400, 800]))
        if all_day:
            # A naive series of dates: dateutil reads a date UNTIL as that
            # day's midnight, so the day itself is in.
            want = expected(rule, du_start, dur, ws.replace(tzinfo=None),
                            we.replace(tzinfo=None))
        else:
            want = expected(rule, du_start, dur, ws, we)
        st, got_rows = list_all(d, {"WindowStart": iso(ws), "WindowEnd": iso(we)})
        got = [(r.get("Start"), r.get("End")) for r in got_rows if r.get("Id") == aid]
        if all_day:
            want = [(s[:10] + "T00:00:00Z", e[:10] + "T00:00:00Z") for s, e in want]
        if got == want:
            n_same += 1
            offs = {dt.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(tz).utcoffset()
                    for s, _ in got}
            if len(offs) > 1:
                n_dst += 1
        else:
            mismatches.append((rule, zone, start.isoformat(), len(got), len(want),
                               [x for x in got if x not in want][:3],
                               [x for x in want if x not in got][:3]))
        d.call("local/Appointment.Delete", {"Id": aid})
    t.eq(mismatches[:5], [], "every generated series expands as dateutil's rrule does "
         "(%d of %d alike)" % (n_same, n_rules))
    t.ok(n_same >= 250, "at least 250 rules compared (%d)" % n_same)
    t.ok(n_dst >= 50, "at least 50 of them cross a daylight-saving change (%d)" % n_dst)

    # ---- a series another tool wrote: EXDATE and an overridden occurrence ---
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
        "BEGIN:VEVENT", "UID:series-1@other", "DTSTAMP:20261101T000000Z",
        "SUMMARY:Weekly sync", "CATEGORIES:a\\,b,c",
        "DTSTART;TZID=Eastern Standard Time:20261029T100000",
        "DTEND;TZID=Eastern Standard Time:20261029T103000",
        "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=6",
        "EXDATE;TZID=Eastern Standard Time:20261112T100000",
        "END:VEVENT",
        "BEGIN:VEVENT", "UID:series-1@other", "DTSTAMP:20261101T000000Z",
        "RECURRENCE-ID;TZID=Eastern Standard Time:20261119T100000",
        "SUMMARY:Weekly sync (moved)",
        "DTSTART;TZID=Eastern Standard Time:20261120T140000",
        "DTEND;TZID=Eastern Standard Time:20261120T150000",
        "END:VEVENT", "END:VCALENDAR", ""])
    with open(os.path.join(cal_dir, "series-1.ics"), "w", encoding="utf-8") as f:
        f.write(ics)
    st, got = list_all(d, {"WindowStart": "2026-10-01T00:00:00Z",
                           "WindowEnd": "2027-01-01T00:00:00Z"})
    t.eq([(r.get("Start"), r.get("Subject")) for r in got],
         [("2026-10-29T14:00:00Z", "Weekly sync"),      # EDT, UTC-4
          ("2026-11-05T15:00:00Z", "Weekly sync"),      # EST after Nov 1
          ("2026-11-20T19:00:00Z", "Weekly sync (moved)"),
          ("2026-11-26T15:00:00Z", "Weekly sync"),
          ("2026-12-03T15:00:00Z", "Weekly sync")],
         "EXDATE left out, the override shown, local time kept across the change")
    t.ok(all(r.get("Id") == "series-1" and r.get("Recurrence") ==
             "FREQ=WEEKLY;BYDAY=TH;COUNT=6" for r in got),
         "every occurrence carries the series' Id and Recurrence")
    t.eq(got[0].get("Categories") if got else None, ["a,b", "c"],
         "a category with an escaped comma before another")
    t.eq(got[0].get("TimeZone") if got else None, "Eastern Standard Time",
         "TimeZone is the file's TZID")
    st, b = d.call("local/Appointment.List", {})
    t.eq([(r.get("Start"), r.get("Id")) for r in rows(b)],
         [("2026-10-29T14:00:00Z", "series-1")],
         "without a window the series is one row, its first occurrence")
    # A window that holds only the moved occurrence's new time.
    st, got = list_all(d, {"WindowStart": "2026-11-20T18:00:00Z",
                           "WindowEnd": "2026-11-20T20:00:00Z"})
    t.eq([r.get("Subject") for r in got], ["Weekly sync (moved)"],
         "an override is found by its own time")
    # ---- concurrent calls: zone lookups (aliases libical appends to its
    # table of zones, under the store's lock) and parses on many threads ---

    alias_zones = ["US/Eastern", "US/Pacific", "Asia/Calcutta", "Europe/Kiev",
                   "America/Buenos_Aires", "Australia/ACT", "Europe/Berlin", "Japan"]
    results, lock = [], threading.Lock()

    def worker(k):
        c = d  # urllib: one connection per request, safe across threads
        for j in range(12):
            z = alias_zones[(k + j) % len(alias_zones)]
            st, b = c.call("local/Appointment.Create", {
                "Subject": "c%d-%d" % (k, j), "Start": "2027-07-01T10:00:00+00:00",
                "End": "2027-07-01T11:00:00+00:00", "TimeZone": z,
                "Recurrence": "FREQ=DAILY;COUNT=3"})
            st2, b2 = c.call("local/Appointment.List", {
                "WindowStart": "2027-07-01T00:00:00Z", "WindowEnd": "2027-07-05T00:00:00Z"})
            r = rows(b)[0] if rows(b) else {}
            with lock:
                results.append((st, st2, r.get("TimeZone") == z,
                                r.get("Start") == "2027-07-01T10:00:00Z"))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(600)  # bounded; calls are slow under valgrind
    t.eq(len(results), 96, "96 concurrent Create + List pairs ran")
    t.ok(all(r == (200, 200, True, True) for r in results),
         "every concurrent call answered, each with its zone and instant",
         repr([r for r in results if r != (200, 200, True, True)][:5]))
    st, got = list_all(d, {"WindowStart": "2027-07-01T00:00:00Z",
                           "WindowEnd": "2027-07-05T00:00:00Z"})
    t.eq(len([r for r in got if r.get("Subject", "").startswith("c")]), 96 * 3,
         "each of the 96 series shows its 3 occurrences")
    # ---- Delete removes the version it checked: without a ChangeKey it
    # reads the appointment's, deletes on that condition, and reads again
    # when an Update came in between (never a 409 the caller did not ask
    # for); with a stale ChangeKey of the caller's it is still 409 -----
    outcomes = []
    for k in range(20):
        st, b = d.call("local/Appointment.Create", {
            "Subject": "race %d" % k, "Start": "2027-08-01T10:00:00Z",
            "End": "2027-08-01T11:00:00Z"})
        aid = rows(b)[0].get("Id") if st == 200 and rows(b) else None
        if not aid:
            outcomes.append(("create", st))
            continue
        gone = threading.Event()
        updates = []

        def updater():
            for j in range(200):  # bounded; stops when the item is gone
                st_u, _ = d.call("local/Appointment.Update",
                                 {"Id": aid, "Subject": "race %d.%d" % (k, j)})
                updates.append(st_u)
                if st_u != 200 or gone.is_set():
                    return

        th = threading.Thread(target=updater)
        th.start()
        st_d, b_d = d.call("local/Appointment.Delete", {"Id": aid})
        gone.set()
        th.join(120)
        st_l, _ = d.call("local/Appointment.Load", {"Id": aid})
        outcomes.append((st_d, st_l, updates[-1:] in ([], [200], [404])))
    t.ok(outcomes and all(o == (200, 404, True) for o in outcomes),
         "20 Deletes without a ChangeKey during Updates: each 200, the item "
         "gone, the Update after it 404", repr(outcomes))
    st, b = d.call("local/Appointment.Create", {
        "Subject": "stale", "Start": "2027-08-02T10:00:00Z",
        "End": "2027-08-02T11:00:00Z"})
    aid = rows(b)[0].get("Id")
    ck = rows(b)[0].get("ChangeKey")
    d.call("local/Appointment.Update", {"Id": aid, "Subject": "changed"})
    st, b = d.call("local/Appointment.Delete", {"Id": aid, "ChangeKey": ck})
    t.eq(st, 409, "Delete with a ChangeKey read before an Update: 409")
    st, b = d.call("local/Appointment.Load", {"Id": aid})
    t.eq(st, 200, "and the appointment is kept")

    code = d.stop()
    log = d.read_log()
    t.ok(code == 0 and "AddressSanitizer" not in log and "runtime error:" not in log,
         "daemon exits 0 with a clean log", log[-2000:])

shutil.rmtree(top, ignore_errors=True)
t.done()
