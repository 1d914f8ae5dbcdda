/* libFuzzer target for the HTTP/1.1 request parser (core/http_parse.c):
 * the head, its framing, the path rules and the chunked decoder.
 *
 * Besides "no crash, no overrun" (ASan, UBSan) it checks what the server
 * relies on: every refusal carries a status the API documents; a parsed
 * head ends inside the input; the chunked decoder never reports more body
 * than it was given nor more than its limit, and it decodes the same body
 * whether the bytes come at once or in pieces (as they come off a socket).
 *
 *   make fuzz-http FUZZ_TIME=600     (clang's libFuzzer; see docs/testing)
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the files
 * given as arguments: make check runs it over the corpus. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,     \
				#cond);                                        \
			abort();                                               \
		}                                                              \
	} while (0)

#define BODY_MAX 4096

/* Decode in[0..n) fed in pieces of step bytes (0: all at once).  Returns
 * the result; the body in out[*olen]. */
static enum sbh_chunk_result decode(const char *in, size_t n, size_t step,
				    char *out, size_t *olen, size_t *consumed)
{
	struct sbh_chunked c;
	memset(&c, 0, sizeof(c));
	*olen = 0;
	size_t off = 0;
	enum sbh_chunk_result r = SBH_CHUNK_MORE;
	while (off < n) {
		size_t avail = n - off;
		if (step && avail > step)
			avail = step;
		size_t used = 0, dlen = 0;
		const char *data = NULL;
		r = sbh_chunked_feed(&c, in + off, avail, &used, &data, &dlen,
				     BODY_MAX);
		CHECK(used <= avail);
		if (r == SBH_CHUNK_DATA) {
			CHECK(data >= in + off &&
			      data + dlen <= in + off + used);
			CHECK(dlen > 0);
			CHECK(*olen + dlen <= BODY_MAX);
			memcpy(out + *olen, data, dlen);
			*olen += dlen;
		} else if (r != SBH_CHUNK_MORE) {
			off += used;
			break;
		} else {
			CHECK(used == avail);
		}
		off += used;
		r = SBH_CHUNK_MORE;
	}
	*consumed = off;
	CHECK(c.total == *olen);
	return r;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size == 0)
		return 0;
	/* the head */
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	struct sbh_head h;
	struct sbh_refusal ref = {0, NULL, NULL};
	long n = sbh_parse_head(buf, size, &h, &ref);
	if (n < 0) {
		CHECK(ref.status == 400 || ref.status == 413 ||
		      ref.status == 414 || ref.status == 431 ||
		      ref.status == 505);
		CHECK(ref.code && ref.why && *ref.why);
	} else if (n > 0) {
		CHECK((size_t)n <= size);
		CHECK(h.method && h.target && h.nfields <= SBH_MAX_FIELDS);
		CHECK(h.minor >= 0 && h.minor <= 9);
		struct sbh_framing f;
		if (sbh_framing(&h, &f, &ref)) {
			CHECK(!(f.chunked && f.content_length >= 0));
		} else {
			CHECK(ref.status == 400 || ref.status == 413);
		}
		size_t tl = strlen(h.target);
		char *t = malloc(tl + 1);
		if (t) {
			memcpy(t, h.target, tl + 1);
			if (sbh_path_decode(t))
				CHECK(t[0] == '/' && strlen(t) <= tl);
			free(t);
		}
	} else {
		CHECK(size <= SBH_MAX_HEAD);
	}
	free(buf);

	/* the same bytes as a chunked body, whole and in pieces */
	char whole[BODY_MAX], piece[BODY_MAX];
	size_t wl = 0, pl = 0, wc = 0, pc = 0;
	size_t step = 1 + data[0] % 7;
	enum sbh_chunk_result rw =
	    decode((const char *)data, size, 0, whole, &wl, &wc);
	enum sbh_chunk_result rp =
	    decode((const char *)data, size, step, piece, &pl, &pc);
	CHECK(rw == rp);
	CHECK(wl == pl && memcmp(whole, piece, wl) == 0);
	CHECK(wc == pc);
	return 0;
}
