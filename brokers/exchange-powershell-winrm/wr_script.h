/* exchange-powershell-winrm broker — the PowerShell scripts the objects
 * run, and the parser of their output (wr_script.c).
 *
 * A script is one cmdlet call whose objects are written as rows:
 *
 *   struct wr_param p[] = {{"Identity", id}, {"Database", db}};
 *   char *s = wr_script_build(version, call_id, "Get-Mailbox", p, 2,
 *                             NULL, props, nprops, &err);
 *
 * Every value reaches PowerShell only inside a single-quoted literal
 * (sb_ps_quote: the five quote characters doubled); a NUL or invalid
 * UTF-8 is refused.  Names (cmdlets, parameters, switches, properties)
 * come from the broker's own tables, never from a caller.
 *
 * The script works on PowerShell 1.0 to 5.1 (only .NET 2.0 APIs, no
 * try/catch, which 1.0 lacks: a script-level trap catches every error,
 * -ErrorAction Stop making each one terminating) and writes, whatever
 * the console's code page and culture:
 *
 *   ##SB-BEGIN<TAB>id
 *   field<TAB>field<TAB>...        one line per object; each field is the
 *                                  base64 of its UTF-8 text ([string] of
 *                                  the value in the invariant culture),
 *                                  or "-" for $null
 *   ##SB-END<TAB>id<TAB>rows
 * or, when anything failed:
 *   ##SB-ERROR<TAB>id<TAB>b64(CategoryInfo.Category)<TAB>
 *                         b64(exception type)<TAB>b64(message)
 * Lines outside the frame (a snap-in's banner) are ignored; the id, fresh
 * for every call, keeps text from elsewhere from passing for a frame.
 */
#ifndef WR_SCRIPT_H
#define WR_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/sdk.h>
#include <svcbroker/status.h>

enum wr_version { WR_EX2007 = 0, WR_EX2010, WR_EX2013 };

/* The snap-in of an exchange_version. */
const char *wr_snapin(int version);

/* One named parameter: -name 'value' (value NULL: left out). */
struct wr_param {
	const char *name;
	const char *value;
};

/* A property written as one field of a row: $o.<name>, or, for a
 * ByteQuantifiedSize, $o.<name>.ToBytes() (bytes: a decimal number). */
struct wr_prop {
	const char *name;
	bool bytes;
};

#define WR_ID_LEN 32 /* hex characters of a call's id */

/* A fresh id for one call (WR_ID_LEN hex characters + NUL). */
bool wr_new_id(char id[WR_ID_LEN + 1]);

/* The script running `cmdlet` with params[0..nparams) (each value quoted),
 * the switches (NULL-terminated, written as given, e.g. "-Status",
 * "-Confirm:$false"; may be NULL), then writing props[0..nprops) of each
 * object it returns (nprops 0: no rows, just the frame).  malloc'd; NULL
 * with err filled (SB_ERR_INVALID_INPUT naming the parameter for a value
 * PowerShell cannot be given). */
char *wr_script_build(int version, const char *id, const char *cmdlet,
		      const struct wr_param *params, size_t nparams,
		      const char *const *switches, const struct wr_prop *props,
		      size_t nprops, struct sb_error *err);

/* Append v to b escaped for a value of an OPATH filter that is itself
 * inside a single-quoted literal: the five PowerShell quote characters
 * doubled (Exchange parses filters with PowerShell's rules).  With
 * `like`, a '*' is refused (OPATH has no escape for its wildcard).
 * SB_ERR_INVALID_INPUT naming `what` for NUL, invalid UTF-8 or '*'. */
enum sb_status wr_opath_value(struct sb_buf *b, const char *v, bool like,
			      const char *what, struct sb_error *err);

/* ---- the output ---------------------------------------------------------- */

struct wr_rows {
	size_t n;	   /* rows */
	size_t fields;	   /* fields per row */
	char **cells;	   /* n * fields, row-major; NULL for $null */
	bool failed;	   /* the script wrote an error marker: */
	char category[64]; /* CategoryInfo.Category, e.g. ObjectNotFound */
	char type[256];	   /* the exception's full type name */
	char *message;	   /* its message (malloc'd) */
};
void wr_rows_free(struct wr_rows *r);
/* Cell (row, field), NULL for $null. */
static inline const char *wr_cell(const struct wr_rows *r, size_t row,
				  size_t field)
{
	return r->cells[row * r->fields + field];
}

/* Read a script's stdout out[0..len) for the call `id`, whose rows carry
 * `fields` fields.  SB_OK with rows filled (rows->failed when the script
 * reported an error); SB_ERR_UPSTREAM with err saying what is wrong when
 * there is no complete frame (no begin, no end, a row count that does not
 * match, a field that is not base64 of UTF-8 without NUL, a row of another
 * width); SB_ERR_INTERNAL when out of memory.  Every cell is valid UTF-8
 * without NUL. */
enum sb_status wr_output_parse(const char *out, size_t len, const char *id,
			       size_t fields, struct wr_rows *rows,
			       struct sb_error *err);

#endif
