"""A throwaway MIT Kerberos realm on loopback for the tests (run with
/usr/bin/python3; Debian krb5-kdc, krb5-admin-server and krb5-user).

    with Realm() as kdc:                      # EXAMPLE.TEST on 127.0.0.1
        kdc.add_principal("alice", keytab=kdc.client_keytab)
        kdc.add_principal("HTTP/localhost", keytab=kdc.service_keytab)
        kdc.kinit("alice")                    # into kdc.ccache
        subprocess.run([...], env=kdc.env())  # a child that uses them

Everything lives in one temporary directory: krb5.conf and kdc.conf (the
KDC on 127.0.0.1 at an ephemeral port, no DNS, no reverse lookups, host
names used as they are written), the database with its stash, the
keytabs, the credential cache, the replay cache and the logs.  Nothing
outside it is read or written: env() points a child's Kerberos library
at these files alone (KRB5_CONFIG replaces /etc/krb5.conf), so the
machine's own configuration, if any, plays no part.  krb5kdc runs in the
foreground (-n) as a child that dies with this process; every wait is
bounded.  Works as root or as any user.

Principals: "alice" means alice@EXAMPLE.TEST; a service is
"HTTP/localhost", the name libcurl asks a ticket for with a URL of
http://localhost:PORT (GSS-API host-based service HTTP@localhost).
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PROGRAMS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin",
        "/usr/local/bin")


def find_program(name):
    """The path of a Kerberos program ($PATH, then the sbin directories
    a user's PATH may lack), or None."""
    p = shutil.which(name)
    if p:
        return p
    for d in SBIN:
        c = os.path.join(d, name)
        if os.access(c, os.X_OK):
            return c
    return None


def missing():
    """Why a realm cannot be made here ("" when it can): the programs of
    krb5-kdc, krb5-admin-server and krb5-user that are not installed."""
    gone = [p for p in PROGRAMS if not find_program(p)]
    if gone:
        return ("%s not installed (Debian: krb5-kdc krb5-admin-server "
                "krb5-user)" % ", ".join(gone))
    return ""


class KdcError(RuntimeError):
    pass


def _die_with_parent():
    """In the child before exec: SIGTERM when the parent dies, so that a
    test killed hard leaves no KDC behind (Linux; elsewhere a no-op)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port():
    """A port free on 127.0.0.1 for both TCP and UDP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise KdcError("no free port on 127.0.0.1 for the KDC")


class Realm:
    """A realm with its KDC.  start() (or `with`) makes and starts it;
    stop() stops the KDC and removes the directory (keep=True keeps the
    directory, for a look at the logs)."""

    def __init__(self, realm="EXAMPLE.TEST", workdir=None, keep=False,
                 start_timeout=10.0, trace=False):
        self.realm = realm
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="sbkrb5-")
        self.keep = keep
        self.start_timeout = start_timeout
        self.port = None
        self.proc = None
        self.trace = trace
        d = self.dir
        self.krb5_conf = os.path.join(d, "krb5.conf")
        self.kdc_conf = os.path.join(d, "kdc.conf")
        self.ccache = os.path.join(d, "ccache")
        self.client_keytab = os.path.join(d, "client.keytab")
        self.service_keytab = os.path.join(d, "service.keytab")
        self.rcache_dir = os.path.join(d, "rcache")
        self.kdc_log = os.path.join(d, "kdc.log")
        self.trace_log = os.path.join(d, "trace.log")

    # ---- set-up ----------------------------------------------------------
    def _write_conf(self):
        d, r, p = self.dir, self.realm, self.port
        with open(self.krb5_conf, "w") as f:
            f.write(
                "[libdefaults]\n"
                "\tdefault_realm = %(r)s\n"
                "\tdns_lookup_kdc = false\n"
                "\tdns_lookup_realm = false\n"
                "\tdns_canonicalize_hostname = false\n"
                "\trdns = false\n"
                "\tudp_preference_limit = 1\n"
                "\tforwardable = false\n"
                "\tkdc_timeout = 5s\n"
                "\tmax_retries = 2\n"
                "\tdefault_ccache_name = FILE:%(cc)s\n"
                "\tdefault_keytab_name = FILE:%(kt)s\n"
                "\tdefault_client_keytab_name = FILE:%(ckt)s\n"
                "[realms]\n"
                "\t%(r)s = {\n"
                "\t\tkdc = 127.0.0.1:%(p)d\n"
                "\t}\n"
                "[domain_realm]\n"
                "\tlocalhost = %(r)s\n"
                "\t.localhost = %(r)s\n"
                % {"r": r, "p": p, "cc": self.ccache,
                   "kt": self.service_keytab, "ckt": self.client_keytab})
        with open(self.kdc_conf, "w") as f:
            f.write(
                "[kdcdefaults]\n"
                "\tkdc_listen = 127.0.0.1:%(p)d\n"
                "\tkdc_tcp_listen = 127.0.0.1:%(p)d\n"
                "[realms]\n"
                "\t%(r)s = {\n"
                "\t\tdatabase_name = %(d)s/principal\n"
                "\t\tkey_stash_file = %(d)s/stash\n"
                "\t\tacl_file = %(d)s/kadm5.acl\n"
                "\t\tadmin_keytab = FILE:%(d)s/kadm5.keytab\n"
                "\t\tmax_life = 1h\n"
                "\t\tmax_renewable_life = 0\n"
                "\t\tdefault_principal_flags = +preauth\n"
                "\t\tkdc_listen = 127.0.0.1:%(p)d\n"
                "\t\tkdc_tcp_listen = 127.0.0.1:%(p)d\n"
                "\t}\n"
                "[logging]\n"
                "\tkdc = FILE:%(log)s\n"
                "\tadmin_server = FILE:%(d)s/kadmin.log\n"
                "\tdefault = FILE:%(d)s/krb5lib.log\n"
                % {"r": r, "p": p, "d": d, "log": self.kdc_log})
        with open(os.path.join(d, "kadm5.acl"), "w") as f:
            f.write("")

    def env(self, base=None, **over):
        """The environment for a child (a copy of base, default
        os.environ): KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME,
        KRB5_CLIENT_KTNAME, KRB5_KTNAME and KRB5RCACHEDIR point into the
        realm's directory (KRB5_TRACE to trace.log with trace=True).
        Keyword arguments replace any of them; a value of None removes
        it."""
        e = dict(os.environ if base is None else base)
        e.update({
            "KRB5_CONFIG": self.krb5_conf,
            "KRB5_KDC_PROFILE": self.kdc_conf,
            "KRB5CCNAME": "FILE:" + self.ccache,
            "KRB5_CLIENT_KTNAME": "FILE:" + self.client_keytab,
            "KRB5_KTNAME": "FILE:" + self.service_keytab,
            "KRB5RCACHEDIR": self.rcache_dir,
        })
        e.pop("KRB5RCACHENAME", None)
        e.pop("KRB5RCACHETYPE", None)
        e.pop("KRB5_TRACE", None)
        if self.trace:
            e["KRB5_TRACE"] = self.trace_log
        for k, v in over.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    def _run(self, argv, timeout=30.0):
        """Run a Kerberos program in the realm's environment; (stdout,
        stderr).  KdcError when it fails or takes over timeout s."""
        prog = find_program(argv[0])
        if not prog:
            raise KdcError("%s is not installed" % argv[0])
        try:
            r = subprocess.run([prog] + list(argv[1:]), env=self.env(),
                               stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise KdcError("%s did not finish in %.0f s" % (argv[0], timeout))
        if r.returncode != 0:
            raise KdcError("%s failed (%d): %s" % (
                " ".join(argv[:2]), r.returncode,
                (r.stderr or r.stdout).strip()[-1000:]))
        return r.stdout, r.stderr

    def kadmin(self, query, timeout=30.0):
        """One kadmin.local query against the realm's database; its
        output.  KdcError when it fails."""
        out, err = self._run(["kadmin.local", "-r", self.realm, "-q", query],
                             timeout=timeout)
        # kadmin.local exits 0 even when a query fails; it says so on
        # stderr ("add_principal: ... while creating ..."), where the
        # only other line is a notice about the default policy
        bad = [ln for ln in err.splitlines()
               if ln.strip() and not ln.startswith("No policy specified")]
        if bad:
            raise KdcError("kadmin.local %r: %s" % (query, "; ".join(bad)))
        return out

    def principal(self, name):
        """name with the realm appended unless it has one."""
        return name if "@" in name else "%s@%s" % (name, self.realm)

    def add_principal(self, name, keytab=None, password=None):
        """A principal with a random key (or password), written to keytab
        (a path) if given.  Its full name."""
        p = self.principal(name)
        if password is not None:
            self.kadmin("addprinc -pw %s %s" % (password, p))
        else:
            self.kadmin("addprinc -randkey %s" % p)
        if keytab:
            self.export_keytab(p, keytab)
        return p

    def export_keytab(self, name, keytab):
        """Write name's keys to keytab (appending to it).  Like ktadd
        everywhere, this gives the principal new random keys (a new key
        version number): a keytab written before holds keys the KDC no
        longer issues tickets with."""
        self.kadmin("ktadd -k %s %s" % (keytab, self.principal(name)))
        return keytab

    def kinit(self, name, keytab=None, ccache=None, lifetime=None,
              timeout=20.0):
        """Get name a ticket-granting ticket from its keytab (default:
        the client keytab) into ccache (default: the realm's), for
        lifetime (kinit -l, e.g. "2s"; default: the realm's 1 hour)."""
        life = ["-l", lifetime] if lifetime else []
        self._run(["kinit", "-k", "-t", keytab or self.client_keytab,
                   "-c", "FILE:" + (ccache or self.ccache)] + life +
                  [self.principal(name)], timeout=timeout)

    def klist(self, ccache=None):
        """klist's listing of ccache (default: the realm's)."""
        return self._run(["klist", "-c",
                          "FILE:" + (ccache or self.ccache)])[0]

    # ---- the KDC ---------------------------------------------------------
    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=0.5):
                return True
        except OSError:
            return False

    def start(self):
        why = missing()
        if why:
            raise KdcError(why)
        os.makedirs(self.rcache_dir, mode=0o700, exist_ok=True)
        last = ""
        for _ in range(3):  # the port may be taken between pick and bind
            self.port = _free_port()
            self._write_conf()
            if not os.path.exists(os.path.join(self.dir, "principal")):
                # -W: weak random for the master key, no waiting on the
                # entropy pool of a fresh machine
                self._run(["kdb5_util", "-r", self.realm, "create", "-s",
                           "-W", "-P", "master-Test-Only-%d" % os.getpid()],
                          timeout=60)
            with open(self.kdc_log, "ab") as log:
                self.proc = subprocess.Popen(
                    [find_program("krb5kdc"), "-n", "-r", self.realm],
                    env=self.env(), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            end = time.monotonic() + self.start_timeout
            while time.monotonic() < end and self.proc.poll() is None:
                if self._listening():
                    return self
                time.sleep(0.05)
            last = self.read_log()[-2000:]
            self._stop_kdc()
        self.cleanup()
        raise KdcError("krb5kdc did not start on 127.0.0.1:\n" + last)

    def read_log(self):
        try:
            with open(self.kdc_log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop_kdc(self):
        """Stop the KDC (the realm's files stay until stop())."""
        self._stop_kdc()

    def _stop_kdc(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def cleanup(self):
        if self.own_dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self):
        self._stop_kdc()
        self.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    # A smoke run: make a realm, a client and a service, get a ticket.
    import sys
    why = missing()
    if why:
        print("cannot run: " + why)
        sys.exit(77)
    with Realm() as kdc:
        kdc.add_principal("alice", keytab=kdc.client_keytab)
        kdc.add_principal("HTTP/localhost", keytab=kdc.service_keytab)
        kdc.kinit("alice")
        print(kdc.klist())
