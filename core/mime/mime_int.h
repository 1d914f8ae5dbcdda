/* svcbroker — libsvcbroker-mime internals shared by its files and by the
 * fuzz targets (not installed). */
#ifndef SB_MIME_INT_H
#define SB_MIME_INT_H

#include <stdbool.h>
#include <stddef.h>

/* The limits, enforced on the raw bytes before GMime sees them. */
#define MIME_MAX_BYTES (64u * 1024 * 1024) /* a whole message */
#define MIME_MAX_HEADERS 1000		   /* fields of one header block */
#define MIME_MAX_DELIMS 400		   /* lines that may be delimiters */
#define MIME_MAX_CONTAINERS 100		   /* multipart and message parts */
#define MIME_MAX_PARTS 200		   /* leaf parts the reader collects */
#define MIME_MAX_DEPTH 10		   /* nesting the reader descends */
#define MIME_MAX_ADDRESSES 1000		   /* addresses of one field */
#define MIME_FILE_NAME_MAX 255		   /* bytes of an attachment's name */

/* What mime_guard found in raw[0, len). */
struct mime_guard {
	size_t header_len; /* bytes of the top header block, blank line incl. */
	size_t headers;	   /* its fields */
	size_t hdr_cut;	 /* 0, or where its MIME_MAX_HEADERS+1th field starts */
	size_t blank_at; /* where the blank line after it starts (or len) */
	size_t keep;	 /* bytes GMime may read: len, or a line start */
	bool cut;	 /* keep < len: a cap was reached */
};

/* Scan raw (LF or CRLF lines) in one pass, bounded by len: measure the top
 * header block and find where GMime must stop reading, which is the start
 * of the first line beyond MIME_MAX_DELIMS lines that begin "--" and a
 * boundary character, or beyond MIME_MAX_CONTAINERS header lines of a
 * multipart or message Content-Type.  Whatever lies beyond is ignored, as
 * it was by the reader before GMime: the parser's depth and work stay
 * bounded whatever the input.  Fields of the top header block beyond
 * MIME_MAX_HEADERS are marked (hdr_cut .. blank_at) for the reader to
 * leave out.  Returns false (with *why set to a static reason) when the
 * message must be refused: larger than MIME_MAX_BYTES. */
bool mime_guard(const char *raw, size_t len, struct mime_guard *g,
		const char **why);

/* The same, stopping at the end of the top header block (keep is then
 * header_len): for a single header field. */
bool mime_guard_headers(const char *raw, size_t len, struct mime_guard *g,
			const char **why);

/* g_mime_init once per process (pthread_once). */
void mime_init_once(void);

/* Options made once by mime_init_once and only read after (GMime takes
 * them const): the reader's, a broker value's (strict addresses), and the
 * wire format (CRLF).  Opaque here to keep GMime out of the fuzz
 * targets' headers. */
struct _GMimeParserOptions;
struct _GMimeFormatOptions;
extern struct _GMimeParserOptions *mime_reader_options;
extern struct _GMimeParserOptions *mime_strict_options;
extern struct _GMimeFormatOptions *mime_wire_format;

/* n random bytes as hex into out (2n + 1 bytes); false without them. */
bool mime_random_hex(char *out, size_t n);

#endif
