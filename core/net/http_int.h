/* libsvcbroker-net: what the HTTP client's files share (not installed). */
#ifndef SB_NET_HTTP_INT_H
#define SB_NET_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <svcbroker/http.h>
#include <svcbroker/sdk.h>

#define SB_HTTP_HEADERS_MAX 200	 /* headers kept of one response */
#define SB_HTTP_HEADER_MAX 16384 /* bytes of one header's value */

/* ---- header lines (http_parse.c) ---------------------------------------- */

enum sbn_line {
	SBN_LINE_HEADER = 0,
	SBN_LINE_STATUS, /* a status line: headers so far dropped */
	SBN_LINE_END,	 /* the blank line */
	SBN_LINE_BAD,
	SBN_LINE_NOMEM,
};
bool sbn_http_status_line(const char *line, size_t len, int *code,
			  const char **reason, size_t *reason_len);
/* Add one received line (with or without its CRLF) to resp. */
enum sbn_line sbn_http_header_line(struct sb_http_response *resp,
				   const char *line, size_t len);

/* ---- transcript (http_transcript.c) -------------------------------------- */

#define SBN_SECRETS_MAX 12
/* Strings never to be logged or quoted in a message, borrowed. */
struct sbn_secrets {
	const char *s[SBN_SECRETS_MAX];
	size_t n;
};
void sbn_secrets_add(struct sbn_secrets *sec, const char *s);
/* text[0..len) with every secret replaced by "***", appended to b. */
void sbn_redact_append(struct sb_buf *b, const struct sbn_secrets *sec,
		       const char *text, size_t len);
/* Is this header line one whose value the transcript hides?  Then the
 * offset of what is hidden (after the scheme of an Authorization), else
 * 0. */
size_t sbn_redact_at(const char *line, size_t len);
/* Log a block of header lines (as sent or received) at SB_LOG_DEBUG, one
 * log line each, redacted: "http > ..." (dir '>') or "http < ...". */
void sbn_log_head(const struct sb_host *host, const struct sbn_secrets *sec,
		  char dir, const char *data, size_t len);
/* Log a body (at most SB_HTTP_TRANSCRIPT_BODY_MAX bytes of a text type). */
void sbn_log_body(const struct sb_host *host, const struct sbn_secrets *sec,
		  char dir, const char *content_type, const void *body,
		  size_t len, bool secret);
/* Is content_type one whose body is text (text/..., XML, JSON, forms)? */
bool sbn_text_type(const char *content_type);

#endif
