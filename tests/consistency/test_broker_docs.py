"""The committed broker references docs/brokers/<broker>-reference.md equal
what scripts/gen-broker-docs.py generates from the brokers built here, so
the reference never drifts from the tables."""
import difflib
import glob
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consistency_lib as cl  # noqa: E402

DOCS = os.path.join(cl.TOP_SRCDIR, "docs", "brokers")
GEN = os.path.join(cl.TOP_SRCDIR, "scripts", "gen-broker-docs.py")


def hint():
    return ("# to accept the change, regenerate the references and commit "
            "them:\n#   cd %s && make update-broker-docs\n# or: %s "
            "--builddir %s\n" % (cl.TOP_BUILDDIR, GEN, cl.TOP_BUILDDIR))


def main():
    built = cl.built_brokers()
    if not built:
        print("# no broker module built: nothing to compare")
        sys.exit(cl.SKIP)
    t = cl.Checks()
    sources = cl.source_brokers()
    with tempfile.TemporaryDirectory(prefix="sbrefs-") as tmp:
        out = os.path.join(tmp, "out")
        p = subprocess.run(["/usr/bin/python3", GEN, "--builddir",
                            cl.TOP_BUILDDIR, "--outdir", out,
                            "--confdir", tmp],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=cl.RUN_TIMEOUT)
        err = p.stderr.decode("utf-8", "replace")
        t.ok(p.returncode == 0 and not cl.sanitizer_report(err),
             "gen-broker-docs.py runs", "(exit %d)\n%s" % (p.returncode, err))
        # The host's keys: docs/configuration-reference.md.
        conf_got = os.path.join(tmp, "configuration-reference.md")
        conf_want = os.path.join(cl.TOP_SRCDIR, "docs",
                                 "configuration-reference.md")
        got = want = None
        if os.path.exists(conf_got):
            with open(conf_got, encoding="utf-8") as f:
                got = f.read()
        if os.path.exists(conf_want):
            with open(conf_want, encoding="utf-8") as f:
                want = f.read()
        if not t.ok(got is not None and got == want,
                    "docs/configuration-reference.md equals the generated "
                    "reference"):
            sys.stdout.write("".join(difflib.unified_diff(
                (want or "").splitlines(True), (got or "").splitlines(True),
                fromfile="docs/configuration-reference.md (committed)",
                tofile="configuration-reference.md (generated)")))
            sys.stdout.write(hint())
        generated = sorted(glob.glob(os.path.join(out, "*-reference.md")))
        t.eq(sorted(os.path.basename(g)[:-len("-reference.md")]
                    for g in generated), sorted(built),
             "one reference per broker built here")
        for g in generated:
            base = os.path.basename(g)
            committed = os.path.join(DOCS, base)
            with open(g, encoding="utf-8") as f:
                got = f.read()
            if not os.path.exists(committed):
                t.ok(False, "docs/brokers/%s exists" % base)
                sys.stdout.write(hint())
                continue
            with open(committed, encoding="utf-8") as f:
                want = f.read()
            if not t.ok(got == want, "docs/brokers/%s equals the generated "
                        "reference" % base):
                sys.stdout.write("".join(difflib.unified_diff(
                    want.splitlines(True), got.splitlines(True),
                    fromfile="docs/brokers/%s (committed)" % base,
                    tofile="%s (generated)" % base)))
                sys.stdout.write(hint())
            t.ok(cl.automake_lists("docs/brokers/" + base),
                 "docs/brokers/%s is in SB_BROKER_REFERENCES of "
                 "tests/consistency/consistency.am" % base)
    for path in sorted(glob.glob(os.path.join(DOCS, "*-reference.md"))):
        name = os.path.basename(path)[:-len("-reference.md")]
        t.ok(name in sources, "docs/brokers/%s-reference.md belongs to a "
             "broker of brokers/" % name)
        if name in sources and name not in built:
            print("# %s: not built in this configuration, reference not "
                  "compared" % name)
    t.done()


if __name__ == "__main__":
    main()
