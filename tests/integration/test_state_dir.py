"""[server] state_dir: missing parent directories are created, and each
instance's own directory is private (0700)."""
import os
import stat
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
d = sbtest.Daemon("[module testmod]\nenabled = yes\n"
                  "[instance alpha]\nbroker = testmod\nlabel = a\n")
deep = os.path.join(d.workdir, "not", "yet", "there", "state")
with open(d.config) as f:
    text = f.read()
with open(d.config, "w") as f:
    f.write(text.replace("state_dir = %s" % os.path.join(d.workdir, "state"),
                         "state_dir = %s" % deep))
with d:
    st, body = d.call("alpha/Instance.Info")
    t.eq(st, 200, "the daemon runs with a state_dir whose parents were missing")
    inst_dir = os.path.join(deep, "alpha")
    t.ok(os.path.isdir(inst_dir), "the instance's state directory exists")
    mode = stat.S_IMODE(os.stat(inst_dir).st_mode)
    t.eq(mode, 0o700, "the instance's state directory is private")
    row = body.get("rows", [{}])[0] if isinstance(body, dict) else {}
    t.eq(row.get("StateDir"), inst_dir, "the broker is told its state directory")
t.done()
