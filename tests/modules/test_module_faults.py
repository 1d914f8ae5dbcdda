"""Faults in broker code (tests/modules/crashmod.c): a crash in open,
describe, execute or close, a stack overflow, abort() and exit(0) each
leave one log line naming the module, the instance and the method, and the
daemon ends with a non-zero status (a supervisor restarts it).  A module
whose constructor crashes, exits or hangs is reported by --check and
--list-brokers, not fatal to them; a module with an undefined symbol is
refused at load, naming the symbol."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()

if not os.path.exists(sbtest.daemon_path()):
    print("# svcbrokerd is not built")
    sys.exit(1)

CRASHMOD = "[module crashmod]\nenabled = yes\n"
SLOW = 4 if sbtest.VALGRIND else 1


def run_to_exit(d, timeout=30):
    """Run daemon d (not started) until it exits by itself: (status, log)."""
    with open(d.log_path, "ab") as log:
        p = subprocess.Popen(sbtest.daemon_command() + ["-c", d.config],
                             stdout=log, stderr=subprocess.STDOUT,
                             env=d.env, stdin=subprocess.DEVNULL)
        try:
            code = p.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
            code = None
    return code, d.read_log()


def fault_lines(log):
    return [ln for ln in log.splitlines()
            if "fatal SIG" in ln or "exit() called" in ln]


def check_fault(name, code, log, want_code, want_where):
    t.eq(code, want_code, "%s: exit status" % name)
    lines = fault_lines(log)
    t.eq(len(lines), 1, "%s: one fault line" % name)
    line = lines[0] if lines else ""
    t.ok(" error [crashmod:c] " in line,
         "%s: the line is an error of crashmod instance c" % name, log)
    t.ok(want_where in line, "%s: the line says %r" % (name, want_where), log)


# --- open, describe: the daemon never starts, and says why ---------------
SIGSEGV, SIGABRT = -signal.SIGSEGV, -signal.SIGABRT
cases = [
    ("open segv", "crash_in = open\ncrash_how = segv\n", SIGSEGV,
     "fatal SIGSEGV (invalid memory access) at address 0x"),
    ("describe abort", "crash_in = describe\ncrash_how = abort\n", SIGABRT,
     "fatal SIGABRT (abort) in broker crashmod, instance c, describe()"),
    ("open exit(0)", "crash_in = open\ncrash_how = exit\n", 70,
     "exit() called in broker crashmod, instance c, open(): svcbrokerd "
     "stops with status 70"),
]
if not sbtest.VALGRIND:  # valgrind grows and checks stacks its own way
    cases.append(("open stack overflow",
                  "crash_in = open\ncrash_how = overflow\n", SIGSEGV,
                  "fatal SIGSEGV (invalid memory access) at address 0x"))
for name, keys, want_code, want in cases:
    d = sbtest.Daemon(CRASHMOD + "[instance c]\nbroker = crashmod\n" + keys)
    code, log = run_to_exit(d)
    check_fault(name, code, log, want_code, want)
    if "segv" in name or "overflow" in name:
        t.ok(" in broker crashmod, instance c, open(): svcbrokerd stops"
             in log, "%s: names open()" % name, log)

# --- close: at SIGTERM ------------------------------------------------------
with sbtest.Daemon(CRASHMOD + "[instance c]\nbroker = crashmod\n"
                   "crash_in = close\ncrash_how = segv\n") as d:
    d.expect_exit = True
    st, body = d.call("c/Crash.Fine")
    t.eq(st, 200, "close case: the instance answers before SIGTERM")
    code = d.stop()
    check_fault("close segv", code, d.read_log(), SIGSEGV,
                "in broker crashmod, instance c, close()")
    t.ok("SIGTERM: stopping" in d.read_log(),
         "close segv: it happened while stopping", d.read_log())

# --- execute: one line names the method; the status is not 0 -------------
calls = [("Segv", SIGSEGV, "fatal SIGSEGV"), ("Abort", SIGABRT,
                                              "fatal SIGABRT"),
         ("Exit", 70, "exit() called")]
if not sbtest.VALGRIND:
    calls.append(("Overflow", SIGSEGV, "fatal SIGSEGV"))
for meth, want_code, what in calls:
    with sbtest.Daemon(CRASHMOD + "[instance c]\nbroker = crashmod\n") as d:
        d.expect_exit = True
        st, body = d.call("c/Crash.Fine")
        t.eq((st, body.get("rows") if isinstance(body, dict) else body),
             (200, [{"Ok": True}]), "%s: Crash.Fine answers first" % meth)
        try:
            st, body = d.call("c/Crash." + meth, timeout=10 * SLOW)
            t.ok(False, "%s: the call gets no answer" % meth, st)
        except OSError:
            t.ok(True, "%s: the call gets no answer" % meth)
        try:
            code = d.proc.wait(timeout=10 * SLOW)
        except subprocess.TimeoutExpired:
            code = None
        check_fault("execute " + meth, code, d.read_log(), want_code,
                    "%s" % what)
        t.ok("in broker crashmod, instance c, execute Crash.%s" % meth
             in d.read_log(), "execute %s: names Crash.%s" % (meth, meth),
             d.read_log())

# --- a clean stop is still status 0 ----------------------------------------
with sbtest.Daemon(CRASHMOD + "[instance c]\nbroker = crashmod\n") as d:
    code = d.stop()
    t.eq(code, 0, "SIGTERM without a fault: status 0")
    t.eq(fault_lines(d.read_log()), [], "SIGTERM without a fault: no fault "
         "line")

# --- a fatal signal outside broker code: named as the host's ---------------
names = {signal.SIGSEGV: "SIGSEGV (invalid memory access)",
         signal.SIGBUS: "SIGBUS (bus error)",
         signal.SIGILL: "SIGILL (illegal instruction)",
         signal.SIGFPE: "SIGFPE (arithmetic error)",
         signal.SIGABRT: "SIGABRT (abort)"}
# Under valgrind only SIGABRT: valgrind takes a SIGSEGV, SIGBUS, SIGILL or
# SIGFPE sent with kill() for a fault of its own and now and then never
# hands it to the program (seen: a SIGILL left an idle daemon running for
# 40 s).  Each signal's name is checked in the plain and ASan runs; here
# the fatal-signal path is checked for memory errors.
for sig, label in names.items():
    if sbtest.VALGRIND and sig != signal.SIGABRT:
        continue
    with sbtest.Daemon(CRASHMOD + "[instance c]\nbroker = crashmod\n") as d:
        d.expect_exit = True
        d.signal(sig)
        try:
            code = d.proc.wait(timeout=10 * SLOW)
        except subprocess.TimeoutExpired:
            code = None
        log = d.read_log()
        t.eq(code, -sig, "%s sent to an idle daemon: dies of it" % label)
        t.ok(" error [svcbrokerd] fatal %s in the host (no broker code was "
             "running on this thread): svcbrokerd stops" % label in log,
             "%s sent to an idle daemon: logged as the host's" % label, log)

# --- a constructor that crashes at start-up ---------------------------------
d = sbtest.Daemon(CRASHMOD + "[instance c]\nbroker = crashmod\n",
                  env={"CRASHMOD_CTOR": "segv"})
code, log = run_to_exit(d)
t.eq(code, SIGSEGV, "constructor segv at start-up: killed by SIGSEGV")
t.ok(" error [crashmod] fatal SIGSEGV" in log and
     "while loading module crashmod from %s" %
     os.path.join(d.module_dir, "crashmod.so") in log,
     "constructor segv at start-up: the line names the module and file", log)
d = sbtest.Daemon(CRASHMOD + "[instance c]\nbroker = crashmod\n",
                  env={"CRASHMOD_CTOR": "exit"})
code, log = run_to_exit(d)
t.eq(code, 70, "constructor exit(0) at start-up: status 70")
t.ok(" error [crashmod] exit() called while loading module crashmod from %s"
     % os.path.join(d.module_dir, "crashmod.so") in log,
     "constructor exit(0) at start-up: the line names the module and file",
     log)


# --- --check and --list-brokers: a bad file is reported, not fatal ---------
def cli(d, *args, env=None, timeout=60):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(sbtest.daemon_command() + ["-c", d.config] +
                       list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=e,
                       stdin=subprocess.DEVNULL, timeout=timeout * SLOW)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


GOOD = "[module testmod]\nenabled = yes\n[instance t]\nbroker = testmod\n" \
       "label = t\n"
d = sbtest.Daemon(GOOD + CRASHMOD + "[instance c]\nbroker = crashmod\n")
so = os.path.join(d.module_dir, "crashmod.so")
reasons = {
    "segv": "%s: loading it crashed with SIGSEGV (invalid memory access) "
            "(in a constructor of the module or of a library it needs): not "
            "loaded" % so,
    "abort": "%s: loading it crashed with SIGABRT (abort)" % so,
    "exit": "%s: loading it ended the process with exit status 0 (a "
            "constructor that calls exit()?): not loaded" % so,
}
for how, want in reasons.items():
    code, out, err = cli(d, "--check", env={"CRASHMOD_CTOR": how})
    t.eq(code, 1, "--check, constructor %s: status 1" % how)
    t.ok("[module crashmod] " + want in err,
         "--check, constructor %s: reported with the reason" % how, err)
    t.ok("[module testmod]" not in err and "[instance t]" not in err,
         "--check, constructor %s: nothing else reported" % how, err)
    code, out, err = cli(d, "--list-brokers", env={"CRASHMOD_CTOR": how})
    t.eq(code, 0, "--list-brokers, constructor %s: status 0" % how)
    t.ok("warning: " + want in err,
         "--list-brokers, constructor %s: a warning with the reason" % how,
         err)
    try:
        names = [b["name"] for b in json.loads(out)["brokers"]]
    except (ValueError, TypeError, KeyError):
        names = []
    t.ok("testmod" in names and "crashmod" not in names,
         "--list-brokers, constructor %s: lists the others" % how, out[:300])

# A hang: killed after --check's time limit ([server] module_load_timeout).
dh = sbtest.Daemon(GOOD + CRASHMOD + "[instance c]\nbroker = crashmod\n",
                   server_extra="module_load_timeout = 3s\n")
so_h = os.path.join(dh.module_dir, "crashmod.so")
t0 = time.monotonic()
code, out, err = cli(dh, "--list-brokers", env={"CRASHMOD_CTOR": "hang"})
took = time.monotonic() - t0
t.eq(code, 0, "--list-brokers, hanging constructor: status 0")
t.ok("warning: %s: loading it did not finish within 3000 ms (a constructor "
     "that hangs?)" % so_h in err,
     "--list-brokers, hanging constructor: reported", err)
t.ok(took < 30 * SLOW, "--list-brokers, hanging constructor: bounded "
     "(%.1f s)" % took)
shutil.rmtree(dh.workdir, ignore_errors=True)

# Without the fault the module checks and lists fine.
code, out, err = cli(d, "--check")
t.eq(code, 0, "--check with crashmod, no fault: OK")
t.ok("configuration OK (2 instances)" in out, "--check: both instances", out)
code, out, err = cli(d, "--list-brokers")
t.ok('"crashmod"' in out, "--list-brokers lists crashmod", out[:300])

# --- an undefined symbol is refused at load ---------------------------------
UNDEF = "[module badmod-undef]\nenabled = yes\n"
d = sbtest.Daemon(GOOD + UNDEF)
code, out, err = cli(d, "--check")
t.eq(code, 1, "--check, undefined symbol: status 1")
want = ("[module badmod-undef] %s uses a symbol that no loaded library "
        "defines (undefined symbol: badmod_no_such_function)" %
        os.path.join(d.module_dir, "badmod-undef.so"))
t.ok(want in err, "--check, undefined symbol: file and symbol named", err)
t.ok("-Wl,--no-undefined" in err, "--check, undefined symbol: the fix", err)
code, out, err = cli(d, "--list-brokers")
t.ok("undefined symbol: badmod_no_such_function" in err,
     "--list-brokers, undefined symbol: reported", err)
code, log = run_to_exit(d)
t.eq(code, 1, "daemon with an undefined symbol: not started, status 1")
t.ok("undefined symbol: badmod_no_such_function" in log,
     "daemon with an undefined symbol: the log names it", log)

t.done()
