#!/usr/bin/python3
"""Real-world messages through mapi-stub: the messages of Python's own
email test data (Debian libpython3.11-testsuite, test/test_email/data) are
put in a store's Maildir as another mail tool would, listed and loaded
through svcbrokerd, and compared with what /usr/bin/python3's email package
reads from the same bytes: Subject, From, To and Cc, the text and HTML
bodies, the names and sizes of the attachments.  A message neither side
can make sense of must still list and load (a best-effort row), never
fail the call or the daemon."""
import base64
import email
import email.policy
import glob
import mailbox
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)
DATA = "/usr/lib/python3.11/test/test_email/data"
FILES = sorted(glob.glob(os.path.join(DATA, "msg_*.txt")))
if not FILES:
    print("# %s: no messages (apt-get install libpython3.11-testsuite)" % DATA)
    sys.exit(sbtest.SKIP)

BOB = "bob@example.test"
top = sbtest.tempdir("mime-corpus-")
store = os.path.join(top, "store")
CONF = ("[module mapi-stub]\nenabled = yes\n\n[instance local]\n"
        "broker = mapi-stub\nstore_dir = %s\nmailboxes = %s\n"
        "quota = 1GiB\nmax_message_size = 8MiB\n" % (store, BOB))

CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def norm_text(s):
    """Text as both sides may give it: LF line ends, control characters
    dropped (the store drops them), trailing white space of each line and
    of the whole ignored."""
    if s is None:
        return ""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = CTRL.sub("", s)
    return "\n".join(x.rstrip() for x in s.split("\n")).strip("\n ")


def norm_header(s):
    """Header text: control characters dropped, white space collapsed
    (unfolding and the space between encoded-words differ by reader)."""
    if s is None:
        return ""
    return " ".join(CTRL.sub("", str(s)).split())


def addrs(msg, name):
    """The addresses of every field of that name (a message with two To
    fields has the addresses of both)."""
    out = []
    try:
        for h in msg.get_all(name) or ():
            for a in (getattr(h, "addresses", None) or ()):
                spec = a.addr_spec
                if "@" in spec and " " not in spec and spec.isprintable():
                    out.append(spec)
    except Exception:  # noqa: BLE001 - an unreadable field has no address
        pass
    return out


def text_of(part):
    try:
        return part.get_content()
    except Exception:  # noqa: BLE001 - unknown charset: as the store does
        raw = part.get_payload(decode=True) or b""
        return raw.decode("utf-8", "replace")


def python_view(raw):
    """What the store should show, by Python's reading and the store's
    rules: the first text/plain and text/html leaves that are no
    attachment are the bodies; every other leaf, and each attached message
    (not descended into), is an attachment."""
    m = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [type(x).__name__ for p in m.walk() for x in p.defects]
    v = {"defects": defects, "Subject": norm_header(m.get("Subject", "")),
         "From": (addrs(m, "From") or [None])[0],
         "To": addrs(m, "To"), "Cc": addrs(m, "Cc"),
         "Body": None, "HtmlBody": None, "Attachments": []}

    def walk(part, depth):
        ct = part.get_content_type()
        if part.is_multipart() and ct.startswith("multipart/"):
            for sub in part.get_payload():
                walk(sub, depth + 1)
            return
        fname = part.get_filename()
        disp = part.get_content_disposition()
        is_plain, is_html = ct == "text/plain", ct == "text/html"
        attach = (disp == "attachment" or fname or not (is_plain or is_html)
                  or (is_plain and v["Body"] is not None)
                  or (is_html and v["HtmlBody"] is not None))
        if not attach:
            v["Body" if is_plain else "HtmlBody"] = text_of(part)
            return
        size = None
        if not ct.startswith("message/"):
            size = len(part.get_payload(decode=True) or b"")
        name = os.path.basename((fname or "").replace("\\", "/")) or None
        v["Attachments"].append((name, size))

    walk(m, 0)
    return v


def store_view(row):
    atts = []
    for a in row.get("Attachments", []):
        atts.append((a.get("Name"), len(base64.b64decode(a.get("Content", "")))))
    return {"Subject": norm_header(row.get("Subject", "")),
            "From": row.get("From"), "To": row.get("To", []),
            "Cc": row.get("Cc", []), "Body": row.get("Body"),
            "HtmlBody": row.get("HtmlBody"), "Attachments": atts}


def differences(ours, theirs):
    d = []
    for k in ("Subject", "From", "To", "Cc"):
        if ours[k] != theirs[k]:
            d.append("%s: %r, Python %r" % (k, ours[k], theirs[k]))
    if theirs["defects"]:
        # broken MIME (Python reports defects: a boundary never found, a
        # missing blank line, parts nested under their parent's boundary):
        # every reader makes its own best of the structure, so only the
        # header fields are compared; the row must load all the same
        return d
    for k in ("Body", "HtmlBody"):
        if norm_text(ours[k]) != norm_text(theirs[k]):
            d.append("%s: %r, Python %r" % (k, norm_text(ours[k])[:120],
                                            norm_text(theirs[k])[:120]))
    if len(ours["Attachments"]) != len(theirs["Attachments"]):
        d.append("Attachments: %r, Python %r" % (ours["Attachments"],
                                                 theirs["Attachments"]))
    else:
        for (on, osz), (tn, tsz) in zip(ours["Attachments"],
                                        theirs["Attachments"]):
            # a name the message gives must be the same (the store makes
            # one up for the others); a size, except for attached messages
            # (written again, line ends may differ)
            if tn is not None and on != tn:
                d.append("attachment name %r, Python %r" % (on, tn))
            if tsz is not None and osz != tsz:
                d.append("attachment %r: %d bytes, Python %d" % (tn or on, osz, tsz))
    return d


with sbtest.Daemon(CONF) as d:
    inbox = os.path.join(store, BOB, "Inbox")
    st, b = d.call("local/Email.List", {"Mailbox": BOB})
    t.eq(st, 200, "the store is up")
    md = mailbox.Maildir(inbox, factory=None, create=False)
    compared, broken, differing, failed = 0, 0, [], []
    for path in FILES:
        name = os.path.basename(path)
        raw = open(path, "rb").read()
        key = md.add(raw)
        st, b = d.call("local/Email.List", {"Mailbox": BOB, "PageSize": 1000})
        listed = {r.get("Id"): r for r in b.get("rows", [])} if st == 200 else {}
        st2, b2 = d.call("local/Email.Load", {"Mailbox": BOB, "Id": key})
        rows = b2.get("rows", []) if isinstance(b2, dict) else []
        if st != 200 or key not in listed or st2 != 200 or not rows:
            failed.append("%s: List %s, Load %s %r" % (name, st, st2,
                                                       b2 if st2 != 200 else ""))
            continue
        ours = store_view(rows[0])
        try:
            theirs = python_view(raw)
        except Exception as e:  # noqa: BLE001 - Python cannot read it either
            print("# %s: Python's email cannot read it (%s); loaded as a "
                  "best-effort row" % (name, e))
            continue
        compared += 1
        broken += bool(theirs["defects"])
        # List shows the same subject as Load
        if norm_header(listed[key].get("Subject", "")) != ours["Subject"]:
            differing.append("%s: List's Subject %r, Load's %r" % (
                name, listed[key].get("Subject"), ours["Subject"]))
        diff = differences(ours, theirs)
        if diff:
            differing.append("%s: %s" % (name, "; ".join(diff)))
    t.eq(failed, [], "every message of the corpus lists and loads (%d)"
         % len(FILES))
    t.ok(compared >= len(FILES) - 2, "Python's email reads nearly all of them",
         "%d of %d" % (compared, len(FILES)))
    t.eq(differing, [], "the store reads each as Python's email does: "
         "Subject, From, To, Cc, bodies, attachment names and sizes "
         "(%d messages, %d of them broken MIME: header fields only)"
         % (compared, broken))
    code = d.stop()
    log = d.read_log()
    bad = [w for w in ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                       "Invalid read", "Invalid write") if w in log]
    t.ok(code == 0 and not bad, "corpus daemon: exits 0 with a clean log",
         "(exit %r, %r)\n%s" % (code, bad, log[-3000:]))

shutil.rmtree(top, ignore_errors=True)
t.done()
