"""The in-process API (<svcbroker/runtime.h>): runs
test_api_runtime_client (a C program linked with libsvcbroker) against a
configuration with two testmod instances."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

CONFIG = """[server]
module_dir = %s
workers = 4

[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = first
timeout = 300ms

[instance t2]
broker = testmod
label = second
"""


def main():
    t = sbtest.Checks()
    client = os.path.join(sbtest.TOP_BUILDDIR, "tests", "integration",
                          "test_api_runtime_client")
    if not os.path.exists(client):
        print("# SKIP: %s is not built (make check builds it)" % client)
        sys.exit(sbtest.SKIP)
    work = sbtest.tempdir("sbtest-rt-")
    try:
        mods = sbtest.make_module_dir(os.path.join(work, "modules"))
        cfg = os.path.join(work, "svcbroker.ini")
        with open(cfg, "w") as f:
            f.write(CONFIG % mods)
        p = subprocess.run([client, cfg], capture_output=True, text=True,
                           timeout=120)
        sys.stdout.write(p.stdout)
        report = p.stderr
        bad = [m for m in sbtest.Daemon.SANITIZER_MARKS if m in report]
        t.eq(p.returncode, 0, "the runtime client passed")
        t.ok(not bad, "no sanitizer report", report[-3000:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
