/* Fuzz target: the shared Recurrence value (core/sdk/rrule.c), an RFC 5545
 * RRULE reader kept by hand.
 *
 * Input: the Recurrence text (cut at its first NUL).
 * Invariants: a refusal is SB_ERR_INVALID_INPUT with the recurrence code,
 * a message starting "Recurrence: " and printable ASCII only (it quotes
 * outside input back to the caller); an accepted rule has every field in
 * range, sb_rrule_check agrees with sb_rrule_parse, its canonical text
 * fits SB_RRULE_TEXT_MAX, is no longer than the input, parses back to the
 * same rule and formats to itself. */
#include "config.h"

#include <svcbroker/rrule.h>

#include "fuzz.h"

static void check_refusal(const struct sb_error *err, enum sb_status st)
{
	FUZZ_CHECK(st == SB_ERR_INVALID_INPUT, "status %d", (int)st);
	FUZZ_CHECK(strcmp(err->code, SB_RRULE_ERROR_CODE) == 0, "code '%s'",
		   err->code);
	FUZZ_CHECK(strncmp(err->message, "Recurrence: ", 12) == 0 &&
		       err->message[12],
		   "message '%s'", err->message);
	for (const char *p = err->message; *p; p++)
		FUZZ_CHECK(*p >= 0x20 && *p < 0x7f,
			   "byte 0x%02x in the message '%s'", (unsigned char)*p,
			   err->message);
}

static bool same(const struct sb_rrule *a, const struct sb_rrule *b)
{
	if (a->freq != b->freq || a->interval != b->interval ||
	    a->count != b->count || a->has_until != b->has_until ||
	    a->until_is_date != b->until_is_date ||
	    (a->has_until && a->until != b->until) ||
	    a->n_byday != b->n_byday || a->n_bymonthday != b->n_bymonthday ||
	    a->n_bymonth != b->n_bymonth || a->n_bysetpos != b->n_bysetpos)
		return false;
	for (size_t i = 0; i < a->n_byday; i++)
		if (a->byday[i].ordinal != b->byday[i].ordinal ||
		    a->byday[i].day != b->byday[i].day)
			return false;
	for (size_t i = 0; i < a->n_bymonthday; i++)
		if (a->bymonthday[i] != b->bymonthday[i])
			return false;
	for (size_t i = 0; i < a->n_bymonth; i++)
		if (a->bymonth[i] != b->bymonth[i])
			return false;
	for (size_t i = 0; i < a->n_bysetpos; i++)
		if (a->bysetpos[i] != b->bysetpos[i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4 * SB_RRULE_TEXT_MAX)
		return 0;
	char *in = fuzz_cstr(data, size);
	struct sb_rrule r;
	struct sb_error err = {0}, err2 = {0};
	enum sb_status st = sb_rrule_parse(in, &r, &err);
	enum sb_status st2 = sb_rrule_check(in, &err2);
	FUZZ_CHECK(st == st2, "parse %d, check %d", (int)st, (int)st2);
	if (st != SB_OK) {
		check_refusal(&err, st);
		FUZZ_CHECK(strcmp(err.message, err2.message) == 0,
			   "parse and check say '%s' and '%s'", err.message,
			   err2.message);
		free(in);
		return 0;
	}
	FUZZ_CHECK(r.freq >= SB_RRULE_DAILY && r.freq <= SB_RRULE_YEARLY,
		   "freq %d", (int)r.freq);
	FUZZ_CHECK(r.interval >= 1 && r.interval <= SB_RRULE_INTERVAL_MAX,
		   "interval %d", r.interval);
	FUZZ_CHECK(r.count >= 0 && r.count <= SB_RRULE_COUNT_MAX &&
		       !(r.count && r.has_until),
		   "count %d with until %d", r.count, (int)r.has_until);
	FUZZ_CHECK(r.n_byday <= SB_RRULE_LIST_MAX &&
		       r.n_bymonthday <= SB_RRULE_LIST_MAX &&
		       r.n_bymonth <= 12 && r.n_bysetpos <= SB_RRULE_LIST_MAX,
		   "list sizes %zu %zu %zu %zu", r.n_byday, r.n_bymonthday,
		   r.n_bymonth, r.n_bysetpos);
	char out[SB_RRULE_TEXT_MAX + 1], out2[SB_RRULE_TEXT_MAX + 1];
	FUZZ_CHECK(sb_rrule_format(&r, out, sizeof out),
		   "accepted '%s' has no canonical text", in);
	FUZZ_CHECK(strlen(out) <= strlen(in), "canonical '%s' longer than '%s'",
		   out, in);
	struct sb_rrule r2;
	st = sb_rrule_parse(out, &r2, &err);
	FUZZ_CHECK(st == SB_OK, "canonical '%s' of '%s' refused: %s", out, in,
		   err.message);
	FUZZ_CHECK(same(&r, &r2), "canonical '%s' of '%s' is another rule", out,
		   in);
	FUZZ_CHECK(sb_rrule_format(&r2, out2, sizeof out2) &&
		       strcmp(out, out2) == 0,
		   "canonical '%s' formats to '%s'", out, out2);
	free(in);
	return 0;
}
