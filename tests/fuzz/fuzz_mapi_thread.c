/* Fuzz target: what mapi-stub's Reply, ReplyAll and Forward take from the
 * original's header fields (brokers/mapi-stub/mapi_thread.c): the
 * In-Reply-To and References of the answer, and its prefixed Subject.
 *
 * Input: "message-id\nreferences\nin-reply-to\nsubject" (missing parts
 * are NULL), as read from a stored file another tool may have written.
 * Invariants: In-Reply-To and References are both empty or both set;
 * In-Reply-To is one <id@domain> and References ends with it, holds at
 * most 30 ids, each of them valid and none twice; the MIME builder
 * accepts them and writes them as they are (read back: the same ids).  The
 * Subject starts with its prefix (any case), has no control character,
 * is not changed by a second pass, and the builder accepts it. */
#include "config.h"

#include <ctype.h>
#include <strings.h>

#include <svcbroker/mime.h>
#include <svcbroker/sdk.h>

#include "../../brokers/mapi-stub/mapi.h"
#include "fuzz.h"

static bool id_ok(const char *s, size_t n)
{
	if (n < 5 || s[0] != '<' || s[n - 1] != '>')
		return false;
	size_t ats = 0;
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
			return false;
		ats += c == '@';
	}
	return ats == 1;
}

/* True if a and b hold the same items separated by white space. */
static bool same_ids(const char *a, const char *b)
{
	for (;;) {
		a += strspn(a, " \t\r\n");
		b += strspn(b, " \t\r\n");
		size_t ka = strcspn(a, " \t\r\n"), kb = strcspn(b, " \t\r\n");
		if (ka != kb || memcmp(a, b, ka) != 0)
			return false;
		if (ka == 0)
			return true;
		a += ka;
		b += kb;
	}
}

static void check_threading(const char *mid, const char *refs_in,
			    const char *irt_in)
{
	char *irt = NULL, *refs = NULL;
	FUZZ_CHECK(mapi_reply_threading(mid, refs_in, irt_in, &irt, &refs),
		   "out of memory");
	FUZZ_CHECK((*irt == '\0') == (*refs == '\0'), "irt %s refs %s", irt,
		   refs);
	if (*irt) {
		size_t n = strlen(irt), rn = strlen(refs);
		FUZZ_CHECK(id_ok(irt, n), "In-Reply-To %s", irt);
		FUZZ_CHECK(rn >= n && strcmp(refs + rn - n, irt) == 0 &&
			       (rn == n || refs[rn - n - 1] == ' '),
			   "References %s does not end with %s", refs, irt);
		size_t count = 0;
		for (const char *p = refs; *p;) {
			size_t k = strcspn(p, " ");
			FUZZ_CHECK(id_ok(p, k), "References item in %s", refs);
			for (const char *q = p + k; *q;) {
				q += strspn(q, " ");
				size_t k2 = strcspn(q, " ");
				FUZZ_CHECK(k2 != k || memcmp(p, q, k) != 0,
					   "id twice in %s", refs);
				q += k2;
			}
			count++;
			p += k;
			p += strspn(p, " ");
		}
		FUZZ_CHECK(count >= 1 && count <= 30, "%zu ids", count);
		const char *to[] = {"b@example.test"};
		const char *extra[] = {"In-Reply-To", irt, "References", refs};
		struct sb_mime_message m = {.from = "a@example.test",
					    .to = to,
					    .n_to = 1,
					    .extra_headers = extra,
					    .n_extra_headers = 2};
		struct sb_buf b;
		sb_buf_init(&b, 0);
		struct sb_error err;
		sb_error_clear(&err);
		FUZZ_CHECK(sb_mime_build(&m, &b, NULL, &err) == SB_OK,
			   "builder refuses %s / %s: %s", irt, refs,
			   err.message);
		/* Written as given: read back, the same ids in order. */
		char *got_irt = sb_mime_header(b.data, b.len, "In-Reply-To");
		char *got_refs = sb_mime_header(b.data, b.len, "References");
		FUZZ_CHECK(got_irt && same_ids(got_irt, irt),
			   "In-Reply-To %s "
			   "written as %s",
			   irt, got_irt);
		FUZZ_CHECK(got_refs && same_ids(got_refs, refs),
			   "References %s written as %s", refs, got_refs);
		free(got_irt);
		free(got_refs);
		sb_buf_free(&b);
	}
	free(irt);
	free(refs);
}

static void check_subject(const char *subject, bool forward)
{
	char *s = mapi_reply_subject(subject, forward);
	FUZZ_CHECK(s, "out of memory");
	FUZZ_CHECK(
	    forward ? (!strncasecmp(s, "fw:", 3) || !strncasecmp(s, "fwd:", 4))
		    : !strncasecmp(s, "re:", 3),
	    "Subject %s has no prefix", s);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7f, "control in %s", s);
	char *again = mapi_reply_subject(s, forward);
	FUZZ_CHECK(again && strcmp(again, s) == 0, "%s then %s", s, again);
	const char *to[] = {"b@example.test"};
	struct sb_mime_message m = {
	    .from = "a@example.test", .to = to, .n_to = 1, .subject = s};
	struct sb_buf b;
	sb_buf_init(&b, 0);
	struct sb_error err;
	sb_error_clear(&err);
	FUZZ_CHECK(sb_mime_build(&m, &b, NULL, &err) == SB_OK,
		   "builder refuses Subject %s: %s", s, err.message);
	sb_buf_free(&b);
	free(again);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_cstr(data, size);
	char *part[4] = {NULL, NULL, NULL, NULL};
	char *p = in;
	for (int i = 0; i < 4 && p; i++) {
		part[i] = p;
		char *nl = i < 3 ? strchr(p, '\n') : NULL;
		if (nl)
			*nl = '\0';
		p = nl ? nl + 1 : NULL;
	}
	check_threading(part[0], part[1], part[2]);
	check_subject(part[3], false);
	check_subject(part[3], true);
	free(in);
	return 0;
}
