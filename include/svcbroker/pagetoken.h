/* svcbroker — page tokens for list methods (part of libsvcbroker).
 *
 * A list method hands the client an opaque next_page_token and gets it
 * back as the PageToken input of the next call.  The token carries the
 * broker's position in the listing (an offset, a cursor, the last row's
 * sort key: any bytes) and is bound to the listing it came from: the
 * method and every input that shapes the listing (mailbox, folder,
 * filters), given by the broker as a list of strings, the "binding".
 *
 *   const char *bind[] = {"Email.List", mailbox, folder};
 *   char *tok = sb_page_token_new(bind, 3, pos, pos_len);
 *   ... sb_result_next_page(r, tok); free(tok);
 *
 *   struct sb_buf pos;
 *   sb_buf_init(&pos, SB_PAGE_TOKEN_POS_MAX);
 *   st = sb_page_token_read(sb_call_page_token(call), bind, 3, &pos, err);
 *
 * Format (version 1): base64url without padding of
 *   0x01 | binding hash (16 bytes) | position | tag (16 bytes)
 * where the binding hash and the tag are SipHash-2-4-128 under two secret
 * keys the process draws at random when it first needs them.  The tag
 * covers everything before it, so a changed, cut or extended token is
 * refused, as is one made by another process (another daemon, or this one
 * before a restart): tokens live as long as the process that made them.
 * A client cannot make a token for a position it chose.
 *
 * Every refusal is SB_ERR_INVALID_INPUT with the code
 * SB_PAGE_TOKEN_CODE ("ErrorInvalidPageToken") and a message saying
 * which check failed.  All functions are thread-safe.
 */
#ifndef SVCBROKER_PAGETOKEN_H
#define SVCBROKER_PAGETOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/sdk.h>
#include <svcbroker/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The one error code of a refused page token, for every broker. */
#define SB_PAGE_TOKEN_CODE "ErrorInvalidPageToken"
/* The version this SDK writes and reads. */
#define SB_PAGE_TOKEN_VERSION 1
/* At most this many bytes of position (the token then stays well under
 * the host's 4096-byte PageToken limit). */
#define SB_PAGE_TOKEN_POS_MAX 2048

/* A token for position pos[0..len) of the listing described by
 * binding[0..n) (n strings; a NULL item is bound as "absent", distinct
 * from ""; the order matters).  malloc'd, one line of base64url
 * characters; NULL when len > SB_PAGE_TOKEN_POS_MAX, when the process
 * has no random key (the OS refused random bytes) or out of memory. */
char *sb_page_token_new(const char *const *binding, size_t n, const void *pos,
			size_t len);

/* Check token against the listing binding[0..n) and append its position
 * to pos (still NUL-terminated, so a string position reads as a string).
 * SB_OK, or SB_ERR_INVALID_INPUT (code SB_PAGE_TOKEN_CODE) when token is
 * NULL or empty, too long, not base64url, cut, of another version, altered
 * or made by another process, or made for another listing; pos is then
 * left as it was.  SB_ERR_INTERNAL when pos cannot grow or the process has
 * no key. */
enum sb_status sb_page_token_read(const char *token, const char *const *binding,
				  size_t n, struct sb_buf *pos,
				  struct sb_error *err);

/* SipHash-2-4 with a 128-bit output (Aumasson and Bernstein): a keyed
 * pseudorandom function for short inputs, used as the page tokens' MAC.
 * Good as a MAC or for hash tables keyed against flooding; not a password
 * hash, not a signature.  out gets the 16 bytes of the reference
 * implementation's output. */
void sb_siphash128(const unsigned char key[16], const void *data, size_t len,
		   unsigned char out[16]);

#ifdef __cplusplus
}
#endif
#endif
