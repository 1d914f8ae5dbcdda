"""The Exchange side of the mock WinRM server (tests/mock/winrm_server.py):
a small directory of servers, storage groups (Exchange 2007), mailbox
databases and users, and the cmdlets the exchange-powershell-winrm broker
runs over it.

    d = Directory("2010")
    out, err, code = run(d, script)           # the script PowerShell got
    status, body = control(d, "POST", "seed", {...})   # /_mock/exchange/*

run() never evaluates anything.  It reads the script with a tokenizer of
PowerShell's own rules (single-quoted literals end at any of the five
quote characters that is not doubled) and accepts only the shape the
broker writes: a fixed set of words outside literals (the prelude's
functions and .NET names, the cmdlets, their parameters, the properties),
no double-quoted string, no `$(`, no backtick, no `--%`, no `#` outside a
literal.  Every value must reach a cmdlet parameter as one single-quoted
literal: a hostile identity (`x'; Remove-Mailbox -Identity * ;'`) either
arrives whole as data or the script is refused (recorded in "refused",
which the tests require to stay empty).  Each cmdlet call is recorded
with its parameters as they were decoded ("calls"), so a test can compare
them with what it sent.

The output is what the broker's scripts write on a real server: rows of
tab-separated base64-of-UTF-8 fields between markers carrying the call's
id, or an error marker with CategoryInfo.Category, the exception type and
its message (the exception names are Exchange's).
"""

import base64
import threading
import time

QUOTES = "'\u2018\u2019\u201a\u201b"

SNAPINS = {
    "2007": "Microsoft.Exchange.Management.PowerShell.Admin",
    "2010": "Microsoft.Exchange.Management.PowerShell.E2010",
    "2013": "Microsoft.Exchange.Management.PowerShell.SnapIn",
}
VERSIONS = {
    "2007": "Version 8.3 (Build 83.6)",
    "2010": "Version 14.3 (Build 123.4)",
    "2013": "Version 15.1 (Build 2507.6)",
}

NS_TASKS = "Microsoft.Exchange.Configuration.Tasks."

# Words allowed outside literals: the prelude's own, the cmdlets and
# their parameters, the properties read.
PRELUDE_WORDS = {
    "function", "sbF", "sbB", "sbOut", "return", "trap", "exit", "foreach",
    "if",
    "in", "-eq", "ToBase64String", "GetBytes", "UTF8", "Text.Encoding",
    "Convert", "string", "char", "Console", "Out", "WriteLine", "Join",
    "CategoryInfo", "Category", "Exception", "GetType", "FullName",
    "Message", "Threading.Thread", "CurrentThread", "CurrentCulture",
    "Globalization.CultureInfo", "InvariantCulture", "ToBytes",
    "Add-PSSnapin", "-ErrorAction", "Stop", "Text.Encoding", "string[]",
}
CMDLETS = {
    "Get-ExchangeServer": {"Identity"},
    "Get-StorageGroup": {"Identity", "Server"},
    "Get-MailboxDatabase": {"Identity", "Server"},
    "Get-Mailbox": {"Identity", "Database", "Server", "RecipientTypeDetails",
                    "Filter", "ResultSize"},
    "Enable-Mailbox": {"Identity", "Database", "Alias"},
    "Disable-Mailbox": {"Identity"},
}
SWITCHES = {"-Status", "-Confirm:"}
PROPERTIES = {
    "Name", "Fqdn", "Site", "Edition", "AdminDisplayVersion", "ServerRole",
    "Identity", "Server", "StorageGroup", "EdbFilePath", "Mounted",
    "DatabaseSize", "Alias", "DisplayName", "Database",
    "RecipientTypeDetails", "PrimarySmtpAddress", "DistinguishedName",
}
VARIABLES = {"$ErrorActionPreference", "$sbT", "$sbId", "$v", "$null", "$a",
             "$_", "$sbN", "$sbR", "$o", "$false"}


class Refused(Exception):
    """The script is not one the broker writes: never run."""


class ExError(Exception):
    """A cmdlet's error as PowerShell reports it."""

    def __init__(self, category, type_, message):
        Exception.__init__(self, message)
        self.category = category
        self.type = type_
        self.message = message


# ---- the tokenizer -------------------------------------------------------

def tokenize(s):
    """PowerShell tokens: ("lit", value) for a single-quoted literal,
    ("var", "$name"), ("word", text), ("punct", text), ("nl", ";").
    Raises Refused for anything the broker never writes."""
    toks = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in " \t\r":
            i += 1
        elif c in "\n;":
            toks.append(("nl", ";"))
            i += 1
        elif c in QUOTES:
            i += 1
            buf = []
            while True:
                if i >= n:
                    raise Refused("a literal is never closed")
                if s[i] in QUOTES:
                    if i + 1 < n and s[i + 1] in QUOTES:
                        buf.append(s[i + 1])
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(s[i])
                i += 1
            toks.append(("lit", "".join(buf)))
        elif c in "\"\u201c\u201d\u201e":
            raise Refused("a double-quoted string (expandable) at %d" % i)
        elif c == "`":
            raise Refused("a backtick outside a literal at %d" % i)
        elif c == "#":
            raise Refused("a comment outside a literal at %d" % i)
        elif c == "@" and s.startswith("@(", i):
            toks.append(("punct", "@("))
            i += 2
        elif c == "$":
            if s.startswith("$(", i):
                raise Refused("a subexpression $( at %d" % i)
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] == "_"):
                j += 1
            if j == i + 1:
                raise Refused("a bare $ at %d" % i)
            toks.append(("var", s[i:j]))
            i = j
        elif s.startswith("::", i):
            toks.append(("punct", "::"))
            i += 2
        elif c in "(){}[],.=+":
            toks.append(("punct", c))
            i += 1
        elif c.isalnum() or c == "-":
            if s.startswith("--%", i):
                raise Refused("the stop-parsing token --% at %d" % i)
            j = i
            while j < n and (s[j].isalnum() or s[j] in "-_.[]:"):
                if s[j] == ":" and j + 1 < n and s[j + 1] == ":":
                    break
                if s[j] == "[" and not s.startswith("[]", j):
                    break
                if s[j] == "]" and s[j - 1] != "[":
                    break
                j += 1
            word = s[i:j]
            # a member access ".Name" is split by "."; keep dotted .NET
            # names whole only when they are in the known list
            toks.append(("word", word))
            i = j
        else:
            raise Refused("unexpected character %r at %d" % (c, i))
    return toks


def _check_words(toks):
    for kind, v in toks:
        if kind == "word":
            base = v
            if v.startswith("-") and v.endswith(":"):
                base = v
            if (base in PRELUDE_WORDS or base in CMDLETS or
                    base in SWITCHES or base in PROPERTIES or
                    base.isdigit()):
                continue
            if base.startswith("-") and base[1:] in _ALL_PARAMS:
                continue
            # dotted member chains such as Text.Encoding or o.Name are
            # split: every part must be known
            parts = [p for p in base.split(".") if p]
            if parts and all(p in PRELUDE_WORDS or p in PROPERTIES
                             for p in parts):
                continue
            raise Refused("an unknown word outside a literal: %r" % v)
        elif kind == "var" and v not in VARIABLES:
            raise Refused("an unknown variable: %s" % v)


_ALL_PARAMS = set()
for _p in CMDLETS.values():
    _ALL_PARAMS |= _p


def parse_script(script):
    """The call a broker script makes: (id, snapin, cmdlet, params,
    switches, props) where props is a list of (name, bytes)."""
    toks = tokenize(script)
    _check_words(toks)
    # $sbId = '<id>'
    sid = None
    snapin = None
    call = None
    props = []
    for k in range(len(toks)):
        kind, v = toks[k]
        if (kind, v) == ("var", "$sbId") and k + 2 < len(toks) and \
                toks[k + 1] == ("punct", "=") and toks[k + 2][0] == "lit":
            if sid is not None:
                raise Refused("the id is set twice")
            sid = toks[k + 2][1]
        if (kind, v) == ("word", "Add-PSSnapin"):
            if k + 1 >= len(toks) or toks[k + 1][0] != "lit":
                raise Refused("Add-PSSnapin without a literal")
            snapin = toks[k + 1][1]
        if (kind, v) == ("var", "$sbR") and k + 2 < len(toks) and \
                toks[k + 1] == ("punct", "=") and \
                toks[k + 2] == ("punct", "@("):
            if call is not None:
                raise Refused("two cmdlet calls")
            call = _parse_call(toks, k + 3)
    if sid is None or not sid.isalnum() or len(sid) != 32:
        raise Refused("no call id")
    if call is None:
        raise Refused("no cmdlet call")
    # the projection: foreach ($o in $sbR) { sbOut @((sbF $o.X), ...) }
    for k in range(len(toks) - 1):
        if toks[k] == ("word", "foreach"):
            j = k
            while j < len(toks) and toks[j] != ("punct", "{"):
                j += 1
            j += 1
            while toks[j][0] == "nl":
                j += 1
            if toks[j] != ("word", "sbOut") or toks[j + 1] != ("punct", "@("):
                raise Refused("an unexpected foreach body")
            j += 2
            while toks[j] != ("punct", ")"):
                if toks[j] == ("punct", ","):
                    j += 1
                    continue
                # (sbF $o.Name) or (sbF (sbB $o.Name))
                seq = []
                depth = 0
                while True:
                    t = toks[j]
                    seq.append(t)
                    if t == ("punct", "("):
                        depth += 1
                    elif t == ("punct", ")"):
                        depth -= 1
                        if depth == 0:
                            j += 1
                            break
                    j += 1
                props.append(_parse_field(seq))
            break
    cmdlet, params, switches = call
    return sid, snapin, cmdlet, params, switches, props


def _parse_field(seq):
    vals = [v for _, v in seq]
    if vals[:3] == ["(", "sbF", "$o"] and vals[3] == "." and \
            vals[5:] == [")"]:
        return (vals[4], False)
    if vals[:4] == ["(", "sbF", "(", "sbB"] and vals[4] == "$o" and \
            vals[5] == "." and vals[7:] == [")", ")"]:
        return (vals[6], True)
    raise Refused("an unexpected field %r" % (vals,))


def _parse_call(toks, k):
    kind, cmdlet = toks[k]
    if kind != "word" or cmdlet not in CMDLETS:
        raise Refused("not a known cmdlet: %r" % (cmdlet,))
    k += 1
    params = {}
    switches = []
    while True:
        kind, v = toks[k]
        if (kind, v) == ("punct", ")"):
            break
        if kind != "word" or not v.startswith("-"):
            raise Refused("%s: a value outside a parameter: %r"
                          % (cmdlet, v))
        if v == "-ErrorAction":
            if toks[k + 1] != ("word", "Stop"):
                raise Refused("-ErrorAction is not Stop")
            switches.append("-ErrorAction:Stop")
            k += 2
            continue
        if v == "-Status":
            switches.append("-Status")
            k += 1
            continue
        if v == "-Confirm:":
            if toks[k + 1] != ("var", "$false"):
                raise Refused("-Confirm: is not $false")
            switches.append("-Confirm:$false")
            k += 2
            continue
        name = v[1:]
        if name not in CMDLETS[cmdlet]:
            raise Refused("%s has no parameter %s" % (cmdlet, name))
        if toks[k + 1][0] != "lit":
            raise Refused("%s -%s: the value is not a single-quoted "
                          "literal" % (cmdlet, name))
        if name in params:
            raise Refused("%s -%s given twice" % (cmdlet, name))
        params[name] = toks[k + 1][1]
        k += 2
    if "-ErrorAction:Stop" not in switches:
        raise Refused("%s without -ErrorAction Stop" % cmdlet)
    return cmdlet, params, switches


def parse_filter(f):
    """The one OPATH shape the broker writes: Name -like '<prefix>*'."""
    toks = tokenize(f)
    if len(toks) != 3 or toks[0] != ("word", "Name") or \
            toks[1] != ("word", "-like") or toks[2][0] != "lit" or \
            not toks[2][1].endswith("*") or "*" in toks[2][1][:-1]:
        raise ExError("InvalidArgument",
                      "System.Management.Automation.ParameterBindingException",
                      "Cannot bind parameter 'Filter' to the target: "
                      "unsupported filter %s" % f)
    return toks[2][1][:-1]


# ---- the directory -------------------------------------------------------

class Directory:
    """Servers, storage groups (2007), databases and users of one
    organisation, example.test, for one Exchange version."""

    def __init__(self, version="2013"):
        if version not in SNAPINS:
            raise ValueError("version: 2007, 2010 or 2013")
        self.version = version
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self._reset()

    def _reset(self):
        v = self.version
        self.calls = []
        self.refused = []
        self.delay_ms = 0
        self.delay_cmdlets = set()
        self.servers = [
            {"Name": "EX01", "Fqdn": "ex01.example.test",
             "Site": "example.test/Configuration/Sites/Default-First-Site",
             "Edition": "Enterprise", "AdminDisplayVersion": VERSIONS[v],
             "ServerRole": "Mailbox, ClientAccess, HubTransport"
             if v != "2013" else "Mailbox, ClientAccess"},
            {"Name": "EX02", "Fqdn": "ex02.example.test",
             "Site": "example.test/Configuration/Sites/Default-First-Site",
             "Edition": "Standard", "AdminDisplayVersion": VERSIONS[v],
             "ServerRole": "Mailbox"},
        ]
        self.storage_groups = []
        if v == "2007":
            for s in ("EX01", "EX02"):
                self.storage_groups.append(
                    {"Identity": "%s\\First Storage Group" % s,
                     "Name": "First Storage Group", "Server": s})
        self.databases = []
        for i, (srv, name, mounted, size) in enumerate([
                ("EX01", "DB01", True, 1610612736),
                ("EX01", "DB02", False, None),
                ("EX02", "DB03", True, 52428800)]):
            if v == "2007":
                sg = "%s\\First Storage Group" % srv
                ident = "%s\\%s" % (sg, name)
                size = None  # no DatabaseSize before 2010
            else:
                sg = None
                ident = name
            self.databases.append(
                {"Identity": ident, "Name": name, "Server": srv,
                 "StorageGroup": sg,
                 "EdbFilePath": "D:\\Databases\\%s\\%s.edb" % (name, name),
                 "Mounted": mounted, "DatabaseSize": size})
        self.users = {}
        for ou, name, mbx in [("Users", "Administrator", True),
                              ("Users", "Alice Example", True),
                              ("Users", "Bob Example", False),
                              ("Sales", "Carol Example", False)]:
            self.add_user(ou, name, mailbox=mbx)

    def add_user(self, ou, name, mailbox=False, alias=None, display=None,
                 database=None, rtd="UserMailbox"):
        sam = alias or "".join(ch for ch in name if ch.isalnum())[:20] \
            or "user"
        base = sam
        k = 2
        while any(u["SamAccountName"].lower() == sam.lower()
                  for u in self.users.values()):
            sam = "%s%d" % (base, k)
            k += 1
        dn = "CN=%s,OU=%s,DC=example,DC=test" % (name, ou)
        if dn in self.users:
            raise ValueError("user exists: %s" % dn)
        u = {"Name": name, "DistinguishedName": dn,
             "Identity": "example.test/%s/%s" % (ou, name),
             "SamAccountName": sam,
             "UserPrincipalName": "%s@example.test" % sam,
             "DisplayName": display if display is not None else name,
             "Mailbox": False, "Alias": None, "Database": None,
             "RecipientTypeDetails": "User", "PrimarySmtpAddress": None}
        self.users[dn] = u
        if mailbox:
            self._enable(u, database or self.databases[0]["Identity"],
                         alias or sam)
            u["RecipientTypeDetails"] = rtd
        return u

    def _enable(self, u, db_ident, alias):
        u["Mailbox"] = True
        u["Alias"] = alias
        u["Database"] = db_ident
        u["RecipientTypeDetails"] = "UserMailbox"
        u["PrimarySmtpAddress"] = "%s@example.test" % alias

    # ---- identities ----

    def _resolve(self, ident, pool, keys, what):
        low = ident.lower()
        found = [o for o in pool
                 if any(o.get(k) is not None and str(o[k]).lower() == low
                        for k in keys)]
        if not found:
            raise ExError(
                "NotSpecified", NS_TASKS + "ManagementObjectNotFoundException",
                "The operation couldn't be performed because object '%s' "
                "couldn't be found on 'dc01.example.test'." % ident)
        if len(found) > 1:
            raise ExError(
                "NotSpecified",
                NS_TASKS + "ManagementObjectAmbiguousException",
                "The operation couldn't be performed because '%s' matches "
                "multiple entries." % ident)
        return found[0]

    def user(self, ident, mailbox_only):
        pool = [u for u in self.users.values()
                if u["Mailbox"] or not mailbox_only]
        return self._resolve(ident, pool,
                             ["Name", "DistinguishedName", "Identity",
                              "SamAccountName", "UserPrincipalName",
                              "Alias", "PrimarySmtpAddress"], "user")

    def database(self, ident):
        return self._resolve(ident, self.databases, ["Identity", "Name"],
                             "database")

    def server(self, ident):
        return self._resolve(ident, self.servers, ["Name", "Fqdn"], "server")

    # ---- the cmdlets ----

    def cmdlet(self, name, p, switches):
        v = self.version
        if name == "Get-ExchangeServer":
            if "Identity" in p:
                return [self.server(p["Identity"])]
            return list(self.servers)
        if name == "Get-StorageGroup":
            if v != "2007":
                raise ExError(
                    "ObjectNotFound",
                    "System.Management.Automation.CommandNotFoundException",
                    "The term 'Get-StorageGroup' is not recognized as the "
                    "name of a cmdlet, function, script file, or operable "
                    "program.")
            if "Identity" in p:
                return [self._resolve(p["Identity"], self.storage_groups,
                                      ["Identity", "Name"], "sg")]
            return [g for g in self.storage_groups
                    if "Server" not in p or
                    g["Server"] == self.server(p["Server"])["Name"]]
        if name == "Get-MailboxDatabase":
            dbs = [self.database(p["Identity"])] if "Identity" in p \
                else list(self.databases)
            if "Server" in p:
                srv = self.server(p["Server"])["Name"]
                dbs = [d for d in dbs if d["Server"] == srv]
            out = []
            for d in dbs:
                d = dict(d)
                if "-Status" not in switches:
                    d["Mounted"] = None
                    d["DatabaseSize"] = None
                out.append(d)
            return out
        if name == "Get-Mailbox":
            if "Identity" in p:
                return [self.user(p["Identity"], True)]
            mbx = [u for u in self.users.values() if u["Mailbox"]]
            if "Database" in p:
                db = self.database(p["Database"])["Identity"]
                mbx = [u for u in mbx if u["Database"] == db]
            if "Server" in p:
                srv = self.server(p["Server"])["Name"]
                dbs = {d["Identity"] for d in self.databases
                       if d["Server"] == srv}
                mbx = [u for u in mbx if u["Database"] in dbs]
            if "RecipientTypeDetails" in p:
                mbx = [u for u in mbx if u["RecipientTypeDetails"].lower()
                       == p["RecipientTypeDetails"].lower()]
            if "Filter" in p:
                pre = parse_filter(p["Filter"]).lower()
                mbx = [u for u in mbx if u["Name"].lower().startswith(pre)]
            if p.get("ResultSize") != "Unlimited" and len(mbx) > 1000:
                mbx = mbx[:1000]
            return mbx
        if name == "Enable-Mailbox":
            u = self.user(p["Identity"], False)
            if u["Mailbox"]:
                raise ExError(
                    "InvalidOperation", NS_TASKS + "RecipientTaskException",
                    "The user '%s' is already mailbox-enabled."
                    % u["Identity"])
            if "Database" in p:
                db = self.database(p["Database"])["Identity"]
            elif v == "2007":
                raise ExError(
                    "InvalidArgument",
                    "System.Management.Automation.ParameterBindingException",
                    "Cannot process command because of one or more missing "
                    "mandatory parameters: Database.")
            else:
                db = [d for d in self.databases if d["Mounted"]][0][
                    "Identity"]
            self._enable(u, db, p.get("Alias") or u["SamAccountName"])
            return [u]
        if name == "Disable-Mailbox":
            if "-Confirm:$false" not in switches:
                raise ExError(
                    "NotSpecified",
                    "System.Management.Automation.Host.HostException",
                    "A command that prompts the user failed because the "
                    "host program or the command type does not support "
                    "user interaction.")
            u = self.user(p["Identity"], True)
            u["Mailbox"] = False
            u["Alias"] = None
            u["Database"] = None
            u["PrimarySmtpAddress"] = None
            u["RecipientTypeDetails"] = "User"
            return []
        raise Refused("no such cmdlet %s" % name)


def _text(v):
    """[string] of a value as PowerShell writes it (invariant culture)."""
    if v is None:
        return None
    if v is True:
        return "True"
    if v is False:
        return "False"
    return str(v)


def _field(v):
    if v is None:
        return "-"
    return base64.b64encode(v.encode("utf-8")).decode("ascii")


def _row(fields):
    return "\t".join(fields) + "\r\n"


def run(directory, script):
    """Run one script the broker wrote: (stdout bytes, stderr bytes, exit
    code).  A script that is not the broker's (it does not start by
    setting $sbId: the transport's own tests, pywinrm's) goes to the mock
    server's tiny executor instead."""
    if not script.lstrip("\ufeff").startswith("$sbId = '"):
        import winrm_server  # only its pure helpers (no server is made)
        return winrm_server.tiny_powershell(script)
    try:
        sid, snapin, cmdlet, params, switches, props = parse_script(script)
    except Refused as e:
        with directory.lock:
            directory.refused.append({"reason": str(e),
                                      "script": script[-2000:]})
        msg = "The script was refused by the mock: %s" % e
        return b"", msg.encode("utf-8"), 1
    out = []
    with directory.lock:
        directory.calls.append({"cmdlet": cmdlet, "params": dict(params),
                                "switches": list(switches)})
        delay = directory.delay_ms if (
            not directory.delay_cmdlets or
            cmdlet in directory.delay_cmdlets) else 0
    if delay:
        time.sleep(delay / 1000.0)
    try:
        if snapin != SNAPINS[directory.version]:
            raise ExError(
                "InvalidArgument",
                "System.Management.Automation.PSArgumentException",
                "No snap-ins have been registered for Windows PowerShell "
                "version 2.")
        out.append("WARNING: the snap-in was loaded (a line outside the "
                   "frame)\r\n")
        out.append(_row(["##SB-BEGIN", sid]))
        with directory.lock:
            objs = directory.cmdlet(cmdlet, params, switches)
            rows = []
            for o in objs:
                fields = []
                for name, as_bytes in props:
                    val = o.get(name)
                    fields.append(_field(_text(val)))
                rows.append(_row(fields))
        if props:
            out.extend(rows)
        out.append("WARNING: a warning inside the frame\r\n")
        out.append(_row(["##SB-END", sid, str(len(objs) if props else 0)]))
        return "".join(out).encode("utf-8"), b"", 0
    except ExError as e:
        out.append(_row(["##SB-ERROR", sid, _field(e.category),
                         _field(e.type), _field(e.message)]))
        return "".join(out).encode("utf-8"), b"", 1


def control(directory, method, path, body):
    """/_mock/exchange/<path>: (status, json).
      POST reset                      the seeded directory again
      POST seed {"users": [{"ou", "name", "mailbox", "alias", "display",
                 "database", "recipient_type"}]}   add users
      GET  state                      users, calls, refused
      POST delay {"ms": N, "cmdlets": [...]}    cmdlets sleep this long
    """
    body = body or {}
    path = path.strip("/")
    if method == "POST" and path == "reset":
        directory.reset()
        return 200, {"ok": True}
    if method == "POST" and path == "seed":
        added = []
        with directory.lock:
            for u in body.get("users", []):
                try:
                    x = directory.add_user(
                        u.get("ou", "Users"), u["name"],
                        mailbox=u.get("mailbox", False),
                        alias=u.get("alias"), display=u.get("display"),
                        database=u.get("database"),
                        rtd=u.get("recipient_type", "UserMailbox"))
                except (KeyError, ValueError) as e:
                    return 400, {"error": str(e)}
                added.append(x["Identity"])
        return 200, {"added": added}
    if method == "GET" and path == "state":
        with directory.lock:
            return 200, {"version": directory.version,
                         "users": list(directory.users.values()),
                         "calls": list(directory.calls),
                         "refused": list(directory.refused)}
    if method == "POST" and path == "delay":
        with directory.lock:
            directory.delay_ms = int(body.get("ms", 0))
            directory.delay_cmdlets = set(body.get("cmdlets", []))
        return 200, {"ok": True}
    return 404, {"error": "no such control: %s %s" % (method, path)}
