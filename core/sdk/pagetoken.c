/* Page tokens for list methods: versioned, opaque, bound to the listing,
 * authenticated with SipHash-2-4-128 under a per-process random key.  See
 * <svcbroker/pagetoken.h> and docs/design-notes.md ("Page tokens"). */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/pagetoken.h>
#include <svcbroker/sdk.h>

#define TAG_LEN 16
#define BIND_LEN 16
#define HEAD_LEN (1 + BIND_LEN)
#define TOKEN_CHARS_MAX 4096

/* ---- SipHash-2-4-128 ------------------------------------------------------
 */

static uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

struct sip {
	uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static void sip_block(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

void sb_siphash128(const unsigned char key[16], const void *data, size_t len,
		   unsigned char out[16])
{
	const unsigned char *p = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	struct sip s = {
	    .v0 = UINT64_C(0x736f6d6570736575) ^ k0,
	    .v1 = UINT64_C(0x646f72616e646f6d) ^ k1 ^ 0xee,
	    .v2 = UINT64_C(0x6c7967656e657261) ^ k0,
	    .v3 = UINT64_C(0x7465646279746573) ^ k1,
	};
	size_t whole = len - len % 8;
	for (size_t i = 0; i < whole; i += 8)
		sip_block(&s, le64(p + i));
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	for (size_t i = 0; i < len % 8; i++)
		last |= (uint64_t)p[whole + i] << (8 * i);
	sip_block(&s, last);
	s.v2 ^= 0xee;
	for (int i = 0; i < 4; i++)
		sip_round(&s);
	put_le64(out, s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
	s.v1 ^= 0xdd;
	for (int i = 0; i < 4; i++)
		sip_round(&s);
	put_le64(out + 8, s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
}

/* ---- the process's keys
 * ------------------------------------------------------ */

static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static unsigned char key_tag[16], key_bind[16];
static bool keys_ok;

static void keys_init(void)
{
	unsigned char k[32];
	if (!sb_random_bytes(k, sizeof k))
		return;
	memcpy(key_tag, k, 16);
	memcpy(key_bind, k + 16, 16);
	keys_ok = true;
}

static bool keys(void)
{
	pthread_once(&keys_once, keys_init);
	return keys_ok;
}

/* The binding hash: each item as a presence byte, its length (8 bytes,
 * little-endian) and its bytes, so no two different lists encode alike. */
static bool bind_hash(const char *const *binding, size_t n,
		      unsigned char out[BIND_LEN])
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, "svcbroker page binding");
	for (size_t i = 0; i < n; i++) {
		const char *v = binding ? binding[i] : NULL;
		size_t len = v ? strlen(v) : 0;
		unsigned char h[9];
		h[0] = v ? 1 : 0;
		put_le64(h + 1, (uint64_t)len);
		sb_buf_append(&b, h, sizeof h);
		sb_buf_append(&b, v ? v : "", len);
	}
	if (b.failed) {
		sb_buf_free(&b);
		return false;
	}
	sb_siphash128(key_bind, b.data, b.len, out);
	sb_buf_free(&b);
	return true;
}

/* ---- tokens
 * ------------------------------------------------------------------- */

char *sb_page_token_new(const char *const *binding, size_t n, const void *pos,
			size_t len)
{
	if (len > SB_PAGE_TOKEN_POS_MAX || (len && !pos) || !keys())
		return NULL;
	size_t total = HEAD_LEN + len + TAG_LEN;
	unsigned char *raw = malloc(total);
	if (!raw)
		return NULL;
	raw[0] = SB_PAGE_TOKEN_VERSION;
	char *tok = NULL;
	if (bind_hash(binding, n, raw + 1)) {
		if (len)
			memcpy(raw + HEAD_LEN, pos, len);
		sb_siphash128(key_tag, raw, HEAD_LEN + len,
			      raw + HEAD_LEN + len);
		tok = sb_base64url_encode(raw, total);
	}
	free(raw);
	return tok;
}

static enum sb_status refuse(struct sb_error *err, const char *why)
{
	return sb_error_set(err, SB_ERR_INVALID_INPUT, SB_PAGE_TOKEN_CODE,
			    "PageToken %s", why);
}

/* Compare without an early exit, so the time taken says nothing about
 * how many leading bytes of a guessed tag were right. */
static bool same(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

enum sb_status sb_page_token_read(const char *token, const char *const *binding,
				  size_t n, struct sb_buf *pos,
				  struct sb_error *err)
{
	if (!token || !*token)
		return refuse(err, "is empty");
	size_t tlen = strnlen(token, TOKEN_CHARS_MAX + 1);
	if (tlen > TOKEN_CHARS_MAX)
		return refuse(err, "is too long to be a page token");
	if (!keys())
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "no random key for page tokens (the "
				    "system refused random bytes)");
	unsigned char *raw = malloc(tlen / 4 * 3 + 3);
	if (!raw)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	enum sb_status st = SB_OK;
	size_t rlen = 0;
	unsigned char tag[TAG_LEN], bind[BIND_LEN];
	if (!sb_base64url_decode(token, tlen, raw, &rlen)) {
		st = refuse(err, "is not a page token (not base64url)");
	} else if (rlen < HEAD_LEN + TAG_LEN ||
		   rlen > HEAD_LEN + SB_PAGE_TOKEN_POS_MAX + TAG_LEN) {
		st = refuse(err, "has the wrong length (cut or extended?)");
	} else if (raw[0] != SB_PAGE_TOKEN_VERSION) {
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, SB_PAGE_TOKEN_CODE,
				  "PageToken is of version %u; this broker "
				  "reads version %u: start the listing again",
				  raw[0], SB_PAGE_TOKEN_VERSION);
	} else {
		sb_siphash128(key_tag, raw, rlen - TAG_LEN, tag);
		if (!same(tag, raw + rlen - TAG_LEN, TAG_LEN))
			st = refuse(err,
				    "was altered, damaged or made before the "
				    "service restarted: start the listing "
				    "again");
		else if (!bind_hash(binding, n, bind))
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
		else if (!same(bind, raw + 1, BIND_LEN))
			st = refuse(err,
				    "belongs to another listing: send it back "
				    "with the same method and inputs as the "
				    "call that returned it");
	}
	if (st == SB_OK) {
		size_t plen = rlen - HEAD_LEN - TAG_LEN, was = pos->len;
		if (!sb_buf_append(pos, raw + HEAD_LEN, plen)) {
			if (!pos->failed)
				pos->len = was;
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "page token position does not fit");
		} else if (plen == 0 && !pos->data) {
			/* keep the promise that pos reads as a string */
			sb_buf_puts(pos, "");
		}
	}
	free(raw);
	return st;
}
