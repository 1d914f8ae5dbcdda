"""Meetings of the mock EWS server (tests/mock/ews_server.py): calendar
items with attendees, as Exchange handles them.

  * CreateItem of a CalendarItem with RequiredAttendees,
    OptionalAttendees or Resources, sent (SendMeetingInvitations
    SendOnlyToAll or SendToAllAndSaveCopy): the organizer's item keeps
    the attendees (ResponseType Unknown until they answer), and every
    attendee with a mailbox here gets a t:MeetingRequest in the Inbox and
    a tentative copy in the calendar (MyResponseType
    NoResponseReceived).  Rooms of the directory (ews_freebusy.ROOMS)
    answer at once: Accept when their calendar is free over the meeting,
    Decline when it is busy.
  * CreateItem of AcceptItem, TentativelyAcceptItem or DeclineItem with a
    ReferenceItemId (the attendee's calendar item or meeting request):
    the organizer's item records the answer and its time; a decline
    drops the attendee's copy.  A cancelled meeting answers
    ErrorCalendarIsCancelledFor{Accept,Tentative,Decline}.
  * UpdateItem of the organizer's item, sent to the attendees: their
    copies follow; a new time asks everyone again (answers reset, rooms
    answer again); removed attendees' copies are cancelled, new ones
    invited.
  * CreateItem of CancelCalendarItem (organizer): attendees' copies
    become IsCancelled, the organizer's item leaves the calendar.

Everything here is called with Store.lock held by the caller.
"""
from ews_store import Item, esc, iso, now_utc

from ews_calendar import CalError, CalendarItem

KINDS = ("RequiredAttendees", "OptionalAttendees", "Resources")
ANSWERS = {"AcceptItem": "Accept", "TentativelyAcceptItem": "Tentative",
           "DeclineItem": "Decline"}
CANCELLED_ERR = {"Accept": "ErrorCalendarIsCancelledForAccept",
                 "Tentative": "ErrorCalendarIsCancelledForTentative",
                 "Decline": "ErrorCalendarIsCancelledForDecline"}


class Attendee:
    def __init__(self, address, name=None):
        self.address = (address or "").strip()
        self.name = name
        self.response = "Unknown"
        self.last_response = None

    def xml(self):
        p = ["<t:Attendee><t:Mailbox>"]
        if self.name:
            p.append("<t:Name>%s</t:Name>" % esc(self.name))
        p.append("<t:EmailAddress>%s</t:EmailAddress><t:RoutingType>SMTP"
                 "</t:RoutingType></t:Mailbox>" % esc(self.address))
        p.append("<t:ResponseType>%s</t:ResponseType>" % self.response)
        if self.last_response is not None:
            p.append("<t:LastResponseTime>%s</t:LastResponseTime>"
                     % iso(self.last_response))
        p.append("</t:Attendee>")
        return "".join(p)


def parse_attendees(el):
    """The t:Attendee children of RequiredAttendees/... -> [Attendee]."""
    out = []
    for a in el:
        mb = a[0] if len(a) else None
        if mb is None:
            continue
        addr = name = None
        for c in mb:
            n = c.tag.split("}")[1]
            if n == "EmailAddress":
                addr = (c.text or "").strip()
            elif n == "Name":
                name = c.text
        if not addr:
            raise CalError("ErrorInvalidRecipients",
                           "An attendee has no EmailAddress.")
        out.append(Attendee(addr, name))
    return out


def attendees_xml(it, has):
    """Organizer and the three attendee lists (schema order)."""
    p = []
    if it.organizer and has("calendar:Organizer"):
        p.append("<t:Organizer><t:Mailbox><t:EmailAddress>%s"
                 "</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>"
                 "</t:Mailbox></t:Organizer>" % esc(it.organizer))
    for k in KINDS:
        lst = it.attendees.get(k) or []
        if lst and has("calendar:" + k):
            p.append("<t:%s>%s</t:%s>" % (k, "".join(a.xml() for a in lst),
                                          k))
    return "".join(p)


class MeetingRequest(Item):
    """A meeting request in an attendee's Inbox."""

    def __init__(self, mailbox, folder_id, cal):
        super().__init__(mailbox, folder_id)
        self.item_class = "IPM.Schedule.Meeting.Request"
        self.subject = cal.subject
        self.body = cal.body
        self.is_read = False
        self.associated = None   # the attendee's calendar item id

    def xml(self, shape, folder=None, embedded=False, finditem=False):
        x = super().xml(shape, folder, embedded, finditem)
        if x.startswith("<t:Item>") and x.endswith("</t:Item>"):
            x = "<t:MeetingRequest>" + x[8:-9] + "</t:MeetingRequest>"
        return x


def _all(it):
    return [(k, a) for k in KINDS for a in it.attendees.get(k) or []]


def _copy(it, mb, folder_id):
    c = CalendarItem(mb.address, folder_id)
    for k in ("subject", "body", "body_type", "categories", "start", "end",
              "is_all_day", "rrule", "pattern", "location", "start_tz",
              "end_tz", "uid", "organizer"):
        v = getattr(it, k)
        setattr(c, k, list(v) if isinstance(v, list) else v)
    c.attendees = {k: [Attendee(a.address, a.name) for a in lst]
                   for k, lst in it.attendees.items()}
    return c


def _busy(mb, it):
    """Whether room mb's calendar is busy over it (its first
    occurrence), as free/busy shows it."""
    import ews_freebusy   # it imports ews_ops, which imports this module
    return any(t in ("Busy", "OOF", "Tentative") and
               not getattr(x, "is_cancelled", False)
               for _, _, t, x in ews_freebusy.occurrences(mb, it.start,
                                                          it.end))


def _copies(store, it):
    """(mailbox, item) of every attendee copy of the organizer's it."""
    for mb in store.mailboxes.values():
        for c in mb.items.values():
            if isinstance(c, CalendarItem) and c is not it and \
                    c.uid == it.uid and c.my_response != "Organizer":
                yield mb, c


def deliver(store, it, rooms, room_mailbox):
    """Invitations of it (the organizer's item, just saved)."""
    it.my_response = "Organizer"
    it.meeting_request_sent = True
    for kind, a in _all(it):
        addr = a.address.lower()
        if addr == (it.organizer or "").lower():
            continue
        mb = room_mailbox(store, addr) if addr in rooms else \
            store.mailbox(addr)
        if mb is None:
            continue
        if addr in rooms:
            now = now_utc()
            if _busy(mb, it):
                a.response, a.last_response = "Decline", now
                continue
            a.response, a.last_response = "Accept", now
            c = _copy(it, mb, mb.by_wk["calendar"].id)
            c.my_response = "Accept"
            mb.items[c.id] = c
            continue
        c = _copy(it, mb, mb.by_wk["calendar"].id)
        c.my_response = "NoResponseReceived"
        c.legacy_free_busy = "Tentative"
        mb.items[c.id] = c
        inbox = mb.by_wk["inbox"]
        r = MeetingRequest(mb.address, inbox.id, it)
        r.associated = c.id
        mb.items[r.id] = r


def updated(store, it, before, send, rooms, room_mailbox):
    """An UpdateItem of the organizer's it (sent: SendToAllAndSaveCopy,
    SendOnlyToAll, SendToChangedAndSaveCopy, SendOnlyToChanged): every
    attendee's copy follows it; a new time asks everyone again (answers
    reset to Unknown, copies to NoResponseReceived); removed attendees'
    copies are cancelled, new attendees invited.  before: the
    (start, end, rrule, {address: Attendee}) of it before the change."""
    if not send or send == "SendToNone":
        return
    moved = (it.start, it.end, it.rrule) != before[:3]
    old = before[3]
    now = {a.address.lower() for _, a in _all(it)}
    for _, a in _all(it):
        prev = old.get(a.address.lower())
        if moved:
            a.response, a.last_response = "Unknown", None
        elif prev is not None:
            a.response, a.last_response = prev.response, prev.last_response
    for mb, c in list(_copies(store, it)):
        if mb.address.lower() not in now:
            c.is_cancelled = True
            c.touch()
            continue
        if moved and mb.address.lower() in rooms:
            del mb.items[c.id]   # asked again below
            continue
        for k in ("subject", "body", "body_type", "categories", "start",
                  "end", "is_all_day", "rrule", "pattern", "location",
                  "start_tz", "end_tz"):
            v = getattr(it, k)
            setattr(c, k, list(v) if isinstance(v, list) else v)
        c.attendees = {k: [Attendee(a.address, a.name) for a in lst]
                       for k, lst in it.attendees.items()}
        if moved:
            c.my_response = "NoResponseReceived"
            c.legacy_free_busy = "Tentative"
        c.touch()
    have = {mb.address.lower() for mb, _ in _copies(store, it)}
    fresh = [(k, a) for k, a in _all(it)
             if a.address.lower() not in have and
             (moved or a.address.lower() not in old)]
    if fresh:
        keep = {k: list(v) for k, v in it.attendees.items()}
        it.attendees = {}
        for k, a in fresh:
            it.attendees.setdefault(k, []).append(a)
        deliver(store, it, rooms, room_mailbox)
        it.attendees = keep


def organizer_item(store, it):
    """The organizer's item of an attendee copy, or None."""
    org = store.mailbox(it.organizer or "")
    if org is None:
        return None
    for c in org.items.values():
        if isinstance(c, CalendarItem) and c.uid == it.uid and \
                c.my_response == "Organizer":
            return c
    return None


def respond(store, mb, ref, kind):
    """An AcceptItem/TentativelyAcceptItem/DeclineItem of mailbox mb on
    the item ref (a calendar item or meeting request)."""
    answer = ANSWERS[kind]
    it = ref
    if isinstance(ref, MeetingRequest):
        it = mb.items.get(ref.associated or "")
        if it is None:
            raise CalError("ErrorItemNotFound",
                           "The meeting request's calendar item is gone.")
    if not isinstance(it, CalendarItem) or not it.organizer:
        raise CalError("ErrorInvalidReferenceItem",
                       "The reference item is not a meeting.")
    if it.my_response == "Organizer":
        raise CalError("ErrorInvalidReferenceItem",
                       "The organizer cannot respond to the meeting.")
    if it.is_cancelled:
        raise CalError(CANCELLED_ERR[answer],
                       "The meeting has been cancelled.")
    now = now_utc()
    org = organizer_item(store, it)
    if org is not None:
        for _, a in _all(org):
            if a.address.lower() == mb.address.lower():
                a.response, a.last_response = answer, now
        org.touch()
    for r in list(mb.items.values()):
        if isinstance(r, MeetingRequest) and r.associated == it.id:
            del mb.items[r.id]
    if answer == "Decline":
        del mb.items[it.id]
    else:
        it.my_response = answer
        it.legacy_free_busy = "Busy" if answer == "Accept" else "Tentative"
        it.touch()


def cancel(store, mb, it):
    """A CancelCalendarItem of the organizer's item it."""
    if not isinstance(it, CalendarItem) or it.my_response != "Organizer" \
            or not _all(it):
        raise CalError("ErrorInvalidReferenceItem",
                       "The reference item is not a meeting this mailbox "
                       "organizes.")
    for amb, c in list(_copies(store, it)):
        c.is_cancelled = True
        c.subject = "Canceled: " + (c.subject or "")
        c.touch()
    del mb.items[it.id]

