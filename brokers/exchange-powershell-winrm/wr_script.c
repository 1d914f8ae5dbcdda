/* exchange-powershell-winrm broker — the PowerShell scripts and the parser
 * of their output (see wr_script.h for the format). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wr_script.h"

static const char *const snapins[] = {
    "Microsoft.Exchange.Management.PowerShell.Admin",  /* 2007 */
    "Microsoft.Exchange.Management.PowerShell.E2010",  /* 2010 */
    "Microsoft.Exchange.Management.PowerShell.SnapIn", /* 2013 and later */
};

const char *wr_snapin(int version)
{
	if (version < WR_EX2007 || version > WR_EX2013)
		return NULL;
	return snapins[version];
}

bool wr_new_id(char id[WR_ID_LEN + 1])
{
	unsigned char raw[WR_ID_LEN / 2];
	if (!sb_random_bytes(raw, sizeof(raw)))
		return false;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	id[WR_ID_LEN] = '\0';
	return true;
}

/* Names from the broker's tables: letters, digits, '-', ':', '$' only. */
static bool name_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == ':' ||
		      *s == '$'))
			return false;
	return true;
}

/* The part every script shares: PowerShell 1.0 compatible (trap rather
 * than try/catch; .NET 2.0 calls only), no double-quoted string anywhere
 * (nothing in a script is ever expanded). */
static const char prelude[] =
    "$ErrorActionPreference = 'Stop'\n"
    "$sbT = [string][char]9\n"
    "function sbF($v) { if ($null -eq $v) { return '-' }; return "
    "[Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes([string]$v)) "
    "}\n"
    "function sbB($v) { if ($null -eq $v) { return $null }; return "
    "$v.ToBytes() }\n"
    "function sbOut($a) { "
    "[Console]::Out.WriteLine([string]::Join($sbT, [string[]]$a)) }\n"
    "trap {\n"
    "\tsbOut @('##SB-ERROR', $sbId, (sbF $_.CategoryInfo.Category), "
    "(sbF $_.Exception.GetType().FullName), (sbF $_.Exception.Message))\n"
    "\texit 1\n"
    "}\n"
    "[Threading.Thread]::CurrentThread.CurrentCulture = "
    "[Globalization.CultureInfo]::InvariantCulture\n";

char *wr_script_build(int version, const char *id, const char *cmdlet,
		      const struct wr_param *params, size_t nparams,
		      const char *const *switches, const struct wr_prop *props,
		      size_t nprops, struct sb_error *err)
{
	const char *snapin = wr_snapin(version);
	if (!snapin || !id || strlen(id) != WR_ID_LEN || !name_ok(id) ||
	    !name_ok(cmdlet)) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL,
			     "script: bad version, id or cmdlet");
		return NULL;
	}
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_printf(&b, "$sbId = '%s'\n", id);
	sb_buf_puts(&b, prelude);
	sb_buf_printf(&b, "Add-PSSnapin '%s' -ErrorAction Stop\n", snapin);
	sb_buf_puts(&b, "sbOut @('##SB-BEGIN', $sbId)\n$sbN = 0\n");
	sb_buf_printf(&b, "$sbR = @(%s", cmdlet);
	for (size_t i = 0; i < nparams; i++) {
		if (!params[i].value)
			continue;
		if (!name_ok(params[i].name)) {
			sb_buf_free(&b);
			sb_error_set(err, SB_ERR_INTERNAL, NULL,
				     "script: bad parameter name");
			return NULL;
		}
		sb_buf_printf(&b, " -%s ", params[i].name);
		struct sb_error qe = {0};
		enum sb_status st = sb_ps_quote(&b, params[i].value,
						strlen(params[i].value), &qe);
		if (st != SB_OK) {
			sb_buf_free(&b);
			sb_error_set(err, st, NULL, "%s: %s", params[i].name,
				     st == SB_ERR_INVALID_INPUT
					 ? "a NUL character or invalid UTF-8 "
					   "cannot be given to PowerShell"
					 : qe.message);
			return NULL;
		}
	}
	for (size_t i = 0; switches && switches[i]; i++) {
		if (switches[i][0] != '-' || !name_ok(switches[i] + 1)) {
			sb_buf_free(&b);
			sb_error_set(err, SB_ERR_INTERNAL, NULL,
				     "script: bad switch");
			return NULL;
		}
		sb_buf_printf(&b, " %s", switches[i]);
	}
	sb_buf_puts(&b, " -ErrorAction Stop)\n");
	if (nprops) {
		sb_buf_puts(&b, "foreach ($o in $sbR) {\n\tsbOut @(");
		for (size_t i = 0; i < nprops; i++) {
			if (!name_ok(props[i].name) ||
			    strchr(props[i].name, '$') ||
			    strchr(props[i].name, ':')) {
				sb_buf_free(&b);
				sb_error_set(err, SB_ERR_INTERNAL, NULL,
					     "script: bad property name");
				return NULL;
			}
			sb_buf_printf(&b, "%s(sbF %s$o.%s%s)", i ? ", " : "",
				      props[i].bytes ? "(sbB " : "",
				      props[i].name, props[i].bytes ? ")" : "");
		}
		sb_buf_puts(&b, ")\n\t$sbN = $sbN + 1\n}\n");
	}
	sb_buf_puts(&b, "sbOut @('##SB-END', $sbId, [string]$sbN)\nexit 0\n");
	char *s = sb_buf_steal(&b);
	if (!s)
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
	return s;
}

enum sb_status wr_opath_value(struct sb_buf *b, const char *v, bool like,
			      const char *what, struct sb_error *err)
{
	size_t len = strlen(v);
	if (!sb_utf8_valid(v, len))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: not valid UTF-8", what);
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = sb_utf8_decode(v + i, len - i, &cp);
		if (n == 0 || cp == 0)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: a NUL character cannot be "
					    "given to PowerShell",
					    what);
		if (like && cp == '*')
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: '*' is not allowed (it would "
					    "be a wildcard)",
					    what);
		bool quote = cp == 0x27 || cp == 0x2018 || cp == 0x2019 ||
			     cp == 0x201A || cp == 0x201B;
		sb_buf_append(b, v + i, n);
		if (quote)
			sb_buf_append(b, v + i, n);
		i += n;
	}
	if (b->failed)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	return SB_OK;
}

/* ---- the output ------------------------------------------------------- */

void wr_rows_free(struct wr_rows *r)
{
	if (!r)
		return;
	if (r->cells)
		for (size_t i = 0; i < r->n * r->fields; i++)
			free(r->cells[i]);
	free(r->cells);
	free(r->message);
	memset(r, 0, sizeof(*r));
}

/* One field: "-" is $null (*out NULL), else base64 of UTF-8 without NUL. */
static bool field_decode(const char *s, size_t len, char **out, bool *null)
{
	*out = NULL;
	*null = false;
	if (len == 1 && s[0] == '-') {
		*null = true;
		return true;
	}
	for (size_t i = 0; i < len; i++) /* no white space inside a field */
		if (s[i] == ' ' || s[i] == '\r' || s[i] == '\n')
			return false;
	size_t n = 0;
	unsigned char *d = sb_base64_decode(s, len, &n);
	if (!d)
		return false;
	if (memchr(d, 0, n) || !sb_utf8_valid((const char *)d, n)) {
		free(d);
		return false;
	}
	*out = (char *)d;
	return true;
}

/* Split line[0..len) at TABs: up to max fields; returns the count, or
 * max + 1 when there are more. */
static size_t split(const char *line, size_t len, const char **f, size_t *fl,
		    size_t max)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || line[i] == '\t') {
			if (n == max)
				return max + 1;
			f[n] = line + start;
			fl[n] = i - start;
			n++;
			start = i + 1;
		}
	}
	return n;
}

#define WR_FIELDS_MAX 32

static bool row_like(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		      c == '=' || c == '-' || c == '\t'))
			return false;
	}
	return true;
}

static bool eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static enum sb_status parse_error_line(const char **f, size_t *fl,
				       struct wr_rows *rows,
				       struct sb_error *err)
{
	char *v[3];
	bool null;
	for (int i = 0; i < 3; i++)
		if (!field_decode(f[2 + i], fl[2 + i], &v[i], &null)) {
			for (int j = 0; j < i; j++)
				free(v[j]);
			return sb_error_set(err, SB_ERR_UPSTREAM, NULL,
					    "PowerShell's error report is "
					    "not readable");
		}
	rows->failed = true;
	snprintf(rows->category, sizeof(rows->category), "%s",
		 v[0] ? v[0] : "");
	snprintf(rows->type, sizeof(rows->type), "%s", v[1] ? v[1] : "");
	rows->message = v[2] ? v[2] : strdup("");
	free(v[0]);
	free(v[1]);
	if (!rows->message)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	return SB_OK;
}

enum sb_status wr_output_parse(const char *out, size_t len, const char *id,
			       size_t fields, struct wr_rows *rows,
			       struct sb_error *err)
{
	memset(rows, 0, sizeof(*rows));
	rows->fields = fields;
	if (fields > WR_FIELDS_MAX)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "too many fields");
	size_t idlen = strlen(id);
	bool begun = false;
	size_t cap = 0;
	const char *f[WR_FIELDS_MAX + 1];
	size_t fl[WR_FIELDS_MAX + 1];
	size_t pos = 0;
	enum sb_status st = SB_OK;
	while (pos < len) {
		const char *nl = memchr(out + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - out) : len;
		const char *line = out + pos;
		size_t ll = end - pos;
		pos = end + 1;
		if (ll && line[ll - 1] == '\r')
			ll--;
		size_t n = split(line, ll, f, fl, WR_FIELDS_MAX);
		bool marker = ll >= 5 && memcmp(line, "##SB-", 5) == 0;
		bool ours = marker && n >= 2 && fl[1] == idlen &&
			    memcmp(f[1], id, idlen) == 0;
		if (ours && eq(f[0], fl[0], "##SB-ERROR")) {
			if (n != 5) {
				st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
						  "PowerShell's error report "
						  "is not readable");
				goto fail;
			}
			/* rows written before the error are dropped */
			for (size_t i = 0; i < rows->n * fields; i++)
				free(rows->cells[i]);
			rows->n = 0;
			st = parse_error_line(f, fl, rows, err);
			if (st != SB_OK)
				goto fail;
			return SB_OK;
		}
		if (!begun) {
			if (ours && eq(f[0], fl[0], "##SB-BEGIN") && n == 2)
				begun = true;
			continue;
		}
		if (ours && eq(f[0], fl[0], "##SB-END")) {
			char num[24];
			if (n != 3 || fl[2] == 0 || fl[2] >= sizeof(num)) {
				st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
						  "the output's end marker is "
						  "not readable");
				goto fail;
			}
			memcpy(num, f[2], fl[2]);
			num[fl[2]] = '\0';
			char *e;
			unsigned long long want = strtoull(num, &e, 10);
			if (*e || num[0] < '0' || num[0] > '9' ||
			    want != rows->n) {
				st = sb_error_set(
				    err, SB_ERR_UPSTREAM, NULL,
				    "the output holds %zu rows where "
				    "PowerShell wrote %s",
				    rows->n, num);
				goto fail;
			}
			return SB_OK;
		}
		if (marker) {
			st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
					  "a marker of another call inside "
					  "the output");
			goto fail;
		}
		/* a warning PowerShell wrote to stdout ("WARNING: ...") or
		 * an empty line: not a row (rows have only base64, '-' and
		 * TAB characters) */
		if (!row_like(line, ll))
			continue;
		if (n != fields) {
			st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
					  "a row of the output has %s%zu "
					  "fields where %zu were expected",
					  n > WR_FIELDS_MAX ? "more than " : "",
					  n > WR_FIELDS_MAX ? WR_FIELDS_MAX : n,
					  fields);
			goto fail;
		}
		if (rows->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **ncells =
			    realloc(rows->cells, nc * fields * sizeof(char *));
			if (!ncells) {
				st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
						  "out of memory");
				goto fail;
			}
			rows->cells = ncells;
			cap = nc;
		}
		char **row = rows->cells + rows->n * fields;
		for (size_t i = 0; i < fields; i++) {
			bool null;
			if (!field_decode(f[i], fl[i], &row[i], &null)) {
				for (size_t j = 0; j < i; j++)
					free(row[j]);
				st = sb_error_set(
				    err, SB_ERR_UPSTREAM, NULL,
				    "field %zu of row %zu of the output is "
				    "not base64 of UTF-8 text",
				    i + 1, rows->n + 1);
				goto fail;
			}
		}
		rows->n++;
	}
	st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
			  begun ? "the output ends before PowerShell's end "
				  "marker (cut short)"
				: "the output has no frame of this call (did "
				  "PowerShell run the script?)");
fail:
	wr_rows_free(rows);
	return st;
}
