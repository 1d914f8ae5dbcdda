/* Fuzz target: mapi-stub's page tokens (brokers/mapi-stub/mapi_page.c),
 * the one PageToken parser the tree keeps by hand (testmod's tokens are
 * plain numbers in a test module).
 *
 * Input: "scope\ntoken".  The token is checked against a fixed sorted list.
 * Invariants: a token is accepted only if it decodes to "v1|scope|key|id"
 * for this scope; the start it gives is the first row after (key, id); a
 * token made by mapi_page_token for that row gives the same start, and is
 * refused in any other scope; a token made for row i starts at row i + 1. */
#include "config.h"

#include <inttypes.h>

#include <svcbroker/sdk.h>

#include "../../brokers/mapi-stub/mapi.h"
#include "fuzz.h"

static struct mapi_sortkey rows[] = {
    {.key = INT64_MIN, .id = "a"}, {.key = -5, .id = "b"},
    {.key = 0, .id = ""},	   {.key = 0, .id = "0"},
    {.key = 0, .id = "x|y"},	   {.key = 7, .id = "m"},
    {.key = 7, .id = "n"},	   {.key = 1700000000, .id = "c"},
    {.key = INT64_MAX, .id = "z"},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static int cmp(const struct mapi_sortkey *a, const struct mapi_sortkey *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return strcmp(a->id, b->id);
}

static size_t start_of(const char *scope, const char *token, bool *ok)
{
	struct sb_error err = {0};
	size_t start = SIZE_MAX;
	enum sb_status st =
	    mapi_page_start(rows, NROWS, scope, token, &start, &err);
	*ok = st == SB_OK;
	FUZZ_CHECK(*ok || (st == SB_ERR_INVALID_INPUT && err.message[0]),
		   "refusal without a message (status %d)", (int)st);
	FUZZ_CHECK(start <= NROWS, "start %zu past the %zu rows", start,
		   (size_t)NROWS);
	return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *in = fuzz_cstr(data, size);
	char *nl = strchr(in, '\n');
	const char *scope = "", *token = in;
	if (nl) {
		*nl = '\0';
		scope = in;
		token = nl + 1;
	}
	bool ok;
	size_t start = start_of(scope, token, &ok);
	if (ok && *token) {
		/* Accepted: it is v1|scope|key|id in base64. */
		size_t plen = 0;
		unsigned char *plain =
		    sb_base64_decode(token, strlen(token), &plen);
		FUZZ_CHECK(plain, "accepted token '%s' is not base64", token);
		size_t sl = strlen(scope);
		char *p = (char *)plain;
		FUZZ_CHECK(plen == strlen(p) && plen > 3 + sl &&
			       strncmp(p, "v1|", 3) == 0 &&
			       strncmp(p + 3, scope, sl) == 0 &&
			       p[3 + sl] == '|',
			   "accepted token '%s' of another scope", token);
		char *key = p + 3 + sl + 1, *bar = strchr(key, '|');
		FUZZ_CHECK(bar, "accepted token without an id: '%s'", p);
		*bar = '\0';
		char *end;
		struct mapi_sortkey last = {.key = strtoll(key, &end, 10),
					    .id = bar + 1};
		FUZZ_CHECK(start == NROWS || cmp(&rows[start], &last) > 0,
			   "row %zu is not after the token's row", start);
		FUZZ_CHECK(start == 0 || cmp(&rows[start - 1], &last) <= 0,
			   "row %zu before the start is after the token's row",
			   start - 1);
		/* Made again from the row it names: same start; another
		 * scope refuses it. */
		char *again = mapi_page_token(scope, &last);
		FUZZ_CHECK(again, "no token for an accepted row");
		bool ok2;
		FUZZ_CHECK(start_of(scope, again, &ok2) == start && ok2,
			   "token '%s' and its remake '%s' differ", token,
			   again);
		char other[80];
		snprintf(other, sizeof(other), "%.60s~", scope);
		start_of(other, again, &ok2);
		FUZZ_CHECK(!ok2 || sl > 60 || strlen(again) > 1024,
			   "token of scope '%s' accepted in scope '%s'", scope,
			   other);
		free(again);
		free(plain);
	}
	/* A token this list made for each row starts right after it (ids
	 * containing '|' included). */
	size_t i = size % NROWS;
	char *tok = mapi_page_token(scope, &rows[i]);
	FUZZ_CHECK(tok, "no token");
	if (strlen(tok) <= 1024) {
		size_t s2 = start_of(scope, tok, &ok);
		FUZZ_CHECK(ok && s2 == i + 1,
			   "token for row %zu in scope '%s' starts at %zu (%s)",
			   i, scope, s2, ok ? "accepted" : "refused");
	}
	free(tok);
	free(in);
	return 0;
}
