/* libFuzzer target for the safe XML parse helper (core/net/xml.c) and the
 * streaming base64 reader (core/net/xml_stream.c).
 *
 * The input is parsed whole by sb_xml_parse and, in pieces whose size
 * depends on the input, by a stream decoding the text of every element
 * whose local name is "Content" in the EWS types namespace.  Checked:
 * every refusal is upstream_error (or internal) with a message that is
 * valid UTF-8 and never quotes the input's text; every text read from a
 * tree is valid UTF-8 within its cap; a text escaped by
 * sb_xml_escape_append and parsed again comes back unchanged; the sink
 * never sees more than the decoded cap.
 *
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the files
 * given as arguments: make check runs it over the corpora of fuzz_xml and
 * fuzz_soap_fault. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include <svcbroker/xml.h>

#include "fuzz.h"

#define DOC_MAX (256 * 1024)
#define DECODED_MAX 4096

static void check_error(const struct sb_error *err)
{
	FUZZ_CHECK(err->status == SB_ERR_UPSTREAM ||
		       err->status == SB_ERR_INTERNAL,
		   "status %d", (int)err->status);
	size_t n = strnlen(err->message, sizeof(err->message));
	FUZZ_CHECK(n > 0 && n < sizeof(err->message), "message length %zu", n);
	FUZZ_CHECK(sb_utf8_valid(err->message, n), "message not UTF-8");
	FUZZ_CHECK(strncmp(err->message, "XML", 3) == 0 ||
		       strncmp(err->message, "out of memory", 13) == 0,
		   "unexpected message: %s", err->message);
}

/* Escape text, parse it back as an element's content and an attribute
 * value, and compare. */
static void check_round_trip(const char *text)
{
	struct sb_buf b;
	struct sb_error err;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, "<r a='");
	enum sb_status st =
	    sb_xml_escape_append(&b, text, (size_t)-1, SB_XML_ATTR, &err);
	if (st != SB_OK) {
		/* Only what XML cannot carry (a tree's text always can). */
		FUZZ_CHECK(false, "escaping a parsed text failed: %s",
			   err.message);
	}
	sb_buf_puts(&b, "'>");
	FUZZ_CHECK(sb_xml_escape_append(&b, text, (size_t)-1, SB_XML_TEXT,
					&err) == SB_OK,
		   "%s", err.message);
	sb_buf_puts(&b, "</r>");
	FUZZ_CHECK(!b.failed, "buffer");
	xmlDoc *doc = sb_xml_parse(b.data, b.len, b.len, &err);
	FUZZ_CHECK(doc != NULL, "escaped text does not parse: %s", err.message);
	xmlNode *r = sb_xml_root(doc);
	const char *a = sb_xml_attr(r, NULL, "a");
	FUZZ_CHECK(a && strcmp(a, text) == 0, "attribute round trip");
	char *t = sb_xml_text(r, 0, &err);
	FUZZ_CHECK(t && strcmp(t, text) == 0, "text round trip");
	free(t);
	sb_xml_free(doc);
	sb_buf_free(&b);
}

static void walk(const xmlNode *n, unsigned depth, unsigned *budget)
{
	for (const xmlNode *c = sb_xml_first_element(n); c && *budget;
	     c = sb_xml_next_element(c), (*budget)--) {
		char small[17];
		size_t len = sb_xml_text_copy(c, small, sizeof(small));
		FUZZ_CHECK(len < sizeof(small) && strlen(small) == len,
			   "text_copy length");
		FUZZ_CHECK(sb_utf8_valid(small, len), "text_copy UTF-8");
		struct sb_error err;
		char *t = sb_xml_text(c, 64, &err);
		if (t) {
			FUZZ_CHECK(strlen(t) <= 64, "text over its cap");
			FUZZ_CHECK(sb_utf8_valid(t, strlen(t)), "text UTF-8");
			check_round_trip(t);
			free(t);
		} else {
			FUZZ_CHECK(err.status == SB_ERR_UPSTREAM, "text error");
		}
		const char *ns = c->ns ? (const char *)c->ns->href : NULL;
		FUZZ_CHECK(sb_xml_is(c, ns, (const char *)c->name), "is");
		FUZZ_CHECK(sb_xml_child(n, ns, (const char *)c->name) != NULL,
			   "child");
		for (const xmlAttr *a = c->properties; a; a = a->next) {
			const char *v = sb_xml_attr(
			    c, a->ns ? (const char *)a->ns->href : NULL,
			    (const char *)a->name);
			FUZZ_CHECK(v != NULL, "attribute not found");
			FUZZ_CHECK(sb_utf8_valid(v, strlen(v)), "attr UTF-8");
		}
		if (depth < 64)
			walk(c, depth + 1, budget);
	}
}

struct sink_state {
	size_t bytes;
	unsigned index;
};

static bool sink(void *arg, unsigned index, const void *data, size_t len)
{
	struct sink_state *s = arg;
	(void)data;
	if (index != s->index) {
		FUZZ_CHECK(index == s->index + 1, "index %u after %u", index,
			   s->index);
		s->index = index;
		s->bytes = 0;
	}
	s->bytes += len;
	FUZZ_CHECK(s->bytes <= DECODED_MAX, "sink got %zu bytes", s->bytes);
	return true;
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
	sb_error_clear(&err);
	xmlDoc *doc = sb_xml_parse((const char *)data, size, DOC_MAX, &err);
	if (doc) {
		unsigned budget = 2000;
		walk((xmlNode *)doc, 0, &budget);
		sb_xml_free(doc);
	} else {
		check_error(&err);
	}

	size_t step = size ? (size_t)data[0] % 61 + 1 : 1;
	struct sink_state st = {0, 0};
	struct sb_xml_stream *s = sb_xml_stream_new(
	    SB_NS_EWS_TYPES, "Content", DOC_MAX, DECODED_MAX, sink, &st);
	FUZZ_CHECK(s != NULL, "stream");
	enum sb_status r = SB_OK;
	for (size_t off = 0; off < size && r == SB_OK; off += step)
		r = sb_xml_stream_feed(s, (const char *)data + off,
				       size - off < step ? size - off : step,
				       &err);
	if (r == SB_OK) {
		doc = sb_xml_stream_finish(s, &err);
		if (doc)
			sb_xml_free(doc);
		else
			check_error(&err);
	} else {
		check_error(&err);
	}
	sb_xml_stream_free(s);
	return 0;
}
