#!/usr/bin/python3
"""A throw-away MIT Kerberos realm on loopback for svcbroker's tests
(Debian krb5-kdc, krb5-admin-server for kadmin.local).

    with MockKDC() as kdc:
        env = kdc.client_env("alice")   # KRB5_CONFIG, KRB5_CLIENT_KTNAME,
                                        # KRB5CCNAME for a client process
        srv = kdc.server_env()          # KRB5_CONFIG, KRB5_KTNAME for the
                                        # HTTP/127.0.0.1 service

Realm EXAMPLE.TEST; principals alice, bob, carol (password Secret-Pw-1,
each also in its own client keytab) and HTTP/127.0.0.1 (random key, in
the service keytab).  The KDC listens on 127.0.0.1 only, on a free port,
runs in the foreground as a child (which dies with its parent) and is
stopped by stop(); every wait is bounded.  Nothing outside its temporary
directory is written.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

REALM = "EXAMPLE.TEST"
PASSWORD = "Secret-Pw-1"
USERS = ("alice", "bob", "carol")
SERVICE = "HTTP/127.0.0.1"


def available():
    """True when the KDC programs are installed."""
    return all(shutil.which(p) or os.path.exists("/usr/sbin/" + p)
               for p in ("krb5kdc", "kdb5_util", "kadmin.local"))


def prog(name):
    return shutil.which(name) or "/usr/sbin/" + name


def die_with_parent():
    """In the child: SIGTERM when the process that started it goes away
    (Linux PR_SET_PDEATHSIG), so a killed test leaves no KDC behind."""
    import ctypes
    import signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MockKDC:
    def __init__(self, start_timeout=20.0):
        self.dir = tempfile.mkdtemp(prefix="sbtest-kdc-")
        self.port = free_port()
        self.start_timeout = start_timeout
        self.proc = None
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.service_keytab = os.path.join(self.dir, "http.keytab")

    def keytab(self, user):
        return os.path.join(self.dir, "%s.keytab" % user)

    def _env(self):
        env = dict(os.environ)
        env["KRB5_CONFIG"] = self.krb5_conf
        env["KRB5_KDC_PROFILE"] = self.kdc_conf
        env.pop("KRB5CCNAME", None)
        env.pop("KRB5_KTNAME", None)
        env.pop("KRB5_CLIENT_KTNAME", None)
        return env

    def client_env(self, user):
        env = self._env()
        env["KRB5_CLIENT_KTNAME"] = self.keytab(user)
        env["KRB5CCNAME"] = "FILE:" + os.path.join(self.dir, "cc-" + user)
        return env

    def server_env(self):
        env = self._env()
        env["KRB5_KTNAME"] = self.service_keytab
        return env

    def _run(self, *cmd):
        r = subprocess.run(list(cmd), env=self._env(), timeout=60,
                           stdin=subprocess.DEVNULL, capture_output=True)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (
                cmd[0], (r.stdout + r.stderr).decode(errors="replace")))

    def start(self):
        d = self.dir
        with open(self.krb5_conf, "w") as f:
            f.write(
                "[libdefaults]\n default_realm = %(r)s\n"
                " dns_lookup_kdc = false\n dns_lookup_realm = false\n"
                " rdns = false\n dns_canonicalize_hostname = false\n"
                " udp_preference_limit = 1\n ignore_acceptor_hostname = true\n"
                "[realms]\n %(r)s = {\n  kdc = 127.0.0.1:%(p)d\n }\n"
                "[domain_realm]\n 127.0.0.1 = %(r)s\n localhost = %(r)s\n"
                " .example.test = %(r)s\n example.test = %(r)s\n"
                % {"r": REALM, "p": self.port})
        with open(self.kdc_conf, "w") as f:
            f.write(
                "[kdcdefaults]\n kdc_listen = 127.0.0.1:%(p)d\n"
                " kdc_tcp_listen = 127.0.0.1:%(p)d\n"
                "[realms]\n %(r)s = {\n  database_name = %(d)s/principal\n"
                "  key_stash_file = %(d)s/stash\n"
                "  acl_file = %(d)s/kadm5.acl\n"
                "  kdc_listen = 127.0.0.1:%(p)d\n"
                "  kdc_tcp_listen = 127.0.0.1:%(p)d\n"
                "  max_life = 1h\n }\n"
                "[logging]\n kdc = FILE:%(d)s/kdc.log\n"
                % {"r": REALM, "p": self.port, "d": d})
        open(os.path.join(d, "kadm5.acl"), "w").close()
        self._run(prog("kdb5_util"), "create", "-s", "-r", REALM, "-P",
                  "kdc-master-" + os.urandom(6).hex())
        ka = [prog("kadmin.local"), "-r", REALM, "-q"]
        for u in USERS:
            self._run(*ka, "addprinc -pw %s %s" % (PASSWORD, u))
            self._run(*ka, "ktadd -k %s -norandkey %s" % (self.keytab(u), u))
        self._run(*ka, "addprinc -randkey %s" % SERVICE)
        self._run(*ka, "ktadd -k %s %s" % (self.service_keytab, SERVICE))
        self.log = open(os.path.join(d, "krb5kdc.out"), "wb")
        self.proc = subprocess.Popen(
            [prog("krb5kdc"), "-n", "-r", REALM], env=self._env(),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=die_with_parent)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        with open(os.path.join(d, "krb5kdc.out"), "rb") as f:
            raise RuntimeError("krb5kdc did not start: %s" % f.read()[-2000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)
