"""Every configuration key, object, property, method and method input
that `svcbrokerd --list-brokers` shows has a non-empty doc string, names
follow the catalog's conventions, and every name a method returns is a
property of its object.  Every module built in this tree is looked at
(brokers and the test module the host accepts)."""
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consistency_lib as cl  # noqa: E402

PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
CONF_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def has_doc(item):
    d = item.get("doc")
    return isinstance(d, str) and d.strip() != ""


def main():
    t = cl.Checks()
    with tempfile.TemporaryDirectory(prefix="sbdocs-") as tmp:
        mods, _ = cl.list_modules(tmp, brokers_only=False)
    if not mods:
        print("# no module built: nothing to look at")
        sys.exit(cl.SKIP)
    built = set(cl.built_brokers())
    t.ok(built <= {m["name"] for m in mods},
         "every broker built here is listed")
    for m in mods:
        name = m["name"]
        t.ok(isinstance(m.get("summary"), str) and m["summary"].strip(),
             "%s: summary" % name)
        t.ok(isinstance(m.get("version"), str) and m["version"].strip(),
             "%s: version" % name)
        keys = m.get("config", [])
        t.ok(not [k["key"] for k in keys if not has_doc(k)],
             "%s: every config key has a doc" % name,
             "(no doc: %s)" % ", ".join(k["key"] for k in keys
                                       if not has_doc(k)))
        t.ok(not [k["key"] for k in keys if not CONF_KEY.match(k["key"])],
             "%s: config keys are [a-z][a-z0-9_]*" % name)
        nodoc, badname, badret = [], [], []
        for o in m.get("objects", []):
            oname = o["name"]
            if not has_doc(o):
                nodoc.append(oname)
            if not PASCAL.match(oname):
                badname.append(oname)
            props = set()
            for p in o.get("properties", []):
                props.add(p["name"])
                if not has_doc(p):
                    nodoc.append("%s.%s" % (oname, p["name"]))
                if not PASCAL.match(p["name"]):
                    badname.append("%s.%s" % (oname, p["name"]))
            for me in o.get("methods", []):
                mname = "%s.%s" % (oname, me["name"])
                if not has_doc(me):
                    nodoc.append(mname + "()")
                if not PASCAL.match(me["name"]):
                    badname.append(mname)
                for i in me.get("inputs", []):
                    if not has_doc(i):
                        nodoc.append("%s(%s)" % (mname, i["name"]))
                    if not PASCAL.match(i["name"]):
                        badname.append("%s(%s)" % (mname, i["name"]))
                for r in me.get("returns", []):
                    if r not in props:
                        badret.append("%s returns %s" % (mname, r))
        t.ok(not nodoc, "%s: every object, property, method and input has "
             "a doc" % name, "(no doc: %s)" % ", ".join(nodoc))
        t.ok(not badname, "%s: object, property, method and input names "
             "are PascalCase" % name, "(%s)" % ", ".join(badname))
        t.ok(not badret, "%s: methods return only properties of their "
             "object" % name, "(%s)" % ", ".join(badret))
    t.done()


if __name__ == "__main__":
    main()
