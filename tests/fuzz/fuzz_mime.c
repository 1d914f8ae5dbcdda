/* Fuzz target: the MIME reader (core/mime: sb_mime_parse, sb_mime_header,
 * on GMime), the limits checked before GMime reads (mime_guard) and, for
 * what it reads, the builder (sb_mime_build).
 *
 * Invariants: sb_mime_header gives an unfolded value, and finds a Subject
 * exactly when sb_mime_parse does; a parse either succeeds or names its
 * reason; every string a successful parse returns is valid UTF-8;
 * attachments have a content type; and a parsed message with plain
 * addresses that the builder accepts reads back the same (addresses,
 * subject up to trailing white space, importance, text and HTML bodies up
 * to line endings and the line break that ends a single part, attachments
 * byte for byte).  mime_guard keeps within the input and cuts only at a
 * line's start; a parse with SB_MIME_PARSE_NO_CONTENT finds the same header
 * fields and attachment names as a full one. */
#include "config.h"

#include <strings.h>

#include <svcbroker/mime.h>

#include "fuzz.h"
#include "mime_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_LSAN 1
#endif
#endif
#ifdef FUZZ_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* GMime 3.2.13 (Debian 12) does not free the address it read before a
 * comment it finds unclosed (fixed in GMime 3.2.15, "Fixed some memory
 * leaks in address_parse()"): 128 bytes per such address, which no caller
 * can free.  Inputs with an address header whose comment may be unclosed
 * (more '(' than ')', or a quote or backslash that may hide one) are
 * parsed with leak checking off; every other input is checked.  The
 * builder refuses such addresses before GMime reads them (test_mime). */
static bool gmime_leaky_address(const char *raw, size_t size)
{
	static const char *const names[] = {"from",
					    "to",
					    "cc",
					    "bcc",
					    "reply-to",
					    "sender",
					    "resent-from",
					    "resent-to",
					    "resent-cc",
					    "resent-bcc",
					    "resent-sender",
					    "resent-reply-to"};
	for (size_t at = 0; at < size;) {
		const char *line = raw + at;
		size_t left = size - at;
		for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
			size_t n = strlen(names[i]);
			if (left <= n || strncasecmp(line, names[i], n))
				continue;
			size_t j = n;
			while (j < left && (line[j] == ' ' || line[j] == '\t'))
				j++;
			if (j >= left || line[j] != ':')
				continue;
			/* the field, with its continuation lines */
			size_t open = 0, close = 0;
			bool hidden = false;
			for (; j < left; j++) {
				char c = line[j];
				if (c == '\n' &&
				    !(j + 1 < left && (line[j + 1] == ' ' ||
						       line[j + 1] == '\t')))
					break;
				open += c == '(';
				close += c == ')';
				hidden |= c == '"' || c == '\\';
			}
			if (open && (open > close || hidden))
				return true;
		}
		const char *nl = memchr(line, '\n', left);
		if (!nl)
			break;
		at = (size_t)(nl - raw) + 1;
	}
	return false;
}

static void check_utf8(const char *what, const char *s)
{
	if (s)
		FUZZ_CHECK(sb_utf8_valid(s, strlen(s)), "%s is not UTF-8",
			   what);
}

static void check_list(const char *what, char **l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(l[i], "%s[%zu] is NULL", what, i);
		check_utf8(what, l[i]);
	}
}

/* a and b equal once CR bytes are dropped (the builder writes CRLF). */
static bool same_text(const char *a, const char *b)
{
	if (!a || !b)
		return (!a || !*a) && (!b || !*b);
	for (;;) {
		while (*a == '\r')
			a++;
		while (*b == '\r')
			b++;
		if (*a != *b)
			return false;
		if (!*a)
			return true;
		a++;
		b++;
	}
}

/* same_text, but for white space at the end of either */
static bool same_trimmed(const char *a, const char *b)
{
	size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
	while (la && strchr(" \t\r\n", a[la - 1]))
		la--;
	while (lb && strchr(" \t\r\n", b[lb - 1]))
		lb--;
	char *x = strndup(a ? a : "", la), *y = strndup(b ? b : "", lb);
	bool same = same_text(x, y);
	free(x);
	free(y);
	return same;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same_list(const char *what, char **a, size_t na, char **b,
			    size_t nb)
{
	FUZZ_CHECK(na == nb, "%s: %zu addresses read back as %zu", what, na,
		   nb);
	for (size_t i = 0; i < na; i++)
		FUZZ_CHECK(strcmp(a[i], b[i]) == 0,
			   "%s: '%s' read back as '%s'", what, a[i], b[i]);
}

static bool addresses(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!sb_email_valid(l[i]))
			return false;
	return true;
}

/* Only for messages whose addresses are plain addresses: the reader is
 * tolerant and hands back an entry it cannot make sense of as it is. */
static void round_trip(const struct sb_mime_parsed *p)
{
	if (!p->from || !sb_email_valid(p->from) ||
	    !addresses(p->to, p->n_to) || !addresses(p->cc, p->n_cc) ||
	    !addresses(p->reply_to, p->n_reply_to))
		return;
	struct sb_mime_message m = {
	    .from = p->from,
	    .to = (const char *const *)p->to,
	    .n_to = p->n_to,
	    .cc = (const char *const *)p->cc,
	    .n_cc = p->n_cc,
	    .reply_to = (const char *const *)p->reply_to,
	    .n_reply_to = p->n_reply_to,
	    .subject = p->subject,
	    .body = p->body,
	    .html_body = p->html_body,
	    .importance = p->importance,
	    .date = 1700000000,
	    .attachments = p->attachments,
	    .n_attachments = p->n_attachments,
	};
	struct sb_buf b;
	sb_buf_init(&b, 0);
	struct sb_error err = {0};
	if (sb_mime_build(&m, &b, NULL, &err) != SB_OK) {
		sb_buf_free(&b);
		return;
	}
	struct sb_mime_parsed q;
	enum sb_status st = sb_mime_parse(b.data, b.len, &q, &err);
	FUZZ_CHECK(st == SB_OK, "a built message does not parse: %s",
		   err.message);
	FUZZ_CHECK(same_str(p->from, q.from), "From '%s' read back as '%s'",
		   p->from, q.from);
	check_same_list("To", p->to, p->n_to, q.to, q.n_to);
	check_same_list("Cc", p->cc, p->n_cc, q.cc, q.n_cc);
	check_same_list("Reply-To", p->reply_to, p->n_reply_to, q.reply_to,
			q.n_reply_to);
	/* header text is written without white space at its end, and
	 * GMime writes text that reads as encoded-words as it is */
	if (!p->subject || !strstr(p->subject, "=?"))
		FUZZ_CHECK(same_trimmed(p->subject, q.subject),
			   "Subject '%s' read back as '%s'", p->subject,
			   q.subject);
	FUZZ_CHECK(same_str(p->importance, q.importance) ||
		       (!p->importance && same_str(q.importance, "Normal")),
		   "Importance %s read back as %s", p->importance,
		   q.importance);
	/* a single part's text gets a final line break */
	bool single = !p->html_body && !p->n_attachments;
	FUZZ_CHECK(single ? same_trimmed(p->body, q.body)
			  : same_text(p->body, q.body),
		   "body differs");
	FUZZ_CHECK(same_text(p->html_body, q.html_body), "HTML body differs");
	FUZZ_CHECK(p->n_attachments == q.n_attachments,
		   "%zu attachments read back as %zu", p->n_attachments,
		   q.n_attachments);
	for (size_t i = 0; i < p->n_attachments; i++) {
		const struct sb_file *x = &p->attachments[i],
				     *y = &q.attachments[i];
		FUZZ_CHECK(x->size == y->size &&
			       (x->size == 0 ||
				memcmp(x->data, y->data, x->size) == 0),
			   "attachment %zu: bytes differ", i);
		FUZZ_CHECK(same_str(x->name, y->name),
			   "attachment name '%s' read back as '%s'", x->name,
			   y->name);
		FUZZ_CHECK(strcasecmp(x->content_type, y->content_type) == 0,
			   "attachment type '%s' read back as '%s'",
			   x->content_type, y->content_type);
	}
	sb_mime_parsed_free(&q);
	sb_buf_free(&b);
}

static void check_guard(const char *raw, size_t size)
{
	struct mime_guard g;
	const char *why = NULL;
	if (!mime_guard(raw, size, &g, &why)) {
		FUZZ_CHECK(why && *why, "guard refused without a reason");
		return;
	}
	FUZZ_CHECK(g.keep <= size && g.header_len <= size &&
		       g.blank_at <= g.header_len,
		   "guard outside the input");
	FUZZ_CHECK(!g.cut || g.keep == 0 || raw[g.keep - 1] == '\n',
		   "guard cut inside a line at %zu", g.keep);
	FUZZ_CHECK(!g.hdr_cut || (g.hdr_cut <= g.blank_at &&
				  g.headers > MIME_MAX_HEADERS &&
				  raw[g.hdr_cut - 1] == '\n'),
		   "header cut at %zu", g.hdr_cut);
	struct mime_guard h;
	FUZZ_CHECK(mime_guard_headers(raw, size, &h, &why) &&
		       h.header_len >= g.header_len &&
		       (g.cut || h.header_len == g.header_len) &&
		       h.keep == h.header_len,
		   "header block %zu, %zu on its own", g.header_len,
		   h.header_len);
}

/* The listing parse finds what the full one does, without data. */
static void check_no_content(const char *raw, size_t size,
			     const struct sb_mime_parsed *p)
{
	struct sb_mime_parsed q;
	struct sb_error err = {0};
	FUZZ_CHECK(sb_mime_parse_flags(raw, size, SB_MIME_PARSE_NO_CONTENT, &q,
				       &err) == SB_OK,
		   "NO_CONTENT refuses what a full parse reads: %s",
		   err.message);
	FUZZ_CHECK(
	    same_str(p->subject, q.subject) && same_str(p->from, q.from) &&
		same_str(p->content_type, q.content_type) &&
		p->n_attachments == q.n_attachments && !q.body && !q.html_body,
	    "NO_CONTENT reads differently");
	for (size_t i = 0; i < q.n_attachments; i++)
		FUZZ_CHECK(
		    same_str(p->attachments[i].name, q.attachments[i].name) &&
			!q.attachments[i].data,
		    "NO_CONTENT attachment %zu", i);
	sb_mime_parsed_free(&q);
}

static void one_input(const char *raw, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	const char *raw = (const char *)data;
#ifdef FUZZ_LSAN
	bool leaky = gmime_leaky_address(raw, size);
	if (leaky)
		__lsan_disable();
	one_input(raw, size);
	if (leaky)
		__lsan_enable();
#else
	(void)gmime_leaky_address;
	one_input(raw, size);
#endif
	return 0;
}

static void one_input(const char *raw, size_t size)
{
	check_guard(raw, size);
	/* The raw value, unfolded: one line. */
	char *subj = sb_mime_header(raw, size, "Subject");
	FUZZ_CHECK(!subj || !strchr(subj, '\n'), "raw Subject '%s' is folded",
		   subj);
	struct sb_mime_parsed p;
	struct sb_error err = {0};
	enum sb_status st = sb_mime_parse(raw, size, &p, &err);
	if (st != SB_OK) {
		FUZZ_CHECK(err.message[0], "refused without a reason");
		free(subj);
		return;
	}
	FUZZ_CHECK(!subj == !p.subject,
		   "sb_mime_header %s a Subject, "
		   "sb_mime_parse %s",
		   subj ? "finds" : "finds no",
		   p.subject ? "does" : "does not");
	free(subj);
	check_utf8("From", p.from);
	check_utf8("Subject", p.subject);
	check_utf8("Message-ID", p.message_id);
	check_utf8("Date", p.date);
	check_utf8("Importance", p.importance);
	check_utf8("body", p.body);
	check_utf8("HTML body", p.html_body);
	check_list("To", p.to, p.n_to);
	check_list("Cc", p.cc, p.n_cc);
	check_list("Reply-To", p.reply_to, p.n_reply_to);
	for (size_t i = 0; i < p.n_attachments; i++) {
		const struct sb_file *f = &p.attachments[i];
		FUZZ_CHECK(f->content_type && f->content_type[0],
			   "attachment %zu without a content type", i);
		check_utf8("attachment name", f->name);
		FUZZ_CHECK(f->size == 0 || f->data, "attachment %zu data", i);
	}
	check_no_content(raw, size, &p);
	round_trip(&p);
	sb_mime_parsed_free(&p);
}
