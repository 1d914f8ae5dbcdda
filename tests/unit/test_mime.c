/* Unit tests for the MIME builder and reader (core/mime.c). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/mime.h>

static char *build(const struct sb_mime_message *m, struct sb_error *err,
		   enum sb_status *st, char *id)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	*st = sb_mime_build(m, &b, id, err);
	if (*st != SB_OK) {
		sb_buf_free(&b);
		return NULL;
	}
	return sb_buf_steal(&b);
}

/* Every line ends in CRLF, no bare CR or LF, lines <= 78 (headers) and
 * every byte is 7-bit. */
static void check_wire_format(const char *s)
{
	size_t col = 0;
	bool in_headers = true;
	for (const char *p = s; *p; p++) {
		ck_assert_msg((unsigned char)*p < 0x80, "8-bit byte at %td",
			      p - s);
		if (*p == '\r') {
			ck_assert_msg(p[1] == '\n', "bare CR at %td", p - s);
			if (col == 0)
				in_headers = false;
			if (in_headers)
				ck_assert_msg(col <= 78, "header line of %zu",
					      col);
			else
				ck_assert_msg(col <= 78, "body line of %zu",
					      col);
			col = 0;
			p++;
			continue;
		}
		ck_assert_msg(*p != '\n', "bare LF at %td", p - s);
		col++;
	}
	ck_assert_uint_eq(col, 0);
}

static const char *hdr_line(const char *msg, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = msg; p && *p;) {
		if (!strncasecmp(p, name, n) && p[n] == ':')
			return p;
		if (p[0] == '\r' && p[1] == '\n')
			return NULL; /* end of headers */
		p = strstr(p, "\r\n");
		if (p)
			p += 2;
	}
	return NULL;
}

START_TEST(test_simple_roundtrip)
{
	const char *to[] = {"alice@example.test",
			    "Bob Example <bob@example.test>"};
	const char *cc[] = {"carol@example.test"};
	const char *rt[] = {"replies@example.test"};
	struct sb_mime_message m = {
	    .from = "sender@example.test",
	    .to = to,
	    .n_to = 2,
	    .cc = cc,
	    .n_cc = 1,
	    .reply_to = rt,
	    .n_reply_to = 1,
	    .subject = "Quarterly report",
	    .body = "Hello,\nthe report is attached.\n",
	    .importance = "Low",
	};
	struct sb_error err = {0};
	enum sb_status st;
	char id[256] = "";
	char *msg = build(&m, &err, &st, id);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	check_wire_format(msg);
	ck_assert_ptr_nonnull(hdr_line(msg, "Date"));
	ck_assert_ptr_nonnull(hdr_line(msg, "MIME-Version"));
	ck_assert_ptr_nonnull(strstr(msg, "Subject: Quarterly report\r\n"));
	ck_assert_ptr_nonnull(strstr(msg, "X-Priority: 5 (Lowest)\r\n"));
	ck_assert_ptr_nonnull(strstr(msg, "Importance: low\r\n"));
	ck_assert_ptr_nonnull(
	    strstr(msg, "Reply-To: replies@example.test\r\n"));
	ck_assert_ptr_nonnull(strstr(msg, "charset=utf-8"));
	ck_assert_ptr_null(hdr_line(msg, "Bcc"));
	ck_assert_ptr_null(hdr_line(msg, "Sender"));
	/* Message-ID: generated, random, domain of From */
	ck_assert_int_eq(id[0], '<');
	ck_assert_ptr_nonnull(strstr(id, "@example.test>"));
	char *hid = sb_mime_header(msg, strlen(msg), "message-id");
	ck_assert_str_eq(hid, id);
	free(hid);

	struct sb_mime_parsed p;
	ck_assert_int_eq(sb_mime_parse(msg, strlen(msg), &p, &err), SB_OK);
	ck_assert_str_eq(p.from, "sender@example.test");
	ck_assert_uint_eq(p.n_to, 2);
	ck_assert_str_eq(p.to[0], "alice@example.test");
	ck_assert_str_eq(p.to[1], "bob@example.test");
	ck_assert_uint_eq(p.n_cc, 1);
	ck_assert_str_eq(p.cc[0], "carol@example.test");
	ck_assert_uint_eq(p.n_reply_to, 1);
	ck_assert_str_eq(p.subject, "Quarterly report");
	ck_assert_str_eq(p.body, "Hello,\nthe report is attached.\n");
	ck_assert_ptr_null(p.html_body);
	ck_assert_str_eq(p.importance, "Low");
	ck_assert_str_eq(p.message_id, id);
	ck_assert_uint_eq(p.n_attachments, 0);
	sb_mime_parsed_free(&p);

	/* two builds never share a Message-ID */
	char id2[256] = "";
	char *msg2 = build(&m, &err, &st, id2);
	ck_assert_int_eq(st, SB_OK);
	ck_assert_str_ne(id, id2);
	free(msg2);
	free(msg);
}
END_TEST

/* Decode every encoded-word of a header on its own: each must be valid
 * UTF-8 by itself (no character split across two words). */
static void check_words_whole(const char *msg, const char *name)
{
	char *v = sb_mime_header(msg, strlen(msg), name);
	ck_assert_ptr_nonnull(v);
	const char *p = v;
	int words = 0;
	while ((p = strstr(p, "=?"))) {
		const char *w0 = p;
		bool utf8_b = !strncasecmp(p, "=?utf-8?B?", 10);
		p = strchr(p + 2, '?');
		ck_assert_ptr_nonnull(p);
		p += 3; /* ?B? or ?Q? */
		const char *e = strstr(p, "?=");
		ck_assert_ptr_nonnull(e);
		if (utf8_b) {
			size_t n;
			unsigned char *d =
			    sb_base64_decode(p, (size_t)(e - p), &n);
			ck_assert_ptr_nonnull(d);
			ck_assert_msg(sb_utf8_valid((char *)d, n),
				      "word %d of %s splits a character", words,
				      name);
			free(d);
		}
		ck_assert_uint_le((size_t)(e + 2 - w0), 75);
		words++;
		p = e + 2;
	}
	ck_assert_int_gt(words, 0);
	free(v);
}

START_TEST(test_unicode_subject_and_names)
{
	/* 4-byte characters everywhere, so any cut at a fixed byte count
	 * would split one */
	char subject[600] = "";
	for (int i = 0; i < 40; i++)
		strcat(subject,
		       i % 3 ? "\xF0\x9F\x98\x80" : "\xC3\xA9t\xC3\xA9 ");
	const char *to[] = {
	    "Zo\xC3\xAB \xC3\x9Cn\xC3\xAF\x63\xC3\xB6\x64\xC3\xA9 "
	    "<zoe@example.test>"};
	struct sb_mime_message m = {
	    .from = "\"Smith, J\xC3\xB6rg\" <jorg@example.test>",
	    .to = to,
	    .n_to = 1,
	    .subject = subject,
	    .body = "Gr\xC3\xBC\xC3\x9F\x65 \xE2\x80\x94 caf\xC3\xA9",
	};
	struct sb_error err = {0};
	enum sb_status st;
	char *msg = build(&m, &err, &st, NULL);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	check_wire_format(msg);
	check_words_whole(msg, "Subject");
	check_words_whole(msg, "From");

	struct sb_mime_parsed p;
	ck_assert_int_eq(sb_mime_parse(msg, strlen(msg), &p, &err), SB_OK);
	/* header text is written without its trailing white space */
	subject[strlen(subject) - 1] = '\0';
	ck_assert_str_eq(p.subject, subject);
	/* a single part's text ends with a line break */
	ck_assert_str_eq(p.body,
			 "Gr\xC3\xBC\xC3\x9F\x65 \xE2\x80\x94 caf\xC3\xA9\n");
	ck_assert_str_eq(p.from, "jorg@example.test");
	ck_assert_str_eq(p.to[0], "zoe@example.test");
	sb_mime_parsed_free(&p);
	free(msg);
}
END_TEST

START_TEST(test_long_ascii_subject_folds)
{
	char subject[600] = "";
	for (int i = 0; i < 30; i++)
		strcat(subject, "folding words ");
	strcat(subject, "end");
	struct sb_mime_message m = {.from = "a@example.test",
				    .subject = subject};
	const char *to[] = {"b@example.test"};
	m.to = to;
	m.n_to = 1;
	struct sb_error err = {0};
	enum sb_status st;
	char *msg = build(&m, &err, &st, NULL);
	ck_assert_int_eq(st, SB_OK);
	check_wire_format(msg);
	ck_assert_ptr_null(
	    strstr(msg, "=?utf-8?")); /* plain ASCII stays plain */
	char *v = sb_mime_header(msg, strlen(msg), "Subject");
	ck_assert_str_eq(v, subject); /* unfolding restores it */
	free(v);
	free(msg);
}
END_TEST

START_TEST(test_alternative_and_attachments)
{
	unsigned char bin[1000];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 7);
	struct sb_file att[] = {
	    {"r\xC3\xA9sum\xC3\xA9 \xE2\x82\xAC avec un nom de fichier "
	     "tr\xC3\xA8s long pour les suites.pdf",
	     "application/pdf", bin, sizeof(bin)},
	    {"notes.txt", "text/plain; charset=\"us-ascii\"; name=old.txt",
	     (const unsigned char *)"a\r\nb", 4},
	    {"empty.bin", "application/octet-stream", NULL, 0},
	};
	const char *to[] = {"b@example.test"};
	struct sb_mime_message m = {
	    .from = "a@example.test",
	    .to = to,
	    .n_to = 1,
	    .subject = "Files",
	    .body = "plain part",
	    .html_body = "<p>html \xC3\xA9</p>",
	    .attachments = att,
	    .n_attachments = 3,
	    .importance = "High",
	};
	struct sb_error err = {0};
	enum sb_status st;
	char *msg = build(&m, &err, &st, NULL);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	check_wire_format(msg);
	ck_assert_ptr_nonnull(strstr(msg, "multipart/mixed"));
	ck_assert_ptr_nonnull(strstr(msg, "multipart/alternative"));
	ck_assert_ptr_nonnull(
	    strstr(msg, "filename*0*=UTF-8''r%C3%A9sum%C3%A9"));
	/* no RFC 2231 section ends inside a UTF-8 character */
	for (const char *q = strstr(msg, "filename*0*="); q && *q != '-';) {
		const char *e = strstr(q, "\r\n");
		const char *semi = e[-1] == ';' ? e - 1 : e;
		ck_assert_msg(semi - q < 3 || semi[-3] != '%' ||
				  !strchr("CDEF", semi[-2]),
			      "section ends with a lead byte: %.*s",
			      (int)(semi - q), q);
		q = e + 2;
		if (*q != ' ' && *q != '\t')
			break;
	}
	/* the Content-Type name is RFC 2231 too, never an encoded-word */
	ck_assert_ptr_nonnull(strstr(msg, "\tname*0*=UTF-8''r%C3%A9sum%C3%A9"));
	ck_assert_ptr_null(strcasestr(msg, "name=\"=?"));
	ck_assert_ptr_nonnull(strstr(msg, "filename=notes.txt\r\n"));
	/* parameters of the given type kept, its name replaced */
	ck_assert_ptr_nonnull(strstr(msg,
				     "Content-Type: text/plain; "
				     "charset=us-ascii; name=notes.txt\r\n"));
	ck_assert_ptr_null(strstr(msg, "old.txt"));
	ck_assert_ptr_nonnull(strstr(msg, "X-Priority: 1 (Highest)"));
	ck_assert_ptr_nonnull(strstr(msg, "Content-Disposition: attachment"));

	struct sb_mime_parsed p;
	ck_assert_int_eq(sb_mime_parse(msg, strlen(msg), &p, &err), SB_OK);
	ck_assert_str_eq(p.body, "plain part");
	/* text without a final line break ends with a soft one */
	ck_assert_ptr_nonnull(strstr(msg, "\r\n\r\nplain part\r\n--"));
	ck_assert_str_eq(p.html_body, "<p>html \xC3\xA9</p>");
	ck_assert_str_eq(p.importance, "High");
	ck_assert_uint_eq(p.n_attachments, 3);
	ck_assert_str_eq(p.attachments[0].name, att[0].name);
	ck_assert_str_eq(p.attachments[0].content_type, "application/pdf");
	ck_assert_uint_eq(p.attachments[0].size, sizeof(bin));
	ck_assert_mem_eq(p.attachments[0].data, bin, sizeof(bin));
	ck_assert_str_eq(p.attachments[1].name, "notes.txt");
	ck_assert_uint_eq(p.attachments[1].size, 4);
	ck_assert_mem_eq(p.attachments[1].data, "a\r\nb", 4);
	ck_assert_str_eq(p.attachments[2].name, "empty.bin");
	ck_assert_uint_eq(p.attachments[2].size, 0);
	sb_mime_parsed_free(&p);
	free(msg);
}
END_TEST

START_TEST(test_qp_body_edges)
{
	char longline[300];
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	const char *bodies[] = {
	    "",
	    "\n",
	    "trailing space \nand tab\t\nend",
	    "=3D literal = signs ==",
	    ".\n..\n.",
	    "From here\nFrom there",
	    longline,
	    "caf\xC3\xA9\n\n\nthree blank lines\n",
	    "line\r\nwith CRLF\r\n",
	};
	const char *want[] = {
	    "",
	    "\n",
	    "trailing space \nand tab\t\nend",
	    "=3D literal = signs ==",
	    ".\n..\n.",
	    "From here\nFrom there",
	    longline,
	    "caf\xC3\xA9\n\n\nthree blank lines\n",
	    "line\nwith CRLF\n",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		const char *to[] = {"b@example.test"};
		struct sb_mime_message m = {.from = "a@example.test",
					    .to = to,
					    .n_to = 1,
					    .body = bodies[i]};
		struct sb_error err = {0};
		enum sb_status st;
		char *msg = build(&m, &err, &st, NULL);
		ck_assert_int_eq(st, SB_OK);
		check_wire_format(msg);
		struct sb_mime_parsed p;
		ck_assert_int_eq(sb_mime_parse(msg, strlen(msg), &p, &err),
				 SB_OK);
		/* GMime ends a single-part message's text with a line
		 * break, as Python's email does */
		char w[400];
		size_t wl = strlen(want[i]);
		snprintf(w, sizeof w, "%s%s", want[i],
			 wl && want[i][wl - 1] != '\n' ? "\n" : "");
		ck_assert_msg(!strcmp(p.body, w), "body %zu: [%s]", i, p.body);
		sb_mime_parsed_free(&p);
		free(msg);
	}
}
END_TEST

static void expect_refused(struct sb_mime_message *m, const char *field)
{
	struct sb_error err = {0};
	struct sb_buf b;
	sb_buf_init(&b, 0);
	enum sb_status st = sb_mime_build(m, &b, NULL, &err);
	ck_assert_msg(st == SB_ERR_INVALID_INPUT, "%s: not refused", field);
	ck_assert_msg(!strncmp(err.message, field, strlen(field)),
		      "message [%s] does not name %s", err.message, field);
	ck_assert_uint_eq(b.len, 0); /* nothing written */
	sb_buf_free(&b);
}

START_TEST(test_refusals)
{
	const char *to[] = {"b@example.test"};
	struct sb_mime_message base = {
	    .from = "a@example.test", .to = to, .n_to = 1, .subject = "ok"};
	struct sb_mime_message m = base;
	m.subject = "hi\r\nBcc: victim@example.test";
	expect_refused(&m, "Subject");
	m = base;
	m.subject = "hi\nX: y";
	expect_refused(&m, "Subject");
	m = base;
	m.subject = "bad \xC3\x28 utf8";
	expect_refused(&m, "Subject");
	m = base;
	m.from = "not an address";
	expect_refused(&m, "From");
	m = base;
	m.from = "Eve <eve@example.test>\r\nBcc: x@example.test";
	expect_refused(&m, "From");
	m = base;
	const char *badto[] = {"ok@example.test", "two@@example.test"};
	m.to = badto;
	m.n_to = 2;
	expect_refused(&m, "To");
	/* shapes GMime 3.2.13 refuses only after reading an address it does
	 * not free: refused before GMime reads them (the ASan and valgrind
	 * passes see no leak); quoted and commented ones still pass */
	static const char *const leaky[] = {
	    "a@example.test (open comment",    "a@example.test>",
	    "a@example.test <b@example.test>", "Ann <a@example.test",
	    "\"Ann <a@example.test",	       "Ann) <a@example.test>"};
	for (size_t i = 0; i < sizeof(leaky) / sizeof(*leaky); i++) {
		m = base;
		m.to = &leaky[i];
		m.n_to = 1;
		expect_refused(&m, "To");
	}
	static const char *const fine[] = {"a@example.test (Ann (the first))",
					   "\"Ann <x@y> (z\" <a@example.test>"};
	for (size_t i = 0; i < sizeof(fine) / sizeof(*fine); i++) {
		m = base;
		m.to = &fine[i];
		m.n_to = 1;
		struct sb_buf out;
		sb_buf_init(&out, 0);
		struct sb_error e = {0};
		ck_assert_msg(sb_mime_build(&m, &out, NULL, &e) == SB_OK,
			      "%s refused: %s", fine[i], e.message);
		sb_buf_free(&out);
	}
	m = base;
	const char *badcc[] = {"x@example.test\n"};
	m.cc = badcc;
	m.n_cc = 1;
	expect_refused(&m, "Cc");
	m = base;
	m.reply_to = badcc;
	m.n_reply_to = 1;
	expect_refused(&m, "ReplyTo");
	m = base;
	m.sender = "nobody";
	expect_refused(&m, "Sender");
	m = base;
	m.body = "\xFF\xFE";
	expect_refused(&m, "Body");
	m = base;
	m.html_body = "<p>\xC0\x80</p>";
	expect_refused(&m, "HtmlBody");
	m = base;
	m.importance = "Urgent";
	expect_refused(&m, "Importance");
	m = base;
	struct sb_file f = {"a\r\nb.txt", "text/plain",
			    (const unsigned char *)"x", 1};
	m.attachments = &f;
	m.n_attachments = 1;
	expect_refused(&m, "Attachments[0].Name");
	f.name = "ok.txt";
	f.content_type = "text/plain\r\nX-Evil: 1";
	expect_refused(&m, "Attachments[0].ContentType");
	f.content_type = "nonsense";
	expect_refused(&m, "Attachments[0].ContentType");
	f.content_type = "text/plain; charset";
	expect_refused(&m, "Attachments[0].ContentType");
	f.content_type = "text/plain; a=\"unterminated";
	expect_refused(&m, "Attachments[0].ContentType");
	f.content_type = "text/plain; a=b c";
	expect_refused(&m, "Attachments[0].ContentType");
	/* a container is not a leaf: written so, it would read back as an
	 * empty multipart and the data would be lost */
	f.content_type = "multipart/mixed";
	expect_refused(&m, "Attachments[0].ContentType");
	f.content_type = "Multipart/Related; type=text/html";
	expect_refused(&m, "Attachments[0].ContentType");
	m = base;
	m.from = NULL;
	expect_refused(&m, "From");
	m = base;
	m.message_id = "no-angle@x";
	expect_refused(&m, "MessageId");
}
END_TEST

/* Found by tests/fuzz/fuzz_mime: a name of a few hundred non-ASCII
 * characters took more RFC 2231 sections than the reader puts together, so
 * the message read back with the name cut.  255 bytes (the file inputs'
 * limit) read back whole; one more is refused. */
START_TEST(test_long_attachment_name)
{
	char name[260];
	memset(name, 0, sizeof(name));
	for (size_t i = 0; i + 2 <= 254; i += 2)
		memcpy(name + i, "\xc3\xbf", 2); /* U+00FF: %C3%BF each */
	name[254] = 'x';
	ck_assert_uint_eq(strlen(name), 255);
	struct sb_file f = {name, "text/plain", (const unsigned char *)"x", 1};
	const char *to[] = {"b@example.com"};
	struct sb_mime_message m = {.from = "a@example.com",
				    .to = to,
				    .n_to = 1,
				    .date = 1700000000,
				    .attachments = &f,
				    .n_attachments = 1};
	struct sb_buf b;
	sb_buf_init(&b, 0);
	struct sb_error err = {0};
	ck_assert_int_eq(sb_mime_build(&m, &b, NULL, &err), SB_OK);
	struct sb_mime_parsed p;
	ck_assert_int_eq(sb_mime_parse(b.data, b.len, &p, &err), SB_OK);
	ck_assert_uint_eq(p.n_attachments, 1);
	ck_assert_str_eq(p.attachments[0].name, name);
	sb_mime_parsed_free(&p);
	sb_buf_free(&b);
	name[255] = 'y';
	expect_refused(&m, "Attachments[0].Name");
}
END_TEST

START_TEST(test_sender_header)
{
	const char *to[] = {"b@example.test"};
	struct sb_mime_message m = {.from = "boss@example.test",
				    .sender = "robot@example.test",
				    .to = to,
				    .n_to = 1,
				    .message_id = "<fixed.1@example.test>",
				    .date = 1800000000};
	struct sb_error err = {0};
	enum sb_status st;
	char id[256];
	char *msg = build(&m, &err, &st, id);
	ck_assert_int_eq(st, SB_OK);
	ck_assert_ptr_nonnull(
	    strstr(msg, "\r\nSender: robot@example.test\r\n"));
	ck_assert_ptr_nonnull(strstr(msg, "\r\nFrom: boss@example.test\r\n"));
	ck_assert_str_eq(id, "<fixed.1@example.test>");
	ck_assert_ptr_nonnull(
	    strstr(msg, "Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"));
	free(msg);
}
END_TEST

START_TEST(test_many_recipients_fold)
{
	const char *to[40];
	char store[40][64];
	for (int i = 0; i < 40; i++) {
		snprintf(store[i], sizeof(store[i]),
			 "R\xC3\xA9\x63ipient %d <user%d@example.test>", i, i);
		to[i] = store[i];
	}
	struct sb_mime_message m = {
	    .from = "a@example.test", .to = to, .n_to = 40};
	struct sb_error err = {0};
	enum sb_status st;
	char *msg = build(&m, &err, &st, NULL);
	ck_assert_int_eq(st, SB_OK);
	check_wire_format(msg);
	struct sb_mime_parsed p;
	ck_assert_int_eq(sb_mime_parse(msg, strlen(msg), &p, &err), SB_OK);
	ck_assert_uint_eq(p.n_to, 40);
	ck_assert_str_eq(p.to[39], "user39@example.test");
	sb_mime_parsed_free(&p);
	free(msg);
}
END_TEST

/* ---- reader on messages written by other tools -------------------------- */

START_TEST(test_parse_foreign_lf_latin1)
{
	const char *raw =
	    "Received: from x\n"
	    "From: =?iso-8859-1?Q?J=F6rg_M=FCller?= <jorg@example.test>\n"
	    "To: undisclosed-recipients:;\n"
	    "Cc: \"Doe, Jane\" <jane@example.test>, plain@example.test (c)\n"
	    "Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\n"
	    "  =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\n"
	    "X-Priority: 2\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: MULTIPART/Mixed; boundary=XyZ\n"
	    "\n"
	    "preamble\n"
	    "--XyZ\n"
	    "Content-Type: text/plain; charset=\"ISO-8859-1\"\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "Gr=FC=DFe, soft=\n"
	    "break\n"
	    "--XyZ\n"
	    "Content-Type: application/octet-stream;\n"
	    "\tname*0*=utf-8''%E2%82%AC%20;\n"
	    "\tname*1*=report.txt\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "aGVs\n"
	    "bG8=\n"
	    "--XyZ\n"
	    "Content-Type: image/png\n"
	    "Content-Disposition: attachment; "
	    "filename=\"..\\\\..\\\\evil.png\"\n"
	    "\n"
	    "raw\n"
	    "--XyZ--\n"
	    "epilogue\n";
	struct sb_mime_parsed p;
	struct sb_error err = {0};
	ck_assert_int_eq(sb_mime_parse(raw, strlen(raw), &p, &err), SB_OK);
	ck_assert_str_eq(p.from, "jorg@example.test");
	ck_assert_uint_eq(p.n_to, 0);
	ck_assert_uint_eq(p.n_cc, 2);
	ck_assert_str_eq(p.cc[0], "jane@example.test");
	ck_assert_str_eq(p.cc[1], "plain@example.test");
	ck_assert_str_eq(p.subject,
			 "If you can read this you understand the example.");
	ck_assert_str_eq(p.importance, "High");
	ck_assert_str_eq(p.body, "Gr\xC3\xBC\xC3\x9F\x65, softbreak");
	ck_assert_uint_eq(p.n_attachments, 2);
	ck_assert_str_eq(p.attachments[0].name, "\xE2\x82\xAC report.txt");
	ck_assert_uint_eq(p.attachments[0].size, 5);
	ck_assert_mem_eq(p.attachments[0].data, "hello", 5);
	ck_assert_str_eq(p.attachments[1].name, "evil.png");
	ck_assert_str_eq(p.attachments[1].content_type, "image/png");
	ck_assert_mem_eq(p.attachments[1].data, "raw", 3);
	sb_mime_parsed_free(&p);

	char *from = sb_mime_header(raw, strlen(raw), "FROM");
	ck_assert_str_eq(
	    from, "=?iso-8859-1?Q?J=F6rg_M=FCller?= <jorg@example.test>");
	free(from);
	char *subj = sb_mime_header(raw, strlen(raw), "subject");
	ck_assert_ptr_nonnull(strstr(subj, "?=  =?ISO-8859-2")); /* unfolded */
	free(subj);
	ck_assert_ptr_null(sb_mime_header(raw, strlen(raw), "X-Missing"));
}
END_TEST

START_TEST(test_parse_invalid_utf8_replaced)
{
	const char *raw =
	    "From: a@example.test\r\n"
	    "Subject: bad \xFF byte\r\n"
	    "Content-Type: text/plain; charset=x-no-such-charset\r\n"
	    "\r\n"
	    "ok \xC3\xA9 bad \xC3\r\n";
	struct sb_mime_parsed p;
	struct sb_error err = {0};
	ck_assert_int_eq(sb_mime_parse(raw, strlen(raw), &p, &err), SB_OK);
	ck_assert(sb_utf8_valid(p.subject, strlen(p.subject)));
	ck_assert_str_eq(p.subject, "bad \xEF\xBF\xBD byte");
	/* the line break that ends a single-part message is content */
	ck_assert_str_eq(p.body, "ok \xC3\xA9 bad \xEF\xBF\xBD\n");
	sb_mime_parsed_free(&p);
}
END_TEST

START_TEST(test_parse_other_charsets)
{
	/* any charset glibc's iconv knows, in headers (RFC 2047) and bodies */
	const char *raw =
	    "From: a@example.test\r\n"
	    "Subject: =?koi8-r?B?8NLJ18XU?= =?windows-1252?Q?=80?="
	    "\r\n"
	    "Content-Type: text/plain; charset=koi8-r\r\n"
	    "\r\n"
	    "\xf0\xd2\xc9\xd7\xc5\xd4\r\n";
	struct sb_mime_parsed p;
	struct sb_error err = {0};
	ck_assert_int_eq(sb_mime_parse(raw, strlen(raw), &p, &err), SB_OK);
	ck_assert_str_eq(p.subject, "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5"
				    "\xD1\x82\xE2\x82\xAC"); /* Привет€ */
	ck_assert_str_eq(p.body, "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5"
				 "\xD1\x82\n");
	sb_mime_parsed_free(&p);

	/* Shift_JIS with an invalid byte pair: replaced, the rest kept;
	 * a name that is not a plain charset name is never given to iconv */
	const char *sj = "From: a@example.test\r\n"
			 "Content-Type: text/plain; charset=shift_jis\r\n"
			 "\r\n"
			 "\x93\xfa\x96\x7b \x81\x7f\xff x";
	ck_assert_int_eq(sb_mime_parse(sj, strlen(sj), &p, &err), SB_OK);
	ck_assert(sb_utf8_valid(p.body, strlen(p.body)));
	ck_assert_ptr_nonnull(
	    strstr(p.body, "\xE6\x97\xA5\xE6\x9C\xAC ")); /* 日本 */
	ck_assert_ptr_nonnull(strstr(p.body, " x"));
	sb_mime_parsed_free(&p);

	const char *odd =
	    "From: a@example.test\r\n"
	    "Content-Type: text/plain; charset=\"koi8-r//TRANSLIT\"\r\n"
	    "\r\n"
	    "\xf0 ok\r\n";
	ck_assert_int_eq(sb_mime_parse(odd, strlen(odd), &p, &err), SB_OK);
	/* iconv knows koi8-r with //TRANSLIT */
	ck_assert_str_eq(p.body, "\xD0\x9F ok\n");
	sb_mime_parsed_free(&p);
}
END_TEST

START_TEST(test_parse_caps)
{
	/* deeply nested multiparts: bounded, no crash */
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, "From: a@example.test\r\n");
	for (int i = 0; i < 500; i++)
		sb_buf_printf(&b,
			      "Content-Type: multipart/mixed; boundary=b%d\r\n"
			      "\r\n--b%d\r\n",
			      i, i);
	sb_buf_puts(&b, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	struct sb_mime_parsed p;
	struct sb_error err = {0};
	ck_assert_int_eq(sb_mime_parse(b.data, b.len, &p, &err), SB_OK);
	ck_assert_ptr_null(p.body); /* beyond the depth cap: not parsed */
	sb_mime_parsed_free(&p);
	sb_buf_free(&b);

	/* many parts: bounded */
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, "From: a@example.test\r\n"
			"Content-Type: multipart/mixed; boundary=q\r\n\r\n");
	for (int i = 0; i < 5000; i++)
		sb_buf_puts(
		    &b, "--q\r\nContent-Type: application/x-y\r\n\r\nz\r\n");
	sb_buf_puts(&b, "--q--\r\n");
	ck_assert_int_eq(sb_mime_parse(b.data, b.len, &p, &err), SB_OK);
	ck_assert_uint_lt(p.n_attachments, 300);
	ck_assert_uint_gt(p.n_attachments, 100);
	sb_mime_parsed_free(&p);
	sb_buf_free(&b);

	/* a header full of "=?" with no end: linear time.  Ten times the
	 * input must take far less than a hundred times as long (quadratic);
	 * a ratio, so a slow machine or valgrind does not matter. */
	int64_t took[2];
	for (int k = 0; k < 2; k++) {
		sb_buf_init(&b, 0);
		sb_buf_puts(&b, "From: a@example.test\r\nSubject: ");
		for (int i = 0; i < (k ? 300000 : 30000); i++)
			sb_buf_puts(&b, "=?utf-8?B?");
		sb_buf_puts(&b, "\r\n\r\nbody\r\n");
		int64_t t0 = sb_now_ms();
		ck_assert_int_eq(sb_mime_parse(b.data, b.len, &p, &err), SB_OK);
		took[k] = sb_now_ms() - t0;
		ck_assert_ptr_nonnull(p.subject);
		sb_mime_parsed_free(&p);
		sb_buf_free(&b);
	}
	/* Not under AddressSanitizer: its realloc always moves the block,
	 * and GMime's parser grows a long header's buffer step by step (with
	 * glibc's allocator, which grows large blocks in place, the parse is
	 * linear: 5 ms for 30,000 words, 167 ms for 960,000). */
#if !defined(__SANITIZE_ADDRESS__)
	ck_assert_msg(took[1] < 30 * (took[0] + 5),
		      "10x the input took %lld ms against %lld ms",
		      (long long)took[1], (long long)took[0]);
#else
	(void)took;
#endif

	ck_assert_int_eq(sb_mime_parse("", 0, &p, &err), SB_ERR_INVALID_INPUT);
	ck_assert_int_eq(sb_mime_parse("no headers here", 15, &p, &err),
			 SB_ERR_INVALID_INPUT);
}
END_TEST

/* A multipart GMime does not split (a stray byte before the type: GMime
 * reads the type as multipart but makes a leaf part of it) is one
 * attachment of unknown content, which builds and reads back the same
 * (the builder refuses a multipart type for an attachment). */
START_TEST(test_parse_multipart_without_boundary)
{
	const char *raw = "From: a@example.test\r\n"
			  "Content-Type:\xc4 multipart/mixed; bound=x\r\n\r\n"
			  "--x\r\nnot split\r\n";
	struct sb_mime_parsed p;
	struct sb_error err = {0};
	ck_assert_int_eq(sb_mime_parse(raw, strlen(raw), &p, &err), SB_OK);
	ck_assert_uint_eq(p.n_attachments, 1);
	ck_assert_str_eq(p.attachments[0].content_type,
			 "application/octet-stream");
	struct sb_mime_message m = {
	    .from = p.from,
	    .date = 1700000000,
	    .attachments = p.attachments,
	    .n_attachments = p.n_attachments,
	};
	struct sb_buf b;
	sb_buf_init(&b, 0);
	ck_assert_int_eq(sb_mime_build(&m, &b, NULL, &err), SB_OK);
	struct sb_mime_parsed q;
	ck_assert_int_eq(sb_mime_parse(b.data, b.len, &q, &err), SB_OK);
	ck_assert_uint_eq(q.n_attachments, 1);
	ck_assert_str_eq(q.attachments[0].content_type,
			 "application/octet-stream");
	ck_assert_uint_eq(q.attachments[0].size, p.attachments[0].size);
	ck_assert_mem_eq(q.attachments[0].data, p.attachments[0].data,
			 p.attachments[0].size);
	sb_mime_parsed_free(&q);
	sb_buf_free(&b);
	sb_mime_parsed_free(&p);
}
END_TEST

START_TEST(test_parse_garbage_bounded)
{
	/* random bytes never crash the reader */
	unsigned char buf[4096];
	for (int round = 0; round < 200; round++) {
		ck_assert(sb_random_bytes(buf, sizeof(buf)));
		memcpy(buf,
		       "Content-Type: multipart/mixed; boundary=\"=?\"\n\n",
		       47);
		for (size_t i = 47; i < sizeof(buf); i += 61)
			memcpy(buf + i, "\n--=?\n", 6);
		struct sb_mime_parsed p;
		struct sb_error err = {0};
		if (sb_mime_parse((char *)buf, sizeof(buf) - 8, &p, &err) ==
		    SB_OK)
			sb_mime_parsed_free(&p);
	}
}
END_TEST

START_TEST(test_encode_header)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	ck_assert(sb_mime_encode_header(&b, "plain words", 7));
	ck_assert_str_eq(b.data, " plain words");
	sb_buf_free(&b);
	ck_assert(sb_mime_encode_header(&b, "\xC3\xA9t\xC3\xA9", 7));
	ck_assert_str_eq(b.data, " =?UTF-8?B?w6l0w6k=?=");
	sb_buf_free(&b);
	/* "=?" that makes no encoded-word stays as it is */
	ck_assert(sb_mime_encode_header(&b, "a=?b c", 7));
	ck_assert_str_eq(b.data, " a=?b c");
	sb_buf_free(&b);
}
END_TEST

/* In-Reply-To and References: msg-ids written as given, folded between
 * ids, never encoded; anything else in them is refused. */
START_TEST(test_msgid_list_headers)
{
	const char *to[] = {"b@example.test"};
	const char *longid = "<DM6PR11MB4657D3A0B9B2A6B3C1A8C2A5E6A29@DM6PR11M"
			     "B4657.namprd11.prod.outlook.com>";
	char refs[512];
	snprintf(refs, sizeof refs, "<a.1@example.test> %s <c.3@example.test>",
		 longid);
	const char *extra[] = {"In-Reply-To", longid, "References", refs};
	struct sb_mime_message m = {.from = "a@example.test",
				    .to = to,
				    .n_to = 1,
				    .extra_headers = extra,
				    .n_extra_headers = 2};
	struct sb_error err = {0};
	enum sb_status st;
	char *msg = build(&m, &err, &st, NULL);
	ck_assert_int_eq(st, SB_OK);
	char want[256];
	snprintf(want, sizeof want, "\r\nIn-Reply-To: %s\r\n", longid);
	ck_assert_ptr_nonnull(strstr(msg, want));
	snprintf(want, sizeof want,
		 "\r\nReferences: <a.1@example.test>\r\n\t%s\r\n"
		 "\t<c.3@example.test>\r\n",
		 longid);
	ck_assert_ptr_nonnull(strstr(msg, want));
	ck_assert_ptr_null(strstr(msg, "=?"));
	free(msg);
	/* GMime reads "<r2@.st>" but no id after it: refused, and by
	 * sb_mime_msgid_valid, which mapi-stub's threading asks */
	ck_assert(sb_mime_msgid_valid("<r1@x.test>"));
	ck_assert(!sb_mime_msgid_valid("<r2@.st>"));
	ck_assert(!sb_mime_msgid_valid("r1@x.test"));
	ck_assert(!sb_mime_msgid_valid(NULL));
	const char *bad[] = {"",
			     " ",
			     "<r1@x.test> <r2@.st> <r3@x.test>",
			     "a@example.test",
			     "<a@example.test",
			     "<a@example.test> x",
			     "<no-at>",
			     "<a@b@c>",
			     "<\xC3\xA9@example.test>"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		const char *e2[] = {"References", bad[i]};
		m.extra_headers = e2;
		m.n_extra_headers = 1;
		sb_error_clear(&err);
		msg = build(&m, &err, &st, NULL);
		ck_assert_int_eq(st, SB_ERR_INVALID_INPUT);
		ck_assert_ptr_nonnull(strstr(err.message, "References"));
		free(msg);
	}
}
END_TEST

/* Address lists read by GMime's parser: groups flattened, display names,
 * comments and quoted commas skipped, nothing made up from garbage. */
START_TEST(test_addresses)
{
	char **v = NULL;
	size_t n = 99;
	struct sb_error err = {0};
	ck_assert_int_eq(
	    sb_mime_addresses("\"Doe, Jane\" <jane@example.test>, "
			      "team: a@example.test, b@example.test;, "
			      "c@example.test (Carl), "
			      "=?utf-8?B?SsO2cmc=?= <jorg@example.test>",
			      &v, &n, &err),
	    SB_OK);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(v[0], "jane@example.test");
	ck_assert_str_eq(v[1], "a@example.test");
	ck_assert_str_eq(v[2], "b@example.test");
	ck_assert_str_eq(v[3], "c@example.test");
	ck_assert_str_eq(v[4], "jorg@example.test");
	sb_mime_address_list_free(v, n);
	ck_assert_int_eq(sb_mime_addresses("", &v, &n, &err), SB_OK);
	ck_assert_uint_eq(n, 0);
	sb_mime_address_list_free(v, n);
	ck_assert_int_eq(sb_mime_addresses(NULL, &v, &n, &err), SB_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(sb_mime_addresses("x", NULL, &n, &err),
			 SB_ERR_INTERNAL);
	/* a sender's own copy: its Bcc field is read with the others */
	const char *raw = "From: a@example.test\r\n"
			  "Bcc: x@example.test, \"Y\" <y@example.test>\r\n"
			  "\r\nhi\r\n";
	struct sb_mime_parsed p;
	ck_assert_int_eq(sb_mime_parse(raw, strlen(raw), &p, &err), SB_OK);
	ck_assert_uint_eq(p.n_bcc, 2);
	ck_assert_str_eq(p.bcc[1], "y@example.test");
	sb_mime_parsed_free(&p);
}
END_TEST

/* NO_CONTENT: the header fields and the attachments' names and types,
 * no data; the message's own content type either way. */
START_TEST(test_parse_no_content)
{
	const char *raw =
	    "From: a@example.test\r\n"
	    "Subject: listed\r\n"
	    "Content-Type: Multipart/Mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
	    "--b\r\nContent-Type: message/rfc822\r\n\r\n"
	    "From: x@example.test\r\nSubject: inner\r\n\r\ninner body\r\n"
	    "--b\r\nContent-Type: image/png; name=p.png\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n"
	    "--b--\r\n";
	struct sb_mime_parsed p;
	struct sb_error err = {0};
	ck_assert_int_eq(sb_mime_parse_flags(raw, strlen(raw),
					     SB_MIME_PARSE_NO_CONTENT, &p,
					     &err),
			 SB_OK);
	ck_assert_str_eq(p.subject, "listed");
	ck_assert_str_eq(p.content_type, "multipart/mixed");
	ck_assert_ptr_null(p.body);
	ck_assert_uint_eq(p.n_attachments, 2);
	ck_assert_str_eq(p.attachments[0].content_type, "message/rfc822");
	ck_assert_ptr_null(p.attachments[0].data);
	ck_assert_str_eq(p.attachments[1].name, "p.png");
	ck_assert_uint_eq(p.attachments[1].size, 0);
	sb_mime_parsed_free(&p);
	/* the same in full: the attached message is one .eml attachment */
	ck_assert_int_eq(sb_mime_parse(raw, strlen(raw), &p, &err), SB_OK);
	ck_assert_str_eq(p.body, "body");
	ck_assert_uint_eq(p.n_attachments, 2);
	ck_assert_ptr_nonnull(strstr(p.attachments[0].name, ".eml"));
	ck_assert_ptr_nonnull(
	    strstr((const char *)p.attachments[0].data, "Subject: inner"));
	ck_assert_uint_eq(p.attachments[1].size, 4); /* PNG signature */
	sb_mime_parsed_free(&p);
}
END_TEST

/* Header fields beyond the cap are left out before GMime reads them; the
 * fields before and the body stay. */
START_TEST(test_parse_many_header_fields)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, "Subject: many\r\n");
	for (int i = 0; i < 20000; i++)
		sb_buf_printf(&b, "X-H%d: v\r\n", i);
	sb_buf_puts(&b, "From: late@example.test\r\n\r\nthe body\r\n");
	struct sb_mime_parsed p;
	struct sb_error err = {0};
	ck_assert_int_eq(sb_mime_parse(b.data, b.len, &p, &err), SB_OK);
	ck_assert_str_eq(p.subject, "many");
	ck_assert_ptr_null(p.from); /* field 20002: beyond the cap */
	ck_assert_str_eq(p.body, "the body\n");
	sb_mime_parsed_free(&p);
	char *s = sb_mime_header(b.data, b.len, "Subject");
	ck_assert_str_eq(s, "many");
	free(s);
	ck_assert_ptr_null(sb_mime_header(b.data, b.len, "X-H5000"));
	sb_buf_free(&b);
}
END_TEST

static Suite *mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_simple_roundtrip);
	tcase_add_test(tc, test_unicode_subject_and_names);
	tcase_add_test(tc, test_long_ascii_subject_folds);
	tcase_add_test(tc, test_alternative_and_attachments);
	tcase_add_test(tc, test_qp_body_edges);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_long_attachment_name);
	tcase_add_test(tc, test_sender_header);
	tcase_add_test(tc, test_many_recipients_fold);
	tcase_add_test(tc, test_parse_foreign_lf_latin1);
	tcase_add_test(tc, test_parse_invalid_utf8_replaced);
	tcase_add_test(tc, test_parse_other_charsets);
	tcase_add_test(tc, test_parse_caps);
	tcase_add_test(tc, test_parse_multipart_without_boundary);
	tcase_add_test(tc, test_parse_garbage_bounded);
	tcase_add_test(tc, test_encode_header);
	tcase_add_test(tc, test_msgid_list_headers);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_parse_no_content);
	tcase_add_test(tc, test_parse_many_header_fields);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mime_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
