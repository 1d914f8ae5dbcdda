/* Stateless helpers for brokers: capped buffers, base64, XML escaping,
 * UTF-8 checks, random ids, address and path checks, clocks. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <svcbroker/sdk.h>
#include <svcbroker/types.h>

#define SB_BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

void sb_buf_init(struct sb_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SB_BUF_DEFAULT_MAX;
	b->failed = false;
}

/* Make room for `extra` more bytes plus the terminating NUL. */
static bool buf_reserve(struct sb_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (extra > b->max || b->len > b->max - extra) {
		b->failed = true;
		return false;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	/* Never allocate much more than the cap allows. */
	if (ncap > b->max + 1 && need <= b->max + 1)
		ncap = b->max + 1;
	char *p = realloc(b->data, ncap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = ncap;
	return true;
}

bool sb_buf_append(struct sb_buf *b, const void *data, size_t len)
{
	if (!buf_reserve(b, len))
		return false;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return true;
}

bool sb_buf_puts(struct sb_buf *b, const char *s)
{
	return sb_buf_append(b, s, strlen(s));
}

bool sb_buf_printf(struct sb_buf *b, const char *fmt, ...)
{
	if (b->failed)
		return false;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return false;
	}
	if (!buf_reserve(b, (size_t)n))
		return false;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return true;
}

char *sb_buf_steal(struct sb_buf *b)
{
	if (b->failed) {
		sb_buf_free(b);
		return NULL;
	}
	char *p = b->data;
	if (!p)
		p = calloc(1, 1);
	size_t max = b->max;
	sb_buf_init(b, max);
	return p;
}

void sb_buf_free(struct sb_buf *b)
{
	free(b->data);
	size_t max = b->max;
	sb_buf_init(b, max);
}

/* ---- base64 ---------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The two characters of each 12 bits, made once: a group of three bytes
 * is two look-ups. */
static char b64_pairs[4096][2];
static pthread_once_t b64_pairs_once = PTHREAD_ONCE_INIT;

static void b64_pairs_make(void)
{
	for (unsigned i = 0; i < 4096; i++) {
		b64_pairs[i][0] = b64_alphabet[i >> 6];
		b64_pairs[i][1] = b64_alphabet[i & 63];
	}
}

char *sb_base64_encode(const void *data, size_t len, size_t line_len)
{
	const unsigned char *in = data;
	if (len > (SIZE_MAX / 4) - 16)
		return NULL;
	size_t olen = (len + 2) / 3 * 4;
	size_t total = olen;
	if (line_len > 0 && olen > 0)
		total += (olen - 1) / line_len * 2;
	char *out = malloc(total + 1);
	if (!out)
		return NULL;
	size_t o = 0, col = 0;
	if (line_len % 4 == 0) {
		/* whole groups of four on a line (MIME's 76, or none): the
		 * groups of a line in one loop, then its CRLF */
		pthread_once(&b64_pairs_once, b64_pairs_make);
		size_t per = line_len ? line_len / 4 : SIZE_MAX;
		const unsigned char *p = in, *end = in + len / 3 * 3;
		char *restrict q = out;
		while (p < end) {
			size_t n = (size_t)(end - p) / 3;
			if (n > per)
				n = per;
			for (const unsigned char *e = p + 3 * n; p < e;
			     p += 3) {
				uint32_t v = (uint32_t)p[0] << 16 |
					     (uint32_t)p[1] << 8 | p[2];
				memcpy(q, b64_pairs[v >> 12], 2);
				memcpy(q + 2, b64_pairs[v & 4095], 2);
				q += 4;
			}
			if (p < end || (p < in + len && n == per)) {
				*q++ = '\r';
				*q++ = '\n';
			}
		}
		if (p < in + len) {
			bool two = p + 1 < in + len;
			uint32_t v = (uint32_t)p[0] << 16 |
				     (two ? (uint32_t)p[1] << 8 : 0);
			q[0] = b64_alphabet[v >> 18];
			q[1] = b64_alphabet[(v >> 12) & 63];
			q[2] = two ? b64_alphabet[(v >> 6) & 63] : '=';
			q[3] = '=';
			q += 4;
		}
		*q = '\0';
		return out;
	}
#define B64_PUT(ch)                                                            \
	do {                                                                   \
		if (line_len > 0 && col == line_len) {                         \
			out[o++] = '\r';                                       \
			out[o++] = '\n';                                       \
			col = 0;                                               \
		}                                                              \
		out[o++] = (ch);                                               \
		col++;                                                         \
	} while (0)
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];
		B64_PUT(b64_alphabet[(v >> 18) & 63]);
		B64_PUT(b64_alphabet[(v >> 12) & 63]);
		B64_PUT(b64_alphabet[(v >> 6) & 63]);
		B64_PUT(b64_alphabet[v & 63]);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		B64_PUT(b64_alphabet[(v >> 18) & 63]);
		B64_PUT(b64_alphabet[(v >> 12) & 63]);
		B64_PUT('=');
		B64_PUT('=');
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		B64_PUT(b64_alphabet[(v >> 18) & 63]);
		B64_PUT(b64_alphabet[(v >> 12) & 63]);
		B64_PUT(b64_alphabet[(v >> 6) & 63]);
		B64_PUT('=');
	}
#undef B64_PUT
	out[o] = '\0';
	return out;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *sb_base64url_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	if (len > (SIZE_MAX - 4) / 4 * 3)
		return NULL;
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = b64url_alphabet[(v >> 6) & 63];
		if (i + 2 < len)
			out[o++] = b64url_alphabet[v & 63];
	}
	out[o] = '\0';
	return out;
}

bool sb_base64url_decode(const char *s, size_t len, unsigned char *out,
			 size_t *out_len)
{
	if (!s || len % 4 == 1)
		return false;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int v = c == '-'	       ? 62
			: c == '_'	       ? 63
			: c == '+' || c == '/' ? -1
					       : b64_value(c);
		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return false;
	*out_len = o;
	return true;
}

/* The one base64 decoder.  Writes the bytes of s[0..len) to out (room for
 * len / 4 * 3 + 3 bytes) and their count to *o.  Strict: CR/LF/space are
 * skipped, anything else outside the alphabet, misplaced padding, an
 * unpadded or non-canonical tail fail (false).  Lenient: anything outside
 * the alphabet is skipped, the first '=' ends the data, and a partial tail
 * gives the whole bytes it holds; never fails. */
/* The value of each byte as a base64 symbol, -1 for none, made once. */
static signed char b64_values[256];
static pthread_once_t b64_values_once = PTHREAD_ONCE_INIT;

static void b64_values_make(void)
{
	for (int c = 0; c < 256; c++)
		b64_values[c] = (signed char)b64_value((unsigned char)c);
}

static bool b64_decode(const char *s, size_t len, bool lenient,
		       unsigned char *out, size_t *o_len)
{
	pthread_once(&b64_values_once, b64_values_make);
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;
	uint32_t acc = 0;
	int nq = 0;   /* symbols in the current quantum */
	int npad = 0; /* '=' seen */
	for (size_t i = 0; i < len; i++) {
		/* four symbols at the start of a quantum, none padding: the
		 * bytes at once (what the steps below make of them) */
		if (nq == 0 && npad == 0 && i + 4 <= len) {
			int a = b64_values[u[i]], b = b64_values[u[i + 1]],
			    c = b64_values[u[i + 2]], d = b64_values[u[i + 3]];
			if ((a | b | c | d) >= 0) {
				uint32_t q = (uint32_t)a << 18 |
					     (uint32_t)b << 12 |
					     (uint32_t)c << 6 | (uint32_t)d;
				out[o] = (unsigned char)(q >> 16);
				out[o + 1] = (unsigned char)(q >> 8);
				out[o + 2] = (unsigned char)q;
				o += 3;
				i += 3;
				continue;
			}
		}
		unsigned char c = (unsigned char)s[i];
		if (c == '=' && lenient)
			break;
		if (c == '\r' || c == '\n' || c == ' ')
			continue;
		if (c == '=') {
			/* Padding only in the 3rd/4th place of a quantum. */
			if (nq + npad < 2)
				return false;
			npad++;
			if (nq + npad > 4)
				return false;
			continue;
		}
		int v = b64_value(c);
		if (v < 0 && lenient)
			continue;
		if (v < 0 || npad > 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		nq++;
		if (nq == 4) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
			nq = 0;
		}
	}
	if (!lenient) {
		if (npad > 0) {
			if (nq + npad != 4)
				return false;
		} else if (nq != 0) {
			return false; /* unpadded tail */
		}
		if (nq == 1 || (nq == 2 && (acc & 0xf)) ||
		    (nq == 3 && (acc & 0x3)))
			return false; /* non-canonical trailing bits */
	}
	if (nq == 2) {
		out[o++] = (unsigned char)(acc >> 4);
	} else if (nq == 3) {
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
	}
	*o_len = o;
	return true;
}

unsigned char *sb_base64_decode(const char *s, size_t len, size_t *out_len)
{
	if (!s)
		return NULL;
	unsigned char *out = malloc(len / 4 * 3 + 4);
	if (!out)
		return NULL;
	size_t o;
	if (!b64_decode(s, len, false, out, &o)) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

bool sb_base64_decode_append(struct sb_buf *b, const char *s, size_t len,
			     unsigned flags)
{
	if (!s)
		return false;
	if (!buf_reserve(b, len / 4 * 3 + 3))
		return false;
	size_t o;
	if (!b64_decode(s, len, flags & SB_BASE64_LENIENT,
			(unsigned char *)b->data + b->len, &o)) {
		b->data[b->len] = '\0';
		return false;
	}
	b->len += o;
	b->data[b->len] = '\0';
	return true;
}

/* ---- UTF-8 and XML --------------------------------------------------- */

size_t sb_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t dummy;
	if (!cp)
		cp = &dummy;
	if (!s || n == 0)
		return 0;
	unsigned char c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t len;
	uint32_t v, min;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

bool sb_utf8_valid(const char *s, size_t len)
{
	if (!s)
		return len == 0;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		if (p[i] < 0x80) {
			/* ASCII eight bytes at a time */
			uint64_t w;
			while (i + 8 <= len &&
			       (memcpy(&w, p + i, 8),
				!(w & UINT64_C(0x8080808080808080))))
				i += 8;
			if (i < len && p[i] < 0x80)
				i++;
			continue;
		}
		uint32_t cp;
		size_t k = sb_utf8_decode((const char *)p + i, len - i, &cp);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

size_t sb_utf8_encode(uint32_t cp, char out[4])
{
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

bool sb_utf8_truncated(const char *s, size_t n)
{
	if (!s || n == 0 || n > 3 || ((unsigned char)s[0] & 0xc0) == 0x80)
		return false;
	/* Complete it with the lowest and the highest continuation byte:
	 * every lead byte accepts one of them second (E0: A0..BF, ED: 80..9F,
	 * F0: 90..BF, F4: 80..8F), and any continuation byte after that. */
	static const unsigned char fill[2] = {0x80, 0xbf};
	for (int f = 0; f < 2; f++) {
		char t[4];
		memcpy(t, s, n);
		memset(t + n, fill[f], sizeof(t) - n);
		if (sb_utf8_decode(t, sizeof(t), NULL) > n)
			return true;
	}
	return false;
}

size_t sb_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* ---- URLs ------------------------------------------------------------ */

size_t sb_mask_url_password(const char *v, size_t max, char *out, size_t n)
{
	size_t o = 0; /* length of the whole masked text */
#define MASK_PUT(ch)                                                           \
	do {                                                                   \
		if (o + 1 < n && o < max)                                      \
			out[o] = (ch);                                         \
		o++;                                                           \
	} while (0)
	const char *p = v ? v : "";
	while (*p) {
		if (strncmp(p, "://", 3) == 0) {
			const char *auth = p + 3;
			size_t alen = strcspn(auth, "/?# \t\r\n");
			const char *at = memrchr(auth, '@', alen);
			const char *colon =
			    at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
			if (colon) {
				/* "://user:" then "***" then "@host..." */
				for (const char *q = p; q <= colon; q++)
					MASK_PUT(*q);
				for (int i = 0; i < 3; i++)
					MASK_PUT('*');
				p = at;
				continue;
			}
		}
		MASK_PUT(*p);
		p++;
	}
#undef MASK_PUT
	if (n > 0) {
		size_t end = o < max ? o : max;
		out[end < n ? end : n - 1] = '\0';
	}
	return o < max ? o : max;
}

enum sb_status sb_xml_escape_append(struct sb_buf *b, const char *s, size_t len,
				    unsigned mode, struct sb_error *err)
{
	if (!b)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "no buffer to escape into");
	if (!s) {
		if (len != 0 && len != (size_t)-1)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "no text to escape");
		s = "";
		len = 0;
	}
	if (len == (size_t)-1)
		len = strlen(s);
	bool attr = mode & SB_XML_ATTR;
	size_t start_len = b->len;
	size_t run = 0; /* start of the bytes not yet appended */
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = sb_utf8_decode(s + i, len - i, &cp);
		if (!k) {
			if (b->data && !b->failed) {
				b->len = start_len;
				b->data[b->len] = '\0';
			}
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "invalid UTF-8 at byte %zu of a "
					    "text to be sent as XML",
					    i);
		}
		if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
		    cp == 0xfffe || cp == 0xffff) {
			if (b->data && !b->failed) {
				b->len = start_len;
				b->data[b->len] = '\0';
			}
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, NULL,
			    "character U+%04X at byte %zu cannot be sent in "
			    "XML 1.0",
			    (unsigned)cp, i);
		}
		const char *rep = NULL;
		switch (cp) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '\r':
			rep = "&#13;";
			break;
		case '"':
			rep = attr ? "&quot;" : NULL;
			break;
		case '\'':
			rep = attr ? "&apos;" : NULL;
			break;
		case '\t':
			rep = attr ? "&#9;" : NULL;
			break;
		case '\n':
			rep = attr ? "&#10;" : NULL;
			break;
		default:
			break;
		}
		if (rep) {
			if (i > run)
				sb_buf_append(b, s + run, i - run);
			sb_buf_puts(b, rep);
			run = i + k;
		}
		i += k;
	}
	if (len > run)
		sb_buf_append(b, s + run, len - run);
	else if (!b->data)
		sb_buf_append(b, "", 0);
	if (b->failed)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "XML output over its size limit or out "
				    "of memory");
	return SB_OK;
}

char *sb_xml_escape(const char *s)
{
	if (!s)
		return NULL;
	struct sb_buf b;
	size_t len = strlen(s);
	sb_buf_init(&b, len > (SIZE_MAX - 1) / 6 ? 0 : len * 6 + 1);
	if (sb_xml_escape_append(&b, s, len, SB_XML_ATTR, NULL) != SB_OK) {
		sb_buf_free(&b);
		return NULL;
	}
	return sb_buf_steal(&b);
}

/* ---- randomness ------------------------------------------------------ */

bool sb_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t got = 0;
	int tries = 0;
	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR && ++tries < 100)
				continue;
			return false;
		}
		got += (size_t)r;
	}
	return true;
}

bool sb_uuid4(char out[37])
{
	unsigned char u[16];
	if (!sb_random_bytes(u, sizeof(u))) {
		out[0] = '\0';
		return false;
	}
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 0xf];
	}
	out[o] = '\0';
	return true;
}

/* ---- addresses and paths --------------------------------------------- */

static bool domain_ok(const char *d, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	/* Address literal: [1.2.3.4] or [IPv6:...]. */
	if (d[0] == '[') {
		if (d[len - 1] != ']' || len < 3)
			return false;
		for (size_t i = 1; i + 1 < len; i++) {
			unsigned char c = (unsigned char)d[i];
			if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']' ||
			    c == '\\')
				return false;
		}
		return true;
	}
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0)
				return false;
			if (d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (c >= 0x80) {
			label++; /* UTF-8 (IDN), validated as UTF-8 below */
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9')) {
			label++;
		} else if (c == '-') {
			if (label == 0)
				return false;
			label++;
		} else {
			return false;
		}
		if (label > 63)
			return false;
	}
	if (label == 0 || d[len - 1] == '-')
		return false;
	return true;
}

static bool local_atext(unsigned char c)
{
	if (c >= 0x80)
		return true; /* RFC 6531 UTF-8; checked as UTF-8 by the caller
			      */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != '\0';
}

bool sb_email_valid(const char *s)
{
	if (!s)
		return false;
	size_t len = strlen(s);
	if (len < 3 || len > 254)
		return false;
	if (!sb_utf8_valid(s, len))
		return false;
	/* UTF-8 local parts (RFC 6531) still hold no control character or
	 * line break (C1 controls, U+2028): an address is one line of text. */
	if (!sb_type_check(SB_TYPE_TEXT, s, NULL, NULL))
		return false;
	const char *at = strrchr(s, '@');
	if (!at || at == s)
		return false;
	size_t llen = (size_t)(at - s);
	if (llen > 64)
		return false;
	if (s[0] == '"') {
		/* Quoted local part: printable, no spaces or controls. */
		if (llen < 3 || s[llen - 1] != '"')
			return false;
		for (size_t i = 1; i + 1 < llen; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c <= 0x20 || c == 0x7f)
				return false;
			if (c == '"' || c == '\\')
				return false;
		}
	} else {
		if (s[0] == '.' || s[llen - 1] == '.')
			return false;
		for (size_t i = 0; i < llen; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '.') {
				if (s[i + 1] == '.')
					return false;
				continue;
			}
			if (!local_atext(c))
				return false;
		}
	}
	return domain_ok(at + 1, len - llen - 1);
}

bool sb_path_component_ok(const char *s, size_t max)
{
	if (!s || !*s)
		return false;
	size_t len = strnlen(s, max + 1);
	if (len > max)
		return false;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

int64_t sb_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *sb_text_quotable(const char *s, size_t max, char *out, size_t n)
{
	if (!out || n == 0)
		return "";
	if (!s) {
		snprintf(out, n, "(null)");
		return out;
	}
	static const char repl[] = "\xef\xbf\xbd"; /* U+FFFD */
	size_t len = strlen(s), i = 0, o = 0;
	/* Room for "..." and the NUL. */
	while (i < len && i < max) {
		uint32_t cp;
		size_t k = sb_utf8_decode(s + i, len - i, &cp);
		const char *src = s + i;
		size_t w = k;
		if (k == 0) {
			src = repl;
			w = 3;
			k = 1;
		} else if (cp < 0x20 || cp == 0x7f ||
			   (cp >= 0x80 && cp < 0xa0)) {
			src = "?";
			w = 1;
		}
		if (o + w + 4 > n)
			break;
		memcpy(out + o, src, w);
		o += w;
		i += k;
	}
	if (i < len && o + 4 <= n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}
