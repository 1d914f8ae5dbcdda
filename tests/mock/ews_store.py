"""The state of the mock EWS server (tests/mock/ews_server.py): mailboxes
with folders, messages and attachments, out-of-office settings and a small
directory, plus the XML renderings EWS answers with.

Ids are base64 strings shaped like Exchange's (a binary blob with a kind
byte and a serial number); ChangeKeys change on every update.  Everything
here is called with Store.lock held by the caller.
"""
import base64
import datetime
import email.utils
import hashlib
import itertools
import threading
import uuid
from xml.sax.saxutils import escape as _esc

NS_S = "http://schemas.xmlsoap.org/soap/envelope/"
NS_M = "http://schemas.microsoft.com/exchange/services/2006/messages"
NS_T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS_E = "http://schemas.microsoft.com/exchange/services/2006/errors"

DOMAIN = "example.test"
PASSWORD = "Secret-Pw-1"

# The mailboxes (users) and the rest of the directory ResolveNames sees.
USERS = [
    {"address": "alice@example.test", "name": "Alice Example",
     "given": "Alice", "surname": "Example", "department": "Engineering",
     "title": "Developer", "phone": "+1 555 0100", "office": "Building 4"},
    {"address": "bob@example.test", "name": "Bob Builder",
     "given": "Bob", "surname": "Builder", "department": "Operations",
     "title": "Release manager", "phone": "+1 555 0101",
     "office": "Building 2"},
    {"address": "carol@example.test", "name": "Carol Lead",
     "given": "Carol", "surname": "Lead", "department": "Engineering",
     "title": "Team lead", "phone": "+1 555 0102", "office": "Building 4"},
]
DIRECTORY = USERS + [
    {"address": "alistair@example.test", "name": "Alistair Sample",
     "given": "Alistair", "surname": "Sample", "type": "Contact"},
    {"address": "dave.external@partner.test", "name": "Dave External",
     "given": "Dave", "surname": "External", "type": "Contact"},
    {"address": "qa-team@example.test", "name": "QA Team",
     "type": "PublicDL"},
    {"address": "all-staff@example.test", "name": "All Staff",
     "type": "PublicDL"},
]

# The directory as it starts (and comes back to on /_mock/reset);
# /_mock/directory changes DIRECTORY in place.
DIRECTORY_START = list(DIRECTORY)

# Well-known folders: distinguished id -> (display name, parent, class).
WELL_KNOWN = [
    ("root", "Top of Information Store", None, None),
    ("msgfolderroot", "Top of Information Store", "root", "IPF.Note"),
    ("inbox", "Inbox", "msgfolderroot", "IPF.Note"),
    ("sentitems", "Sent Items", "msgfolderroot", "IPF.Note"),
    ("drafts", "Drafts", "msgfolderroot", "IPF.Note"),
    ("deleteditems", "Deleted Items", "msgfolderroot", "IPF.Note"),
    ("outbox", "Outbox", "msgfolderroot", "IPF.Note"),
    ("junkemail", "Junk Email", "msgfolderroot", "IPF.Note"),
    ("calendar", "Calendar", "msgfolderroot", "IPF.Appointment"),
    ("contacts", "Contacts", "msgfolderroot", "IPF.Contact"),
    ("tasks", "Tasks", "msgfolderroot", "IPF.Task"),
    ("recoverableitemsroot", "Recoverable Items", "root", None),
    ("recoverableitemsdeletions", "Deletions", "recoverableitemsroot", None),
]
WELL_KNOWN_IDS = {w[0] for w in WELL_KNOWN}

_serial = itertools.count(1)


def esc(s):
    return _esc("" if s is None else str(s))


def attr(s):
    return _esc("" if s is None else str(s), {'"': "&quot;"})


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(dt):
    if dt is None:
        return None
    if isinstance(dt, str):
        return dt
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s):
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt


def make_id(kind, mailbox, well_known=None):
    """An Exchange-like id: 00 03 24 <kind> <mailbox hash> <serial>.  A
    well-known folder's id is the same for its mailbox every time (as in
    Exchange, where a reset mailbox would not renumber its Inbox)."""
    if well_known:
        n = int.from_bytes(hashlib.sha1(well_known.encode()).digest()[:4],
                           "big") | (1 << 62)
    else:
        n = next(_serial)
    h = hashlib.sha1(mailbox.encode()).digest()[:8]
    raw = b"\x00\x03\x24\x00" + kind.encode() + b"\x00" + h + \
        n.to_bytes(8, "big") + b"\x00\x00"
    return base64.b64encode(raw).decode()


def make_change_key(ident, version):
    raw = b"\x09\x00\x00\x00\x16\x00\x00\x00" + \
        hashlib.sha1(ident.encode()).digest()[:10] + \
        version.to_bytes(4, "big")
    return base64.b64encode(raw).decode()


def user_by_address(addr):
    a = (addr or "").strip().lower()
    for u in USERS:
        if u["address"] == a:
            return u
    return None


def directory_entry(addr):
    a = (addr or "").strip().lower()
    for u in DIRECTORY:
        if u["address"] == a:
            return u
    return None


class Recipient:
    def __init__(self, address, name=None, routing="SMTP"):
        self.address = address or ""
        u = directory_entry(self.address)
        self.name = name if name is not None else (
            u["name"] if u else self.address)
        self.routing = routing

    def to_json(self):
        return {"name": self.name, "address": self.address,
                "routing": self.routing}

    def xml(self, tag="Mailbox"):
        parts = ["<t:%s>" % tag]
        if self.name is not None:
            parts.append("<t:Name>%s</t:Name>" % esc(self.name))
        if self.address:
            parts.append("<t:EmailAddress>%s</t:EmailAddress>"
                         % esc(self.address))
        parts.append("<t:RoutingType>%s</t:RoutingType>" % esc(self.routing))
        mt = "Mailbox"
        d = directory_entry(self.address)
        if d and d.get("type") == "PublicDL":
            mt = "PublicDL"
        elif d and d.get("type") == "Contact":
            mt = "Contact"
        elif self.routing == "SMTP" and not d:
            mt = "OneOff"
        parts.append("<t:MailboxType>%s</t:MailboxType>" % mt)
        parts.append("</t:%s>" % tag)
        return "".join(parts)


class Attachment:
    def __init__(self, name, content=b"", content_type=None,
                 is_inline=False, content_id=None, item=None):
        self.id = None
        self.name = name or ""
        self.content = content or b""
        self.content_type = content_type or (
            "message/rfc822" if item is not None
            else "application/octet-stream")
        self.is_inline = bool(is_inline)
        self.content_id = content_id
        self.item = item        # an Item for item attachments
        self.modified = now_utc()

    @property
    def size(self):
        if self.item is not None:
            return self.item.size()
        return len(self.content)

    def to_json(self):
        d = {"id": self.id, "name": self.name, "size": self.size,
             "content_type": self.content_type,
             "is_inline": self.is_inline}
        if self.item is not None:
            d["item"] = self.item.to_json(with_attachments=False)
        return d

    def xml(self, full, root_id=None, root_ck=None):
        """full: with Content / the item (GetAttachment); else the
        summary an item's Attachments carries."""
        tag = "ItemAttachment" if self.item is not None else "FileAttachment"
        p = ["<t:%s>" % tag]
        if root_id:
            p.append('<t:AttachmentId Id="%s" RootItemId="%s" '
                     'RootItemChangeKey="%s"/>' % (attr(self.id),
                                                   attr(root_id),
                                                   attr(root_ck)))
        else:
            p.append('<t:AttachmentId Id="%s"/>' % attr(self.id))
        p.append("<t:Name>%s</t:Name>" % esc(self.name))
        p.append("<t:ContentType>%s</t:ContentType>" % esc(self.content_type))
        if self.content_id:
            p.append("<t:ContentId>%s</t:ContentId>" % esc(self.content_id))
        p.append("<t:Size>%d</t:Size>" % self.size)
        p.append("<t:LastModifiedTime>%s</t:LastModifiedTime>"
                 % self.modified.strftime("%Y-%m-%dT%H:%M:%S"))
        p.append("<t:IsInline>%s</t:IsInline>"
                 % ("true" if self.is_inline else "false"))
        if full:
            if self.item is not None:
                p.append(self.item.xml(ItemShape("AllProperties"),
                                       embedded=True))
            else:
                p.append("<t:IsContactPhoto>false</t:IsContactPhoto>")
                p.append("<t:Content>%s</t:Content>"
                         % base64.b64encode(self.content).decode())
        p.append("</t:%s>" % tag)
        return "".join(p)


class ItemShape:
    def __init__(self, base="Default", additional=(), body_type="Best",
                 include_mime=False):
        self.base = base
        self.additional = set(additional)
        self.body_type = body_type
        self.include_mime = include_mime
        self.finditem = False

    def has(self, uri, in_default=False):
        if self.finditem and uri in NOT_IN_FINDITEM:
            return False
        if uri in self.additional:
            return True
        if self.base == "AllProperties":
            return True
        if self.base == "Default":
            return in_default
        return False


class Item:
    """A message (IPM.Note); other item classes are stored the same way
    with their class name."""

    def __init__(self, mailbox, folder_id):
        self.mailbox = mailbox
        self.id = make_id("I", mailbox)
        self.seq = next(_serial)
        self.version = 1
        self.folder_id = folder_id
        self.item_class = "IPM.Note"
        self.subject = ""
        self.body = ""
        self.body_type = "Text"
        self.sender = None      # Recipient (who sent, on behalf)
        self.from_ = None       # Recipient
        self.to = []
        self.cc = []
        self.bcc = []
        self.reply_to = []
        self.is_read = False
        self.is_draft = False
        self.is_submitted = False
        self.importance = "Normal"
        self.sensitivity = "Normal"
        self.categories = []
        t = now_utc()
        self.received = t
        self.sent = t
        self.created = t
        self.modified = t
        self.message_id = "<%s@%s>" % (uuid.uuid4().hex, DOMAIN)
        self.in_reply_to = None
        self.references = None
        self.attachments = []
        self.sent_by = None     # the authenticated sender of an on-behalf send
        self.hostile = None     # dict of raw odd values (see deliver)
        self.read_receipt = False
        self.delivery_receipt = False

    @property
    def change_key(self):
        return make_change_key(self.id, self.version)

    def touch(self):
        self.version += 1
        self.modified = now_utc()

    def new_id(self):
        """Exchange gives an item a new id when it moves to another folder."""
        self.id = make_id("I", self.mailbox)
        self.version += 1

    @property
    def html_body(self):
        return self.body if self.body_type == "HTML" else ""

    @property
    def text_body(self):
        return self.body if self.body_type == "Text" else ""

    def size(self):
        """Like Exchange's Size: the stored properties, roughly."""
        n = 600 + len((self.subject or "").encode()) + \
            len((self.body or "").encode())
        for r in self.to + self.cc + self.bcc + self.reply_to:
            n += 40 + len(r.address) + len(r.name or "")
        return n + sum(a.size for a in self.attachments)

    def copy_to(self, mailbox, folder_id):
        it = Item(mailbox, folder_id)
        for k in ("item_class", "subject", "body", "body_type", "sender",
                  "from_", "importance", "sensitivity", "message_id",
                  "in_reply_to", "references", "sent_by", "read_receipt",
                  "delivery_receipt"):
            setattr(it, k, getattr(self, k))
        it.to, it.cc = list(self.to), list(self.cc)
        it.bcc = list(self.bcc)
        it.reply_to = list(self.reply_to)
        it.categories = list(self.categories)
        it.sent = self.sent
        for a in self.attachments:
            b = Attachment(a.name, a.content, a.content_type, a.is_inline,
                           a.content_id, a.item)
            it.add_attachment(b)
        return it

    def add_attachment(self, a):
        a.id = make_id("A", self.mailbox)
        self.attachments.append(a)

    def mime(self):
        """An RFC 5322 rendering (IncludeMimeContent, item attachments)."""
        from email.message import EmailMessage
        from email.policy import SMTP
        m = EmailMessage(policy=SMTP)

        def fmt(r):
            return email.utils.formataddr((r.name or "", r.address))
        if self.from_:
            m["From"] = fmt(self.from_)
        if self.sender and self.from_ and \
                self.sender.address != self.from_.address:
            m["Sender"] = fmt(self.sender)
        if self.to:
            m["To"] = ", ".join(fmt(r) for r in self.to)
        if self.cc:
            m["Cc"] = ", ".join(fmt(r) for r in self.cc)
        if self.reply_to:
            m["Reply-To"] = ", ".join(fmt(r) for r in self.reply_to)
        m["Subject"] = self.subject or ""
        m["Date"] = email.utils.format_datetime(self.sent)
        m["Message-ID"] = self.message_id
        if self.in_reply_to:
            m["In-Reply-To"] = self.in_reply_to
        if self.references:
            m["References"] = self.references
        if self.body_type == "HTML":
            m.set_content(self.body or "", subtype="html")
        else:
            m.set_content(self.body or "")
        for a in self.attachments:
            if a.item is not None:
                m.add_attachment(a.item.mime(), maintype="message",
                                 subtype="rfc822", filename=a.name)
            else:
                mt, _, st = a.content_type.partition("/")
                m.add_attachment(a.content, maintype=mt or "application",
                                 subtype=st or "octet-stream",
                                 filename=a.name or "attachment")
        return m.as_bytes()

    def to_json(self, with_attachments=True):
        d = {"id": self.id, "change_key": self.change_key,
             "item_class": self.item_class,
             "subject": self.subject,
             "from": self.from_.address if self.from_ else None,
             "from_name": self.from_.name if self.from_ else None,
             "sender": self.sender.address if self.sender else None,
             "to": [r.address for r in self.to],
             "cc": [r.address for r in self.cc],
             "bcc": [r.address for r in self.bcc],
             "reply_to": [r.address for r in self.reply_to],
             "body": self.text_body, "html_body": self.html_body,
             "is_read": self.is_read, "is_draft": self.is_draft,
             "importance": self.importance,
             "sent_by": self.sent_by, "message_id": self.message_id,
             "in_reply_to": self.in_reply_to,
             "received": iso(self.received), "sent": iso(self.sent)}
        if with_attachments:
            d["attachments"] = [a.to_json() for a in self.attachments]
        return d

    # ---- XML ----
    def xml(self, shape, folder=None, embedded=False, finditem=False):
        tag = "Message" if self.item_class.startswith("IPM.Note") \
            else "Item"
        h = self.hostile or {}
        p = ["<t:%s>" % tag]
        if finditem:
            shape = ItemShape(shape.base, shape.additional, shape.body_type,
                              False)
            shape.finditem = True
        if shape.include_mime or shape.has("item:MimeContent"):
            p.append('<t:MimeContent CharacterSet="UTF-8">%s</t:MimeContent>'
                     % base64.b64encode(self.mime()).decode())
        if not embedded:
            p.append('<t:ItemId Id="%s" ChangeKey="%s"/>'
                     % (attr(self.id), attr(self.change_key)))
            if folder is not None and shape.has("item:ParentFolderId",
                                                True):
                p.append('<t:ParentFolderId Id="%s" ChangeKey="%s"/>'
                         % (attr(folder.id), attr(folder.change_key)))
        if shape.has("item:ItemClass", True):
            p.append("<t:ItemClass>%s</t:ItemClass>" % esc(self.item_class))
        if shape.has("item:Subject", True) and "no_subject" not in h:
            p.append("<t:Subject>%s</t:Subject>"
                     % esc(h.get("subject", self.subject)))
        if shape.has("item:Sensitivity", True):
            p.append("<t:Sensitivity>%s</t:Sensitivity>"
                     % esc(self.sensitivity))
        if shape.has("item:Body", True):
            bt = self.body_type
            text = self.body
            if shape.body_type == "Text" and bt == "HTML":
                text, bt = html_to_text(text), "Text"
            elif shape.body_type == "HTML" and bt == "Text":
                text, bt = "<html><body><pre>%s</pre></body></html>" % \
                    esc(text), "HTML"
            p.append('<t:Body BodyType="%s" IsTruncated="false">%s</t:Body>'
                     % (bt, esc(text)))
        if self.attachments and shape.has("item:Attachments", True):
            p.append("<t:Attachments>")
            for a in self.attachments:
                p.append(a.xml(False))
            p.append("</t:Attachments>")
        if shape.has("item:DateTimeReceived", True) and \
                "no_received" not in h:
            p.append("<t:DateTimeReceived>%s</t:DateTimeReceived>"
                     % esc(h.get("received", iso(self.received))))
        if shape.has("item:Size", True):
            p.append("<t:Size>%d</t:Size>" % self.size())
        if self.categories and shape.has("item:Categories"):
            p.append("<t:Categories>%s</t:Categories>" % "".join(
                "<t:String>%s</t:String>" % esc(c) for c in self.categories))
        if shape.has("item:Importance", True):
            p.append("<t:Importance>%s</t:Importance>" % esc(self.importance))
        if self.in_reply_to and shape.has("item:InReplyTo", True):
            p.append("<t:InReplyTo>%s</t:InReplyTo>" % esc(self.in_reply_to))
        if shape.has("item:IsSubmitted", True):
            p.append("<t:IsSubmitted>%s</t:IsSubmitted>"
                     % tf(self.is_submitted))
        if shape.has("item:IsDraft", True):
            p.append("<t:IsDraft>%s</t:IsDraft>" % tf(self.is_draft))
        if shape.has("item:IsFromMe", True):
            p.append("<t:IsFromMe>%s</t:IsFromMe>" % tf(
                self.from_ is not None and
                self.from_.address == self.mailbox))
        if shape.has("item:IsResend", True):
            p.append("<t:IsResend>false</t:IsResend>")
        if shape.has("item:IsUnmodified", True):
            p.append("<t:IsUnmodified>%s</t:IsUnmodified>"
                     % tf(self.version == 1))
        if shape.has("item:DateTimeSent", True) and "no_sent" not in h:
            p.append("<t:DateTimeSent>%s</t:DateTimeSent>"
                     % esc(h.get("sent", iso(self.sent))))
        if shape.has("item:DateTimeCreated", True):
            p.append("<t:DateTimeCreated>%s</t:DateTimeCreated>"
                     % iso(self.created))
        if shape.has("item:DisplayCc", True):
            p.append("<t:DisplayCc>%s</t:DisplayCc>"
                     % esc("; ".join(r.name for r in self.cc)))
        if shape.has("item:DisplayTo", True):
            p.append("<t:DisplayTo>%s</t:DisplayTo>"
                     % esc("; ".join(r.name for r in self.to)))
        if shape.has("item:HasAttachments", True):
            p.append("<t:HasAttachments>%s</t:HasAttachments>"
                     % tf(any(not a.is_inline for a in self.attachments)))
        if shape.has("item:Culture", True):
            p.append("<t:Culture>en-US</t:Culture>")
        if shape.has("item:LastModifiedTime", True):
            p.append("<t:LastModifiedTime>%s</t:LastModifiedTime>"
                     % iso(self.modified))
        if tag != "Message":
            p.append("</t:%s>" % tag)
            return "".join(p)
        # MessageType
        if self.sender and shape.has("message:Sender", True):
            p.append(self.sender.xml().join(["<t:Sender>", "</t:Sender>"]))
        for uri, el, lst in (("message:ToRecipients", "ToRecipients",
                              self.to),
                             ("message:CcRecipients", "CcRecipients",
                              self.cc),
                             ("message:BccRecipients", "BccRecipients",
                              self.bcc)):
            if lst and shape.has(uri, uri != "message:BccRecipients"):
                p.append("<t:%s>%s</t:%s>" % (
                    el, "".join(r.xml() for r in lst), el))
        if shape.has("message:IsReadReceiptRequested", True):
            p.append("<t:IsReadReceiptRequested>%s</t:IsReadReceiptRequested>"
                     % tf(self.read_receipt))
        if shape.has("message:IsDeliveryReceiptRequested", True):
            p.append("<t:IsDeliveryReceiptRequested>%s"
                     "</t:IsDeliveryReceiptRequested>"
                     % tf(self.delivery_receipt))
        if shape.has("message:ConversationTopic", True):
            p.append("<t:ConversationTopic>%s</t:ConversationTopic>"
                     % esc(strip_prefixes(self.subject)))
        if self.from_ and shape.has("message:From", True) and \
                "no_from" not in h:
            if "from_raw" in h:
                p.append("<t:From><t:Mailbox>%s</t:Mailbox></t:From>"
                         % h["from_raw"])
            else:
                p.append(self.from_.xml().join(["<t:From>", "</t:From>"]))
        if shape.has("message:InternetMessageId", True) and \
                "no_message_id" not in h:
            p.append("<t:InternetMessageId>%s</t:InternetMessageId>"
                     % esc(self.message_id))
        if shape.has("message:IsRead", True):
            p.append("<t:IsRead>%s</t:IsRead>" % tf(self.is_read))
        if shape.has("message:IsResponseRequested", True):
            p.append("<t:IsResponseRequested>false</t:IsResponseRequested>")
        if self.references and shape.has("message:References", True):
            p.append("<t:References>%s</t:References>"
                     % esc(self.references))
        if self.reply_to and shape.has("message:ReplyTo", True):
            p.append("<t:ReplyTo>%s</t:ReplyTo>"
                     % "".join(r.xml() for r in self.reply_to))
        p.append("</t:Message>")
        return "".join(p)


# Properties FindItem cannot return (Exchange answers
# ErrorInvalidPropertyRequest when they are asked for).
NOT_IN_FINDITEM = {"item:Body", "item:MimeContent", "item:Attachments",
                   "message:ToRecipients", "message:CcRecipients",
                   "message:BccRecipients", "message:ReplyTo",
                   "item:UniqueBody", "item:TextBody", "item:NormalizedBody",
                   "item:InternetMessageHeaders"}


def tf(b):
    return "true" if b else "false"


def strip_prefixes(s):
    s = s or ""
    while True:
        low = s.lower()
        for pre in ("re:", "fw:", "fwd:"):
            if low.startswith(pre):
                s = s[len(pre):].lstrip()
                break
        else:
            return s


def html_to_text(h):
    import re
    t = re.sub(r"(?is)<(script|style).*?</\1>", "", h or "")
    t = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", t)
    t = re.sub(r"<[^>]*>", "", t)
    import html
    return html.unescape(t).strip()


class Folder:
    def __init__(self, mailbox, name, parent_id, well_known=None,
                 folder_class="IPF.Note"):
        self.mailbox = mailbox
        self.id = make_id("F", mailbox, well_known)
        self.version = 1
        self.name = name
        self.parent_id = parent_id
        self.well_known = well_known
        self.folder_class = folder_class

    @property
    def change_key(self):
        return make_change_key(self.id, self.version)

    def xml(self, shape, mbox):
        tag = {"IPF.Appointment": "CalendarFolder",
               "IPF.Contact": "ContactsFolder",
               "IPF.Task": "TasksFolder"}.get(self.folder_class, "Folder")
        p = ["<t:%s>" % tag,
             '<t:FolderId Id="%s" ChangeKey="%s"/>' % (attr(self.id),
                                                       attr(self.change_key))]
        parent = mbox.folders.get(self.parent_id)
        if parent is not None and shape.has("folder:ParentFolderId", True):
            p.append('<t:ParentFolderId Id="%s" ChangeKey="%s"/>'
                     % (attr(parent.id), attr(parent.change_key)))
        if self.folder_class and shape.has("folder:FolderClass", True):
            p.append("<t:FolderClass>%s</t:FolderClass>"
                     % esc(self.folder_class))
        if shape.has("folder:DisplayName", True):
            p.append("<t:DisplayName>%s</t:DisplayName>" % esc(self.name))
        items = [i for i in mbox.items.values() if i.folder_id == self.id]
        if shape.has("folder:TotalCount", True):
            p.append("<t:TotalCount>%d</t:TotalCount>" % len(items))
        if shape.has("folder:ChildFolderCount", True):
            p.append("<t:ChildFolderCount>%d</t:ChildFolderCount>"
                     % len(mbox.children(self.id)))
        if shape.has("folder:EffectiveRights"):
            p.append("<t:EffectiveRights><t:CreateAssociated>true"
                     "</t:CreateAssociated><t:CreateContents>true"
                     "</t:CreateContents><t:CreateHierarchy>true"
                     "</t:CreateHierarchy><t:Delete>true</t:Delete>"
                     "<t:Modify>true</t:Modify><t:Read>true</t:Read>"
                     "<t:ViewPrivateItems>true</t:ViewPrivateItems>"
                     "</t:EffectiveRights>")
        if self.well_known and self.well_known != "root" and \
                shape.has("folder:DistinguishedFolderId"):
            p.append("<t:DistinguishedFolderId>%s</t:DistinguishedFolderId>"
                     % self.well_known)
        if tag in ("Folder", "TasksFolder") and \
                shape.has("folder:UnreadCount", True):
            p.append("<t:UnreadCount>%d</t:UnreadCount>"
                     % sum(1 for i in items if not i.is_read))
        p.append("</t:%s>" % tag)
        return "".join(p)


class FolderShape(ItemShape):
    pass


class Mailbox:
    def __init__(self, address):
        self.address = address
        self.user = user_by_address(address)
        self.folders = {}
        self.items = {}
        self.by_wk = {}
        for wk, name, parent, cls in WELL_KNOWN:
            f = Folder(address, name,
                       self.by_wk[parent].id if parent else None, wk,
                       cls)
            self.folders[f.id] = f
            self.by_wk[wk] = f
        self.oof = {"state": "Disabled", "audience": "All",
                    "start": None, "end": None,
                    "internal": "", "external": ""}

    def children(self, fid):
        return [f for f in self.folders.values() if f.parent_id == fid]

    def descendants(self, fid):
        out = []
        stack = [fid]
        while stack:
            cur = stack.pop(0)
            for c in sorted(self.children(cur), key=lambda f: f.name.lower()):
                out.append(c)
                stack.append(c.id)
        return out

    def folder(self, fid):
        return self.folders.get(fid)

    def items_in(self, fid):
        return [i for i in self.items.values() if i.folder_id == fid]

    def to_json(self, folder=None):
        fl = []
        for f in self.folders.values():
            if folder and folder not in (f.well_known, f.id, f.name):
                continue
            path = []
            cur = f
            while cur is not None and cur.well_known != "root":
                path.insert(0, cur.name)
                cur = self.folders.get(cur.parent_id)
            fl.append({"id": f.id, "change_key": f.change_key,
                       "name": f.name, "well_known": f.well_known,
                       "parent_id": f.parent_id,
                       "folder_class": f.folder_class,
                       "path": "/".join(path),
                       "items": [dict(i.to_json(), folder=f.well_known or
                                      f.name)
                                 for i in sorted(self.items_in(f.id),
                                                 key=lambda i: i.received)]})
        return {"mailbox": self.address, "folders": fl,
                "oof": dict(self.oof)}


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        self.mailboxes = {u["address"]: Mailbox(u["address"]) for u in USERS}

    def mailbox(self, addr):
        return self.mailboxes.get((addr or "").strip().lower())

    def find_item(self, ident):
        for mb in self.mailboxes.values():
            it = mb.items.get(ident)
            if it is not None:
                return mb, it
        return None, None

    def find_folder(self, ident):
        for mb in self.mailboxes.values():
            f = mb.folders.get(ident)
            if f is not None:
                return mb, f
        return None, None

    def find_attachment(self, ident):
        for mb in self.mailboxes.values():
            for it in mb.items.values():
                for a in it.attachments:
                    if a.id == ident:
                        return mb, it, a
        return None, None, None
