/* libFuzzer target for the exchange-ews readers of items and attachments
 * (brokers/exchange-ews/ews_mail_read.c): any EWS answer, parsed with its
 * t:Content decoded while parsed, read item by item: every value that
 * reaches a row is valid for its catalog type (ids and one-line text
 * TEXT, bodies MEMO, addresses plain SMTP ones, dates RFC 3339), every
 * attachment's name and content type are fit for a file, and what the
 * content sink keeps matches what it was given.
 *
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the
 * files given as arguments (make check runs it over its corpus). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include <svcbroker/types.h>
#include <svcbroker/xml.h>

#include "../../brokers/exchange-ews/ews_mail.h"
#include "fuzz.h"

#define DOC_MAX (256 * 1024)

static void text_ok(const char *s, const char *what)
{
	if (s)
		FUZZ_CHECK(sb_type_check(SB_TYPE_TEXT, s, NULL, NULL),
			   "%s not TEXT", what);
}

static void memo_ok(const char *s, const char *what)
{
	if (s)
		FUZZ_CHECK(sb_type_check(SB_TYPE_MEMO, s, NULL, NULL),
			   "%s not MEMO", what);
}

static void date_ok(const char *s, const char *what)
{
	if (s)
		FUZZ_CHECK(sb_type_check(SB_TYPE_DATETIME, s, NULL, NULL),
			   "%s not a datetime: %s", what, s);
}

static void addrs_ok(const struct ews_strs *a, const char *what)
{
	for (size_t i = 0; i < a->n; i++)
		FUZZ_CHECK(
		    sb_email_valid(a->v[i]) &&
			sb_type_check(SB_TYPE_EMAIL, a->v[i], NULL, NULL),
		    "%s[%zu] not an address", what, i);
}

static void row_ok(const struct ews_mail_row *r)
{
	FUZZ_CHECK(r->id && *r->id, "row without an id");
	text_ok(r->id, "Id");
	text_ok(r->change_key, "ChangeKey");
	text_ok(r->folder, "Folder");
	if (r->from)
		FUZZ_CHECK(sb_email_valid(r->from), "From not an address");
	addrs_ok(&r->to, "To");
	addrs_ok(&r->cc, "Cc");
	addrs_ok(&r->bcc, "Bcc");
	addrs_ok(&r->reply_to, "ReplyTo");
	text_ok(r->subject, "Subject");
	memo_ok(r->body, "Body");
	memo_ok(r->html_body, "HtmlBody");
	text_ok(r->message_id, "MessageId");
	date_ok(r->sent, "Sent");
	date_ok(r->received, "Received");
	FUZZ_CHECK((r->received == NULL) == (r->received_epoch == -1),
		   "Received and its epoch disagree");
	FUZZ_CHECK(r->is_read >= -1 && r->is_read <= 1, "IsRead");
	FUZZ_CHECK(r->has_attachments >= -1 && r->has_attachments <= 1,
		   "HasAttachments");
	if (r->importance)
		FUZZ_CHECK(!strcmp(r->importance, "Low") ||
			       !strcmp(r->importance, "Normal") ||
			       !strcmp(r->importance, "High"),
			   "Importance");
	for (size_t i = 0; i < r->n_atts; i++) {
		const struct ews_att_desc *d = &r->atts[i];
		text_ok(d->id, "attachment id");
		text_ok(d->name, "attachment name");
		FUZZ_CHECK(!strchr(d->name, '/') && !strchr(d->name, '\\'),
			   "attachment name with a separator");
		text_ok(d->content_type, "attachment content type");
		FUZZ_CHECK(d->size >= -1, "attachment size");
	}
}

static void walk(const xmlNode *n, struct ews_content_sink *sink,
		 unsigned *next, unsigned depth)
{
	for (const xmlNode *c = sb_xml_first_element(n); c && depth < 64;
	     c = sb_xml_next_element(c)) {
		if (c->ns && c->ns->href &&
		    !strcmp((const char *)c->ns->href, SB_NS_EWS_TYPES)) {
			struct ews_mail_row r;
			if (ews_mail_row_read(c, &r)) {
				row_ok(&r);
				ews_mail_row_recipients(&r, c);
				row_ok(&r);
				ews_mail_row_free(&r);
			}
			struct ews_att_desc d;
			if (ews_att_desc_read(c, &d)) {
				unsigned char *data = NULL;
				size_t len = 0;
				if (ews_att_content_from(c, sink, next, &data,
							 &len))
					FUZZ_CHECK(data != NULL, "content");
				free(data);
				ews_att_desc_free(&d);
			}
		}
		walk(c, sink, next, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		xmlInitParser();
		init = true;
	}
	if (size > DOC_MAX)
		return 0;
	struct sb_error err;
	struct ews_content_sink sink = {.max_each = DOC_MAX};
	xmlDoc *doc = sb_xml_parse_stream((const char *)data, size, DOC_MAX,
					  SB_NS_EWS_TYPES, "Content", DOC_MAX,
					  ews_content_sink_fn, &sink, &err);
	if (doc) {
		FUZZ_CHECK(!sink.failed, "sink failed but the parse did not");
		unsigned next = 0;
		walk((const xmlNode *)doc, &sink, &next, 0);
		sb_xml_free(doc);
	}
	ews_content_sink_free(&sink);
	return 0;
}
