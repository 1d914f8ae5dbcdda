"""Helpers shared by the consistency tests (run with /usr/bin/python3).

The tables a broker publishes are read the way an administrator reads
them: `svcbrokerd --list-brokers` over a module directory holding the
modules built in this tree (tests/lib/sbtest.py's make_module_dir).
"""
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(
    os.environ.get("top_srcdir")
    or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."),
    "tests", "lib"))
import sbtest  # noqa: E402

TOP_SRCDIR = os.path.abspath(sbtest.TOP_SRCDIR)
TOP_BUILDDIR = os.path.abspath(sbtest.TOP_BUILDDIR)
SKIP = sbtest.SKIP
Checks = sbtest.Checks
SANITIZER_MARKS = sbtest.Daemon.SANITIZER_MARKS
RUN_TIMEOUT = 120


def rel_src(path):
    """path relative to the source tree, for messages."""
    return os.path.relpath(path, TOP_SRCDIR)


def built_brokers():
    """{name: path of the .so} for every broker module built here."""
    out = {}
    for so in glob.glob(os.path.join(TOP_BUILDDIR, "brokers", "*", ".libs",
                                     "*.so")):
        out[os.path.basename(so)[:-3]] = os.path.realpath(so)
    return out


def source_brokers():
    """Names of the brokers that have a directory in brokers/."""
    return sorted(d for d in os.listdir(os.path.join(TOP_SRCDIR, "brokers"))
                  if os.path.isdir(os.path.join(TOP_SRCDIR, "brokers", d)))


def sanitizer_report(text):
    return text if any(m in text for m in SANITIZER_MARKS) else ""


def run_daemon(args, env=None, timeout=RUN_TIMEOUT):
    """Run svcbrokerd with args; returns (returncode, stdout, stderr)."""
    p = subprocess.run([sbtest.daemon_path()] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       env=env, timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def list_modules(workdir, brokers_only=True):
    """The --list-brokers JSON (a list) for every module built in this
    tree, and the daemon's stderr.  With brokers_only, the test modules of
    tests/modules are left out.  Raises RuntimeError if the daemon fails."""
    module_dir = sbtest.make_module_dir(os.path.join(workdir, "modules"))
    config = os.path.join(workdir, "list-brokers.ini")
    with open(config, "w") as f:
        f.write("[server]\nmodule_dir = %s\n" % module_dir)
    rc, out, err = run_daemon(["-c", config, "--list-brokers"])
    if rc != 0 or sanitizer_report(err):
        raise RuntimeError("svcbrokerd --list-brokers exited with %d:\n%s"
                           % (rc, err))
    listing = json.loads(out)
    mods = listing.get("brokers") if isinstance(listing, dict) else None
    if not isinstance(mods, list) or not isinstance(listing.get("host"),
                                                     dict):
        raise RuntimeError("--list-brokers printed no {\"host\": {...}, "
                           "\"brokers\": [...]} object")
    if brokers_only:
        broker_files = set(built_brokers().values())
        mods = [m for m in mods
                if os.path.realpath(m.get("file") or "") in broker_files]
    return mods, err


def normalise(broker):
    """A broker's published tables without what depends on the build
    (the module's file path)."""
    return {k: v for k, v in broker.items() if k != "file"}


def dumps(obj):
    """The canonical text of a golden file: pretty-printed, sorted keys."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def automake_lists(path_in_src, am="tests/consistency/consistency.am"):
    """Whether consistency.am names path_in_src (so `make dist` ships it)."""
    with open(os.path.join(TOP_SRCDIR, am)) as f:
        words = f.read().replace("\\\n", " ").split()
    return path_in_src in words
