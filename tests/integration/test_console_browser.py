"""The web console in a real browser: headless Chromium driven by Selenium
against svcbrokerd with mapi-stub, testmod and hostilemod.  Browses to an
object, sends a mail with an attachment through the generated form and
lists it, downloads the attachment, pages through a list, sees refused
inputs (in the browser and from the server), tests an instance, reads the
charts, and proves that markup from the catalog and from results is shown
as text and never runs.  Screenshots of each page go to
test_console_browser.shots/ beside the test's log.

Skipped (77) when /usr/bin/chromium, /usr/bin/chromedriver or
python3-selenium is missing."""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")),
    "tests", "lib"))
import sbtest  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Every wait is bounded; a daemon under valgrind answers several times
# slower, so its waits are longer.
WAIT = 60.0 if sbtest.VALGRIND else 15.0
OUT = os.path.join(sbtest.TOP_BUILDDIR, "tests", "integration",
                   "test_console_browser.shots")

HOSTILE_SUBJECT = ("<img src=x onerror=\"window.__sbPwned='subject'\">"
                   "<script>window.__sbPwned='subject'</script>Quarterly")
ATTACHMENT = b"first line\nsecond line <b>not bold</b>\n"


def skip(why):
    print("# SKIP %s" % why)
    sys.exit(sbtest.SKIP)


def setup_or_skip():
    for path, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            skip("%s is missing (apt-get install %s)" % (path, pkg))
    try:
        import selenium  # noqa: F401
    except ImportError:
        skip("python3-selenium is missing (apt-get install python3-selenium)")


def config(store):
    return """
[module testmod]
enabled = yes
[module hostilemod]
enabled = yes
[module mapi-stub]
enabled = yes

[instance local]
broker = mapi-stub
store_dir = %s
mailboxes = alice@example.test, bob@example.test

[instance t1]
broker = testmod
label = first
list_total = 7

[instance evil]
broker = hostilemod
""" % store


class Browser:
    def __init__(self, downloads, profile):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-dev-shm-usage", "--window-size=1280,1000",
                  "--no-first-run", "--disable-extensions",
                  "--user-data-dir=" + profile):
            o.add_argument(a)
        o.add_experimental_option("prefs", {
            "download.default_directory": downloads,
            "download.prompt_for_download": False})
        o.set_capability("goog:loggingPrefs", {"browser": "ALL",
                                               "performance": "ALL"})
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)
        self.d.set_page_load_timeout(WAIT)
        self.d.set_script_timeout(WAIT)
        self.d.execute_cdp_cmd("Page.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": downloads})
        self.logs = []

    def quit(self):
        self.d.quit()

    def wait(self, what, pred, timeout=WAIT):
        """pred() until truthy (exceptions count as not yet), bounded."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                v = pred()
                if v:
                    return v
            except Exception as e:  # noqa: BLE001 — element not there yet
                last = e
            time.sleep(0.1)
        raise AssertionError("timed out after %.0fs waiting for %s (%r)"
                             % (timeout, what, last))

    def css(self, sel):
        from selenium.webdriver.common.by import By
        return self.d.find_element(By.CSS_SELECTOR, sel)

    def csss(self, sel):
        from selenium.webdriver.common.by import By
        return self.d.find_elements(By.CSS_SELECTOR, sel)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def go(self, url, title):
        self.d.get(url)
        self.title(title)

    def title(self, want):
        return self.wait("the view %r" % want,
                         lambda: self.css("#view-title").text == want)

    def shot(self, name, at=None):
        """A screenshot, scrolled to the element `at` (CSS) if given."""
        os.makedirs(OUT, exist_ok=True)
        if at and self.csss(at):
            self.js("arguments[0].scrollIntoView({block: 'start'});",
                    self.css(at))
        self.d.save_screenshot(os.path.join(OUT, name + ".png"))

    def field(self, name, n=0):
        """The n-th value control of input `name` in the method form."""
        return self.csss('[data-input="%s"] input, [data-input="%s"] '
                         'textarea, [data-input="%s"] select'
                         % (name, name, name))[n]

    def click(self, e):
        self.js("arguments[0].scrollIntoView({block: 'center'});", e)
        e.click()

    def run(self):
        self.click(self.css("#run"))

    def answer(self):
        """Wait for the call's answer: ("rows", table) or ("error", box)."""
        def got():
            if self.csss("#answer #running"):
                return None
            if self.csss("#answer .sb-error"):
                return ("error", self.css("#answer .sb-error"))
            if self.csss("#answer #result-rows"):
                return ("rows", self.css("#answer #result-rows"))
            return None
        return self.wait("the answer", got)

    def rows(self):
        """The result table as a list of {column: text}."""
        return self.js("""
            const t = document.getElementById('result-rows');
            const cols = [...t.querySelectorAll('thead th')].map(x => x.textContent);
            return [...t.querySelectorAll('tbody tr')].map(tr => {
                const o = {};
                [...tr.children].forEach((td, i) => { o[cols[i]] = td.textContent; });
                return o;
            });""")

    def pwned(self):
        return self.js("return window.__sbPwned === undefined ? null : "
                       "String(window.__sbPwned);")

    def sent_header(self, path, name):
        """The header `name` of the last request to path, from Chromium's
        performance log (None if it was not sent)."""
        import json
        got = None
        for e in self.d.get_log("performance"):
            m = json.loads(e["message"])["message"]
            if m.get("method") != "Network.requestWillBeSent":
                continue
            rq = m["params"]["request"]
            if rq["url"].endswith(path):
                got = {k.lower(): v for k, v in rq["headers"].items()}.get(
                    name.lower())
        return got

    def severe_logs(self):
        self.logs += self.d.get_log("browser")
        # the calls refused on purpose (400) are logged as failed loads
        return [e for e in self.logs if e.get("level") == "SEVERE"
                and not (e.get("source") == "network"
                         and "/v1/call/" in e.get("message", "")
                         and "status of 400" in e.get("message", ""))]


def check_catalog(t, b, d):
    b.go(d.url + "/ui/", "Catalog")
    b.wait("the instance list", lambda: b.csss("#instance-list [data-instance]"))
    names = [e.get_attribute("data-instance")
             for e in b.csss("#instance-list [data-instance]")]
    t.eq(names, ["local", "t1", "evil"], "catalog: every instance, in order")
    t.ok("mapi-stub" in b.css('[data-instance="local"]').text
         and "ready" in b.css('[data-instance="local"]').text,
         "catalog: broker and state shown")
    b.shot("catalog")
    # search, with the keyboard only
    from selenium.webdriver.common.keys import Keys
    box = b.css("#search")
    box.send_keys("page through")
    b.wait("search results", lambda: "t1/Echo.List" in b.css("#search-results").text)
    t.ok("t1/Echo.List" in b.css("#search-results").text,
         "search finds a method by its doc string")
    b.shot("search")
    box.send_keys(Keys.TAB)  # to the first result's link
    focused = b.js("return document.activeElement.textContent;")
    t.eq(focused, "t1/Echo.List", "search: TAB reaches the first result")
    b.d.switch_to.active_element.send_keys(Keys.ENTER)
    t.ok(b.wait("the method tester", lambda: b.css("#view-title").text
                == "t1/Echo.List"),
         "search: ENTER on a result opens the method tester")
    t.eq(b.js("return document.activeElement.id;"), "view-title",
         "focus moves to the new view's heading")


def check_object(t, b, d):
    b.go(d.url + "/ui/#/catalog", "Catalog")
    b.wait("the Email link", lambda: b.csss('a[href="#/object/local/Email"]'))
    b.click(b.css('a[href="#/object/local/Email"]'))
    b.title("local/Email")
    props = b.css("#properties").text
    t.ok("Subject" in props and "Attachments" in props,
         "object: its properties with types", props[:200])
    t.ok(b.csss('[data-method="Send"]') and b.csss('[data-method="List"]'),
         "object: its methods")
    t.ok("To" in b.css('[data-method="Send"]').text
         and "email (several)" in b.css('[data-method="Send"]').text,
         "object: a method's inputs with type and multiplicity")
    b.shot("object")


def unlabelled(b):
    """Form controls in the view without a label."""
    return b.js("""
        return [...document.querySelectorAll('#main input, #main select, #main textarea, #main button')]
          .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                       && !e.getAttribute('aria-labelledby') && !e.textContent.trim())
          .map(e => e.outerHTML.slice(0, 80));""")


def check_send_and_list(t, b, d, work):
    b.go(d.url + "/ui/#/try/local/Email/Send", "local/Email.Send")
    t.eq(unlabelled(b), [], "tester: every control is labelled")
    b.field("To").send_keys("bob@example.test")
    b.click(b.css('[data-input="To"] button.btn-outline-primary'))  # Add To
    b.field("To", 1).send_keys("carol@example.test")
    b.click(b.css('[data-input="To"] .sb-item:nth-child(2) button'))  # Remove
    t.eq(len(b.csss('[data-input="To"] .sb-item')), 1,
         "multi input: an item added, then removed")
    b.field("Subject").send_keys(HOSTILE_SUBJECT)
    b.field("Body").send_keys("Hello Bob,\nsee attached.")
    b.field("Mailbox").send_keys("alice@example.test")
    path = os.path.join(work, "report.txt")
    with open(path, "wb") as f:
        f.write(ATTACHMENT)
    b.field("Attachments").send_keys(path)
    b.run()
    kind, _ = b.answer()
    t.eq(kind, "rows", "Email.Send through the form answers rows")
    rows = b.rows()
    t.ok(len(rows) == 1 and rows[0].get("Folder") == "Sent Items"
         and "bob@example.test" in rows[0].get("Accepted", ""),
         "Email.Send: sent and accepted", repr(rows))
    curl = b.css("#cmd-curl").text
    cli = b.css("#cmd-cli").text
    t.ok("curl -s" in curl and "/v1/call/local/Email/Send" in curl
         and '"To":["bob@example.test"]' in curl
         and "report.txt" in curl, "the equivalent curl command", curl[:300])
    t.ok(cli.startswith("svcbroker -u ") and "call 'local/Email.Send'" in cli
         and "'To=bob@example.test'" in cli and "'Attachments=@report.txt'" in cli
         and "'Mailbox=alice@example.test'" in cli,
         "the equivalent svcbroker call command", cli[:300])
    b.shot("send", "#answer")

    b.go(d.url + "/ui/#/try/local/Email/List", "local/Email.List")
    b.field("Mailbox").send_keys("bob@example.test")
    b.field("Folder").send_keys("Inbox")
    b.run()
    kind, _ = b.answer()
    t.eq(kind, "rows", "Email.List answers rows")
    rows = b.rows()
    t.ok(len(rows) == 1 and rows[0].get("Subject") == HOSTILE_SUBJECT,
         "Email.List shows the row, the subject as text", repr(rows))
    t.ok(not b.csss("#answer img") and not b.csss("#answer script"),
         "the subject's markup made no element")
    b.shot("list", "#answer")
    msg_id = rows[0].get("Id", "")

    # the attachment comes back with Email.Load: download it
    b.go(d.url + "/ui/#/try/local/Email/Load", "local/Email.Load")
    b.field("Id").send_keys(msg_id)
    b.field("Mailbox").send_keys("bob@example.test")
    b.run()
    kind, _ = b.answer()
    t.eq(kind, "rows", "Email.Load answers a row")
    btn = b.wait("the download button",
                 lambda: b.csss('#answer button.sb-download[data-name="report.txt"]'))
    t.ok("%d bytes" % len(ATTACHMENT) in b.css("#answer .sb-file").text,
         "the file's name, type and size")
    b.shot("load", "#answer")
    b.click(btn[0])
    dl = os.path.join(work, "downloads", "report.txt")

    def downloaded():
        if not os.path.exists(dl):
            return False
        with open(dl, "rb") as f:
            return f.read() == ATTACHMENT
    t.ok(b.wait("the download", downloaded), "the attachment downloads intact")


def check_types(t, b, d):
    """Echo.Echo: a control per catalog type, the values as the server
    takes them, and the browser's checks."""
    b.go(d.url + "/ui/#/try/t1/Echo/Echo", "t1/Echo.Echo")
    kinds = b.js("""
        const o = {};
        for (const f of document.querySelectorAll('[data-input]')) {
            const c = f.querySelector('input, select, textarea');
            o[f.getAttribute('data-input')] = c.tagName.toLowerCase() +
                (c.type && c.tagName === 'INPUT' ? ':' + c.type : '');
        }
        return o;""")
    want = {"Text": "input:text", "Memo": "textarea", "Number": "input:number",
            "Decimal": "input:text", "Boolean": "select", "DateTime":
            "input:datetime-local", "Date": "input:date", "Time": "input:time",
            "Duration": "input:text", "Guid": "input:text", "Email":
            "input:email", "Choice": "select", "File": "input:file",
            "Choices": "select", "Files": "input:file"}
    t.eq({k: kinds.get(k) for k in want}, want,
         "a fitting control for each catalog type")
    # the browser's own date and time pickers: set as the picker would
    for name, value in (("Date", "2026-01-31"), ("Time", "09:30:15"),
                        ("DateTime", "2026-01-31T09:00:00")):
        b.js("arguments[0].value = arguments[1];", b.field(name), value)
    offset = b.css('[data-input="DateTime"] input[id$="-offset"]')
    offset.clear()
    offset.send_keys("+01:00")
    b.field("Number").send_keys("42")
    b.field("Decimal").send_keys("12.50")
    from selenium.webdriver.support.ui import Select
    Select(b.field("Boolean")).select_by_value("true")
    Select(b.field("Choice")).select_by_value("Beta")
    Select(b.field("Choices")).select_by_value("Alpha")
    b.click(b.css('[data-input="Choices"] button.btn-outline-primary'))
    Select(b.field("Choices", 1)).select_by_value("Gamma")
    b.field("Duration").send_keys("P1Y")
    b.field("Guid").send_keys("not-a-guid")
    b.field("Email").send_keys("Bob <bob@example.test>")
    b.run()
    errs = {n: b.css('[data-input="%s"] .sb-field-error' % n).text
            for n in ("Duration", "Guid", "Email")}
    t.ok("ISO 8601 duration" in errs["Duration"] and "GUID" in errs["Guid"]
         and "e-mail address" in errs["Email"],
         "the browser refuses what the server would", repr(errs))
    b.shot("types-refused", '[data-input="Duration"]')
    for name, value in (("Duration", "PT30M"),
                        ("Guid", "0f8fad5b-d9cb-469f-a165-70867728950e"),
                        ("Email", "bob@example.test")):
        b.field(name).clear()
        b.field(name).send_keys(value)
    b.run()
    kind, _ = b.answer()
    t.eq(kind, "rows", "Echo.Echo with every type answers")
    row = b.rows()[0]
    t.eq({k: row.get(k) for k in ("Number", "Decimal", "Boolean", "Date",
                                   "Time", "DateTime", "Duration", "Guid",
                                   "Email", "Choice", "Choices")},
         {"Number": "42", "Decimal": "12.50", "Boolean": "true",
          "Date": "2026-01-31", "Time": "09:30:15",
          "DateTime": "2026-01-31T09:00:00+01:00", "Duration": "PT30M",
          "Guid": "0f8fad5b-d9cb-469f-a165-70867728950e",
          "Email": "bob@example.test", "Choice": "Beta",
          "Choices": "Alpha, Gamma"},
         "every typed value comes back as sent")
    b.shot("types", "#answer")


def check_paging(t, b, d):
    b.go(d.url + "/ui/#/try/t1/Echo/List", "t1/Echo.List")
    b.field("PageSize").send_keys("3")
    b.run()
    seen = []
    for page in range(1, 4):
        kind, _ = b.answer()
        t.eq(kind, "rows", "page %d answers rows" % page)
        b.wait("page %d" % page,
               lambda: ("page %d" % page) in b.css("#answer h3").text)
        seen += [r["Name"] for r in b.rows()]
        if page == 2:
            b.shot("paging", "#answer")
        if page < 3:
            nxt = b.wait("next page", lambda: b.csss("#next-page"))
            b.click(nxt[0])
    t.eq(seen, ["item-%d" % i for i in range(7)],
         "three pages through next_page_token: every row once, in order")
    t.ok(b.csss("#last-page") and not b.csss("#next-page"),
         "the last page says so and offers no next page")
    cli = b.css("#cmd-cli").text
    t.ok("'PageToken=" in cli and "'PageSize=3'" in cli,
         "the command line of a next page carries the token", cli)


def check_refusals(t, b, d):
    b.go(d.url + "/ui/#/try/t1/Echo/Sleep", "t1/Echo.Sleep")
    b.field("Ms").send_keys("700000")
    b.run()
    err = b.wait("the field's error",
                 lambda: b.css('[data-input="Ms"] .sb-field-error').text)
    t.ok("at most 600000" in err, "a value past the maximum is refused in "
         "the browser", err)
    t.eq(b.css("#answer").text, "", "nothing was sent")
    t.eq(b.js("return document.activeElement.closest('[data-input]')"
              ".getAttribute('data-input');"), "Ms",
         "focus goes to the refused input")
    b.shot("refused-in-browser", "[data-input=\"Ms\"]")
    b.click(b.css('input[type="checkbox"][id$="-skip"]'))
    b.run()
    kind, box = b.answer()
    t.eq(kind, "error", "the server refuses it too")
    t.eq(b.css("#answer .sb-err-status").text, "400", "error: HTTP status")
    t.eq(b.css("#answer .sb-err-category").text, "invalid_input",
         "error: category")
    t.ok("Ms" in b.css("#answer .sb-err-message").text,
         "error: the message names the input")
    b.shot("refused-by-server", "#answer")

    b.go(d.url + "/ui/#/try/t1/Echo/List", "t1/Echo.List")
    b.field("PageToken").send_keys("not-a-token")
    b.run()
    kind, _ = b.answer()
    t.eq(kind, "error", "a forged page token is refused")
    t.eq(b.css("#answer .sb-err-code").text, "ErrorInvalidPageToken",
         "error: the code")
    t.ok('"category":"invalid_input"' in b.js(
        "return document.querySelector('#answer .sb-json').textContent;"),
        "error: the JSON as received")


def check_hostile_catalog(t, b, d):
    b.go(d.url + "/ui/#/object/evil/Note", "evil/Note")
    doc = b.css("#object-doc").text
    t.ok(doc.startswith("Object <script>window.__sbPwned='doc'</script>"
                        "<img src=x onerror="),
         "an object doc holding markup is shown as text", doc)
    t.ok("Property <script>" in b.css("#properties").text,
         "a property doc holding markup is shown as text")
    t.ok("Method <script>" in b.css('[data-method="Show"]').text
         and "Input <script>" in b.css('[data-method="Show"]').text,
         "method and input docs holding markup are shown as text")
    t.eq(b.js("return document.querySelectorAll('#main img, #main script').length;"),
         0, "no element was made from the docs")
    b.shot("hostile-catalog")
    b.go(d.url + "/ui/#/try/evil/Note/Show", "evil/Note.Show")
    b.run()
    kind, _ = b.answer()
    t.eq(kind, "rows", "hostilemod's Note.Show answers")
    t.ok(b.rows()[0].get("Text", "").startswith("<b onmouseover="),
         "a result value holding markup is shown as text", repr(b.rows()))
    t.ok(not b.csss("#answer b") and not b.csss("#answer script"),
         "no element was made from the result")
    b.go(d.url + "/ui/#/catalog", "Catalog")
    b.css("#search").send_keys("window.__sbPwned")
    b.wait("hostile search results", lambda: "matches" in b.css("#search-results").text)
    t.ok(not b.csss("#search-results img"),
         "search results show markup as text")
    b.shot("hostile-search")


def check_instances(t, b, d):
    b.go(d.url + "/ui/#/instances", "Instances and health")
    t.eq(unlabelled(b), [], "instances: every control is labelled")
    b.click(b.css('button.sb-test[data-instance="t1"]'))
    res = b.wait("the test's verdict",
                 lambda: "ms)" in b.css("#test-result-t1").text
                 and b.css("#test-result-t1").text)
    t.ok(res.startswith("ok:"), "test t1: ok with its message and time", res)
    b.click(b.css('button.sb-test[data-instance="local"]'))
    res = b.wait("local's verdict", lambda: "ms)" in b.css("#test-result-local").text
                 and b.css("#test-result-local").text)
    t.ok(res.startswith("ok:"), "test local: ok", res)
    figs = b.csss("figure.sb-chart")
    t.eq([f.get_attribute("data-instance") for f in figs],
         ["local", "t1", "evil"], "a chart per instance")
    nums = b.wait("chart numbers",
                  lambda: "total" in b.css('figure[data-instance="t1"] .sb-chart-numbers').text
                  and b.css('figure[data-instance="t1"] .sb-chart-numbers').text)
    t.ok("calls" in nums, "the chart's numbers from /metrics", nums)
    if b.js("return typeof window.Chart;") == "function":
        t.ok(b.csss('figure[data-instance="t1"] canvas'),
             "Chart.js draws the chart")
    meth = b.wait("per-method metrics", lambda: b.csss("#method-table"))
    t.ok("t1/Echo.List" in meth[0].text and "local/Email.Send" in meth[0].text,
         "calls per method from /metrics", meth[0].text[:300])
    # the charts refresh: a call made now shows in a later sample
    sbtest_calls = d.call("t1/Echo.Echo", {"Text": "x"})
    t.eq(sbtest_calls[0], 200, "a call from outside the browser")
    t.ok(b.wait("a refreshed method table",
                lambda: "t1/Echo.Echo" in b.css("#method-table").text,
                timeout=WAIT + 10),
         "the charts and table refresh from /metrics")
    b.shot("instances", "#charts")


def check_token_and_zoom(t, b, d):
    b.go(d.url + "/ui/#/catalog", "Catalog")
    tok = b.css("#token")
    tok.send_keys("s3cret-token")
    b.click(b.css("#token-help"))  # change event
    b.js("document.getElementById('token').dispatchEvent(new Event('change'));")
    t.eq(b.js("return sessionStorage.getItem('svcbroker.console.token');"),
         "s3cret-token", "the token is kept in the session")
    t.ok("s3cret" not in b.d.current_url, "the token is not in the URL")
    b.go(d.url + "/ui/#/try/t1/Echo/Echo", "t1/Echo.Echo")
    b.field("Text").send_keys("with a token")
    b.run()
    kind, _ = b.answer()
    t.eq(kind, "rows", "calls work with a token set")
    t.eq(b.sent_header("/v1/call/t1/Echo/Echo", "Authorization"),
         "Bearer s3cret-token", "the token is sent as the Authorization header")
    curl = b.css("#cmd-curl").text
    t.ok("$SVCBROKER_TOKEN" in curl and "s3cret" not in curl,
         "the curl line names the token without showing it", curl)
    b.click(b.css("#token-forget"))
    t.eq(b.js("return sessionStorage.getItem('svcbroker.console.token');"),
         None, "Forget clears it")
    # 400 % zoom of a 1280 px window is a 320 CSS px viewport
    b.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 320, "height": 640, "deviceScaleFactor": 1, "mobile": False})
    for frag, title in (("#/catalog", "Catalog"),
                        ("#/try/local/Email/Send", "local/Email.Send"),
                        ("#/instances", "Instances and health")):
        b.go(d.url + "/ui/" + frag, title)
        time.sleep(0.3)
        over = b.js("return document.documentElement.scrollWidth - "
                    "document.documentElement.clientWidth;")
        t.ok(over <= 1, "%s at 320 px: no sideways scrolling of the page" % title,
             "overflow %r px" % over)
    b.shot("zoom-400")
    b.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def check_anonymous_health(t, b, extra):
    """A daemon with clients names its instances only to a client: the
    console shows its status to a visitor without a token."""
    cfg = ("[module testmod]\nenabled = yes\n[instance t1]\n"
           "broker = testmod\nlabel = x\n\n[client ops]\n"
           "token_sha256 = %s\nallow = t1/Echo.Echo\n"
           % ("0" * 64))
    with sbtest.Daemon(body=cfg, server_extra=extra) as d2:
        b.go(d2.url + "/ui/#/instances", "Instances and health")
        b.wait("the status line", lambda: b.csss("#health-status"))
        t.ok("Status: ok" in b.css("#health-status").text and
             b.csss("#health-anonymous") and "t1" not in b.css("main").text,
             "a daemon with clients: the console shows the status, and "
             "says a token lists the instances", b.css("main").text[:300])


def main():
    setup_or_skip()
    t = sbtest.Checks()
    work = sbtest.tempdir("sbconsole-ui-")
    os.makedirs(os.path.join(work, "downloads"))
    shutil.rmtree(OUT, ignore_errors=True)
    extra = "console_dir = %s\n" % os.path.join(sbtest.TOP_SRCDIR, "console")
    b = None
    started = time.monotonic()
    try:
        with sbtest.Daemon(body=config(os.path.join(work, "store")),
                           server_extra=extra) as d:
            try:
                b = Browser(os.path.join(work, "downloads"),
                            os.path.join(work, "profile"))
            except Exception as e:  # noqa: BLE001
                skip("chromium cannot start here: %s" % str(e).splitlines()[0])
            try:
                check_catalog(t, b, d)
                check_object(t, b, d)
                check_send_and_list(t, b, d, work)
                check_types(t, b, d)
                check_paging(t, b, d)
                check_refusals(t, b, d)
                check_hostile_catalog(t, b, d)
                check_instances(t, b, d)
                check_token_and_zoom(t, b, d)
                check_anonymous_health(t, b, extra)
                t.eq(b.pwned(), None, "no hostile string ever ran")
                severe = b.severe_logs()
                t.eq([e["message"][:200] for e in severe], [],
                     "no errors in the browser's console (CSP, scripts)")
            except Exception as e:  # noqa: BLE001 — reported, not raised
                b.shot("failure")
                t.ok(False, "browser session", "%s: %s" % (
                    type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
            finally:
                b.quit()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("# %.1f s; screenshots in %s" % (time.monotonic() - started, OUT))
    t.done()


if __name__ == "__main__":
    main()
