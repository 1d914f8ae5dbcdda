/* libFuzzer target for the exchange-ews reader of recurrence patterns
 * (brokers/exchange-ews/ews_recur.c, EWS -> RRULE): any document, every
 * t:Recurrence in it read.  A pattern that is read gives an RRULE the
 * shared subset takes (sb_rrule_check), and that RRULE, mapped to a
 * pattern again, gives the same text back.
 *
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the
 * files given as arguments (make check runs it over its corpus). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>

#include <svcbroker/rrule.h>
#include <svcbroker/xml.h>

#include "../../brokers/exchange-ews/ews_calendar.h"
#include "fuzz.h"

#define DOC_MAX (64 * 1024)

static void check(const xmlNode *rec)
{
	struct ews_recur r;
	char out[SB_RRULE_TEXT_MAX + 1];
	struct sb_error err;
	if (!ews_recur_read(rec, &r))
		return;
	FUZZ_CHECK(r.start.y >= 1601 && r.start.y <= 9999, "StartDate %d",
		   r.start.y);
	if (!ews_recur_to_rrule(&r, out, sizeof(out)))
		return;
	FUZZ_CHECK(sb_rrule_check(out, &err) == SB_OK, "%s: %s", out,
		   err.message);
	struct ews_recur again;
	if (ews_recur_from_rrule(out, &r.start, 0, &again, &err) != SB_OK) {
		/* only a range ending before it starts, or a yearly day its
		 * month never has (a series without occurrences, which a
		 * server may describe but the broker does not send), is
		 * refused */
		FUZZ_CHECK(strstr(err.message, "UNTIL") ||
			       strstr(err.message, "never has that day"),
			   "%s refused: %s", out, err.message);
		return;
	}
	char out2[SB_RRULE_TEXT_MAX + 1];
	FUZZ_CHECK(ews_recur_to_rrule(&again, out2, sizeof(out2)),
		   "%s: not written back", out);
	FUZZ_CHECK(strcmp(out, out2) == 0, "%s came back as %s", out, out2);
}

static void walk(const xmlNode *n, unsigned depth)
{
	for (; n && depth < 64; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (sb_xml_is(n, SB_NS_EWS_TYPES, "Recurrence"))
			check(n);
		walk(n->children, depth + 1);
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
	xmlDoc *doc = sb_xml_parse((const char *)data, size, DOC_MAX, &err);
	if (!doc)
		return 0;
	walk(doc->children, 0);
	sb_xml_free(doc);
	return 0;
}
