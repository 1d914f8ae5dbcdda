/* svcbroker — small stateless helpers for brokers (part of libsvcbroker).
 * Every function here is thread-safe and keeps no state.
 */
#ifndef SVCBROKER_SDK_H
#define SVCBROKER_SDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A growable byte buffer with a hard cap.  Always NUL-terminated after a
 * successful append (data may be NULL while len == 0).  Once an append fails
 * (cap reached or out of memory) `failed` stays set and further appends are
 * refused, so callers may check once at the end. */
struct sb_buf {
	char *data;
	size_t len, cap, max;
	bool failed;
};
void sb_buf_init(struct sb_buf *b, size_t max); /* max 0: 64 MiB */
bool sb_buf_append(struct sb_buf *b, const void *data, size_t len);
bool sb_buf_puts(struct sb_buf *b, const char *s);
bool sb_buf_printf(struct sb_buf *b, const char *fmt, ...) SB_PRINTF(2, 3);
/* Give the data to the caller (free() it); b is reset. Never NULL unless
 * b->failed (then NULL and b is freed). */
char *sb_buf_steal(struct sb_buf *b);
void sb_buf_free(struct sb_buf *b);

/* Base64 (RFC 4648, with padding).  Encode returns a malloc'd string, or
 * NULL when out of memory; line_len > 0 inserts CRLF every line_len chars
 * (76 for MIME).  Decode ignores CR/LF/space, rejects anything else; returns
 * a malloc'd buffer (NUL-terminated beyond *out_len) or NULL. */
char *sb_base64_encode(const void *data, size_t len, size_t line_len);
unsigned char *sb_base64_decode(const char *s, size_t len, size_t *out_len);
/* The same decoder, appending the bytes to b (still NUL-terminated).  With
 * flags 0 it is as strict as sb_base64_decode and leaves b's content as it
 * was on bad input.  SB_BASE64_LENIENT is for data received from elsewhere
 * (MIME bodies and encoded-words): characters outside the alphabet are
 * skipped, the first '=' ends the data, a partial last quantum gives the
 * whole bytes it holds; it fails only when b cannot grow.  Returns false
 * on bad input (strict) or when b failed. */
#define SB_BASE64_LENIENT 1u
bool sb_base64_decode_append(struct sb_buf *b, const char *s, size_t len,
			     unsigned flags);

/* base64url without padding (RFC 4648 section 5), as page tokens and JWTs
 * use it.  Encode: malloc'd, NUL-terminated; NULL when out of memory.
 * Decode: strict (only the alphabet, no padding or white space, and the
 * unused low bits of the last character zero, so every byte string has
 * exactly one spelling); writes to out, which holds len / 4 * 3 + 3
 * bytes, and the count to *out_len.  false on anything else. */
char *sb_base64url_encode(const void *data, size_t len);
bool sb_base64url_decode(const char *s, size_t len, unsigned char *out,
			 size_t *out_len);

#define SB_XML_TEXT 0u /* element content */
#define SB_XML_ATTR 1u /* attribute value, quoted with " or ' */

/* Append s (len bytes; len (size_t)-1: strlen(s)) to b escaped: & < > as
 * entities and CR as &#13; (an XML parser turns a raw CR or CRLF into LF,
 * so a message body's CRLF would not survive); with SB_XML_ATTR also " and
 * ' as entities and TAB, LF as &#9; &#10; (attribute value normalisation
 * turns them into spaces).  SB_ERR_INVALID_INPUT naming the byte offset of
 * a character XML cannot carry or of invalid UTF-8 (b is then left as it
 * was); SB_ERR_INTERNAL when b cannot grow. */
enum sb_status sb_xml_escape_append(struct sb_buf *b, const char *s, size_t len,
				    unsigned mode, struct sb_error *err);
/* The same as a malloc'd string, escaped for either place (SB_XML_ATTR:
 * & < > " ' as entities, TAB, LF and CR as references); NULL for input
 * XML cannot carry or when out of memory. */
char *sb_xml_escape(const char *s);

/* True if s is valid UTF-8 (no overlongs or surrogates). */
bool sb_utf8_valid(const char *s, size_t len);

/* Fill buf with n random bytes from the OS; false on failure. */
bool sb_random_bytes(void *buf, size_t n);
/* A random RFC 4122 version 4 UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
bool sb_uuid4(char out[37]);

/* True if s is a plain RFC 5321 address (local@domain, ASCII local part
 * or UTF-8 (RFC 6531), no spaces, no control characters, <= 254 bytes). */
bool sb_email_valid(const char *s);

/* The one UTF-8 decoder: the length (1..4) of the valid, shortest-form
 * UTF-8 sequence at s (at most n bytes) with its code point in *cp (cp may
 * be NULL), or 0 if s does not start with one (surrogates and code points
 * above U+10FFFF are invalid). */
size_t sb_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* s made safe to quote in a message or a log line: at most max bytes of s,
 * invalid UTF-8 replaced by U+FFFD, control characters by '?', "..." when
 * cut; always NUL-terminated within n bytes.  Returns out ("(null)" for a
 * NULL s). */
const char *sb_text_quotable(const char *s, size_t max, char *out, size_t n);

/* The one UTF-8 encoder: cp as UTF-8 in out (not NUL-terminated), its
 * length returned (1..4).  A surrogate or a value above U+10FFFF is
 * written as U+FFFD. */
size_t sb_utf8_encode(uint32_t cp, char out[4]);

/* True if s[0..n) is the start of a valid UTF-8 sequence that lacks its
 * last bytes (a character cut by truncation), as opposed to invalid. */
bool sb_utf8_truncated(const char *s, size_t n);

/* The length of the longest prefix of s[0..len) of at most max bytes that
 * does not end inside a UTF-8 sequence (len itself when len <= max). */
size_t sb_utf8_cut(const char *s, size_t len, size_t max);

/* The one URL-password masker: v with the password of every URL in it
 * ("scheme://user:password@host") replaced by "***".  Writes at most max
 * bytes of the result to out, NUL-terminated within n bytes (n may be 0).
 * Returns the length of the masked text, at most max, so a caller can size
 * out: with max SIZE_MAX and n 0 it measures.  A NULL v is "". */
size_t sb_mask_url_password(const char *v, size_t max, char *out, size_t n);

/* A safe single path component: non-empty, <= max bytes, no '/', no NUL,
 * not "." or "..", no control characters. */
bool sb_path_component_ok(const char *s, size_t max);

/* Monotonic clock in milliseconds; wall clock in seconds. */
int64_t sb_now_ms(void);

/* ---- Values from an upstream, made fit for a result cell ---------------
 * Text read from an upstream (a header, a body, a stored file, a server's
 * answer) may hold invalid UTF-8 or control characters that the catalog's
 * types refuse.  One odd cell must never fail a whole call, so such values
 * are cleaned rather than refused: invalid bytes become U+FFFD (one per
 * byte), and characters the type does not allow become a space (TEXT: TAB,
 * CR, LF, U+2028, U+2029) or are dropped (other C0 and C1 controls, DEL;
 * in MEMO every control but TAB, CR and LF).  Each returns a malloc'd
 * string, NULL only when s is NULL or out of memory. */
char *sb_clean_text(const char *s);
char *sb_clean_memo(const char *s);
/* An attachment's file name as a client may save it: cleaned as TEXT,
 * '/' and '\' become '_', "." and ".." become "_" and "_.", cut at a
 * character boundary to 255 bytes ("" stays ""). */
char *sb_clean_file_name(const char *s);
/* A content type as a result may carry it: s when it is printable ASCII
 * "type/subtype[; parameters]" of at most 255 bytes, else
 * "application/octet-stream". */
char *sb_clean_content_type(const char *s);

struct sb_result;
/* sb_result_str of a value from an upstream, cleaned as TEXT or MEMO
 * first (a NULL value sets nothing).  The status of sb_result_str, or
 * SB_ERR_INTERNAL when out of memory (the cell is then not set). */
enum sb_status sb_result_clean_text(struct sb_result *r, const char *name,
				    const char *value);
enum sb_status sb_result_clean_memo(struct sb_result *r, const char *name,
				    const char *value);

/* ---- PowerShell literals ------------------------------------------------
 * Append s[0..len) to b as one PowerShell single-quoted string literal,
 * quotes included: every single-quote character PowerShell knows (U+0027
 * ', U+2018, U+2019, U+201A, U+201B) is doubled, nothing else changes, so
 * no value can end the literal early.  SB_ERR_INVALID_INPUT (b unchanged,
 * err naming the byte offset) for a NUL byte or invalid UTF-8;
 * SB_ERR_INTERNAL when b is full or failed.  s may be NULL when len is 0. */
enum sb_status sb_ps_quote(struct sb_buf *b, const char *s, size_t len,
			   struct sb_error *err);

#ifdef __cplusplus
}
#endif
#endif
