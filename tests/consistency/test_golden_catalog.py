"""Each broker's published tables (configuration keys, objects,
properties, methods, inputs, returns) equal its checked-in golden file
tests/golden/<broker>.json, so that a change to a catalog shows in review.

    test_golden_catalog.py            compare (make check)
    test_golden_catalog.py --update   rewrite the golden files
                                      (scripts/update-golden.sh does this)
"""
import difflib
import glob
import json
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consistency_lib as cl  # noqa: E402

GOLDEN_DIR = os.path.join(cl.TOP_SRCDIR, "tests", "golden")


def regenerate_hint():
    return ("# to accept the change, regenerate the golden files and commit "
            "them:\n#   cd %s && make update-golden\n"
            "# or: %s %s\n" % (cl.TOP_BUILDDIR,
                               os.path.join(cl.TOP_SRCDIR, "scripts",
                                            "update-golden.sh"),
                               cl.TOP_BUILDDIR))


def main():
    update = "--update" in sys.argv[1:]
    built = cl.built_brokers()
    if not built:
        print("# no broker module built in %s: nothing to compare"
              % cl.TOP_BUILDDIR)
        sys.exit(cl.SKIP)
    with tempfile.TemporaryDirectory(prefix="sbgolden-") as tmp:
        listed, warnings = cl.list_modules(tmp)
    by_name = {b["name"]: b for b in listed}
    sources = cl.source_brokers()

    if update:
        os.makedirs(GOLDEN_DIR, exist_ok=True)
        for name in sorted(by_name):
            path = os.path.join(GOLDEN_DIR, name + ".json")
            with open(path, "w") as f:
                f.write(cl.dumps(cl.normalise(by_name[name])))
            print("wrote %s" % cl.rel_src(path))
        for path in sorted(glob.glob(os.path.join(GOLDEN_DIR, "*.json"))):
            name = os.path.basename(path)[:-5]
            if name not in sources:
                os.unlink(path)
                print("removed %s (no brokers/%s)" % (cl.rel_src(path), name))
        missing = sorted(set(built) - set(by_name))
        for name in missing:
            print("not listed by svcbrokerd (not written): %s" % name,
                  file=sys.stderr)
        not_built = sorted(set(sources) - set(built))
        for name in not_built:
            print("not built here (left as it is): %s" % name)
        sys.exit(1 if missing else 0)

    t = cl.Checks()
    t.ok(sorted(by_name) == sorted(built),
         "svcbrokerd --list-brokers lists every broker module built here",
         "(listed %s, built %s)\n%s" % (sorted(by_name), sorted(built),
                                        warnings))
    for name in sorted(by_name):
        path = os.path.join(GOLDEN_DIR, name + ".json")
        got = cl.dumps(cl.normalise(by_name[name]))
        if not os.path.exists(path):
            t.ok(False, "%s: golden file %s exists" % (name, cl.rel_src(path)))
            sys.stdout.write(regenerate_hint())
            continue
        with open(path, encoding="utf-8") as f:
            want = f.read()
        if not t.ok(got == want, "%s: published tables equal %s"
                    % (name, cl.rel_src(path))):
            diff = difflib.unified_diff(
                want.splitlines(True), got.splitlines(True),
                fromfile="%s (golden)" % cl.rel_src(path),
                tofile="%s (svcbrokerd --list-brokers)" % name)
            sys.stdout.write("".join(diff))
            sys.stdout.write(regenerate_hint())
        t.ok(cl.automake_lists("tests/golden/%s.json" % name),
             "%s: tests/golden/%s.json is in SB_GOLDEN of "
             "tests/consistency/consistency.am" % (name, name))

    for path in sorted(glob.glob(os.path.join(GOLDEN_DIR, "*.json"))):
        name = os.path.basename(path)[:-5]
        t.ok(name in sources, "%s belongs to a broker of brokers/"
             % cl.rel_src(path))
        if name in sources and name not in built:
            print("# %s: not built in this configuration, golden file "
                  "not compared" % name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            canonical = cl.dumps(json.loads(text))
        except ValueError as e:
            canonical = "invalid JSON: %s" % e
        t.ok(canonical == text, "%s is normalised (sorted keys, indent 2)"
             % cl.rel_src(path))
    t.done()


if __name__ == "__main__":
    main()
