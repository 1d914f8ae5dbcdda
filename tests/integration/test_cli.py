"""The command-line client against a real svcbrokerd running testmod
(tests/modules/README.md): tables for people, --json for scripts, typed
Key=Value inputs, multi inputs, files, JSON on stdin, errors and exit codes."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
import sbtest  # noqa: E402

t = sbtest.Checks()
CLI = sbtest.cli_path()

CONFIG = """
[module testmod]
enabled = yes

[instance t1]
broker = testmod
label  = first
list_total = 5

[instance t2]
broker    = testmod
label     = second
open_fail = yes
"""


def run(*args, stdin=None, env=None, url=None, timeout=60):
    """Run the client; returns (exit code, stdout, stderr)."""
    e = dict(os.environ)
    e.pop("SVCBROKER_URL", None)
    e["COLUMNS"] = "120"
    if env:
        e.update(env)
    argv = [CLI] + (["--url", url] if url else []) + list(args)
    r = subprocess.run(argv, input=stdin.encode() if stdin is not None else None,
                       stdin=None if stdin is not None else subprocess.DEVNULL,
                       capture_output=True, env=e, timeout=timeout)
    return (r.returncode, r.stdout.decode("utf-8", "replace"),
            r.stderr.decode("utf-8", "replace"))


def jrows(code, out):
    try:
        return json.loads(out)["rows"]
    except (ValueError, KeyError, TypeError):
        return None


if not os.access(CLI, os.X_OK):
    print("# %s not built" % CLI)
    sys.exit(sbtest.SKIP)

work = sbtest.tempdir("sbcli-")
with open(os.path.join(work, "hello.txt"), "wb") as f:
    f.write(b"hello file\n")
with open(os.path.join(work, "pic.png"), "wb") as f:
    f.write(bytes(range(256)))
with open(os.path.join(work, "memo.txt"), "w") as f:
    f.write("line one\nline two\n")

# --- without a server ----------------------------------------------------------
code, out, err = run("--version")
t.ok(code == 0 and out.startswith("svcbroker "), "--version", out + err)
code, out, err = run("--help")
t.ok(code == 0 and "call INSTANCE/OBJECT.METHOD" in out, "--help", out + err)
code, out, err = run()
t.eq(code, 2, "no command: usage error 2")
code, out, err = run("frobnicate")
t.ok(code == 2 and "unknown command" in err, "unknown command: exit 2", err)
code, out, err = run("--timeout", "soon", "catalog")
t.ok(code == 2 and "--timeout" in err, "bad --timeout: exit 2", err)
code, out, err = run("call", "no-slash")
t.ok(code == 2 and "INSTANCE/OBJECT.METHOD" in err, "bad address: exit 2", err)

# The manual page documents every option --help lists, and groff finds
# nothing to warn about in any of the man pages.
man_dir = os.path.join(sbtest.TOP_SRCDIR, "docs", "man")
with open(os.path.join(man_dir, "svcbroker.1")) as f:
    man1 = f.read().replace("\\-", "-")
code, out, err = run("--help")
longopts = sorted(set(re.findall(r"--[a-z][a-z-]+", out)))
t.ok(len(longopts) >= 6, "--help lists the long options", out)
missing = [o for o in longopts if o not in man1]
t.eq(missing, [], "svcbroker(1) documents every option of --help")
for cmd in ("catalog", "describe", "call", "health"):
    t.ok(".B %s" % cmd in man1, "svcbroker(1) documents the %s command" % cmd)
with open(os.path.join(man_dir, "svcbrokerd.8")) as f:
    man8 = f.read().replace("\\-", "-")
r = subprocess.run([sbtest.daemon_path(), "--help"], capture_output=True, timeout=30)
dopts = sorted(set(re.findall(r"--[a-z][a-z-]+", r.stdout.decode())))
t.ok(len(dopts) >= 4, "svcbrokerd --help lists its options", r.stdout.decode())
t.eq([o for o in dopts if o not in man8], [],
     "svcbrokerd(8) documents every option of svcbrokerd --help")
if shutil.which("groff"):
    for page in ("svcbroker.1", "svcbrokerd.8", "svcbroker.ini.5"):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                            os.path.join(man_dir, page)],
                           capture_output=True, timeout=60)
        t.ok(r.returncode == 0 and not r.stderr.strip(),
             "groff -ww finds no problem in %s" % page, r.stderr.decode()[:500])

dead = "http://127.0.0.1:%d" % sbtest.free_port()
code, out, err = run("catalog", url=dead)
t.ok(code == 3 and "127.0.0.1" in err, "connection refused: exit 3", "%d %s" % (code, err))
code, out, err = run("catalog", env={"SVCBROKER_URL": dead})
t.ok(code == 3 and dead in err, "SVCBROKER_URL is used", "%d %s" % (code, err))
code, out, err = run("catalog", url="ftp://127.0.0.1:1")
t.eq(code, 2, "a non-HTTP --url is a usage error")
# A password in the URL is never shown in a message.
secret_url = "http://someone:Pw-s3cret@127.0.0.1:%d/" % sbtest.free_port()
for how in ("--url", "SVCBROKER_URL"):
    if how == "--url":
        code, out, err = run("catalog", url=secret_url)
    else:
        code, out, err = run("health", env={"SVCBROKER_URL": secret_url})
    t.ok(code == 3 and "http://someone:***@127.0.0.1:" in err and
         "Pw-s3cret" not in out + err,
         "%s: connection error masks the URL's password" % how,
         "%d %s" % (code, err))
code, out, err = run("catalog", url="ftp://someone:Pw-s3cret@127.0.0.1:1/")
t.ok(code == 2 and "ftp://someone:***@127.0.0.1:1" in err and
     "Pw-s3cret" not in out + err,
     "a non-HTTP --url is refused with its password masked",
     "%d %s" % (code, err))

# A server whose names, codes and messages carry terminal control
# sequences: the client shows them escaped, never raw.
import http.server  # noqa: E402
import threading  # noqa: E402

NASTY = "\x1b[31mRED\x1b]0;title\x07\r\nFAKE"


class NastyHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/v1/catalog/"):
            self.answer(200, {
                "instance": NASTY, "name": NASTY, "doc": NASTY,
                "properties": [{"name": NASTY, "type": NASTY, "doc": NASTY}],
                "methods": [{"name": NASTY, "kind": NASTY, "doc": NASTY,
                             "inputs": [], "returns": [NASTY]}]})
        elif self.path == "/v1/health":
            self.answer(200, {"status": NASTY, NASTY: NASTY, "instances": [
                {"name": NASTY, "broker": NASTY, "state": NASTY}]})
        else:
            self.answer(200, {"instances": [
                {"name": "n", "broker": NASTY, "state": NASTY,
                 "objects": [{"name": NASTY, "doc": NASTY}]}]})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer(400, {"error": {"category": NASTY, "code": NASTY,
                                    "message": NASTY}})


nasty = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NastyHandler)
threading.Thread(target=nasty.serve_forever, daemon=True).start()
nasty_url = "http://127.0.0.1:%d" % nasty.server_address[1]
for args in (("catalog",), ("describe", "n"), ("describe", "n/O"),
             ("describe", "n/O.M"), ("health",), ("call", "n/O.M", "-")):
    code, out, err = run(*args, url=nasty_url,
                         stdin="{}" if "-" in args else None)
    raw_ctl = [c for c in "\x1b\x07\r" if c in out + err]
    t.ok(not raw_ctl and "x1B" in out + err,
         "%s: control characters from the server are shown escaped"
         % " ".join(args), repr(out + err)[:300])
nasty.shutdown()

with sbtest.Daemon(CONFIG) as d:
    u = d.url

    # --- catalog ------------------------------------------------------------
    code, out, err = run("catalog", url=u)
    t.eq(code, 0, "catalog: exit 0")
    lines = out.splitlines()
    t.ok(lines and lines[0].split() == ["INSTANCE", "BROKER", "STATE", "OBJECTS"],
         "catalog: table headings", out)
    t1 = [l for l in lines if l.startswith("t1 ")]
    t.ok(len(t1) == 1 and "testmod" in t1[0] and "Echo" in t1[0]
         and "Instance" in t1[0], "catalog: t1 row with its broker and objects", out)
    t2 = [l for l in lines if l.startswith("t2 ")]
    t.ok(len(t2) == 1, "catalog: the failed instance t2 is listed", out)
    t.ok(all(not l.endswith(" ") for l in lines), "catalog: no trailing blanks", out)
    if lines and t1:
        t.eq(lines[0].index("BROKER"), t1[0].index("testmod"), "catalog: columns aligned")

    code, out, err = run("--json", "catalog", url=u)
    st, want = d.get("/v1/catalog")
    try:
        got = json.loads(out)
    except ValueError:
        got = None
    t.ok(code == 0 and st == 200 and got == want, "catalog --json is the API's JSON",
         out[:300])

    # --- describe --------------------------------------------------------------
    code, out, err = run("describe", "t1/Echo", url=u)
    t.eq(code, 0, "describe t1/Echo: exit 0")
    for s in ("t1/Echo", "PROPERTIES", "METHODS", "Echo.Echo", "Echo.List",
              "Echo.Fail", "Echo.Sleep", "DateTime", "Alpha|Beta|Gamma"):
        t.ok(s in out, "describe shows %s" % s, out[:2000])
    t.ok("text, multi" in out, "describe shows multi properties", out[:2000])

    code, out, err = run("describe", "t1/Echo.Sleep", url=u)
    ms = [l for l in out.splitlines() if l.strip().startswith("Ms ")]
    t.ok(code == 0 and len(ms) == 1 and "number" in ms[0] and "yes" in ms[0],
         "describe one method: Ms is a required number", out)
    t.ok("Echo.Echo" not in out, "describe one method shows only that method", out)

    code, out, err = run("--json", "describe", "t1/Echo", url=u)
    st, want = d.get("/v1/catalog/t1/Echo")
    try:
        got = json.loads(out)
    except ValueError:
        got = None
    t.ok(code == 0 and got == want, "describe --json is the API's definition", out[:300])

    code, out, err = run("describe", "t1", url=u)
    t.ok(code == 0 and "Echo" in out and "Instance" in out and "testmod" in out,
         "describe an instance lists its objects", out + err)

    code, out, err = run("describe", "nope/Echo", url=u)
    t.ok(code == 1 and "not_found" in err and "404" in err,
         "describe an unknown instance: exit 1, not_found (404)", "%d %s" % (code, err))

    # --- call: typed Key=Value --------------------------------------------------
    code, out, err = run("--json", "call", "t1/Echo.Echo", "Text=héllo wörld",
                         "Number=-42", "Boolean=yes", "Decimal=12.50",
                         "Date=2026-01-31", "DateTime=2026-01-31T09:00:00+01:00",
                         "Duration=PT30M", "Choice=Beta",
                         "Guid=123e4567-e89b-12d3-a456-426614174000",
                         "Email=bob@example.test", url=u)
    rows = jrows(code, out)
    t.ok(code == 0 and rows and len(rows) == 1, "call Echo.Echo: one row", out + err)
    r = rows[0] if rows else {}
    t.eq(r.get("Text"), "héllo wörld", "text value (UTF-8)")
    t.ok(r.get("Number") == -42 and isinstance(r.get("Number"), int),
         "number typed as a JSON integer", repr(r.get("Number")))
    t.ok(r.get("Boolean") is True, "boolean 'yes' typed as true", repr(r.get("Boolean")))
    t.eq(r.get("Decimal"), "12.50", "decimal kept exact as a string")
    t.eq(r.get("Choice"), "Beta", "enum value")
    t.eq(r.get("Email"), "bob@example.test", "email value")

    code, out, err = run("--json", "call", "t1/Echo.Echo", "boolean=off",
                         "number=7", url=u)
    rows = jrows(code, out)
    t.ok(rows and rows[0].get("Boolean") is False and rows[0].get("Number") == 7,
         "input names match regardless of case", out + err)

    # --- multi ---------------------------------------------------------------
    code, out, err = run("--json", "call", "t1/Echo.Echo", "Texts=a,b", "Texts=c",
                         "Numbers=1", "Numbers=2", "Booleans=true",
                         "Choices=Alpha", "Choices=Gamma", "Emails=a@example.test",
                         url=u)
    rows = jrows(code, out)
    r = rows[0] if rows else {}
    t.eq(r.get("Texts"), ["a,b", "c"], "multi: one item per repeated key, commas kept")
    t.eq(r.get("Numbers"), [1, 2], "multi numbers typed")
    t.eq(r.get("Booleans"), [True], "one item of a multi input is a list of one")
    t.eq(r.get("Choices"), ["Alpha", "Gamma"], "multi enum")

    code, out, err = run("--json", "call", "t1/Echo.Echo", "Texts:=[]",
                         "Numbers:=[3,4]", "Text:=\"@literal\"", url=u)
    rows = jrows(code, out)
    r = rows[0] if rows else {}
    t.ok(r.get("Texts") == [] and r.get("Numbers") == [3, 4]
         and r.get("Text") == "@literal", "Key:=JSON raw values", out + err)

    # --- files ---------------------------------------------------------------
    hello = os.path.join(work, "hello.txt")
    pic = os.path.join(work, "pic.png")
    code, out, err = run("--json", "call", "t1/Echo.Echo", "File=@" + hello,
                         "Files=@" + pic, "Files=@%s;type=application/x-test" % hello,
                         "Memo=@" + os.path.join(work, "memo.txt"), url=u)
    rows = jrows(code, out)
    r = rows[0] if rows else {}
    f = r.get("File") or {}
    t.ok(f.get("Name") == "hello.txt" and f.get("ContentType") == "text/plain"
         and base64.b64decode(f.get("Content", "")) == b"hello file\n",
         "File=@path: name, guessed type, content", out + err)
    fs = r.get("Files") or []
    t.ok(len(fs) == 2 and fs[0].get("ContentType") == "image/png"
         and base64.b64decode(fs[0].get("Content", "")) == bytes(range(256))
         and fs[1].get("ContentType") == "application/x-test",
         "multi files, binary content, ;type= override", json.dumps(fs)[:300])
    t.eq(r.get("Memo"), "line one\nline two\n", "Memo=@path reads the text")

    code, out, err = run("call", "t1/Echo.Echo", "File=" + hello, url=u)
    t.ok(code == 2 and "@PATH" in err, "a file input without @: exit 2", err)
    code, out, err = run("call", "t1/Echo.Echo", "File=@" + work + "/missing", url=u)
    t.ok(code == 2 and "missing" in err, "an unreadable file: exit 2", err)
    code, out, err = run("call", "t1/Echo.Echo", "Text=a", "Text=b", url=u)
    t.ok(code == 2 and "twice" in err, "a single input given twice: exit 2", err)
    code, out, err = run("call", "t1/Echo.Echo", "NoEquals", url=u)
    t.eq(code, 2, "an argument without '=': exit 2")

    # --- JSON on stdin ---------------------------------------------------------
    code, out, err = run("--json", "call", "t1/Echo.Echo", "-",
                         stdin='{"inputs": {"Text": "stdin", "Numbers": [5, 6]}}', url=u)
    rows = jrows(code, out)
    t.ok(rows and rows[0].get("Text") == "stdin" and rows[0].get("Numbers") == [5, 6],
         "'-' reads {\"inputs\": {...}} from stdin", out + err)
    code, out, err = run("--json", "call", "t1/Echo.Echo", "-", "Text=override",
                         stdin='{"Text": "bare", "Number": 9}', url=u)
    rows = jrows(code, out)
    t.ok(rows and rows[0].get("Text") == "override" and rows[0].get("Number") == 9,
         "a bare object on stdin; Key=Value overrides it", out + err)
    code, out, err = run("call", "t1/Echo.Echo", "-", stdin="{not json", url=u)
    t.eq(code, 2, "invalid JSON on stdin: exit 2")
    NUL_MSG = "a string holds \\u0000 (NUL), which is not allowed"
    code, out, err = run("call", "t1/Echo.Echo", "-",
                         stdin='{"Text": "a\\u0000b"}', url=u)
    t.ok(code == 2 and "stdin: line 1: " + NUL_MSG in err and
         "JSON_ALLOW_NUL" not in err,
         "a NUL on stdin is named in plain words", err)
    code, out, err = run("call", "t1/Echo.Echo", 'Text:="a\\u0000b"', url=u)
    t.ok(code == 2 and "Text:= is not JSON: " + NUL_MSG in err and
         "JSON_ALLOW_NUL" not in err,
         "a NUL in Key:=JSON is named in plain words", err)
    # The same words from the API itself.
    st, body = d.request("POST", "/v1/call/t1/Echo/Echo",
                         b'{"inputs": {"Text": "a\\u0000b"}}',
                         headers={"Content-Type": "application/json"})
    msg = body.get("error", {}).get("message", "") if isinstance(body, dict) \
        else ""
    t.ok(st == 400 and NUL_MSG in msg and "JSON_ALLOW_NUL" not in msg,
         "the API names a NUL in plain words", repr(body))

    # --- output for people ---------------------------------------------------------
    code, out, err = run("call", "t1/Echo.Echo", "Text=short", "Number=3",
                         "Texts=x", "Texts=y", url=u)
    t.ok(code == 0 and "Text:" in out and "short" in out and "x, y" in out,
         "one row as key: value lines", out)
    long_text = "word " * 60
    code, out, err = run("call", "t1/Echo.Echo", "Text=" + long_text, url=u,
                         env={"COLUMNS": "60"})
    line = [l for l in out.splitlines() if l.startswith("Text:")]
    t.ok(code == 0 and line and line[0].endswith("…") and len(line[0]) <= 60,
         "long values cut with an ellipsis to the width", out)
    code, out, err = run("--wide", "call", "t1/Echo.Echo", "Text=" + long_text,
                         url=u, env={"COLUMNS": "60"})
    t.ok(long_text.strip() in out, "--wide never cuts", out[:200])
    code, out, err = run("call", "t1/Echo.Echo", "Memo=a\nb", url=u)
    t.ok("a\\nb" in out, "control characters are shown escaped", out)

    code, out, err = run("call", "t1/Echo.List", "PageSize=2", url=u)
    lines = out.splitlines()
    t.ok(code == 0 and lines and lines[0].split() == ["Index", "Name"]
         and "item-0" in out and "item-1" in out and "item-2" not in out,
         "several rows as a table", out)
    t.ok("PageToken=" in out, "more rows: the next PageToken is shown", out)

    code, out, err = run("--json", "--all", "call", "t1/Echo.List", "PageSize=2", url=u)
    rows = jrows(code, out)
    t.ok(rows is not None and [x.get("Index") for x in rows] == [0, 1, 2, 3, 4]
         and json.loads(out).get("more") is False, "--all follows every page", out)
    code, out, err = run("--json", "call", "t1/Echo.List", "Total=3", url=u)
    rows = jrows(code, out)
    t.ok(rows is not None and len(rows) == 3 and json.loads(out).get("more") is False,
         "call --json prints the answer", out)

    code, out, err = run("call", "t1/Dynamic.Ping", url=u)
    t.ok(code == 0 and "pong from first" in out, "a dynamic object's method", out + err)

    # --- server errors ------------------------------------------------------------
    code, out, err = run("call", "nope/Echo.Echo", "Text=x", url=u)
    t.ok(code == 1 and "not_found" in err and "404" in err,
         "unknown instance: exit 1 with not_found (404)", "%d %s" % (code, err))
    code, out, err = run("call", "t1/Echo.Nope", url=u)
    t.ok(code == 1 and "not_found" in err, "unknown method: exit 1", "%d %s" % (code, err))
    code, out, err = run("call", "t1/Echo.Echo", "Number:=\"abc\"", url=u)
    t.ok(code == 1 and "invalid_input" in err and "Number" in err and "400" in err,
         "invalid input: the server's message names it", "%d %s" % (code, err))
    code, out, err = run("call", "t1/Echo.Echo", "-", stdin='{"inputs": [1]}',
                         url=u)
    t.ok(code == 2 and '"inputs" must be a JSON object of inputs, not an '
         'array' in err, "stdin: inputs that are not an object are named",
         "%d %s" % (code, err))
    for arg, want in (("Number=abc", "Number is a number input: 'abc' is not "
                       "a whole number"),
                      ("Number=1.5", "'1.5' is not a whole number"),
                      ("Number=99999999999999999999",
                       "is not a whole number in the 64-bit range"),
                      ("Boolean=maybe", "Boolean is a boolean input: 'maybe' "
                       "is not one of yes/no")):
        code, out, err = run("call", "t1/Echo.Echo", arg, url=u)
        t.ok(code == 2 and want in err,
             "%s: refused by the client, naming the input and its type" % arg,
             "%d %s" % (code, err))
    code, out, err = run("call", "t1/Echo.Echo", "Unknown=1", url=u)
    t.ok(code == 1 and "invalid_input" in err and "Unknown" in err,
         "unknown input: refused by the server", "%d %s" % (code, err))
    # Found by tests/fuzz/fuzz_cli_inputs: a name that is not UTF-8 was
    # dropped from the inputs without a word.
    code, out, err = run("call", "t1/Echo.Echo", "Text=x", b"Te\xffxt=1", url=u)
    t.ok(code == 2 and "argument 2: the input name is not valid UTF-8" in err,
         "an input name that is not UTF-8: refused by the client",
         "%d %s" % (code, err))
    code, out, err = run("call", "t1/Echo.Fail", "Status=throttled", "Code=SlowDown",
                         "Message=take a break", "RetryAfterMs=1500", url=u)
    t.ok(code == 1 and "throttled" in err and "[SlowDown]" in err
         and "take a break" in err and "429" in err and "1500" in err,
         "error category, code, message and retry after", err)
    code, out, err = run("call", "t1/Echo.Fail", "Status=quota_exceeded", url=u)
    t.ok(code == 1 and "quota_exceeded" in err and "507" in err,
         "quota_exceeded is HTTP 507", err)
    code, out, err = run("--json", "call", "t1/Echo.Fail", "Status=conflict",
                         "Code=Busy", url=u)
    try:
        e = json.loads(out)["error"]
    except (ValueError, KeyError, TypeError):
        e = {}
    t.ok(code == 1 and e.get("category") == "conflict" and e.get("code") == "Busy",
         "--json prints the error body on stdout", out + err)
    code, out, err = run("call", "t2/Echo.Echo", url=u)
    t.ok(code == 1 and err.strip() != "", "a call to a failed instance: exit 1", err)
    code, out, err = run("--timeout", "500ms", "call", "t1/Echo.Sleep", "Ms=3000", url=u)
    t.ok(code == 3 and "timed out" in err,
         "client --timeout: exit 3", "%d %s" % (code, err))

    # --- health -------------------------------------------------------------------
    # t2 failed to open: the daemon is degraded, and says so by exit 1
    # (a healthy daemon exits 0: test_api_test.py)
    code, out, err = run("health", url=u)
    t.ok(code == 1 and out.startswith("degraded") and "t1" in out,
         "health, degraded: exit 1, lists instances", out + err)
    code, out, err = run("--json", "health", url=u)
    try:
        isjson = json.loads(out).get("status") == "degraded"
    except (ValueError, AttributeError):
        isjson = False
    t.ok(code == 1 and isjson, "health --json, degraded: exit 1", out)

    # The daemon still serves after all that.
    st, _ = d.get("/v1/health")
    t.eq(st, 200, "the daemon is healthy at the end")

subprocess.run(["rm", "-rf", work])
t.done()
