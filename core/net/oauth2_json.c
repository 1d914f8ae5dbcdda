/* libsvcbroker-net: a strict reader for a token endpoint's JSON answer
 * (see oauth2_int.h).  The library links no JSON library (the host's
 * jansson stays the host's), and the answer is one flat object, so a
 * small reader with a fuzz target (tests/fuzz/fuzz_oauth2_json.c) is
 * enough: every byte is checked, nothing is read past n, nesting is
 * bounded. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/sdk.h>

#include "oauth2_int.h"

#define MAX_DEPTH 32 /* nested arrays/objects skipped */

struct rd {
	const char *s;
	size_t n, i;
	char *why;
	size_t why_n;
};

static bool fail(struct rd *r, const char *what)
{
	if (r->why && r->why_n)
		snprintf(r->why, r->why_n, "%s at byte %zu", what, r->i);
	return false;
}

static void ws(struct rd *r)
{
	while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
			       r->s[r->i] == '\n' || r->s[r->i] == '\r'))
		r->i++;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int k = 0; k < 4; k++) {
		char c = p[k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* A string at r->i (at its opening quote).  With out, the decoded text is
 * appended there. */
static bool string(struct rd *r, struct sb_buf *out)
{
	if (r->i >= r->n || r->s[r->i] != '"')
		return fail(r, "expected a string");
	r->i++;
	while (r->i < r->n) {
		unsigned char c = (unsigned char)r->s[r->i];
		if (c == '"') {
			r->i++;
			if (out && out->failed)
				return fail(r, "string too long");
			return true;
		}
		if (c < 0x20)
			return fail(r, "control character in a string");
		if (c == '\\') {
			if (r->i + 1 >= r->n)
				break;
			char e = r->s[r->i + 1];
			char ch = 0;
			switch (e) {
			case '"':
			case '\\':
			case '/':
				ch = e;
				break;
			case 'b':
				ch = '\b';
				break;
			case 'f':
				ch = '\f';
				break;
			case 'n':
				ch = '\n';
				break;
			case 'r':
				ch = '\r';
				break;
			case 't':
				ch = '\t';
				break;
			case 'u': {
				if (r->n - r->i < 6)
					return fail(r, "short \\u escape");
				int u = hex4(r->s + r->i + 2);
				if (u < 0)
					return fail(r, "bad \\u escape");
				r->i += 6;
				uint32_t cp = (uint32_t)u;
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return fail(r, "lone low surrogate");
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					if (r->n - r->i < 6 ||
					    r->s[r->i] != '\\' ||
					    r->s[r->i + 1] != 'u')
						return fail(r, "lone high "
							       "surrogate");
					int lo = hex4(r->s + r->i + 2);
					if (lo < 0xDC00 || lo > 0xDFFF)
						return fail(r, "bad surrogate "
							       "pair");
					r->i += 6;
					cp = 0x10000 + ((cp - 0xD800) << 10) +
					     ((uint32_t)lo - 0xDC00);
				}
				if (cp == 0)
					return fail(r, "NUL in a string");
				if (out) {
					char u8[4];
					size_t k = sb_utf8_encode(cp, u8);
					sb_buf_append(out, u8, k);
				}
				continue;
			}
			default:
				return fail(r, "bad escape");
			}
			if (out)
				sb_buf_append(out, &ch, 1);
			r->i += 2;
			continue;
		}
		size_t k = sb_utf8_decode(r->s + r->i, r->n - r->i, NULL);
		if (!k)
			return fail(r, "invalid UTF-8");
		if (out)
			sb_buf_append(out, r->s + r->i, k);
		r->i += k;
	}
	return fail(r, "unterminated string");
}

/* A JSON number; *whole set when it is a non-negative integer that fits
 * (value in *v). */
static bool number(struct rd *r, bool *whole, int64_t *v)
{
	size_t st = r->i;
	*whole = true;
	*v = 0;
	if (r->i < r->n && r->s[r->i] == '-') {
		*whole = false;
		r->i++;
	}
	if (r->i >= r->n || r->s[r->i] < '0' || r->s[r->i] > '9')
		return fail(r, "bad number");
	if (r->s[r->i] == '0' && r->i + 1 < r->n && r->s[r->i + 1] >= '0' &&
	    r->s[r->i + 1] <= '9')
		return fail(r, "leading zero in a number");
	while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9') {
		int d = r->s[r->i] - '0';
		if (*v > (INT64_MAX - d) / 10)
			*whole = false;
		else
			*v = *v * 10 + d;
		r->i++;
	}
	if (r->i < r->n && r->s[r->i] == '.') {
		*whole = false;
		r->i++;
		size_t d0 = r->i;
		while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
			r->i++;
		if (r->i == d0)
			return fail(r, "bad fraction");
	}
	if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
		*whole = false;
		r->i++;
		if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-'))
			r->i++;
		size_t d0 = r->i;
		while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
			r->i++;
		if (r->i == d0)
			return fail(r, "bad exponent");
	}
	return r->i > st;
}

static bool literal(struct rd *r, const char *w)
{
	size_t k = strlen(w);
	if (r->n - r->i < k || memcmp(r->s + r->i, w, k) != 0)
		return fail(r, "unexpected character");
	r->i += k;
	return true;
}

/* Skip any value (nesting bounded). */
static bool skip(struct rd *r, int depth)
{
	ws(r);
	if (r->i >= r->n)
		return fail(r, "value expected");
	char c = r->s[r->i];
	if (c == '"')
		return string(r, NULL);
	if (c == 't')
		return literal(r, "true");
	if (c == 'f')
		return literal(r, "false");
	if (c == 'n')
		return literal(r, "null");
	if (c == '[' || c == '{') {
		if (depth >= MAX_DEPTH)
			return fail(r, "nested too deep");
		char close = c == '[' ? ']' : '}';
		r->i++;
		ws(r);
		if (r->i < r->n && r->s[r->i] == close) {
			r->i++;
			return true;
		}
		for (;;) {
			if (c == '{') {
				ws(r);
				if (!string(r, NULL))
					return false;
				ws(r);
				if (r->i >= r->n || r->s[r->i] != ':')
					return fail(r, "':' expected");
				r->i++;
			}
			if (!skip(r, depth + 1))
				return false;
			ws(r);
			if (r->i >= r->n)
				return fail(r, "unterminated");
			if (r->s[r->i] == ',') {
				r->i++;
				continue;
			}
			if (r->s[r->i] == close) {
				r->i++;
				return true;
			}
			return fail(r, "',' or end expected");
		}
	}
	bool whole;
	int64_t v;
	return number(r, &whole, &v);
}

static bool set_str(struct rd *r, char **field, struct sb_buf *val)
{
	if (*field)
		return fail(r, "repeated member");
	if (!val->data) /* "" */
		sb_buf_append(val, "", 0);
	*field = sb_buf_steal(val);
	if (!*field)
		return fail(r, "out of memory");
	return true;
}

bool oauth2_answer_parse(const char *s, size_t n, struct oauth2_answer *a,
			 char *why, size_t why_n)
{
	struct rd r = {s, n, 0, why, why_n};
	memset(a, 0, sizeof(*a));
	a->expires_in = -1;
	bool seen_expires = false;
	if (why && why_n)
		why[0] = '\0';
	ws(&r);
	if (r.i >= r.n || s[r.i] != '{')
		return fail(&r, "not a JSON object");
	r.i++;
	ws(&r);
	if (r.i < r.n && s[r.i] == '}') {
		r.i++;
		goto end;
	}
	for (;;) {
		struct sb_buf key;
		sb_buf_init(&key, 256);
		ws(&r);
		if (!string(&r, &key)) {
			sb_buf_free(&key);
			return false;
		}
		const char *k = key.data ? key.data : "";
		char **field = NULL;
		bool expires = false;
		if (!strcmp(k, "access_token"))
			field = &a->access_token;
		else if (!strcmp(k, "token_type"))
			field = &a->token_type;
		else if (!strcmp(k, "error"))
			field = &a->error;
		else if (!strcmp(k, "error_description"))
			field = &a->error_description;
		else if (!strcmp(k, "expires_in"))
			expires = true;
		sb_buf_free(&key);
		ws(&r);
		if (r.i >= r.n || s[r.i] != ':')
			return fail(&r, "':' expected");
		r.i++;
		ws(&r);
		if (expires) {
			if (seen_expires)
				return fail(&r, "repeated member");
			seen_expires = true;
			bool whole = false;
			int64_t v = 0;
			if (r.i < r.n && s[r.i] == '"') {
				struct sb_buf val;
				sb_buf_init(&val, 32);
				bool ok = string(&r, &val);
				struct rd nr = {val.data ? val.data : "",
						val.len, 0, NULL, 0};
				if (ok && val.len)
					ok = number(&nr, &whole, &v) &&
					     nr.i == val.len;
				sb_buf_free(&val);
				if (!ok || !whole)
					return fail(&r, "expires_in is not a "
							"whole number");
			} else if (!number(&r, &whole, &v) || !whole) {
				return fail(&r, "expires_in is not a whole "
						"number");
			}
			a->expires_in = v;
		} else if (field) {
			/* the token: up to the answer's own cap */
			struct sb_buf val;
			sb_buf_init(&val, 64 * 1024);
			bool ok = r.i < r.n && s[r.i] == '"'
				      ? string(&r, &val)
				      : fail(&r, "expected a string");
			if (ok)
				ok = set_str(&r, field, &val);
			sb_buf_free(&val);
			if (!ok)
				return false;
		} else if (!skip(&r, 1)) {
			return false;
		}
		ws(&r);
		if (r.i >= r.n)
			return fail(&r, "unterminated object");
		if (s[r.i] == ',') {
			r.i++;
			continue;
		}
		if (s[r.i] == '}') {
			r.i++;
			break;
		}
		return fail(&r, "',' or '}' expected");
	}
end:
	ws(&r);
	if (r.i != r.n)
		return fail(&r, "text after the object");
	return true;
}

static void wipe_free(char *p)
{
	if (!p)
		return;
	volatile char *v = p;
	while (*v)
		*v++ = '\0';
	free(p);
}

void oauth2_answer_free(struct oauth2_answer *a)
{
	wipe_free(a->access_token);
	free(a->token_type);
	free(a->error);
	free(a->error_description);
	memset(a, 0, sizeof(*a));
	a->expires_in = -1;
}
