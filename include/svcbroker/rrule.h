/* svcbroker — the shared Recurrence value: one RFC 5545 RRULE.
 *
 * Appointment and Meeting carry `Recurrence`, the value of one RFC 5545
 * RRULE property (without the "RRULE:" name), e.g.
 *
 *   FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20271231T235959Z
 *   FREQ=MONTHLY;BYDAY=-1FR;COUNT=12
 *   FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
 *
 * Every broker takes and gives the same subset, the one Exchange can keep:
 *
 *   FREQ        DAILY, WEEKLY, MONTHLY or YEARLY (required, once)
 *   INTERVAL    1..999 (default 1)
 *   BYDAY       weekdays MO..SU, each with an optional ordinal (2MO, -1FR;
 *               1..5 for MONTHLY, 1..53 for YEARLY, none for DAILY and
 *               WEEKLY), at most SB_RRULE_LIST_MAX of them
 *   BYMONTHDAY  1..31 or -31..-1 (not with WEEKLY)
 *   BYMONTH     1..12
 *   BYSETPOS    1..366 or -366..-1, only with another BY part
 *   COUNT       1..999
 *   UNTIL       a date (20271231) or a UTC date-time (20271231T235959Z),
 *               years 1601..9999
 *
 * COUNT and UNTIL exclude each other; no part may appear twice, no list
 * may name a value twice.  Every other part (BYHOUR, WKST, ...) is refused
 * by name, so a rule is never silently taken for something else.  Names
 * and keywords are read case-insensitively (RFC 5545 3.1); the canonical
 * text sb_rrule_format writes is upper case, parts in the order above.
 *
 * Every function here is thread-safe and keeps no state.
 */
#ifndef SVCBROKER_RRULE_H
#define SVCBROKER_RRULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest Recurrence text accepted, in bytes. */
#define SB_RRULE_TEXT_MAX 1024
/* The most values one BY list may hold. */
#define SB_RRULE_LIST_MAX 64
/* Bounds of INTERVAL and COUNT (Exchange's own: 999 occurrences). */
#define SB_RRULE_INTERVAL_MAX 999
#define SB_RRULE_COUNT_MAX 999

/* The error code every refusal carries (SB_ERR_INVALID_INPUT). */
#define SB_RRULE_ERROR_CODE "ErrorInvalidRecurrence"

enum sb_rrule_freq {
	SB_RRULE_DAILY = 1,
	SB_RRULE_WEEKLY,
	SB_RRULE_MONTHLY,
	SB_RRULE_YEARLY,
};

/* Weekdays in RFC 5545's order of names: MO = 0 .. SU = 6. */
enum sb_rrule_weekday {
	SB_RRULE_MO = 0,
	SB_RRULE_TU,
	SB_RRULE_WE,
	SB_RRULE_TH,
	SB_RRULE_FR,
	SB_RRULE_SA,
	SB_RRULE_SU,
};

/* One BYDAY value: every <day> of the period (ordinal 0), or its n-th
 * (ordinal 1..53) or n-th from the end (ordinal -53..-1). */
struct sb_rrule_byday {
	int ordinal;
	enum sb_rrule_weekday day;
};

/* A parsed rule.  Lists keep the order they were given in. */
struct sb_rrule {
	enum sb_rrule_freq freq;
	int interval; /* 1..SB_RRULE_INTERVAL_MAX; 1 when not given */
	int count;    /* 1..SB_RRULE_COUNT_MAX; 0: no COUNT */
	bool has_until;
	bool until_is_date; /* UNTIL was a date (the day, 00:00 UTC) */
	int64_t until;	    /* epoch seconds (UTC) when has_until */
	size_t n_byday;
	struct sb_rrule_byday byday[SB_RRULE_LIST_MAX];
	size_t n_bymonthday;
	int bymonthday[SB_RRULE_LIST_MAX]; /* -31..-1, 1..31 */
	size_t n_bymonth;
	int bymonth[12]; /* 1..12 */
	size_t n_bysetpos;
	int bysetpos[SB_RRULE_LIST_MAX]; /* -366..-1, 1..366 */
};

/* Parse a Recurrence value into *out (may be NULL: check only).  SB_OK, or
 * SB_ERR_INVALID_INPUT with code SB_RRULE_ERROR_CODE and a message that
 * starts with "Recurrence: " and names exactly what is wrong (the part and
 * its value, e.g. "Recurrence: BYDAY value \"6MO\": with FREQ=MONTHLY the
 * ordinal must be 1..5 or -5..-1").  text NULL or empty is refused too: a
 * caller that treats "no recurrence" as valid checks for that first. */
enum sb_status sb_rrule_parse(const char *text, struct sb_rrule *out,
			      struct sb_error *err);

/* The same, keeping nothing: the check a broker runs on a Recurrence
 * input before it maps or stores it. */
enum sb_status sb_rrule_check(const char *text, struct sb_error *err);

/* Write the canonical text of rule into out (len bytes, NUL-terminated):
 * upper case, parts in the order FREQ, INTERVAL (only when > 1), BYDAY,
 * BYMONTHDAY, BYMONTH, BYSETPOS, COUNT, UNTIL.  Parsing that text gives
 * the same rule back.  Returns false (out then holds "") if it does not
 * fit or rule is not one sb_rrule_parse could have produced (a field out
 * of its range).  The canonical text is never longer than the text it was
 * parsed from, so SB_RRULE_TEXT_MAX + 1 bytes always suffice for a parsed
 * rule. */
bool sb_rrule_format(const struct sb_rrule *rule, char *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
