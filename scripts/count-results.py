"""Count the results of `make check` runs and print one line
"N passed, N failed, N skipped".

Each test log is read for its own checks: "ok - ..." / "not ok - ..." lines
(the integration tests), or Check's "Checks: N, Failures: F, Errors: E"
summary (the unit tests).  A test whose .trs says FAIL/ERROR but whose log
shows no failed check (a crash, a timeout) counts one more failure, and a
test with no countable checks counts as one by its .trs result.  A build
that failed counts one failure.

With --failures FILE, each test that failed appends to FILE its name and
its failed checks (or, when it has none, the end of its log), so that the
closing output says what failed without the logs at hand.
"""
import glob
import os
import re
import sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
passed = failed = skipped = 0
args = sys.argv[1:]
label = ""
if args[:1] == ["--sum"]:
    # Sum the "label: N passed, N failed, N skipped" lines of a results file.
    with open(args[1]) as f:
        for line in f:
            m = re.search(r"(\d+) passed, (\d+) failed, (\d+) skipped", line)
            if m:
                passed += int(m.group(1))
                failed += int(m.group(2))
                skipped += int(m.group(3))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed or passed == 0 else 0)
if args[:1] == ["--label"]:
    label = args[1] + ": "
    args = args[2:]
failures = None
if args[:1] == ["--failures"]:
    failures = args[1]
    args = args[2:]
only = None
if args[:1] == ["--tests-from"]:
    # Count only the tests this `make check` output reports on.
    with open(args[1], errors="replace") as f:
        # automake names a test's .log/.trs without its .py/.sh extension
        only = set(re.sub(r"\.(py|sh)$", "", n) for n in re.findall(
            r"^(?:PASS|FAIL|SKIP|XFAIL|XPASS|ERROR): (\S+)", f.read(), re.M))
    args = args[2:]
for suite in args:
    bdir = os.path.join(top, suite)
    if os.path.exists(bdir + ".build-failed"):
        failed += 1
        continue
    for trs in glob.glob(os.path.join(bdir, "**", "*.trs"), recursive=True):
        log = trs[:-4] + ".log"
        if only is not None and os.path.relpath(trs[:-4], bdir) not in only:
            continue
        with open(trs, errors="replace") as f:
            m = re.search(r"^:test-result: (\w+)", f.read(), re.M)
        result = m.group(1) if m else "ERROR"
        text = ""
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                text = f.read()
        p = len(re.findall(r"^ok - ", text, re.M))
        n = len(re.findall(r"^not ok - ", text, re.M))
        for cm in re.finditer(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", text):
            total, fl, er = map(int, cm.groups())
            p += total - fl - er
            n += fl + er
        if result == "SKIP" and p == 0 and n == 0:
            skipped += 1
            continue
        if p == 0 and n == 0:
            if result in ("PASS", "XFAIL"):
                p = 1
            else:
                n = 1
        elif result in ("FAIL", "ERROR", "XPASS") and n == 0:
            n = 1
        if n and failures:
            lines = [ln for ln in text.splitlines()
                     if ln.startswith("not ok - ")][:12]
            if not lines:
                lines = text.splitlines()[-15:]
            with open(failures, "a") as f:
                f.write("%s%s (%s):\n" % (label, os.path.relpath(log, top),
                                          result))
                for ln in lines:
                    f.write("    %s\n" % (ln[:400],))
        passed += p
        failed += n
print("%s%d passed, %d failed, %d skipped" % (label, passed, failed, skipped))
sys.exit(1 if failed or passed == 0 else 0)
