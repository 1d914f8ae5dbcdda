"""Configuration files end to end, through svcbrokerd --check,
--list-brokers, start-up and SIGHUP: a FIFO, device or directory given as
the configuration, an include or a ${file:} secret is refused at once with
a message naming it (never a hang), and configuration messages read as
intended."""
import os
import re
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

work = sbtest.tempdir("sbtest-cfgfiles-")
mdir = sbtest.make_module_dir(os.path.join(work, "modules"))
GOOD = "[module testmod]\nenabled = yes\n[instance t]\nbroker = testmod\n" \
       "label = t\n"
# Every wait on the daemon is bounded; a hang fails the check instead of
# blocking the test suite.
TIMEOUT = 20


def run(args, timeout=TIMEOUT):
    """(exit code, stdout, stderr); code None if it did not finish."""
    try:
        p = subprocess.run([sbtest.daemon_path()] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode("utf-8", "replace"), \
            (e.stderr or b"").decode("utf-8", "replace")
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


def write(name, text):
    path = os.path.join(work, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def config(name, body):
    return write(name, "[server]\nlisten = 127.0.0.1:%d\nmodule_dir = %s\n"
                 "state_dir = %s\n%s" % (sbtest.free_port(), mdir,
                                         os.path.join(work, "state"), body))


def check(name, body):
    return run(["-c", config(name, body), "--check"])


# --- F7: non-regular files ------------------------------------------------
fifo = os.path.join(work, "main.fifo")
os.mkfifo(fifo)
for mode in (["--check"], ["--list-brokers"], []):
    what = " ".join(mode) or "start-up"
    t0 = time.monotonic()
    code, out, err = run(["-c", fifo] + mode)
    t.ok(code is not None, "%s: a FIFO as the configuration does not hang"
         % what, "(still running after %ds)" % TIMEOUT)
    t.ok(time.monotonic() - t0 < 10, "%s: refused at once" % what)
    t.ok("%s: cannot read: it is a FIFO, not a regular file" % fifo in
         out + err, "%s: the message names the FIFO" % what, out + err)
    if mode == ["--list-brokers"]:
        # it goes on with the built-in module_dir, which exists only once
        # this tree was installed
        m = re.search(r"listing (\S+)", err)
        t.ok(m is not None, "--list-brokers says it lists the built-in "
             "module_dir", err)
        want = 0 if m and os.path.isdir(m.group(1)) else 1
        t.eq(code, want, "--list-brokers: exit status %d with the built-in "
             "module_dir %s" % (want, "present" if want == 0 else "absent"))
    else:
        t.eq(code, 1, "%s: exit status 1" % what)

code, out, err = run(["-c", work, "--check"])
t.eq(code, 1, "a directory as the configuration is refused")
t.ok("%s: cannot read: it is a directory, not a regular file" % work in err,
     "the message says it is a directory", err)

os.makedirs(os.path.join(work, "conf.d"))
os.mkfifo(os.path.join(work, "conf.d", "10-fifo.ini"))
write("conf.d/20-ok.ini", "[instance u]\nbroker = testmod\nlabel = u\n")
code, out, err = check("inc.ini", "include = conf.d/*.ini\n" + GOOD)
t.eq(code, 1, "an include matching a FIFO is refused")
t.ok("inc.ini:5: [server] include: %s is a FIFO, not a regular file"
     % os.path.join(work, "conf.d", "10-fifo.ini") in err,
     "the message names the included FIFO and the include line", err)
t.ok("problem found" in err and "2 problems" not in err,
     "the other included file still reads", err)

os.mkfifo(os.path.join(work, "token.fifo"))
code, out, err = check("secret.ini", GOOD + "token = ${file:token.fifo}\n")
t.eq(code, 1, "a ${file:} secret that is a FIFO is refused")
t.ok("secret.ini:10: [instance t] token: %s is a FIFO, not a regular file"
     % os.path.join(work, "token.fifo") in err,
     "the message names the secret's FIFO", err)
code, out, err = check("devnull.ini", GOOD + "token = ${file:/dev/null}\n")
t.ok(code == 1 and "/dev/null is a character device, not a regular file"
     in err, "a ${file:} secret that is a device is refused", err)

# --- messages -------------------------------------------------------------
# A URL's password is never echoed.
code, out, err = check("url.ini", GOOD + "url = ftp://user:PASS-w0rd@host/\n")
t.eq(code, 1, "--check refuses an ftp:// url")
t.ok("url.ini:10: [instance t] url: ftp://user:***@host/: URL scheme must "
     "be one of http, https" in err, "--check masks the URL's password", err)
t.ok("PASS-w0rd" not in out + err, "the password is not shown", err)

# A required key with an empty value is refused.
code, out, err = check("empty.ini", GOOD.replace("label = t", "label ="))
t.eq(code, 1, "--check refuses an empty required string")
t.ok("empty.ini:9: [instance t] label: empty, a value is required" in err,
     "the message says the required key is empty", err)
if os.path.exists(os.path.join(mdir, "mapi-stub.so")):
    code, out, err = check("mapi.ini", "[module mapi-stub]\n"
                           "[instance m]\nbroker = mapi-stub\n"
                           "store_dir = store\nmailboxes =\n")
    t.eq(code, 1, "--check refuses an empty required list")
    t.ok("mapi.ini:9: [instance m] mailboxes: empty, a value is required"
         in err, "the message says the required list is empty", err)
# Clear wording, each problem once, file:line everywhere.
code, out, err = check("words.ini", GOOD + "max_concurrency = abc\n"
                       "[instance u]\nbroker = No_Such\nlabel = u\n"
                       "timeout = 1s\ntimeout = 2s\n")
t.eq(code, 1, "--check refuses the bad values")
for want in ("words.ini:10: [instance t] max_concurrency: abc is not a whole "
             "number",
             "words.ini:12: [instance u] broker: 'No_Such' is not a module "
             "name",
             "words.ini:15: [instance u] timeout: set twice (first at "
             "%s:14)" % os.path.join(work, "words.ini")):
    t.ok(want in err, "--check says %r" % want, err)
t.ok("broker: missing" not in err and "  " not in err,
     "no second message for the bad broker, no empty quote", err)
t.ok("3 problems found" in err, "three problems in all", err)
code, out, err = check("emptyurl.ini", GOOD + "url =\n")
t.ok(code == 1 and "emptyurl.ini:10: [instance t] url: empty, expected a URL "
     "(scheme://host...)" in err, "an empty url says empty", err)

# SIGHUP with an include that became a FIFO: refused, and SIGTERM still
# stops the daemon.
with sbtest.Daemon(GOOD) as d:
    with open(d.config) as f:
        text = f.read()
    with open(d.config, "w") as f:
        f.write(text.replace("[server]\n", "[server]\ninclude = hup.fifo\n",
                             1))
    os.mkfifo(os.path.join(d.workdir, "hup.fifo"))
    d.signal(signal.SIGHUP)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and \
            "reload refused" not in d.read_log():
        time.sleep(0.05)
    log = d.read_log()
    t.ok("reload refused" in log, "SIGHUP: an include that is a FIFO is "
         "refused without hanging", log[-2000:])
    t.ok("hup.fifo is a FIFO, not a regular file" in log,
         "SIGHUP: the log names the FIFO", log[-2000:])
    st, body = d.call("t/Instance.Info", {})
    t.eq(st, 200, "SIGHUP: the running configuration keeps serving")
    t0 = time.monotonic()
    t.eq(d.stop(timeout=TIMEOUT), 0, "SIGTERM after the refused reload: "
         "exit 0")
    t.ok(time.monotonic() - t0 < TIMEOUT, "SIGTERM is not ignored")



def wait_log(d, text, count=1):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if d.read_log().count(text) >= count:
            return True
        time.sleep(0.05)
    return False


# SIGHUP with an empty (or truncated) file: accepted, but a configuration
# that drops every instance is worth a warning.
EMPTIED = "the new configuration has no instances; every instance stops"
with sbtest.Daemon(GOOD) as d:
    with open(d.config) as f:
        full = f.read()
    d.signal(signal.SIGHUP)  # same instances: no warning
    t.ok(wait_log(d, "reloaded in"), "SIGHUP: reloaded")
    t.ok(EMPTIED not in d.read_log(), "no warning while instances remain")
    open(d.config, "w").close()
    d.signal(signal.SIGHUP)
    t.ok(wait_log(d, "reloaded in", 2), "SIGHUP: an empty file is accepted",
         d.read_log()[-2000:])
    t.ok("reload: " + EMPTIED + " (was 1)" in d.read_log(),
         "SIGHUP: an empty file logs that every instance stops",
         d.read_log()[-2000:])
    st, body = d.get("/v1/catalog")
    t.eq((st, body.get("instances")), (200, []), "no instance serves")
    with open(d.config, "w") as f:
        f.write(full.split("[module", 1)[0])
    d.signal(signal.SIGHUP)
    t.ok(wait_log(d, "reloaded in", 3), "SIGHUP: reloaded again")
    t.eq(d.read_log().count(EMPTIED), 1,
         "no warning when there were no instances before")

t.done()
