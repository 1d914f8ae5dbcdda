/* libsvcbroker-net: NTLMv2 messages (MS-NLMP) for auth = ntlm-negotiate —
 * the NEGOTIATE message, a parser of the server's CHALLENGE (outside
 * input: every field is bounds-checked), and the AUTHENTICATE message with
 * an NTLMv2 response.  Cryptography from OpenSSL: MD4 from the legacy
 * provider in a private library context (the deprecated MD4() would fail
 * the build), HMAC-MD5 through EVP_MAC. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include <svcbroker/sdk.h>
#include <svcbroker/status.h>

#include "ntlm_int.h"

static const uint8_t SIG[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};

/* what this client asks for and accepts: no signing, sealing or key
 * exchange (the transport is TLS) */
#define CLIENT_FLAGS                                                           \
	(SBN_NTLM_UNICODE | SBN_NTLM_OEM | SBN_NTLM_REQUEST_TARGET |           \
	 SBN_NTLM_NTLM | SBN_NTLM_ALWAYS_SIGN |                                \
	 SBN_NTLM_EXTENDED_SESSIONSECURITY | SBN_NTLM_128 | SBN_NTLM_56)
#define AUTH_FLAGS (CLIENT_FLAGS | SBN_NTLM_TARGET_INFO)

void sbn_ntlm_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

uint64_t sbn_ntlm_filetime_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec + 11644473600ULL) * 10000000ULL +
	       (uint64_t)ts.tv_nsec / 100;
}

/* ---- NEGOTIATE ----------------------------------------------------------- */

size_t sbn_ntlm_negotiate(uint8_t out[SBN_NTLM_NEGOTIATE_LEN])
{
	memset(out, 0, SBN_NTLM_NEGOTIATE_LEN);
	memcpy(out, SIG, 8);
	put32(out + 8, 1);
	put32(out + 12, CLIENT_FLAGS);
	/* DomainNameFields and WorkstationFields empty, offsets at the end */
	put32(out + 20, SBN_NTLM_NEGOTIATE_LEN);
	put32(out + 28, SBN_NTLM_NEGOTIATE_LEN);
	return SBN_NTLM_NEGOTIATE_LEN;
}

/* ---- CHALLENGE ----------------------------------------------------------- */

/* A security buffer (Len, MaxLen, Offset) at off: its place, checked to
 * lie inside the message. */
static bool field(const uint8_t *m, size_t len, size_t off, size_t *at,
		  size_t *n)
{
	if (len < off + 8)
		return false;
	*n = get16(m + off);
	*at = get32(m + off + 4);
	return *at <= len && *n <= len - *at;
}

enum sb_status sbn_ntlm_parse_challenge(const void *msg, size_t len,
					struct sbn_ntlm_challenge *ch,
					struct sb_error *err)
{
	const uint8_t *m = msg;
	memset(ch, 0, sizeof(*ch));
	if (len < 8 || memcmp(m, SIG, 8))
		return sb_error_set(err, SB_ERR_UPSTREAM, "ntlm_challenge",
				    "the server's NTLM challenge is not an "
				    "NTLMSSP message");
	if (len < 12 || get32(m + 8) != 2)
		return sb_error_set(err, SB_ERR_UPSTREAM, "ntlm_challenge",
				    "the server's NTLM token is not a "
				    "CHALLENGE message (type %u)",
				    len < 12 ? 0u : (unsigned)get32(m + 8));
	/* up to TargetInfoFields; Version is optional */
	if (len < 48)
		return sb_error_set(err, SB_ERR_UPSTREAM, "ntlm_challenge",
				    "the server's NTLM challenge is too short "
				    "(%zu bytes, at least 48 expected)",
				    len);
	size_t at, n;
	if (!field(m, len, 12, &at, &n))
		return sb_error_set(err, SB_ERR_UPSTREAM, "ntlm_challenge",
				    "the server's NTLM challenge has its "
				    "target name outside the message");
	ch->flags = get32(m + 20);
	memcpy(ch->server_challenge, m + 24, SBN_NTLM_CHALLENGE_LEN);
	if (!(ch->flags & SBN_NTLM_UNICODE))
		return sb_error_set(err, SB_ERR_UPSTREAM, "ntlm_challenge",
				    "the server's NTLM challenge does not "
				    "accept Unicode (only OEM encoding, which "
				    "this client does not send)");
	if (!field(m, len, 40, &at, &n))
		return sb_error_set(err, SB_ERR_UPSTREAM, "ntlm_challenge",
				    "the server's NTLM challenge has its "
				    "target info outside the message");
	ch->target_info = n ? m + at : NULL;
	ch->target_info_len = n;
	/* the target info is a list of AV pairs ending with MsvAvEOL; it
	 * goes back to the server inside the NTLMv2 response */
	size_t p = 0;
	bool eol = false;
	while (n && p < n) {
		if (n - p < 4)
			return sb_error_set(err, SB_ERR_UPSTREAM,
					    "ntlm_challenge",
					    "the server's NTLM target info is "
					    "cut inside an AV pair at byte %zu",
					    p);
		uint16_t id = get16(m + at + p), vl = get16(m + at + p + 2);
		if (vl > n - p - 4)
			return sb_error_set(err, SB_ERR_UPSTREAM,
					    "ntlm_challenge",
					    "the server's NTLM target info has "
					    "an AV pair (id %u) longer than "
					    "what is left",
					    (unsigned)id);
		if (id == SBN_AV_EOL) {
			eol = true;
			break;
		}
		if (id == SBN_AV_TIMESTAMP) {
			if (vl != 8)
				return sb_error_set(
				    err, SB_ERR_UPSTREAM, "ntlm_challenge",
				    "the server's NTLM target info has an "
				    "MsvAvTimestamp of %u bytes, not 8",
				    (unsigned)vl);
			ch->has_timestamp = true;
			ch->timestamp = get64(m + at + p + 4);
		}
		p += 4 + (size_t)vl;
	}
	if (n && !eol)
		return sb_error_set(err, SB_ERR_UPSTREAM, "ntlm_challenge",
				    "the server's NTLM target info does not "
				    "end with MsvAvEOL");
	return SB_OK;
}

/* ---- names --------------------------------------------------------------- */

static uint32_t upper_cp(uint32_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 0xe0 && c <= 0xfe && c != 0xf7) ||
	    (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) ||
	    (c >= 0x430 && c <= 0x44f))
		return c - 0x20;
	if (c == 0xff)
		return 0x178;
	if (c >= 0x450 && c <= 0x45f)
		return c - 0x50;
	return c;
}

/* s (UTF-8) as UTF-16LE appended to out (cap bytes at out + *n).  false
 * when invalid or too long. */
static bool utf16le(const char *s, bool upper, uint8_t *out, size_t cap,
		    size_t *n)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = sb_utf8_decode(s + i, len - i, &cp);
		if (!k)
			return false;
		i += k;
		if (upper)
			cp = upper_cp(cp);
		if (cp >= 0x10000) {
			if (cap - *n < 4)
				return false;
			cp -= 0x10000;
			put16(out + *n, (uint16_t)(0xd800 | (cp >> 10)));
			put16(out + *n + 2, (uint16_t)(0xdc00 | (cp & 0x3ff)));
			*n += 4;
		} else {
			if (cap - *n < 2)
				return false;
			put16(out + *n, (uint16_t)cp);
			*n += 2;
		}
	}
	return true;
}

enum sb_status sbn_ntlm_split_account(const char *account, char **user,
				      char **domain, struct sb_error *err)
{
	*user = *domain = NULL;
	if (!account || !*account)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "username: empty");
	if (!sb_utf8_valid(account, strlen(account)))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "username: not valid UTF-8");
	const char *bs = strchr(account, '\\');
	const char *u = account;
	size_t dl = 0;
	if (bs) {
		dl = (size_t)(bs - account);
		u = bs + 1;
		if (!dl || !*u || strchr(u, '\\'))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "username: expected DOMAIN\\user, "
					    "user@domain or user");
	}
	uint8_t tmp[SBN_NTLM_NAME_MAX * 4];
	size_t n = 0;
	if (strlen(account) > SBN_NTLM_NAME_MAX ||
	    !utf16le(account, false, tmp, SBN_NTLM_NAME_MAX * 2, &n))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "username: longer than %d bytes",
				    SBN_NTLM_NAME_MAX);
	*user = strdup(u);
	*domain = strndup(account, dl);
	if (!*user || !*domain) {
		free(*user);
		free(*domain);
		*user = *domain = NULL;
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	return SB_OK;
}

/* ---- cryptography -------------------------------------------------------- */

static bool hmac_md5(const uint8_t key[SBN_NTLM_KEY_LEN], const uint8_t *a,
		     size_t an, const uint8_t *b, size_t bn,
		     uint8_t out[SBN_NTLM_KEY_LEN])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	char digest[] = "MD5";
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
	    OSSL_PARAM_construct_end()};
	size_t outl = 0;
	bool ok = ctx && EVP_MAC_init(ctx, key, SBN_NTLM_KEY_LEN, params) &&
		  EVP_MAC_update(ctx, a, an) &&
		  (!bn || EVP_MAC_update(ctx, b, bn)) &&
		  EVP_MAC_final(ctx, out, &outl, SBN_NTLM_KEY_LEN) &&
		  outl == SBN_NTLM_KEY_LEN;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok;
}

static bool md4(const uint8_t *data, size_t n, uint8_t out[SBN_NTLM_KEY_LEN])
{
	OSSL_LIB_CTX *lc = OSSL_LIB_CTX_new();
	OSSL_PROVIDER *legacy = lc ? OSSL_PROVIDER_load(lc, "legacy") : NULL;
	EVP_MD *md = legacy ? EVP_MD_fetch(lc, "MD4", NULL) : NULL;
	unsigned int outl = 0;
	bool ok = md && EVP_Digest(data, n, out, &outl, md, NULL) &&
		  outl == SBN_NTLM_KEY_LEN;
	EVP_MD_free(md);
	if (legacy)
		OSSL_PROVIDER_unload(legacy);
	OSSL_LIB_CTX_free(lc);
	return ok;
}

enum sb_status sbn_ntlm_ntowfv2(const char *password, const char *user,
				const char *domain,
				uint8_t key[SBN_NTLM_KEY_LEN],
				struct sb_error *err)
{
	uint8_t pw[SBN_NTLM_PASSWORD_MAX * 2];
	uint8_t ud[SBN_NTLM_NAME_MAX * 4 + 8];
	uint8_t hash[SBN_NTLM_KEY_LEN];
	size_t pn = 0, un = 0;
	enum sb_status st = SB_OK;
	if (strlen(password) > SBN_NTLM_PASSWORD_MAX ||
	    !utf16le(password, false, pw, sizeof(pw), &pn)) {
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "password: not valid UTF-8 or longer than "
				  "%d bytes",
				  SBN_NTLM_PASSWORD_MAX);
		goto out;
	}
	if (!utf16le(user, true, ud, sizeof(ud), &un) ||
	    !utf16le(domain, false, ud, sizeof(ud), &un)) {
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "username: not valid UTF-8 or too long");
		goto out;
	}
	if (!md4(pw, pn, hash)) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
				  "NTLM needs MD4, which OpenSSL's legacy "
				  "provider could not give (is the legacy "
				  "module installed and allowed?)");
		goto out;
	}
	if (!hmac_md5(hash, ud, un, NULL, 0, key))
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
				  "NTLM: OpenSSL's HMAC-MD5 failed");
out:
	sbn_ntlm_wipe(pw, sizeof(pw));
	sbn_ntlm_wipe(hash, sizeof(hash));
	sbn_ntlm_wipe(ud, sizeof(ud));
	return st;
}

enum sb_status sbn_ntlm_v2_response(
    const uint8_t key[SBN_NTLM_KEY_LEN],
    const uint8_t server_challenge[SBN_NTLM_CHALLENGE_LEN],
    const uint8_t client_challenge[SBN_NTLM_CHALLENGE_LEN], uint64_t timestamp,
    const uint8_t *target_info, size_t target_info_len, uint8_t **nt,
    size_t *nt_len, uint8_t session_key[SBN_NTLM_KEY_LEN], struct sb_error *err)
{
	*nt = NULL;
	*nt_len = 0;
	size_t tl = 28 + target_info_len + 4;
	uint8_t *r = calloc(1, SBN_NTLM_KEY_LEN + tl);
	if (!r)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	uint8_t *temp = r + SBN_NTLM_KEY_LEN;
	temp[0] = 1; /* RespType */
	temp[1] = 1; /* HiRespType */
	put64(temp + 8, timestamp);
	memcpy(temp + 16, client_challenge, SBN_NTLM_CHALLENGE_LEN);
	if (target_info_len)
		memcpy(temp + 28, target_info, target_info_len);
	uint8_t proof[SBN_NTLM_KEY_LEN];
	if (!hmac_md5(key, server_challenge, SBN_NTLM_CHALLENGE_LEN, temp, tl,
		      proof) ||
	    (session_key &&
	     !hmac_md5(key, proof, SBN_NTLM_KEY_LEN, NULL, 0, session_key))) {
		free(r);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "NTLM: OpenSSL's HMAC-MD5 failed");
	}
	memcpy(r, proof, SBN_NTLM_KEY_LEN);
	*nt = r;
	*nt_len = SBN_NTLM_KEY_LEN + tl;
	return SB_OK;
}

enum sb_status
sbn_ntlm_lmv2_response(const uint8_t key[SBN_NTLM_KEY_LEN],
		       const uint8_t server_challenge[SBN_NTLM_CHALLENGE_LEN],
		       const uint8_t client_challenge[SBN_NTLM_CHALLENGE_LEN],
		       uint8_t out[SBN_NTLM_LMV2_LEN], struct sb_error *err)
{
	if (!hmac_md5(key, server_challenge, SBN_NTLM_CHALLENGE_LEN,
		      client_challenge, SBN_NTLM_CHALLENGE_LEN, out))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "NTLM: OpenSSL's HMAC-MD5 failed");
	memcpy(out + SBN_NTLM_KEY_LEN, client_challenge,
	       SBN_NTLM_CHALLENGE_LEN);
	return SB_OK;
}

/* ---- AUTHENTICATE -------------------------------------------------------- */

#define AUTH_HEAD 64	 /* up to NegotiateFlags: no Version, no MIC */
#define AUTH_HEAD_MIC 88 /* with Version (zeros) and the MIC at 72 */
#define AUTH_MIC_AT 72
#define AV_FLAGS 6		/* MsvAvFlags */
#define AV_FLAG_MIC 0x00000002u /* the AUTHENTICATE message has a MIC */

/* The target info with MsvAvFlags saying "MIC present" (the pair's bit
 * set, or a pair added before MsvAvEOL), malloc'd; ti was checked by the
 * parser.  NULL when out of memory. */
static uint8_t *with_mic_flag(const uint8_t *ti, size_t n, size_t *out_len)
{
	uint8_t *o = malloc(n + 12);
	if (!o)
		return NULL;
	size_t p = 0, w = 0;
	bool flagged = false;
	while (p + 4 <= n) {
		uint16_t id = get16(ti + p), vl = get16(ti + p + 2);
		if (id == SBN_AV_EOL || vl > n - p - 4)
			break;
		memcpy(o + w, ti + p, 4 + (size_t)vl);
		if (id == AV_FLAGS && vl == 4) {
			put32(o + w + 4, get32(ti + p + 4) | AV_FLAG_MIC);
			flagged = true;
		}
		w += 4 + (size_t)vl;
		p += 4 + (size_t)vl;
	}
	if (!flagged) {
		put16(o + w, AV_FLAGS);
		put16(o + w + 2, 4);
		put32(o + w + 4, AV_FLAG_MIC);
		w += 8;
	}
	memset(o + w, 0, 4); /* MsvAvEOL */
	*out_len = w + 4;
	return o;
}

/* HMAC-MD5(key, a + b + c) into out. */
static bool hmac_md5_3(const uint8_t key[SBN_NTLM_KEY_LEN], const uint8_t *a,
		       size_t an, const uint8_t *b, size_t bn, const uint8_t *c,
		       size_t cn, uint8_t out[SBN_NTLM_KEY_LEN])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	char digest[] = "MD5";
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
	    OSSL_PARAM_construct_end()};
	uint8_t r[SBN_NTLM_KEY_LEN];
	size_t outl = 0;
	bool ok = ctx && EVP_MAC_init(ctx, key, SBN_NTLM_KEY_LEN, params) &&
		  EVP_MAC_update(ctx, a, an) && EVP_MAC_update(ctx, b, bn) &&
		  EVP_MAC_update(ctx, c, cn) &&
		  EVP_MAC_final(ctx, r, &outl, sizeof(r)) &&
		  outl == SBN_NTLM_KEY_LEN;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	if (ok)
		memcpy(out, r, SBN_NTLM_KEY_LEN);
	return ok;
}

enum sb_status sbn_ntlm_authenticate(
    const struct sbn_ntlm_challenge *ch, const char *user, const char *domain,
    const uint8_t key[SBN_NTLM_KEY_LEN],
    const uint8_t client_challenge[SBN_NTLM_CHALLENGE_LEN], uint64_t now,
    const uint8_t *negotiate, size_t negotiate_len, const uint8_t *challenge,
    size_t challenge_len, uint8_t **msg, size_t *len, struct sb_error *err)
{
	*msg = NULL;
	*len = 0;
	/* a MIC when the server gave its time (MS-NLMP 3.1.5.1.2) and the
	 * messages it covers are there */
	bool mic = ch->has_timestamp && negotiate && challenge;
	uint8_t dom16[SBN_NTLM_NAME_MAX * 4], user16[SBN_NTLM_NAME_MAX * 4];
	size_t dn = 0, un = 0;
	if (!utf16le(domain, false, dom16, sizeof(dom16), &dn) ||
	    !utf16le(user, false, user16, sizeof(user16), &un))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "username: not valid UTF-8 or too long");
	uint8_t lm[SBN_NTLM_LMV2_LEN];
	memset(lm, 0, sizeof(lm));
	uint64_t ts = now;
	if (ch->has_timestamp) {
		/* the server's clock; LmChallengeResponse all zeros */
		ts = ch->timestamp;
	} else if (sbn_ntlm_lmv2_response(key, ch->server_challenge,
					  client_challenge, lm, err) != SB_OK) {
		return err ? err->status : SB_ERR_INTERNAL;
	}
	const uint8_t *ti = ch->target_info;
	size_t ti_len = ch->target_info_len;
	uint8_t *ti_mic = NULL;
	if (mic) {
		ti_mic = with_mic_flag(ti, ti_len, &ti_len);
		if (!ti_mic)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		ti = ti_mic;
	}
	uint8_t *nt = NULL, *m = NULL;
	size_t nt_len = 0, total = 0;
	uint8_t sk[SBN_NTLM_KEY_LEN];
	enum sb_status st =
	    sbn_ntlm_v2_response(key, ch->server_challenge, client_challenge,
				 ts, ti, ti_len, &nt, &nt_len, sk, err);
	if (st != SB_OK)
		goto out;
	if (nt_len > 0xffff) {
		st = sb_error_set(err, SB_ERR_UPSTREAM, "ntlm_challenge",
				  "the server's NTLM target info is too "
				  "large to answer");
		goto out;
	}
	size_t head = mic ? AUTH_HEAD_MIC : AUTH_HEAD;
	total = head + sizeof(lm) + nt_len + dn + un;
	m = calloc(1, total);
	if (!m) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	memcpy(m, SIG, 8);
	put32(m + 8, 3);
	size_t at = head;
	/* payload: domain, user, (no workstation), LM, NT, (no key) */
	struct {
		size_t off;
		const uint8_t *data;
		size_t n;
	} f[] = {
	    {28, dom16, dn},	  {36, user16, un}, {44, NULL, 0},
	    {12, lm, sizeof(lm)}, {20, nt, nt_len}, {52, NULL, 0},
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		put16(m + f[i].off, (uint16_t)f[i].n);
		put16(m + f[i].off + 2, (uint16_t)f[i].n);
		put32(m + f[i].off + 4, (uint32_t)at);
		if (f[i].n)
			memcpy(m + at, f[i].data, f[i].n);
		at += f[i].n;
	}
	uint32_t flags = (ch->flags & AUTH_FLAGS & ~SBN_NTLM_OEM) |
			 SBN_NTLM_UNICODE | SBN_NTLM_NTLM;
	put32(m + 60, flags);
	/* MIC = HMAC-MD5(ExportedSessionKey, NEGOTIATE + CHALLENGE +
	 * AUTHENTICATE with the MIC zero); without key exchange the
	 * exported key is the session base key */
	if (mic && !hmac_md5_3(sk, negotiate, negotiate_len, challenge,
			       challenge_len, m, total, m + AUTH_MIC_AT)) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
				  "NTLM: OpenSSL's HMAC-MD5 failed");
		goto out;
	}
	*msg = m;
	*len = total;
	m = NULL;
out:
	sbn_ntlm_wipe(sk, sizeof(sk));
	free(m);
	free(nt);
	free(ti_mic);
	return st;
}
