/* libFuzzer target for the NTLM CHALLENGE parser of auth = ntlm-negotiate
 * (core/net/ntlm.c): the server's token, outside input.
 *
 * Besides "no crash, no overrun" (ASan, UBSan) it checks what the client
 * relies on: a refusal has code ntlm_challenge and says why; a parsed
 * challenge has Unicode, its target info lies inside the input and holds
 * a timestamp only if found there; the AUTHENTICATE message made from it
 * (a fixed key: no MD4 needed) has every field inside itself and carries
 * the target info inside its NTLMv2 response: unchanged without a MIC,
 * with MsvAvFlags saying "MIC" (and still a list ending in MsvAvEOL) with
 * one.
 *
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the
 * files given as arguments: make check runs it over
 * tests/fuzz/corpus/ntlm. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/status.h>

#include "../../core/net/ntlm_int.h"
#include "fuzz.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbn_ntlm_challenge ch;
	struct sb_error err;
	enum sb_status st = sbn_ntlm_parse_challenge(data, size, &ch, &err);
	if (st != SB_OK) {
		FUZZ_CHECK(st == SB_ERR_UPSTREAM, "status %d", (int)st);
		FUZZ_CHECK(!strcmp(err.code, "ntlm_challenge"), "%s", err.code);
		FUZZ_CHECK(err.message[0], "a refusal says why");
		return 0;
	}
	FUZZ_CHECK(size >= 48, "%zu", size);
	FUZZ_CHECK(ch.flags & SBN_NTLM_UNICODE, "%x", (unsigned)ch.flags);
	FUZZ_CHECK(!memcmp(ch.server_challenge, data + 24, 8), "challenge");
	if (ch.target_info_len) {
		FUZZ_CHECK(ch.target_info >= data &&
			       ch.target_info + ch.target_info_len <=
				   data + size,
			   "target info outside the input");
	} else {
		FUZZ_CHECK(!ch.has_timestamp,
			   "a timestamp without target info");
	}
	static const uint8_t key[SBN_NTLM_KEY_LEN] = {
	    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t cc[8] = {0xaa, 0xbb, 0xcc, 0xdd,
				      0xee, 0xff, 0x11, 0x22};
	/* without a MIC the target info goes back unchanged; with one (the
	 * challenge's timestamp) MsvAvFlags is set in it */
	for (int mic = 0; mic < 2; mic++) {
		uint8_t m1[SBN_NTLM_NEGOTIATE_LEN];
		size_t n1 = sbn_ntlm_negotiate(m1);
		uint8_t *m3 = NULL;
		size_t n3 = 0;
		st = sbn_ntlm_authenticate(
		    &ch, "user", "DOMAIN", key, cc, 0x01d9000000000000ULL,
		    mic ? m1 : NULL, n1, mic ? data : NULL, size, &m3, &n3,
		    &err);
		if (st != SB_OK) {
			FUZZ_CHECK(st == SB_ERR_UPSTREAM && err.message[0],
				   "%d", (int)st);
			continue;
		}
		bool with_mic = mic && ch.has_timestamp;
		size_t head = with_mic ? 88 : 64;
		FUZZ_CHECK(n3 >= head && !memcmp(m3, "NTLMSSP\0\3\0\0\0", 12),
			   "head");
		for (size_t off = 12; off <= 52; off += 8) {
			size_t len = (size_t)(m3[off] | m3[off + 1] << 8);
			size_t at = le32(m3 + off + 4);
			FUZZ_CHECK(at >= head && at + len <= n3, "field at %zu",
				   off);
		}
		size_t nt_len = (size_t)(m3[20] | m3[21] << 8);
		size_t nt_at = le32(m3 + 24);
		FUZZ_CHECK(nt_len >= 16 + 28 + 4, "%zu", nt_len);
		if (!with_mic) {
			FUZZ_CHECK(nt_len == 16 + 28 + ch.target_info_len + 4,
				   "%zu", nt_len);
			FUZZ_CHECK(!ch.target_info_len ||
				       !memcmp(m3 + nt_at + 16 + 28,
					       ch.target_info,
					       ch.target_info_len),
				   "target info changed");
		} else {
			/* the blob's target info still parses, with the
			 * flag */
			const uint8_t *ti = m3 + nt_at + 16 + 28;
			size_t tl = nt_len - 16 - 28 - 4, p = 0;
			bool flag = false, eol = false;
			while (p + 4 <= tl) {
				size_t id = (size_t)(ti[p] | ti[p + 1] << 8);
				size_t vl =
				    (size_t)(ti[p + 2] | ti[p + 3] << 8);
				FUZZ_CHECK(vl <= tl - p - 4, "pair at %zu", p);
				if (id == 0) {
					eol = true;
					break;
				}
				if (id == 6 && vl == 4 && (ti[p + 4] & 2))
					flag = true;
				p += 4 + vl;
			}
			FUZZ_CHECK(eol && flag, "MsvAvFlags with the MIC bit");
		}
		free(m3);
	}
	return 0;
}
