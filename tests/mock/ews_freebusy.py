"""Rooms and availability of the mock EWS server (tests/mock/ews_server.py):
GetRoomLists and GetRooms from a small room directory, and
GetUserAvailability (free/busy views and meeting time suggestions)
computed from the mailboxes' calendars.

Calendar items are the objects among the items of a mailbox's "calendar"
well-known folder that have a `start`: `start`, `end` (aware UTC
datetimes), `is_all_day`, `legacy_free_busy` (Free, Tentative, Busy, OOF,
WorkingElsewhere, NoData), `rrule` (an RRULE string or None; expanded
with dateutil from `start`) and `exdates` (aware UTC datetimes left out).
POST /_mock/calendar (calendar_add) seeds such items.

Suggestions, per day of the window (days from midnight in the request's
zone) and per 30-minute start whose meeting fits in the window: every
attendee's busy type at that time is the strongest of its events then
(OOF > Busy > Tentative > WorkingElsewhere > Free); attendees Tentative,
Busy or OOF are in conflict.  Quality: Excellent with no conflict, Good
when the conflicts are at most GoodThreshold per cent of the attendees
the server knows, Fair under 50 per cent, Poor otherwise.  Work time is
08:00-17:00 Monday to Friday in UTC (every mailbox's working hours here).
Each day keeps the best MaximumResultsByDay suggestions of at least
MinimumSuggestionQuality (earlier first among equals), of which at most
MaximumNonWorkHourResultsByDay outside work time, in time order.
"""
import datetime

from dateutil import rrule as du_rrule

import ews_calendar
from ews_ops import Fault, child, ctext, text_of
from ews_store import NS_M, NS_T, Item, esc

M = "{%s}" % NS_M
T = "{%s}" % NS_T
UTC = datetime.timezone.utc

# room list address -> (name, [(room name, room address)])
ROOM_LISTS = {
    "rooms-bldg4@example.test": ("Building 4 rooms", [
        ("Room A (Building 4)", "room-a@example.test"),
        ("Room B (Building 4)", "room-b@example.test"),
        ("Room C (Building 4)", "room-c@example.test"),
    ]),
    "rooms-bldg2@example.test": ("Building 2 rooms", [
        ("Room D (Building 2)", "room-d@example.test"),
    ]),
}
ROOMS = {a: n for _, rooms in ROOM_LISTS.values() for n, a in rooms}

BUSY_TYPES = ["Free", "Tentative", "Busy", "OOF", "WorkingElsewhere",
              "NoData"]
# strongest first, for overlapping events
STRENGTH = {"OOF": 5, "Busy": 4, "Tentative": 3, "WorkingElsewhere": 2,
            "Free": 1, "NoData": 0}
CONFLICT = {"Tentative", "Busy", "OOF"}
QUALITIES = ["Excellent", "Good", "Fair", "Poor"]
MAX_MAILBOXES = 100
MAX_FREEBUSY_DAYS = 62
MAX_SUGGESTION_DAYS = 42
WORK_START, WORK_END = 8 * 60, 17 * 60


class CalendarItem(Item):
    """A calendar item as /_mock/calendar seeds it."""

    def __init__(self, mailbox, folder_id, start, end, legacy_free_busy,
                 rrule=None, exdates=(), is_all_day=False, subject=""):
        super().__init__(mailbox, folder_id)
        self.item_class = "IPM.Appointment"
        self.subject = subject
        self.start, self.end = start, end
        self.legacy_free_busy = legacy_free_busy
        self.rrule = rrule
        self.exdates = list(exdates)
        self.is_all_day = is_all_day


def _utc(s, name):
    if not isinstance(s, str):
        raise ValueError("%s: an ISO 8601 date-time with an offset" % name)
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(s)
    if dt.tzinfo is None:
        raise ValueError("%s: an offset is required" % name)
    return dt.astimezone(UTC)


def room_mailbox(store, addr):
    """The mailbox of addr; a room of the directory gets one on demand."""
    mb = store.mailbox(addr)
    if mb is None and (addr or "").strip().lower() in ROOMS:
        from ews_store import Mailbox
        a = addr.strip().lower()
        mb = store.mailboxes[a] = Mailbox(a)
    return mb


def calendar_add(store, req):
    """POST /_mock/calendar {"mailbox", "start", "end", "legacy_free_busy",
    "rrule", "exdates", "is_all_day", "subject"} -> the item's id."""
    mb = room_mailbox(store, req.get("mailbox", ""))
    if mb is None:
        raise ValueError("mailbox: no mailbox %r" % req.get("mailbox"))
    start = _utc(req.get("start"), "start")
    end = _utc(req.get("end"), "end")
    if end <= start:
        raise ValueError("end: must be after start")
    lfb = req.get("legacy_free_busy", "Busy")
    if lfb not in BUSY_TYPES:
        raise ValueError("legacy_free_busy: one of %s" % BUSY_TYPES)
    rr = req.get("rrule")
    if rr is not None:
        du_rrule.rrulestr(rr, dtstart=start)  # refuse a bad rule now
    exd = [_utc(x, "exdates") for x in req.get("exdates", [])]
    it = CalendarItem(mb.address, mb.by_wk["calendar"].id, start, end, lfb,
                      rr, exd, bool(req.get("is_all_day")),
                      str(req.get("subject", "")))
    mb.items[it.id] = it
    return it.id


def occurrences(mb, a, b):
    """(start, end, busy type, item) of every event of mb's calendar
    overlapping [a, b), by start."""
    out = []
    for it in mb.items_in(mb.by_wk["calendar"].id):
        if getattr(it, "start", None) is None:
            continue
        end = getattr(it, "end", None) or it.start
        lfb = getattr(it, "legacy_free_busy", None) or "Busy"
        dur = end - it.start
        rule = getattr(it, "rrule", None)
        if isinstance(it, ews_calendar.CalendarItem):
            # a calendar item of the mailbox: expanded as CalendarView
            # does (in its zone; deleted occurrences left out, modified
            # ones at their new time with their own free/busy status)
            for orig, s, e in ews_calendar.expand(it, a, b):
                m = it.exceptions.get(orig) if it.rrule else None
                out.append((s, e, (m or {}).get("legacy_free_busy") or lfb,
                            it))
            continue
        if rule:
            ex = set(getattr(it, "exdates", None) or [])
            r = du_rrule.rrulestr(rule, dtstart=it.start)
            starts = [s for s in r.between(a - dur, b, inc=True)
                      if s not in ex]
        else:
            starts = [it.start]
        for s in starts:
            if s < b and s + dur > a:
                out.append((s, s + dur, lfb, it))
    out.sort(key=lambda o: (o[0], o[1]))
    return out


def strongest(events, a, b):
    best = "Free"
    for s, e, t, _ in events:
        if s < b and e > a and STRENGTH[t] > STRENGTH[best]:
            best = t
    return best


# ---- the request's time zone ----------------------------------------------

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
        "Saturday", "Sunday"]


class ReqZone:
    """A t:SerializableTimeZone: Bias (UTC = local + bias, in minutes) and
    its standard/daylight transitions (Month 0: none)."""

    def __init__(self, el):
        self.bias = 0
        self.std = self.dst = None
        if el is None:
            return
        self.bias = int(ctext(el, T + "Bias", "0"))
        self.std = self._tr(child(el, T + "StandardTime"))
        self.dst = self._tr(child(el, T + "DaylightTime"))
        if not self.std or not self.dst or not self.std["month"] or \
                not self.dst["month"]:
            self.dst = None

    @staticmethod
    def _tr(el):
        if el is None:
            return None
        h, m, s = (int(x) for x in ctext(el, T + "Time", "0:0:0").split(":"))
        return {"bias": int(ctext(el, T + "Bias", "0")),
                "time": datetime.time(h, m, s),
                "order": int(ctext(el, T + "DayOrder", "0")),
                "month": int(ctext(el, T + "Month", "0")),
                "dow": ctext(el, T + "DayOfWeek", "Sunday")}

    @staticmethod
    def _when(year, tr):
        d = datetime.date(year, tr["month"], 1)
        dow = DAYS.index(tr["dow"]) if tr["dow"] in DAYS else 6
        d += datetime.timedelta(days=(dow - d.weekday()) % 7)
        d += datetime.timedelta(days=7 * (max(tr["order"], 1) - 1))
        while d.month != tr["month"]:
            d -= datetime.timedelta(days=7)
        return datetime.datetime.combine(d, tr["time"])

    def offset(self, local):
        """Minutes to add to local time to get UTC."""
        if self.dst is None:
            return self.bias + (self.std["bias"] if self.std else 0)
        ds = self._when(local.year, self.dst)
        ss = self._when(local.year, self.std)
        in_dst = ds <= local < ss if ds < ss else not ss <= local < ds
        return self.bias + (self.dst if in_dst else self.std)["bias"]

    def to_utc(self, text):
        s = text.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        if "." in s:
            head, frac = s.split(".", 1)
            i = 0
            while i < len(frac) and frac[i].isdigit():
                i += 1
            s = head + frac[i:]
        dt = datetime.datetime.fromisoformat(s)
        if dt.tzinfo is not None:
            return dt.astimezone(UTC)
        return (dt + datetime.timedelta(minutes=self.offset(dt))) \
            .replace(tzinfo=UTC)

    def local(self, utc):
        naive = utc.astimezone(UTC).replace(tzinfo=None)
        guess = naive - datetime.timedelta(minutes=self.bias)
        return naive - datetime.timedelta(minutes=self.offset(guess))

    def text(self, utc):
        return self.local(utc).strftime("%Y-%m-%dT%H:%M:%S")


# ---- GetRoomLists, GetRooms ------------------------------------------------

def _address(name, addr, mtype, tag):
    return ("<t:%s><t:Name>%s</t:Name><t:EmailAddress>%s</t:EmailAddress>"
            "<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>%s"
            "</t:MailboxType></t:%s>" % (tag, esc(name), esc(addr), mtype,
                                         tag))


def op_GetRoomLists(ctx, el):
    inner = "".join(_address(n, a, "PublicDL", "Address")
                    for a, (n, _) in ROOM_LISTS.items())
    return ('<m:GetRoomListsResponse ResponseClass="Success">'
            "<m:ResponseCode>NoError</m:ResponseCode>"
            "<m:RoomLists>%s</m:RoomLists></m:GetRoomListsResponse>" % inner)


def op_GetRooms(ctx, el):
    addr = (ctext(child(el, M + "RoomList"), T + "EmailAddress", "")
            .strip().lower())
    if addr not in ROOM_LISTS:
        return ('<m:GetRoomsResponse ResponseClass="Error">'
                "<m:MessageText>%s</m:MessageText>"
                "<m:ResponseCode>ErrorNameResolutionNoResults"
                "</m:ResponseCode>"
                "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
                "</m:GetRoomsResponse>"
                % esc(text_of("ErrorNameResolutionNoResults")))
    rooms = "".join("<t:Room>%s</t:Room>" % _address(n, a, "Mailbox", "Id")
                    for n, a in ROOM_LISTS[addr][1])
    return ('<m:GetRoomsResponse ResponseClass="Success">'
            "<m:ResponseCode>NoError</m:ResponseCode>"
            "<m:Rooms>%s</m:Rooms></m:GetRoomsResponse>" % rooms)


# ---- GetUserAvailability ----------------------------------------------------

def _msg(code="NoError", text=None):
    if code == "NoError":
        return ('<m:ResponseMessage ResponseClass="Success">'
                "<m:ResponseCode>NoError</m:ResponseCode>"
                "</m:ResponseMessage>")
    return ('<m:ResponseMessage ResponseClass="Error">'
            "<m:MessageText>%s</m:MessageText>"
            "<m:ResponseCode>%s</m:ResponseCode>"
            "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
            "</m:ResponseMessage>" % (esc(text or text_of(code)), code))


def _window(zone, el, limit_days):
    a = zone.to_utc(ctext(el, T + "StartTime", ""))
    b = zone.to_utc(ctext(el, T + "EndTime", ""))
    if b <= a:
        raise Fault("ErrorInvalidTimeInterval",
                    "The end time must be later than the start time.")
    if b - a > datetime.timedelta(days=limit_days):
        raise Fault("ErrorTimeIntervalTooBig",
                    "The time window is longer than %d days." % limit_days)
    return a, b


def _working_hours():
    return ("<t:WorkingHours><t:TimeZone><t:Bias>0</t:Bias>"
            "<t:StandardTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time>"
            "<t:DayOrder>0</t:DayOrder><t:Month>0</t:Month>"
            "<t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime>"
            "<t:DaylightTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time>"
            "<t:DayOrder>0</t:DayOrder><t:Month>0</t:Month>"
            "<t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime>"
            "</t:TimeZone><t:WorkingPeriodArray><t:WorkingPeriod>"
            "<t:DayOfWeek>Monday Tuesday Wednesday Thursday Friday"
            "</t:DayOfWeek><t:StartTimeInMinutes>%d</t:StartTimeInMinutes>"
            "<t:EndTimeInMinutes>%d</t:EndTimeInMinutes></t:WorkingPeriod>"
            "</t:WorkingPeriodArray></t:WorkingHours>"
            % (WORK_START, WORK_END))


def _freebusy_view(zone, mb, a, b, interval, view):
    views = set((view or "FreeBusy").split())
    detailed = bool(views & {"Detailed", "DetailedMerged"})
    merged = bool(views & {"MergedOnly", "FreeBusyMerged",
                           "DetailedMerged"})
    events = occurrences(mb, a, b)
    answered = ("DetailedMerged" if detailed and merged else
                "Detailed" if detailed else
                "MergedOnly" if views == {"MergedOnly"} else
                "FreeBusyMerged" if merged else "FreeBusy")
    p = ["<m:FreeBusyView><t:FreeBusyViewType>%s</t:FreeBusyViewType>"
         % answered]
    if merged:
        digits = []
        t = a
        step = datetime.timedelta(minutes=interval)
        while t < b:
            digits.append(str(BUSY_TYPES.index(
                strongest(events, t, min(t + step, b)))))
            t += step
        p.append("<t:MergedFreeBusy>%s</t:MergedFreeBusy>"
                 % "".join(digits))
    if answered != "MergedOnly":
        p.append("<t:CalendarEventArray>")
        for s, e, typ, it in events:
            p.append("<t:CalendarEvent><t:StartTime>%s</t:StartTime>"
                     "<t:EndTime>%s</t:EndTime><t:BusyType>%s</t:BusyType>"
                     % (zone.text(s), zone.text(e), typ))
            if detailed:
                p.append("<t:CalendarEventDetails><t:ID>%s</t:ID>"
                         "<t:Subject>%s</t:Subject><t:Location/>"
                         "<t:IsMeeting>false</t:IsMeeting>"
                         "<t:IsRecurring>%s</t:IsRecurring>"
                         "<t:IsException>false</t:IsException>"
                         "<t:IsReminderSet>false</t:IsReminderSet>"
                         "<t:IsPrivate>false</t:IsPrivate>"
                         "</t:CalendarEventDetails>"
                         % (esc(it.id), esc(it.subject),
                            "true" if getattr(it, "rrule", None)
                            else "false"))
            p.append("</t:CalendarEvent>")
        p.append("</t:CalendarEventArray>")
        p.append(_working_hours())
    p.append("</m:FreeBusyView>")
    return "".join(p)


def _is_work(s, e):
    if s.weekday() >= 5 or s.date() != (e - datetime.timedelta(
            seconds=1)).date():
        return False
    m0 = s.hour * 60 + s.minute
    m1 = m0 + int((e - s).total_seconds() // 60)
    return WORK_START <= m0 and m1 <= WORK_END


def _int(el, name, default, lo, hi):
    v = int(ctext(el, T + name, str(default)))
    if not lo <= v <= hi:
        raise Fault("ErrorInvalidRequest",
                    "%s must be between %d and %d." % (name, lo, hi))
    return v


def _suggestions(zone, sv, mailboxes):
    good = _int(sv, "GoodThreshold", 25, 1, 49)
    per_day = _int(sv, "MaximumResultsByDay", 10, 0, 48)
    non_work = _int(sv, "MaximumNonWorkHourResultsByDay", 0, 0, 48)
    dur = datetime.timedelta(minutes=_int(sv, "MeetingDurationInMinutes",
                                          60, 30, 1440))
    min_q = QUALITIES.index(ctext(sv, T + "MinimumSuggestionQuality",
                                  "Fair"))
    a, b = _window(zone, child(sv, T + "DetailedSuggestionsWindow"),
                   MAX_SUGGESTION_DAYS)
    known = [m for m in mailboxes if m is not None]
    events = [occurrences(m, a, b) if m is not None else None
              for m in mailboxes]
    days = []
    day = zone.local(a).replace(hour=0, minute=0, second=0)
    step = datetime.timedelta(minutes=30)
    while True:
        d0 = zone.to_utc(day.strftime("%Y-%m-%dT%H:%M:%S"))
        if d0 >= b:
            break
        d1 = zone.to_utc((day + datetime.timedelta(days=1))
                         .strftime("%Y-%m-%dT%H:%M:%S"))
        cands = []
        t = max(a, d0)
        # a start on the half hour
        if t.minute % 30 or t.second:
            t = t.replace(minute=(t.minute // 30) * 30, second=0) + step
        while t < d1 and t + dur <= b:
            types = ["NoData" if ev is None else strongest(ev, t, t + dur)
                     for ev in events]
            n = sum(1 for x in types if x in CONFLICT)
            pct = 100.0 * n / len(known) if known else 100.0
            q = (0 if n == 0 else 1 if pct <= good else 2 if pct < 50
                 else 3)
            if q <= min_q:
                cands.append((q, t, _is_work(t, t + dur), types))
            t += step
        picked, nw = [], 0
        for cand in sorted(cands, key=lambda x: (x[0], x[1])):
            if len(picked) >= per_day:
                break
            if not cand[2]:
                if nw >= non_work:
                    continue
                nw += 1
            picked.append(cand)
        picked.sort(key=lambda x: x[1])
        dq = min((x[0] for x in picked), default=3)
        p = ["<t:SuggestionDayResult><t:Date>%s</t:Date>"
             "<t:DayQuality>%s</t:DayQuality><t:SuggestionArray>"
             % (day.strftime("%Y-%m-%dT%H:%M:%S"), QUALITIES[dq])]
        for q, t0, work, types in picked:
            p.append("<t:Suggestion><t:MeetingTime>%s</t:MeetingTime>"
                     "<t:IsWorkTime>%s</t:IsWorkTime>"
                     "<t:SuggestionQuality>%s</t:SuggestionQuality>"
                     "<t:AttendeeConflictDataArray>"
                     % (zone.text(t0), "true" if work else "false",
                        QUALITIES[q]))
            for typ in types:
                if typ == "NoData":
                    p.append("<t:UnknownAttendeeConflictData/>")
                else:
                    p.append("<t:IndividualAttendeeConflictData>"
                             "<t:BusyType>%s</t:BusyType>"
                             "</t:IndividualAttendeeConflictData>" % typ)
            p.append("</t:AttendeeConflictDataArray></t:Suggestion>")
        p.append("</t:SuggestionArray></t:SuggestionDayResult>")
        days.append("".join(p))
        day += datetime.timedelta(days=1)
    return ("<m:SuggestionsResponse>%s<m:SuggestionDayResultArray>%s"
            "</m:SuggestionDayResultArray></m:SuggestionsResponse>"
            % (_msg(), "".join(days)))


def op_GetUserAvailabilityRequest(ctx, el):
    zone = ReqZone(child(el, T + "TimeZone"))
    datas = list(child(el, M + "MailboxDataArray").iterfind(
        T + "MailboxData"))
    if not datas:
        raise Fault("ErrorInvalidRequest", "No mailbox was requested.")
    if len(datas) > MAX_MAILBOXES:
        raise Fault("ErrorExceededMaxRecipientLimit",
                    "More than %d mailboxes were requested."
                    % MAX_MAILBOXES)
    mailboxes = [room_mailbox(ctx.store, ctext(child(d, T + "Email"),
                                                T + "Address", ""))
                 for d in datas]
    fv = child(el, T + "FreeBusyViewOptions")
    sv = child(el, T + "SuggestionsViewOptions")
    if fv is None and sv is None:
        raise Fault("ErrorInvalidRequest",
                    "Neither FreeBusyViewOptions nor "
                    "SuggestionsViewOptions was given.")
    out = ["<m:GetUserAvailabilityResponse>"]
    if fv is not None:
        a, b = _window(zone, child(fv, T + "TimeWindow"), MAX_FREEBUSY_DAYS)
        interval = int(ctext(fv, T + "MergedFreeBusyIntervalInMinutes",
                             "30"))
        if not 5 <= interval <= 1440:
            raise Fault("ErrorInvalidMergedFreeBusyInterval",
                        "The merged free/busy interval must be between 5 "
                        "and 1440 minutes.")
        view = ctext(fv, T + "RequestedView", "FreeBusy")
        out.append("<m:FreeBusyResponseArray>")
        for mb in mailboxes:
            out.append("<m:FreeBusyResponse>")
            if mb is None:
                out.append(_msg("ErrorMailRecipientNotFound",
                                "No mailbox with such guid or address "
                                "was found."))
                out.append("<m:FreeBusyView><t:FreeBusyViewType>None"
                           "</t:FreeBusyViewType></m:FreeBusyView>")
            else:
                out.append(_msg())
                out.append(_freebusy_view(zone, mb, a, b, interval, view))
            out.append("</m:FreeBusyResponse>")
        out.append("</m:FreeBusyResponseArray>")
    if sv is not None:
        out.append(_suggestions(zone, sv, mailboxes))
    out.append("</m:GetUserAvailabilityResponse>")
    return "".join(out)


# ---- GetServerTimeZones (exchangelib asks before GetUserAvailability) ----

def op_GetServerTimeZones(ctx, el):
    """UTC only: the zone of every mailbox of the mock."""
    ids = [x.text for x in el.iter(T + "Id")]
    if ids and any(i != "UTC" for i in ids):
        return ("<m:GetServerTimeZonesResponse><m:ResponseMessages>"
                '<m:GetServerTimeZonesResponseMessage ResponseClass="Error">'
                "<m:MessageText>The specified time zone isn't valid."
                "</m:MessageText><m:ResponseCode>ErrorTimeZone"
                "</m:ResponseCode><m:DescriptiveLinkKey>0"
                "</m:DescriptiveLinkKey><m:TimeZoneDefinitions/>"
                "</m:GetServerTimeZonesResponseMessage>"
                "</m:ResponseMessages></m:GetServerTimeZonesResponse>")
    rule = "trule:Microsoft/Registry/UTC/1-Standard"
    return ("<m:GetServerTimeZonesResponse><m:ResponseMessages>"
            '<m:GetServerTimeZonesResponseMessage ResponseClass="Success">'
            "<m:ResponseCode>NoError</m:ResponseCode><m:TimeZoneDefinitions>"
            '<t:TimeZoneDefinition Id="UTC" Name="(UTC) Coordinated '
            'Universal Time"><t:Periods><t:Period Bias="PT0M" '
            'Name="Standard" Id="%s"/></t:Periods><t:TransitionsGroups>'
            '<t:TransitionsGroup Id="0"><t:Transition><t:To Kind="Period">'
            "%s</t:To></t:Transition></t:TransitionsGroup>"
            "</t:TransitionsGroups><t:Transitions><t:Transition>"
            '<t:To Kind="Group">0</t:To></t:Transition></t:Transitions>'
            "</t:TimeZoneDefinition></m:TimeZoneDefinitions>"
            "</m:GetServerTimeZonesResponseMessage></m:ResponseMessages>"
            "</m:GetServerTimeZonesResponse>" % (rule, rule))


OPERATIONS = {"GetServerTimeZones": op_GetServerTimeZones,
              "GetRoomLists": op_GetRoomLists, "GetRooms": op_GetRooms,
              "GetUserAvailabilityRequest": op_GetUserAvailabilityRequest}
