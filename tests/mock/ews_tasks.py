"""Tasks (t:Task) of the mock EWS server: CreateItem, GetItem, UpdateItem,
DeleteItem and FindItem of tasks, hooked into ews_ops.py (hook()).

What it mimics of Exchange:
- a task lives in the mailbox's Tasks folder; StartDate, DueDate and
  CompleteDate are kept as datetimes, the two dates at local midnight of
  the request's TimeZoneContext (a datetime given is turned into the day it
  falls on there), and answered in UTC;
- Status Completed sets PercentComplete 100 and CompleteDate (now);
  PercentComplete 100 sets Status Completed; NotStarted sets 0; a
  PercentComplete under 100 of a completed task makes it InProgress;
- the Owner element is read-only (ErrorInvalidPropertySet); its property
  PidLidTaskOwner (Task set, 0x811F) is writable, and Status can be
  searched through PidLidTaskStatus (0x8101), not through task:Status;
- a stale ChangeKey with NeverOverwrite/AutoResolve answers
  ErrorIrresolvableConflict.
Tasks are kept on each Mailbox object (mb.tasks), so /_mock/reset empties
them with the mailboxes.
"""
import datetime
import zoneinfo

import ews_ops as ops
from ews_store import NS_T, attr, esc, iso, make_id, make_change_key, \
    now_utc, _serial

T = "{%s}" % NS_T
S = "{http://schemas.xmlsoap.org/soap/envelope/}"

# Windows time zone ids -> IANA names (the ones the tests use and a few).
WINDOWS_TZ = {
    "UTC": "UTC",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "New Zealand Standard Time": "Pacific/Auckland",
    "Tonga Standard Time": "Pacific/Tongatapu",
    "Samoa Standard Time": "Pacific/Apia",
    "Line Islands Standard Time": "Pacific/Kiritimati",
    "Dateline Standard Time": "Etc/GMT+12",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Pacific Standard Time": "America/Los_Angeles",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Tokyo Standard Time": "Asia/Tokyo",
    "India Standard Time": "Asia/Kolkata",
    "AUS Eastern Standard Time": "Australia/Sydney",
}
STATUSES = ["NotStarted", "InProgress", "Completed", "WaitingOnOthers",
            "Deferred"]
OWNER_PROP = ("Task", "33055")   # PidLidTaskOwner
STATUS_PROP = ("Task", "33025")  # PidLidTaskStatus
# Read-only task properties: setting one is refused, as by Exchange.
READ_ONLY = {"item:DateTimeCreated", "item:ItemId", "item:ParentFolderId",
             "item:LastModifiedTime", "item:HasAttachments",
             "task:AssignedTime", "task:ChangeCount", "task:Delegator",
             "task:IsAssignmentEditable", "task:IsComplete",
             "task:IsRecurring", "task:IsTeamTask", "task:Owner",
             "task:StatusDescription", "task:DelegationState"}
READ_ONLY_ELEMENTS = {u.split(":")[1] for u in READ_ONLY}


class Task:
    def __init__(self, mailbox, folder_id):
        self.mailbox = mailbox
        self.folder_id = folder_id
        self.id = make_id("T", mailbox)
        self.seq = next(_serial)
        self.version = 1
        self.subject = ""
        self.body = ""
        self.body_type = "Text"
        self.importance = "Normal"
        self.sensitivity = "Normal"
        self.categories = []
        self.start = None       # aware datetime, local midnight
        self.due = None
        self.complete_date = None
        self.status = "NotStarted"
        self.percent = 0.0
        self.owner = None
        self.created = now_utc()
        self.modified = self.created

    @property
    def change_key(self):
        return make_change_key(self.id, self.version)

    def touch(self):
        self.version += 1
        self.modified = now_utc()

    def set_status(self, s):
        self.status = s
        if s == "Completed":
            self.percent = 100.0
            self.complete_date = self.complete_date or now_utc()
        else:
            self.complete_date = None
            if s == "NotStarted":
                self.percent = 0.0

    def set_percent(self, p):
        self.percent = p
        if p >= 100:
            self.set_status("Completed")
        elif self.status == "Completed":
            self.status = "InProgress" if p > 0 else "NotStarted"
            self.complete_date = None

    def field(self, uri):
        """A value for restrictions and sorting."""
        return {"item:DateTimeCreated": self.created,
                "item:Subject": self.subject,
                "item:Importance": self.importance,
                "task:DueDate": self.due, "task:StartDate": self.start,
                "ext:%s:%s" % STATUS_PROP: STATUSES.index(self.status),
                "ext:%s:%s" % OWNER_PROP: self.owner}.get(uri)

    def xml(self, shape, folder):
        def want(uri):
            return shape.has(uri, True)
        p = ["<t:Task>", '<t:ItemId Id="%s" ChangeKey="%s"/>'
             % (attr(self.id), attr(self.change_key))]
        if want("item:ParentFolderId") and shape.base != "Default":
            p.append('<t:ParentFolderId Id="%s" ChangeKey="%s"/>'
                     % (attr(folder.id), attr(folder.change_key)))
        if want("item:ItemClass"):
            p.append("<t:ItemClass>IPM.Task</t:ItemClass>")
        if want("item:Subject"):
            p.append("<t:Subject>%s</t:Subject>" % esc(self.subject))
        if want("item:Sensitivity"):
            p.append("<t:Sensitivity>%s</t:Sensitivity>"
                     % esc(self.sensitivity))
        if want("item:Body") and not shape.finditem:
            bt = "Text" if shape.body_type in ("Text", "Best") else "HTML"
            body = self.body
            if bt == "HTML":
                body = "<html><body>%s</body></html>" % esc(body)
            p.append('<t:Body BodyType="%s">%s</t:Body>' % (bt, esc(body)))
        if want("item:Categories") and self.categories:
            p.append("<t:Categories>%s</t:Categories>" % "".join(
                "<t:String>%s</t:String>" % esc(c) for c in self.categories))
        if want("item:Importance"):
            p.append("<t:Importance>%s</t:Importance>"
                     % esc(self.importance))
        if want("item:DateTimeCreated"):
            p.append("<t:DateTimeCreated>%s</t:DateTimeCreated>"
                     % iso(self.created))
        if want("item:HasAttachments"):
            p.append("<t:HasAttachments>false</t:HasAttachments>")
        if self.owner is not None and \
                ("ext:%s:%s" % OWNER_PROP) in shape.additional:
            p.append('<t:ExtendedProperty><t:ExtendedFieldURI '
                     'DistinguishedPropertySetId="Task" PropertyId="33055" '
                     'PropertyType="String"/><t:Value>%s</t:Value>'
                     '</t:ExtendedProperty>' % esc(self.owner))
        if want("item:LastModifiedTime"):
            p.append("<t:LastModifiedTime>%s</t:LastModifiedTime>"
                     % iso(self.modified))
        if want("task:CompleteDate") and self.complete_date:
            p.append("<t:CompleteDate>%s</t:CompleteDate>"
                     % iso(self.complete_date))
        if want("task:DueDate") and self.due:
            p.append("<t:DueDate>%s</t:DueDate>" % iso(self.due))
        if want("task:IsComplete"):
            p.append("<t:IsComplete>%s</t:IsComplete>"
                     % ("true" if self.status == "Completed" else "false"))
        if want("task:IsRecurring"):
            p.append("<t:IsRecurring>false</t:IsRecurring>")
        if want("task:Owner") and self.owner:
            p.append("<t:Owner>%s</t:Owner>" % esc(self.owner))
        if want("task:PercentComplete"):
            p.append("<t:PercentComplete>%s</t:PercentComplete>"
                     % ("%g" % self.percent))
        if want("task:StartDate") and self.start:
            p.append("<t:StartDate>%s</t:StartDate>" % iso(self.start))
        if want("task:Status"):
            p.append("<t:Status>%s</t:Status>" % self.status)
        p.append("</t:Task>")
        return "".join(p)


# ---- helpers ---------------------------------------------------------------

def tasks_of(mb):
    if not hasattr(mb, "tasks"):
        mb.tasks = {}
    return mb.tasks


def find_task(ctx, ident):
    for mb in ctx.store.mailboxes.values():
        t = tasks_of(mb).get(ident)
        if t is not None:
            return mb, t
    return None, None


def request_zone(el):
    """The zone of the request's TimeZoneContext (UTC without one)."""
    env = el.getparent().getparent() if el.getparent() is not None \
        else None
    hdr = env.find(S + "Header") if env is not None else None
    tzc = hdr.find(T + "TimeZoneContext") if hdr is not None else None
    d = tzc.find(T + "TimeZoneDefinition") if tzc is not None else None
    wid = d.get("Id") if d is not None else None
    if not wid:
        return datetime.timezone.utc
    name = WINDOWS_TZ.get(wid)
    if name is None:
        raise ops.MsgError("ErrorTimeZone",
                           "The mock does not know the time zone %s." % wid)
    return zoneinfo.ZoneInfo(name)


def local_midnight(text, tz):
    """An xs:dateTime -> midnight of the day it is in tz (aware)."""
    s = (text or "").strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.datetime.fromisoformat(s)
    except ValueError:
        raise ops.MsgError("ErrorInvalidValueForProperty",
                           "The value %r is not a dateTime." % text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    day = dt.astimezone(tz).date()
    return datetime.datetime(day.year, day.month, day.day, tzinfo=tz)


def ext_key(uri_el):
    return "ext:%s:%s" % (uri_el.get("DistinguishedPropertySetId"),
                          uri_el.get("PropertyId"))


def fill(t, el, tz, creating):
    """The elements of a t:Task (CreateItem, or one SetItemField's)."""
    for c in el:
        n = ops.local(c)
        v = c.text or ""
        if n == "Subject":
            t.subject = v
        elif n == "Body":
            t.body = v
            t.body_type = c.get("BodyType") or "Text"
        elif n == "Importance":
            t.importance = v
        elif n == "Sensitivity":
            t.sensitivity = v
        elif n == "Categories":
            t.categories = [s.text or "" for s in c]
        elif n == "ExtendedProperty":
            uri = c.find(T + "ExtendedFieldURI")
            if uri is None or ext_key(uri) != "ext:%s:%s" % OWNER_PROP:
                raise ops.MsgError("ErrorInvalidPropertySet",
                                   "The mock keeps no such property.")
            t.owner = c.findtext(T + "Value") or ""
        elif n == "StartDate":
            t.start = local_midnight(v, tz)
        elif n == "DueDate":
            t.due = local_midnight(v, tz)
        elif n == "CompleteDate":
            pass  # the server sets it (now) itself
        elif n == "PercentComplete":
            pc = float(v)
            if not 0 <= pc <= 100:
                raise ops.MsgError("ErrorInvalidPercentCompleteValue",
                                   "PercentComplete must be between 0 and "
                                   "100.")
            t.set_percent(pc)
        elif n == "Status":
            t.set_status(v)
        elif n in READ_ONLY_ELEMENTS:
            raise ops.MsgError("ErrorInvalidPropertySet",
                               "Set action is invalid for property.")
        # other properties (reminders, work, mileage, ...) are taken and
        # not kept


def check_dates(t):
    """After all of a request's changes, as Exchange would not keep a
    task due before it starts."""
    if t.start and t.due and t.due < t.start:
        raise ops.MsgError("ErrorInvalidPropertySet",
                           "DueDate is before StartDate.")


def evaluate(r, t):
    name = ops.local(r)
    if name == "And":
        return all(evaluate(c, t) for c in r)
    if name == "Or":
        return any(evaluate(c, t) for c in r)
    if name == "Not":
        return not evaluate(r[0], t)
    u = r[0]
    if ops.local(u) == "ExtendedFieldURI":
        key = ext_key(u)
    else:
        key = u.get("FieldURI")
        if key in ("task:Status", "task:PercentComplete"):
            raise ops.MsgError("ErrorUnsupportedPathForQuery",
                               "The property path is not supported for "
                               "searches: %s." % key)
    val = t.field(key)
    if name == "Exists":
        return val is not None
    c = r.find(T + "FieldURIOrConstant")
    const = c[0].get("Value") if c is not None and len(c) else None
    if val is None or const is None:
        return name == "IsNotEqualTo"
    if isinstance(val, datetime.datetime):
        const = ops.parse_iso(const)
    elif isinstance(val, int):
        const = int(const)
    return {"IsEqualTo": val == const, "IsNotEqualTo": val != const,
            "IsGreaterThan": val > const,
            "IsGreaterThanOrEqualTo": val >= const,
            "IsLessThan": val < const, "IsLessThanOrEqualTo": val <= const
            }.get(name, False)


# ---- operations --------------------------------------------------------------

def op_CreateItem(ctx, el, generic):
    tz = request_zone(el)
    sf = ops.folder_ids(ops.child(el, ops.M + "SavedItemFolderId"))
    out = []
    for ie in ops.child(el, ops.M + "Items"):
        try:
            if ops.local(ie) != "Task":
                raise ops.MsgError("ErrorInvalidOperation",
                                   "The mock takes tasks alone in a "
                                   "CreateItem.")
            mb, f = ops.resolve_folder(ctx, sf[0]) if sf else \
                (ctx.own(), ctx.own().by_wk["tasks"])
            if f.folder_class != "IPF.Task":
                raise ops.MsgError("ErrorCannotCreateTaskInNonTaskFolder",
                                   "A task can only be created in a task "
                                   "folder.")
            t = Task(mb.address, f.id)
            fill(t, ie, tz, True)
            check_dates(t)
            tasks_of(mb)[t.id] = t
            out.append(ops.rmsg("CreateItem", '<m:Items><t:Task><t:ItemId '
                                'Id="%s" ChangeKey="%s"/></t:Task>'
                                '</m:Items>' % (attr(t.id),
                                                attr(t.change_key))))
        except ops.MsgError as e:
            out.append(ops.rerr("CreateItem", e))
    return ops.wrap("CreateItem", out)


def shape_of(el):
    shape = ops.parse_shape(ops.child(el, ops.M + "ItemShape"))
    sh = ops.child(el, ops.M + "ItemShape")
    ap = ops.child(sh, T + "AdditionalProperties")
    for u in (ap if ap is not None else []):
        if ops.local(u) == "ExtendedFieldURI":
            shape.additional.add(ext_key(u))
    return shape


def op_GetItem(ctx, el, generic):
    shape = shape_of(el)
    out = []
    for ie in ops.child(el, ops.M + "ItemIds"):
        try:
            ops.check_id(ie.get("Id"))
            mb, t = find_task(ctx, ie.get("Id"))
            if t is None:
                raise ops.MsgError("ErrorItemNotFound",
                                   ops.text_of("ErrorItemNotFound"))
            ctx.check_access(mb)
            out.append(ops.rmsg("GetItem", "<m:Items>%s</m:Items>"
                                % t.xml(shape, mb.folder(t.folder_id))))
        except ops.MsgError as e:
            out.append(ops.rerr("GetItem", e))
    return ops.wrap("GetItem", out)


def op_UpdateItem(ctx, el, generic):
    tz = request_zone(el)
    conflict = el.get("ConflictResolution") or "AutoResolve"
    out = []
    for ch in ops.child(el, ops.M + "ItemChanges"):
        try:
            ie = ch.find(T + "ItemId")
            ops.check_id(ie.get("Id"))
            mb, t = find_task(ctx, ie.get("Id"))
            if t is None:
                raise ops.MsgError("ErrorItemNotFound",
                                   ops.text_of("ErrorItemNotFound"))
            ctx.check_access(mb)
            ck = ie.get("ChangeKey")
            if ck and ck != t.change_key and conflict != "AlwaysOverwrite":
                raise ops.MsgError("ErrorIrresolvableConflict",
                                   ops.text_of("ErrorIrresolvableConflict"))
            if conflict == "NeverOverwrite" and not ck:
                raise ops.MsgError("ErrorChangeKeyRequired",
                                   "The change key is required for this "
                                   "operation.")
            work = Task(t.mailbox, t.folder_id)   # all or nothing
            work.__dict__.update(t.__dict__)
            for up in ch.find(T + "Updates"):
                u = up[0]
                if ops.local(u) == "ExtendedFieldURI":
                    if ext_key(u) != "ext:%s:%s" % OWNER_PROP:
                        raise ops.MsgError("ErrorInvalidPropertySet",
                                           "The mock keeps no such "
                                           "property.")
                    uri = "owner"
                else:
                    uri = u.get("FieldURI")
                    if uri in READ_ONLY:
                        raise ops.MsgError("ErrorInvalidPropertySet",
                                           "Set action is invalid for "
                                           "property %s." % uri)
                if ops.local(up) == "DeleteItemField":
                    if uri == "owner":
                        work.owner = None
                    elif uri == "item:Body":
                        work.body = ""
                    elif uri == "task:StartDate":
                        work.start = None
                    elif uri == "task:DueDate":
                        work.due = None
                    elif uri == "item:Categories":
                        work.categories = []
                    elif uri in ("item:Subject", "task:Status",
                                 "task:PercentComplete"):
                        raise ops.MsgError("ErrorInvalidPropertyDelete",
                                           "This property can't be "
                                           "deleted: %s." % uri)
                    continue  # not kept here: nothing to delete
                holder = up[1] if len(up) > 1 else None
                if holder is None or len(holder) != 1:
                    raise ops.MsgError("ErrorIncorrectUpdatePropertyCount",
                                       "An object within a change "
                                       "description must contain one and "
                                       "only one property to modify.")
                fill(work, holder, tz, False)
            check_dates(work)
            work.version = t.version
            t.__dict__.update(work.__dict__)
            t.touch()
            out.append(ops.rmsg("UpdateItem", '<m:Items><t:Task><t:ItemId '
                                'Id="%s" ChangeKey="%s"/></t:Task>'
                                '</m:Items><m:ConflictResults><t:Count>0'
                                '</t:Count></m:ConflictResults>'
                                % (attr(t.id), attr(t.change_key))))
        except ops.MsgError as e:
            out.append(ops.rerr("UpdateItem", e))
    return ops.wrap("UpdateItem", out)


def op_DeleteItem(ctx, el, generic):
    out = []
    for ie in ops.child(el, ops.M + "ItemIds"):
        try:
            ops.check_id(ie.get("Id"))
            mb, t = find_task(ctx, ie.get("Id"))
            if t is None:
                raise ops.MsgError("ErrorItemNotFound",
                                   ops.text_of("ErrorItemNotFound"))
            ctx.check_access(mb)
            # MoveToDeletedItems gives it a new Id in Deleted Items, which
            # holds messages only here: the task is gone either way
            del tasks_of(mb)[t.id]
            out.append(ops.rmsg("DeleteItem"))
        except ops.MsgError as e:
            out.append(ops.rerr("DeleteItem", e))
    return ops.wrap("DeleteItem", out)


def op_FindItem(ctx, el, generic):
    shape = shape_of(el)
    shape.finditem = True
    view = ops.child(el, ops.M + "IndexedPageItemView")
    restr = ops.child(el, ops.M + "Restriction")
    order = ops.child(el, ops.M + "SortOrder")
    out = []
    for fid in ops.folder_ids(ops.child(el, ops.M + "ParentFolderIds")):
        try:
            mb, f = ops.resolve_folder(ctx, fid)
            items = [t for t in tasks_of(mb).values()
                     if t.folder_id == f.id]
            if restr is not None and len(restr):
                items = [t for t in items if evaluate(restr[0], t)]
            items.sort(key=lambda t: (t.created, t.seq), reverse=True)
            if order is not None:
                for fo in reversed(list(order)):
                    uri = fo[0].get("FieldURI")

                    def k(t, uri=uri):
                        v = t.field(uri)
                        return (0, 0, t.seq) if v is None else \
                            (1, v, t.seq)
                    items.sort(key=k, reverse=fo.get("Order") ==
                               "Descending")
            page, nxt, last = ops.paged(items, view)
            attrs = 'TotalItemsInView="%d" IncludesLastItemInRange="%s"' % (
                len(items), "true" if last else "false")
            if nxt is not None:
                attrs = 'IndexedPagingOffset="%d" ' % nxt + attrs
            out.append(ops.rmsg("FindItem", '<m:RootFolder %s><t:Items>%s'
                                '</t:Items></m:RootFolder>' % (
                                    attrs, "".join(t.xml(shape, f)
                                                   for t in page))))
        except ops.MsgError as e:
            out.append(ops.rerr("FindItem", e))
    return ops.wrap("FindItem", out)


# ---- routing -------------------------------------------------------------------

def mine(ctx, op, el):
    """Whether a request is about tasks."""
    if op == "CreateItem":
        items = ops.child(el, ops.M + "Items")
        return items is not None and any(ops.local(i) == "Task"
                                         for i in items)
    if op == "FindItem":
        if ops.child(el, ops.M + "CalendarView") is not None:
            return False
        for fid in ops.folder_ids(ops.child(el, ops.M + "ParentFolderIds")):
            try:
                _, f = ops.resolve_folder(ctx, fid)
            except ops.MsgError:
                return False
            return f.folder_class == "IPF.Task"
        return False
    ids = []
    if op == "UpdateItem":
        for ch in ops.child(el, ops.M + "ItemChanges"):
            ie = ch.find(T + "ItemId")
            if ie is not None:
                ids.append(ie.get("Id"))
    else:
        ids = [ie.get("Id") for ie in ops.child(el, ops.M + "ItemIds")]
    return any(find_task(ctx, i)[1] is not None for i in ids)


HANDLERS = {"CreateItem": op_CreateItem, "GetItem": op_GetItem,
            "UpdateItem": op_UpdateItem, "DeleteItem": op_DeleteItem,
            "FindItem": op_FindItem}


def hook(op, generic):
    """The operation op: tasks here, anything else to generic."""
    mine_fn = HANDLERS[op]

    def run(ctx, el):
        if mine(ctx, op, el):
            return mine_fn(ctx, el, generic)
        return generic(ctx, el)
    run.__name__ = "op_" + op
    return run
