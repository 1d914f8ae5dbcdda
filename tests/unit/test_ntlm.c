/* Unit tests of the NTLMv2 messages of the HTTP client's auth =
 * ntlm-negotiate (core/net/ntlm.c, compiled in here: its functions are
 * internal to libsvcbroker-net).
 *
 *   - MS-NLMP 4.2.4 (NTLMv2 authentication): NTOWFv2, the LMv2 response,
 *     the NTLMv2 blob ("temp"), NTProofStr and the session base key;
 *   - AUTHENTICATE messages read back field by field and their NTLMv2
 *     response recomputed independently: MD4 written out here from RFC
 *     1320 and OpenSSL's one-shot HMAC();
 *   - CHALLENGE messages that are wrong in each way refused with an error
 *     naming what is wrong. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <svcbroker/sdk.h>
#include <svcbroker/status.h>

#include "ntlm_int.h"

/* ---- an independent MD4 (RFC 1320) --------------------------------------- */

#define ROTL(x, s) (((x) << (s)) | ((x) >> (32 - (s))))

static void md4_block(uint32_t st[4], const uint8_t *p)
{
	uint32_t x[16], a = st[0], b = st[1], c = st[2], d = st[3];
	for (int i = 0; i < 16; i++)
		x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 |
		       (uint32_t)p[4 * i + 3] << 24;
	static const int r1[4] = {3, 7, 11, 19}, r2[4] = {3, 5, 9, 13},
			 r3[4] = {3, 9, 11, 15};
	static const int o3[16] = {0, 8, 4, 12, 2, 10, 6, 14,
				   1, 9, 5, 13, 3, 11, 7, 15};
	for (int i = 0; i < 16; i++) {
		uint32_t f = (b & c) | (~b & d);
		uint32_t t = ROTL(a + f + x[i], r1[i % 4]);
		a = d, d = c, c = b, b = t;
	}
	for (int i = 0; i < 16; i++) {
		uint32_t g = (b & c) | (b & d) | (c & d);
		int k = (i % 4) * 4 + i / 4;
		uint32_t t = ROTL(a + g + x[k] + 0x5a827999u, r2[i % 4]);
		a = d, d = c, c = b, b = t;
	}
	for (int i = 0; i < 16; i++) {
		uint32_t h = b ^ c ^ d;
		uint32_t t = ROTL(a + h + x[o3[i]] + 0x6ed9eba1u, r3[i % 4]);
		a = d, d = c, c = b, b = t;
	}
	st[0] += a, st[1] += b, st[2] += c, st[3] += d;
}

static void ref_md4(const uint8_t *data, size_t n, uint8_t out[16])
{
	uint32_t st[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
	size_t full = n / 64 * 64;
	for (size_t i = 0; i < full; i += 64)
		md4_block(st, data + i);
	uint8_t tail[128] = {0};
	size_t rest = n - full;
	memcpy(tail, data + full, rest);
	tail[rest] = 0x80;
	size_t tl = rest < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)n * 8;
	for (int i = 0; i < 8; i++)
		tail[tl - 8 + i] = (uint8_t)(bits >> (8 * i));
	md4_block(st, tail);
	if (tl == 128)
		md4_block(st, tail + 64);
	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)(st[i / 4] >> (8 * (i % 4)));
}

static void ref_hmac(const uint8_t *key, const uint8_t *a, size_t an,
		     const uint8_t *b, size_t bn, uint8_t out[16])
{
	uint8_t *m = malloc(an + bn + 1);
	ck_assert_ptr_nonnull(m);
	memcpy(m, a, an);
	if (bn)
		memcpy(m + an, b, bn);
	unsigned int ol = 0;
	ck_assert_ptr_nonnull(HMAC(EVP_md5(), key, 16, m, an + bn, out, &ol));
	ck_assert_uint_eq(ol, 16);
	free(m);
}

/* ASCII text as UTF-16LE, upper-cased if asked. */
static size_t ascii16(const char *s, bool upper, uint8_t *out)
{
	size_t n = 0;
	for (; *s; s++) {
		char ch = *s;
		if (upper && ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 32);
		out[n++] = (uint8_t)ch;
		out[n++] = 0;
	}
	return n;
}

static void ref_ntowfv2(const char *pw, const char *user, const char *dom,
			uint8_t out[16])
{
	uint8_t b[1024], h[16];
	size_t n = ascii16(pw, false, b);
	ref_md4(b, n, h);
	n = ascii16(user, true, b);
	n += ascii16(dom, false, b + n);
	ref_hmac(h, b, n, NULL, 0, out);
}

static void hex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* ---- MS-NLMP 4.2.4 ------------------------------------------------------- */

static const char TI_424[] = /* MsvAvNbDomainName "Domain",
				MsvAvNbComputerName "Server", MsvAvEOL */
    "02000c0044006f006d00610069006e00"
    "01000c0053006500720076006500720000000000";

START_TEST(test_md4_reference)
{
	/* RFC 1320 A.5, so that the recomputation below stands on its own */
	uint8_t d[16], want[16];
	ref_md4((const uint8_t *)"abc", 3, d);
	hex("a448017aaf21d8525fc10ae87aa6729d", want, 16);
	ck_assert_mem_eq(d, want, 16);
	const char *l = "123456789012345678901234567890123456789012345678901234"
			"56789012345678901234567890";
	ref_md4((const uint8_t *)l, strlen(l), d);
	hex("e33b4ddc9c38f2199c3e7b164fcc0536", want, 16);
	ck_assert_mem_eq(d, want, 16);
}
END_TEST

START_TEST(test_msnlmp_424)
{
	struct sb_error err;
	uint8_t key[16], want[16];
	ck_assert_int_eq(
	    sbn_ntlm_ntowfv2("Password", "User", "Domain", key, &err), SB_OK);
	hex("0c868a403bfd7a93a3001ef22ef02e3f", want, 16);
	ck_assert_mem_eq(key, want, 16);

	uint8_t sc[8], cc[8], ti[36];
	hex("0123456789abcdef", sc, 8);
	memset(cc, 0xaa, 8);
	hex(TI_424, ti, sizeof(ti));
	uint8_t lm[24], lm_want[24];
	ck_assert_int_eq(sbn_ntlm_lmv2_response(key, sc, cc, lm, &err), SB_OK);
	hex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa", lm_want, 24);
	ck_assert_mem_eq(lm, lm_want, 24);

	uint8_t *nt = NULL, sk[16];
	size_t nt_len = 0;
	ck_assert_int_eq(sbn_ntlm_v2_response(key, sc, cc, 0, ti, sizeof(ti),
					      &nt, &nt_len, sk, &err),
			 SB_OK);
	ck_assert_uint_eq(nt_len, 16 + 28 + sizeof(ti) + 4);
	hex("68cd0ab851e51c96aabc927bebef6a1c", want, 16);
	ck_assert_mem_eq(nt, want, 16); /* NTProofStr */
	uint8_t temp[68];
	hex("01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000"
	    "02000c0044006f006d00610069006e0001000c0053006500720076006500"
	    "720000000000000000000000",
	    temp, sizeof(temp));
	ck_assert_mem_eq(nt + 16, temp, sizeof(temp));
	hex("8de40ccadbc14a82f15cb0ad0de95ca3", want, 16);
	ck_assert_mem_eq(sk, want, 16); /* SessionBaseKey */
	free(nt);

	/* and the same key from the independent MD4 and HMAC */
	uint8_t ref[16];
	ref_ntowfv2("Password", "User", "Domain", ref);
	ck_assert_mem_eq(key, ref, 16);
}
END_TEST

/* ---- AUTHENTICATE, read back and recomputed ------------------------------ */

/* A CHALLENGE message: flags, server challenge, target info. */
static size_t challenge(uint8_t *m, uint32_t flags, const uint8_t sc[8],
			const uint8_t *ti, size_t ti_len)
{
	memset(m, 0, 56);
	memcpy(m, "NTLMSSP", 8);
	m[8] = 2;
	/* target name: empty at 56 */
	m[16] = 56;
	m[20] = (uint8_t)flags, m[21] = (uint8_t)(flags >> 8);
	m[22] = (uint8_t)(flags >> 16), m[23] = (uint8_t)(flags >> 24);
	memcpy(m + 24, sc, 8);
	m[40] = (uint8_t)ti_len, m[41] = (uint8_t)(ti_len >> 8);
	m[42] = (uint8_t)ti_len, m[43] = (uint8_t)(ti_len >> 8);
	m[44] = 56;
	if (ti_len)
		memcpy(m + 56, ti, ti_len);
	return 56 + ti_len;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

/* The field at off of an AUTHENTICATE message, checked inside it. */
static const uint8_t *afield(const uint8_t *m, size_t len, size_t off,
			     size_t *n)
{
	*n = le16(m + off);
	ck_assert_uint_eq(le16(m + off + 2), *n);
	size_t at = le32(m + off + 4);
	ck_assert_uint_ge(at, 64);
	ck_assert_uint_le(at + *n, len);
	return m + at;
}

#define FLAGS_SRV 0x628a8215u /* Windows' usual, with TARGET_INFO */

static void check_authenticate(const char *account, const char *pw,
			       const char *user, const char *dom,
			       bool timestamp, bool mic, bool srv_flags)
{
	struct sb_error err;
	char *u = NULL, *d = NULL;
	ck_assert_int_eq(sbn_ntlm_split_account(account, &u, &d, &err), SB_OK);
	ck_assert_str_eq(u, user);
	ck_assert_str_eq(d, dom);
	uint8_t key[16], ref[16];
	ck_assert_int_eq(sbn_ntlm_ntowfv2(pw, u, d, key, &err), SB_OK);
	ref_ntowfv2(pw, user, dom, ref);
	ck_assert_mem_eq(key, ref, 16);

	uint8_t sc[8], cc[8], ti[64], m2[200];
	ck_assert(sb_random_bytes(sc, 8) && sb_random_bytes(cc, 8));
	size_t tl = 0;
	/* MsvAvNbDomainName "EX", [MsvAvTimestamp], MsvAvEOL */
	memcpy(ti,
	       "\x02\x00\x04\x00"
	       "E\0X\0",
	       8);
	tl = 8;
	if (srv_flags) { /* MsvAvFlags of the server's: 1, constrained */
		memcpy(ti + tl, "\x06\x00\x04\x00\x01\x00\x00\x00", 8);
		tl += 8;
	}
	const uint64_t srv_ts = 0x01d9f00ddeadbeefULL;
	if (timestamp) {
		memcpy(ti + tl, "\x07\x00\x08\x00", 4);
		for (int i = 0; i < 8; i++)
			ti[tl + 4 + i] = (uint8_t)(srv_ts >> (8 * i));
		tl += 12;
	}
	memset(ti + tl, 0, 4);
	tl += 4;
	size_t m2n = challenge(m2, FLAGS_SRV, sc, ti, tl);
	struct sbn_ntlm_challenge ch;
	ck_assert_int_eq(sbn_ntlm_parse_challenge(m2, m2n, &ch, &err), SB_OK);
	ck_assert(ch.has_timestamp == timestamp);
	if (timestamp)
		ck_assert(ch.timestamp == srv_ts);
	ck_assert_uint_eq(ch.target_info_len, tl);

	const uint64_t now = 0x01da000012345678ULL;
	uint8_t *m3 = NULL, m1[SBN_NTLM_NEGOTIATE_LEN];
	size_t m3n = 0, m1n = sbn_ntlm_negotiate(m1);
	ck_assert_int_eq(
	    sbn_ntlm_authenticate(&ch, u, d, key, cc, now, mic ? m1 : NULL, m1n,
				  mic ? m2 : NULL, m2n, &m3, &m3n, &err),
	    SB_OK);
	/* the target info expected back: with a MIC, MsvAvFlags says so */
	const bool with_mic = mic && timestamp;
	uint8_t tx[80];
	size_t txl = tl;
	memcpy(tx, ti, tl);
	if (with_mic && srv_flags) {
		tx[8 + 4] |= 2;
	} else if (with_mic) {
		memcpy(tx + tl - 4, "\x06\x00\x04\x00\x02\0\0\0\0\0\0\0", 12);
		txl = tl + 8;
	}
	const size_t head = with_mic ? 88 : 64;
	ck_assert_uint_ge(m3n, head);
	ck_assert_mem_eq(m3, "NTLMSSP\0\x03\0\0\0", 12);
	uint32_t flags = le32(m3 + 60);
	ck_assert(flags & SBN_NTLM_UNICODE);
	ck_assert(!(flags & SBN_NTLM_OEM));
	ck_assert(!(flags & SBN_NTLM_KEY_EXCH)); /* no key to exchange */
	size_t n;
	const uint8_t *p = afield(m3, m3n, 28, &n);
	uint8_t b16[600];
	size_t bn = ascii16(dom, false, b16);
	ck_assert_uint_eq(n, bn);
	ck_assert_mem_eq(p, b16, n);
	p = afield(m3, m3n, 36, &n);
	bn = ascii16(user, false, b16);
	ck_assert_uint_eq(n, bn);
	ck_assert_mem_eq(p, b16, n);
	afield(m3, m3n, 44, &n);
	ck_assert_uint_eq(n, 0); /* no workstation */
	afield(m3, m3n, 52, &n);
	ck_assert_uint_eq(n, 0); /* no session key */

	/* the NTLMv2 response: the blob as MS-NLMP builds it, its proof
	 * recomputed with the independent key and HMAC */
	const uint8_t *nt = afield(m3, m3n, 20, &n);
	ck_assert_uint_eq(n, 16 + 28 + txl + 4);
	const uint8_t *blob = nt + 16;
	ck_assert_mem_eq(blob, "\x01\x01\0\0\0\0\0\0", 8);
	uint64_t ts = 0;
	for (int i = 0; i < 8; i++)
		ts |= (uint64_t)blob[8 + i] << (8 * i);
	ck_assert(ts == (timestamp ? srv_ts : now));
	ck_assert_mem_eq(blob + 16, cc, 8);
	ck_assert_mem_eq(blob + 24, "\0\0\0\0", 4);
	ck_assert_mem_eq(blob + 28, tx, txl);
	ck_assert_mem_eq(blob + 28 + txl, "\0\0\0\0", 4);
	uint8_t proof[16];
	ref_hmac(ref, sc, 8, blob, n - 16, proof);
	ck_assert_mem_eq(nt, proof, 16);

	/* LmChallengeResponse: zeros with the server's timestamp, else
	 * LMv2 */
	const uint8_t *lm = afield(m3, m3n, 12, &n);
	ck_assert_uint_eq(n, 24);
	uint8_t lm_want[24] = {0};
	if (!timestamp) {
		ref_hmac(ref, sc, 8, cc, 8, lm_want);
		memcpy(lm_want + 16, cc, 8);
	}
	ck_assert_mem_eq(lm, lm_want, 24);

	/* a wrong password gives another proof */
	uint8_t bad[16];
	ref_ntowfv2("not-the-password", user, dom, bad);
	ref_hmac(bad, sc, 8, blob, 28 + txl + 4, proof);
	ck_assert(memcmp(nt, proof, 16) != 0);

	/* the payload starts after the head; with a MIC, the Version is
	 * zeros and the MIC is HMAC-MD5 of the three messages (the MIC
	 * zero) under the session base key HMAC-MD5(NTOWFv2, NTProofStr) */
	for (size_t off = 12; off <= 52; off += 8)
		ck_assert_uint_ge(le32(m3 + off + 4), head);
	if (with_mic) {
		ck_assert_mem_eq(m3 + 64, "\0\0\0\0\0\0\0\0", 8);
		uint8_t sbk[16], want_mic[16];
		ref_hmac(ref, nt, 16, NULL, 0, sbk);
		size_t all_n = m1n + m2n + m3n;
		uint8_t *all = malloc(all_n);
		ck_assert_ptr_nonnull(all);
		memcpy(all, m1, m1n);
		memcpy(all + m1n, m2, m2n);
		memcpy(all + m1n + m2n, m3, m3n);
		memset(all + m1n + m2n + 72, 0, 16);
		ref_hmac(sbk, all, all_n, NULL, 0, want_mic);
		ck_assert_mem_eq(m3 + 72, want_mic, 16);
		free(all);
	}
	free(m3);
	free(u);
	free(d);
}

START_TEST(test_authenticate_domain_user)
{
	check_authenticate("EXAMPLE\\administrator", "Secret-Pw-1",
			   "administrator", "EXAMPLE", true, false, false);
}
END_TEST

START_TEST(test_authenticate_mic)
{
	check_authenticate("EXAMPLE\\administrator", "Secret-Pw-1",
			   "administrator", "EXAMPLE", true, true, false);
	/* the server's MsvAvFlags gets the MIC bit, no second pair */
	check_authenticate("EXAMPLE\\operator", "Secret-Pw-1", "operator",
			   "EXAMPLE", true, true, true);
	/* no timestamp from the server: no MIC, even when asked */
	check_authenticate("EXAMPLE\\operator", "Secret-Pw-1", "operator",
			   "EXAMPLE", false, true, false);
}
END_TEST

START_TEST(test_authenticate_upn_no_timestamp)
{
	check_authenticate("operator@example.test", "an0ther pass phrase",
			   "operator@example.test", "", false, false, false);
}
END_TEST

START_TEST(test_authenticate_plain_user)
{
	check_authenticate("Bob", "x", "Bob", "", true, false, false);
}
END_TEST

START_TEST(test_negotiate_message)
{
	uint8_t m[SBN_NTLM_NEGOTIATE_LEN];
	ck_assert_uint_eq(sbn_ntlm_negotiate(m), 32);
	ck_assert_mem_eq(m, "NTLMSSP\0\x01\0\0\0", 12);
	uint32_t f = le32(m + 12);
	ck_assert(f & SBN_NTLM_UNICODE);
	ck_assert(f & SBN_NTLM_NTLM);
	ck_assert(f & SBN_NTLM_EXTENDED_SESSIONSECURITY);
	ck_assert(!(f & SBN_NTLM_KEY_EXCH));
	/* empty domain and workstation fields, inside the message */
	ck_assert_uint_eq(le16(m + 16), 0);
	ck_assert_uint_le(le32(m + 20), 32);
	ck_assert_uint_eq(le16(m + 24), 0);
	ck_assert_uint_le(le32(m + 28), 32);
}
END_TEST

START_TEST(test_non_ascii_names)
{
	/* upper-casing and UTF-16 of names outside ASCII: "é" is upper-cased
	 * to "É" (U+00C9) before hashing, as Windows does */
	struct sb_error err;
	uint8_t k1[16], k2[16];
	ck_assert_int_eq(
	    sbn_ntlm_ntowfv2("pw", "j\xc3\xa9r\xc3\xb4me", "D", k1, &err),
	    SB_OK);
	ck_assert_int_eq(
	    sbn_ntlm_ntowfv2("pw", "J\xc3\x89R\xc3\x94ME", "D", k2, &err),
	    SB_OK);
	ck_assert_mem_eq(k1, k2, 16);
	/* the domain keeps its case */
	ck_assert_int_eq(sbn_ntlm_ntowfv2("pw", "u", "dom", k1, &err), SB_OK);
	ck_assert_int_eq(sbn_ntlm_ntowfv2("pw", "u", "DOM", k2, &err), SB_OK);
	ck_assert(memcmp(k1, k2, 16) != 0);
	/* a character outside the BMP as a surrogate pair */
	ck_assert_int_eq(
	    sbn_ntlm_ntowfv2("p\xf0\x9f\x94\x91", "u", "d", k1, &err), SB_OK);
	uint8_t pw16[6] = {'p', 0, 0x3d, 0xd8, 0x11, 0xdd}, h[16], ud[4];
	ref_md4(pw16, 6, h);
	memcpy(ud, "U\0d\0", 4);
	ref_hmac(h, ud, 4, NULL, 0, k2);
	ck_assert_mem_eq(k1, k2, 16);
	ck_assert_int_eq(sbn_ntlm_ntowfv2("\xff", "u", "d", k1, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert(strstr(err.message, "password"));
}
END_TEST

START_TEST(test_split_account_refusals)
{
	static const char *const bad[] = {"", "\\alice", "EXAMPLE\\", "A\\b\\c",
					  "bad\xc3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sb_error err;
		char *u = (char *)1, *d = (char *)1;
		ck_assert_int_eq(sbn_ntlm_split_account(bad[i], &u, &d, &err),
				 SB_ERR_INVALID_INPUT);
		ck_assert_ptr_null(u);
		ck_assert_ptr_null(d);
		ck_assert_msg(!strncmp(err.message, "username: ", 10), "%s",
			      err.message);
	}
	char longname[400];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	struct sb_error err;
	char *u, *d;
	ck_assert_int_eq(sbn_ntlm_split_account(longname, &u, &d, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert(strstr(err.message, "longer than"));
}
END_TEST

/* ---- bad challenges ------------------------------------------------------ */

static void refused(const uint8_t *m, size_t n, const char *words)
{
	struct sbn_ntlm_challenge ch;
	struct sb_error err;
	ck_assert_int_eq(sbn_ntlm_parse_challenge(m, n, &ch, &err),
			 SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "ntlm_challenge");
	ck_assert_msg(strstr(err.message, words), "\"%s\" lacks \"%s\"",
		      err.message, words);
}

START_TEST(test_bad_challenges)
{
	uint8_t sc[8] = {1, 2, 3, 4, 5, 6, 7, 8}, m[200];
	const uint8_t eol[4] = {0};
	size_t n = challenge(m, FLAGS_SRV, sc, eol, 4);
	struct sbn_ntlm_challenge ch;
	struct sb_error err;
	ck_assert_int_eq(sbn_ntlm_parse_challenge(m, n, &ch, &err), SB_OK);
	ck_assert_mem_eq(ch.server_challenge, sc, 8);
	ck_assert(!ch.has_timestamp);

	refused((const uint8_t *)"", 0, "not an NTLMSSP message");
	refused((const uint8_t *)"HTTP/1.1 200", 12, "not an NTLMSSP message");
	uint8_t t[200];
	memcpy(t, m, n);
	t[8] = 1;
	refused(t, n, "not a CHALLENGE message (type 1)");
	refused(m, 47, "too short (47 bytes");
	/* target info beyond the end */
	memcpy(t, m, n);
	t[44] = 200;
	refused(t, n, "target info outside the message");
	memcpy(t, m, n);
	t[40] = 60;
	refused(t, n, "target info outside the message");
	/* target name beyond the end */
	memcpy(t, m, n);
	t[12] = 10;
	refused(t, n, "target name outside the message");
	/* OEM only */
	n = challenge(t, FLAGS_SRV & ~SBN_NTLM_UNICODE, sc, eol, 4);
	refused(t, n, "does not accept Unicode");
	/* an AV pair longer than the target info */
	const uint8_t long_av[8] = {2, 0, 40, 0, 'E', 0, 'X', 0};
	n = challenge(t, FLAGS_SRV, sc, long_av, 8);
	refused(t, n, "AV pair (id 2) longer than what is left");
	/* cut inside a pair's header */
	const uint8_t cut[6] = {2, 0, 0, 0, 7, 0};
	n = challenge(t, FLAGS_SRV, sc, cut, 6);
	refused(t, n, "cut inside an AV pair at byte 4");
	/* no MsvAvEOL */
	const uint8_t no_eol[8] = {2, 0, 4, 0, 'E', 0, 'X', 0};
	n = challenge(t, FLAGS_SRV, sc, no_eol, 8);
	refused(t, n, "does not end with MsvAvEOL");
	/* a timestamp of 4 bytes */
	const uint8_t ts4[12] = {7, 0, 4, 0, 1, 2, 3, 4, 0, 0, 0, 0};
	n = challenge(t, FLAGS_SRV, sc, ts4, 12);
	refused(t, n, "MsvAvTimestamp of 4 bytes, not 8");
	/* an empty target info is allowed (the blob then has none) */
	n = challenge(t, FLAGS_SRV, sc, NULL, 0);
	ck_assert_int_eq(sbn_ntlm_parse_challenge(t, n, &ch, &err), SB_OK);
	ck_assert_uint_eq(ch.target_info_len, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ntlm");
	TCase *tc = tcase_create("messages");
	tcase_add_test(tc, test_md4_reference);
	tcase_add_test(tc, test_msnlmp_424);
	tcase_add_test(tc, test_authenticate_domain_user);
	tcase_add_test(tc, test_authenticate_mic);
	tcase_add_test(tc, test_authenticate_upn_no_timestamp);
	tcase_add_test(tc, test_authenticate_plain_user);
	tcase_add_test(tc, test_negotiate_message);
	tcase_add_test(tc, test_non_ascii_names);
	tcase_add_test(tc, test_split_account_refusals);
	tcase_add_test(tc, test_bad_challenges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
