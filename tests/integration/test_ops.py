"""svcbrokerd run as a service: log lines for the journal (a <N> priority
and no timestamp when JOURNAL_STREAM names stderr) and as JSON
(log_format = json), a failed instance's open error logged once with its
category once, --pid-file, --dump-config (includes, environment and
defaults resolved, secrets masked, the output a valid configuration),
sd_notify messages (READY, RELOADING, STOPPING, STATUS) on a socket this
test listens on, /v1/health answering 503 "stopping" to new connections
while a SIGTERM drains, and /metrics' build, process and zero call
series."""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

SECRET = "Op5-S3cret-never-shown"
OPS_HASH = hashlib.sha256(b"ops-token-for-the-dump").hexdigest()
READER_HASH = hashlib.sha256(b"reader-token-for-the-dump").hexdigest()

BASE = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = first
token = %s
""" % SECRET

FAILED = BASE + """
[instance bad]
broker = testmod
label = broken
open_fail = yes
"""


class ArgsDaemon(sbtest.Daemon):
    """A Daemon started with extra command-line arguments."""

    def __init__(self, body, args=(), **kw):
        super().__init__(body, **kw)
        self.args = list(args)

    def start(self):
        real = sbtest.daemon_command
        sbtest.daemon_command = lambda: real() + self.args
        try:
            return super().start()
        finally:
            sbtest.daemon_command = real


def systemd_built():
    try:
        with open(os.path.join(sbtest.TOP_BUILDDIR, "config.h")) as f:
            return "#define HAVE_LIBSYSTEMD 1" in f.read()
    except OSError:
        return False


def lines_of(d):
    return [l for l in d.read_log().splitlines() if l.strip()]


def test_journal(t):
    d = sbtest.Daemon(FAILED, keep_workdir=True)
    # the log file exists before the daemon starts: its device and inode
    # are what systemd would put in JOURNAL_STREAM
    open(d.log_path, "ab").close()
    st = os.stat(d.log_path)
    d.env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
    with d:
        d.get("/v1/health")
    lines = lines_of(d)
    t.ok(len(lines) >= 3, "journal: the daemon logged", repr(lines))
    t.ok(all(re.match(r"<[3467]>", l) for l in lines),
         "journal: every line starts with a <N> priority",
         "\n".join(l for l in lines if not re.match(r"<[3467]>", l)))
    t.ok(not any(re.match(r"<\d>\d{4}-\d\d-\d\dT", l) for l in lines),
         "journal: no timestamp of our own")
    opened = [l for l in lines if "open_fail is set" in l]
    t.eq(len(opened), 1, "the failed open is logged once")
    t.ok(opened and opened[0].startswith("<3>"),
         "the failed open is logged at error (<3>)", repr(opened))
    t.ok(opened and opened[0].count("upstream") == 1,
         "its category is named once", repr(opened))
    t.ok(any(l.startswith("<6>") and "listening on" in l for l in lines),
         "journal: info lines are <6>")
    t.ok(any(l.startswith("<6>info [testmod:t1] ready") for l in lines),
         "journal: <N>level [broker:instance] message", repr(lines[:4]))

    # a JOURNAL_STREAM that names another file: plain lines
    shutil.rmtree(d.workdir, ignore_errors=True)
    d = sbtest.Daemon(BASE, env={"JOURNAL_STREAM": "1:1"}, keep_workdir=True)
    with d:
        pass
    lines = lines_of(d)
    shutil.rmtree(d.workdir, ignore_errors=True)
    t.ok(lines and all(re.match(r"\d{4}-\d\d-\d\dT\S+Z (info|warn|error) ",
                                l) for l in lines),
         "JOURNAL_STREAM of another file: timestamped lines", repr(lines))


def test_json(t):
    d = sbtest.Daemon(FAILED, server_extra="log_format = json",
                      keep_workdir=True)
    with d:
        d.call("t1/Echo.Echo", {})
    lines = lines_of(d)
    log = d.read_log()
    shutil.rmtree(d.workdir, ignore_errors=True)
    objs = []
    for l in lines:
        try:
            objs.append(json.loads(l))
        except ValueError:
            t.ok(False, "json: a line that is not JSON", l)
    t.ok(objs and len(objs) == len(lines), "json: every line is a JSON object")
    t.ok(all({"time", "level", "broker", "msg"} <= set(o) for o in objs),
         "json: time, level, broker and msg in every line")
    t.ok(all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", o["time"])
             for o in objs), "json: UTC timestamps")
    ready = [o for o in objs if o.get("instance") == "t1"
             and o["msg"].startswith("ready")]
    t.ok(ready and ready[0]["broker"] == "testmod" and
         ready[0]["level"] == "info",
         "json: an instance's line names broker and instance", repr(ready))
    bad = [o for o in objs if "open_fail is set" in o["msg"]]
    t.ok(len(bad) == 1 and bad[0]["level"] == "error",
         "json: the failed open once, at error", repr(bad))
    t.ok(any(o["broker"] == "svcbrokerd" and "instance" not in o
             for o in objs), "json: the daemon's own lines")
    t.ok(SECRET not in log, "json: no secret in the log")


def test_pid_file(t):
    tmp = sbtest.tempdir("sbops-")
    pid = os.path.join(tmp, "svcbrokerd.pid")
    d = ArgsDaemon(BASE, ["--pid-file", pid])
    with d:
        try:
            with open(pid) as f:
                text = f.read()
        except OSError as e:
            text = repr(e)
        t.eq(text, "%d\n" % d.proc.pid, "--pid-file holds the process id")
    t.eq(d.proc.returncode, 0, "--pid-file: clean exit")
    t.ok(not os.path.exists(pid), "--pid-file: removed at a clean exit")

    d = ArgsDaemon(BASE, ["--pid-file", os.path.join(tmp, "no", "dir.pid")])
    try:
        d.start()
        started = True
    except RuntimeError:
        started = False
    d.kill()
    t.ok(not started and d.proc.returncode == 1 and
         "--pid-file" in d.read_log() and "No such file" in d.read_log(),
         "--pid-file in a missing directory: not started, saying why",
         "(started %r, exit %r) %s" % (started, d.proc.returncode,
                                       d.read_log()[-500:]))
    os.rmdir(tmp)


def run(args, env=None):
    p = subprocess.run([sbtest.daemon_path()] + args, capture_output=True,
                       text=True, timeout=60, env=env)
    return p.returncode, p.stdout, p.stderr


def test_dump_config(t):
    d = sbtest.Daemon(BASE + "\n[server]\ninclude = more/*.ini\n")
    # [server] twice is refused: put the include in the first one
    with open(d.config) as f:
        text = f.read()
    text = text.replace("\n[server]\ninclude = more/*.ini\n", "")
    text = text.replace("[server]\n", "[server]\ninclude = more/*.ini\n", 1)
    with open(d.config, "w") as f:
        f.write(text)
    os.makedirs(os.path.join(d.workdir, "more"))
    with open(os.path.join(d.workdir, "more", "t2.ini"), "w") as f:
        f.write("[instance t2]\nbroker = testmod\nlabel = ${env:SB_OPS_LABEL}"
                "\ntimeout = 90s\ntoken = ${env:SB_OPS_TOKEN}\n"
                "\n[client reader]\ntoken_sha256 = %s\nallow = t2/Echo.*\n" % READER_HASH)
    with open(d.config, "a") as f:
        f.write("\n[client ops]\ntoken_sha256 = ${env:SB_OPS_HASH}\n"
                "allow = t1/Echo.Echo,\n  */Instance.*\n"
                "mailboxes = bob@example.com, *@example.org\n"
                "max_calls_per_minute = 120\n")
    env = dict(os.environ, SB_OPS_LABEL="from-the-environment",
               SB_OPS_TOKEN=SECRET + "2", SB_OPS_HASH=OPS_HASH)
    code, out, err = run(["--dump-config", "-c", d.config], env)
    t.eq(code, 0, "--dump-config exits 0")
    # without its clients a dump read as a configuration would serve
    # every caller: each [client] with every key (the hash is no secret)
    ops = re.search(r"^\[client ops\]\n((?:[^\[\n].*\n)*)", out, re.M)
    t.eq(ops and ops.group(1).splitlines(),
         ["token_sha256 = " + OPS_HASH, "# cert_subject is not set",
          "allow = t1/Echo.Echo, */Instance.*",
          "mailboxes = bob@example.com, *@example.org",
          "max_calls_per_minute = 120"],
         "--dump-config: a [client] with all its keys, ${env:} resolved")
    reader = re.search(r"^\[client reader\]\n((?:[^\[\n].*\n)*)", out,
                       re.M)
    t.eq(reader and reader.group(1).splitlines(),
         ["token_sha256 = " + READER_HASH, "# cert_subject is not set",
          "allow = t2/Echo.*", "mailboxes = default",
          "max_calls_per_minute = 0"],
         "--dump-config: the included file's [client], defaults filled in")
    t.ok(SECRET not in out and SECRET not in err,
         "--dump-config: no secret value, from the file or the environment")
    t.ok(re.search(r"^token = \*+$", out, re.M),
         "--dump-config: a secret key is masked", out)
    t.ok("label = from-the-environment" in out,
         "--dump-config: ${env:} resolved")
    t.ok("[instance t2]" in out and "timeout = 90s" in out,
         "--dump-config: the included file's instance, as bound", out)
    t.ok(re.search(r"^workers = 16$", out, re.M) and
         re.search(r"^max_concurrency = 8$", out, re.M) and
         re.search(r"^log_format = text$", out, re.M),
         "--dump-config: defaults filled in")
    t.ok("include" not in re.sub(r"^#.*$", "", out, flags=re.M),
         "--dump-config: no include left (the files are in place)")
    dumped = os.path.join(d.workdir, "dumped.ini")
    with open(dumped, "w") as f:
        f.write(out)
    code, out2, err2 = run(["--check", "-c", dumped])
    t.eq(code, 0, "--dump-config's output passes --check " + err2)
    code, out3, err3 = run(["--dump-config", "-c", dumped])
    body = lambda s: [l for l in s.splitlines() if not l.startswith("#")]
    t.eq(body(out3), body(out), "--dump-config of the dump: the same")

    with open(os.path.join(d.workdir, "more", "t3.ini"), "w") as f:
        f.write("[instance t3]\nbroker = testmod\nlabel = x\nbogus = 1\n"
                "token = %s\n" % SECRET)
    code, out, err = run(["--dump-config", "-c", d.config], env)
    t.ok(code == 1 and "bogus" in err and SECRET not in out + err,
         "--dump-config: an instance that does not bind is named, exit 1, "
         "no secret shown", err)
    shutil.rmtree(d.workdir, ignore_errors=True)


def test_notify(t):
    if not systemd_built():
        print("# sd_notify: built without libsystemd, skipped")
        return
    tmp = sbtest.tempdir("sbnotify-")
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    got = []
    stop = threading.Event()

    def listen():
        while not stop.is_set():
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
            except OSError:
                break

    th = threading.Thread(target=listen)
    th.start()

    def seen(pred):
        return any(pred(m) for m in list(got))

    try:
        d = sbtest.Daemon(BASE, env={"NOTIFY_SOCKET": path})
        with d:
            t.ok(sbtest.wait_for(lambda: seen(lambda m: "READY=1" in m)),
                 "sd_notify: READY=1 once serving", repr(got))
            t.ok(seen(lambda m: "READY=1" in m and
                      "STATUS=serving 1 instance on 127.0.0.1:%d" % d.port
                      in m), "sd_notify: STATUS says what serves", repr(got))
            n = len(got)
            d.signal(signal.SIGHUP)
            t.ok(sbtest.wait_for(lambda: any("READY=1" in m
                                             for m in got[n + 1:])),
                 "sd_notify: READY=1 after the reload", repr(got[n:]))
            after = got[n:]
            rel = [i for i, m in enumerate(after) if "RELOADING=1" in m]
            rdy = [i for i, m in enumerate(after) if "READY=1" in m]
            t.ok(rel and rdy and rel[0] < rdy[0] and
                 "MONOTONIC_USEC=" in after[rel[0]],
                 "sd_notify: RELOADING=1 (with MONOTONIC_USEC) first",
                 repr(after))
            t.ok(any("generation 2" in m for m in after),
                 "sd_notify: the status names the new generation")
            n = len(got)
        t.ok(any("STOPPING=1" in m and "STATUS=SIGTERM" in m
                 for m in got[n:]), "sd_notify: STOPPING=1 on SIGTERM",
             repr(got[n:]))
    finally:
        stop.set()
        th.join(timeout=5)
        sock.close()
        os.unlink(path)
        os.rmdir(tmp)


def test_drain_health(t):
    d = sbtest.Daemon(BASE)
    with d:
        box = {}

        def slow():
            box["r"] = d.call("t1/Echo.Sleep", {"Ms": 2500})

        th = threading.Thread(target=slow)
        th.start()
        t.ok(sbtest.wait_for(lambda: d.running("t1") == 1),
             "drain: a call is running")
        d.signal(signal.SIGTERM)
        t.ok(sbtest.wait_for(lambda: "finishing running calls" in
                             d.read_log()), "drain: the stop began")
        # new connections, each its own (urllib opens one per request);
        # the stopper thread marks the runtime draining just after the
        # line above is logged
        sbtest.wait_for(lambda: d.get("/v1/health", timeout=5)[0] == 503, 5)
        st, body = d.get("/v1/health", timeout=5)
        t.eq(st, 503, "drain: a new connection's /v1/health is 503")
        t.eq(body.get("status") if isinstance(body, dict) else body,
             "stopping", "drain: its status is stopping")
        st, body = d.call("t1/Echo.Echo", {}, timeout=5)
        t.eq(st, 503, "drain: a new call is refused with 503")
        p = subprocess.run([sbtest.cli_path(), "--json", "-u", d.url,
                            "health"], capture_output=True, text=True,
                           timeout=30)
        try:
            status = json.loads(p.stdout).get("status")
        except ValueError:
            status = None
        t.ok(p.returncode == 1 and status == "stopping",
             "drain: svcbroker --json health prints the answer, exit 1",
             "%d %r %r" % (p.returncode, p.stdout, p.stderr))
        th.join(timeout=30)
        t.eq(box.get("r", (None,))[0], 200,
             "drain: the running call still completes")
        t.ok(sbtest.wait_for(lambda: d.proc.poll() is not None, 10),
             "drain: the daemon exits once drained")
        t.eq(d.proc.returncode, 0, "drain: exit status 0")
        try:
            socket.create_connection(("127.0.0.1", d.port), 1).close()
            closed = False
        except OSError:
            closed = True
        t.ok(closed, "drain: the listener is closed after the drain")


def metric(text, name, labels=None):
    for l in text.splitlines():
        if l.startswith("#"):
            continue
        m = re.match(r"([a-z_]+)(\{[^}]*\})? (\S+)$", l)
        if not m or m.group(1) != name:
            continue
        if labels and not all('%s="%s"' % kv in (m.group(2) or "")
                              for kv in labels.items()):
            continue
        return float(m.group(3))
    return None


def test_metrics(t):
    with sbtest.Daemon(FAILED) as d:
        st, text = d.get("/metrics")
        t.eq(st, 200, "metrics: 200")
        t.eq(metric(text, "svcbroker_build_info", {"version": "0.1.0"}), 1.0,
             "metrics: svcbroker_build_info{version} 1")
        t.ok(re.search(r'svcbroker_build_info\{[^}]*abi="\d+\.\d+"', text),
             "metrics: build_info names the broker contract")
        cpu = metric(text, "process_cpu_seconds_total")
        t.ok(cpu is not None and cpu >= 0, "metrics: process CPU seconds")
        rss = metric(text, "process_resident_memory_bytes")
        t.ok(rss is not None and rss > 1 << 20,
             "metrics: resident memory in bytes", repr(rss))
        fds = metric(text, "process_open_fds")
        real = len(os.listdir("/proc/%d/fd" % d.proc.pid))
        t.ok(fds is not None and abs(fds - real) <= 3,
             "metrics: open fds", "(%r, /proc says %d)" % (fds, real))
        start = metric(text, "process_start_time_seconds")
        t.ok(start is not None and time.time() - 120 < start <= time.time(),
             "metrics: start time in seconds since 1970", repr(start))
        lab = {"instance": "t1", "object": "Echo", "method": "Sleep",
               "status": "ok"}
        t.eq(metric(text, "svcbroker_calls_total", lab), 0.0,
             "metrics: a method never called is counted at 0")
        t.eq(metric(text, "svcbroker_call_duration_seconds_count",
                    {"instance": "t1", "object": "Echo", "method": "Sleep"}),
             0.0, "metrics: its histogram exists at 0")
        t.ok(metric(text, "svcbroker_calls_total",
                    {"instance": "t1", "object": "Instance", "method": "Info",
                     "status": "ok"}) == 0.0,
             "metrics: every object's methods are listed")
        d.call("t1/Echo.Sleep", {"Ms": 1})
        st, text = d.get("/metrics")
        t.eq(metric(text, "svcbroker_calls_total", lab), 1.0,
             "metrics: counted from 0 to 1")
        t.ok(metric(text, "process_cpu_seconds_total") >= cpu,
             "metrics: CPU seconds only grow")


def test_paths(t):
    """The installed man pages (generated with this build's paths), the
    daemon's built-in defaults and the installed default configuration
    name the same places."""
    code, out, err = run(["--help"])
    m = re.search(r"configuration file \(default (\S+)\)", out)
    config = m.group(1) if m else None
    t.ok(config and config.endswith("/svcbroker/svcbroker.ini"),
         "paths: --help names the default configuration", out)
    tmp = sbtest.tempdir("sbpaths-")
    empty = os.path.join(tmp, "empty.ini")
    with open(empty, "w") as f:
        f.write("[server]\n")
    code, out, err = run(["--dump-config", "-c", empty])
    dumped = dict(re.findall(r"^(module_dir|console_dir) = (.*)$", out, re.M))
    man_dir = os.path.join(sbtest.TOP_BUILDDIR, "man")
    try:
        with open(os.path.join(man_dir, "svcbrokerd.8")) as f:
            man8 = f.read().replace("\\-", "-")
        with open(os.path.join(man_dir, "svcbroker.ini.5")) as f:
            man5 = f.read().replace("\\-", "-")
    except OSError as e:
        man8 = man5 = repr(e)
    t.ok(config and config in man8,
         "paths: svcbrokerd(8) names the default configuration", config)
    t.ok(dumped.get("module_dir") and dumped["module_dir"] + "/" in man8 and
         "module_dir = " + dumped["module_dir"] in man5,
         "paths: svcbrokerd(8) and svcbroker.ini(5) name the module "
         "directory", repr(dumped))
    t.ok(dumped.get("console_dir") and dumped["console_dir"] + "/" in man8,
         "paths: svcbrokerd(8) names the console's directory")
    t.ok(not re.search(r"@[a-z]+@", man8 + man5),
         "paths: no @placeholder@ left in the installed man pages")
    # the default configuration as make install puts it
    dest = os.path.join(tmp, "dest")
    p = subprocess.run(["make", "-s", "-C", sbtest.TOP_BUILDDIR,
                        "install-default-config", "DESTDIR=" + dest],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0 and "No rule to make target" in p.stderr:
        # a build without mapi-stub installs no default configuration
        print("# install-default-config: not in this build, skipped")
        shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        with open(dest + config) as f:
            installed = f.read()
    except (OSError, TypeError) as e:
        installed = repr(e) + p.stdout + p.stderr
    m = re.search(r"^store_dir = (\S+)$", installed, re.M)
    store = m.group(1) if m else None
    t.ok(store and store.endswith("/lib/svcbroker/store") and
         store in man8, "paths: svcbrokerd(8) names the installed default "
         "configuration's store", "%r" % store)
    shutil.rmtree(tmp, ignore_errors=True)


def main():
    t = sbtest.Checks()
    test_paths(t)
    test_journal(t)
    test_json(t)
    test_pid_file(t)
    test_dump_config(t)
    test_notify(t)
    test_drain_health(t)
    test_metrics(t)
    t.done()


if __name__ == "__main__":
    main()
