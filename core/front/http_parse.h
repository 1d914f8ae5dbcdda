/* svcbroker core — a strict HTTP/1.1 request parser (RFC 9112), without
 * I/O: the request head, its framing (how the body ends), chunked bodies
 * and the path rules.  Used by http.c; fuzzed by tests/fuzz. */
#ifndef SVCBROKER_HTTP_PARSE_H
#define SVCBROKER_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBH_MAX_LINE 8192	/* request line: 414 past it */
#define SBH_MAX_HEAD 16384	/* the whole head: 431 past it */
#define SBH_MAX_FIELDS 64	/* header fields: 431 past it */
#define SBH_MAX_CHUNK_LINE 1024 /* a chunk-size line or a trailer field */

struct sbh_field {
	const char *name, *value; /* NUL-terminated, inside the buffer */
};

struct sbh_head {
	const char *method, *target; /* NUL-terminated, inside the buffer */
	int minor;		     /* HTTP/1.minor */
	int nfields;
	struct sbh_field fields[SBH_MAX_FIELDS];
};

/* A refusal: the HTTP status and why (a static English sentence). */
struct sbh_refusal {
	int status;
	const char *code, *why;
};

/* Parse the head at buf[0..len) in place (NULs are written into it).
 * Returns its length (blank line included) once complete, 0 if more
 * bytes are needed, -1 with *ref filled if it is refused (400, 414, 431,
 * 505).  Empty lines before the request line are skipped. */
long sbh_parse_head(char *buf, size_t len, struct sbh_head *h,
		    struct sbh_refusal *ref);

/* What the head says about the body and the connection. */
struct sbh_framing {
	int64_t content_length; /* -1: none */
	bool chunked;
	bool keep_alive;	  /* the connection may serve another request */
	bool expect_100;	  /* Expect: 100-continue */
	const char *content_type; /* NULL if absent */
};

/* Check the fields that frame the request (Host, Content-Length,
 * Transfer-Encoding, Connection, Expect).  False with *ref if the request
 * must be refused (its connection is then closed). */
bool sbh_framing(const struct sbh_head *h, struct sbh_framing *f,
		 struct sbh_refusal *ref);

/* The chunked body decoder. */
struct sbh_chunked {
	int state;
	uint64_t left;	/* bytes left in this chunk */
	uint64_t total; /* data bytes so far */
	size_t line;	/* bytes of the current size or trailer line */
	bool digits;	/* the size line has a hex digit */
	bool ext;	/* in a chunk extension */
};

enum sbh_chunk_result {
	SBH_CHUNK_MORE = 0, /* every byte was used: feed more */
	SBH_CHUNK_DATA,	    /* *data, *dlen: body bytes */
	SBH_CHUNK_END,	    /* the body (and its trailer) is over */
	SBH_CHUNK_BAD,	    /* malformed: 400 */
	SBH_CHUNK_TOO_LARGE /* the body would pass max: 413 */
};

/* Decode in[0..n): *used is how many bytes were consumed.  max is the
 * largest body accepted. */
enum sbh_chunk_result sbh_chunked_feed(struct sbh_chunked *c, const char *in,
				       size_t n, size_t *used,
				       const char **data, size_t *dlen,
				       uint64_t max);

/* The path of a request target, decoded in place: the query is cut off,
 * %HH escapes are decoded except %00 and %2F (kept as sent, so such a
 * name is simply unknown, neither cut short nor split).  An absolute-form
 * target (http://host/path) is reduced to its path.  False if the target
 * is not a path. */
bool sbh_path_decode(char *target);

#endif
