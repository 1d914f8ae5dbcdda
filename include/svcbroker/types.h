/* svcbroker — the catalog's value types and typed values.
 *
 * Every property, method input and result cell has one of these types.  The
 * host parses and validates values before a broker sees them, so a broker can
 * rely on the invariants written next to each type.
 */
#ifndef SVCBROKER_TYPES_H
#define SVCBROKER_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum sb_type {
	SB_TYPE_TEXT =
	    0,	      /* one line of UTF-8, no control characters (no CR/LF) */
	SB_TYPE_MEMO, /* multi-line UTF-8 (TAB, LF, CR allowed; no NUL) */
	SB_TYPE_NUMBER,	  /* int64 */
	SB_TYPE_DECIMAL,  /* exact decimal, carried as a string
			     "-?digits(.digits)?" */
	SB_TYPE_BOOLEAN,  /* true/false */
	SB_TYPE_DATETIME, /* ISO 8601 with offset: 2026-01-31T09:00:00Z / +01:00
			   */
	SB_TYPE_DATE,	  /* 2026-01-31 */
	SB_TYPE_TIME,	  /* 09:30 or 09:30:00 */
	SB_TYPE_DURATION, /* ISO 8601 duration, e.g. PT30M, P1DT2H */
	SB_TYPE_GUID,	  /* 8-4-4-4-12 hex */
	SB_TYPE_EMAIL,	  /* RFC 5321 address local@domain, no display name */
	SB_TYPE_ENUM,	  /* one of a declared set of names */
	SB_TYPE_FILE,	  /* {"Name","ContentType","Content"(base64)} */
	SB_TYPE_COUNT_	  /* not a type; keep last */
};

/* "text", "memo", ... Static storage; NULL for an unknown value. */
const char *sb_type_name(enum sb_type t);

/* A file value.  In inputs, the bytes are decoded (not base64). */
struct sb_file {
	const char *name;	  /* file name, UTF-8, no path separators */
	const char *content_type; /* e.g. "application/pdf"; never NULL */
	const unsigned char *data;
	size_t size;
};

/* One item of a value.  Which member is valid depends on the type:
 * NUMBER -> i, BOOLEAN -> b, FILE -> f, every other type -> s (a
 * NUL-terminated UTF-8 string in its canonical form). */
union sb_datum {
	const char *s;
	int64_t i;
	bool b;
	struct sb_file f;
};

/* A typed value: one item, or for a `multi` property `count` items (which
 * may be 0). */
struct sb_value {
	enum sb_type type;
	bool multi;
	size_t count;
	const union sb_datum *items;
};

/* Validate a string as the given type (for every type but NUMBER, BOOLEAN
 * and FILE).  Returns true if valid; on false writes a reason (for humans,
 * "expected ISO 8601 date-time with offset") to why (may be NULL).
 * choices: NULL-terminated names for SB_TYPE_ENUM, else ignored. Thread-safe.
 */
bool sb_type_check(enum sb_type t, const char *s, const char *const *choices,
		   const char **why);

/* Parse ISO 8601 datetime with offset into seconds since the epoch (UTC).
 * Returns false if s is not valid. */
bool sb_datetime_parse(const char *s, int64_t *epoch);

/* Format epoch (UTC) as "YYYY-MM-DDTHH:MM:SSZ" into buf (>= 21 bytes). */
void sb_datetime_format(int64_t epoch, char *buf, size_t len);

/* Parse an ISO 8601 duration (PnDTnHnMnS, PnW) into seconds. */
bool sb_duration_parse(const char *s, int64_t *seconds);

#ifdef __cplusplus
}
#endif
#endif
