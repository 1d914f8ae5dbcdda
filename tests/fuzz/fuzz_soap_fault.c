/* libFuzzer target for the SOAP 1.1 and 1.2 fault readers
 * (core/net/soap.c): every field of a fault read from any envelope is
 * NUL-terminated within its size and valid UTF-8, the numbers are -1 or
 * what the text says, and the fault maps to an error report.
 *
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the files
 * given as arguments (make check runs it over its corpus). */
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

static void check_field(const char *s, size_t size, const char *name)
{
	size_t n = strnlen(s, size);
	FUZZ_CHECK(n < size, "%s not terminated", name);
	FUZZ_CHECK(sb_utf8_valid(s, n), "%s not UTF-8", name);
}

#define FIELD(f, x) check_field((f)->x, sizeof((f)->x), #x)

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
	struct sb_soap_fault f;
	bool is = sb_soap_fault_read(doc, &f);
	FIELD(&f, code);
	FIELD(&f, code_ns);
	FIELD(&f, subcode);
	FIELD(&f, subcode_ns);
	FIELD(&f, reason);
	FIELD(&f, response_code);
	FIELD(&f, message);
	FIELD(&f, wsman_code);
	FIELD(&f, wsman_message);
	FUZZ_CHECK(f.back_off_ms >= -1, "back_off_ms %lld",
		   (long long)f.back_off_ms);
	FUZZ_CHECK(f.wsman_code_num >= -1, "wsman_code_num");
	if (f.wsman_code_num >= 0)
		FUZZ_CHECK(strtoll(f.wsman_code, NULL, 10) == f.wsman_code_num,
			   "wsman code %s vs %lld", f.wsman_code,
			   (long long)f.wsman_code_num);
	if (is) {
		FUZZ_CHECK(f.version == 11 || f.version == 12, "version %d",
			   f.version);
		FUZZ_CHECK(f.version == sb_soap_version_of(doc), "version");
		enum sb_status st = sb_soap_fault_error(&f, &err);
		FUZZ_CHECK(st == err.status, "status");
		FUZZ_CHECK(st == SB_ERR_UPSTREAM || st == SB_ERR_THROTTLED,
			   "fault status %d", (int)st);
		if (st == SB_ERR_THROTTLED)
			FUZZ_CHECK(err.retry_after_ms == f.back_off_ms,
				   "retry_after_ms");
		check_field(err.message, sizeof(err.message), "message");
		check_field(err.code, sizeof(err.code), "error code");
	} else {
		FUZZ_CHECK(f.version == 0 && !f.code[0] && !f.reason[0] &&
			       f.back_off_ms == -1,
			   "not a fault yet filled");
	}
	sb_xml_free(doc);
	return 0;
}
