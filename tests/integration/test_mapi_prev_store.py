"""mapi-stub keeps reading a store written by release 0.1.0: the
appointments and tasks in tests/integration/mapi-store-0.1.0 (UTC times,
the zone name in X-SVCBROKER-TIMEZONE, escaped TEXT, VALARM reminders,
VTODO status kept in X-SVCBROKER-STATUS) are listed and loaded exactly as
that release showed them (expected.json, ChangeKeys left out: they depend
on the files' inodes), and a task of that store can still be completed."""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)

ALICE = "alice@example.test"
fixture = os.path.join(os.environ.get("top_srcdir", "."), "tests", "integration",
                       "mapi-store-0.1.0")
with open(os.path.join(fixture, "expected.json"), encoding="utf-8") as f:
    expected = json.load(f)
top = sbtest.tempdir("mapi-prev-")
store = os.path.join(top, "store")
os.makedirs(store)
for sub in ("Calendar", "Tasks"):
    shutil.copytree(os.path.join(fixture, sub), os.path.join(store, ALICE, sub))
    for name in os.listdir(os.path.join(store, ALICE, sub)):
        os.chmod(os.path.join(store, ALICE, sub, name), 0o600)
conf = ("[module mapi-stub]\nenabled = yes\n\n[instance local]\nbroker = mapi-stub\n"
        "store_dir = %s\nmailboxes = %s\nquota = 100MiB\n" % (store, ALICE))


def rows(body):
    return body.get("rows", []) if isinstance(body, dict) else []


def strip(rs):
    out = []
    for r in rs:
        r = dict(r)
        t.ok(len(r.pop("ChangeKey", "")) == 32, "%s has a ChangeKey" % r.get("Id"))
        out.append(r)
    return out


with sbtest.Daemon(conf) as d:
    for obj in ("Appointment", "Task"):
        st, b = d.call("local/%s.List" % obj, {})
        t.eq(st, 200, "%s.List of the 0.1.0 store" % obj)
        t.eq(strip(rows(b)), expected[obj], "%s.List shows what 0.1.0 showed" % obj)
        for want in expected[obj]:
            st, b = d.call("local/%s.Load" % obj, {"Id": want["Id"]})
            t.eq((st, strip(rows(b))), (200, [want]),
                 "%s.Load %s as 0.1.0 showed it" % (obj, want.get("Subject")))
    # A window still selects by the UTC times the old files carry.
    st, b = d.call("local/Appointment.List", {
        "WindowStart": "2026-12-01T08:30:00Z", "WindowEnd": "2026-12-01T09:00:00Z"})
    t.eq([r.get("Subject") for r in rows(b)], ["Review; budget, Q3 \\ final — Ü"],
         "a window over the old files")
    # Completing a task of the old store rewrites it; it reads back the same
    # but completed.
    old = [r for r in expected["Task"] if r["Status"] == "InProgress"][0]
    st, b = d.call("local/Task.Complete", {"Id": old["Id"]})
    t.eq(st, 200, "Task.Complete on a 0.1.0 task")
    st, b = d.call("local/Task.Load", {"Id": old["Id"]})
    got = strip(rows(b))
    want = dict(old, Status="Completed", PercentComplete=100)
    t.eq(got, [want], "the completed 0.1.0 task keeps its other fields")

shutil.rmtree(top, ignore_errors=True)
t.done()
