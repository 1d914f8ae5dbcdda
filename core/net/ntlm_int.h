/* libsvcbroker-net: NTLMv2 messages (MS-NLMP) for the HTTP client's auth =
 * ntlm-negotiate — a raw NTLMSSP token carried in the Negotiate scheme.
 * Not installed: the HTTP client, its unit test and its fuzz target use
 * it.  Only what an HTTP client needs: no signing or sealing, no key
 * exchange. */
#ifndef SB_NET_NTLM_INT_H
#define SB_NET_NTLM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/status.h>

#define SBN_NTLM_KEY_LEN 16
#define SBN_NTLM_CHALLENGE_LEN 8
/* longest user or domain name, in characters */
#define SBN_NTLM_NAME_MAX 256
/* longest password, in bytes of UTF-8 */
#define SBN_NTLM_PASSWORD_MAX 1024

/* NegotiateFlags (MS-NLMP 2.2.2.5) */
#define SBN_NTLM_UNICODE 0x00000001u
#define SBN_NTLM_OEM 0x00000002u
#define SBN_NTLM_REQUEST_TARGET 0x00000004u
#define SBN_NTLM_NTLM 0x00000200u
#define SBN_NTLM_ALWAYS_SIGN 0x00008000u
#define SBN_NTLM_EXTENDED_SESSIONSECURITY 0x00080000u
#define SBN_NTLM_TARGET_INFO 0x00800000u
#define SBN_NTLM_VERSION 0x02000000u
#define SBN_NTLM_128 0x20000000u
#define SBN_NTLM_KEY_EXCH 0x40000000u
#define SBN_NTLM_56 0x80000000u

/* AV pair ids of the target info (MS-NLMP 2.2.2.1) */
#define SBN_AV_EOL 0
#define SBN_AV_TIMESTAMP 7

/* The NEGOTIATE message (type 1): 32 bytes written to out.  Returns its
 * length. */
#define SBN_NTLM_NEGOTIATE_LEN 32
size_t sbn_ntlm_negotiate(uint8_t out[SBN_NTLM_NEGOTIATE_LEN]);

/* A CHALLENGE message (type 2) as parsed.  target_info points into the
 * message parsed (borrowed). */
struct sbn_ntlm_challenge {
	uint32_t flags;
	uint8_t server_challenge[SBN_NTLM_CHALLENGE_LEN];
	const uint8_t *target_info;
	size_t target_info_len;
	bool has_timestamp; /* MsvAvTimestamp in the target info */
	uint64_t timestamp; /* FILETIME: 100 ns since 1601 */
};
/* Parse a CHALLENGE message from the server (outside input).  SB_OK, or
 * SB_ERR_UPSTREAM with a message naming what is wrong (not NTLMSSP, not
 * type 2, a field outside the message, target info not a list of AV
 * pairs ending with MsvAvEOL, OEM encoding only). */
enum sb_status sbn_ntlm_parse_challenge(const void *msg, size_t len,
					struct sbn_ntlm_challenge *ch,
					struct sb_error *err);

/* An account as NTLM sends it: "DOMAIN\user" -> user and DOMAIN;
 * "user@domain" (a UPN) and "user" -> themselves and an empty domain.
 * *user and *domain are malloc'd.  SB_ERR_INVALID_INPUT naming what is
 * wrong (empty parts, more than one '\', too long, invalid UTF-8), or
 * SB_ERR_INTERNAL when out of memory. */
enum sb_status sbn_ntlm_split_account(const char *account, char **user,
				      char **domain, struct sb_error *err);

/* NTOWFv2 = HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) +
 * domain)).  MD4 comes from OpenSSL's legacy provider, loaded in a
 * private library context for the duration of the call.  Upper-casing
 * covers ASCII, Latin-1, Greek and Cyrillic letters.  Intermediate values
 * are wiped.  SB_ERR_INVALID_INPUT for invalid UTF-8 or overlong input,
 * SB_ERR_INTERNAL when OpenSSL cannot (no legacy provider). */
enum sb_status sbn_ntlm_ntowfv2(const char *password, const char *user,
				const char *domain,
				uint8_t key[SBN_NTLM_KEY_LEN],
				struct sb_error *err);

/* The NTLMv2 response (MS-NLMP 3.3.2): the blob temp = 01 01 Z(6)
 * timestamp client_challenge Z(4) target_info Z(4); NTProofStr =
 * HMAC-MD5(key, server_challenge + temp); the NtChallengeResponse
 * NTProofStr + temp (malloc'd in *nt, its length in *nt_len); the
 * SessionBaseKey HMAC-MD5(key, NTProofStr) in session_key (may be NULL).
 * SB_ERR_INTERNAL on failure. */
enum sb_status
sbn_ntlm_v2_response(const uint8_t key[SBN_NTLM_KEY_LEN],
		     const uint8_t server_challenge[SBN_NTLM_CHALLENGE_LEN],
		     const uint8_t client_challenge[SBN_NTLM_CHALLENGE_LEN],
		     uint64_t timestamp, const uint8_t *target_info,
		     size_t target_info_len, uint8_t **nt, size_t *nt_len,
		     uint8_t session_key[SBN_NTLM_KEY_LEN],
		     struct sb_error *err);

/* The LMv2 response: HMAC-MD5(key, server_challenge + client_challenge) +
 * client_challenge, 24 bytes. */
#define SBN_NTLM_LMV2_LEN 24
enum sb_status
sbn_ntlm_lmv2_response(const uint8_t key[SBN_NTLM_KEY_LEN],
		       const uint8_t server_challenge[SBN_NTLM_CHALLENGE_LEN],
		       const uint8_t client_challenge[SBN_NTLM_CHALLENGE_LEN],
		       uint8_t out[SBN_NTLM_LMV2_LEN], struct sb_error *err);

/* The AUTHENTICATE message (type 3) answering ch for user in domain (as
 * sbn_ntlm_split_account gives them) with the NTOWFv2 key: an NTLMv2
 * response with the challenge's MsvAvTimestamp when it has one (and then
 * an LmChallengeResponse of zeros, as MS-NLMP says), else with now (a
 * FILETIME) and an LMv2 response.  client_challenge: 8 random bytes (the
 * caller's, so that tests can repeat a computation).  With the challenge's
 * timestamp and the NEGOTIATE and CHALLENGE messages as sent and received
 * (both not NULL), a MIC: MsvAvFlags in the response's target info says
 * so, and the message has a Version (zeros) and at offset 72 the MIC,
 * HMAC-MD5 of the three messages (the MIC zero) under the session base
 * key.  No workstation name, no encrypted session key.  *msg malloc'd.
 * SB_ERR_INVALID_INPUT for names that do not fit, SB_ERR_INTERNAL on
 * failure. */
enum sb_status sbn_ntlm_authenticate(
    const struct sbn_ntlm_challenge *ch, const char *user, const char *domain,
    const uint8_t key[SBN_NTLM_KEY_LEN],
    const uint8_t client_challenge[SBN_NTLM_CHALLENGE_LEN], uint64_t now,
    const uint8_t *negotiate, size_t negotiate_len, const uint8_t *challenge,
    size_t challenge_len, uint8_t **msg, size_t *len, struct sb_error *err);

/* The current time as a FILETIME (100 ns units since 1601-01-01 UTC). */
uint64_t sbn_ntlm_filetime_now(void);

/* Overwrite n bytes at p (not optimised away). */
void sbn_ntlm_wipe(void *p, size_t n);

#endif
