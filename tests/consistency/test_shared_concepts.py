"""Shared concepts are equal: every broker object named Email,
Appointment, Meeting, MeetingAttendee, Task or Folder publishes exactly the
shared property table of <svcbroker/schema.h> (names and their order,
types, multi, choices).

The shared tables themselves are checked against what the design says
(BROKERS.md): ChangeKey right after Id in Email, Appointment and Task;
Recurrence (one RRULE text) in Appointment and Meeting; Meeting is
Appointment's properties followed by its own; MeetingAttendee's kinds and
answers; the answers of a meeting and of its attendees are one choice set.

The shared tables come from the library itself, printed as JSON by
tests/consistency/shared_schema_json (built by make check); the brokers'
objects from `svcbrokerd --list-brokers`.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consistency_lib as cl  # noqa: E402

CONCEPTS = ("Email", "Appointment", "Meeting", "MeetingAttendee", "Task",
            "Folder")

APPOINTMENT = ["Id", "ChangeKey", "Subject", "Body", "Location", "Start",
               "End", "TimeZone", "IsAllDay", "Reminder", "Categories",
               "Recurrence"]
RESPONSES = ["Unknown", "Organizer", "Tentative", "Accept", "Decline",
             "NoResponseReceived"]
# Meeting's own properties after Appointment's: (name, type, multi, choices)
MEETING_OWN = [("Organizer", "email", False, None),
               ("RequiredAttendees", "email", True, None),
               ("OptionalAttendees", "email", True, None),
               ("Resources", "email", True, None),
               ("ResponseStatus", "enum", False, RESPONSES)]
ATTENDEE = [("Email", "email", False, None),
            ("Kind", "enum", False, ["Required", "Optional", "Resource"]),
            ("ResponseStatus", "enum", False, RESPONSES),
            ("LastResponseTime", "datetime", False, None)]
TASK = ["Id", "ChangeKey", "Subject", "Body", "StartDate", "DueDate",
        "Status", "PercentComplete", "Importance", "Owner"]


def shape(p):
    """What must be equal for one property."""
    return {"name": p.get("name"), "type": p.get("type"),
            "multi": bool(p.get("multi")),
            "choices": p.get("choices") if p.get("type") == "enum" else None}


def check_definitions(t, shared):
    """The shared tables say what BROKERS.md says."""
    sh = {c: [shape(q) for q in shared.get(c) or []] for c in CONCEPTS}
    names = {c: [q["name"] for q in sh[c]] for c in CONCEPTS}
    for c in ("Email", "Appointment", "Task"):
        t.eq(names[c][:2], ["Id", "ChangeKey"],
             "shared %s table: ChangeKey right after Id" % c)
        ck = [q for q in sh[c] if q["name"] == "ChangeKey"]
        t.ok(ck and ck[0]["type"] == "text" and not ck[0]["multi"],
             "shared %s table: ChangeKey is a single text" % c, repr(ck))
    t.eq(names["Appointment"], APPOINTMENT,
         "shared Appointment table: the properties of the design, in order")
    t.eq(names["Task"], TASK,
         "shared Task table: the properties of the design, in order")
    n_appt = len(sh["Appointment"])
    t.eq(sh["Meeting"][:n_appt], sh["Appointment"],
         "shared Meeting table starts with Appointment's properties "
         "(names, order, types)")
    t.eq([(q["name"], q["type"], q["multi"], q["choices"])
          for q in sh["Meeting"][n_appt:]], MEETING_OWN,
         "shared Meeting table: then Organizer, RequiredAttendees, "
         "OptionalAttendees, Resources, ResponseStatus")
    t.eq([(q["name"], q["type"], q["multi"], q["choices"])
          for q in sh["MeetingAttendee"]], ATTENDEE,
         "shared MeetingAttendee table: Email, Kind, ResponseStatus, "
         "LastResponseTime")
    for c in ("Appointment", "Meeting"):
        rec = [q for q in shared.get(c) or [] if q["name"] == "Recurrence"]
        t.ok(len(rec) == 1 and rec[0]["type"] == "text"
             and not rec[0]["multi"] and "RRULE" in (rec[0]["doc"] or ""),
             "shared %s table: Recurrence is one RRULE text" % c, repr(rec))
    for c in CONCEPTS:
        if c not in ("Appointment", "Meeting"):
            t.ok("Recurrence" not in names[c],
                 "shared %s table: no Recurrence" % c)


def describe_difference(want, got):
    """Human lines saying how the published table differs."""
    lines = []
    wn = [p["name"] for p in want]
    gn = [p["name"] for p in got]
    missing = [n for n in wn if n not in gn]
    extra = [n for n in gn if n not in wn]
    if missing:
        lines.append("missing: %s" % ", ".join(missing))
    if extra:
        lines.append("not in the shared table: %s" % ", ".join(extra))
    gd = {p["name"]: p for p in got}
    for w in want:
        g = gd.get(w["name"])
        if g is None:
            continue
        for field in ("type", "multi", "choices"):
            if g[field] != w[field]:
                lines.append("%s: %s is %r, the shared table says %r"
                             % (w["name"], field, g[field], w[field]))
    if not lines and wn != gn:
        lines.append("same properties in another order: %s" % ", ".join(gn))
    return lines


def main():
    prog = os.path.join(cl.TOP_BUILDDIR, "tests", "consistency",
                        "shared_schema_json")
    t = cl.Checks()
    p = subprocess.run([prog], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    t.ok(p.returncode == 0 and not cl.sanitizer_report(err),
         "shared_schema_json prints the shared tables",
         "(exit %d)\n%s" % (p.returncode, err))
    shared = json.loads(p.stdout.decode("utf-8"))
    t.eq(sorted(shared), sorted(CONCEPTS),
         "the shared tables are %s" % ", ".join(CONCEPTS))
    for concept in CONCEPTS:
        table = shared.get(concept) or []
        names = [q["name"] for q in table]
        t.ok(len(table) > 0 and len(set(names)) == len(names),
             "shared %s table: non-empty, names unique" % concept,
             "(%s)" % ", ".join(names))
        t.ok(all(q["type"] for q in table)
             and all(q["choices"] for q in table if q["type"] == "enum"),
             "shared %s table: every property typed, enums with choices"
             % concept)
    check_definitions(t, shared)

    if not cl.built_brokers():
        print("# no broker module built: no broker object to compare")
        t.done()
    with tempfile.TemporaryDirectory(prefix="sbshared-") as tmp:
        brokers, _ = cl.list_modules(tmp)
    compared = {c: [] for c in CONCEPTS}
    for b in brokers:
        for obj in b.get("objects", []):
            concept = obj.get("name")
            if concept not in shared:
                continue
            want = [shape(q) for q in shared[concept]]
            got = [shape(q) for q in obj.get("properties", [])]
            compared[concept].append(b["name"])
            t.ok(got == want,
                 "%s publishes %s with the shared property table"
                 % (b["name"], concept),
                 "\n#   " + "\n#   ".join(describe_difference(want, got)))
    for concept in CONCEPTS:
        print("# %s published by: %s" % (
            concept, ", ".join(compared[concept]) or "no broker built here"))
    t.done()


if __name__ == "__main__":
    main()
