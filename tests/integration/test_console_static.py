"""The web console's static files at /ui/: content types, ETag and
If-None-Match (304), the Content-Security-Policy and its companions, HEAD,
the /ui redirect, the fixed library mapping (/ui/lib/<package>/ from
[server] console_libs), every way of walking out of the trees refused, and
[server] console = off (404)."""
import http.client
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

CONSOLE_SRC = os.path.join(sbtest.TOP_SRCDIR, "console")
SECRET = "do-not-serve-this-7f3a"

TYPES = {".html": "text/html; charset=utf-8",
         ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8"}


def raw(d, method, target, headers=None):
    """(status, headers dict lower-cased, body bytes); the target is sent
    exactly as given (no client-side normalisation of "..")."""
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    try:
        c.putrequest(method, target, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def make_trees(work):
    """A copy of the console (so a test can change a file) and a library
    tree like Debian's /usr/share/javascript, with a secret beside both."""
    con = os.path.join(work, "www", "console")
    shutil.copytree(CONSOLE_SRC, con)
    libs = os.path.join(work, "www", "javascript")
    os.makedirs(os.path.join(libs, "chart.js"))
    os.makedirs(os.path.join(libs, "bootstrap5", "css"))
    os.makedirs(os.path.join(libs, "other"))
    with open(os.path.join(libs, "chart.js", "chart.min.js"), "w") as f:
        f.write("/* chart */ window.Chart = undefined;\n")
    with open(os.path.join(libs, "bootstrap5", "css", "bootstrap.min.css"),
              "w") as f:
        f.write("body { color: black; }\n")
    with open(os.path.join(libs, "other", "x.js"), "w") as f:
        f.write("/* a package the console does not use */\n")
    # Debian's tree is links into the packages' own directories: followed
    os.symlink(os.path.join(libs, "chart.js", "chart.min.js"),
               os.path.join(libs, "chart.js", "Chart.min.js"))
    for where in (os.path.join(work, "www"), libs, con):
        with open(os.path.join(where, "secret.txt"), "w") as f:
            f.write(SECRET)
    with open(os.path.join(con, ".hidden.js"), "w") as f:
        f.write(SECRET)
    os.mkfifo(os.path.join(con, "fifo.js"))
    return con, libs


def check_files(t, d):
    names = sorted(n for n in os.listdir(CONSOLE_SRC)
                   if os.path.splitext(n)[1] in TYPES)
    t.ok("index.html" in names and "app.js" in names,
         "the console has index.html and app.js", repr(names))
    for n in names:
        st, h, body = raw(d, "GET", "/ui/" + n)
        with open(os.path.join(CONSOLE_SRC, n), "rb") as f:
            want = f.read()
        t.eq(st, 200, "GET /ui/%s" % n)
        t.eq(h.get("content-type"), TYPES[os.path.splitext(n)[1]],
             "%s: content type" % n)
        t.ok(body == want, "%s: the file's bytes" % n)
        t.eq(h.get("content-length"), str(len(want)),
             "%s: Content-Length" % n)
        t.ok(re.fullmatch(r'"[0-9a-f]+-[0-9a-f]{16}"', h.get("etag", "")),
             "%s: a strong ETag" % n, repr(h.get("etag")))
        t.eq(h.get("cache-control"), "no-cache",
             "%s: revalidated (no-cache)" % n)
        if n.endswith(".html"):
            # no inline script, no handler attribute: the CSP would refuse
            # them, and the page must not need them
            text = want.decode()
            scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", text,
                                 re.S)
            t.ok(scripts and all("src=" in a and not b.strip()
                                 for a, b in scripts),
                 "%s: every script is a file" % n, repr(scripts))
            t.ok(not re.search(r"\son[a-z]+\s*=", text, re.I),
                 "%s: no on* attributes" % n)
            t.ok("style=" not in text, "%s: no inline style" % n)
        if n.endswith(".js"):
            t.ok(not re.search(r"\.innerHTML|\.outerHTML|insertAdjacentHTML"
                               r"|document\.write|\beval\(|new Function",
                               want.decode()),
                 "%s: no HTML insertion or eval" % n)


def check_headers(t, d):
    st, h, body = raw(d, "GET", "/ui/")
    t.eq(st, 200, "GET /ui/ is the index")
    t.ok(b'<script type="module" src="app.js">' in body,
         "the index loads app.js as a module")
    t.eq(h.get("content-type"), "text/html; charset=utf-8", "index: type")
    csp = h.get("content-security-policy", "")
    directives = {x.strip().split(" ")[0]: x.strip().split(" ")[1:]
                  for x in csp.split(";") if x.strip()}
    t.eq(directives.get("default-src"), ["'none'"], "CSP: default-src 'none'")
    t.eq(directives.get("script-src"), ["'self'"],
         "CSP: scripts from this origin only (no inline, no eval)")
    t.eq(directives.get("connect-src"), ["'self'"],
         "CSP: talks to this daemon only")
    t.eq(directives.get("style-src"), ["'self'"], "CSP: styles from files")
    t.eq(directives.get("frame-ancestors"), ["'none'"], "CSP: never framed")
    t.ok("unsafe" not in csp and "*" not in csp and "http" not in csp,
         "CSP: no unsafe-*, no wildcard, no other origin", csp)
    t.eq(h.get("x-content-type-options"), "nosniff", "nosniff")
    t.eq(h.get("x-frame-options"), "DENY", "X-Frame-Options")
    t.eq(h.get("referrer-policy"), "no-referrer", "Referrer-Policy")
    etag = h.get("etag")
    st2, h2, body2 = raw(d, "GET", "/ui/index.html")
    t.eq(h2.get("etag"), etag, "/ui/ and /ui/index.html: one ETag")

    st, h, body = raw(d, "GET", "/ui/", {"If-None-Match": etag})
    t.eq(st, 304, "If-None-Match with the ETag: 304")
    t.eq(body, b"", "304: no body")
    t.eq(h.get("etag"), etag, "304: the ETag again")
    t.ok("content-length" not in h and "content-type" not in h,
         "304: no Content-Length or Content-Type", repr(h))
    t.ok("content-security-policy" in h, "304: the CSP too")
    for inm in ('W/' + etag, '"nope", ' + etag, ' "a" , W/"b",' + etag, '*'):
        st, _, _ = raw(d, "GET", "/ui/", {"If-None-Match": inm})
        t.eq(st, 304, "If-None-Match %r: 304" % inm)
    for inm in ('"nope"', etag[:-2] + '"', 'garbage', etag + " junk", ""):
        st, _, body = raw(d, "GET", "/ui/", {"If-None-Match": inm})
        t.eq(st, 200, "If-None-Match %r: 200" % inm)
    st, h, body = raw(d, "HEAD", "/ui/app.js")
    t.ok(st == 200 and body == b"" and int(h.get("content-length", 0)) > 0
         and h.get("etag"), "HEAD: headers, no body", repr((st, h)))
    st, h, body = raw(d, "GET", "/ui")
    t.ok(st == 301 and h.get("location") == "/ui/", "/ui redirects to /ui/",
         repr((st, h)))
    st, h, body = raw(d, "POST", "/ui/index.html")
    t.ok(st == 405 and h.get("allow") == "GET, HEAD", "POST: 405 GET, HEAD",
         repr((st, h)))
    # the API keeps its own headers
    st, h, body = raw(d, "GET", "/v1/health")
    t.ok(st == 200 and h.get("cache-control") == "no-store"
         and "content-security-policy" not in h and "etag" not in h,
         "the API's answers are unchanged", repr(h))


def check_etag_follows_content(t, d, con):
    _, h, _ = raw(d, "GET", "/ui/console.css")
    old = h.get("etag")
    with open(os.path.join(con, "console.css"), "a") as f:
        f.write("\n/* changed */\n")
    st, h, body = raw(d, "GET", "/ui/console.css", {"If-None-Match": old})
    t.ok(st == 200 and h.get("etag") != old and body.endswith(b"/* changed */\n"),
         "a changed file: 200 with a new ETag", repr((st, h.get("etag"), old)))


def check_libs(t, d):
    st, h, body = raw(d, "GET", "/ui/lib/chart.js/chart.min.js")
    t.ok(st == 200 and body.startswith(b"/* chart */")
         and h.get("content-type") == "text/javascript; charset=utf-8",
         "a library file from console_libs", repr((st, h)))
    st, h, body = raw(d, "GET", "/ui/lib/chart.js/Chart.min.js")
    t.ok(st == 200 and body.startswith(b"/* chart */"),
         "a link inside the library tree is followed", repr(st))
    st, h, body = raw(d, "GET", "/ui/lib/bootstrap5/css/bootstrap.min.css")
    t.ok(st == 200 and h.get("content-type") == "text/css; charset=utf-8",
         "bootstrap5's stylesheet", repr((st, h)))
    etag = h.get("etag")
    st, _, _ = raw(d, "GET", "/ui/lib/bootstrap5/css/bootstrap.min.css",
                   {"If-None-Match": etag})
    t.eq(st, 304, "a library file: 304 too")


REFUSED = [
    "/ui/../secret.txt",
    "/ui/../../../../../../etc/passwd",
    "/ui/%2e%2e/secret.txt",
    "/ui/%2E%2E/%2E%2E/secret.txt",
    "/ui/..%2fsecret.txt",
    "/ui/..%2Fsecret.txt",
    "/ui/%2e%2e%2fsecret.txt",
    "/ui/./index.html",
    "/ui//etc/passwd",
    "/ui/lib/../secret.txt",
    "/ui/lib/chart.js/../../secret.txt",
    "/ui/lib/chart.js/%2e%2e/%2e%2e/secret.txt",
    "/ui/lib/%2e%2e/secret.txt",
    "/ui/lib/other/x.js",             # a package the console does not use
    "/ui/lib/chart.js",               # a directory
    "/ui/lib/chart.js/",
    "/ui/lib/bootstrap5/css",
    "/ui/lib/secret.txt",
    "/ui/.hidden.js",                 # hidden names never serve
    "/ui/index.html%00.js",           # %00 stays as sent
    "/ui/index.html.bak",             # no type for it
    "/ui/index",                      # no extension
    "/ui/secret.txt/",
    "/ui/fifo.js",                    # not a regular file (and no hang)
    "/ui/no-such-file.js",
    "/ui/\\..\\secret.txt",
    "/ui/%5c..%5csecret.txt",
    "/ui/a/b/c/d/e/f/g/h/i/j.js",      # too deep
    "/ui/" + "a" * 200 + ".js",        # a segment too long
    "/ui/%C0%AE%C0%AE/secret.txt",    # overlong UTF-8 dots
    "/ui/~root/.bashrc",
    "/uix/index.html",                # not the console's prefix
    "http://127.0.0.1/ui/../secret.txt",
]


def check_traversal(t, d):
    for target in REFUSED:
        st, h, body = raw(d, "GET", target)
        t.ok(st in (400, 404) and SECRET.encode() not in body
             and b"root:" not in body,
             "refused: %s" % target[:60], repr((st, body[:120])))
        if st == 404 and target.startswith("/ui/"):
            t.ok(h.get("content-type") == "application/json"
                 and b'"NotFound"' in body,
                 "refused as the API's JSON 404: %s" % target[:60],
                 repr(body[:120]))
    # the daemon still serves after all of that
    st, _, _ = raw(d, "GET", "/ui/index.html")
    t.eq(st, 200, "still serving after the refusals")


def main():
    t = sbtest.Checks()
    work = sbtest.tempdir("sbconsole-")
    try:
        con, libs = make_trees(work)
        extra = "console_dir = %s\nconsole_libs = %s\n" % (con, libs)
        with sbtest.Daemon(server_extra=extra) as d:
            check_files(t, d)
            check_headers(t, d)
            check_libs(t, d)
            check_traversal(t, d)
            check_etag_follows_content(t, d, con)
            t.ok("web console at /ui/" in d.read_log(),
                 "the log says where the console is")
        # "on" serves it as well (the tests listen on loopback only; that
        # "loopback" withholds it on other addresses is in the unit test)
        with sbtest.Daemon(server_extra=extra + "console = on\n") as d:
            st, _, _ = raw(d, "GET", "/ui/")
            t.eq(st, 200, "console = on: served")
        with sbtest.Daemon(server_extra=extra + "console = off\n") as d:
            for target in ("/ui/", "/ui/index.html", "/ui",
                           "/ui/lib/chart.js/chart.min.js"):
                st, h, body = raw(d, "GET", target)
                t.ok(st == 404 and b'"NotFound"' in body,
                     "console = off: %s is 404" % target, repr((st, body)))
            t.ok("web console" not in d.read_log(),
                 "console = off: not announced")
        bad = sbtest.Daemon(server_extra=extra + "console = maybe\n")
        try:
            bad.start()
            t.ok(False, "console = maybe is refused")
        except RuntimeError as e:
            t.ok("console" in str(e) and "maybe" in str(e),
                 "console = maybe is refused, naming the key",
                 str(e)[-400:])
        finally:
            bad.stop()
            if bad.log:
                bad.log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
