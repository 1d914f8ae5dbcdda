#!/usr/bin/python3
"""How this fixture was made (not run by the tests): a store written by
the release before MIME moved to GMime (hand-written builder and reader in
libsvcbroker), and that release's answers.

    make.py --build OLD_BUILD_DIR

Sends a few messages with the old daemon, then copies every message file
of the store here (maildir/<mailbox>/<folder>/<file>) and writes what the
old daemon's Email.List and Email.Load answered for each
(expected.json).  tests/integration/test_mime_old_store.py loads the same
files with the current build and compares."""
import argparse
import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    opts = ap.parse_args()
    os.environ["top_builddir"] = os.path.abspath(opts.build)
    os.environ["top_srcdir"] = TOP
    import sbtest

    store = tempfile.mkdtemp(prefix="mime-store-v1-")
    cfg = ("[module mapi-stub]\nenabled = yes\n\n[instance local]\n"
           "broker = mapi-stub\nstore_dir = %s\nmailboxes = %s, %s, %s\n"
           % (store, ALICE, BOB, CAROL))
    with sbtest.Daemon(cfg) as d:
        def send(inputs):
            st, b = d.call("local/Email.Send", inputs)
            assert st == 200, (st, b)
        send({"To": [BOB], "Cc": [CAROL], "Bcc": [CAROL],
              "ReplyTo": ["replies@example.test"],
              "Subject": "Grüße aus Köln — Тест 测试 ✓ " + "long words " * 8,
              "Body": "Hallo Bob,\n\nein Gruß mit Ümläuten, € und 测试.\n"
                      "trailing space \n=3D stays\n.\nFrom the start\n",
              "HtmlBody": "<p>Hallo <b>Bob</b> — €</p>",
              "Importance": "High",
              "Attachments": [
                  {"Name": "data.bin", "ContentType": "application/octet-stream",
                   "Content": base64.b64encode(bytes(range(256)) * 40).decode()},
                  {"Name": "résumé — Ünïcödé 東京 very long attachment name "
                           "for folding over several RFC 2231 sections.pdf",
                   "ContentType": "application/pdf",
                   "Content": base64.b64encode(b"%PDF-1.4\n" * 50).decode()}]})
        send({"To": [BOB], "Subject": "plain ASCII, low importance",
              "Body": "x" * 300 + "\nno final line break", "Importance": "Low"})
        send({"To": [BOB, CAROL], "Subject": "Zoë's \"quoted\" name",
              "Body": "Ünïcödé only\n", "HtmlBody": "<p>only HTML 😀</p>\n"})
        st, b = d.call("local/Email.List", {"Mailbox": BOB})
        first = [r["Id"] for r in b["rows"] if r.get("Subject", "").startswith("Grüße")][0]
        st, b = d.call("local/Email.Reply", {"Mailbox": BOB, "Id": first,
                                             "Body": "Danke!"})
        assert st == 200, (st, b)

        expected = {}
        for mb in (ALICE, BOB, CAROL):
            for folder in ("Inbox", "sentitems", "Drafts"):
                st, b = d.call("local/Email.List", {"Mailbox": mb, "Folder": folder})
                if st != 200:
                    continue
                for r in b.get("rows", []):
                    st2, b2 = d.call("local/Email.Load", {"Mailbox": mb, "Id": r["Id"]})
                    assert st2 == 200, (st2, b2)
                    expected["%s/%s/%s" % (mb, folder, r["Id"])] = {
                        "list": summary(r), "load": summary(b2["rows"][0])}
    out = os.path.join(HERE, "maildir")
    shutil.rmtree(out, ignore_errors=True)
    for key in expected:
        mb, folder, ident = key.split("/")
        src = None
        for root, _, files in os.walk(os.path.join(store, mb)):
            for f in files:
                if f.split(":")[0] == ident and os.path.basename(root) in ("cur", "new"):
                    src = os.path.join(root, f)
        assert src, key
        dst = os.path.join(out, mb, os.path.relpath(src, os.path.join(store, mb)))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(src, dst)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    main()
