"""GET /v1/openapi.json: the document follows the live catalog (one path
per method, schemas from the property types) and an independent validator
(@apidevtools/swagger-parser, from tests/openapi) accepts it."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SRCDIR = os.environ.get("top_srcdir",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
import sbtest  # noqa: E402

CONFIG = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label = first

[instance t-2]
broker = testmod
label = second
describe = none
"""


def schema_checks(t, doc):
    t.eq(doc.get("openapi"), "3.0.3", "openapi 3.0.3")
    paths = doc.get("paths", {})
    for p in ("/v1/catalog", "/v1/catalog/{instance}/{object}", "/v1/health",
              "/v1/openapi.json", "/metrics"):
        t.ok(p in paths and "get" in paths[p], "fixed path %s" % p)
    for m in ("Echo/Echo", "Echo/List", "Echo/Fail", "Echo/Sleep",
              "Instance/Info", "Dynamic/Ping"):
        t.ok("/v1/call/t1/" + m in paths, "path for t1 " + m)
    t.ok("/v1/call/t-2/Dynamic/Ping" not in paths,
         "no path for an object the instance does not have")
    t.ok("/v1/call/t-2/Echo/Echo" in paths, "paths of the second instance")
    ids = [op.get("operationId") for p in paths.values()
           for op in p.values()]
    t.eq(len(ids), len(set(ids)), "operationIds are unique")

    op = paths.get("/v1/call/t1/Echo/Echo", {}).get("post", {})
    body = (op.get("requestBody", {}).get("content", {})
            .get("application/json", {}).get("schema", {}))
    props = body.get("properties", {}).get("inputs", {}).get("properties", {})
    want = {
        "Text": {"type": "string"},
        "Memo": {"type": "string"},
        "Number": {"type": "integer", "format": "int64"},
        "Boolean": {"type": "boolean"},
        "DateTime": {"type": "string", "format": "date-time"},
        "Date": {"type": "string", "format": "date"},
        "Guid": {"type": "string", "format": "uuid"},
        "Email": {"type": "string", "format": "email"},
        "Choice": {"type": "string", "enum": ["Alpha", "Beta", "Gamma"]},
        "File": {"type": "object"},
    }
    for name, sub in want.items():
        got = props.get(name, {})
        t.ok(all(got.get(k) == v for k, v in sub.items()),
             "input %s schema %r" % (name, sub), "(got %r)" % got)
    t.ok("pattern" in props.get("Decimal", {}) and
         props.get("Decimal", {}).get("type") == "string",
         "decimal is a string with a pattern")
    t.eq(props.get("Texts", {}).get("type"), "array", "multi is an array")
    t.eq(props.get("Texts", {}).get("items", {}).get("type"), "string",
         "multi items typed")
    t.eq(props.get("Files", {}).get("items", {}).get("type"), "object",
         "multi file items are objects")
    t.eq(body.get("properties", {}).get("inputs", {})
         .get("additionalProperties"), False, "unknown inputs refused")

    fail = (paths.get("/v1/call/t1/Echo/Fail", {}).get("post", {})
            .get("requestBody", {}).get("content", {})
            .get("application/json", {}).get("schema", {}))
    t.eq(fail.get("properties", {}).get("inputs", {}).get("required"),
         ["Status"], "required inputs listed")
    lst = (paths.get("/v1/call/t1/Echo/List", {}).get("post", {})
           .get("requestBody", {}).get("content", {})
           .get("application/json", {}).get("schema", {}))
    lp = lst.get("properties", {}).get("inputs", {}).get("properties", {})
    t.ok("PageSize" in lp and "PageToken" in lp, "list paging inputs")

    resp = op.get("responses", {})
    ok = (resp.get("200", {}).get("content", {}).get("application/json", {})
          .get("schema", {}))
    t.eq(ok.get("properties", {}).get("more", {}).get("type"), "boolean",
         "200 schema has more")
    rows = ok.get("properties", {}).get("rows", {})
    t.eq(rows.get("items", {}).get("properties", {}).get("Number", {})
         .get("type"), "integer", "row schema from property types")
    for code in ("400", "404", "413", "415", "429", "500", "502", "503",
                 "504"):
        t.eq(resp.get(code, {}).get("$ref"), "#/components/responses/Error",
             "call %s references the shared Error" % code)
    t.ok("Error" in doc.get("components", {}).get("schemas", {}),
         "shared Error schema")


# Every other broker built in this tree joins, so the validator sees
# their catalogs too.
OTHERS = {
    "mapi-stub": """
[module mapi-stub]
enabled = yes

[instance local]
broker = mapi-stub
store_dir = %(work)s/store
mailboxes = alice@example.test, bob@example.test
""",
    "smtp": """
[module smtp]
enabled = yes

[instance mail]
broker = smtp
url = smtp://127.0.0.1:9
tls = none
helo_name = broker01.example.test
from = noreply@example.test
""",
}


def main():
    t = sbtest.Checks()
    work = sbtest.tempdir("sbtest-oa-")
    mods = sbtest.make_module_dir(os.path.join(work, "modules"))
    body = CONFIG
    for name, text in OTHERS.items():
        if os.path.exists(os.path.join(mods, name + ".so")):
            body += text % {"work": work}
    with sbtest.Daemon(body, workdir=work) as d:
        st, doc = d.get("/v1/openapi.json")
        t.eq(st, 200, "GET /v1/openapi.json")
        if not isinstance(doc, dict):
            t.ok(False, "the document is JSON")
            t.done()
        schema_checks(t, doc)
        for name in OTHERS:
            if name in body:
                t.ok(any(p.startswith("/v1/call/%s/" % (
                    "local" if name == "mapi-stub" else "mail"))
                    for p in doc.get("paths", {})),
                    "paths of the %s instance" % name)

    modules = os.path.join(SRCDIR, "tests", "openapi", "node_modules")
    node = shutil.which("node")
    if not os.path.isdir(modules) or not node:
        shutil.rmtree(work, ignore_errors=True)
        print("# SKIP: the independent OpenAPI validator is not installed "
              "(%s missing; run `npm ci --prefix tests/openapi`)"
              % (modules if node else "node"))
        sys.exit(sbtest.SKIP)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        path = f.name
    try:
        p = subprocess.run([node, os.path.join(SRCDIR, "tests", "openapi",
                                               "validate.js"), path],
                           capture_output=True, text=True, timeout=120)
        print("# " + (p.stdout + p.stderr).strip().replace("\n", "\n# "))
        t.eq(p.returncode, 0, "swagger-parser validates the document")
    finally:
        os.unlink(path)
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
