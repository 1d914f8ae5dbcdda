"""The calendar of the mock EWS server (tests/mock/ews_server.py), as
Exchange keeps it: calendar items (single appointments and recurring
series) in a mailbox's "calendar" folder, created, read, changed and
deleted with CreateItem, GetItem, UpdateItem and DeleteItem, listed with
FindItem (series masters and single items) or a CalendarView (every
occurrence overlapping a window, each with an ItemId of its own).

Data contract (other parts of the mock read these): a calendar item is a
CalendarItem (an ews_store.Item) in the mailbox's "calendar" folder with
  start, end          timezone-aware UTC datetimes (of a series: its
                      first occurrence)
  is_all_day          bool
  legacy_free_busy    Free, Tentative, Busy, OOF, WorkingElsewhere or
                      NoData (default Busy)
  rrule               an RRULE string without "RRULE:" (UNTIL in UTC),
                      or None
  exdates             aware UTC datetimes of deleted occurrences
  exceptions          original start (aware UTC) -> dict of the fields
                      an UpdateItem on that occurrence changed (start,
                      end, subject, location, body, body_type,
                      legacy_free_busy): a modified occurrence
  location            text
and occurrences(item, window_start, window_end) yields the (start, end)
pairs of the item overlapping the window.

Everything here is called with Store.lock held by the caller.
"""
import base64
import copy
import datetime
import hashlib
import zoneinfo

from dateutil import rrule as du_rrule

from ews_store import (NS_T, Item, attr, esc, iso, parse_iso, tf)

T = "{%s}" % NS_T
UTC = datetime.timezone.utc

FREE_BUSY = ("Free", "Tentative", "Busy", "OOF", "WorkingElsewhere",
             "NoData")

# Windows time zone ids the mock knows -> IANA (for expanding series in
# their local time); any other id is kept and expanded as UTC.
WINDOWS_ZONES = {
    "UTC": "UTC",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "Russian Standard Time": "Europe/Moscow",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Tokyo Standard Time": "Asia/Tokyo",
    "China Standard Time": "Asia/Shanghai",
    "India Standard Time": "Asia/Kolkata",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
    "Tonga Standard Time": "Pacific/Tongatapu",
    "Line Islands Standard Time": "Pacific/Kiritimati",
    "Dateline Standard Time": "Etc/GMT+12",
}

# Every other Windows id Exchange knows, from exchangelib's table when it
# is installed (the mock's own list above wins).
try:
    from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP as _MS
    for _k, _v in _MS.items():
        WINDOWS_ZONES.setdefault(_k, _v)
except ImportError:
    pass

# Exchange refuses a CalendarView longer than this.
MAX_VIEW = datetime.timedelta(days=731)
# At most this many occurrences of one series are looked at per view.
MAX_EXPAND = 5000

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
        "Sunday"]
RR_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
INDEX = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


class CalError(Exception):
    """A per-message error (ews_ops turns it into MsgError)."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code, self.text = code, text


def zone_of(ms_id):
    try:
        return zoneinfo.ZoneInfo(WINDOWS_ZONES.get(ms_id or "UTC", "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


class CalendarItem(Item):
    def __init__(self, mailbox, folder_id):
        super().__init__(mailbox, folder_id)
        self.item_class = "IPM.Appointment"
        self.is_read = True
        self.start = self.end = datetime.datetime.now(UTC).replace(
            microsecond=0)
        self.is_all_day = False
        self.legacy_free_busy = "Busy"
        self.rrule = None
        self.exdates = []
        self.exceptions = {}
        self.location = ""
        self.start_tz = "UTC"
        self.end_tz = "UTC"
        self.reminder_set = True
        self.reminder_minutes = 15
        self.uid = hashlib.sha1(self.id.encode()).hexdigest()
        self.pattern = None      # the EWS Recurrence (dict), as given
        self.organizer = None    # address, of a meeting
        # of a meeting (ews_meeting.py): kind -> [ews_meeting.Attendee]
        self.attendees = {}
        self.my_response = "Organizer"
        self.is_cancelled = False
        self.meeting_request_sent = False

    # ---- what EWS shows ----
    def to_json(self, with_attachments=True):
        d = super().to_json(with_attachments)
        d.update({"start": iso(self.start), "end": iso(self.end),
                  "is_all_day": self.is_all_day,
                  "legacy_free_busy": self.legacy_free_busy,
                  "rrule": self.rrule,
                  "exdates": [iso(x) for x in self.exdates],
                  "exceptions": {iso(k): {f: (iso(x) if f in ("start", "end")
                                              else x)
                                          for f, x in v.items()}
                                 for k, v in self.exceptions.items()},
                  "location": self.location, "start_tz": self.start_tz,
                  "end_tz": self.end_tz,
                  "body": self.body, "organizer": self.organizer,
                  "my_response": self.my_response,
                  "is_cancelled": self.is_cancelled,
                  "attendees": {k: [{"address": a.address,
                                     "response": a.response}
                                    for a in v]
                                for k, v in self.attendees.items()}})
        return d

    def xml(self, shape, folder=None, embedded=False, finditem=False,
            occurrence=None):
        """occurrence: (id, start, end, original_start) of one occurrence
        of the series, shown as Exchange shows it."""
        def has(uri, default=True):
            if finditem and uri in ("item:Body", "calendar:Recurrence"):
                return False
            return shape.has(uri, default)
        ident = occurrence[0] if occurrence else self.id
        start = occurrence[1] if occurrence else self.start
        end = occurrence[2] if occurrence else self.end
        exc = self.exceptions.get(occurrence[3]) if occurrence else None
        exc = exc or {}
        subject = exc.get("subject", self.subject)
        body = exc.get("body", self.body)
        body_type = exc.get("body_type", self.body_type)
        location = exc.get("location", self.location)
        lfb = exc.get("legacy_free_busy", self.legacy_free_busy)
        p = ["<t:CalendarItem>"]
        p.append('<t:ItemId Id="%s" ChangeKey="%s"/>' % (
            attr(ident), attr(self.change_key)))
        if folder is not None and has("item:ParentFolderId"):
            p.append('<t:ParentFolderId Id="%s" ChangeKey="%s"/>'
                     % (attr(folder.id), attr(folder.change_key)))
        if has("item:ItemClass"):
            p.append("<t:ItemClass>%s</t:ItemClass>" % esc(self.item_class))
        if has("item:Subject"):
            p.append("<t:Subject>%s</t:Subject>" % esc(subject))
        if has("item:Sensitivity"):
            p.append("<t:Sensitivity>%s</t:Sensitivity>"
                     % esc(self.sensitivity))
        if has("item:Body"):
            p.append('<t:Body BodyType="%s" IsTruncated="false">%s</t:Body>'
                     % (body_type, esc(body)))
        if has("item:DateTimeReceived"):
            p.append("<t:DateTimeReceived>%s</t:DateTimeReceived>"
                     % iso(self.received))
        if has("item:Size"):
            p.append("<t:Size>%d</t:Size>" % self.size())
        if self.categories and has("item:Categories"):
            p.append("<t:Categories>%s</t:Categories>" % "".join(
                "<t:String>%s</t:String>" % esc(c) for c in self.categories))
        if has("item:Importance"):
            p.append("<t:Importance>%s</t:Importance>" % esc(self.importance))
        if has("item:DateTimeCreated"):
            p.append("<t:DateTimeCreated>%s</t:DateTimeCreated>"
                     % iso(self.created))
        if has("item:ReminderIsSet"):
            p.append("<t:ReminderIsSet>%s</t:ReminderIsSet>"
                     % tf(self.reminder_set))
        if has("item:ReminderMinutesBeforeStart"):
            p.append("<t:ReminderMinutesBeforeStart>%d"
                     "</t:ReminderMinutesBeforeStart>"
                     % self.reminder_minutes)
        if has("item:LastModifiedTime"):
            p.append("<t:LastModifiedTime>%s</t:LastModifiedTime>"
                     % iso(self.modified))
        if has("calendar:UID"):
            p.append("<t:UID>%s</t:UID>" % esc(self.uid))
        if occurrence and has("calendar:RecurrenceId"):
            p.append("<t:RecurrenceId>%s</t:RecurrenceId>"
                     % iso(occurrence[3]))
        if has("calendar:Start"):
            p.append("<t:Start>%s</t:Start>" % iso(start))
        if has("calendar:End"):
            p.append("<t:End>%s</t:End>" % iso(end))
        if occurrence and has("calendar:OriginalStart"):
            p.append("<t:OriginalStart>%s</t:OriginalStart>"
                     % iso(occurrence[3]))
        if has("calendar:IsAllDayEvent"):
            p.append("<t:IsAllDayEvent>%s</t:IsAllDayEvent>"
                     % tf(self.is_all_day))
        if has("calendar:LegacyFreeBusyStatus"):
            p.append("<t:LegacyFreeBusyStatus>%s</t:LegacyFreeBusyStatus>"
                     % lfb)
        if location and has("calendar:Location"):
            p.append("<t:Location>%s</t:Location>" % esc(location))
        meeting = bool(self.organizer)
        if has("calendar:IsMeeting"):
            p.append("<t:IsMeeting>%s</t:IsMeeting>" % tf(meeting))
        if has("calendar:IsCancelled"):
            p.append("<t:IsCancelled>%s</t:IsCancelled>"
                     % tf(self.is_cancelled))
        if has("calendar:IsRecurring"):
            p.append("<t:IsRecurring>%s</t:IsRecurring>"
                     % tf(occurrence is not None))
        if has("calendar:CalendarItemType"):
            kind = ("Exception" if exc else "Occurrence") if occurrence \
                else \
                ("RecurringMaster" if self.pattern else "Single")
            p.append("<t:CalendarItemType>%s</t:CalendarItemType>" % kind)
        if has("calendar:MyResponseType"):
            p.append("<t:MyResponseType>%s</t:MyResponseType>"
                     % (self.my_response if meeting else "Organizer"))
        if meeting:
            import ews_meeting
            p.append(ews_meeting.attendees_xml(self, has))
        if self.pattern and not occurrence and has("calendar:Recurrence"):
            p.append(pattern_xml(self.pattern))
        mods = sorted((k, v) for k, v in self.exceptions.items()
                      if k not in self.exdates)
        if mods and not occurrence and \
                has("calendar:ModifiedOccurrences"):
            p.append("<t:ModifiedOccurrences>%s</t:ModifiedOccurrences>"
                     % "".join(
                         '<t:Occurrence><t:ItemId Id="%s" ChangeKey="%s"/>'
                         "<t:Start>%s</t:Start><t:End>%s</t:End>"
                         "<t:OriginalStart>%s</t:OriginalStart>"
                         "</t:Occurrence>" % (
                             attr(occurrence_id(self, k)),
                             attr(self.change_key), iso(v["start"]),
                             iso(v["end"]), iso(k))
                         for k, v in mods))
        if self.exdates and not occurrence and \
                has("calendar:DeletedOccurrences"):
            p.append("<t:DeletedOccurrences>%s</t:DeletedOccurrences>"
                     % "".join("<t:DeletedOccurrence><t:Start>%s</t:Start>"
                               "</t:DeletedOccurrence>" % iso(x)
                               for x in self.exdates))
        if has("calendar:StartTimeZone"):
            p.append('<t:StartTimeZone Id="%s" Name="%s"/>'
                     % (attr(self.start_tz), attr(self.start_tz)))
        if has("calendar:EndTimeZone"):
            p.append('<t:EndTimeZone Id="%s" Name="%s"/>'
                     % (attr(self.end_tz), attr(self.end_tz)))
        p.append("</t:CalendarItem>")
        return "".join(p)


# ---- recurrence ---------------------------------------------------------

def _t(el, name):
    c = el.find(T + name)
    return c.text.strip() if c is not None and c.text else None


def parse_pattern(rec):
    """A t:Recurrence element -> dict (kind, fields, range)."""
    pat = rec[0]
    rng = rec[1]
    d = {"kind": pat.tag.split("}")[1], "range": rng.tag.split("}")[1],
         "start_date": _t(rng, "StartDate")[:10]}
    for k in ("Interval", "DaysOfWeek", "FirstDayOfWeek", "DayOfWeekIndex",
              "DayOfMonth", "Month"):
        v = _t(pat, k)
        if v is not None:
            d[k] = v
    if d["range"] == "EndDateRecurrence":
        d["end_date"] = _t(rng, "EndDate")[:10]
    if d["range"] == "NumberedRecurrence":
        d["count"] = int(_t(rng, "NumberOfOccurrences"))
    if "Interval" in d and int(d["Interval"]) < 1:
        raise CalError("ErrorInvalidRecurrence", "Interval must be 1 or more.")
    return d


def pattern_xml(d):
    p = ["<t:Recurrence><t:%s>" % d["kind"]]
    # the schema's order per pattern
    order = {
        "DailyRecurrence": ["Interval"],
        "WeeklyRecurrence": ["Interval", "DaysOfWeek", "FirstDayOfWeek"],
        "AbsoluteMonthlyRecurrence": ["Interval", "DayOfMonth"],
        "RelativeMonthlyRecurrence": ["Interval", "DaysOfWeek",
                                      "DayOfWeekIndex"],
        "AbsoluteYearlyRecurrence": ["DayOfMonth", "Month"],
        "RelativeYearlyRecurrence": ["DaysOfWeek", "DayOfWeekIndex",
                                     "Month"],
    }[d["kind"]]
    for k in order:
        if k in d:
            p.append("<t:%s>%s</t:%s>" % (k, esc(d[k]), k))
    p.append("</t:%s><t:%s><t:StartDate>%s</t:StartDate>"
             % (d["kind"], d["range"], d["start_date"]))
    if d["range"] == "EndDateRecurrence":
        p.append("<t:EndDate>%s</t:EndDate>" % d["end_date"])
    if d["range"] == "NumberedRecurrence":
        p.append("<t:NumberOfOccurrences>%d</t:NumberOfOccurrences>"
                 % d["count"])
    p.append("</t:%s></t:Recurrence>" % d["range"])
    return "".join(p)


def _days(value):
    out = []
    for v in value.split():
        if v == "Day":
            out += RR_DAYS
        elif v == "Weekday":
            out += RR_DAYS[:5]
        elif v == "WeekendDay":
            out += RR_DAYS[5:]
        else:
            out.append(RR_DAYS[DAYS.index(v)])
    return out


def pattern_rrule(d, tz):
    """The RRULE of an EWS pattern (UNTIL: the end of EndDate in the
    item's zone, in UTC)."""
    k = d["kind"]
    parts = []
    if k == "DailyRecurrence":
        parts.append("FREQ=DAILY")
    elif k == "WeeklyRecurrence":
        parts.append("FREQ=WEEKLY")
        parts.append("BYDAY=" + ",".join(_days(d["DaysOfWeek"])))
        if d.get("FirstDayOfWeek") in DAYS:
            parts.append("WKST=" + RR_DAYS[DAYS.index(d["FirstDayOfWeek"])])
    elif k in ("AbsoluteMonthlyRecurrence", "AbsoluteYearlyRecurrence"):
        parts.append("FREQ=MONTHLY" if "Monthly" in k else "FREQ=YEARLY")
        parts.append("BYMONTHDAY=%d" % int(d["DayOfMonth"]))
    else:
        parts.append("FREQ=MONTHLY" if "Monthly" in k else "FREQ=YEARLY")
        parts.append("BYDAY=" + ",".join(_days(d["DaysOfWeek"])))
        parts.append("BYSETPOS=%d" % INDEX[d["DayOfWeekIndex"]])
    if "Yearly" in k:
        parts.append("BYMONTH=%d" % (MONTHS.index(d["Month"]) + 1))
    elif int(d.get("Interval", "1")) > 1:
        parts.insert(1, "INTERVAL=%d" % int(d["Interval"]))
    if d["range"] == "NumberedRecurrence":
        parts.append("COUNT=%d" % d["count"])
    elif d["range"] == "EndDateRecurrence":
        end = datetime.datetime.fromisoformat(d["end_date"]).replace(
            hour=23, minute=59, second=59, tzinfo=tz).astimezone(UTC)
        parts.append("UNTIL=" + end.strftime("%Y%m%dT%H%M%SZ"))
    return ";".join(parts)


def _series_start(item):
    """The first occurrence's local start: the range's StartDate at the
    item's local time of day."""
    tz = zone_of(item.start_tz)
    local = item.start.astimezone(tz)
    if item.pattern:
        sd = datetime.date.fromisoformat(item.pattern["start_date"])
        if sd > local.date():
            local = datetime.datetime.combine(sd, local.timetz())
    return local


def occurrences(item, window_start, window_end):
    """(start, end) pairs (aware UTC) of item overlapping
    [window_start, window_end): the item itself, or each occurrence of
    its series but the deleted ones (a modified one at its new time)."""
    for _, s, e in expand(item, window_start, window_end):
        yield s, e


def _overlaps(s, e, window_start, window_end):
    return s < window_end and e > window_start or \
        (s == e and window_start <= s < window_end)


def expand(item, window_start, window_end):
    """(original start, start, end) of each occurrence of item
    overlapping the window, by start (of a single item: its own start
    as the original)."""
    if not item.rrule:
        if _overlaps(item.start, item.end, window_start, window_end):
            yield item.start, item.start, item.end
        return
    out = list(_expand_series(item, window_start, window_end))
    for orig, exc in item.exceptions.items():
        if orig not in item.exdates and \
                _overlaps(exc["start"], exc["end"], window_start,
                          window_end):
            out.append((orig, exc["start"], exc["end"]))
    out.sort(key=lambda x: (x[1], x[2]))
    yield from out


def _expand_series(item, window_start, window_end):
    """The unmodified occurrences of a series in the window."""
    dur = item.end - item.start
    dtstart = _series_start(item)
    rule = du_rrule.rrulestr(item.rrule, dtstart=dtstart)
    ex = set(item.exdates)
    n = 0
    for occ in rule:
        n += 1
        if n > MAX_EXPAND:
            break
        # wall-clock arithmetic: the local time is kept across DST
        s = occ.replace(tzinfo=dtstart.tzinfo).astimezone(UTC) \
            if occ.tzinfo is None else occ.astimezone(UTC)
        if s >= window_end:
            break
        e = s + dur
        if s in ex or s in item.exceptions:
            continue
        if e > window_start or (dur == datetime.timedelta(0) and
                                s >= window_start):
            yield s, s, e


# ---- occurrence ids ---------------------------------------------------------

OCCURRENCES = {}   # occurrence id -> (master id, original start)


def occurrence_id(item, start):
    raw = b"\x00\x03\x24\x00O\x00" + hashlib.sha1(
        (item.id + iso(start)).encode()).digest()
    ident = base64.b64encode(raw).decode()
    OCCURRENCES[ident] = (item.id, start)
    return ident


def find_occurrence(store, ident):
    """(mailbox, master, start) of an occurrence id, or None."""
    ref = OCCURRENCES.get(ident or "")
    if ref is None:
        return None
    mb, it = store.find_item(ref[0])
    if it is None or ref[1] in it.exdates:
        return None
    return mb, it, ref[1]


def occurrence_by_index(store, master_id, index):
    """(mailbox, master, original start, occurrence id) of the
    InstanceIndex-th occurrence (1-based, over the pattern) of a series,
    as an OccurrenceItemId names it; raises CalError as Exchange answers,
    or returns None when master_id is no calendar item."""
    mb, it = store.find_item(master_id or "")
    if not isinstance(it, CalendarItem):
        return None
    if not it.rrule or index < 1 or index > MAX_EXPAND:
        raise CalError("ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
                       "Occurrence index is out of recurrence range.")
    dtstart = _series_start(it)
    rule = du_rrule.rrulestr(it.rrule, dtstart=dtstart)
    n = 0
    for occ in rule:
        n += 1
        if n == index:
            s = occ.replace(tzinfo=dtstart.tzinfo).astimezone(UTC) \
                if occ.tzinfo is None else occ.astimezone(UTC)
            if s in it.exdates:
                raise CalError(
                    "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
                    "Occurrence with this index was previously deleted "
                    "from the recurrence.")
            return mb, it, s, occurrence_id(it, s)
    raise CalError("ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
                   "Occurrence index is out of recurrence range.")


# ---- reading requests -------------------------------------------------------

def fill(it, el, updating=False):
    """Set it from a t:CalendarItem element (CreateItem, or the holder of
    an UpdateItem SetItemField)."""
    for c in el:
        name = c.tag.split("}")[1] if isinstance(c.tag, str) else None
        if name == "Subject":
            it.subject = c.text or ""
        elif name == "Body":
            it.body = c.text or ""
            it.body_type = c.get("BodyType") or "Text"
        elif name == "Categories":
            it.categories = [s.text or "" for s in c]
        elif name == "Importance":
            it.importance = c.text
        elif name == "Sensitivity":
            it.sensitivity = c.text
        elif name == "ReminderIsSet":
            it.reminder_set = (c.text or "").strip() in ("true", "1")
        elif name == "ReminderMinutesBeforeStart":
            it.reminder_minutes = int(c.text)
        elif name == "UID":
            it.uid = c.text or it.uid
        elif name == "Start":
            it.start = parse_iso(c.text).astimezone(UTC)
        elif name == "End":
            it.end = parse_iso(c.text).astimezone(UTC)
        elif name == "IsAllDayEvent":
            it.is_all_day = (c.text or "").strip() in ("true", "1")
        elif name == "LegacyFreeBusyStatus":
            it.legacy_free_busy = c.text
        elif name == "Location":
            it.location = c.text or ""
        elif name == "Recurrence":
            it.pattern = parse_pattern(c)
        elif name in ("RequiredAttendees", "OptionalAttendees",
                      "Resources"):
            import ews_meeting
            it.attendees[name] = ews_meeting.parse_attendees(c)
        elif name in ("StartTimeZone", "MeetingTimeZone"):
            it.start_tz = c.get("Id") or it.start_tz
            if name == "MeetingTimeZone" or updating is False and \
                    it.end_tz == "UTC":
                it.end_tz = it.start_tz
        elif name == "EndTimeZone":
            it.end_tz = c.get("Id") or it.end_tz


def clear(it, uri):
    if uri == "item:Body":
        it.body = ""
    elif uri == "item:Categories":
        it.categories = []
    elif uri == "calendar:Location":
        it.location = ""
    elif uri == "calendar:Recurrence":
        it.pattern = None
        it.exdates = []
        it.exceptions = {}
    elif uri == "item:Subject":
        it.subject = ""
    elif uri == "item:ReminderIsSet":
        it.reminder_set = False
    elif uri in ("calendar:RequiredAttendees", "calendar:OptionalAttendees",
                 "calendar:Resources"):
        it.attendees.pop(uri.split(":")[1], None)


def settle(it):
    """Check an item as Exchange does after a change, and derive rrule."""
    if it.end < it.start:
        raise CalError("ErrorCalendarEndDateIsEarlierThanStartDate",
                       "EndDate is earlier than StartDate")
    if it.start_tz not in WINDOWS_ZONES:
        raise CalError("ErrorCalendarInvalidTimeZone",
                       "The time zone %s is not valid." % it.start_tz)
    if it.legacy_free_busy not in FREE_BUSY:
        it.legacy_free_busy = "Busy"
    it.rrule = pattern_rrule(it.pattern, zone_of(it.start_tz)) \
        if it.pattern else None


def create(owner_folder, mailbox, el):
    it = CalendarItem(mailbox, owner_folder.id)
    fill(it, el)
    settle(it)
    return it


def update(it, updates, local):
    """The t:Updates of an UpdateItem on a calendar item (a new time or
    pattern of a series drops its modified occurrences, as Exchange
    does)."""
    before = (it.start, it.end, it.pattern, it.start_tz)
    for up in updates:
        uri = up[0].get("FieldURI")
        if local(up) == "DeleteItemField":
            clear(it, uri)
            continue
        holder = up[1] if len(up) > 1 else None
        if holder is None or len(holder) != 1:
            raise CalError("ErrorIncorrectUpdatePropertyCount",
                           "An object within a change description must "
                           "contain one and only one property to modify.")
        fill(it, holder, updating=True)
    settle(it)
    if (it.start, it.end, it.pattern, it.start_tz) != before:
        it.exceptions = {}


def view(mb, folder, cal_view):
    """The entries of a CalendarView: (item, occurrence or None) sorted
    by start; raises CalError for a bad range."""
    ws = parse_iso(cal_view.get("StartDate")).astimezone(UTC)
    we = parse_iso(cal_view.get("EndDate")).astimezone(UTC)
    if we < ws:
        raise CalError("ErrorCalendarEndDateIsEarlierThanStartDate",
                       "EndDate is earlier than StartDate")
    if we - ws > MAX_VIEW:
        raise CalError("ErrorCalendarViewRangeTooBig",
                       "The count of calendar entries in the range "
                       "exceeds the maximum allowed (two years).")
    out = []
    for it in mb.items_in(folder.id):
        if not isinstance(it, CalendarItem):
            continue
        for orig, s, e in expand(it, ws, we):
            if it.rrule:
                out.append((s, it.seq, it,
                            (occurrence_id(it, orig), s, e, orig)))
            else:
                out.append((s, it.seq, it, None))
    out.sort(key=lambda x: (x[0], x[1]))
    return [(x[2], x[3]) for x in out]


def delete_occurrence(store, ident):
    """DeleteItem of an occurrence id: the series leaves it out.  True
    when ident was one."""
    ref = find_occurrence(store, ident)
    if ref is None:
        return False
    mb, it, start = ref
    it.exdates.append(start)
    it.exceptions.pop(start, None)
    it.touch()
    return True


def occurrence_view(it, ident, orig):
    """The occurrence tuple CalendarItem.xml takes, for the occurrence
    of it that was at orig (modified or not)."""
    exc = it.exceptions.get(orig)
    if exc:
        return (ident, exc["start"], exc["end"], orig)
    return (ident, orig, orig + (it.end - it.start), orig)


# what an UpdateItem on an occurrence may change (Exchange refuses the
# series' fields there)
OCCURRENCE_FIELDS = ("start", "end", "subject", "location", "body",
                     "body_type", "legacy_free_busy")
NOT_ON_OCCURRENCE = {"calendar:Recurrence", "calendar:RequiredAttendees",
                     "calendar:OptionalAttendees", "calendar:Resources",
                     "calendar:UID"}


def update_occurrence(it, orig, updates, local):
    """UpdateItem on an occurrence id: the changed fields are kept as an
    exception of that occurrence; the series is left as it is."""
    for up in updates:
        if up[0].get("FieldURI") in NOT_ON_OCCURRENCE:
            raise CalError("ErrorInvalidPropertySet",
                           "%s cannot be changed on one occurrence."
                           % up[0].get("FieldURI"))
    cur = it.exceptions.get(orig, {})
    proxy = copy.copy(it)
    proxy.attendees = dict(it.attendees)
    proxy.start = orig
    proxy.end = orig + (it.end - it.start)
    for f in OCCURRENCE_FIELDS:
        if f in cur:
            setattr(proxy, f, cur[f])
    for up in updates:
        uri = up[0].get("FieldURI")
        if local(up) == "DeleteItemField":
            clear(proxy, uri)
            continue
        holder = up[1] if len(up) > 1 else None
        if holder is None or len(holder) != 1:
            raise CalError("ErrorIncorrectUpdatePropertyCount",
                           "An object within a change description must "
                           "contain one and only one property to modify.")
        fill(proxy, holder, updating=True)
    if proxy.end < proxy.start:
        raise CalError("ErrorCalendarEndDateIsEarlierThanStartDate",
                       "EndDate is earlier than StartDate")
    if proxy.legacy_free_busy not in FREE_BUSY:
        proxy.legacy_free_busy = "Busy"
    it.exceptions[orig] = {f: getattr(proxy, f) for f in OCCURRENCE_FIELDS}
