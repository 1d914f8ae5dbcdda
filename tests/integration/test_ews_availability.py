#!/usr/bin/python3
"""exchange-ews broker: RoomList.List, Room.List, Availability.List and
MeetingTimeSuggestion.List end to end through the real daemon against the
mock EWS server (tests/mock/ews_server.py, which validates every request
against Microsoft's schema and computes free/busy from calendars seeded
with /_mock/calendar): every BusyType from a seeded event, a recurring
event with an exception, an unknown mailbox as NoData, datetimes out in
UTC whatever the inputs' offsets, suggestions that avoid busy slots, the
workday filter and the per-day cap, paging over the recomputed answers,
the limits refused with 400 before any request, errors mapped."""
import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir") or os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "mock"))

import sbtest  # noqa: E402

if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)
try:
    from ews_server import MockEWS  # noqa: E402
except ImportError as e:  # python3-lxml, python3-dateutil
    print("# the mock EWS server cannot run here: %s" % e)
    sys.exit(sbtest.SKIP)
import ews_server  # noqa: E402
if ews_server.schema_missing():
    print("# %s" % ews_server.schema_missing())
    sys.exit(sbtest.SKIP)

c = sbtest.Checks()
ALICE, BOB, CAROL = ("alice@example.test", "bob@example.test",
                     "carol@example.test")
ROOM_A, ROOMS4 = "room-a@example.test", "rooms-bldg4@example.test"
NOBODY = "nobody@example.test"
PW = "Secret-Pw-1"
UTC = datetime.timezone.utc


def err(body):
    return body.get("error", {}) if isinstance(body, dict) else {}


def rows(body):
    return body.get("rows", []) if isinstance(body, dict) else []


def dt(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def all_pages(d, addr, inputs, size, limit=200):
    """Every row of a listing, page by page; (rows, pages, last status)."""
    got, tok, pages = [], None, 0
    for _ in range(limit):
        inp = dict(inputs, PageSize=size)
        if tok:
            inp["PageToken"] = tok
        st, b = d.call(addr, inp)
        if st != 200:
            return got, pages, st
        pages += 1
        got.extend(rows(b))
        tok = b.get("next_page_token")
        if not tok:
            break
    return got, pages, 200


def gua_count(ews):
    return ews.stats().get("by_operation", {}).get(
        "GetUserAvailabilityRequest", 0)


def rooms_tests(d, ews):
    st, b = d.call("ews/RoomList.List")
    c.eq(st, 200, "RoomList.List answers 200")
    c.eq([(r.get("Name"), r.get("Email")) for r in rows(b)],
         [("Building 4 rooms", ROOMS4),
          ("Building 2 rooms", "rooms-bldg2@example.test")],
         "RoomList.List: every list, Name and Email, in the server's order")
    got, pages, st = all_pages(d, "ews/RoomList.List", {}, 1)
    c.eq((st, pages, [r["Email"] for r in got]),
         (200, 2, [ROOMS4, "rooms-bldg2@example.test"]),
         "RoomList.List pages one by one")

    st, b = d.call("ews/Room.List", {"RoomList": ROOMS4})
    c.eq(st, 200, "Room.List answers 200")
    c.eq([(r.get("Name"), r.get("Email")) for r in rows(b)],
         [("Room A (Building 4)", ROOM_A),
          ("Room B (Building 4)", "room-b@example.test"),
          ("Room C (Building 4)", "room-c@example.test")],
         "Room.List: the list's rooms, Name and Email")
    got, pages, st = all_pages(d, "ews/Room.List", {"RoomList": ROOMS4}, 2)
    c.eq((st, pages, len(got), len({r["Email"] for r in got})),
         (200, 2, 3, 3), "Room.List pages by two: every room once")
    st, b = d.call("ews/Room.List", {"RoomList": ROOMS4, "PageSize": 2})
    tok = b.get("next_page_token")
    st, b = d.call("ews/Room.List", {"RoomList": "rooms-bldg2@example.test",
                                     "PageToken": tok})
    c.eq((st, err(b).get("code")), (400, "ErrorInvalidPageToken"),
         "Room.List: a token of another list is refused")
    st, b = d.call("ews/Room.List", {"RoomList": "no-such-list@example.test"})
    c.eq((st, err(b).get("category")), (404, "not_found"),
         "Room.List: an unknown list is 404")
    c.ok("RoomList" in err(b).get("message", ""),
         "Room.List: the 404 names RoomList", err(b))
    st, b = d.call("ews/Room.List")
    c.eq((st, "RoomList" in err(b).get("message", "")), (400, True),
         "Room.List without RoomList: 400 naming it")
    st, b = d.call("ews/Room.List", {"RoomList": "not an address"})
    c.eq(st, 400, "Room.List: a RoomList that is no address is 400")


# Thursday 2030-03-14 and the days after
DAY = "2030-03-14"


def seed(ews):
    ev = [
        (ALICE, "09:00", "10:00", "Busy"),
        (ALICE, "10:00", "10:30", "Tentative"),
        (BOB, "09:00", "10:00", "Busy"),
        (CAROL, "11:00", "12:00", "OOF"),
        (CAROL, "13:00", "14:00", "WorkingElsewhere"),
        (CAROL, "14:00", "15:00", "Free"),
        (CAROL, "15:00", "16:00", "NoData"),
    ]
    for mb, a, b, t in ev:
        ews.ok("calendar", {"mailbox": mb, "start": "%sT%s:00Z" % (DAY, a),
                            "end": "%sT%s:00Z" % (DAY, b),
                            "legacy_free_busy": t})
    # a room, every day at 12:00 for three days but the second
    ews.ok("calendar", {"mailbox": ROOM_A, "start": DAY + "T12:00:00Z",
                        "end": DAY + "T13:00:00Z", "legacy_free_busy": "Busy",
                        "rrule": "FREQ=DAILY;COUNT=3",
                        "exdates": ["2030-03-15T12:00:00Z"]})


def availability_tests(d, ews):
    base = {"Mailboxes": [ALICE, BOB, CAROL, ROOM_A, NOBODY],
            "WindowStart": DAY + "T09:00:00+01:00",   # 08:00Z
            "WindowEnd": "2030-03-17T00:00:00Z"}
    st, b = d.call("ews/Availability.List", base)
    c.eq(st, 200, "Availability.List answers 200")
    got = [(r.get("Mailbox"), r.get("Start"), r.get("End"),
            r.get("BusyType")) for r in rows(b)]
    z = lambda t, day=DAY: "%sT%s:00Z" % (day, t)  # noqa: E731
    want = [
        (ALICE, z("09:00"), z("10:00"), "Busy"),
        (ALICE, z("10:00"), z("10:30"), "Tentative"),
        (BOB, z("09:00"), z("10:00"), "Busy"),
        (CAROL, z("11:00"), z("12:00"), "OOF"),
        (CAROL, z("13:00"), z("14:00"), "WorkingElsewhere"),
        (CAROL, z("14:00"), z("15:00"), "Free"),
        (CAROL, z("15:00"), z("16:00"), "NoData"),
        (ROOM_A, z("12:00"), z("13:00"), "Busy"),
        (ROOM_A, z("12:00", "2030-03-16"), z("13:00", "2030-03-16"), "Busy"),
        (NOBODY, z("08:00"), "2030-03-17T00:00:00Z", "NoData"),
    ]
    c.eq(got, want, "Availability.List: every seeded event with its "
         "BusyType (all six), the recurring room without its exception, an "
         "unknown mailbox NoData over the window, times in UTC")
    all_rows, pages, st = all_pages(d, "ews/Availability.List", base, 3)
    c.eq((st, pages, [(r["Mailbox"], r["Start"], r["BusyType"])
                      for r in all_rows]),
         (200, 4, [(w[0], w[1], w[3]) for w in want]),
         "Availability.List pages by three: every row once, in order")
    # a row appears between pages: the next page goes on after the last
    # row shown
    st, b = d.call("ews/Availability.List", dict(base, PageSize=2))
    tok = b.get("next_page_token")
    ews.ok("calendar", {"mailbox": ALICE, "start": DAY + "T08:00:00Z",
                        "end": DAY + "T08:30:00Z", "legacy_free_busy": "OOF"})
    st, b = d.call("ews/Availability.List", dict(base, PageToken=tok,
                                                 PageSize=1))
    c.eq([(r["Mailbox"], r["Start"]) for r in rows(b)],
         [(BOB, z("09:00"))],
         "Availability.List: a row added before the page does not repeat "
         "or skip one")
    st, b = d.call("ews/Availability.List",
                   dict(base, PageToken=tok, Interval=60))
    c.eq((st, err(b).get("code")), (400, "ErrorInvalidPageToken"),
         "Availability.List: a token of other inputs is refused")

    # two equal rows (a double booking): told apart by their place, each
    # shown once, and the listing ends
    dup_day = "2030-03-18"
    for _ in range(2):
        ews.ok("calendar", {"mailbox": BOB, "start": dup_day + "T09:00:00Z",
                            "end": dup_day + "T10:00:00Z",
                            "legacy_free_busy": "Busy"})
    ews.ok("calendar", {"mailbox": BOB, "start": dup_day + "T11:00:00Z",
                        "end": dup_day + "T12:00:00Z",
                        "legacy_free_busy": "Busy"})
    dup = {"Mailboxes": [BOB], "WindowStart": dup_day + "T00:00:00Z",
           "WindowEnd": dup_day + "T23:00:00Z"}
    st, b = d.call("ews/Availability.List", dup)
    whole = [(r["Start"], r["End"]) for r in rows(b)]
    dup_rows, pages, st = all_pages(d, "ews/Availability.List", dup, 1)
    c.eq(whole, [(dup_day + "T09:00:00Z", dup_day + "T10:00:00Z")] * 2 +
         [(dup_day + "T11:00:00Z", dup_day + "T12:00:00Z")],
         "Availability.List: two equal busy periods are two rows")
    c.eq((st, [(r["Start"], r["End"]) for r in dup_rows], pages),
         (200, whole, len(whole)),
         "Availability.List: equal rows page by one, each once, and end")

    small = {"Mailboxes": [BOB], "WindowStart": DAY + "T08:00:00Z",
             "WindowEnd": DAY + "T12:00:00Z", "Interval": 60}
    st, b = d.call("ews/Availability.List", small)
    c.eq([(r["Start"], r["End"], r["BusyType"]) for r in rows(b)],
         [(z("09:00"), z("10:00"), "Busy")],
         "Availability.List: a small window and Interval")
    # a server that sends only the merged view: the broker reads the
    # digits, one per Interval from WindowStart
    ews.ok("inject", {
        "operation": "GetUserAvailabilityRequest", "raw_status": 200,
        "raw": ews_server.envelope(
            "<m:GetUserAvailabilityResponse><m:FreeBusyResponseArray>"
            "<m:FreeBusyResponse><m:ResponseMessage "
            "ResponseClass=\"Success\"><m:ResponseCode>NoError"
            "</m:ResponseCode></m:ResponseMessage><m:FreeBusyView>"
            "<t:FreeBusyViewType>MergedOnly</t:FreeBusyViewType>"
            "<t:MergedFreeBusy>0221</t:MergedFreeBusy></m:FreeBusyView>"
            "</m:FreeBusyResponse></m:FreeBusyResponseArray>"
            "</m:GetUserAvailabilityResponse>")})
    st, b = d.call("ews/Availability.List", small)
    c.eq([(r["Start"], r["End"], r["BusyType"]) for r in rows(b)],
         [(z("09:00"), z("11:00"), "Busy"),
          (z("11:00"), z("12:00"), "Tentative")],
         "Availability.List: only MergedFreeBusy: its runs as periods")
    # digits past the window are dropped, an odd digit left out
    def merged_only(digits):
        return ews_server.envelope(
            "<m:GetUserAvailabilityResponse><m:FreeBusyResponseArray>"
            "<m:FreeBusyResponse><m:ResponseMessage "
            "ResponseClass=\"Success\"><m:ResponseCode>NoError"
            "</m:ResponseCode></m:ResponseMessage><m:FreeBusyView>"
            "<t:FreeBusyViewType>MergedOnly</t:FreeBusyViewType>"
            "<t:MergedFreeBusy>%s</t:MergedFreeBusy></m:FreeBusyView>"
            "</m:FreeBusyResponse></m:FreeBusyResponseArray>"
            "</m:GetUserAvailabilityResponse>" % digits)
    ews.ok("inject", {"operation": "GetUserAvailabilityRequest",
                      "raw_status": 200, "raw": merged_only("0x213333")})
    st, b = d.call("ews/Availability.List", small)
    c.eq((st, [(r["Start"], r["End"], r["BusyType"]) for r in rows(b)]),
         (200, [(z("10:00"), z("11:00"), "Busy"),
                (z("11:00"), z("12:00"), "Tentative")]),
         "Availability.List: an odd digit left out, none past WindowEnd")

    # per-mailbox errors: no free/busy shared is NoData, others fail
    def one_error(code):
        return ews_server.envelope(
            "<m:GetUserAvailabilityResponse><m:FreeBusyResponseArray>"
            "<m:FreeBusyResponse><m:ResponseMessage "
            "ResponseClass=\"Error\"><m:MessageText>no</m:MessageText>"
            "<m:ResponseCode>%s</m:ResponseCode><m:DescriptiveLinkKey>0"
            "</m:DescriptiveLinkKey></m:ResponseMessage><m:FreeBusyView>"
            "<t:FreeBusyViewType>None</t:FreeBusyViewType></m:FreeBusyView>"
            "</m:FreeBusyResponse></m:FreeBusyResponseArray>"
            "</m:GetUserAvailabilityResponse>" % code)
    ews.ok("inject", {"operation": "GetUserAvailabilityRequest",
                      "raw_status": 200,
                      "raw": one_error("ErrorNoFreeBusyAccess")})
    st, b = d.call("ews/Availability.List", small)
    c.eq([(r["Start"], r["End"], r["BusyType"]) for r in rows(b)],
         [(z("08:00"), z("12:00"), "NoData")],
         "Availability.List: ErrorNoFreeBusyAccess of a mailbox is NoData")
    ews.ok("inject", {"operation": "GetUserAvailabilityRequest",
                      "raw_status": 200,
                      "raw": one_error("ErrorFreeBusyGenerationFailed")})
    st, b = d.call("ews/Availability.List", small)
    c.eq((st, err(b).get("code")), (502, "ErrorFreeBusyGenerationFailed"),
         "Availability.List: another error of a mailbox fails the call")
    # a mailbox's answer without its message or its view is no free
    # mailbox: the call fails naming it
    ok_msg = ("<m:ResponseMessage ResponseClass=\"Success\"><m:ResponseCode>"
              "NoError</m:ResponseCode></m:ResponseMessage>")
    no_view = ("<m:FreeBusyView><t:FreeBusyViewType>FreeBusy"
               "</t:FreeBusyViewType></m:FreeBusyView>")
    for what, parts in [("ResponseMessage", no_view),
                        ("FreeBusyView", ok_msg)]:
        ews.ok("inject", {
            "operation": "GetUserAvailabilityRequest", "raw_status": 200,
            "raw": ews_server.envelope(
                "<m:GetUserAvailabilityResponse><m:FreeBusyResponseArray>"
                "<m:FreeBusyResponse>%s</m:FreeBusyResponse>"
                "</m:FreeBusyResponseArray>"
                "</m:GetUserAvailabilityResponse>" % parts)})
        st, b = d.call("ews/Availability.List", small)
        c.ok(st == 502 and err(b).get("code") == "invalid_response" and
             BOB in err(b).get("message", "") and
             what in err(b).get("message", ""),
             "Availability.List: a mailbox's answer without %s is 502 "
             "naming the mailbox" % what, (st, b))
    # events reaching out of the window are clipped to it; one wholly
    # outside is left out
    ews.ok("inject", {
        "operation": "GetUserAvailabilityRequest", "raw_status": 200,
        "raw": ews_server.envelope(
            "<m:GetUserAvailabilityResponse><m:FreeBusyResponseArray>"
            "<m:FreeBusyResponse>%s<m:FreeBusyView><t:FreeBusyViewType>"
            "FreeBusy</t:FreeBusyViewType><t:CalendarEventArray>%s"
            "</t:CalendarEventArray></m:FreeBusyView></m:FreeBusyResponse>"
            "</m:FreeBusyResponseArray></m:GetUserAvailabilityResponse>" % (
                ok_msg, "".join(
                    "<t:CalendarEvent><t:StartTime>%sT%s:00</t:StartTime>"
                    "<t:EndTime>%sT%s:00</t:EndTime><t:BusyType>%s"
                    "</t:BusyType></t:CalendarEvent>" % (DAY, a, DAY, e, t)
                    for a, e, t in [("06:00", "07:00", "Busy"),
                                    ("07:00", "09:00", "OOF"),
                                    ("10:00", "11:00", "Busy"),
                                    ("11:30", "13:00", "Tentative"),
                                    ("12:00", "13:00", "Busy")])))})
    st, b = d.call("ews/Availability.List", small)
    c.eq((st, [(r["Start"], r["End"], r["BusyType"]) for r in rows(b)]),
         (200, [(z("08:00"), z("09:00"), "OOF"),
                (z("10:00"), z("11:00"), "Busy"),
                (z("11:30"), z("12:00"), "Tentative")]),
         "Availability.List: periods clipped to the window")
    # Mailbox: impersonation, or 405 without it
    st, b = d.call("imp/Availability.List", dict(small, Mailbox=BOB))
    c.eq((st, len(rows(b))), (200, 1),
         "Availability.List with a Mailbox (impersonation)")
    c.ok(BOB in ews.stats().get("impersonated", []),
         "Availability.List: the mailbox was impersonated")
    for addr, inp in [("RoomList.List", {}),
                      ("Room.List", {"RoomList": ROOMS4}),
                      ("Availability.List", small),
                      ("MeetingTimeSuggestion.List",
                       {"Attendees": [BOB], "Duration": 30,
                        "WindowStart": DAY + "T08:00:00Z",
                        "WindowEnd": DAY + "T12:00:00Z"})]:
        st, b = d.call("ews/" + addr, dict(inp, Mailbox=BOB))
        c.eq((st, err(b).get("category")), (405, "method_not_allowed"),
             "%s: a Mailbox without impersonation is 405" % addr)
        st, b = d.call("imp/" + addr, dict(inp, Mailbox=BOB))
        c.eq(st, 200, "%s: a Mailbox with impersonation is 200" % addr)

    # limits, before any request
    n0 = gua_count(ews)
    bad = [
        ({"Mailboxes": ["u%d@example.test" % i for i in range(101)]},
         "Mailboxes", "101 mailboxes"),
        ({"WindowEnd": DAY + "T08:00:00+01:00",
          "WindowStart": DAY + "T08:00:00Z"}, "WindowEnd",
         "End before Start"),
        ({"WindowEnd": DAY + "T08:00:00Z",
          "WindowStart": DAY + "T08:00:00Z"}, "WindowEnd",
         "End equal to Start"),
        ({"WindowEnd": "2030-05-16T08:00:00Z"}, "WindowEnd",
         "a window over 62 days"),
        ({"WindowStart": None}, "WindowStart", "no WindowStart"),
        ({"WindowEnd": None}, "WindowEnd", "no WindowEnd"),
        ({"WindowStart": DAY + "T08:00:00"}, "WindowStart",
         "a WindowStart without an offset"),
        ({"WindowStart": "0000-06-01T08:00:00Z",
          "WindowEnd": "0000-06-01T12:00:00Z"}, "WindowStart",
         "a window of year 0000"),
        ({"Interval": 4}, "Interval", "Interval under 5"),
        ({"Interval": 1441}, "Interval", "Interval over 1440"),
        ({"Mailboxes": []}, "Mailboxes", "no mailbox"),
        ({"Mailboxes": ["not-an-address"]}, "Mailboxes", "a bad address"),
    ]
    for change, field, what in bad:
        inp = dict(base)
        for k, v in change.items():
            if v is None:
                inp.pop(k)
            else:
                inp[k] = v
        st, b = d.call("ews/Availability.List", inp)
        c.ok(st == 400 and field in err(b).get("message", ""),
             "Availability.List: %s is 400 naming %s" % (what, field),
             (st, err(b)))
    c.eq(gua_count(ews), n0, "Availability.List: no refused call reached "
         "the server")
    st, b = d.call("ews/Availability.List",
                   dict(base, Mailboxes=["u%d@example.test" % i
                                         for i in range(100)]))
    c.eq((st, len(rows(b))), (200, 100),
         "Availability.List: 100 mailboxes are taken (100 NoData rows)")

    # errors of the server
    ews.ok("inject", {"operation": "GetUserAvailabilityRequest",
                      "fault": "ErrorAccessDenied"})
    st, b = d.call("ews/Availability.List", base)
    c.eq((st, err(b).get("code")), (403, "ErrorAccessDenied"),
         "Availability.List: a fault maps to its status")
    ews.ok("inject", {"operation": "GetUserAvailabilityRequest",
                      "raw_status": 200, "raw": ews_server.envelope(
                          "<m:GetUserAvailabilityResponse/>")})
    st, b = d.call("ews/Availability.List", base)
    c.eq((st, err(b).get("category")), (502, "upstream_error"),
         "Availability.List: an answer without free/busy is 502")


def overlaps(r, a, b):
    return dt(r["Start"]) < dt(b) and dt(r["End"]) > dt(a)


def suggestion_tests(d, ews):
    base = {"Attendees": [ALICE, BOB], "Duration": 60,
            "WindowStart": DAY + "T08:00:00Z",
            "WindowEnd": DAY + "T17:00:00Z"}
    st, b = d.call("ews/MeetingTimeSuggestion.List", base)
    c.eq(st, 200, "MeetingTimeSuggestion.List answers 200")
    rs = rows(b)
    c.ok(len(rs) == 10, "suggestions: MaxPerDay 10 by default", len(rs))
    c.ok(all(dt(r["End"]) - dt(r["Start"]) == datetime.timedelta(hours=1)
             and r["Start"].endswith("Z") for r in rs),
         "suggestions: End is Start plus Duration, in UTC", rs)
    c.eq([r["Start"] for r in rs], sorted(r["Start"] for r in rs),
         "suggestions: by start")
    busy = (DAY + "T09:00:00Z", DAY + "T10:30:00Z")
    exc = [r for r in rs if r["Quality"] == "Excellent"]
    c.ok(exc and not any(overlaps(r, *busy) for r in exc) and
         all(r["ConflictCount"] == 0 for r in exc),
         "suggestions: Excellent slots avoid the busy ones", exc)
    c.ok(all(r["Quality"] == "Excellent" for r in rs
             if not overlaps(r, *busy)),
         "suggestions: every free slot is Excellent", rs)
    hit = [r for r in rs if overlaps(r, DAY + "T09:00:00Z",
                                     DAY + "T10:00:00Z")]
    c.ok(all(r["Quality"] == "Poor" and r["ConflictCount"] == 2
             for r in hit),
         "suggestions: both attendees busy: Poor, ConflictCount 2", hit)
    # carol's OOF at 11:00 with the others free: one of three in conflict
    st, b = d.call("ews/MeetingTimeSuggestion.List",
                   dict(base, Attendees=[ALICE, BOB, CAROL],
                        WindowStart=DAY + "T11:00:00Z",
                        WindowEnd=DAY + "T12:00:00Z", GoodThreshold=34))
    c.eq([(r["Start"], r["Quality"], r["ConflictCount"]) for r in rows(b)],
         [(DAY + "T11:00:00Z", "Good", 1)],
         "suggestions: one of three in conflict within GoodThreshold 34 "
         "is Good")
    st, b = d.call("ews/MeetingTimeSuggestion.List",
                   dict(base, Attendees=[ALICE, BOB, CAROL],
                        WindowStart=DAY + "T11:00:00Z",
                        WindowEnd=DAY + "T12:00:00Z", GoodThreshold=20))
    c.eq([(r["Quality"], r["ConflictCount"]) for r in rows(b)],
         [("Fair", 1)], "suggestions: over GoodThreshold and under half "
         "is Fair")
    # the workday filter and the cap per day over two days
    st, b = d.call("ews/MeetingTimeSuggestion.List",
                   dict(base, WindowEnd="2030-03-16T00:00:00Z",
                        WorkdayStart="18:00", WorkdayEnd="21:00",
                        MaxPerDay=3))
    rs = rows(b)
    c.ok(st == 200 and len(rs) == 6 and all(
        "18:00:00Z" <= r["Start"][11:] and r["End"][11:] <= "21:00:00Z"
        for r in rs), "suggestions: WorkdayStart/End outside the server's "
        "working hours; at most MaxPerDay per day", rs)
    c.eq(sorted({r["Start"][:10] for r in rs}), [DAY, "2030-03-15"],
         "suggestions: both days")
    # paging
    got, pages, st = all_pages(d, "ews/MeetingTimeSuggestion.List", base, 3)
    st2, b = d.call("ews/MeetingTimeSuggestion.List", base)
    c.eq((st, pages, got), (200, 4, rows(b)),
         "MeetingTimeSuggestion.List pages by three: the same rows")
    # limits, before any request
    n0 = gua_count(ews)
    bad = [
        ({"Attendees": ["u%d@example.test" % i for i in range(101)]},
         "Attendees", "101 attendees"),
        ({"WindowEnd": "2030-04-26T08:00:00Z"}, "WindowEnd",
         "a window over 42 days"),
        ({"WindowEnd": DAY + "T07:00:00Z"}, "WindowEnd", "End before Start"),
        ({"WindowStart": None}, "WindowStart", "no WindowStart"),
        ({"WindowStart": "1600-12-31T08:00:00Z",
          "WindowEnd": "1600-12-31T17:00:00Z"}, "WindowStart",
         "a window before 1601"),
        ({"Duration": 10}, "Duration", "Duration under 30"),
        ({"Duration": None}, "Duration", "no Duration"),
        ({"Duration": 600}, "Duration", "Duration longer than the window"),
        ({"GoodThreshold": 50}, "GoodThreshold", "GoodThreshold 50"),
        ({"MaxPerDay": 0}, "MaxPerDay", "MaxPerDay 0"),
        ({"WorkdayStart": "09:00"}, "Workday", "WorkdayStart alone"),
        ({"WorkdayStart": "9h", "WorkdayEnd": "17:00"}, "WorkdayStart",
         "a WorkdayStart not HH:MM"),
        ({"WorkdayStart": "17:00", "WorkdayEnd": "09:00"}, "WorkdayEnd",
         "WorkdayEnd before WorkdayStart"),
        ({"WorkdayStart": "09:00", "WorkdayEnd": "17:00:00"}, "WorkdayEnd",
         "a WorkdayEnd with seconds"),
        ({"WorkdayStart": "09:00", "WorkdayEnd": "24:30"}, "WorkdayEnd",
         "a WorkdayEnd past midnight"),
    ]
    for change, field, what in bad:
        inp = dict(base)
        for k, v in change.items():
            if v is None:
                inp.pop(k)
            else:
                inp[k] = v
        st, b = d.call("ews/MeetingTimeSuggestion.List", inp)
        c.ok(st == 400 and field in err(b).get("message", ""),
             "MeetingTimeSuggestion.List: %s is 400 naming %s"
             % (what, field), (st, err(b)))
    c.eq(gua_count(ews), n0, "MeetingTimeSuggestion.List: no refused call "
         "reached the server")
    ews.ok("inject", {"operation": "GetUserAvailabilityRequest",
                      "fault": "ErrorServerBusy", "back_off_ms": 1000})
    st, b = d.call("ews/MeetingTimeSuggestion.List", base)
    c.eq((st, err(b).get("category")), (429, "throttled"),
         "MeetingTimeSuggestion.List: ErrorServerBusy is 429")


def sample(name):
    d = os.path.join(os.path.dirname(ews_server.DEFAULT_SCHEMA), "samples")
    with open(os.path.join(d, name)) as f:
        return f.read()


def exchange_answers(d, ews):
    """Answers as Exchange writes them (the protocol samples: default
    namespaces, no designator on the times) read right."""
    def answer(op, name):
        ews.ok("inject", {"operation": op, "raw_status": 200,
                          "raw": sample(name)})
    answer("GetRoomLists", "getroomlists.response.xml")
    st, b = d.call("ews/RoomList.List")
    c.eq([(r["Name"], r["Email"]) for r in rows(b)],
         [("HQ meeting rooms", "hq-rooms@example.test"),
          ("Branch office rooms", "branch-rooms@example.test")],
         "Exchange's GetRoomLists answer read")
    answer("GetRooms", "getrooms.response.xml")
    st, b = d.call("ews/Room.List", {"RoomList": "hq-rooms@example.test"})
    c.eq([(r["Name"], r["Email"]) for r in rows(b)],
         [("Room 4.01", "room401@example.test"),
          ("Room 5.12", "room512@example.test")],
         "Exchange's GetRooms answer read")
    answer("GetUserAvailabilityRequest",
           "getuseravailability-freebusy.response.xml")
    st, b = d.call("ews/Availability.List",
                   {"Mailboxes": [ALICE, NOBODY],
                    "WindowStart": "2030-03-14T08:00:00Z",
                    "WindowEnd": "2030-03-14T12:00:00Z", "Interval": 60})
    c.eq([(r["Mailbox"], r["Start"], r["End"], r["BusyType"])
          for r in rows(b)],
         [(ALICE, "2030-03-14T09:00:00Z", "2030-03-14T10:00:00Z", "Busy"),
          (ALICE, "2030-03-14T10:00:00Z", "2030-03-14T10:30:00Z",
           "Tentative"),
          (NOBODY, "2030-03-14T08:00:00Z", "2030-03-14T12:00:00Z",
           "NoData")],
         "Exchange's free/busy answer read (ErrorMailRecipientNotFound: "
         "NoData)")
    answer("GetUserAvailabilityRequest",
           "getuseravailability-suggestions.response.xml")
    st, b = d.call("ews/MeetingTimeSuggestion.List",
                   {"Attendees": [BOB, ALICE, ROOM_A], "Duration": 60,
                    "WindowStart": "2030-03-14T00:00:00Z",
                    "WindowEnd": "2030-03-16T00:00:00Z"})
    c.eq([(r["Start"], r["End"], r["Quality"], r["ConflictCount"])
          for r in rows(b)],
         [("2030-03-14T08:00:00Z", "2030-03-14T09:00:00Z", "Excellent", 0),
          ("2030-03-14T14:00:00Z", "2030-03-14T15:00:00Z", "Good", 1),
          ("2030-03-15T09:00:00Z", "2030-03-15T10:00:00Z", "Excellent", 0)],
         "Exchange's suggestions answer read")
    # a group's NumberOfMembersWithConflict beyond xs:int (a server out
    # of its schema) is left out: no count overflows
    def group(n):
        return ("<GroupAttendeeConflictData><NumberOfMembers>%s"
                "</NumberOfMembers><NumberOfMembersAvailable>0"
                "</NumberOfMembersAvailable><NumberOfMembersWithConflict>%s"
                "</NumberOfMembersWithConflict><NumberOfMembersWithNoData>0"
                "</NumberOfMembersWithNoData></GroupAttendeeConflictData>"
                % (n, n))
    huge = sample("getuseravailability-suggestions.response.xml").replace(
        "<IndividualAttendeeConflictData>\n"
        "                    <BusyType>Free</BusyType>\n"
        "                  </IndividualAttendeeConflictData>",
        group("9223372036854775807"), 2).replace(
        "<IndividualAttendeeConflictData>\n"
        "                    <BusyType>Free</BusyType>\n"
        "                  </IndividualAttendeeConflictData>", group("3"), 1)
    c.ok(huge.count("GroupAttendeeConflictData>") == 6,
         "the answer with groups built")
    ews.ok("inject", {"operation": "GetUserAvailabilityRequest",
                      "raw_status": 200, "raw": huge})
    st, b = d.call("ews/MeetingTimeSuggestion.List",
                   {"Attendees": [BOB, ALICE, ROOM_A], "Duration": 60,
                    "WindowStart": "2030-03-14T00:00:00Z",
                    "WindowEnd": "2030-03-16T00:00:00Z"})
    c.eq((st, [r["ConflictCount"] for r in rows(b)][:1]), (200, [3]),
         "suggestions: a group count beyond xs:int is left out")
    # a suggestion with an unreadable MeetingTime or SuggestionQuality is
    # left out; the others still come
    odd = sample("getuseravailability-suggestions.response.xml").replace(
        "<MeetingTime>2030-03-14T08:00:00</MeetingTime>",
        "<MeetingTime>not a time</MeetingTime>").replace(
        "<SuggestionQuality>Good</SuggestionQuality>",
        "<SuggestionQuality>Splendid</SuggestionQuality>")
    c.ok("not a time" in odd and "Splendid" in odd,
         "the answer with odd suggestions built")
    ews.ok("inject", {"operation": "GetUserAvailabilityRequest",
                      "raw_status": 200, "raw": odd})
    st, b = d.call("ews/MeetingTimeSuggestion.List",
                   {"Attendees": [BOB, ALICE, ROOM_A], "Duration": 60,
                    "WindowStart": "2030-03-14T00:00:00Z",
                    "WindowEnd": "2030-03-16T00:00:00Z"})
    c.eq((st, [(r["Start"], r["Quality"]) for r in rows(b)]),
         (200, [("2030-03-15T09:00:00Z", "Excellent")]),
         "suggestions: an odd suggestion is left out, the List answers")


with MockEWS(["--auth", "basic", "--lifetime", "600",
              "--validate-responses"]) as ews:
    cfg = ("[module exchange-ews]\nenabled = yes\n"
           "[instance ews]\nbroker = exchange-ews\nurl = %s\nauth = basic\n"
           "username = %s\npassword = %s\ntimeout = 60s\nretries = 0\n"
           "[instance imp]\nbroker = exchange-ews\nurl = %s\n"
           "auth = basic\nusername = %s\npassword = %s\ntimeout = 60s\n"
           "impersonation = impersonate\n"
           % (ews.url, ALICE, PW, ews.url, ALICE, PW))
    with sbtest.Daemon(cfg) as d:
        st, b = d.get("/v1/catalog/ews/Availability")
        c.eq(st, 200, "the catalog has Availability")
        rooms_tests(d, ews)
        seed(ews)
        availability_tests(d, ews)
        suggestion_tests(d, ews)
        exchange_answers(d, ews)
    s = ews.stats()
    c.eq(s.get("violations"), [], "no request violated the schema")
    c.eq(s.get("response_violations"), [],
         "no answer of the mock violated the schema")
    c.eq(s.get("internal_errors"), [], "no defect of the mock met")
c.done()
