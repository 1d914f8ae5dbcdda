/* Unit tests of exchange-ews Email and Attachment parts that need no
 * server: every request body they build is validated against Microsoft's
 * EWS schema (../shared/protocol/ews/schema/messages.xsd from the source
 * tree's root) and items from answers are read into row values, odd ones
 * included. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include <svcbroker/pagetoken.h>

#include "../ews_mail.h"

#ifndef EWS_TOP_SRCDIR
#define EWS_TOP_SRCDIR "."
#endif

/* The module's folder addressing (ews_client.c), as ews.h describes it:
 * a Mailbox in delegate mode, which these tests stand for by setting
 * op->mailbox. */
void ews_op_folder_mailbox(struct ews_op *op)
{
	if (!op->mailbox)
		return;
	sb_xml_w_open(&op->w, "t:Mailbox");
	sb_xml_w_leaf(&op->w, "t:EmailAddress", op->mailbox);
	sb_xml_w_close(&op->w);
}

static xmlSchemaPtr schema;

/* Microsoft's schema lives beside the repository, in
 * ../shared/protocol/ews (EWS_PROTOCOL_DIR overrides it); a build from a
 * tarball has none: the schema checks are skipped then, saying so. */
static void load_schema(void)
{
	char path[4096];
	const char *over = getenv("EWS_PROTOCOL_DIR");
	if (over && *over)
		snprintf(path, sizeof(path), "%s/schema/messages.xsd", over);
	else
		snprintf(path, sizeof(path),
			 "%s/../shared/protocol/ews/schema/messages.xsd",
			 EWS_TOP_SRCDIR);
	if (access(path, R_OK) != 0) {
		printf("# schema checks skipped: no EWS schema at %s\n", path);
		return;
	}
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
	if (pc) {
		schema = xmlSchemaParse(pc);
		xmlSchemaFreeParserCtxt(pc);
	}
	if (!schema) {
		fprintf(stderr, "cannot load the EWS schema %s\n", path);
		exit(EXIT_FAILURE);
	}
}

static void op_start(struct ews_op *op, const char *mailbox)
{
	memset(op, 0, sizeof(*op));
	sb_buf_init(&op->body, 0);
	sb_xml_w_init(&op->w, &op->body);
	op->mailbox = mailbox;
}

/* The finished body validated as the first child of soap:Body: 0 when
 * valid, else the number of schema errors (printed). */
static int op_validate(struct ews_op *op)
{
	struct sb_error err;
	ck_assert_int_eq(sb_xml_w_finish(&op->w, &err), SB_OK);
	struct sb_buf doc;
	sb_buf_init(&doc, 0);
	sb_buf_puts(&doc, "<B xmlns:m=\"" SB_NS_EWS_MESSAGES
			  "\" xmlns:t=\"" SB_NS_EWS_TYPES "\">");
	sb_buf_append(&doc, op->body.data, op->body.len);
	sb_buf_puts(&doc, "</B>");
	ck_assert(!doc.failed);
	if (!schema) { /* no schema here: well-formed is all we can say */
		xmlDoc *wf = xmlReadMemory(
		    doc.data, (int)doc.len, "body.xml", NULL,
		    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_HUGE);
		ck_assert_ptr_nonnull(wf);
		xmlFreeDoc(wf);
		sb_buf_free(&doc);
		return 0;
	}
	xmlDoc *d =
	    xmlReadMemory(doc.data, (int)doc.len, "body.xml", NULL,
			  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_HUGE);
	ck_assert_ptr_nonnull(d);
	xmlNode *el = sb_xml_first_element(xmlDocGetRootElement(d));
	ck_assert_ptr_nonnull(el);
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
	ck_assert_ptr_nonnull(vc);
	int rc = xmlSchemaValidateOneElement(vc, el);
	if (rc != 0)
		fprintf(stderr, "schema violation (%d) in: %.2000s\n", rc,
			op->body.data);
	xmlSchemaFreeValidCtxt(vc);
	xmlFreeDoc(d);
	sb_buf_free(&doc);
	return rc;
}

static void op_end(struct ews_op *op) { sb_buf_free(&op->body); }

static const char *const to2[] = {"bob@example.test", "carol@example.test"};
static const char *const cc1[] = {"dave@example.test"};

START_TEST(test_send_with_attachments_valid)
{
	static const unsigned char pdf[] = "%PDF-1.4 \x01\x02\xff";
	struct ews_att_in atts[] = {
	    {.name = "report <final>.pdf",
	     .content_type = "application/pdf",
	     .data = pdf,
	     .size = sizeof(pdf) - 1},
	    {.name = "logo.png",
	     .content_type = "image/png",
	     .data = pdf,
	     .size = 3,
	     .is_inline = true},
	};
	struct ews_msg_in m = {
	    .subject = "Quarterly & <numbers>",
	    .body = "plain\r\nline two",
	    .html_body = "<p>html wins</p>",
	    .importance = "High",
	    .to = {to2, 2},
	    .cc = {cc1, 1},
	    .bcc = {cc1, 1},
	    .reply_to = {to2, 1},
	    .atts = atts,
	    .n_atts = 2,
	};
	struct ews_op op;
	op_start(&op, NULL);
	ews_w_create_message(&op, "SendAndSaveCopy", &m, true);
	ck_assert_int_eq(op_validate(&op), 0);
	const char *b = op.body.data;
	ck_assert_ptr_nonnull(
	    strstr(b, "MessageDisposition=\"SendAndSaveCopy\""));
	ck_assert_ptr_nonnull(strstr(b, "Id=\"sentitems\""));
	/* HtmlBody wins: one body, HTML */
	ck_assert_ptr_nonnull(strstr(b, "<t:Body BodyType=\"HTML\">&lt;p&gt;"));
	ck_assert_ptr_null(strstr(b, "plain"));
	/* escaped values */
	ck_assert_ptr_nonnull(strstr(b, "Quarterly &amp; &lt;numbers&gt;"));
	ck_assert_ptr_nonnull(strstr(b, "report &lt;final&gt;.pdf"));
	/* base64 of the bytes */
	char *b64 = sb_base64_encode(pdf, sizeof(pdf) - 1, 0);
	ck_assert_ptr_nonnull(strstr(b, b64));
	free(b64);
	ck_assert_ptr_nonnull(strstr(b, "<t:IsInline>true</t:IsInline>"));
	op_end(&op);
}
END_TEST

START_TEST(test_draft_plain_delegate_valid)
{
	struct ews_msg_in m = {
	    .subject = "draft",
	    .body = "text\r\nwith CRLF",
	    .from = "boss@example.test",
	    .to = {to2, 1},
	};
	struct ews_op op;
	op_start(&op, "boss@example.test");
	ews_w_create_message(&op, "SaveOnly", &m, false);
	ck_assert_int_eq(op_validate(&op), 0);
	const char *b = op.body.data;
	ck_assert_ptr_nonnull(strstr(b, "Id=\"drafts\"><t:Mailbox>"));
	ck_assert_ptr_nonnull(strstr(b, "BodyType=\"Text\">text&#13;"));
	ck_assert_ptr_nonnull(
	    strstr(b, "<t:From><t:Mailbox><t:EmailAddress>boss@"));
	op_end(&op);
}
END_TEST

START_TEST(test_bad_text_refused_before_request)
{
	struct ews_msg_in m = {.subject = "bad \x01 control", .to = {to2, 1}};
	struct ews_op op;
	struct sb_error err;
	op_start(&op, NULL);
	ews_w_create_message(&op, "SendAndSaveCopy", &m, true);
	ck_assert_int_eq(sb_xml_w_finish(&op.w, &err), SB_ERR_INVALID_INPUT);
	op_end(&op);
}
END_TEST

START_TEST(test_response_objects_valid)
{
	static const char *const kinds[] = {"ReplyToItem", "ReplyAllToItem",
					    "ForwardItem"};
	for (int i = 0; i < 3; i++) {
		for (int save = 0; save < 2; save++) {
			struct ews_msg_in m = {
			    .body = "see below",
			    .to = {to2, i == 2 ? 2 : 0},
			    .cc = {cc1, 1},
			    .bcc = {cc1, save},
			};
			struct ews_op op;
			op_start(&op, save ? "x@example.test" : NULL);
			ews_w_response_object(
			    &op, kinds[i],
			    save ? "SaveOnly" : "SendAndSaveCopy",
			    "AAMk=", save ? "CQAA" : NULL, &m);
			ck_assert_int_eq(op_validate(&op), 0);
			char tag[64];
			snprintf(tag, sizeof(tag), "<t:%s>", kinds[i]);
			ck_assert_ptr_nonnull(strstr(op.body.data, tag));
			ck_assert_ptr_nonnull(strstr(
			    op.body.data, "<t:ReferenceItemId Id=\"AAMk=\""));
			ck_assert_ptr_nonnull(strstr(
			    op.body.data,
			    "<t:NewBodyContent BodyType=\"Text\">see below"));
			op_end(&op);
		}
	}
}
END_TEST

START_TEST(test_item_operations_valid)
{
	static const char *const ids[] = {"AAMkAG1=", "AAMkAG2=", "A&B"};
	struct ews_op op;

	op_start(&op, NULL);
	ews_w_get_items(&op, ids, 3, EWS_GET_FULL);
	ck_assert_int_eq(op_validate(&op), 0);
	ck_assert_ptr_nonnull(strstr(op.body.data, "Id=\"A&amp;B\""));
	ck_assert_ptr_nonnull(strstr(op.body.data, "item:TextBody"));
	op_end(&op);

	op_start(&op, NULL);
	ews_w_get_items(&op, ids, 2, EWS_GET_RECIPIENTS);
	ck_assert_int_eq(op_validate(&op), 0);
	ck_assert_ptr_nonnull(strstr(op.body.data, "message:CcRecipients"));
	ck_assert_ptr_null(strstr(op.body.data, "item:Body"));
	op_end(&op);

	op_start(&op, NULL);
	ews_w_get_attachments(&op, ids, 2);
	ck_assert_int_eq(op_validate(&op), 0);
	op_end(&op);

	op_start(&op, NULL);
	ews_w_delete_attachment(&op, ids[0]);
	ck_assert_int_eq(op_validate(&op), 0);
	op_end(&op);

	op_start(&op, "other@example.test");
	ews_w_move_item_head(&op);
	ews_w_distinguished(&op, "deleteditems");
	ews_w_move_item_tail(&op, ids[0]);
	ck_assert_int_eq(op_validate(&op), 0);
	ck_assert_ptr_nonnull(strstr(op.body.data, "ReturnNewItemIds>true"));
	op_end(&op);

	for (int hard = 0; hard < 2; hard++) {
		op_start(&op, NULL);
		ews_w_delete_item(&op, ids[0], hard);
		ck_assert_int_eq(op_validate(&op), 0);
		ck_assert_ptr_nonnull(strstr(
		    op.body.data, hard ? "\"HardDelete\"" : "\"MoveToDeleted"));
		op_end(&op);
	}

	op_start(&op, NULL);
	ews_w_mark_read(&op, ids[0], "CQAAABYA", false);
	ck_assert_int_eq(op_validate(&op), 0);
	ck_assert_ptr_nonnull(strstr(op.body.data, "ChangeKey=\"CQAAABYA\""));
	ck_assert_ptr_nonnull(strstr(op.body.data, "NeverOverwrite"));
	ck_assert_ptr_nonnull(strstr(op.body.data, "<t:IsRead>false<"));
	op_end(&op);

	op_start(&op, NULL);
	ews_w_mark_read(&op, ids[0], NULL, true);
	ck_assert_int_eq(op_validate(&op), 0);
	ck_assert_ptr_nonnull(strstr(op.body.data, "AlwaysOverwrite"));
	op_end(&op);

	op_start(&op, NULL);
	ews_w_send_item(&op, ids[0], "CQ");
	ck_assert_int_eq(op_validate(&op), 0);
	op_end(&op);

	static const unsigned char data[] = "hello";
	struct ews_att_in a = {.name = "h.txt",
			       .content_type = "text/plain",
			       .data = data,
			       .size = 5};
	op_start(&op, NULL);
	ews_w_create_attachments(&op, ids[0], "CQ", &a, 1);
	ck_assert_int_eq(op_validate(&op), 0);
	ck_assert_ptr_nonnull(strstr(op.body.data, "aGVsbG8="));
	op_end(&op);
}
END_TEST

START_TEST(test_find_items_and_position)
{
	struct ews_op op;
	op_start(&op, NULL);
	ews_w_find_items_head(&op, 50, NULL);
	ews_w_distinguished(&op, "inbox");
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	ck_assert_int_eq(op_validate(&op), 0);
	ck_assert_ptr_null(strstr(op.body.data, "Restriction"));
	ck_assert_ptr_nonnull(
	    strstr(op.body.data, "MaxEntriesReturned=\"50\""));
	ck_assert_ptr_nonnull(strstr(op.body.data, "Order=\"Descending\""));
	op_end(&op);

	struct ews_page_pos p = {.have = true, .received = 1777626000};
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "id%d", i);
		ck_assert(ews_page_pos_add(&p, id));
	}
	op_start(&op, NULL);
	ews_w_find_items_head(&op, 53, &p);
	sb_xml_w_open(&op.w, "t:FolderId");
	sb_xml_w_attr(&op.w, "Id", "AQMk");
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	ck_assert_int_eq(op_validate(&op), 0);
	ck_assert_ptr_nonnull(strstr(op.body.data, "<t:IsLessThan>"));
	ck_assert_ptr_nonnull(
	    strstr(op.body.data, "Value=\"2026-05-01T09:00:01Z\""));
	op_end(&op);

	unsigned char buf[SB_PAGE_TOKEN_POS_MAX];
	size_t n = ews_page_pos_encode(&p, buf, sizeof(buf));
	ck_assert_uint_eq(n, 11 + 3 * 8);
	struct ews_page_pos q;
	ck_assert(ews_page_pos_decode(buf, n, &q));
	ck_assert(q.have);
	ck_assert_int_eq(q.received, p.received);
	ck_assert(ews_page_pos_seen(&q, "id1"));
	ck_assert(!ews_page_pos_seen(&q, "id3"));
	ck_assert(!ews_page_pos_decode(buf, n - 1, &q));
	buf[0] ^= 1;
	ck_assert(!ews_page_pos_decode(buf, n, &q));

	/* a full position says so instead of growing */
	struct ews_page_pos full = {.have = true};
	unsigned added = 0;
	for (int i = 0; i < EWS_PAGE_SEEN_MAX + 5; i++) {
		char id[16];
		snprintf(id, sizeof(id), "x%d", i);
		if (ews_page_pos_add(&full, id))
			added++;
	}
	ck_assert_uint_eq(added, EWS_PAGE_SEEN_MAX);
	ck_assert_uint_le(ews_page_pos_encode(&full, buf, sizeof(buf)),
			  SB_PAGE_TOKEN_POS_MAX);
	ck_assert_uint_gt(ews_page_pos_encode(&full, buf, sizeof(buf)), 0);
}
END_TEST

/* ---- reading ------------------------------------------------------------ */

#define ENV_HEAD                                                               \
	"<s:Envelope xmlns:s=\"" SB_NS_SOAP11 "\"><s:Body>"                    \
	"<m:GetItemResponse xmlns:m=\"" SB_NS_EWS_MESSAGES                     \
	"\" xmlns:t=\"" SB_NS_EWS_TYPES "\"><m:ResponseMessages>"
#define ENV_TAIL                                                               \
	"</m:ResponseMessages></m:GetItemResponse></s:Body></s:Envelope>"

static xmlDoc *parse(const char *xml)
{
	struct sb_error err;
	xmlDoc *d = sb_xml_parse(xml, strlen(xml), 0, &err);
	ck_assert_msg(d != NULL, "%s", err.message);
	return d;
}

static xmlNode *first_item(xmlDoc *d)
{
	xmlNode *msg = sb_xml_find(sb_xml_root(d), SB_NS_EWS_MESSAGES,
				   "GetItemResponseMessage");
	ck_assert_ptr_nonnull(msg);
	return ews_items_first(msg);
}

static const char good_item[] = ENV_HEAD
    "<m:GetItemResponseMessage ResponseClass=\"Success\">"
    "<m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message>"
    "<t:ItemId Id=\"AAMkA1\" ChangeKey=\"CQAAA1\"/>"
    "<t:ParentFolderId Id=\"AQMkInbox\" ChangeKey=\"AQ\"/>"
    "<t:Subject>Hello &amp; welcome</t:Subject>"
    "<t:Body BodyType=\"HTML\">&lt;b&gt;hi&lt;/b&gt;</t:Body>"
    "<t:Attachments><t:FileAttachment><t:AttachmentId Id=\"AAMkAtt1\"/>"
    "<t:Name>../../etc/passwd</t:Name><t:ContentType>text/plain"
    "</t:ContentType><t:Size>12</t:Size><t:IsInline>false</t:IsInline>"
    "</t:FileAttachment><t:ItemAttachment><t:AttachmentId Id=\"AAMkAtt2\"/>"
    "<t:Name>Fwd: old</t:Name><t:Size>2048</t:Size></t:ItemAttachment>"
    "</t:Attachments>"
    "<t:DateTimeReceived>2026-05-01T09:00:00Z</t:DateTimeReceived>"
    "<t:Importance>High</t:Importance>"
    "<t:DateTimeSent>2026-05-01T08:59:58.123Z</t:DateTimeSent>"
    "<t:HasAttachments>true</t:HasAttachments>"
    "<t:TextBody>hi</t:TextBody>"
    "<t:ToRecipients><t:Mailbox><t:Name>Bob</t:Name>"
    "<t:EmailAddress>bob@example.test</t:EmailAddress>"
    "<t:RoutingType>SMTP</t:RoutingType></t:Mailbox>"
    "<t:Mailbox><t:EmailAddress>carol@example.test</t:EmailAddress>"
    "</t:Mailbox></t:ToRecipients>"
    "<t:CcRecipients><t:Mailbox><t:EmailAddress>dave@example.test"
    "</t:EmailAddress></t:Mailbox></t:CcRecipients>"
    "<t:From><t:Mailbox><t:EmailAddress>alice@example.test</t:EmailAddress>"
    "<t:RoutingType>SMTP</t:RoutingType></t:Mailbox></t:From>"
    "<t:InternetMessageId>&lt;1@example.test&gt;</t:InternetMessageId>"
    "<t:IsRead>false</t:IsRead>"
    "</t:Message></m:Items></m:GetItemResponseMessage>" ENV_TAIL;

START_TEST(test_read_item)
{
	xmlDoc *d = parse(good_item);
	struct ews_mail_row r;
	ck_assert(ews_mail_row_read(first_item(d), &r));
	ck_assert_str_eq(r.id, "AAMkA1");
	ck_assert_str_eq(r.change_key, "CQAAA1");
	ck_assert_str_eq(r.folder, "AQMkInbox");
	ck_assert_str_eq(r.subject, "Hello & welcome");
	ck_assert_str_eq(r.html_body, "<b>hi</b>");
	ck_assert_str_eq(r.body, "hi");
	ck_assert_str_eq(r.importance, "High");
	ck_assert_str_eq(r.received, "2026-05-01T09:00:00Z");
	ck_assert_int_eq(r.received_epoch, 1777626000);
	ck_assert_str_eq(r.sent, "2026-05-01T08:59:58Z");
	ck_assert_int_eq(r.has_attachments, 1);
	ck_assert_int_eq(r.is_read, 0);
	ck_assert_str_eq(r.from, "alice@example.test");
	ck_assert_uint_eq(r.to.n, 2);
	ck_assert_str_eq(r.to.v[1], "carol@example.test");
	ck_assert_uint_eq(r.cc.n, 1);
	ck_assert_str_eq(r.message_id, "<1@example.test>");
	ck_assert_uint_eq(r.n_atts, 2);
	ck_assert_str_eq(r.atts[0].id, "AAMkAtt1");
	ck_assert_ptr_null(strchr(r.atts[0].name, '/'));
	ck_assert_int_eq(r.atts[0].size, 12);
	ck_assert(!r.atts[0].is_item);
	ck_assert(r.atts[1].is_item);
	ck_assert_str_eq(r.atts[1].content_type, "message/rfc822");
	ck_assert_str_eq(r.atts[1].name, "Fwd: old.eml");
	ews_mail_row_free(&r);
	xmlFreeDoc(d);
}
END_TEST

/* Dates without an offset (EWS means UTC) and with long fractions. */
START_TEST(test_read_dates)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"2026-05-01T09:00:00", "2026-05-01T09:00:00Z"},
	    {"2026-05-01T09:00:00.1234567", "2026-05-01T09:00:00Z"},
	    {"2026-05-01T09:00:00.123456789012345678901234567890123456789Z",
	     "2026-05-01T09:00:00Z"},
	    {"2026-05-01T11:00:00.5+02:00", "2026-05-01T09:00:00Z"},
	    {"2026-05-01T09:00:00.", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *xml = NULL;
		ck_assert_int_gt(
		    asprintf(&xml,
			     ENV_HEAD
			     "<m:GetItemResponseMessage "
			     "ResponseClass=\"Success\"><m:ResponseCode>"
			     "NoError</m:ResponseCode><m:Items>"
			     "<t:Message><t:ItemId Id=\"AAMkD1\"/>"
			     "<t:DateTimeReceived>%s</t:DateTimeReceived>"
			     "</t:Message></m:Items>"
			     "</m:GetItemResponseMessage>" ENV_TAIL,
			     cases[i].in),
		    0);
		xmlDoc *d = parse(xml);
		struct ews_mail_row r;
		ck_assert(ews_mail_row_read(first_item(d), &r));
		if (cases[i].want)
			ck_assert_str_eq(r.received, cases[i].want);
		else
			ck_assert_ptr_null(r.received);
		ews_mail_row_free(&r);
		xmlFreeDoc(d);
		free(xml);
	}
}
END_TEST

/* A hostile mailbox's item: control characters, invalid UTF-8, dates that
 * are not dates, an EX sender the answer resolves and EX recipients it
 * does not, an address that is not one, an unknown importance. */
static const char hostile_item[] = ENV_HEAD
    "<m:GetItemResponseMessage ResponseClass=\"Success\">"
    "<m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message>"
    "<t:ItemId Id=\"AAMkH1\"/>"
    "<t:Subject>tab\there&#13;&#10;next \xc3\x28 bad&#x9f;&#x2028;</t:Subject>"
    "<t:Body BodyType=\"Text\">line1&#13;&#10;\xff</t:Body>"
    "<t:DateTimeReceived>2026-13-45T99:00:00Z</t:DateTimeReceived>"
    "<t:Importance>Urgent!</t:Importance>"
    "<t:DateTimeSent>yesterday</t:DateTimeSent>"
    "<t:HasAttachments>maybe</t:HasAttachments>"
    "<t:Sender><t:Mailbox><t:EmailAddress>/O=EXAMPLE/OU=FIRST/CN=ALICE"
    "</t:EmailAddress><t:RoutingType>EX</t:RoutingType></t:Mailbox>"
    "</t:Sender>"
    "<t:ToRecipients><t:Mailbox><t:EmailAddress>/O=EXAMPLE/CN=BOB"
    "</t:EmailAddress><t:RoutingType>EX</t:RoutingType></t:Mailbox>"
    "<t:Mailbox><t:EmailAddress>not an address</t:EmailAddress>"
    "</t:Mailbox><t:Mailbox><t:EmailAddress>ok@example.test"
    "</t:EmailAddress></t:Mailbox></t:ToRecipients>"
    "<t:From><t:Mailbox><t:EmailAddress>/O=EXAMPLE/OU=FIRST/CN=ALICE"
    "</t:EmailAddress><t:RoutingType>EX</t:RoutingType></t:Mailbox>"
    "</t:From>"
    "<t:InternetMessageId>&#x85;&#x7f;</t:InternetMessageId>"
    "<t:SenderSMTPAddress>alice@example.test</t:SenderSMTPAddress>"
    "</t:Message></m:Items></m:GetItemResponseMessage>" ENV_TAIL;

START_TEST(test_read_hostile_item)
{
	/* the invalid UTF-8 makes the document not well-formed for a strict
	 * parser: what the server sends must parse first, so the bytes are
	 * given as character references the parser accepts instead */
	struct sb_error err;
	xmlDoc *bad = sb_xml_parse(hostile_item, strlen(hostile_item), 0, &err);
	ck_assert_ptr_null(bad);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);

	char *fixed = strdup(hostile_item);
	ck_assert_ptr_nonnull(fixed);
	char *p = strstr(fixed, "\xc3\x28");
	memcpy(p, "??", 2);
	p = strstr(fixed, "\xff");
	*p = '?';
	xmlDoc *d = parse(fixed);
	struct ews_mail_row r;
	ck_assert(ews_mail_row_read(first_item(d), &r));
	ck_assert_str_eq(r.id, "AAMkH1");
	ck_assert_ptr_null(r.change_key);
	/* TEXT: TAB, CR, LF are spaces */
	ck_assert_ptr_null(strpbrk(r.subject, "\t\r\n"));
	ck_assert(sb_type_check(SB_TYPE_TEXT, r.subject, NULL, NULL));
	ck_assert(sb_type_check(SB_TYPE_MEMO, r.body, NULL, NULL));
	ck_assert_ptr_null(r.received);
	ck_assert_int_eq(r.received_epoch, -1);
	ck_assert_ptr_null(r.sent);
	ck_assert_ptr_null(r.importance);
	ck_assert_int_eq(r.has_attachments, -1);
	/* the EX From is the Sender, whose SMTP address the answer gives */
	ck_assert_str_eq(r.from, "alice@example.test");
	/* the EX and the broken recipients are left out */
	ck_assert_uint_eq(r.to.n, 1);
	ck_assert_str_eq(r.to.v[0], "ok@example.test");
	ck_assert_ptr_null(r.message_id);
	ews_mail_row_free(&r);
	xmlFreeDoc(d);
	free(fixed);
}
END_TEST

START_TEST(test_read_item_without_id)
{
	static const char xml[] =
	    ENV_HEAD "<m:GetItemResponseMessage ResponseClass=\"Success\">"
		     "<m:ResponseCode>NoError</m:ResponseCode><m:Items>"
		     "<t:Message><t:Subject>orphan</t:Subject></t:Message>"
		     "</m:Items></m:GetItemResponseMessage>" ENV_TAIL;
	xmlDoc *d = parse(xml);
	struct ews_mail_row r;
	ck_assert(!ews_mail_row_read(first_item(d), &r));
	ck_assert_ptr_null(r.id);
	ck_assert_ptr_null(r.subject);
	xmlFreeDoc(d);
}
END_TEST

/* The EX sender of another item's recipient list is added to a List row's
 * recipients read from the batched GetItem. */
START_TEST(test_recipients_merge)
{
	xmlDoc *d = parse(good_item);
	struct ews_mail_row r;
	ck_assert(ews_mail_row_read(first_item(d), &r));
	size_t n = r.to.n;
	ews_mail_row_recipients(&r, first_item(d));
	ck_assert_uint_eq(r.to.n, n); /* each address once */
	ews_mail_row_free(&r);
	xmlFreeDoc(d);
}
END_TEST

/* A GetAttachment answer with a small file, an attached message and a
 * 12 MiB file: decoded while parsed, the large content never becomes a
 * text node, each file's bytes land in their own buffer. */
START_TEST(test_stream_attachments)
{
	size_t big_n = 12u * 1024 * 1024;
	unsigned char *big = malloc(big_n);
	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < big_n; i++)
		big[i] = (unsigned char)(i * 7 + (i >> 13));
	char *big64 = sb_base64_encode(big, big_n, 0);
	ck_assert_ptr_nonnull(big64);
	struct sb_buf x;
	sb_buf_init(&x, 0);
	sb_buf_puts(&x,
		    "<s:Envelope xmlns:s=\"" SB_NS_SOAP11 "\"><s:Body>"
		    "<m:GetAttachmentResponse xmlns:m=\"" SB_NS_EWS_MESSAGES
		    "\" xmlns:t=\"" SB_NS_EWS_TYPES "\"><m:ResponseMessages>");
	static const char msg_head[] =
	    "<m:GetAttachmentResponseMessage ResponseClass=\"Success\">"
	    "<m:ResponseCode>NoError</m:ResponseCode><m:Attachments>";
	static const char msg_tail[] =
	    "</m:Attachments></m:GetAttachmentResponseMessage>";
	sb_buf_puts(&x, msg_head);
	sb_buf_puts(&x,
		    "<t:FileAttachment><t:AttachmentId Id=\"AAMkF1\" "
		    "RootItemId=\"AAMkI\" RootItemChangeKey=\"CQ1\"/>"
		    "<t:Name>a.txt</t:Name><t:Content>aGVs\nbG8=</t:Content>"
		    "</t:FileAttachment>");
	sb_buf_puts(&x, msg_tail);
	sb_buf_puts(&x, msg_head);
	sb_buf_puts(&x, "<t:ItemAttachment><t:AttachmentId Id=\"AAMkF2\"/>"
			"<t:Name>old</t:Name><t:Message><t:MimeContent "
			"CharacterSet=\"UTF-8\">RnJvbTogeEBleGFtcGxlLnRlc3QN"
			"Cg0KYm9keQ==</t:MimeContent></t:Message>"
			"</t:ItemAttachment>");
	sb_buf_puts(&x, msg_tail);
	sb_buf_puts(&x, msg_head);
	sb_buf_puts(&x, "<t:FileAttachment><t:AttachmentId Id=\"AAMkF3\"/>"
			"<t:Name>big.bin</t:Name><t:Content>");
	sb_buf_puts(&x, big64);
	sb_buf_puts(&x, "</t:Content></t:FileAttachment>");
	sb_buf_puts(&x, msg_tail);
	sb_buf_puts(&x, "</m:ResponseMessages></m:GetAttachmentResponse>"
			"</s:Body></s:Envelope>");
	ck_assert(!x.failed);
	free(big64);

	struct sb_error err;
	struct ews_content_sink sink = {.max_each = 16u << 20};
	xmlDoc *d = sb_xml_parse_stream(x.data, x.len, 64u << 20,
					SB_NS_EWS_TYPES, "Content", 16u << 20,
					ews_content_sink_fn, &sink, &err);
	ck_assert_msg(d != NULL, "%s", err.message);
	sb_buf_free(&x);
	ck_assert_uint_eq(sink.n, 2);

	unsigned next = 0, found = 0;
	for (xmlNode *m = sb_xml_find(sb_xml_root(d), SB_NS_EWS_MESSAGES,
				      "GetAttachmentResponseMessage");
	     m; m = sb_xml_next(m), found++) {
		xmlNode *a = sb_xml_first_element(
		    sb_xml_child(m, SB_NS_EWS_MESSAGES, "Attachments"));
		struct ews_att_desc desc;
		ck_assert(ews_att_desc_read(a, &desc));
		unsigned char *data = NULL;
		size_t n = 0;
		ck_assert(ews_att_content_from(a, &sink, &next, &data, &n));
		if (found == 0) {
			ck_assert_uint_eq(n, 5);
			ck_assert(memcmp(data, "hello", 5) == 0);
		} else if (found == 1) {
			ck_assert(desc.is_item);
			ck_assert_str_eq(desc.name, "old.eml");
			ck_assert_uint_eq(n, 28);
			ck_assert(memcmp(data, "From: x@example.test", 20) ==
				  0);
		} else {
			ck_assert_uint_eq(n, big_n);
			ck_assert(memcmp(data, big, big_n) == 0);
		}
		free(data);
		ews_att_desc_free(&desc);
	}
	ck_assert_uint_eq(found, 3);
	ck_assert_uint_eq(next, 2);
	ews_content_sink_free(&sink);
	sb_xml_free(d);
	free(big);
}
END_TEST

/* A sink over its cap stops the parse. */
START_TEST(test_stream_cap)
{
	static const char xml[] =
	    "<r xmlns:t=\"" SB_NS_EWS_TYPES "\"><t:Content>"
	    "QUJDREVGR0hJSktMTU5PUA==</t:Content></r>";
	struct ews_content_sink sink = {.max_each = 8};
	struct sb_error err;
	xmlDoc *d =
	    sb_xml_parse_stream(xml, strlen(xml), 0, SB_NS_EWS_TYPES, "Content",
				0, ews_content_sink_fn, &sink, &err);
	ck_assert_ptr_null(d);
	ck_assert(sink.failed);
	ews_content_sink_free(&sink);
}
END_TEST

/* The next position keeps what the next page may meet again: the
 * anchor's second (carried while the anchor stays), rows without a time
 * (carried always), never an older second. */
START_TEST(test_page_advance)
{
	struct ews_page_pos first = {0}, p1, p2, p3;
	const char *ids1[] = {"a", "b", "u1", "c", "d", "u2"};
	const int64_t t1[] = {300, 200, -1, 200, 100, -1};
	ews_page_pos_advance(&first, ids1, t1, 6, &p1);
	ck_assert(p1.have);
	ck_assert_int_eq(p1.received, 100);
	ck_assert_uint_eq(p1.n_undated, 2);
	ck_assert_uint_eq(p1.n_seen, 3);
	ck_assert(ews_page_pos_seen(&p1, "u1") && ews_page_pos_seen(&p1, "u2"));
	ck_assert(ews_page_pos_seen(&p1, "d"));
	ck_assert(!ews_page_pos_seen(&p1, "c")); /* an older page's second */

	/* a page in the same second: its Ids join the anchor's */
	const char *ids2[] = {"e", "f"};
	const int64_t t2[] = {100, 100};
	ews_page_pos_advance(&p1, ids2, t2, 2, &p2);
	ck_assert_int_eq(p2.received, 100);
	ck_assert_uint_eq(p2.n_seen, 5);
	ck_assert(ews_page_pos_seen(&p2, "d") && ews_page_pos_seen(&p2, "f"));
	ck_assert(ews_page_pos_seen(&p2, "u1"));

	/* a page moving on: the old second goes, undated rows stay */
	const char *ids3[] = {"g"};
	const int64_t t3[] = {50};
	ews_page_pos_advance(&p2, ids3, t3, 1, &p3);
	ck_assert_int_eq(p3.received, 50);
	ck_assert(!ews_page_pos_seen(&p3, "d"));
	ck_assert(ews_page_pos_seen(&p3, "g") && ews_page_pos_seen(&p3, "u2"));

	/* a first page without any time: everything, less what was seen */
	const char *ids4[] = {"x", "y"};
	const int64_t t4[] = {-1, -1};
	struct ews_page_pos p4;
	ews_page_pos_advance(&first, ids4, t4, 2, &p4);
	ck_assert_int_eq(p4.received, EWS_PAGE_END);
	ck_assert_uint_eq(p4.n_undated, 2);

	/* round trip of the encoding keeps both parts */
	unsigned char buf[SB_PAGE_TOKEN_POS_MAX];
	struct ews_page_pos q;
	size_t n = ews_page_pos_encode(&p2, buf, sizeof(buf));
	ck_assert(ews_page_pos_decode(buf, n, &q));
	ck_assert_uint_eq(q.n_undated, p2.n_undated);
	ck_assert_uint_eq(q.n_seen, p2.n_seen);
	ck_assert(memcmp(q.seen, p2.seen, 8 * p2.n_seen) == 0);
	buf[10] = (unsigned char)(p2.n_seen + 1); /* more undated than seen */
	ck_assert(!ews_page_pos_decode(buf, n, &q));
}
END_TEST

START_TEST(test_check_id)
{
	struct sb_error err;
	ck_assert_int_eq(ews_check_id("Id", "AAMkAGI2-_+/==", &err), SB_OK);
	ck_assert_int_eq(ews_check_id("Id", "", &err), SB_ERR_INVALID_INPUT);
	ck_assert_int_eq(ews_check_id("ItemId", "a b", &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(err.code, "ErrorInvalidIdMalformed");
	ck_assert_ptr_nonnull(strstr(err.message, "ItemId"));
	ck_assert_int_eq(ews_check_id("Id", "<x>", &err), SB_ERR_INVALID_INPUT);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ews_mail");
	TCase *tc = tcase_create("units");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_send_with_attachments_valid);
	tcase_add_test(tc, test_draft_plain_delegate_valid);
	tcase_add_test(tc, test_bad_text_refused_before_request);
	tcase_add_test(tc, test_response_objects_valid);
	tcase_add_test(tc, test_item_operations_valid);
	tcase_add_test(tc, test_find_items_and_position);
	tcase_add_test(tc, test_page_advance);
	tcase_add_test(tc, test_check_id);
	tcase_add_test(tc, test_read_item);
	tcase_add_test(tc, test_read_dates);
	tcase_add_test(tc, test_read_hostile_item);
	tcase_add_test(tc, test_read_item_without_id);
	tcase_add_test(tc, test_recipients_merge);
	tcase_add_test(tc, test_stream_attachments);
	tcase_add_test(tc, test_stream_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	load_schema();
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	xmlSchemaFree(schema);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
