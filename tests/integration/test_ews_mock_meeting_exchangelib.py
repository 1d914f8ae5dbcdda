#!/usr/bin/python3
"""The mock EWS server's meetings (tests/mock/ews_meeting.py) answer like
Exchange: exchangelib 4.9.0 (Debian python3-exchangelib), an independent
EWS client, creates a meeting as its organizer (CreateItem with
attendees, SendToAllAndSaveCopy), finds the invitation as an attendee
(a MeetingRequest in the Inbox, a copy in the calendar), accepts it with
accept() and declines it as another attendee from the meeting request,
and reads the answers back from the organizer's item (ResponseType,
LastResponseTime; the free room answered by itself); it then changes the
meeting (the copies follow) and cancels it, and an answer to it fails as
Exchange's does.  Neither its requests nor the mock's answers break
Microsoft's schema."""
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
                             BASIC, UTC, CalendarItem, EWSDateTime,
                             EWSTimeZone)
    from exchangelib.items import MeetingRequest
    from exchangelib.properties import Attendee, Mailbox
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


def att(addr):
    return Attendee(mailbox=Mailbox(email_address=addr))


def meeting_round(ews):
    alice = account(ews, "alice@example.test")
    bob = account(ews, "bob@example.test")
    carol = account(ews, "carol@example.test")
    m = CalendarItem(
        account=alice, folder=alice.calendar, subject="Roadmap <&>",
        start=EWSDateTime(2027, 4, 6, 10, 0, tzinfo=BERLIN),
        end=EWSDateTime(2027, 4, 6, 11, 0, tzinfo=BERLIN),
        required_attendees=[att("bob@example.test")],
        optional_attendees=[att("carol@example.test")],
        resources=[att("room-a@example.test")])
    m.save(send_meeting_invitations="SendToAllAndSaveCopy")
    c.ok(m.id and m.changekey, "CreateItem with attendees: an ItemId")

    # the attendee's side
    reqs = [i for i in bob.inbox.all() if isinstance(i, MeetingRequest)]
    c.eq([r.subject for r in reqs], ["Roadmap <&>"],
         "a MeetingRequest in the attendee's Inbox")
    copies = list(bob.calendar.all())
    c.eq([(i.subject, i.my_response_type, i.is_meeting) for i in copies],
         [("Roadmap <&>", "NoResponseReceived", True)],
         "a copy in the attendee's calendar, not answered yet")
    c.eq(copies and copies[0].organizer.email_address,
         "alice@example.test", "the copy names the organizer")
    copies[0].accept(body="Fine")
    got = bob.calendar.get(id=copies[0].id)
    c.eq(got.my_response_type, "Accept", "accept(): the copy is accepted")
    c.eq([i for i in bob.inbox.all() if isinstance(i, MeetingRequest)], [],
         "accept(): the request leaves the Inbox")

    creq = [i for i in carol.inbox.all() if isinstance(i, MeetingRequest)]
    c.eq(len(creq), 1, "the optional attendee's request")
    if creq:
        creq[0].decline()
    c.eq(list(carol.calendar.all()), [],
         "decline() from the request: the copy leaves the calendar")

    # the organizer's side
    org = alice.calendar.get(id=m.id)
    c.eq(org.my_response_type, "Organizer", "the organizer's item")
    ans = {a.mailbox.email_address: a for a in
           (org.required_attendees or []) + (org.optional_attendees or []) +
           (org.resources or [])}
    c.eq({k: v.response_type for k, v in ans.items()},
         {"bob@example.test": "Accept", "carol@example.test": "Decline",
          "room-a@example.test": "Accept"},
         "the organizer's item records every answer (the room's too)")
    c.ok(all(v.last_response_time for v in ans.values()),
         "... each with its LastResponseTime")

    # an update reaches the attendees' copies
    org.subject = "Roadmap 2"
    org.save(update_fields=["subject"],
             send_meeting_invitations="SendToAllAndSaveCopy")
    c.eq(bob.calendar.get(id=copies[0].id).subject, "Roadmap 2",
         "UpdateItem sent to all: the attendee's copy follows")

    # cancel; an answer to the cancelled meeting fails
    org = alice.calendar.get(id=m.id)
    org.cancel(body="Sorry")
    got = bob.calendar.get(id=copies[0].id)
    c.eq(got.is_cancelled, True, "cancel(): the attendee's copy is cancelled")
    c.eq([i.id for i in alice.calendar.all()], [],
         "cancel(): gone from the organizer's calendar")
    try:
        got.tentatively_accept()
        c.ok(False, "an answer to a cancelled meeting fails")
    except Exception as e:
        c.ok("CancelledForTentative" in type(e).__name__ + str(e),
             "an answer to a cancelled meeting fails "
             "(ErrorCalendarIsCancelledForTentative)", repr(e))


def main():
    with MockEWS(["--auth", "basic", "--validate-responses"]) as ews:
        try:
            meeting_round(ews)
        except Exception as e:
            import traceback
            traceback.print_exc()
            c.ok(False, "meeting round completed", repr(e))
        s = ews.stats()
        c.eq(s["violations"], [], "no request broke the schema")
        c.eq(s["response_violations"], [],
             "no answer of the mock broke the schema")
        c.eq(s["internal_errors"], [], "no defect of the mock met")
    c.done()


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    main()
