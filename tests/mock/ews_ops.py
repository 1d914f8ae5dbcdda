"""The EWS operations of the mock server (tests/mock/ews_server.py).

Each op_<Name>(ctx, el) gets the request context and the SOAP body's
first child (an lxml element, already schema-valid) and returns the
response element as a string.  It may raise Fault for whole-request
failures (answered as SOAP faults with HTTP 500).  The caller holds the
store's lock.
"""
import base64
import binascii
import datetime

import ews_calendar
import ews_meeting
from ews_store import (NS_M, NS_T, Attachment, FolderShape, Item, ItemShape,
                       Recipient, DIRECTORY, attr, esc, iso, parse_iso,
                       strip_prefixes, now_utc, Folder, tf, NOT_IN_FINDITEM)

M = "{%s}" % NS_M
T = "{%s}" % NS_T


class Fault(Exception):
    def __init__(self, code, text, http=500, back_off_ms=None,
                 message_xml=None):
        super().__init__(text)
        self.code, self.text, self.http = code, text, http
        self.back_off_ms = back_off_ms
        self.message_xml = message_xml


class MsgError(Exception):
    """A per-message error."""

    def __init__(self, code, text, cls="Error"):
        super().__init__(text)
        self.code, self.text, self.cls = code, text, cls


MESSAGES = {
    "ErrorItemNotFound": "The specified object was not found in the store.,"
                         " The process failed to get the correct properties.",
    "ErrorFolderNotFound": "The specified folder could not be found in the "
                           "store.",
    "ErrorInvalidIdMalformed": "Id is malformed.",
    "ErrorAccessDenied": "Access is denied. Check credentials and try again.",
    "ErrorIrresolvableConflict": "The send or update operation could not be "
                                 "performed because the change key passed in "
                                 "the request does not match the current "
                                 "change key for the item.",
    "ErrorStaleObject": "The change key passed in the request does not "
                        "match the current change key for the item.",
    "ErrorNameResolutionNoResults": "No results were found.",
    "ErrorNameResolutionMultipleResults": "Multiple results were found.",
    "ErrorFolderExists": "A folder with the specified name already exists.",
    "ErrorMailRecipientNotFound": "The recipient could not be found.",
    "ErrorAttachmentNotFound": "The attachment could not be found.",
}

# The element ErrorResponseMessages of item operations must carry.
ERROR_FILL = {
    "GetItem": "<m:Items/>", "CreateItem": "<m:Items/>",
    "UpdateItem": "<m:Items/>", "MoveItem": "<m:Items/>",
    "CopyItem": "<m:Items/>", "SendItem": "", "DeleteItem": "",
    "GetAttachment": "<m:Attachments/>",
    "CreateAttachment": "<m:Attachments/>",
}


def text_of(code):
    return MESSAGES.get(code, code)


def rmsg(op, inner="", cls="Success", code="NoError", text=None):
    name = op + "ResponseMessage"
    p = ['<m:%s ResponseClass="%s">' % (name, cls)]
    if cls != "Success":
        p.append("<m:MessageText>%s</m:MessageText>"
                 % esc(text or text_of(code)))
    p.append("<m:ResponseCode>%s</m:ResponseCode>" % code)
    if cls != "Success":
        p.append("<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>")
    p.append(inner)
    p.append("</m:%s>" % name)
    return "".join(p)


def rerr(op, e):
    return rmsg(op, ERROR_FILL.get(op, ""), e.cls, e.code, e.text)


def wrap(op, messages):
    return "<m:%sResponse><m:ResponseMessages>%s</m:ResponseMessages>" \
        "</m:%sResponse>" % (op, "".join(messages), op)


def child(el, name):
    return el.find(name) if el is not None else None


def ctext(el, name, default=None):
    c = child(el, name)
    return c.text if c is not None and c.text is not None else default


def xbool(s):
    """xs:boolean: true, false, 1, 0."""
    return (s or "").strip() in ("true", "1")


def local(el):
    return el.tag.rsplit("}", 1)[-1]


# ---- context and access ---------------------------------------------------

class Ctx:
    """One request: who is authenticated, whom it acts as, the store."""

    def __init__(self, server, store, principal):
        self.server = server
        self.store = store
        self.principal = principal     # the mailbox acted as
        self.delegated = set()         # other mailboxes opened

    def mailbox_for(self, addr):
        mb = self.store.mailbox(addr)
        if mb is None:
            raise MsgError("ErrorNonExistentMailbox",
                           "No mailbox with such guid.")
        self.check_access(mb)
        return mb

    def check_access(self, mb):
        if mb.address == self.principal:
            return
        allowed = self.server.delegates.get(mb.address)
        if allowed is not None and self.principal not in allowed:
            raise MsgError("ErrorAccessDenied", text_of("ErrorAccessDenied"))
        self.delegated.add(mb.address)

    def own(self):
        return self.mailbox_for(self.principal)


def check_id(ident):
    try:
        raw = base64.b64decode(ident or "", validate=True)
    except (binascii.Error, ValueError):
        raise MsgError("ErrorInvalidIdMalformed", text_of(
            "ErrorInvalidIdMalformed"))
    if len(raw) < 8:
        raise MsgError("ErrorInvalidIdMalformed", text_of(
            "ErrorInvalidIdMalformed"))


def resolve_folder(ctx, el):
    """A t:FolderId or t:DistinguishedFolderId -> (mailbox, folder)."""
    if el is None:
        raise MsgError("ErrorFolderNotFound", text_of("ErrorFolderNotFound"))
    if local(el) == "DistinguishedFolderId":
        wk = el.get("Id")
        addr = ctext(child(el, T + "Mailbox"), T + "EmailAddress")
        mb = ctx.mailbox_for(addr) if addr else ctx.own()
        f = mb.by_wk.get(wk)
        if f is None:
            raise MsgError("ErrorFolderNotFound",
                           text_of("ErrorFolderNotFound"))
        return mb, f
    if local(el) == "FolderId":
        check_id(el.get("Id"))
        mb, f = ctx.store.find_folder(el.get("Id"))
        if f is None:
            raise MsgError("ErrorFolderNotFound",
                           text_of("ErrorFolderNotFound"))
        ctx.check_access(mb)
        return mb, f
    raise MsgError("ErrorInvalidOperation", "Unsupported folder id kind %s"
                   % local(el))


def folder_ids(el):
    return [c for c in el if local(c) in ("FolderId", "DistinguishedFolderId",
                                          "AddressListId")] \
        if el is not None else []


def resolve_item(ctx, el, check_ck=False):
    ident = el.get("Id")
    check_id(ident)
    mb, it = ctx.store.find_item(ident)
    if it is None:
        raise MsgError("ErrorItemNotFound", text_of("ErrorItemNotFound"))
    ctx.check_access(mb)
    return mb, it


def parse_shape(el, cls=ItemShape):
    if el is None:
        return cls("Default")
    add = []
    ap = child(el, T + "AdditionalProperties")
    if ap is not None:
        for f in ap:
            if f.get("FieldURI"):
                add.append(f.get("FieldURI"))
    return cls(ctext(el, T + "BaseShape", "Default"), add,
               ctext(el, T + "BodyType", "Best"),
               xbool(ctext(el, T + "IncludeMimeContent")))


# ---- folders -------------------------------------------------------------

def op_GetFolder(ctx, el):
    shape = parse_shape(child(el, M + "FolderShape"), FolderShape)
    out = []
    for fid in folder_ids(child(el, M + "FolderIds")):
        try:
            mb, f = resolve_folder(ctx, fid)
            out.append(rmsg("GetFolder", "<m:Folders>%s</m:Folders>"
                            % f.xml(shape, mb)))
        except MsgError as e:
            out.append(rerr("GetFolder", e))
    return wrap("GetFolder", out)


# Exchange's default EWSFindCountLimit: one FindItem/FindFolder answer
# holds at most this many entries, whatever MaxEntriesReturned says.
FIND_COUNT_LIMIT = 1000


def paged(seq, view):
    """IndexedPage(Item|Folder)View -> (page, offset_attr, includes_last)."""
    total = len(seq)
    if view is None:
        page = seq[:FIND_COUNT_LIMIT]
        return page, None, len(page) == total
    maxn = min(int(view.get("MaxEntriesReturned") or 0) or total,
               FIND_COUNT_LIMIT)
    off = int(view.get("Offset") or 0)
    if view.get("BasePoint") == "End":
        start = max(0, total - off - maxn)
        page = seq[start:total - off]
        last = True
        nxt = total - off - len(page)
        return page, nxt, start == 0
    page = seq[off:off + maxn]
    nxt = off + len(page)
    last = nxt >= total
    return page, nxt, last


def op_FindFolder(ctx, el):
    shape = parse_shape(child(el, M + "FolderShape"), FolderShape)
    deep = el.get("Traversal") == "Deep"
    view = child(el, M + "IndexedPageFolderView")
    restr = child(el, M + "Restriction")
    out = []
    for fid in folder_ids(child(el, M + "ParentFolderIds")):
        try:
            mb, f = resolve_folder(ctx, fid)
            fl = mb.descendants(f.id) if deep else sorted(
                mb.children(f.id), key=lambda x: x.name.lower())
            if restr is not None and len(restr):
                fl = [x for x in fl if evaluate(restr[0], folder_field(x))]
            page, nxt, last = paged(fl, view)
            attrs = 'TotalItemsInView="%d" IncludesLastItemInRange="%s"' % (
                len(fl), tf(last))
            if nxt is not None:
                attrs = 'IndexedPagingOffset="%d" ' % nxt + attrs
            out.append(rmsg("FindFolder", '<m:RootFolder %s><t:Folders>%s'
                            '</t:Folders></m:RootFolder>' % (
                                attrs,
                                "".join(x.xml(shape, mb) for x in page))))
        except MsgError as e:
            out.append(rerr("FindFolder", e))
    return wrap("FindFolder", out)


def op_CreateFolder(ctx, el):
    out = []
    try:
        mb, parent = resolve_folder(ctx, next(iter(
            folder_ids(child(el, M + "ParentFolderId"))), None))
    except MsgError as e:
        n = len(child(el, M + "Folders"))
        return wrap("CreateFolder", [rerr("CreateFolder", e)] * n)
    for fe in child(el, M + "Folders"):
        name = ctext(fe, T + "DisplayName", "")
        cls = ctext(fe, T + "FolderClass") or {
            "CalendarFolder": "IPF.Appointment",
            "ContactsFolder": "IPF.Contact",
            "TasksFolder": "IPF.Task"}.get(local(fe), "IPF.Note")
        if not name.strip():
            out.append(rerr("CreateFolder", MsgError(
                "ErrorInvalidFolderId", "The folder name is empty.")))
            continue
        if any(c.name.lower() == name.lower()
               for c in mb.children(parent.id)):
            out.append(rerr("CreateFolder", MsgError(
                "ErrorFolderExists", text_of("ErrorFolderExists"))))
            continue
        f = Folder(mb.address, name, parent.id, None, cls)
        mb.folders[f.id] = f
        tag = {"IPF.Appointment": "CalendarFolder",
               "IPF.Contact": "ContactsFolder",
               "IPF.Task": "TasksFolder"}.get(cls, "Folder")
        out.append(rmsg("CreateFolder", '<m:Folders><t:%s><t:FolderId Id="%s"'
                        ' ChangeKey="%s"/></t:%s></m:Folders>' % (
                            tag, attr(f.id), attr(f.change_key), tag)))
    return wrap("CreateFolder", out)


def op_DeleteFolder(ctx, el):
    out = []
    for fid in folder_ids(child(el, M + "FolderIds")):
        try:
            mb, f = resolve_folder(ctx, fid)
            if f.well_known:
                raise MsgError("ErrorDeleteDistinguishedFolder",
                               "Distinguished folders cannot be deleted.")
            for d in [f] + mb.descendants(f.id):
                for it in mb.items_in(d.id):
                    del mb.items[it.id]
                del mb.folders[d.id]
            out.append(rmsg("DeleteFolder"))
        except MsgError as e:
            out.append(rerr("DeleteFolder", e))
    return wrap("DeleteFolder", out)


# ---- restrictions ----------------------------------------------------------

def item_field(it):
    def get(uri):
        return {
            "item:DateTimeReceived": it.received,
            "item:DateTimeSent": it.sent,
            "item:DateTimeCreated": it.created,
            "item:Subject": it.subject,
            "item:ItemId": it.id,
            "item:Importance": it.importance,
            "item:HasAttachments": any(not a.is_inline
                                       for a in it.attachments),
            "item:ItemClass": it.item_class,
            "item:IsDraft": it.is_draft,
            "item:Body": it.body,
            "calendar:Start": getattr(it, "start", None),
            "calendar:End": getattr(it, "end", None),
            "message:IsRead": it.is_read,
            "message:InternetMessageId": it.message_id,
            "message:From": it.from_.address if it.from_ else None,
            "message:Sender": it.sender.address if it.sender else None,
            "message:ConversationTopic": strip_prefixes(it.subject),
        }.get(uri, None)
    return get


def folder_field(f):
    def get(uri):
        return {"folder:DisplayName": f.name,
                "folder:FolderClass": f.folder_class,
                "folder:FolderId": f.id}.get(uri)
    return get


def coerce(val, const):
    if isinstance(val, datetime.datetime):
        return val, parse_iso(const)
    if isinstance(val, bool):
        return val, xbool(const)
    return val, const


def evaluate(r, get):
    name = local(r)
    if name == "And":
        return all(evaluate(c, get) for c in r)
    if name == "Or":
        return any(evaluate(c, get) for c in r)
    if name == "Not":
        return not evaluate(r[0], get)
    uri_el = r[0]
    uri = uri_el.get("FieldURI")
    val = get(uri)
    if name == "Exists":
        return val is not None
    if name == "Contains":
        const = r.find(T + "Constant").get("Value")
        if val is None:
            return False
        mode = r.get("ContainmentMode") or "Substring"
        cmp = r.get("ContainmentComparison") or "Exact"
        a, b = str(val), const
        if "IgnoreCase" in cmp or "Loose" in cmp:
            a, b = a.lower(), b.lower()
        return {"FullString": a == b, "Prefixed": a.startswith(b),
                "PrefixOnWords": any(w.startswith(b) for w in a.split())
                }.get(mode, b in a)
    c = r.find(T + "FieldURIOrConstant")
    const = c[0].get("Value") if c is not None and len(c) else None
    if val is None or const is None:
        return name == "IsNotEqualTo"
    try:
        a, b = coerce(val, const)
    except ValueError:
        raise MsgError("ErrorInvalidRestriction",
                       "The restriction is not valid for %s." % uri)
    return {"IsEqualTo": a == b, "IsNotEqualTo": a != b,
            "IsGreaterThan": a > b, "IsGreaterThanOrEqualTo": a >= b,
            "IsLessThan": a < b, "IsLessThanOrEqualTo": a <= b
            }.get(name, False)


# ---- items ---------------------------------------------------------------

def sort_key(uri):
    def k(it):
        v = item_field(it)(uri)
        if v is None:
            v = ""
        return (v, it.id) if not isinstance(v, datetime.datetime) else \
            (v, it.seq)
    return k


def op_FindItem(ctx, el):
    shape = parse_shape(child(el, M + "ItemShape"))
    bad = sorted(shape.additional & NOT_IN_FINDITEM)
    if bad:
        n = len(folder_ids(child(el, M + "ParentFolderIds")))
        return wrap("FindItem", [rmsg(
            "FindItem", "", "Error", "ErrorInvalidPropertyRequest",
            "The property %s can't be used in FindItem requests."
            % bad[0].split(":")[1])] * n)
    view = child(el, M + "IndexedPageItemView")
    restr = child(el, M + "Restriction")
    order = child(el, M + "SortOrder")
    cal = child(el, M + "CalendarView")
    out = []
    for fid in folder_ids(child(el, M + "ParentFolderIds")):
        try:
            mb, f = resolve_folder(ctx, fid)
            if cal is not None:
                out.append(calendar_view(mb, f, cal, shape))
                continue
            items = mb.items_in(f.id)
            if restr is not None and len(restr):
                items = [i for i in items if evaluate(restr[0],
                                                      item_field(i))]
            items.sort(key=lambda i: (i.received, i.seq), reverse=True)
            if order is not None:
                for fo in reversed(list(order)):
                    items.sort(key=sort_key(fo[0].get("FieldURI")),
                               reverse=fo.get("Order") == "Descending")
            page, nxt, last = paged(items, view)
            attrs = 'TotalItemsInView="%d" IncludesLastItemInRange="%s"' % (
                len(items), tf(last))
            if nxt is not None and cal is None:
                attrs = 'IndexedPagingOffset="%d" ' % nxt + attrs
            out.append(rmsg("FindItem", '<m:RootFolder %s><t:Items>%s'
                            '</t:Items></m:RootFolder>' % (
                                attrs, "".join(i.xml(shape, f, finditem=True)
                                               for i in page))))
        except MsgError as e:
            out.append(rerr("FindItem", e))
    return wrap("FindItem", out)


def calendar_view(mb, f, cal, shape):
    """One folder's CalendarView (occurrences in a window)."""
    try:
        entries = ews_calendar.view(mb, f, cal)
    except ews_calendar.CalError as e:
        raise MsgError(e.code, e.text)
    maxn = min(int(cal.get("MaxEntriesReturned") or 0) or len(entries),
               FIND_COUNT_LIMIT)
    page = entries[:maxn]
    return rmsg("FindItem", '<m:RootFolder TotalItemsInView="%d" '
                'IncludesLastItemInRange="%s"><t:Items>%s</t:Items>'
                '</m:RootFolder>' % (
                    len(entries), tf(len(page) == len(entries)),
                    "".join(it.xml(shape, f, finditem=True, occurrence=o)
                            for it, o in page)))


def occurrence_item_id(ctx, ie):
    """An OccurrenceItemId: (mailbox, master, original start, occurrence
    id), or None when it is not one."""
    if local(ie) != "OccurrenceItemId":
        return None
    try:
        index = int(ie.get("InstanceIndex") or "0")
    except ValueError:
        index = 0
    try:
        ref = ews_calendar.occurrence_by_index(
            ctx.store, ie.get("RecurringMasterId"), index)
    except ews_calendar.CalError as e:
        raise MsgError(e.code, e.text)
    if ref is None:
        raise MsgError("ErrorItemNotFound", text_of("ErrorItemNotFound"))
    return ref


def op_GetItem(ctx, el):
    shape = parse_shape(child(el, M + "ItemShape"))
    out = []
    for ie in child(el, M + "ItemIds"):
        try:
            by_index = occurrence_item_id(ctx, ie)
            if local(ie) != "ItemId" and by_index is None:
                raise MsgError("ErrorInvalidIdMalformed",
                               "Only ItemId and OccurrenceItemId are "
                               "supported here.")
            occ = by_index[:3] if by_index else \
                ews_calendar.find_occurrence(ctx.store, ie.get("Id"))
            if occ is not None:
                mb, it, start = occ
                ctx.check_access(mb)
                ident = by_index[3] if by_index else ie.get("Id")
                o = ews_calendar.occurrence_view(it, ident, start)
                out.append(rmsg("GetItem", "<m:Items>%s</m:Items>" % it.xml(
                    shape, mb.folder(it.folder_id), occurrence=o)))
                continue
            mb, it = resolve_item(ctx, ie)
            out.append(rmsg("GetItem", "<m:Items>%s</m:Items>"
                            % it.xml(shape, mb.folder(it.folder_id))))
        except MsgError as e:
            out.append(rerr("GetItem", e))
    return wrap("GetItem", out)


def parse_mailbox(mel):
    addr = ctext(mel, T + "EmailAddress", "")
    name = ctext(mel, T + "Name")
    routing = ctext(mel, T + "RoutingType", "SMTP")
    return Recipient(addr.strip(), name, routing)


def parse_recipients(el):
    if el is None:
        return []
    return [parse_mailbox(m) for m in el.findall(T + "Mailbox")]


def parse_attachment(ctx, ae, mailbox):
    name = ctext(ae, T + "Name", "")
    ctype = ctext(ae, T + "ContentType")
    inline = xbool(ctext(ae, T + "IsInline"))
    cid = ctext(ae, T + "ContentId")
    if local(ae) == "FileAttachment":
        # xs:base64Binary: the schema has checked it already
        content = base64.b64decode(ctext(ae, T + "Content", ""))
        return Attachment(name, content, ctype, inline, cid)
    inner = None
    for c in ae:
        if local(c) in ("Message", "Item"):
            inner = c
    it = Item(mailbox, None)
    if inner is not None:
        fill_message(ctx, it, inner)
    return Attachment(name, b"", ctype or "message/rfc822", inline, cid,
                      item=it)


def fill_message(ctx, it, me):
    for c in me:
        n = local(c)
        if n == "Subject":
            it.subject = c.text or ""
        elif n == "Body":
            it.body = c.text or ""
            it.body_type = c.get("BodyType") or "Text"
        elif n == "ToRecipients":
            it.to = parse_recipients(c)
        elif n == "CcRecipients":
            it.cc = parse_recipients(c)
        elif n == "BccRecipients":
            it.bcc = parse_recipients(c)
        elif n == "ReplyTo":
            it.reply_to = parse_recipients(c)
        elif n == "From":
            it.from_ = parse_mailbox(c.find(T + "Mailbox"))
        elif n == "Sender":
            it.sender = parse_mailbox(c.find(T + "Mailbox"))
        elif n == "Importance":
            it.importance = c.text
        elif n == "Sensitivity":
            it.sensitivity = c.text
        elif n == "IsRead":
            it.is_read = xbool(c.text)
        elif n == "ItemClass":
            it.item_class = c.text or "IPM.Note"
        elif n == "Categories":
            it.categories = [s.text or "" for s in c]
        elif n == "InReplyTo":
            it.in_reply_to = c.text
        elif n == "References":
            it.references = c.text
        elif n == "InternetMessageId":
            it.message_id = c.text
        elif n == "IsReadReceiptRequested":
            it.read_receipt = xbool(c.text)
        elif n == "IsDeliveryReceiptRequested":
            it.delivery_receipt = xbool(c.text)
        elif n == "Attachments":
            for ae in c:
                it.add_attachment(parse_attachment(ctx, ae, it.mailbox))


def check_recipients(it):
    for r in it.to + it.cc + it.bcc:
        if r.routing == "SMTP" and ("@" not in r.address or
                                    " " in r.address.strip()):
            raise MsgError("ErrorInvalidRecipients",
                           "One or more recipients are invalid: %s"
                           % r.address)


def send(ctx, it, mb, save_copy, saved_folder):
    """Deliver it to each local recipient's Inbox; keep a copy in the
    saved folder (Sent Items by default) when save_copy."""
    check_recipients(it)
    if not (it.to or it.cc or it.bcc):
        raise MsgError("ErrorInvalidRecipients",
                       "At least one recipient is required, but none were "
                       "found.")
    it.sent = now_utc()
    it.is_draft = False
    it.is_submitted = True
    seen = set()
    for r in it.to + it.cc + it.bcc:
        a = r.address.lower()
        if a in seen:
            continue
        seen.add(a)
        rmb = ctx.store.mailbox(a)
        if rmb is None:
            ctx.server.note_outbound(a)
            continue
        copy = it.copy_to(rmb.address, rmb.by_wk["inbox"].id)
        copy.bcc = [b for b in it.bcc if b.address.lower() == a]
        copy.is_read = False
        copy.received = now_utc()
        rmb.items[copy.id] = copy
    if save_copy:
        f = saved_folder or mb.by_wk["sentitems"]
        sent = it.copy_to(f.mailbox, f.id)
        sent.is_read = True
        sent.is_submitted = False
        sent.received = it.sent
        ctx.store.mailbox(f.mailbox).items[sent.id] = sent


def prepare_sender(ctx, it, owner):
    """From/Sender: the owner mailbox sends; when the authenticated (or
    impersonated) mailbox is another one, it sends on behalf (Sender and
    sent_by are that mailbox)."""
    if it.from_ is None:
        it.from_ = Recipient(owner.address)
    acting = ctx.principal
    frm = it.from_.address.lower()
    if frm == acting and owner.address == acting:
        return
    if frm != acting:
        target = ctx.store.mailbox(frm)
        if target is not None:
            ctx.check_access(target)
        elif owner.address == acting:
            raise MsgError("ErrorSendAsDenied",
                           "The user account which was used to submit this "
                           "request does not have the right to send mail on "
                           "behalf of the specified sending account.")
    it.sender = Recipient(acting)
    it.sent_by = acting


REPLY_PREFIX = {"ReplyToItem": "RE: ", "ReplyAllToItem": "RE: ",
                "ForwardItem": "FW: "}


def has_prefix(subject):
    s = (subject or "").lower()
    return s.startswith("re:") or s.startswith("fw:") or s.startswith("fwd:")


def build_response_object(ctx, ro, owner):
    kind = local(ro)
    ref = ro.find(T + "ReferenceItemId")
    _, orig = resolve_item(ctx, ref)
    if ref.get("ChangeKey") and ref.get("ChangeKey") != orig.change_key:
        raise MsgError("ErrorStaleObject", text_of("ErrorStaleObject"))
    it = Item(owner.address, None)
    subj = ctext(ro, T + "Subject")
    if subj is None:
        subj = orig.subject if has_prefix(orig.subject) else \
            REPLY_PREFIX[kind] + (orig.subject or "")
    it.subject = subj
    new = ro.find(T + "NewBodyContent")
    body = ro.find(T + "Body")
    src = new if new is not None else body
    text = src.text if src is not None and src.text else ""
    btype = src.get("BodyType") if src is not None else "Text"
    if orig.body_type == "HTML" or btype == "HTML":
        ob = orig.body if orig.body_type == "HTML" else \
            "<pre>%s</pre>" % esc(orig.body)
        nb = text if btype == "HTML" else "<p>%s</p>" % esc(text)
        it.body = "%s<hr><div>%s</div>" % (nb, ob)
        it.body_type = "HTML"
    else:
        quoted = "\n".join("> " + line for line in
                           (orig.body or "").split("\n"))
        it.body = "%s\n\n-----Original Message-----\n%s" % (text, quoted)
        it.body_type = "Text"
    me = owner.address
    if kind == "ForwardItem":
        it.to = []
        for a in orig.attachments:
            it.add_attachment(Attachment(a.name, a.content, a.content_type,
                                         a.is_inline, a.content_id, a.item))
    else:
        it.to = list(orig.reply_to) or ([orig.from_] if orig.from_ else [])
        if kind == "ReplyAllToItem":
            have = {r.address.lower() for r in it.to}
            for r in orig.to + orig.cc:
                a = r.address.lower()
                if a != me and a not in have:
                    (it.to if r in orig.to else it.cc).append(r)
                    have.add(a)
    it.to += parse_recipients(ro.find(T + "ToRecipients"))
    it.cc += parse_recipients(ro.find(T + "CcRecipients"))
    it.bcc += parse_recipients(ro.find(T + "BccRecipients"))
    f = ro.find(T + "From")
    if f is not None:
        it.from_ = parse_mailbox(f.find(T + "Mailbox"))
    it.in_reply_to = orig.message_id
    it.references = ((orig.references + " ") if orig.references else "") + \
        (orig.message_id or "")
    it.response_to = (kind, orig)
    return it


def op_CreateItem(ctx, el):
    disp = el.get("MessageDisposition")
    out = []
    saved = None
    try:
        sf = folder_ids(child(el, M + "SavedItemFolderId"))
        if sf:
            _, saved = resolve_folder(ctx, sf[0])
    except MsgError as e:
        return wrap("CreateItem", [rerr("CreateItem", e)
                                   for _ in child(el, M + "Items")])
    owner = ctx.store.mailbox(saved.mailbox) if saved else None
    for ie in child(el, M + "Items"):
        try:
            owner = owner or ctx.own()
            kind = local(ie)
            if kind in REPLY_PREFIX:
                it = build_response_object(ctx, ie, owner)
            elif kind in ("Message", "Item"):
                it = Item(owner.address, None)
                fill_message(ctx, it, ie)
            elif kind == "CalendarItem":
                out.append(create_calendar_item(ctx, owner, saved, ie))
                continue
            elif kind in ews_meeting.ANSWERS or \
                    kind == "CancelCalendarItem":
                out.append(meeting_response(ctx, owner, ie, kind, disp))
                continue
            else:
                raise MsgError("ErrorInvalidItemForOperationCreateItem",
                               "The mock stores messages only, not %s."
                               % kind)
            if it.item_class.startswith("IPM.Note") and not disp:
                raise MsgError("ErrorMessageDispositionRequired",
                               "MessageDisposition is required for this "
                               "operation.")
            check_recipients(it)
            if disp in ("SendOnly", "SendAndSaveCopy"):
                prepare_sender(ctx, it, owner)
                send(ctx, it, owner, disp == "SendAndSaveCopy", saved)
                out.append(rmsg("CreateItem", "<m:Items/>"))
                continue
            f = saved or owner.by_wk["drafts"]
            if it.from_ is None and owner.address != ctx.principal:
                prepare_sender(ctx, it, owner)
            it.folder_id = f.id
            it.mailbox = f.mailbox
            it.is_draft = f.well_known == "drafts" or \
                it.item_class.startswith("IPM.Note")
            it.is_read = True
            ctx.store.mailbox(f.mailbox).items[it.id] = it
            out.append(rmsg("CreateItem", '<m:Items><t:Message><t:ItemId '
                            'Id="%s" ChangeKey="%s"/></t:Message></m:Items>'
                            % (attr(it.id), attr(it.change_key))))
        except MsgError as e:
            out.append(rerr("CreateItem", e))
    return wrap("CreateItem", out)


def create_calendar_item(ctx, owner, saved, ie):
    if ie.getparent().getparent().get("SendMeetingInvitations") is None:
        raise MsgError("ErrorSendMeetingInvitationsRequired",
                       "SendMeetingInvitations is required for calendar "
                       "items.")
    f = saved or owner.by_wk["calendar"]
    try:
        it = ews_calendar.create(f, f.mailbox, ie)
    except ews_calendar.CalError as e:
        raise MsgError(e.code, e.text)
    ctx.store.mailbox(f.mailbox).items[it.id] = it
    if any(it.attendees.values()):
        it.organizer = f.mailbox
        send = ie.getparent().getparent().get("SendMeetingInvitations")
        if send in ("SendOnlyToAll", "SendToAllAndSaveCopy"):
            import ews_freebusy   # it imports this module
            ews_meeting.deliver(ctx.store, it, ews_freebusy.ROOMS,
                                ews_freebusy.room_mailbox)
    return rmsg("CreateItem", '<m:Items><t:CalendarItem><t:ItemId Id="%s" '
                'ChangeKey="%s"/></t:CalendarItem></m:Items>'
                % (attr(it.id), attr(it.change_key)))


def meeting_response(ctx, owner, ie, kind, disp):
    """AcceptItem, TentativelyAcceptItem, DeclineItem, CancelCalendarItem
    (ews_meeting.py)."""
    if disp not in ("SendOnly", "SendAndSaveCopy", "SaveOnly"):
        raise MsgError("ErrorMessageDispositionRequired",
                       "MessageDisposition is required for this "
                       "operation.")
    ref = ie.find(T + "ReferenceItemId")
    if ref is None:
        raise MsgError("ErrorInvalidReferenceItem",
                       "ReferenceItemId is required.")
    mb, it = resolve_item(ctx, ref)
    ck = ref.get("ChangeKey")
    if ck and ck != it.change_key:
        raise MsgError("ErrorIrresolvableConflict",
                       text_of("ErrorIrresolvableConflict"))
    try:
        if kind == "CancelCalendarItem":
            ews_meeting.cancel(ctx.store, mb, it)
        else:
            ews_meeting.respond(ctx.store, mb, it, kind)
    except ews_calendar.CalError as e:
        raise MsgError(e.code, e.text)
    return rmsg("CreateItem", "<m:Items/>")


SETTABLE = {
    "item:Subject", "item:Body", "item:Importance", "item:Sensitivity",
    "item:Categories", "item:InReplyTo", "message:IsRead",
    "message:ToRecipients", "message:CcRecipients", "message:BccRecipients",
    "message:ReplyTo", "message:From", "message:IsReadReceiptRequested",
    "message:IsDeliveryReceiptRequested", "message:References",
    "message:InternetMessageId", "item:ItemClass",
}


def update_occurrence(ctx, el, ie, ch, occ, ident):
    """UpdateItem on one occurrence of a series: it becomes an exception
    (the series keeps its pattern)."""
    mb, it, orig = occ
    ctx.check_access(mb)
    ck = ie.get("ChangeKey")
    conflict = el.get("ConflictResolution") or "AutoResolve"
    if ck and ck != it.change_key and conflict != "AlwaysOverwrite":
        raise MsgError("ErrorIrresolvableConflict",
                       text_of("ErrorIrresolvableConflict"))
    if el.get("SendMeetingInvitationsOrCancellations") is None:
        raise MsgError("ErrorSendMeetingInvitationsOrCancellationsRequired",
                       "SendMeetingInvitationsOrCancellations is required "
                       "for calendar items.")
    try:
        ews_calendar.update_occurrence(it, orig, ch.find(T + "Updates"),
                                       local)
    except ews_calendar.CalError as e:
        raise MsgError(e.code, e.text)
    it.touch()
    return rmsg("UpdateItem", '<m:Items><t:CalendarItem>'
                '<t:ItemId Id="%s" ChangeKey="%s"/>'
                '</t:CalendarItem></m:Items>'
                '<m:ConflictResults><t:Count>0</t:Count>'
                '</m:ConflictResults>' % (
                    attr(ident), attr(it.change_key)))


def op_UpdateItem(ctx, el):
    conflict = el.get("ConflictResolution") or "AutoResolve"
    disp = el.get("MessageDisposition")
    out = []
    for ch in child(el, M + "ItemChanges"):
        try:
            ie = ch.find(T + "ItemId")
            oie = ch.find(T + "OccurrenceItemId")
            if oie is not None:
                ref = occurrence_item_id(ctx, oie)
                out.append(update_occurrence(ctx, el, oie, ch, ref[:3],
                                             ref[3]))
                continue
            if ie is None:
                raise MsgError("ErrorInvalidIdMalformed",
                               "Only ItemId and OccurrenceItemId are "
                               "supported here.")
            occ = ews_calendar.find_occurrence(ctx.store, ie.get("Id"))
            if occ is not None:
                out.append(update_occurrence(ctx, el, ie, ch, occ,
                                             ie.get("Id")))
                continue
            mb, it = resolve_item(ctx, ie)
            ck = ie.get("ChangeKey")
            if ck and ck != it.change_key and conflict != "AlwaysOverwrite":
                raise MsgError("ErrorIrresolvableConflict",
                               text_of("ErrorIrresolvableConflict"))
            if conflict == "NeverOverwrite" and not ck:
                raise MsgError("ErrorChangeKeyRequired",
                               "The change key is required for this "
                               "operation.")
            if isinstance(it, ews_calendar.CalendarItem):
                if el.get("SendMeetingInvitationsOrCancellations") is None:
                    raise MsgError(
                        "ErrorSendMeetingInvitationsOrCancellationsRequired",
                        "SendMeetingInvitationsOrCancellations is required "
                        "for calendar items.")
                before = (it.start, it.end, it.rrule,
                          {a.address.lower(): a for lst in
                           it.attendees.values() for a in lst})
                try:
                    ews_calendar.update(it, ch.find(T + "Updates"), local)
                except ews_calendar.CalError as e:
                    raise MsgError(e.code, e.text)
                it.touch()
                if it.organizer and it.my_response == "Organizer":
                    import ews_freebusy   # it imports this module
                    ews_meeting.updated(
                        ctx.store, it, before,
                        el.get("SendMeetingInvitationsOrCancellations"),
                        ews_freebusy.ROOMS, ews_freebusy.room_mailbox)
                out.append(rmsg("UpdateItem", '<m:Items><t:CalendarItem>'
                                '<t:ItemId Id="%s" ChangeKey="%s"/>'
                                '</t:CalendarItem></m:Items>'
                                '<m:ConflictResults><t:Count>0</t:Count>'
                                '</m:ConflictResults>' % (
                                    attr(it.id), attr(it.change_key))))
                continue
            for up in ch.find(T + "Updates"):
                uri_el = up[0]
                uri = uri_el.get("FieldURI")
                if uri not in SETTABLE:
                    raise MsgError("ErrorInvalidPropertySet",
                                   "The mock cannot change %s." % uri)
                if local(up) == "DeleteItemField":
                    fill_clear(it, uri)
                    continue
                holder = up[1] if len(up) > 1 else None
                if holder is None:
                    raise MsgError("ErrorIncorrectUpdatePropertyCount",
                                   "An object within a change description "
                                   "must contain one and only one property "
                                   "to modify.")
                if local(up) == "AppendToItemField":
                    before = {k: list(getattr(it, k)) for k in
                              ("to", "cc", "bcc", "reply_to")}
                    bbody = it.body
                    fill_message(ctx, it, holder)
                    for k, v in before.items():
                        if getattr(it, k) is not v:
                            setattr(it, k, v + [r for r in getattr(it, k)
                                                if r not in v])
                    if uri == "item:Body":
                        it.body = bbody + it.body
                else:
                    fill_message(ctx, it, holder)
            it.touch()
            if disp in ("SendOnly", "SendAndSaveCopy") and it.is_draft:
                prepare_sender(ctx, it, mb)
                send(ctx, it, mb, disp == "SendAndSaveCopy", None)
                del mb.items[it.id]
                out.append(rmsg("UpdateItem", "<m:Items/><m:ConflictResults>"
                                "<t:Count>0</t:Count></m:ConflictResults>"))
                continue
            out.append(rmsg("UpdateItem", '<m:Items><t:Message><t:ItemId '
                            'Id="%s" ChangeKey="%s"/></t:Message></m:Items>'
                            '<m:ConflictResults><t:Count>0</t:Count>'
                            '</m:ConflictResults>' % (attr(it.id),
                                                      attr(it.change_key))))
        except MsgError as e:
            out.append(rerr("UpdateItem", e))
    return wrap("UpdateItem", out)


def fill_clear(it, uri):
    k = {"message:ToRecipients": "to", "message:CcRecipients": "cc",
         "message:BccRecipients": "bcc", "message:ReplyTo": "reply_to",
         "item:Categories": "categories"}.get(uri)
    if k:
        setattr(it, k, [])
    elif uri == "item:Body":
        it.body = ""
    elif uri == "item:Subject":
        it.subject = ""
    elif uri == "message:From":
        it.from_ = None


def move(mb, it, folder):
    """Within one mailbox (cross-mailbox moves are refused before)."""
    del mb.items[it.id]
    it.folder_id = folder.id
    it.new_id()
    mb.items[it.id] = it
    return it


def op_DeleteItem(ctx, el):
    dt = el.get("DeleteType")
    out = []
    for ie in child(el, M + "ItemIds"):
        try:
            cal = ews_calendar.find_occurrence(ctx.store, ie.get("Id"))
            if cal is None:
                _, cal = ctx.store.find_item(ie.get("Id"))
            if isinstance(cal, (tuple, ews_calendar.CalendarItem)) and \
                    el.get("SendMeetingCancellations") is None:
                raise MsgError("ErrorSendMeetingCancellationsRequired",
                               "SendMeetingCancellations is required for "
                               "calendar items.")
            if ews_calendar.delete_occurrence(ctx.store, ie.get("Id")):
                out.append(rmsg("DeleteItem"))
                continue
            mb, it = resolve_item(ctx, ie)
            if dt == "MoveToDeletedItems" and \
                    it.folder_id != mb.by_wk["deleteditems"].id:
                move(mb, it, mb.by_wk["deleteditems"])
            elif dt == "SoftDelete":
                # kept where Exchange keeps it: Recoverable Items\Deletions
                move(mb, it, mb.by_wk["recoverableitemsdeletions"])
            else:
                del mb.items[it.id]
            out.append(rmsg("DeleteItem"))
        except MsgError as e:
            out.append(rerr("DeleteItem", e))
    return wrap("DeleteItem", out)


def op_MoveItem(ctx, el, copy=False):
    op = "CopyItem" if copy else "MoveItem"
    out = []
    try:
        tmb, target = resolve_folder(ctx, folder_ids(
            child(el, M + "ToFolderId"))[0])
    except MsgError as e:
        return wrap(op, [rerr(op, e) for _ in child(el, M + "ItemIds")])
    for ie in child(el, M + "ItemIds"):
        try:
            mb, it = resolve_item(ctx, ie)
            if tmb is not mb:
                raise MsgError("ErrorCrossMailboxMoveCopy",
                               "Cross-mailbox moves are not supported by "
                               "the mock.")
            if copy:
                new = it.copy_to(mb.address, target.id)
                new.is_read = it.is_read
                mb.items[new.id] = new
                it = new
            else:
                move(mb, it, target)
            out.append(rmsg(op, '<m:Items><t:Message><t:ItemId Id="%s" '
                            'ChangeKey="%s"/></t:Message></m:Items>'
                            % (attr(it.id), attr(it.change_key))))
        except MsgError as e:
            out.append(rerr(op, e))
    return wrap(op, out)


def op_CopyItem(ctx, el):
    return op_MoveItem(ctx, el, copy=True)


def op_SendItem(ctx, el):
    save = el.get("SaveItemToFolder") is None or \
        xbool(el.get("SaveItemToFolder"))
    out = []
    saved = None
    sf = folder_ids(child(el, M + "SavedItemFolderId"))
    for ie in child(el, M + "ItemIds"):
        try:
            if sf and saved is None:
                _, saved = resolve_folder(ctx, sf[0])
            mb, it = resolve_item(ctx, ie)
            ck = ie.get("ChangeKey")
            if ck and ck != it.change_key:
                raise MsgError("ErrorStaleObject",
                               text_of("ErrorStaleObject"))
            prepare_sender(ctx, it, mb)
            send(ctx, it, mb, save, saved)
            del mb.items[it.id]
            out.append(rmsg("SendItem"))
        except MsgError as e:
            out.append(rerr("SendItem", e))
    return wrap("SendItem", out)


# ---- attachments -----------------------------------------------------------

def op_CreateAttachment(ctx, el):
    out = []
    atts = list(child(el, M + "Attachments"))
    try:
        pe = child(el, M + "ParentItemId")
        mb, it = resolve_item(ctx, pe)
        ck = pe.get("ChangeKey")
        if ck and ck != it.change_key:
            raise MsgError("ErrorIrresolvableConflict",
                           text_of("ErrorIrresolvableConflict"))
    except MsgError as e:
        return wrap("CreateAttachment", [rerr("CreateAttachment", e)
                                         for _ in atts])
    made = []
    for ae in atts:
        try:
            a = parse_attachment(ctx, ae, mb.address)
            it.add_attachment(a)
            made.append(a)
            out.append(None)
        except MsgError as e:
            out.append(rerr("CreateAttachment", e))
    it.touch()
    res = []
    for o in out:
        if o is None:
            a = made.pop(0)
            tag = "ItemAttachment" if a.item is not None else \
                "FileAttachment"
            o = rmsg("CreateAttachment", '<m:Attachments><t:%s>'
                     '<t:AttachmentId Id="%s" RootItemId="%s" '
                     'RootItemChangeKey="%s"/></t:%s></m:Attachments>'
                     % (tag, attr(a.id), attr(it.id), attr(it.change_key),
                        tag))
        res.append(o)
    return wrap("CreateAttachment", res)


def find_attachment(ctx, ae):
    ident = ae.get("Id")
    check_id(ident)
    mb, it, a = ctx.store.find_attachment(ident)
    if a is None:
        raise MsgError("ErrorItemNotFound", text_of("ErrorItemNotFound"))
    ctx.check_access(mb)
    return mb, it, a


def op_GetAttachment(ctx, el):
    out = []
    for ae in child(el, M + "AttachmentIds"):
        try:
            mb, it, a = find_attachment(ctx, ae)
            out.append(rmsg("GetAttachment", "<m:Attachments>%s"
                            "</m:Attachments>" % a.xml(True)))
        except MsgError as e:
            out.append(rerr("GetAttachment", e))
    return wrap("GetAttachment", out)


def op_DeleteAttachment(ctx, el):
    out = []
    for ae in child(el, M + "AttachmentIds"):
        try:
            mb, it, a = find_attachment(ctx, ae)
            it.attachments.remove(a)
            it.touch()
            out.append(rmsg("DeleteAttachment", '<m:RootItemId RootItemId='
                            '"%s" RootItemChangeKey="%s"/>'
                            % (attr(it.id), attr(it.change_key))))
        except MsgError as e:
            out.append(rerr("DeleteAttachment", e))
    return wrap("DeleteAttachment", out)


# ---- names ---------------------------------------------------------------

def matches(entry, q):
    q = q.strip().lower()
    if q.startswith("smtp:"):
        q = q[5:]
    if not q:
        return False
    addr = entry["address"].lower()
    if q == addr or addr.split("@")[0].startswith(q):
        return True
    name = entry["name"].lower()
    if name.startswith(q):
        return True
    return any(w.startswith(q) for w in name.split())


def contact_xml(e):
    p = ["<t:Contact>", "<t:DisplayName>%s</t:DisplayName>" % esc(e["name"])]
    if e.get("given"):
        p.append("<t:GivenName>%s</t:GivenName>" % esc(e["given"]))
    p.append('<t:EmailAddresses><t:Entry Key="EmailAddress1">SMTP:%s'
             '</t:Entry></t:EmailAddresses>' % esc(e["address"]))
    if e.get("phone"):
        p.append('<t:PhoneNumbers><t:Entry Key="BusinessPhone">%s</t:Entry>'
                 '</t:PhoneNumbers>' % esc(e["phone"]))
    p.append("<t:ContactSource>ActiveDirectory</t:ContactSource>")
    if e.get("department"):
        p.append("<t:Department>%s</t:Department>" % esc(e["department"]))
    if e.get("title"):
        p.append("<t:JobTitle>%s</t:JobTitle>" % esc(e["title"]))
    if e.get("office"):
        p.append("<t:OfficeLocation>%s</t:OfficeLocation>"
                 % esc(e["office"]))
    if e.get("surname"):
        p.append("<t:Surname>%s</t:Surname>" % esc(e["surname"]))
    p.append("</t:Contact>")
    return "".join(p)


def op_ResolveNames(ctx, el):
    full = xbool(el.get("ReturnFullContactData"))
    q = ctext(el, M + "UnresolvedEntry", "")
    hits = sorted([e for e in DIRECTORY if matches(e, q)],
                  key=lambda e: e["name"].lower())[:100]
    if not hits:
        return wrap("ResolveNames", [rmsg(
            "ResolveNames", "", "Error", "ErrorNameResolutionNoResults")])
    res = []
    for e in hits:
        r = Recipient(e["address"], e["name"])
        c = contact_xml(e) if full and e.get("type") != "PublicDL" else ""
        res.append("<t:Resolution>%s%s</t:Resolution>" % (r.xml(), c))
    inner = '<m:ResolutionSet TotalItemsInView="%d" ' \
        'IncludesLastItemInRange="true">%s</m:ResolutionSet>' % (
            len(hits), "".join(res))
    if len(hits) > 1:
        return wrap("ResolveNames", [rmsg(
            "ResolveNames", inner, "Warning",
            "ErrorNameResolutionMultipleResults")])
    return wrap("ResolveNames", [rmsg("ResolveNames", inner)])


# ---- automatic replies -----------------------------------------------------

def oof_mailbox(ctx, el):
    addr = ctext(el.find(T + "Mailbox"), T + "Address", "")
    mb = ctx.store.mailbox(addr)
    if mb is None:
        raise MsgError("ErrorMailRecipientNotFound",
                       text_of("ErrorMailRecipientNotFound"))
    ctx.check_access(mb)
    return mb


def oof_msg(code="NoError", cls="Success", text=None):
    p = ['<m:ResponseMessage ResponseClass="%s">' % cls]
    if cls != "Success":
        p.append("<m:MessageText>%s</m:MessageText>"
                 % esc(text or text_of(code)))
    p.append("<m:ResponseCode>%s</m:ResponseCode>" % code)
    if cls != "Success":
        p.append("<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>")
    p.append("</m:ResponseMessage>")
    return "".join(p)


def op_GetUserOofSettingsRequest(ctx, el):
    try:
        mb = oof_mailbox(ctx, el)
    except MsgError as e:
        return "<m:GetUserOofSettingsResponse>%s" \
            "</m:GetUserOofSettingsResponse>" % oof_msg(e.code, e.cls,
                                                        e.text)
    o = mb.oof
    start = o["start"] or iso(now_utc())
    end = o["end"] or iso(now_utc() + datetime.timedelta(days=1))
    return ("<m:GetUserOofSettingsResponse>%s<t:OofSettings>"
            "<t:OofState>%s</t:OofState>"
            "<t:ExternalAudience>%s</t:ExternalAudience>"
            "<t:Duration><t:StartTime>%s</t:StartTime>"
            "<t:EndTime>%s</t:EndTime></t:Duration>"
            '<t:InternalReply xml:lang="en-US"><t:Message>%s</t:Message>'
            "</t:InternalReply>"
            '<t:ExternalReply xml:lang="en-US"><t:Message>%s</t:Message>'
            "</t:ExternalReply>"
            "</t:OofSettings><m:AllowExternalOof>All</m:AllowExternalOof>"
            "</m:GetUserOofSettingsResponse>" % (
                oof_msg(), o["state"], o["audience"], esc(start), esc(end),
                esc(o["internal"]), esc(o["external"])))


def op_SetUserOofSettingsRequest(ctx, el):
    try:
        mb = oof_mailbox(ctx, el)
        s = el.find(T + "UserOofSettings")
        o = dict(mb.oof)
        o["state"] = ctext(s, T + "OofState")
        o["audience"] = ctext(s, T + "ExternalAudience")
        d = s.find(T + "Duration")
        if d is not None:
            st = parse_iso(ctext(d, T + "StartTime"))
            en = parse_iso(ctext(d, T + "EndTime"))
            if en <= st:
                raise MsgError("ErrorInvalidParameter",
                               "The end time must be later than the start "
                               "time.")
            o["start"], o["end"] = iso(st), iso(en)
        elif o["state"] == "Scheduled" and not o["start"]:
            raise MsgError("ErrorInvalidParameter",
                           "A scheduled OOF needs a Duration.")
        for tag, key in (("InternalReply", "internal"),
                         ("ExternalReply", "external")):
            r = s.find(T + tag)
            if r is not None:
                o[key] = ctext(r, T + "Message", "")
        mb.oof = o
        msg = oof_msg()
    except MsgError as e:
        msg = oof_msg(e.code, e.cls, e.text)
    return "<m:SetUserOofSettingsResponse>%s</m:SetUserOofSettingsResponse>" \
        % msg


# ---- ConvertId (exchangelib's probe) ---------------------------------------

def op_ConvertId(ctx, el):
    dest = el.get("DestinationFormat")
    out = []
    for a in child(el, M + "SourceIds"):
        ident = a.get("Id")
        try:
            check_id(ident)
            mb, it = ctx.store.find_item(ident)
            if it is None:
                mb, it = ctx.store.find_folder(ident)
            if it is None:
                raise MsgError("ErrorItemNotFound",
                               text_of("ErrorItemNotFound"))
            raw = base64.b64decode(ident)
            conv = raw.hex().upper() if dest == "HexEntryId" else \
                base64.b64encode(raw).decode()
            out.append(rmsg("ConvertId", '<m:AlternateId xmlns:xsi="http://'
                            'www.w3.org/2001/XMLSchema-instance" xsi:type='
                            '"t:AlternateIdType" Format="%s" Id="%s" '
                            'Mailbox="%s"/>' % (attr(dest), attr(conv),
                                                attr(mb.address))))
        except MsgError as e:
            out.append(rerr("ConvertId", e))
    return wrap("ConvertId", out)


# Tasks (t:Task) are ews_tasks.py's: these operations go there when they
# are about tasks.
import ews_tasks  # noqa: E402

for _op in ("CreateItem", "GetItem", "UpdateItem", "DeleteItem",
            "FindItem"):
    globals()["op_" + _op] = ews_tasks.hook(_op, globals()["op_" + _op])

OPERATIONS = {name[3:]: fn for name, fn in dict(globals()).items()
              if name.startswith("op_")}

# rooms and availability (GetRoomLists, GetRooms, GetUserAvailability)
import ews_freebusy  # noqa: E402

OPERATIONS.update(ews_freebusy.OPERATIONS)
