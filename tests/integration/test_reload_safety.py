"""A reload applies only if every instance of the new configuration
opens: otherwise the old generation keeps serving and the log says why.
At start-up an instance whose open fails is kept and reported by
/v1/health; its error text stays there even when the broker's message is
not UTF-8 (invalid bytes become U+FFFD)."""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

BASE = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = first
"""

# A new instance that fails to open, and t1 changed as well.
FAILING = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = changed

[instance broken]
broker = testmod
label = broken
open_fail = yes
"""

SMTP_BAD = BASE + """
[module smtp]
enabled = yes

[instance mail]
broker = smtp
url = smtp://127.0.0.1:9
from = sender@example.com
auth = plain
"""

BAD_TEXT = BASE + """
[instance bad]
broker = testmod
label = bad
open_fail = yes
open_fail_text = caf\\xe9 \\xff\\xfe end
"""


def write_config(d, body):
    with open(d.config) as f:
        text = f.read()
    server = text.split("\n[module", 1)[0]
    tmp = d.config + ".new"
    with open(tmp, "w") as f:
        f.write(server + "\n" + body)
    os.replace(tmp, d.config)


def label(d):
    st, body = d.call("t1/Instance.Info", {})
    return body["rows"][0].get("Label") if st == 200 else st


def generation(d):
    st, body = d.get("/v1/health")
    return body.get("generation") if st == 200 else None


def refused(t, d, body, name, why):
    before = d.read_log().count("reload refused")
    write_config(d, body)
    d.signal(signal.SIGHUP)
    t.ok(sbtest.wait_for(lambda: d.read_log().count("reload refused") >
                         before, timeout=15),
         "%s: the reload is refused" % name, d.read_log()[-2000:])
    t.ok(why in d.read_log(), "%s: the log says why" % name,
         d.read_log()[-1500:])
    t.eq(label(d), "first", "%s: the old instance keeps answering 200" % name)
    t.eq(generation(d), 1, "%s: the old generation keeps serving" % name)
    st, body = d.get("/v1/health")
    names = [i["name"] for i in body.get("instances", [])]
    t.eq(names, ["t1"], "%s: health lists only the old instances" % name)


def main():
    t = sbtest.Checks()
    with sbtest.Daemon(BASE) as d:
        t.eq(label(d), "first", "t1 answers before the reload")
        refused(t, d, FAILING, "open fails",
                "[instance broken] did not open: upstream_error: open_fail "
                "is set")
        # smtp's validate() refuses it before anything is opened
        refused(t, d, SMTP_BAD, "smtp auth = plain without username",
                "[instance mail] username: required when auth = plain")
        # a good reload still applies afterwards
        write_config(d, BASE.replace("label = first", "label = first"))
        d.signal(signal.SIGHUP)
        t.ok(sbtest.wait_for(lambda: generation(d) == 2, timeout=15),
             "a good reload after refused ones applies")
        t.eq(label(d), "first", "and its instance answers")

    # start-up keeps a failed instance, reported with valid UTF-8
    with sbtest.Daemon(BAD_TEXT) as d:
        st, body = d.get("/v1/health")
        inst = {i["name"]: i for i in body.get("instances", [])}
        bad = inst.get("bad", {})
        t.eq(bad.get("state"), "failed", "start-up keeps a failed instance")
        t.eq(bad.get("error"),
             "upstream_error: caf\ufffd \ufffd\ufffd end",
             "an error that is not UTF-8 keeps its error field (U+FFFD)")
        t.eq(label(d), "first", "the other instance serves")
        st, _ = d.call("bad/Instance.Info", {})
        t.eq(st, 503, "the failed instance answers 503")
    t.done()


main()
