"""svcbroker's bash completion (core/svcbroker/completion/svcbroker) and
`svcbroker names`, against a daemon with clients: commands, options, and
the instances, objects and methods of the live catalog that the client
whose token is on the line may call."""
import hashlib
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

SRC = os.environ.get("top_srcdir",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(SRC, "core", "svcbroker", "completion", "svcbroker")
t = sbtest.Checks()
if not shutil.which("bash"):
    print("# SKIP: no bash")
    sys.exit(77)

TOKEN = "cmp-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CONFIG = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = one

[instance t2]
broker = testmod
label = two

[client c]
token_sha256 = %s
allow = t1/Echo.*, t1/Instance.Info
""" % hashlib.sha256(TOKEN.encode()).hexdigest()


def complete(words):
    """COMPREPLY for the command line `words` (the last one being
    completed), with the built svcbroker first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sbtest.cli_path()) + ":" + env["PATH"]
    env.pop("SVCBROKER_URL", None)
    env.pop("SVCBROKER_TOKEN", None)
    script = ('source "$1"; shift; COMP_WORDS=("$@"); '
              'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _svcbroker; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "-c", script, "x", SCRIPT] + words,
                       capture_output=True, text=True, env=env, timeout=60)
    return sorted(x for x in r.stdout.split("\n") if x)


with sbtest.Daemon(CONFIG) as d:
    base = ["svcbroker", "--url", d.url, "--token", TOKEN]
    t.eq(complete(["svcbroker", "ca"]), ["call", "catalog"],
         "commands are completed")
    t.ok("--token" in complete(["svcbroker", "--to"]), "options too")
    got = complete(base + ["call", "t1/Echo."])
    t.ok("t1/Echo.Echo" in got and "t1/Echo.List" in got,
         "call: the methods of the live catalog", got)
    t.eq(complete(base + ["call", "t1/Inst"]), ["t1/Instance.Info"],
         "... only those the client may call")
    t.eq(complete(base + ["call", "t2"]), [],
         "... and no instance it may not call")
    t.eq(complete(base + ["test", ""]), ["t1"], "test: instances")
    t.ok("t1/Echo" in complete(base + ["describe", "t1/"]),
         "describe: objects")
    t.eq(complete(["svcbroker", "--url", d.url, "call", "t1/"]), [],
         "without the token nothing is offered (401)")
    t.eq(complete(base + ["names", "ob"]), ["objects"], "names: its kinds")
    r = subprocess.run([sbtest.cli_path(), "--url", d.url, "--token", TOKEN,
                        "names", "instances", "objects"],
                       capture_output=True, text=True, timeout=60)
    t.eq(r.stdout.split(), ["t1", "t1/Echo", "t1/Instance"],
         "svcbroker names instances objects")
    r = subprocess.run([sbtest.cli_path(), "--url", d.url, "--token", TOKEN,
                        "names", "bogus"], capture_output=True, text=True,
                       timeout=60)
    t.ok(r.returncode == 2 and "bogus" in r.stderr,
         "names: an unknown kind is a usage error")
t.done()
