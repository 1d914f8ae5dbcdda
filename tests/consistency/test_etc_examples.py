"""The configuration files of etc/ (svcbroker.ini and *.example.ini) pass
`svcbrokerd --check` against the modules built here, so the examples only
use keys that exist and values those keys accept.

Each file is checked from a temporary copy whose [server] module_dir names
the built modules, with every ${file:...} it references made as a file of
the copy, every ${env:...} set and every file a key names (ca_file,
client_key, ...: validate() checks they open) made in the copy; etc/
itself is never changed.  Each
file is checked twice: as shipped, and with every commented-out key and
section (";key = value", ";[instance x]") taken in, since those show keys
an administrator is invited to use.  A copy with an unknown key must be
refused, so the check is known to look at the keys.  Each
etc/<broker>.example.ini shows every key of its broker.
"""
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consistency_lib as cl  # noqa: E402

SECTION = re.compile(r"^\s*\[\s*([^\]]*?)\s*\]\s*$")
KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")
COMMENTED_SECTION = re.compile(r"^[;#]\s*(\[[^\]]*\])\s*$")
COMMENTED_KEY = re.compile(r"^[;#]\s?([A-Za-z_][A-Za-z0-9_]*)(\s*=.*)$")
REF = re.compile(r"\$\{(file|env):([^}]*)\}")


def take_in_comments(lines):
    """Uncomment commented-out sections and keys, except a key already
    given (or taken in) in the same section."""
    out = []
    section = None
    seen = {}  # section -> keys given
    # Keys given actively, by section, so a commented alternative value
    # of one of them stays a comment.
    active = {}
    cur = None
    for line in lines:
        m = SECTION.match(line)
        if m:
            cur = m.group(1)
            continue
        c = COMMENTED_SECTION.match(line)
        if c:
            cur = SECTION.match(c.group(1)).group(1)
            continue
        k = KEY.match(line)
        if k:
            active.setdefault(cur, set()).add(k.group(1))
    for line in lines:
        c = COMMENTED_SECTION.match(line)
        if c:
            line = c.group(1) + "\n"
        m = SECTION.match(line)
        if m:
            section = m.group(1)
            out.append(line)
            continue
        ck = COMMENTED_KEY.match(line)
        if ck and section is not None:
            key = ck.group(1)
            given = seen.setdefault(section, set())
            if key not in active.get(section, set()) and key not in given:
                given.add(key)
                out.append(key + ck.group(2) + "\n")
                continue
        out.append(line)
    return out


def prepare(src, workdir, module_dir, full):
    """Write the copy of src under workdir/etc; returns (path, env)."""
    with open(src) as f:
        lines = f.read().splitlines(True)
    if full:
        lines = take_in_comments(lines)
    secrets = os.path.join(workdir, "secrets")
    os.makedirs(secrets, exist_ok=True)
    env = dict(os.environ)
    out = []
    section = None
    has_server = any(SECTION.match(x) and SECTION.match(x).group(1) == "server"
                     for x in lines)
    if not has_server:
        out.append("[server]\nmodule_dir = %s\n\n" % module_dir)
    n_files = 0
    for line in lines:
        m = SECTION.match(line)
        if m:
            section = m.group(1)
            out.append(line)
            if section == "server":
                out.append("module_dir = %s\n" % module_dir)
            continue
        k = KEY.match(line) or COMMENTED_KEY.match(line)
        if section == "server" and k and k.group(1) == "module_dir":
            continue  # replaced above

        def ref(mm):
            nonlocal n_files
            if mm.group(1) == "env":
                env[mm.group(2)] = "example-value"
                return mm.group(0)
            n_files += 1
            path = os.path.join(secrets, "%d-%s" % (
                n_files, os.path.basename(mm.group(2)) or "secret"))
            with open(path, "w") as f:
                f.write("example-secret\n")
            os.chmod(path, 0o600)
            return "${file:%s}" % path
        if KEY.match(line):
            line = REF.sub(ref, line)
            # a file the instance reads (validate() checks it opens): the
            # example's path made as a file of the copy
            fk = re.match(r"^(\s*([A-Za-z_]+)\s*=\s*)(/\S*)\s*$", line)
            if fk and (fk.group(2).endswith("_file") or fk.group(2) in (
                    "client_certificate", "client_key")):
                n_files += 1
                path = os.path.join(secrets, "%d-%s" % (
                    n_files, os.path.basename(fk.group(3)) or "file"))
                with open(path, "w") as f:
                    f.write("example-file\n")
                os.chmod(path, 0o600)
                line = fk.group(1) + path + "\n"
        out.append(line)
    etc = os.path.join(workdir, "etc")
    os.makedirs(etc, exist_ok=True)
    path = os.path.join(etc, os.path.basename(src))
    with open(path, "w") as f:
        f.writelines(out)
    return path, env


def first_instance_line(path):
    with open(path) as f:
        for i, line in enumerate(f):
            m = SECTION.match(line)
            if m and m.group(1).startswith("instance "):
                return i
    return None


def main():
    t = cl.Checks()
    files = sorted(f for f in os.listdir(os.path.join(cl.TOP_SRCDIR, "etc"))
                   if f.endswith(".ini"))
    t.ok("svcbroker.ini" in files, "etc/svcbroker.ini exists")
    if not cl.built_brokers():
        print("# no broker module built: the examples cannot be checked")
        sys.exit(cl.SKIP)
    with tempfile.TemporaryDirectory(prefix="sbetc-") as tmp:
        module_dir = os.path.join(tmp, "modules")
        brokers, _ = cl.list_modules(tmp)
        built = {b["name"]: b for b in brokers}
        for name in files:
            src = os.path.join(cl.TOP_SRCDIR, "etc", name)
            m = re.match(r"^(.*)\.example\.ini$", name)
            if m and m.group(1) not in built:
                print("# %s: broker %s not built here, not checked"
                      % (name, m.group(1)))
                continue
            with open(src) as f:
                text = f.read()
            enabled = re.findall(r"^\s*\[\s*module\s+([^\]\s]+)\s*\]",
                                 text, re.M)
            absent = [b for b in enabled if b not in built]
            if absent:
                print("# %s: module %s not built here, not checked"
                      % (name, ", ".join(absent)))
                continue
            for full in (False, True):
                label = "%s%s" % (
                    name, " with its commented-out keys" if full else "")
                work = os.path.join(tmp, "full" if full else "plain",
                                    name[:-4])
                path, env = prepare(src, work, module_dir, full)
                rc, out, err = cl.run_daemon(["-c", path, "--check"], env=env)
                t.ok(rc == 0 and "configuration OK" in out
                     and not cl.sanitizer_report(err),
                     "svcbrokerd --check accepts etc/%s" % label,
                     "(exit %d)\n%s%s" % (rc, out, err))
            # The check really looks at the keys: an unknown one is refused.
            path, env = prepare(src, os.path.join(tmp, "unknown", name[:-4]),
                                module_dir, False)
            at = first_instance_line(path)
            if at is not None:
                with open(path) as f:
                    lines = f.readlines()
                lines.insert(at + 1, "no_such_key_anywhere = 1\n")
                with open(path, "w") as f:
                    f.writelines(lines)
                rc, out, err = cl.run_daemon(["-c", path, "--check"], env=env)
                t.ok(rc == 1 and "no_such_key_anywhere" in err
                     and not cl.sanitizer_report(err),
                     "svcbrokerd --check refuses an unknown key in a copy "
                     "of etc/%s" % name, "(exit %d)\n%s%s" % (rc, out, err))

        for bname, b in sorted(built.items()):
            ex = os.path.join(cl.TOP_SRCDIR, "etc", bname + ".example.ini")
            if not t.ok(os.path.exists(ex), "etc/%s.example.ini exists"
                        % bname):
                continue
            with open(ex) as f:
                text = f.read()
            missing = [k["key"] for k in b.get("config", [])
                       if not re.search(r"^[;#]?\s*%s\s*=" % re.escape(
                           k["key"]), text, re.M)]
            t.ok(not missing, "etc/%s.example.ini shows every key of %s"
                 % (bname, bname), "(missing: %s)" % ", ".join(missing))
    t.done()


if __name__ == "__main__":
    main()
