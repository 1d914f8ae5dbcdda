"""svcbrokerd's command line: --check exits non-zero on each class of
error (printing every problem) and 0 on a good file; --list-brokers prints
JSON that parses and never shows a secret; --version, --help, bad options;
a daemon that cannot start says why and exits non-zero."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

SECRET = "Very-Secret-Value-42"

GOOD = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = first
token = %s
list_total = 10
latency = 5ms
max_echo = 64KiB
tags = a, b
url = https://example.com/x
timeout = 2s
max_concurrency = 3
""" % SECRET

ENABLED = "[module testmod]\nenabled = yes\n"
INST = "[instance x]\nbroker = testmod\n"

# (name, config body, text the message must contain)
BAD = [
    ("syntax error", "this is not ini\n", "expected"),
    ("unknown [server] key", "", "bogus_server_key"),
    ("instance of a module not enabled",
     "[instance x]\nbroker = testmod\nlabel = a\n", "testmod"),
    ("unknown instance key", ENABLED + INST + "label = a\nnokey = 1\n",
     "nokey"),
    ("missing required key", ENABLED + INST, "label"),
    ("bad type", ENABLED + INST + "label = a\nlist_total = abc\n",
     "list_total"),
    ("out of range", ENABLED + INST + "label = a\nlist_total = -5\n",
     "list_total"),
    ("bad choice", ENABLED + INST + "label = a\ndescribe = weird\n",
     "describe"),
    ("bad host key", ENABLED + INST + "label = a\ntimeout = forever\n",
     "timeout"),
    ("missing module", "[module nosuchmod]\nenabled = yes\n", "nosuchmod"),
    ("refused module", "[module badmod-magic]\nenabled = yes\n", "magic"),
    ("duplicate section", ENABLED + INST + "label = a\n" + INST +
     "label = b\n", "twice"),
    ("unreadable secret", ENABLED + INST +
     "label = a\ntoken = ${file:/nonexistent/secret}\n", "/nonexistent/secret"),
]


def run(args, timeout=30):
    p = subprocess.run([sbtest.daemon_path()] + args, capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def make_config(workdir, body, server_extra=""):
    mods = sbtest.make_module_dir(os.path.join(workdir, "modules"))
    path = os.path.join(workdir, "svcbroker.ini")
    with open(path, "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:%d\nmodule_dir = %s\n%s\n%s"
                % (sbtest.free_port(), mods, server_extra, body))
    return path


def main():
    t = sbtest.Checks()
    work = sbtest.tempdir("sbtest-opts-")

    code, out, err = run(["--version"])
    t.ok(code == 0 and "svcbrokerd" in out, "--version")
    code, out, err = run(["--help"])
    t.ok(code == 0 and "--check" in out and "--list-brokers" in out, "--help")
    code, out, err = run(["--no-such-option"])
    t.eq(code, 2, "an unknown option exits 2")

    good = make_config(work, GOOD)
    code, out, err = run(["--check", "-c", good])
    t.eq(code, 0, "--check on a good file exits 0")
    t.ok("OK" in out, "--check says OK")
    t.ok(SECRET not in out + err, "--check never prints a secret")

    for name, body, want in BAD:
        extra = "bogus_server_key = 1" if name == "unknown [server] key" else ""
        path = make_config(work, body, extra)
        code, out, err = run(["--check", "--config", path])
        t.eq(code, 1, "--check: %s exits 1" % name)
        t.ok(want in err, "--check: %s is explained" % name, repr(err[-400:]))

    many = make_config(work, ENABLED + INST + "nokey = 1\nlist_total = x\n" +
                       "[instance y]\nbroker = testmod\nlabel = a\n"
                       "describe = weird\n")
    code, out, err = run(["--check", "-c", many])
    t.eq(code, 1, "--check with several problems exits 1")
    t.ok(all(w in err for w in ("nokey", "list_total", "describe", "label")),
         "--check prints every problem", repr(err))

    # Text quoted from the file never drives the terminal.
    ctl = make_config(work, "[su\x1b[31mper]\nx = 1\n")
    for mode in ("--check", "--list-brokers"):
        code, out, err = run([mode, "-c", ctl])
        t.ok("\x1b" not in err and "su?[31mper" in err,
             "%s shows control characters from the file as '?'" % mode,
             repr(err[-400:]))
    ctl = make_config(work, ENABLED + INST + "label = a\nno\x07key = 1\n")
    code, out, err = run(["--check", "-c", ctl])
    t.ok("\x07" not in err and "no?key" in err,
         "--check shows a control character in a key as '?'", repr(err[-400:]))

    bad_listen = make_config(work, "").replace("svcbroker.ini", "x.ini")
    with open(make_config(work, "")) as f:
        text = f.read()
    with open(bad_listen, "w") as f:
        f.write(text.replace("listen = 127.0.0.1:", "listen = 127.0.0.1:9999"))
    code, out, err = run(["--check", "-c", bad_listen])
    t.eq(code, 1, "--check: a bad listen address exits 1")

    code, out, err = run(["--list-brokers", "-c", good])
    t.eq(code, 0, "--list-brokers exits 0")
    try:
        listing = json.loads(out)
    except ValueError:
        listing = {}
    brokers = listing.get("brokers") if isinstance(listing, dict) else None
    t.ok(isinstance(brokers, list) and brokers, "--list-brokers JSON parses")
    brokers = brokers or []
    # The host's own keys come from the same kind of table.
    host = listing.get("host", {}) if isinstance(listing, dict) else {}
    server = {k["key"]: k for k in host.get("server", [])}
    t.ok({"listen", "workers", "queue", "max_body", "include",
          "log_level"} <= set(server), "--list-brokers lists [server] keys")
    t.eq((server.get("workers", {}).get("min"),
          server.get("workers", {}).get("max")), (1, 4096),
         "[server] workers: range shown")
    t.eq(server.get("log_level", {}).get("choices"),
         ["error", "warn", "info", "debug"], "[server] log_level: choices")
    t.eq(sorted(k["key"] for k in host.get("instance", [])),
         ["broker", "max_concurrency", "timeout"],
         "--list-brokers lists the host keys of every instance")
    bym = {b.get("name"): b for b in brokers}
    tm = bym.get("testmod", {})
    t.ok(tm, "--list-brokers lists testmod")
    keys = {k["key"]: k for k in tm.get("config", [])}
    t.ok(set(keys) >= {"label", "token", "list_total", "describe"},
         "--list-brokers lists config keys")
    for field in ("key", "type", "default", "required", "secret", "min",
                  "max", "choices", "doc"):
        t.ok(all(field in k for k in keys.values()),
             "--list-brokers: every key has %s" % field)
    t.eq(keys.get("token", {}).get("secret"), True, "token is secret")
    t.eq(keys.get("token", {}).get("default"), None, "no secret default")
    t.eq(keys.get("label", {}).get("required"), True, "label is required")
    t.eq((keys.get("list_total", {}).get("min"),
          keys.get("list_total", {}).get("max")), (0, 100000),
         "min/max shown")
    t.ok("fail" in (keys.get("describe", {}).get("choices") or []),
         "choices shown")
    t.ok("Echo" in [o.get("name") for o in tm.get("objects", [])],
         "--list-brokers shows objects")
    t.ok(SECRET not in out + err, "--list-brokers never shows a secret")
    t.ok("badmod-magic" in err, "refused modules are reported on stderr")

    # a daemon that cannot start: the port is taken
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        busy = make_config(work, GOOD).replace("svcbroker.ini", "busy.ini")
        with open(make_config(work, GOOD)) as f:
            text = f.read()
        with open(busy, "w") as f:
            f.write(re.sub(r"listen = 127\.0\.0\.1:\d+",
                           "listen = 127.0.0.1:%d" % port, text))
        code, out, err = run(["-c", busy])
        t.eq(code, 1, "a taken port: exit 1")
        t.ok("127.0.0.1:%d" % port in err, "a taken port is named",
             repr(err[-300:]))
        t.ok(SECRET not in out + err, "start-up log never shows a secret")
    code, out, err = run(["-c", os.path.join(work, "missing.ini")])
    t.eq(code, 1, "a missing configuration: exit 1")
    t.ok("missing.ini" in err, "a missing configuration is named")

    # IPv6 loopback, if this host has it
    try:
        with socket.socket(socket.AF_INET6) as s6:
            s6.bind(("::1", 0))
            have6 = True
    except OSError:
        have6 = False
    if have6:
        d = sbtest.Daemon(GOOD)
        with open(d.config) as f:
            text = f.read()
        with open(d.config, "w") as f:
            f.write(text.replace("listen = 127.0.0.1:%d" % d.port,
                                 "listen = [::1]:%d" % d.port))
        d.proc = subprocess.Popen([sbtest.daemon_path(), "-c", d.config],
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        import http.client
        import time
        ok = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not ok:
            try:
                c = http.client.HTTPConnection("::1", d.port, timeout=2)
                c.request("GET", "/v1/health")
                ok = c.getresponse().status == 200
                c.close()
            except OSError:
                time.sleep(0.05)
        t.ok(ok, "listen = [::1]:port serves over IPv6")
        t.eq(d.stop(), 0, "IPv6 daemon stops cleanly")
        shutil.rmtree(d.workdir, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
