#!/usr/bin/python3
"""A store written by the release before MIME moved to GMime loads as it
did: tests/integration/data/mime-store-v1 holds the message files that
release's mapi-stub wrote (Send with Unicode, HTML, attachments with a
long non-ASCII name, a Bcc kept in the sender's copy; a Reply with
In-Reply-To and References) and what its Email.List and Email.Load
answered (expected.json; made by make.py there).  The current build must
answer the same for the same files."""
import base64
import hashlib
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                    "mime-store-v1")
KEEP = ("Subject", "From", "To", "Cc", "Bcc", "ReplyTo", "Body", "HtmlBody",
        "Importance", "MessageId", "HasAttachments", "Sent")


def summary(row):
    out = {k: row[k] for k in KEEP if k in row}
    if "Attachments" in row:
        out["Attachments"] = [
            {"Name": a.get("Name"), "ContentType": a.get("ContentType"),
             "sha256": hashlib.sha256(base64.b64decode(a.get("Content", ""))).hexdigest()}
            for a in row["Attachments"]]
    return out


expected = json.load(open(os.path.join(DATA, "expected.json"), encoding="utf-8"))
top = sbtest.tempdir("mime-old-store-")
store = os.path.join(top, "store")
shutil.copytree(os.path.join(DATA, "maildir"), store)
# the source tree may be read-only (make distcheck): the copy is the
# store's own, writable as the daemon's files are
for dirpath, dirs, files in os.walk(store):
    os.chmod(dirpath, 0o700)
    for f in files:
        os.chmod(os.path.join(dirpath, f), 0o600)
mailboxes = sorted({k.split("/")[0] for k in expected})
CONF = ("[module mapi-stub]\nenabled = yes\n\n[instance local]\n"
        "broker = mapi-stub\nstore_dir = %s\nmailboxes = %s\n"
        % (store, ", ".join(mailboxes)))

with sbtest.Daemon(CONF) as d:
    lists = {}
    for key, want in sorted(expected.items()):
        mb, folder, ident = key.split("/")
        if (mb, folder) not in lists:
            st, b = d.call("local/Email.List", {"Mailbox": mb, "Folder": folder})
            lists[mb, folder] = {r.get("Id"): r for r in b.get("rows", [])} \
                if st == 200 else {}
        row = lists[mb, folder].get(ident)
        t.eq(summary(row) if row else None, want["list"],
             "List %s as the previous release listed it" % key)
        st, b = d.call("local/Email.Load", {"Mailbox": mb, "Id": ident})
        got = summary(b["rows"][0]) if st == 200 and b.get("rows") else None
        t.eq(got, want["load"], "Load %s as the previous release loaded it" % key)
    code = d.stop()
    t.ok(code == 0, "old-store daemon exits 0", "exit %r" % code)

shutil.rmtree(top, ignore_errors=True)
t.done()
