"""The shipped systemd unit (etc/systemd/svcbrokerd.service.in, generated
with this build's paths): Type=notify, a reload that checks first, a
system user without a login shell, the build's paths; `systemd-analyze
verify` finds nothing wrong and `systemd-analyze security --offline=yes`
rates it 2.0 or lower (where systemd-analyze is present); every hardening
directive is explained in the administrator's guide."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

UNIT = os.path.join(sbtest.TOP_BUILDDIR, "svcbrokerd.service")
SYSUSERS = os.path.join(sbtest.TOP_SRCDIR, "etc", "systemd", "sysusers.d",
                        "svcbroker.conf")
GUIDE = os.path.join(sbtest.TOP_SRCDIR, "docs", "admin-guide.md")


def directives(text):
    out = []
    for line in text.splitlines():
        m = re.match(r"([A-Za-z]+)=(.*)$", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def main():
    t = sbtest.Checks()
    with open(UNIT) as f:
        unit = f.read()
    d = directives(unit)
    get = lambda k: [v for kk, v in d if kk == k]
    t.eq(get("Type"), ["notify"], "Type=notify")
    t.ok(not re.search(r"@[a-z]+@", unit),
         "every @placeholder@ is replaced")
    reload = get("ExecReload")
    t.ok(len(reload) == 2 and "--check" in reload[0] and
         "-HUP $MAINPID" in reload[1],
         "ExecReload checks the configuration before SIGHUP", repr(reload))
    start = get("ExecStart")
    mk = {}
    with open(os.path.join(sbtest.TOP_BUILDDIR, "Makefile")) as f:
        for line in f:
            m = re.match(r"(sbindir|sysconfdir|prefix|exec_prefix) = (.*)$",
                         line.rstrip("\n"))
            if m:
                mk[m.group(1)] = m.group(2)
    expand = lambda v: v.replace("${exec_prefix}", mk.get(
        "exec_prefix", "")).replace("${prefix}", mk.get("prefix", ""))
    sbindir = expand(expand(mk.get("sbindir", "")))
    sysconf = expand(mk.get("sysconfdir", ""))
    t.eq(start, ["%s/svcbrokerd -c %s/svcbroker/svcbroker.ini"
                 % (sbindir, sysconf)],
         "ExecStart names this build's svcbrokerd and configuration")
    t.eq(get("User"), ["svcbroker"], "runs as the svcbroker user")
    t.eq(get("StateDirectory"), ["svcbroker"],
         "StateDirectory=svcbroker (/var/lib/svcbroker)")
    with open(SYSUSERS) as f:
        users = [l.split() for l in f if l.strip() and
                 not l.startswith("#")]
    t.ok(len(users) == 1 and users[0][:2] == ["u", "svcbroker"] and
         users[0][-1] == "/usr/sbin/nologin" and
         users[0][-2] == "/var/lib/svcbroker",
         "sysusers.d: a system user without a login shell", repr(users))

    # every hardening directive is explained in the guide
    with open(GUIDE) as f:
        guide = f.read()
    hard = unit.split("# Hardening", 1)[1].split("[Install]")[0]
    names = sorted({k for k, _ in directives(hard)})
    missing = [n for n in names if "`%s=" % n not in guide]
    t.ok(names and not missing,
         "admin-guide.md explains each hardening directive", repr(missing))

    sa = shutil.which("systemd-analyze")
    if not sa:
        print("# systemd-analyze not found: verify and security skipped")
        t.done()
    # verify wants the programs to exist: the built ones stand in for the
    # installed ones (only the paths change)
    tmp = sbtest.tempdir("sbunit-")
    try:
        daemon = sbtest.daemon_path()
        copy = re.sub(r"^(Exec\w+=)\S*/svcbrokerd", r"\1" + daemon, unit,
                      flags=re.M)
        path = os.path.join(tmp, "svcbrokerd.service")
        with open(path, "w") as f:
            f.write(copy)
        p = subprocess.run([sa, "verify", "--man=no", path],
                           capture_output=True, text=True, timeout=60)
        t.ok(p.returncode == 0 and not p.stderr.strip(),
             "systemd-analyze verify: nothing to say", p.stderr)
        p = subprocess.run([sa, "security", "--offline=yes", path],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)",
                      p.stdout)
        t.ok(m is not None, "systemd-analyze security rates the unit",
             p.stdout[-500:] + p.stderr)
        if m:
            t.ok(float(m.group(1)) <= 2.0 and m.group(2) == "OK",
                 "systemd-analyze security: %s %s (at most 2.0, OK)"
                 % (m.group(1), m.group(2)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
