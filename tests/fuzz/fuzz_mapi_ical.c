/* Fuzz target: what mapi-stub does around libical with an .ics file
 * another tool may have written (brokers/mapi-stub/mapi_ical.c): the
 * limits checked before libical parses (mapi_ical_precheck), the
 * rewriting of CATEGORIES lists before it (mapi_ical_split_lists), the
 * parse itself, and reading its times, zones, lists and recurrences.
 *
 * Input: the file's bytes.
 * Invariants: precheck refuses with one of its reasons or accepts; the
 * rewrite of CATEGORIES lines (of text without NUL) is idempotent and leaves
 * other lines alone (no CATEGORIES line: no rewrite); a parse happens only for
 * text the precheck accepts; every time read is inside the store's years (give
 * or take a zone's offset), a list has no empty value, a calendar read can be
 * written again; a recurrence is walked for a bounded number of steps with
 * times in order of the iterator. */
#include "config.h"

#include <strings.h>

#include <svcbroker/sdk.h>

#include "../../brokers/mapi-stub/mapi.h"
#include "fuzz.h"

/* mapi_maildir.c's, not linked here. */
void mapi_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static const char *const reasons[] = {"iCalendar data too large",
				      "NUL byte in iCalendar data",
				      "too many iCalendar lines",
				      "malformed content line",
				      "components nested too deeply",
				      "too many iCalendar components",
				      "END without BEGIN",
				      "property outside a component",
				      "unterminated component",
				      NULL};

static bool known_reason(const char *why)
{
	for (size_t i = 0; reasons[i]; i++)
		if (strcmp(why, reasons[i]) == 0)
			return true;
	return false;
}

#define SLACK (2 * 86400)

static void check_time(icalcomponent *cal, icalproperty *p)
{
	int64_t t;
	bool is_date;
	const char *tzid;
	if (!mapi_ical_time_of(cal, p, &t, &is_date, &tzid))
		return;
	FUZZ_CHECK(t >= MAPI_EPOCH_MIN - SLACK && t <= MAPI_EPOCH_MAX + SLACK,
		   "time %lld out of range", (long long)t);
}

static void check_component(icalcomponent *cal, icalcomponent *c)
{
	static const icalproperty_kind kinds[] = {
	    ICAL_DTSTART_PROPERTY,     ICAL_DTEND_PROPERTY,
	    ICAL_DUE_PROPERTY,	       ICAL_CREATED_PROPERTY,
	    ICAL_COMPLETED_PROPERTY,   ICAL_EXDATE_PROPERTY,
	    ICAL_RECURRENCEID_PROPERTY};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		for (icalproperty *p =
			 icalcomponent_get_first_property(c, kinds[k]);
		     p; p = icalcomponent_get_next_property(c, kinds[k]))
			check_time(cal, p);
	char **v;
	size_t n;
	if (mapi_ical_list_of(c, ICAL_CATEGORIES_PROPERTY, &v, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(v[i][0] != '\0', "empty category %zu", i);
		mapi_names_free(v, n);
	}
	free(mapi_ical_text_of(c, ICAL_SUMMARY_PROPERTY));
	free(mapi_ical_x_of(c, "X-SVCBROKER-TIMEZONE"));
	/* A recurrence, walked as a List walks it (bounded). */
	icalproperty *rp =
	    icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY);
	icalproperty *dp =
	    icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
	if (!rp || !dp)
		return;
	struct icalrecurrencetype rule = icalproperty_get_rrule(rp);
	struct icaltimetype t0 = icalproperty_get_dtstart(dp);
	if (rule.freq == ICAL_NO_RECURRENCE || icaltime_is_null_time(t0) ||
	    !mapi_ical_rule_walkable(&rule))
		return;
	icaltimezone *z = NULL;
	if (!t0.is_date && !icaltime_is_utc(t0))
		z = mapi_ical_zone_of(cal, dp, NULL);
	if (z)
		t0.zone = z;
	icalrecur_iterator *it = icalrecur_iterator_new(rule, t0);
	icalerror_clear_errno();
	for (int i = 0; it && i < 200; i++) {
		struct icaltimetype t = icalrecur_iterator_next(it);
		int64_t e;
		if (icaltime_is_null_time(t) || !mapi_ical_time_epoch(t, z, &e))
			break;
	}
	if (it)
		icalrecur_iterator_free(it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	if (!in)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	const char *why = mapi_ical_precheck(in, size);
	FUZZ_CHECK(!why || known_reason(why), "unknown reason %s", why);

	const char *w1 = NULL, *w2 = NULL;
	char *once = mapi_ical_split_lists(in, size, &w1);
	bool has_list = false;
	for (const char *p = in; p && p < in + size;) {
		if ((size_t)(in + size - p) > 10 &&
		    strncasecmp(p, "CATEGORIES", 10) == 0 &&
		    (p[10] == ':' || p[10] == ';'))
			has_list = true;
		p = memchr(p, '\n', (size_t)(in + size - p));
		if (p)
			p++;
	}
	FUZZ_CHECK(has_list || (!once && !w1), "rewrote without CATEGORIES");
	/* (The rewrite runs after the precheck, which refuses NUL bytes.) */
	if (once && strlen(in) == size) {
		char *twice = mapi_ical_split_lists(once, strlen(once), &w2);
		FUZZ_CHECK(twice && strcmp(once, twice) == 0,
			   "rewrite not idempotent");
		free(twice);
	}
	free(once);

	icalcomponent *cal = mapi_ical_parse(in, size, &why);
	FUZZ_CHECK(!cal || !mapi_ical_precheck(in, size),
		   "parsed what the precheck refuses");
	if (cal) {
		for (icalcomponent *c = icalcomponent_get_first_component(
			 cal, ICAL_ANY_COMPONENT);
		     c; c = icalcomponent_get_next_component(
			    cal, ICAL_ANY_COMPONENT))
			check_component(cal, c);
		char *text = mapi_ical_text(cal);
		FUZZ_CHECK(text || size > MAPI_ICS_MAX / 4,
			   "a calendar read cannot be written");
		free(text);
		icalcomponent_free(cal);
	}
	icalerror_clear_errno();
	free(in);
	return 0;
}
