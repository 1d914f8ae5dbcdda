/* Fuzz target: the SDK's page tokens (core/sdk/pagetoken.c), the one
 * PageToken reader every broker uses, and mapi-stub's row positions in
 * them (brokers/mapi-stub/mapi_page.c).
 *
 * Input: "binding\ntoken", the binding's items separated by TAB.
 * Invariants: a refusal is invalid_input with the code
 * ErrorInvalidPageToken and a message, and leaves the position buffer as
 * it was; an accepted token is exactly the token this process makes for
 * that binding and position (a client cannot make one); a token made for
 * any binding and position reads back to that position, and is refused
 * once one of its characters is changed, when it is cut, or with another
 * binding; mapi-stub's token for row i starts at row i + 1 in its scope
 * and is refused in another scope. */
#include "config.h"

#include <inttypes.h>

#include <svcbroker/pagetoken.h>
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
#define MAX_ITEMS 8

static const char b64u[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Read token; on success *pos holds the position (caller frees). */
static bool read_ok(const char *token, const char *const *bind, size_t n,
		    struct sb_buf *pos)
{
	struct sb_error err = {0};
	sb_buf_init(pos, 0);
	sb_buf_puts(pos, "before");
	enum sb_status st = sb_page_token_read(token, bind, n, pos, &err);
	if (st == SB_OK) {
		FUZZ_CHECK(pos->len >= 6 && memcmp(pos->data, "before", 6) == 0,
			   "the position replaced what the buffer held");
		return true;
	}
	FUZZ_CHECK(st == SB_ERR_INVALID_INPUT, "status %d for '%.80s'", (int)st,
		   token ? token : "(null)");
	FUZZ_CHECK(strcmp(err.code, SB_PAGE_TOKEN_CODE) == 0,
		   "code '%s' for a refused token", err.code);
	FUZZ_CHECK(strncmp(err.message, "PageToken ", 10) == 0,
		   "message '%s' does not name PageToken", err.message);
	FUZZ_CHECK(pos->len == 6 && strcmp(pos->data, "before") == 0,
		   "a refusal changed the position buffer");
	return false;
}

static size_t start_of(const char *scope, const char *token, bool *ok)
{
	struct sb_error err = {0};
	size_t start = SIZE_MAX;
	enum sb_status st =
	    mapi_page_start(rows, NROWS, scope, token, &start, &err);
	*ok = st == SB_OK;
	FUZZ_CHECK(*ok || (st == SB_ERR_INVALID_INPUT &&
			   strcmp(err.code, SB_PAGE_TOKEN_CODE) == 0),
		   "mapi refusal with status %d code '%s'", (int)st, err.code);
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
	char *token = in, *binding = NULL;
	if (nl) {
		*nl = '\0';
		binding = in;
		token = nl + 1;
	}
	const char *items[MAX_ITEMS + 1];
	size_t n = 0;
	for (char *p = binding; p && n < MAX_ITEMS;) {
		items[n++] = p;
		char *tab = strchr(p, '\t');
		if (!tab)
			break;
		*tab = '\0';
		p = tab + 1;
	}

	/* The input's token: refused, unless it is exactly what this
	 * process makes for that binding and position. */
	struct sb_buf pos;
	if (read_ok(token, items, n, &pos)) {
		char *again =
		    sb_page_token_new(items, n, pos.data + 6, pos.len - 6);
		FUZZ_CHECK(again && strcmp(again, token) == 0,
			   "accepted '%s', which this process does not make",
			   token);
		free(again);
	}
	sb_buf_free(&pos);

	/* A token made for this binding, its position the token text. */
	size_t plen = strlen(token);
	if (plen > SB_PAGE_TOKEN_POS_MAX)
		plen = SB_PAGE_TOKEN_POS_MAX;
	char *tok = sb_page_token_new(items, n, token, plen);
	FUZZ_CHECK(tok, "no token for a %zu-byte position", plen);
	FUZZ_CHECK(read_ok(tok, items, n, &pos) && pos.len == 6 + plen &&
		       memcmp(pos.data + 6, token, plen) == 0,
		   "token '%s' does not read back", tok);
	sb_buf_free(&pos);
	size_t tl = strlen(tok);
	/* one character changed, chosen by the input */
	char *t = strdup(tok);
	size_t at = size % tl;
	char ch = b64u[(size / tl + (unsigned char)tok[at]) % 64];
	if (ch == tok[at])
		ch = ch == 'A' ? 'B' : 'A';
	t[at] = ch;
	FUZZ_CHECK(!read_ok(t, items, n, &pos), "changed token '%s' accepted",
		   t);
	sb_buf_free(&pos);
	/* cut */
	memcpy(t, tok, tl + 1);
	t[at] = '\0';
	FUZZ_CHECK(!read_ok(t, items, n, &pos), "cut token '%s' accepted", t);
	sb_buf_free(&pos);
	free(t);
	/* another binding: one more item, or the last one changed */
	items[n] = "";
	FUZZ_CHECK(!read_ok(tok, items, n + 1, &pos),
		   "token accepted with one more binding item");
	sb_buf_free(&pos);
	if (n > 0) {
		const char *keep = items[n - 1];
		items[n - 1] = NULL;
		FUZZ_CHECK(!read_ok(tok, items, n, &pos),
			   "token accepted with its last item NULL");
		sb_buf_free(&pos);
		items[n - 1] = keep;
	}
	free(tok);

	/* mapi-stub: the token it makes for row i, in the scope given by
	 * the binding's first item, starts at row i + 1; the input's token
	 * is refused by it (it is not one mapi-stub made). */
	const char *scope = n ? items[0] : "";
	bool ok;
	start_of(scope, token, &ok);
	FUZZ_CHECK(!ok || !*token, "mapi accepted a token it did not make");
	size_t i = size % NROWS;
	char *mt = mapi_page_token(scope, &rows[i]);
	FUZZ_CHECK(mt, "no mapi token");
	size_t s2 = start_of(scope, mt, &ok);
	FUZZ_CHECK(ok && s2 == i + 1,
		   "token for row %zu in scope '%s' starts at %zu (%s)", i,
		   scope, s2, ok ? "accepted" : "refused");
	char other[80];
	snprintf(other, sizeof(other), "%.60s~", scope);
	if (strcmp(other, scope) != 0) {
		start_of(other, mt, &ok);
		FUZZ_CHECK(!ok, "token of scope '%s' accepted in scope '%s'",
			   scope, other);
	}
	free(mt);
	free(in);
	return 0;
}
