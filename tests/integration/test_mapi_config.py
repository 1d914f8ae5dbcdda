"""mapi-stub configuration: the embedded default (etc/svcbroker.ini) and the
commented example (etc/mapi-stub.example.ini) are valid and work, and bad
instance settings are refused with clear messages."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd not built")
    sys.exit(sbtest.SKIP)

etc = os.path.join(os.path.abspath(sbtest.TOP_SRCDIR), "etc")
top = sbtest.tempdir("mapi-config-")
modules = sbtest.make_module_dir(os.path.join(top, "modules"))


def clean_stop(d, what):
    """Stop d (SIGTERM) and check its exit and log: no sanitizer report."""
    code = d.stop()
    log = d.read_log()
    bad = [w for w in ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                       "Invalid read", "Invalid write")
           if w in log]
    t.ok(code == 0 and not bad, "%s: daemon exits 0 with a clean log" % what,
         "(exit %r, %r)\n%s" % (code, bad, log[-3000:]))


def check(path):
    r = subprocess.run([sbtest.daemon_path(), "--check", "-c", path],
                       capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


# ---- the embedded default, with this build's modules and a temp store ----
with open(os.path.join(etc, "svcbroker.ini")) as f:
    default = f.read()
t.ok(re.search(r"^;\s*module_dir\s*=", default, re.M) is not None,
     "svcbroker.ini shows module_dir as a commented key")
t.ok(re.search(r"^store_dir\s*=\s*\.\./var/", default, re.M) is not None,
     "svcbroker.ini keeps the store under ../var (relative to etc/)")
port = sbtest.free_port()
conf_dir = os.path.join(top, "etc")
os.makedirs(conf_dir)
text = re.sub(r"^;\s*module_dir\s*=.*$", "module_dir = %s" % modules, default,
              flags=re.M)
text = re.sub(r"^listen\s*=.*$", "listen = 127.0.0.1:%d" % port, text, flags=re.M)
conf = os.path.join(conf_dir, "svcbroker.ini")
with open(conf, "w") as f:
    f.write(text)
rc, out = check(conf)
t.eq(rc, 0, "svcbrokerd --check accepts etc/svcbroker.ini (%s)" % out.strip()[-300:])
d = sbtest.Daemon(workdir=os.path.join(top, "run"))
d.port = port
d.config = conf
d.start()
st, b = d.call("local/Email.Send", {"Mailbox": "alice@example.test",
                                    "To": ["bob@example.test"],
                                    "Subject": "Hello Bob", "Body": "First."})
t.eq(st, 200, "Send from alice to bob on the embedded default")
st, b = d.call("local/Email.List", {"Mailbox": "bob@example.test", "Folder": "Inbox"})
t.ok(st == 200 and any(r.get("Subject") == "Hello Bob" for r in b.get("rows", [])),
     "bob's Inbox lists it")
clean_stop(d, "embedded default daemon")
if d.log:
    d.log.close()
t.ok(os.path.isdir(os.path.join(top, "var", "lib", "svcbroker", "store",
                                "bob@example.test", "Inbox", "cur")),
     "the store lives in var/lib/svcbroker/store next to etc/")

# ---- the commented example: every key is valid -------------------------------
with open(os.path.join(etc, "mapi-stub.example.ini")) as f:
    example = f.read()
keys = set(re.findall(r"^;?\s*([a-z_]+)\s*=", example, re.M))
t.ok({"store_dir", "mailboxes", "quota", "max_message_size",
      "default_mailbox"} <= keys, "the example shows every key", repr(keys))
ex = re.sub(r"^;(\s*(quota|max_message_size|default_mailbox|max_concurrency|timeout)\s*=)",
            r"\1", example, flags=re.M)
ex = re.sub(r"^store_dir\s*=.*$", "store_dir = %s" % os.path.join(top, "exstore"),
            ex, flags=re.M)
exconf = os.path.join(top, "example.ini")
with open(exconf, "w") as f:
    f.write("[server]\nlisten = 127.0.0.1:%d\nmodule_dir = %s\n\n%s" % (
        sbtest.free_port(), modules, ex))
rc, out = check(exconf)
t.eq(rc, 0, "svcbrokerd --check accepts the example with every key set (%s)"
     % out.strip()[-300:])


# ---- bad settings ---------------------------------------------------------------
def bad(body, want, name):
    path = os.path.join(top, "bad.ini")
    with open(path, "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:%d\nmodule_dir = %s\n\n"
                "[module mapi-stub]\nenabled = yes\n\n[instance local]\n"
                "broker = mapi-stub\n%s" % (sbtest.free_port(), modules, body))
    rc, out = check(path)
    msg = out
    if rc == 0:
        # Some problems are only found when the store opens.
        dd = sbtest.Daemon(workdir=os.path.join(top, "bad-run"))
        dd.config = path
        with open(path) as f:
            m = re.search(r"listen = 127.0.0.1:(\d+)", f.read())
        dd.port = int(m.group(1))
        try:
            dd.start()
            st, h = dd.get("/v1/health")
            st2, b = dd.call("local/Email.List", {})
            msg += str(h) + str(b) + dd.read_log()
            dd.stop()
            rc = 1 if st2 >= 500 else 0
        except RuntimeError as e:
            msg += str(e)
            rc = 1
        if dd.log:
            dd.log.close()
        shutil.rmtree(dd.workdir, ignore_errors=True)
    t.ok(rc != 0 and want in msg, name, msg[-600:])


bad("mailboxes = a@example.test\n", "store_dir", "missing store_dir is refused")
bad("store_dir = %s/s1\n" % top, "mailboxes", "missing mailboxes is refused")
bad("store_dir = %s/s2\nmailboxes = a@example.test, not an address\n" % top,
    "not an address", "an invalid address in mailboxes is refused")
bad("store_dir = %s/s3\nmailboxes = a@example.test, ../../etc@x\n" % top,
    "../../etc@x", "a path-like mailbox is refused")
bad("store_dir = %s/s4\nmailboxes = a@example.test\ndefault_mailbox = b@example.test\n"
    % top, "default_mailbox", "a default_mailbox outside mailboxes is refused")
bad("store_dir = %s/s5\nmailboxes = a@example.test\nquota = lots\n" % top,
    "quota", "a bad quota is refused")
# Two instances of one daemon naming the same store: the second is refused.
two = ("[module mapi-stub]\nenabled = yes\n\n"
       "[instance one]\nbroker = mapi-stub\nstore_dir = %s/shared\n"
       "mailboxes = a@example.test\n\n"
       "[instance two]\nbroker = mapi-stub\nstore_dir = %s/shared/\n"
       "mailboxes = a@example.test\n" % (top, top))
with sbtest.Daemon(two) as dd:
    st1, _ = dd.call("one/Email.List", {})
    st2, b2 = dd.call("two/Email.List", {})
    log = dd.read_log() + str(b2)
    t.ok(st1 == 200 and st2 >= 500 and "already used by instance one" in log,
         "a second instance on the same store is refused", log[-1500:])
    clean_stop(dd, "two-instance daemon")

t.ok(not os.path.exists(os.path.join(top, "etc@x")) and
     not os.path.exists(os.path.join(os.path.dirname(top), "etc@x")),
     "nothing created outside the store for a path-like mailbox")

shutil.rmtree(top, ignore_errors=True)
t.done()
