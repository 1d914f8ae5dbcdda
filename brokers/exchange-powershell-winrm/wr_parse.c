/* exchange-powershell-winrm broker — reading what WinRS sends back: the
 * output streams of a ReceiveResponse, and PowerShell's CLIXML error
 * stream.  No network here (tests/fuzz/fuzz_winrm.c drives it). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/xml.h>

#include "wr_wsman.h"

#define NS_PS "http://schemas.microsoft.com/powershell/2004/04"
#define DONE_SUFFIX "/CommandState/Done"

/* ---- ReceiveResponse --------------------------------------------------- */

static bool for_command(const xmlNode *n, const char *command_id)
{
	const char *id = sb_xml_attr(n, NULL, "CommandId");
	/* a server may leave the attribute out; the ids are GUIDs, their
	 * case may differ */
	return !id || !command_id || strcasecmp(id, command_id) == 0;
}

enum sb_status wr_receive_read(const xmlDoc *doc, const char *command_id,
			       struct wr_recv *r, struct sb_error *err)
{
	xmlNode *rr =
	    sb_xml_child(sb_soap_body_of(doc), SB_NS_WINRS, "ReceiveResponse");
	if (!rr)
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "WinRM Receive: the answer has no "
				    "rsp:ReceiveResponse");
	for (xmlNode *s = sb_xml_child(rr, SB_NS_WINRS, "Stream"); s;
	     s = sb_xml_next(s)) {
		if (!for_command(s, command_id))
			continue;
		const char *name = sb_xml_attr(s, NULL, "Name");
		struct sb_buf *to = NULL;
		if (name && strcmp(name, "stdout") == 0)
			to = &r->out;
		else if (name && strcmp(name, "stderr") == 0)
			to = &r->err;
		if (!to)
			continue;
		struct sb_error terr;
		char *text = sb_xml_text(s, 64u << 20, &terr);
		if (!text)
			return sb_error_set(
			    err, terr.status, "invalid_response",
			    "WinRM Receive: rsp:Stream: %s", terr.message);
		size_t tl = strlen(text);
		/* decoded, at most 3/4 of the text: the cap is checked
		 * before anything is decoded */
		if (r->cap && r->out.len + r->err.len + tl / 4 * 3 > r->cap) {
			free(text);
			return sb_error_set(
			    err, SB_ERR_UPSTREAM, "output_too_large",
			    "WinRM Receive: the command's output "
			    "passed %zu bytes",
			    r->cap);
		}
		bool ok = sb_base64_decode_append(to, text, tl, 0);
		free(text);
		if (!ok) {
			if (to->failed)
				return sb_error_set(err, SB_ERR_INTERNAL, NULL,
						    "out of memory");
			return sb_error_set(err, SB_ERR_UPSTREAM,
					    "invalid_response",
					    "WinRM Receive: rsp:Stream %s is "
					    "not base64",
					    name);
		}
	}
	for (xmlNode *cs = sb_xml_child(rr, SB_NS_WINRS, "CommandState"); cs;
	     cs = sb_xml_next(cs)) {
		if (!for_command(cs, command_id))
			continue;
		const char *state = sb_xml_attr(cs, NULL, "State");
		size_t sl = state ? strlen(state) : 0, dl = strlen(DONE_SUFFIX);
		if (sl >= dl && strcmp(state + sl - dl, DONE_SUFFIX) == 0) {
			r->done = true;
			int64_t code;
			if (sb_xml_int64(
				sb_xml_child(cs, SB_NS_WINRS, "ExitCode"),
				&code) &&
			    code >= INT32_MIN && code <= INT32_MAX)
				r->exit_code = (int)code;
			else if (sb_xml_int64(
				     sb_xml_child(cs, SB_NS_WINRS, "ExitCode"),
				     &code))
				/* a Windows exit code is a DWORD */
				r->exit_code = (int)(uint32_t)code;
		}
	}
	return SB_OK;
}

/* ---- _xHHHH_ ----------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* An escape _xHHHH_ at s (n bytes left): its code unit, or -1. */
static long escape_at(const char *s, size_t n)
{
	if (n < 7 || s[0] != '_' || s[1] != 'x' || s[6] != '_')
		return -1;
	long v = 0;
	for (int i = 2; i < 6; i++) {
		int h = hexval(s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

bool wr_xml_name_unescape(const char *s, size_t len, struct sb_buf *out)
{
	size_t i = 0;
	while (i < len) {
		long u = escape_at(s + i, len - i);
		if (u < 0) {
			size_t j = i + 1;
			while (j < len && s[j] != '_')
				j++;
			sb_buf_append(out, s + i, j - i);
			i = j;
			continue;
		}
		i += 7;
		uint32_t cp = (uint32_t)u;
		if (u >= 0xD800 && u <= 0xDBFF) {
			long lo = escape_at(s + i, len - i);
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				cp = 0x10000 + (((uint32_t)u - 0xD800) << 10) +
				     ((uint32_t)lo - 0xDC00);
				i += 7;
			} else {
				cp = 0xFFFD;
			}
		} else if (u >= 0xDC00 && u <= 0xDFFF) {
			cp = 0xFFFD;
		}
		char enc[4];
		size_t k = sb_utf8_encode(cp, enc);
		sb_buf_append(out, enc, k);
	}
	return !out->failed;
}

/* ---- CLIXML -------------------------------------------------------------- */

static const char *find_bytes(const char *h, size_t hl, const char *n)
{
	size_t nl = strlen(n);
	if (nl > hl)
		return NULL;
	for (size_t i = 0; i + nl <= hl; i++)
		if (h[i] == n[0] && memcmp(h + i, n, nl) == 0)
			return h + i;
	return NULL;
}

/* PowerShell's lines about where an error happened, not what it is. */
static bool noise_line(const char *l, size_t n)
{
	while (n && (*l == ' ' || *l == '\t')) {
		l++;
		n--;
	}
	if (n == 0)
		return true;
	if (n >= 8 && memcmp(l, "At line:", 8) == 0)
		return true;
	if (n >= 2 && l[0] == '+' && l[1] == ' ')
		return true;
	if (n == 1 && l[0] == '+')
		return true;
	return false;
}

/* The S="Error" strings of one <Objs> document, unescaped, appended to
 * text.  false if it is not one. */
static bool objs_errors(const char *doc_text, size_t len, struct sb_buf *text)
{
	struct sb_error perr;
	xmlDoc *doc = sb_xml_parse(doc_text, len, 0, &perr);
	if (!doc)
		return false;
	xmlNode *root = sb_xml_root(doc);
	bool ok =
	    sb_xml_is(root, NS_PS, "Objs") || sb_xml_is(root, NULL, "Objs");
	if (ok) {
		const char *ns = sb_xml_is(root, NS_PS, "Objs") ? NS_PS : NULL;
		/* every S element of the stream, wherever it sits (progress
		 * records carry none with S="Error") */
		for (xmlNode *s = sb_xml_first_element(root); s;
		     s = sb_xml_next_element(s)) {
			if (!sb_xml_is(s, ns, "S"))
				continue;
			const char *kind = sb_xml_attr(s, NULL, "S");
			if (!kind || strcmp(kind, "Error") != 0)
				continue;
			char *t = sb_xml_text(s, 1u << 20, &perr);
			if (!t)
				continue;
			wr_xml_name_unescape(t, strlen(t), text);
			free(t);
		}
	}
	sb_xml_free(doc);
	return ok;
}

bool wr_clixml_reduce(const char *in, size_t len, struct sb_buf *out)
{
	static const char mark[] = "#< CLIXML";
	const size_t ml = sizeof(mark) - 1;
	if (len < ml || memcmp(in, mark, ml) != 0) {
		sb_buf_append(out, in ? in : "", len);
		return !out->failed;
	}
	struct sb_buf text;
	sb_buf_init(&text, 0);
	const char *p = in, *end = in + len;
	bool all_ok = true;
	unsigned docs = 0;
	/* bounded: every turn moves p forward */
	while (p < end) {
		while (p < end &&
		       (*p == ' ' || *p == '\r' || *p == '\n' || *p == '\t'))
			p++;
		if ((size_t)(end - p) >= ml && memcmp(p, mark, ml) == 0) {
			p += ml;
			continue;
		}
		if (p >= end)
			break;
		const char *start = find_bytes(p, (size_t)(end - p), "<Objs");
		if (!start) {
			all_ok = false;
			break;
		}
		const char *close =
		    find_bytes(start, (size_t)(end - start), "</Objs>");
		if (!close) {
			all_ok = false;
			break;
		}
		const char *stop = close + 7;
		if (!objs_errors(start, (size_t)(stop - start), &text))
			all_ok = false;
		docs++;
		p = stop;
	}
	if (!all_ok || !docs || text.failed) {
		/* not what PowerShell writes: shown as it came rather than
		 * lose anything */
		sb_buf_free(&text);
		sb_buf_append(out, in, len);
		return !out->failed;
	}
	/* the lines, PowerShell's position and category lines left out */
	size_t start_len = out->len;
	const char *t = text.data ? text.data : "";
	size_t tl = text.len, i = 0;
	bool first = true;
	while (i < tl) {
		size_t j = i;
		while (j < tl && t[j] != '\n')
			j++;
		size_t n = j - i;
		if (n && t[i + n - 1] == '\r')
			n--;
		if (!noise_line(t + i, n)) {
			size_t e = n;
			while (e &&
			       (t[i + e - 1] == ' ' || t[i + e - 1] == '\t'))
				e--;
			if (!first)
				sb_buf_append(out, "\n", 1);
			sb_buf_append(out, t + i, e);
			first = false;
		}
		i = j + 1;
	}
	if (out->len == start_len && tl) {
		/* nothing but position lines: keep them, trimmed */
		size_t a = 0, b = tl;
		while (a < b && (t[a] == ' ' || t[a] == '\r' || t[a] == '\n'))
			a++;
		while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\r' ||
				 t[b - 1] == '\n'))
			b--;
		sb_buf_append(out, t + a, b - a);
	}
	if (!out->data)
		sb_buf_append(out, "", 0);
	sb_buf_free(&text);
	return !out->failed;
}

/* ---- -EncodedCommand ----------------------------------------------------- */

char *wr_encode_command(const char *script, size_t len)
{
	if (!sb_utf8_valid(script, len))
		return NULL;
	unsigned char *u16 = malloc(len * 2 + 2);
	if (!u16)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = sb_utf8_decode(script + i, len - i, &cp);
		if (!n) {
			free(u16);
			return NULL;
		}
		i += n;
		if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000;
			uint16_t hi = (uint16_t)(0xD800 + (v >> 10));
			uint16_t lo = (uint16_t)(0xDC00 + (v & 0x3FF));
			u16[k++] = (unsigned char)(hi & 0xFF);
			u16[k++] = (unsigned char)(hi >> 8);
			u16[k++] = (unsigned char)(lo & 0xFF);
			u16[k++] = (unsigned char)(lo >> 8);
		} else {
			u16[k++] = (unsigned char)(cp & 0xFF);
			u16[k++] = (unsigned char)(cp >> 8);
		}
	}
	char *b64 = sb_base64_encode(u16, k, 0);
	free(u16);
	return b64;
}
