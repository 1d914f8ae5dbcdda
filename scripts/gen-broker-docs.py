#!/usr/bin/python3
"""Generate docs/brokers/<broker>-reference.md from the brokers' own tables
(configuration keys, objects, properties, methods, inputs, returns) as
`svcbrokerd --list-brokers` prints them.  The pages are committed; a test
(tests/consistency/test_broker_docs.py) keeps them equal to this output.

    scripts/gen-broker-docs.py [--builddir DIR | --json FILE] [--outdir DIR]

--builddir  a build directory holding svcbrokerd and the built brokers
            (default: $top_builddir, else build/ in the source tree)
--json      read --list-brokers output from FILE ("-": standard input)
--outdir    where to write (default: docs/brokers of the source tree)

`make update-broker-docs` in a build directory runs this.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DASH = "\u2014"
SIZE_UNITS = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20),
              ("KiB", 1 << 10))
DURATION_UNITS = (("h", 3600000), ("m", 60000), ("s", 1000))


def list_brokers(builddir):
    """--list-brokers of the broker modules built in builddir."""
    daemon = os.path.join(builddir, "core", "svcbrokerd", "svcbrokerd")
    sos = sorted(glob.glob(os.path.join(builddir, "brokers", "*", ".libs",
                                        "*.so")))
    if not os.access(daemon, os.X_OK) or not sos:
        sys.exit("gen-broker-docs.py: no svcbrokerd and brokers built in %s "
                 "(run make there first)" % builddir)
    with tempfile.TemporaryDirectory(prefix="sbdocs-") as tmp:
        mdir = os.path.join(tmp, "modules")
        os.mkdir(mdir)
        for so in sos:
            os.symlink(os.path.realpath(so),
                       os.path.join(mdir, os.path.basename(so)))
        cfg = os.path.join(tmp, "list.ini")
        with open(cfg, "w") as f:
            f.write("[server]\nmodule_dir = %s\n" % mdir)
        p = subprocess.run([daemon, "-c", cfg, "--list-brokers"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=120)
    if p.returncode != 0:
        sys.exit("gen-broker-docs.py: svcbrokerd --list-brokers exited "
                 "with %d:\n%s" % (p.returncode,
                                   p.stderr.decode("utf-8", "replace")))
    sys.stderr.write(p.stderr.decode("utf-8", "replace"))
    return json.loads(p.stdout.decode("utf-8"))


def cell(text):
    """Text fit for one cell of a Markdown table."""
    if text is None or text == "":
        return ""
    return " ".join(str(text).split()).replace("|", "\\|")


def code(text):
    return "`%s`" % text


def human(value, units, base):
    if value == 0:
        return "0" + base
    for name, factor in units:
        if value % factor == 0:
            return "%d%s" % (value // factor, name)
    return "%d%s" % (value, base)


def bound(ctype, value):
    if ctype == "size":
        return human(value, SIZE_UNITS, "")
    if ctype == "duration":
        return human(value, DURATION_UNITS, "ms")
    return str(value)


def key_range(k):
    lo, hi = k.get("min"), k.get("max")
    if lo is None and hi is None:
        return ""
    return "%s..%s" % (bound(k["type"], lo), bound(k["type"], hi))


def yes_no(v):
    return "yes" if v else "no"


def input_limit(i):
    parts = []
    if i.get("max_size") is not None:
        size = human(i["max_size"], SIZE_UNITS, "")
        parts.append(("%s bytes" % size) if size.isdigit() else size)
        if i.get("multi"):
            parts[-1] += " each"
    if i.get("max_items") is not None:
        parts.append("%d items" % i["max_items"])
    if i.get("minimum") is not None or i.get("maximum") is not None:
        parts.append("%s..%s" % (i.get("minimum"), i.get("maximum")))
    return ", ".join(parts)


def choices(values):
    return ", ".join(code(c) for c in values or [])


def key_table(w, keys):
    """A Markdown table of config keys (--list-brokers' form)."""
    w("| Key | Type | Default | Required | Secret | Range | Choices "
      "| Description |")
    w("|---|---|---|---|---|---|---|---|")
    for k in keys:
        default = k.get("default")
        allowed = k.get("choices") or k.get("schemes")
        w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            code(k["key"]), k["type"],
            code(cell(default)) if default is not None else DASH,
            yes_no(k.get("required")), yes_no(k.get("secret")),
            cell(key_range(k)), cell(choices(allowed)),
            cell(k.get("doc"))))


def render_host(host):
    """docs/configuration-reference.md: the host's own keys."""
    out = []
    w = out.append
    w("# Configuration reference: the host's keys")
    w("")
    w("<!-- Generated from the host's key tables by "
      "scripts/gen-broker-docs.py (svcbrokerd --list-brokers); do not "
      "edit: run `make update-broker-docs` in a build directory. -->")
    w("")
    w("The host binds these keys with the same typed tables and the same "
      "parser as a broker's own keys (see svcbroker.ini(5) for the "
      "syntax, and docs/brokers/ for each broker's keys).")
    for title, part, intro in (
            ("`[server]`", "server",
             "One `[server]` section; its keys may be spread over the main "
             "file and included files, each key set once."),
            ("`[module NAME]`", "module",
             "One section per module; only enabled modules are loaded."),
            ("Host keys of every `[instance NAME]`", "instance",
             "Valid in every instance, whatever its broker."),
            ("`[client NAME]`", "client",
             "One section per API client (see docs/api.md, "
             "\"Authentication and grants\"); with any client configured "
             "every request but the health check must authenticate.")):
        w("")
        w("## %s" % title)
        w("")
        w(intro)
        w("")
        keys = [dict(k) for k in host.get(part) or []]
        for k in keys:
            if k["key"] == "module_dir":
                # set when svcbroker is built: the same words for every build
                k["default"] = "<libdir>/svcbroker/brokers"
            if k["key"] == "console_dir":
                k["default"] = "<datadir>/svcbroker/console"
            if k["key"] == "console_libs":  # configure --with-javascript-dir
                k["default"] = "/usr/share/javascript"
        key_table(w, keys)
    return "\n".join(out) + "\n"


def render(b, guide):
    name = b["name"]
    out = []
    w = out.append
    w("# %s broker reference" % name)
    w("")
    w("<!-- Generated from the broker's tables by scripts/gen-broker-docs.py "
      "(svcbrokerd --list-brokers); do not edit: run `make "
      "update-broker-docs` in a build directory. -->")
    w("")
    w(cell(b.get("summary")))
    w("")
    w("Module `%s`, version %s. %s" % (
        name, b.get("version") or DASH,
        "The calls of one instance run one at a time."
        if b.get("serial") else
        "The calls of one instance may run concurrently."))
    if guide:
        w("")
        w("Guide: [%s.md](%s.md)." % (name, name))
    w("")
    w("## Configuration keys")
    w("")
    keys = b.get("config") or []
    w("Keys of an `[instance NAME]` section with `broker = %s`. Every "
      "instance also takes the host keys `broker`, `timeout` and "
      "`max_concurrency` (see "
      "[configuration-reference.md](../configuration-reference.md))."
      % name)
    w("")
    if keys:
        key_table(w, keys)
    else:
        w("The broker has no keys of its own.")
    w("")
    w("## Objects")
    w("")
    objs = b.get("objects") or []
    if not objs:
        w("The broker publishes no object of its own (it may add objects "
          "at run time).")
        w("")
    else:
        w("| Object | Methods | Description |")
        w("|---|---|---|")
        for o in objs:
            w("| [%s](#%s) | %s | %s |" % (
                o["name"], o["name"].lower(),
                ", ".join(m["name"] for m in o.get("methods") or []) or DASH,
                cell(o.get("doc"))))
        w("")
    for o in objs:
        oname = o["name"]
        w("### %s" % oname)
        w("")
        w(cell(o.get("doc")))
        w("")
        props = o.get("properties") or []
        if props:
            w("| Property | Type | Multi | Choices | Description |")
            w("|---|---|---|---|---|")
            for p in props:
                w("| %s | %s | %s | %s | %s |" % (
                    code(p["name"]), p["type"], yes_no(p.get("multi")),
                    cell(choices(p.get("choices"))), cell(p.get("doc"))))
            w("")
        for m in o.get("methods") or []:
            w("#### %s.%s" % (oname, m["name"]))
            w("")
            w("Kind: %s. %s" % (m.get("kind"), cell(m.get("doc"))))
            w("")
            inputs = m.get("inputs") or []
            if inputs:
                w("| Input | Type | Required | Multi | Limit | Choices "
                  "| Description |")
                w("|---|---|---|---|---|---|---|")
                for i in inputs:
                    w("| %s | %s | %s | %s | %s | %s | %s |" % (
                        code(i["name"]), i["type"],
                        yes_no(i.get("required")), yes_no(i.get("multi")),
                        cell(input_limit(i)),
                        cell(choices(i.get("choices"))),
                        cell(i.get("doc"))))
                w("")
            else:
                w("No inputs of its own.")
                w("")
            if m.get("kind") == "list":
                w("The host adds the optional inputs `PageSize` and "
                  "`PageToken` (paging).")
                w("")
            rets = m.get("returns") or []
            if rets:
                w("Returns rows of: %s." % ", ".join(code(r) for r in rets))
            else:
                w("Returns no rows.")
            w("")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--builddir")
    src.add_argument("--json")
    ap.add_argument("--outdir", default=os.path.join(TOP, "docs", "brokers"))
    ap.add_argument("--confdir", default=os.path.join(TOP, "docs"),
                    help="where configuration-reference.md goes")
    args = ap.parse_args()
    if args.json:
        if args.json == "-":
            listing = json.load(sys.stdin)
        else:
            with open(args.json, encoding="utf-8") as f:
                listing = json.load(f)
    else:
        builddir = (args.builddir or os.environ.get("top_builddir")
                    or os.path.join(TOP, "build"))
        listing = list_brokers(os.path.abspath(builddir))
    brokers = listing["brokers"]
    os.makedirs(args.confdir, exist_ok=True)
    path = os.path.join(args.confdir, "configuration-reference.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_host(listing["host"]))
    print("wrote %s" % path)
    os.makedirs(args.outdir, exist_ok=True)
    for b in sorted(brokers, key=lambda x: x["name"]):
        guide = os.path.exists(os.path.join(TOP, "docs", "brokers",
                                            b["name"] + ".md"))
        path = os.path.join(args.outdir, b["name"] + "-reference.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(render(b, guide))
        print("wrote %s" % path)


if __name__ == "__main__":
    main()
