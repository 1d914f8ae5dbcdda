"""Module loading as the daemon does it: every refused module is named
with what was found, what was expected and the fix (--check and
--list-brokers); two testmod instances side by side; close() exactly once
per open() across reloads and shutdown."""
import json
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

work = sbtest.tempdir("sbtest-modules-")
mdir = sbtest.make_module_dir(os.path.join(work, "modules"))
with open(os.path.join(mdir, "notelf.so"), "w") as f:
    f.write("hello, not a module\n")


def daemon(*args, config_text=None, timeout=30):
    path = os.path.join(work, "check.ini")
    if config_text is not None:
        with open(path, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:8780\nmodule_dir = %s\n%s"
                    % (mdir, config_text))
    p = subprocess.run([sbtest.daemon_path(), "-c", path] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


# --- every refusal, through --check --------------------------------------
def _abi():
    """SB_ABI_MAJOR and SB_ABI_MINOR of the headers the modules were built
    with (include/svcbroker/broker.h)."""
    with open(os.path.join(sbtest.TOP_SRCDIR, "include", "svcbroker",
                           "broker.h")) as f:
        h = f.read()
    return tuple(int(re.search(r"#define SB_ABI_%s (\d+)" % k, h).group(1))
                 for k in ("MAJOR", "MINOR"))


MAJ, MIN = _abi()
HOST = "%d.%d" % (MAJ, MIN)
REFUSALS = {
    "badmod-nosym": ["badmod-nosym.so has no symbol svcbroker_broker (it exports "
                     "no object or function of that name;",
                     "expected the module's one exported const struct "
                     "sb_broker", "-export-symbols-regex"],
    "badmod-magic": ["badmod-magic.so: svcbroker_broker has magic "
                     "0xdeadbeef, expected 0x53564342",
                     "rebuild the module against these headers"],
    "badmod-major": ["badmod-major.so was built for broker ABI %d.%d, this "
                     "host speaks %s: rebuild it against these headers"
                     % (MAJ + 1, MIN, HOST)],
    "badmod-old": ["badmod-old.so was built for broker ABI %d.%d, this host "
                   "speaks %s: rebuild it against these headers"
                   % (MAJ - 1, MIN, HOST),
                   "pkg-config --cflags --libs svcbroker",
                   "the ABI changelog in <svcbroker/broker.h>"],
    "badmod-minor": ["badmod-minor.so was built for broker ABI %d.%d, newer "
                     "than this host's %s" % (MAJ, MIN + 1, HOST),
                     "upgrade svcbroker"],
    "badmod-size": ["badmod-size.so: descriptor struct_size is ",
                    "needs at least", "rebuild it"],
    "badmod-name": ["badmod-name.so holds module \"othername\", expected "
                    "\"badmod-name\"", "rename the file to othername.so"],
    "badmod-tables": ["badmod-tables.so: module badmod-tables has invalid "
                      "tables: object Thing: method Do: no doc"],
    "notelf": ["notelf.so is not a loadable object: it starts with 68 65 "
               "6c 6c, expected an ELF shared object (7f 45 4c 46)"],
    "nosuch": ["no module file nosuch.la or nosuch.so in %s" % mdir,
               "is it installed? is module_dir right?"],
}
GOOD = "[module testmod]\nenabled = yes\n[instance t]\nbroker = testmod\n" \
       "label = t\n"
for name, wants in REFUSALS.items():
    code, out, err = daemon("--check", config_text=GOOD +
                            "[module %s]\nenabled = yes\n" % name)
    t.eq(code, 1, "--check refuses %s" % name)
    for w in wants:
        t.ok(w in err, "%s: message says %r" % (name, w), err)
    t.ok(os.path.join(mdir, "") in err or name == "nosuch",
         "%s: message names the file" % name, err)
    t.ok(err.count("[module %s]" % name) == 1,
         "%s: reported once, for its own section" % name, err)
    t.ok("[module testmod]" not in err, "%s: testmod unaffected" % name, err)

code, out, err = daemon("--check", config_text=GOOD)
t.eq(code, 0, "--check accepts testmod alone")

# --- a file of garbage: the list stops, the summary gives the true count --
code, out, err = daemon("--check", config_text=GOOD +
                        "".join("garbage line %d\n" % i for i in range(250)))
t.eq(code, 1, "--check refuses 250 lines of garbage")
t.ok("250 problems found" in err, "the summary counts all 250", err[-300:])
t.ok(len(err.splitlines()) <= 102, "the listing stops at 100 lines",
     "%d lines" % len(err.splitlines()))
t.ok("too many problems" in err, "and says it stopped", err[-300:])

# --- --list-brokers: good modules as JSON, each refused file named --------
code, out, err = daemon("--list-brokers", config_text=GOOD)
t.eq(code, 0, "--list-brokers exits 0")
try:
    mods = json.loads(out)["brokers"]
except (ValueError, KeyError, TypeError):
    mods = []
names = [m.get("name") for m in mods]
t.eq(names.count("testmod"), 1, "--list-brokers: testmod once")
t.ok(not any(n and n.startswith("badmod") for n in names),
     "--list-brokers: no refused module listed", names)
tm = [m for m in mods if m.get("name") == "testmod"]
if tm:
    keys = [k.get("key") for k in tm[0].get("config", [])]
    t.eq(keys, ["label", "token", "list_total", "open_fail", "latency",
                "max_echo", "describe", "tags", "data_dir", "url",
                "validate_error", "open_fail_text", "open_hang", "stuck"],
         "--list-brokers: testmod's keys in table order")
for name in REFUSALS:
    if name == "nosuch":
        continue
    t.ok(os.path.join(mdir, name + ".so") in err,
         "--list-brokers names refused %s" % name, err)

# --- the daemon: two instances, close once per open ------------------------
CONFIG = """
[module testmod]
enabled = yes

[instance one]
broker = testmod
label = uno
list_total = 3

[instance two]
broker = testmod
label = dos
describe = none
"""


def lifecycle(d, inst):
    try:
        with open(os.path.join(d.workdir, "state", inst,
                               "lifecycle.log")) as f:
            return f.read()
    except OSError:
        return ""


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


d = sbtest.Daemon(CONFIG, keep_workdir=True)
try:
    d.start()
    st, body = d.call("one/Instance.Info")
    t.eq(st, 200, "one/Instance.Info answers")
    row = (body.get("rows") or [{}])[0] if isinstance(body, dict) else {}
    t.eq(row.get("Label"), "uno", "one has its own label")
    t.eq(row.get("ListTotal"), 3, "one has its own list_total")
    t.eq(row.get("StateDir"), os.path.join(d.workdir, "state", "one"),
         "one has its own state directory")
    st, body = d.call("two/Instance.Info")
    row = (body.get("rows") or [{}])[0] if isinstance(body, dict) else {}
    t.eq(row.get("Label"), "dos", "two has its own label")
    t.eq(row.get("ListTotal"), 25, "two keeps the default list_total")
    st, _ = d.call("one/Dynamic.Ping")
    t.eq(st, 200, "one has the dynamic object")
    st, _ = d.call("two/Dynamic.Ping")
    t.eq(st, 404, "two (describe = none) has no dynamic object")
    mode = os.stat(os.path.join(d.workdir, "state", "one")).st_mode & 0o777
    t.eq(mode, 0o700, "state directory is 0700")
    t.eq(lifecycle(d, "one"), "open\n", "one opened once")

    # a reload opens the new instances, then closes the old ones
    d.signal(signal.SIGHUP)
    ok = wait_for(lambda: lifecycle(d, "one") == "open\nopen\nclose\n")
    t.ok(ok, "reload: one opened anew and the old one closed once",
         repr(lifecycle(d, "one")))
    t.eq(lifecycle(d, "two"), "open\nopen\nclose\n",
         "reload: two likewise")

    # a reload refused for a bad module changes nothing
    with open(d.config, "a") as f:
        f.write("\n[module badmod-major]\nenabled = yes\n")
    d.signal(signal.SIGHUP)
    ok = wait_for(lambda: "badmod-major.so was built for broker ABI %d.%d"
                  % (MAJ + 1, MIN) in d.read_log())
    t.ok(ok, "refused reload: the log names the module and the ABIs",
         d.read_log()[-2000:])
    time.sleep(0.2)
    t.eq(lifecycle(d, "one"), "open\nopen\nclose\n",
         "refused reload: nothing opened or closed")
    st, _ = d.call("one/Dynamic.Ping")
    t.eq(st, 200, "refused reload: the running catalog keeps serving")

    code = d.stop()
    t.eq(code, 0, "SIGTERM: exit 0")
    t.eq(lifecycle(d, "one"), "open\nopen\nclose\nclose\n",
         "shutdown: one closed exactly once more")
    t.eq(lifecycle(d, "two"), "open\nopen\nclose\nclose\n",
         "shutdown: two closed exactly once more")
finally:
    d.kill()
    if getattr(d, "log", None):
        d.log.close()

if t.failed == 0:
    subprocess.run(["rm", "-rf", work, d.workdir], check=False)
t.done()
