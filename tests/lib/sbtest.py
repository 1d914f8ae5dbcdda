"""Shared helpers for svcbroker's integration tests (run with /usr/bin/python3).

Start a real svcbrokerd on a free loopback port with a temporary
configuration, call its HTTP API, and stop it.  Every wait is bounded.

    with Daemon(instances='''[module mapi-stub]\nenabled = yes\n...''') as d:
        status, body = d.call("local/Email.Send", {"To": [...]})

Tests print "ok - name" / "not ok - name" lines and exit 0 only if every
check passed (77 = skipped, as automake's test driver expects).

Temporary directories come from tempdir() (a Daemon's own work directory
too): whatever is left of them when the test exits is removed if no check
failed and no exception escaped, else kept and named on stderr.
"""
import atexit
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

TOP_BUILDDIR = os.environ.get("top_builddir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_SRCDIR = os.environ.get("top_srcdir") or TOP_BUILDDIR

SKIP = 77


# ---- temporary directories ----------------------------------------------
_tempdirs = []  # made by tempdir(), in order
_daemons = []  # every Daemon started, to stop one a test left running
_failed = [False]  # a check failed or an exception escaped


def tempdir(prefix="sbtest-"):
    """A new directory under $TMPDIR (tempfile.mkdtemp), removed at exit
    unless the test failed; then it is kept and its path printed."""
    d = tempfile.mkdtemp(prefix=prefix)
    _tempdirs.append(d)
    return d


_excepthook = sys.excepthook


def _uncaught(*exc):
    _failed[0] = True
    _excepthook(*exc)


sys.excepthook = _uncaught


@atexit.register
def _at_exit():
    # A daemon still running would write on into its directory.
    for d in _daemons:
        if d.proc and d.proc.poll() is None:
            print("# stopping svcbrokerd %d, left running" % d.proc.pid,
                  file=sys.stderr)
            d.stop(timeout=5)
    for d in _tempdirs:
        if not os.path.exists(d):
            continue
        if _failed[0]:
            print("# kept %s" % d, file=sys.stderr)
        else:
            shutil.rmtree(d, ignore_errors=True)


def daemon_path():
    return os.path.join(TOP_BUILDDIR, "core", "svcbrokerd", "svcbrokerd")


# SB_TEST_VALGRIND=1 runs every Daemon under valgrind's memcheck: any error
# or definite/indirect leak makes it exit 99, which fails the test.
VALGRIND = os.environ.get("SB_TEST_VALGRIND") == "1"


def daemon_command():
    if not VALGRIND:
        return [daemon_path()]
    return [os.path.join(TOP_BUILDDIR, "libtool"), "--mode=execute",
            "valgrind", "-q", "--error-exitcode=99",
            "--suppressions=" + os.path.join(TOP_SRCDIR, "tests",
                                             "valgrind.supp"),
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect", daemon_path()]


def cli_path():
    return os.path.join(TOP_BUILDDIR, "core", "svcbroker", "svcbroker")


def wait_for(pred, timeout=10.0, step=0.05):
    """Poll pred() until it is true or timeout seconds passed; its last
    answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_module_dir(dest):
    """A module directory holding every module built in this tree (brokers
    and test modules), as symlinks to the built .so files."""
    os.makedirs(dest, exist_ok=True)
    pats = [os.path.join(TOP_BUILDDIR, "brokers", "*", ".libs", "*.so"),
            os.path.join(TOP_BUILDDIR, "tests", "modules", ".libs", "*.so"),
            os.path.join(TOP_BUILDDIR, "tests", "integration", ".libs", "*.so")]
    for pat in pats:
        for so in glob.glob(pat):
            link = os.path.join(dest, os.path.basename(so))
            if not os.path.exists(link):
                os.symlink(so, link)
    return dest


class Checks:
    """TAP-like counting of checks; exit status at the end."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, cond, name, detail=""):
        if cond:
            self.passed += 1
            print("ok - %s" % name, flush=True)
        else:
            self.failed += 1
            _failed[0] = True
            print("not ok - %s %s" % (name, detail), flush=True)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "(got %r, want %r)" % (got, want))

    def done(self):
        print("# %d passed, %d failed" % (self.passed, self.failed))
        if self.failed or not self.passed:
            _failed[0] = True
        sys.exit(0 if self.failed == 0 and self.passed > 0 else 1)


class Daemon:
    """A svcbrokerd on 127.0.0.1:<free port> with config text `body`
    appended after a generated [server] section.  Its own work directory
    (no workdir given) is removed when `with` ends without an error, or
    else at exit as tempdir() says; keep_workdir=True leaves it for the
    test to read after `with` (removed at exit all the same)."""

    def __init__(self, body="", server_extra="", workdir=None, env=None,
                 start_timeout=20.0, keep_workdir=False):
        self.own_workdir = workdir is None
        self.workdir = workdir or tempdir("sbtest-")
        self.keep_workdir = keep_workdir
        self.port = free_port()
        self.module_dir = make_module_dir(os.path.join(self.workdir, "modules"))
        self.config = os.path.join(self.workdir, "svcbroker.ini")
        self.log_path = os.path.join(self.workdir, "daemon.log")
        self.env = dict(os.environ)
        if env:
            self.env.update(env)
        self.start_timeout = start_timeout * (4 if VALGRIND else 1)
        self.proc = None
        self.log = None
        # Set to True by a test that kills or expects the daemon to die.
        self.expect_exit = False
        if VALGRIND and "module_load_timeout" not in server_extra:
            # --check/--list-brokers load each module in a child process
            # within this limit (10 s by default): under valgrind on a busy
            # machine loading alone can take longer.
            server_extra = "module_load_timeout = 120s\n" + server_extra
        with open(self.config, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:%d\nmodule_dir = %s\n"
                    "state_dir = %s\n%s\n%s\n" % (
                        self.port, self.module_dir,
                        os.path.join(self.workdir, "state"), server_extra,
                        body))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        if self not in _daemons:
            _daemons.append(self)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(daemon_command() + ["-c", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("svcbrokerd exited with %s:\n%s" % (
                    self.proc.returncode, self.read_log()))
            try:
                st, _ = self.get("/v1/health", timeout=1)
                if st == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("svcbrokerd did not answer /v1/health in %.0fs:\n%s"
                           % (self.start_timeout, self.read_log()))

    def running(self, inst):
        """Calls of instance inst running now, from /v1/health; -1 if
        that cannot be read."""
        st, body = self.get("/v1/health")
        if st != 200 or not isinstance(body, dict):
            return -1
        return {i["name"]: i for i in body.get("instances", [])}.get(
            inst, {}).get("running", -1)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit code (SIGKILL after timeout)."""
        if VALGRIND:
            timeout *= 3
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def __enter__(self):
        return self.start()

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "runtime error:", "==ERROR:")

    def sanitizer_report(self):
        """The daemon log if a sanitizer reported anything, else ""."""
        log = self.read_log()
        return log if any(m in log for m in self.SANITIZER_MARKS) else ""

    def __exit__(self, *exc):
        code = self.stop()
        if self.log:
            self.log.close()
        report = self.sanitizer_report()
        if exc[0] is None:
            # A daemon that crashed, leaked or misbehaved fails the test even
            # if every request looked right.
            if report:
                raise AssertionError("sanitizer report from svcbrokerd:\n" + report)
            if code != 0 and not self.expect_exit:
                raise AssertionError("svcbrokerd exited with %r on SIGTERM:\n%s"
                                     % (code, self.read_log()[-4000:]))
            if self.own_workdir and not self.keep_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def check(self, timeout=120):
        """svcbrokerd --check on this daemon's configuration (the daemon
        itself is not started): (exit code, stdout and stderr)."""
        p = subprocess.run(daemon_command() + ["--check", "-c", self.config],
                           capture_output=True, text=True, env=self.env,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        return p.returncode, p.stdout + p.stderr

    def cleanup(self):
        """Remove the work directory of a daemon that was never
        started (one made only for check())."""
        if self.own_workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- HTTP -------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, parsed JSON or raw text)."""
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            if isinstance(body, (bytes, str)):
                data = body.encode() if isinstance(body, str) else body
            else:
                data = json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                status = r.status
                self.last_headers = r.headers
        except urllib.error.HTTPError as e:
            raw = e.read()
            status = e.code
            self.last_headers = e.headers
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def get(self, path, timeout=30):
        return self.request("GET", path, timeout=timeout)

    def call(self, address, inputs=None, timeout=60):
        """address "instance/Object.Method"; returns (status, body)."""
        inst, rest = address.split("/", 1)
        obj, meth = rest.split(".", 1)
        return self.request("POST", "/v1/call/%s/%s/%s" % (inst, obj, meth),
                            {"inputs": inputs or {}}, timeout=timeout)
