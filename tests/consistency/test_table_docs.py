"""The doc strings of every broker built here, as `svcbrokerd
--list-brokers` shows them (and the generated reference, the catalog and
the OpenAPI document repeat them), say something: what the loader cannot
check.  The test module is a fixture whose docs no user reads.  (The loader already refuses a module with a
missing doc or a badly formed name, so those are not repeated here.)

- each doc is a sentence: it ends with a period;
- no doc merely restates its name ("Start date." for StartDate);
- no two config keys of a module, properties or methods of an object, or
  inputs of a method share one doc (a copy-paste left unedited);
- each broker's hand-written guide, docs/brokers/<broker>.md, mentions
  every config key (as `key`, or in an INI example), object and method:
  the generated reference lists them, the guide must explain them."""
import collections
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consistency_lib as cl  # noqa: E402

GUIDES = os.path.join(cl.TOP_SRCDIR, "docs", "brokers")


def docs_of(m):
    """(what, name, doc) for every documented item of module m."""
    out = [("config key %s" % k["key"], k["key"], k.get("doc") or "")
           for k in m.get("config", [])]
    for o in m.get("objects", []):
        on = o["name"]
        out.append(("object %s" % on, on, o.get("doc") or ""))
        for p in o.get("properties", []):
            out.append(("property %s.%s" % (on, p["name"]), p["name"],
                        p.get("doc") or ""))
        for me in o.get("methods", []):
            mn = "%s.%s" % (on, me["name"])
            out.append(("method %s" % mn, me["name"], me.get("doc") or ""))
            for i in me.get("inputs", []):
                out.append(("input %s(%s)" % (mn, i["name"]), i["name"],
                            i.get("doc") or ""))
    return out


def letters(s):
    return re.sub(r"[^a-z0-9]", "", s.lower())


def duplicates(named_docs):
    """The docs shared by several items: {doc: [names]}."""
    by = collections.defaultdict(list)
    for name, doc in named_docs:
        by[doc.strip()].append(name)
    return {d: n for d, n in by.items() if len(n) > 1}


def mentions(guide, word, key=False):
    if "`%s`" % word in guide:
        return True
    if key:  # in an INI example: "key = value", perhaps commented out
        return re.search(r"^\s*;?\s*%s\s*=" % re.escape(word), guide,
                         re.M) is not None
    return re.search(r"\b%s\b" % re.escape(word), guide) is not None


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
        if name not in built:
            continue
        items = docs_of(m)
        t.ok(len(items) > 1, "%s: has documented items" % name)
        t.eq([w for w, _, d in items if not d.strip().endswith(".")], [],
             "%s: every doc is a sentence ending with a period" % name)
        t.eq(["%s: %r" % (w, d) for w, n, d in items
              if letters(d) == letters(n)], [],
             "%s: no doc merely restates its name" % name)
        dups = [duplicates((k["key"], k.get("doc") or "")
                           for k in m.get("config", []))]
        for o in m.get("objects", []):
            dups.append(duplicates((p["name"], p.get("doc") or "")
                                   for p in o.get("properties", [])))
            dups.append(duplicates((me["name"], me.get("doc") or "")
                                   for me in o.get("methods", [])))
            for me in o.get("methods", []):
                dups.append(duplicates((i["name"], i.get("doc") or "")
                                       for i in me.get("inputs", [])))
        t.eq([names for d in dups for names in d.values()], [],
             "%s: no two keys, properties, methods or inputs of one "
             "table share a doc" % name)

        path = os.path.join(GUIDES, name + ".md")
        if not t.ok(os.path.exists(path), "%s: docs/brokers/%s.md exists"
                    % (name, name)):
            continue
        with open(path, encoding="utf-8") as f:
            guide = f.read()
        missing = [k["key"] for k in m.get("config", [])
                   if not mentions(guide, k["key"], key=True)]
        for o in m.get("objects", []):
            if not mentions(guide, o["name"]):
                missing.append(o["name"])
            missing += ["%s.%s" % (o["name"], me["name"])
                        for me in o.get("methods", [])
                        if not mentions(guide, me["name"])]
        t.eq(missing, [], "%s: the guide docs/brokers/%s.md mentions every "
             "config key, object and method" % (name, name))
    t.done()


if __name__ == "__main__":
    main()
