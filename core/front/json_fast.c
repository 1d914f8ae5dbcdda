/* A call's JSON body into a jansson tree through yajl's lexer.
 *
 * jansson's own reader costs about 130 instructions a byte: it takes the
 * text a byte at a time through a callback, checks UTF-8 as it goes and
 * copies each string twice.  A call that carries a file is nearly all one
 * long base64 string, so decoding its JSON was most of the call's CPU
 * (docs/design-notes.md, "A call's JSON is read by yajl").  yajl scans a
 * string with a table look-up a byte and hands it over in place when it
 * has no escapes.
 *
 * jansson stays the authority on what a body means: sbc_json_fast_load
 * returns a tree only when it can vouch that json_loadb(body,
 * JSON_REJECT_DUPLICATES) would give the same tree, keys in the same order;
 * for anything else it returns NULL and the caller asks jansson, which
 * also writes every error message.  So a malformed body costs two reads
 * and gets the message it always got.  Where the two readers differ, this
 * file steps aside:
 *   - yajl takes \v and \f as white space and jansson does not: the text
 *     before the first token, between two and after the last may hold
 *     only space, tab, CR, LF, ':' and ',' (after the last: no ':' or ',');
 *   - yajl's own UTF-8 check looks only at the shape of a sequence (it
 *     takes overlong forms, surrogates, code points above U+10FFFF): it
 *     is switched off (yajl_dont_validate_strings) and every string and
 *     key is checked strictly instead (sb_utf8_valid, jansson's rules);
 *   - yajl reads \u escapes loosely (a lone high surrogate becomes '?', a
 *     high one pairs with any \u after it, \u0000 a NUL): a string with
 *     one is decoded here again, as jansson does, refusing what it
 *     refuses;
 *   - a fraction, an exponent or an integer beyond 64 bits, a root that
 *     is not an object, a duplicate key, or nesting deeper than any call
 *     has: NULL.
 * tests/fuzz/fuzz_json_inputs checks the promise on every input it makes,
 * and tests/unit/test_json_fast on a list of the hard cases. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yajl/yajl_parse.h>

#include <svcbroker/sdk.h>

#include "json.h"

/* A call nests at most {"inputs": {"Files": [{"Name": ...}]}}. */
#define FAST_DEPTH 8

struct fast {
	yajl_handle h;
	const char *body;
	size_t len;
	size_t prev_end; /* offset just past the last token seen */
	json_t *stack[FAST_DEPTH];
	int depth;
	json_t *root;
	char *key; /* the key waiting for its value */
};

/* Only JSON's own white space, ':' and ',' between two tokens. */
static bool gap_ok(const struct fast *f, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		switch (f->body[i]) {
		case ' ':
		case '\t':
		case '\n':
		case '\r':
		case ':':
		case ',':
			break;
		default:
			return false;
		}
	return true;
}

/* The token that ends where yajl stands now and is tok_len bytes long:
 * check the text before it and move past it. */
static bool token(struct fast *f, size_t tok_len)
{
	size_t end = yajl_get_bytes_consumed(f->h);
	if (end > f->len || end < tok_len || end - tok_len < f->prev_end ||
	    !gap_ok(f, f->prev_end, end - tok_len))
		return false;
	f->prev_end = end;
	return true;
}

/* Put v where the document has it: the root, the next item of an array,
 * or the value of the waiting key (a second value for a key is a
 * duplicate, which jansson refuses). */
static bool place(struct fast *f, json_t *v)
{
	if (!v)
		return false;
	if (f->depth == 0) {
		/* jansson wants an object or array at the root; only an
		 * object is a call */
		if (f->root || !json_is_object(v)) {
			json_decref(v);
			return false;
		}
		f->root = v;
		return true;
	}
	json_t *parent = f->stack[f->depth - 1];
	if (json_is_array(parent))
		return json_array_append_new(parent, v) == 0;
	char *k = f->key;
	f->key = NULL;
	if (!k || json_object_get(parent, k)) {
		free(k);
		json_decref(v);
		return false;
	}
	int rc = json_object_set_new_nocheck(parent, k, v);
	free(k);
	return rc == 0;
}

static int on_null(void *ctx)
{
	struct fast *f = ctx;
	return token(f, 4) && place(f, json_null());
}

static int on_boolean(void *ctx, int b)
{
	struct fast *f = ctx;
	return token(f, b ? 4 : 5) && place(f, json_boolean(b));
}

/* Integers only: a call takes no fractions, so any other number is an
 * error jansson words better. */
static int on_number(void *ctx, const char *s, size_t n)
{
	struct fast *f = ctx;
	if (!token(f, n) || n == 0 || n > 20)
		return 0;
	char buf[24];
	for (size_t i = 0; i < n; i++)
		if (!(s[i] >= '0' && s[i] <= '9') && !(i == 0 && s[i] == '-'))
			return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	char *end;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end)
		return 0;
	return place(f, json_integer((json_int_t)v));
}

/* Four hex digits of a \u escape. */
static bool hex4(const char *p, size_t n, uint32_t *v)
{
	if (n < 4)
		return false;
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		uint32_t d;
		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else
			return false;
		*v = *v << 4 | d;
	}
	return true;
}

/* The text between a string's quotes, holding a \u escape, decoded as
 * jansson decodes it, into out (at least n bytes: no escape decodes to
 * more bytes than it is written in).  false where jansson refuses the
 * string: \u0000 (no JSON_ALLOW_NUL) or a surrogate not in a pair.  (yajl
 * writes a lone high surrogate as '?' and a lone low one as its three
 * bytes, and pairs a high one with any \u after it.)  Bytes other than
 * escapes are copied; the caller checks them as UTF-8. */
static bool decode_escapes(const char *raw, size_t n, char *out,
			   size_t *out_len)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		if (raw[i] != '\\') {
			out[o++] = raw[i++];
			continue;
		}
		if (i + 1 >= n)
			return false;
		char e = raw[i + 1];
		i += 2;
		switch (e) {
		case '"':
		case '\\':
		case '/':
			out[o++] = e;
			continue;
		case 'b':
			out[o++] = '\b';
			continue;
		case 'f':
			out[o++] = '\f';
			continue;
		case 'n':
			out[o++] = '\n';
			continue;
		case 'r':
			out[o++] = '\r';
			continue;
		case 't':
			out[o++] = '\t';
			continue;
		case 'u':
			break;
		default:
			return false;
		}
		uint32_t cp, lo;
		if (!hex4(raw + i, n - i, &cp))
			return false;
		i += 4;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return false;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (i + 6 > n || raw[i] != '\\' || raw[i + 1] != 'u' ||
			    !hex4(raw + i + 2, n - i - 2, &lo) || lo < 0xdc00 ||
			    lo > 0xdfff)
				return false;
			i += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (cp == 0)
			return false;
		o += sb_utf8_encode(cp, out + o);
	}
	*out_len = o;
	return true;
}

/* A string token: where it starts (its opening quote is the first one
 * after the last token), and its value as jansson reads it.  yajl gives
 * the bytes in place when there is no escape, decoded when there is; one
 * with a \u escape is decoded again here into *tmp (the caller frees). */
static bool string_token(struct fast *f, const unsigned char **s, size_t *n,
			 char **tmp)
{
	size_t end = yajl_get_bytes_consumed(f->h);
	*tmp = NULL;
	if (end > f->len || end < f->prev_end + 2)
		return false;
	const char *q = memchr(f->body + f->prev_end, '"', end - f->prev_end);
	if (!q)
		return false;
	size_t start = (size_t)(q - f->body);
	if (end - start < 2 || !gap_ok(f, f->prev_end, start))
		return false;
	f->prev_end = end;
	const char *raw = f->body + start + 1;
	size_t raw_len = end - start - 2;
	if (((const char *)*s != raw || *n != raw_len) &&
	    memmem(raw, raw_len, "\\u", 2)) {
		/* escapes: yajl's reading of \" \\ \/ \b \f \n \r \t is
		 * JSON's, not of every \u */
		*tmp = malloc(raw_len + 1);
		if (!*tmp || !decode_escapes(raw, raw_len, *tmp, n)) {
			free(*tmp);
			*tmp = NULL;
			return false;
		}
		*s = (const unsigned char *)*tmp;
	}
	if (sb_utf8_valid((const char *)*s, *n))
		return true;
	free(*tmp);
	*tmp = NULL;
	return false;
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
	struct fast *f = ctx;
	char *tmp;
	if (!string_token(f, &s, &n, &tmp))
		return 0;
	bool ok = place(f, json_stringn_nocheck((const char *)s, n));
	free(tmp);
	return ok;
}

static int on_key(void *ctx, const unsigned char *s, size_t n)
{
	struct fast *f = ctx;
	char *tmp;
	if (f->key || !string_token(f, &s, &n, &tmp))
		return 0;
	/* jansson keeps keys as C strings: a NUL in one is refused */
	bool ok = !memchr(s, '\0', n) && (f->key = malloc(n + 1)) != NULL;
	if (ok) {
		memcpy(f->key, s, n);
		f->key[n] = '\0';
	}
	free(tmp);
	return ok;
}

static int open_container(struct fast *f, json_t *v)
{
	if (!v)
		return 0;
	if (f->depth >= FAST_DEPTH || !token(f, 1)) {
		json_decref(v);
		return 0;
	}
	json_incref(v); /* one for the parent, one for the stack */
	if (!place(f, v)) {
		json_decref(v);
		return 0;
	}
	f->stack[f->depth++] = v;
	return 1;
}

static int close_container(struct fast *f)
{
	if (f->depth == 0 || f->key || !token(f, 1))
		return 0;
	json_decref(f->stack[--f->depth]);
	return 1;
}

static int on_start_map(void *ctx)
{
	return open_container(ctx, json_object());
}
static int on_end_map(void *ctx) { return close_container(ctx); }
static int on_start_array(void *ctx)
{
	return open_container(ctx, json_array());
}
static int on_end_array(void *ctx) { return close_container(ctx); }

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

struct json_t *sbc_json_fast_load(const char *body, size_t len)
{
	if (!body || len == 0)
		return NULL;
	struct fast f = {.body = body, .len = len};
	f.h = yajl_alloc(&callbacks, NULL, &f);
	if (!f.h)
		return NULL;
	/* strings are checked here, strictly */
	yajl_config(f.h, yajl_dont_validate_strings, 1);
	bool ok = yajl_parse(f.h, (const unsigned char *)body, len) ==
		      yajl_status_ok &&
		  f.depth == 0 && f.root;
	/* the document is whole (the root object closed): nothing is left
	 * for yajl's end, which only checks that */
	if (ok)
		ok = yajl_complete_parse(f.h) == yajl_status_ok;
	yajl_free(f.h);
	/* only white space after the root */
	for (size_t i = f.prev_end; ok && i < len; i++)
		ok = body[i] == ' ' || body[i] == '\t' || body[i] == '\n' ||
		     body[i] == '\r';
	while (f.depth > 0)
		json_decref(f.stack[--f.depth]);
	free(f.key);
	if (!ok) {
		json_decref(f.root);
		return NULL;
	}
	return f.root;
}
