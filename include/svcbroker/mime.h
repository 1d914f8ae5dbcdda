/* svcbroker — RFC 5322 / MIME message builder and reader
 * (libsvcbroker-mime, on GMime 3.2: `pkg-config svcbroker-mime`).
 *
 * Builds standards-correct messages: RFC 2047 encoded-words for non-ASCII
 * header text (address display names, Subject), folded lines <= 78
 * characters, Date and Message-ID, UTF-8 text parts in quoted-printable,
 * multipart/alternative for text + HTML, multipart/mixed for attachments
 * (base64, RFC 2231 file names for non-ASCII).  CRLF line endings.
 * Bcc is never written to the headers.  Thread-safe; keeps no state of its
 * own (GMime is set up once per process on first use and never shut down).
 * Out of memory inside GLib aborts the process, as GLib does everywhere.
 */
#ifndef SVCBROKER_MIME_H
#define SVCBROKER_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/sdk.h>
#include <svcbroker/status.h>
#include <svcbroker/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sb_mime_message {
	const char *from;   /* required: address */
	const char *sender; /* optional: Sender header (send on behalf) */
	const char *const *to;
	size_t n_to;
	const char *const *cc;
	size_t n_cc;
	const char *const *reply_to;
	size_t n_reply_to;
	const char *subject;	/* optional, UTF-8, no CR/LF */
	const char *body;	/* optional plain text, UTF-8 */
	const char *html_body;	/* optional HTML, UTF-8 */
	const char *importance; /* optional: "Low" | "Normal" | "High" */
	const char *message_id; /* optional "<id@domain>"; NULL: generated */
	int64_t date;		/* seconds since epoch; 0: now */
	const struct sb_file *attachments;
	size_t n_attachments;
	/* optional extra headers (name, value) pairs, validated like the rest;
	 * In-Reply-To and References must be <id@domain> items separated by
	 * spaces and are folded between items, never encoded
	 */
	const char *const *extra_headers;
	size_t n_extra_headers;
};

/* Build the message into out (appends).  If message_id is NULL a unique one
 * is generated; it is written to msgid_out (>= 256 bytes) when not NULL.
 * Fails with SB_ERR_INVALID_INPUT naming the field for CR/LF in a header
 * value, invalid UTF-8, or an invalid address. */
enum sb_status sb_mime_build(const struct sb_mime_message *m,
			     struct sb_buf *out, char *msgid_out,
			     struct sb_error *err);

/* Encode one unstructured header value (e.g. a Subject) per RFC 2047 if it
 * needs it, folded for a header whose name is name_len bytes long.
 * Appends to out. */
bool sb_mime_encode_header(struct sb_buf *out, const char *value,
			   size_t name_len);

/* --- reading ----------------------------------------------------------
 * A parsed message: header values decoded to UTF-8 (RFC 2047), the first
 * text/plain and text/html parts decoded to UTF-8, attachments decoded. */
struct sb_mime_parsed {
	char *from, *subject, *message_id, *date, *importance;
	char **to;
	size_t n_to;
	char **cc;
	size_t n_cc;
	char **reply_to;
	size_t n_reply_to;
	char *body, *html_body;
	struct sb_file *attachments;
	size_t n_attachments; /* owned */
	char *content_type;   /* the message's own "type/subtype", lower case */
	char **bcc; /* a Bcc field's addresses (a sender's own copy) */
	size_t n_bcc;
};

/* Parse raw (len bytes) into out.  Tolerant of LF-only line endings and of
 * messages written by other tools (GMime reads any charset iconv knows;
 * undeclared 8-bit header text is UTF-8 if it is valid, else Windows-1252;
 * what cannot be decoded becomes U+FFFD).  Caps, checked on the bytes
 * before GMime reads them: at most 64 MiB and 1000 header fields (else
 * SB_ERR_INVALID_INPUT naming the cap); beyond 400 lines that may be
 * multipart delimiters or 100 multipart/message Content-Type fields the
 * rest is ignored; at most 200 parts are collected, 10 multiparts deep.
 * An attached message (message/rfc822) is one attachment (.eml).
 * Returns SB_OK or SB_ERR_INVALID_INPUT with a reason. */
enum sb_status sb_mime_parse(const char *raw, size_t len,
			     struct sb_mime_parsed *out, struct sb_error *err);

/* sb_mime_parse_flags flags: decode no content.  body and html_body stay
 * NULL, attachments have their name and content type but no data (NULL,
 * size 0): for listings that need the header fields and whether there are
 * attachments, at a fraction of the cost. */
#define SB_MIME_PARSE_NO_CONTENT 0x1u

/* sb_mime_parse with flags (0: the same). */
enum sb_status sb_mime_parse_flags(const char *raw, size_t len, unsigned flags,
				   struct sb_mime_parsed *out,
				   struct sb_error *err);
void sb_mime_parsed_free(struct sb_mime_parsed *p);

/* Return just one header's raw (unfolded, undecoded) value, malloc'd, or
 * NULL if absent.  Case-insensitive name.  Only the header block is read.
 */
char *sb_mime_header(const char *raw, size_t len, const char *name);

/* True if id is one "<left@right>" message id that sb_mime_build writes
 * in Message-ID, In-Reply-To and References (GMime reads it whole, and
 * reads on after it). */
bool sb_mime_msgid_valid(const char *id);

/* Read an address list (a To, Cc or Bcc field's value, RFC 5322, groups
 * flattened) into the bare addresses, UTF-8, malloc'd (*out, *n; free with
 * sb_mime_address_list_free).  At most 1000.  A list without any address
 * gives *n 0 and SB_OK. */
enum sb_status sb_mime_addresses(const char *value, char ***out, size_t *n,
				 struct sb_error *err);
void sb_mime_address_list_free(char **list, size_t n);

#ifdef __cplusplus
}
#endif
#endif
