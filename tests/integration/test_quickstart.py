"""End to end: run the README's first quick-start command
(scripts/quickstart.sh) and then exactly the commands it prints, against the
daemon it started on 127.0.0.1:8780 with etc/svcbroker.ini."""
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
top = os.path.abspath(sbtest.TOP_SRCDIR)
script = os.path.join(top, "scripts", "quickstart.sh")

with open(os.path.join(top, "README.md")) as f:
    readme = f.read()
qs = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
t.ok("./scripts/quickstart.sh" in qs, "README quick start runs scripts/quickstart.sh")

with socket.socket() as s:
    busy = s.connect_ex(("127.0.0.1", 8780)) == 0
if busy:
    t.ok(False, "port 8780 is free for the quick start")
    t.done()

env = dict(os.environ, SB_BUILD_DIR=os.path.abspath(sbtest.TOP_BUILDDIR))
out_path = os.path.join(sbtest.TOP_BUILDDIR, "tests", "integration",
                        "quickstart.out")
out = open(out_path, "w+b")
proc = subprocess.Popen([script], stdout=out, stderr=subprocess.STDOUT,
                        env=env, stdin=subprocess.DEVNULL)
up = False
deadline = time.monotonic() + 600
while time.monotonic() < deadline and proc.poll() is None:
    try:
        with urllib.request.urlopen("http://127.0.0.1:8780/v1/health",
                                    timeout=1) as r:
            up = r.status == 200
            break
    except OSError:
        time.sleep(0.2)
out.seek(0)
printed = out.read().decode("utf-8", "replace")
t.ok(up, "quickstart.sh starts svcbrokerd on 127.0.0.1:8780", printed[-3000:])

commands = [line.strip()[2:] for line in printed.splitlines()
            if line.startswith("  $ ")]
t.eq(len(commands), 3, "quickstart.sh prints three commands to try")

results = []
for cmd in commands:
    r = subprocess.run(cmd, shell=True, capture_output=True, timeout=60)
    results.append(r)
    t.eq(r.returncode, 0, "command succeeds: %s" % cmd)
    sys.stdout.write("# " + r.stdout.decode("utf-8", "replace")
                     .replace("\n", "\n# ") + "\n")

if len(results) == 3:
    cat, send, lst = (r.stdout.decode("utf-8", "replace") for r in results)
    t.ok("local" in cat and "mapi-stub" in cat,
         "catalog shows the local mapi-stub instance")
    t.ok("bob@example.test" in send, "Send reports bob@example.test")
    t.ok("Hello Bob" in lst, "Bob's Inbox lists the message just sent")

if proc.poll() is None:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = None
    t.eq(code, 0, "svcbrokerd exits 0 on SIGTERM")
out.close()
t.done()
