/* mapi-stub: cursor paging for list methods.
 *
 * Rows are sorted by (key, id).  A page token names the list it belongs to
 * (scope) and the last row returned, so the next page starts after that
 * row even when items were added or removed meanwhile: no row is returned
 * twice.  The token is opaque to clients (base64 of "v1|scope|key|id"). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/call.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

static int cmp_key(const void *a, const void *b)
{
	const struct mapi_sortkey *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return strcmp(x->id, y->id);
}

void mapi_sort(struct mapi_sortkey *k, size_t n)
{
	if (n > 1)
		qsort(k, n, sizeof *k, cmp_key);
}

char *mapi_page_token(const char *scope, const struct mapi_sortkey *k)
{
	char *plain = NULL;
	if (asprintf(&plain, "v1|%s|%" PRId64 "|%s", scope, k->key, k->id) < 0)
		return NULL;
	char *tok = sb_base64_encode(plain, strlen(plain), 0);
	free(plain);
	return tok;
}

static enum sb_status bad_token(struct sb_error *err)
{
	return sb_error_set(err, SB_ERR_INVALID_INPUT, "ErrorInvalidPageToken",
			    "PageToken is not a token this list returned "
			    "(tokens belong to one list: same method, "
			    "mailbox and folder)");
}

enum sb_status mapi_page_start(const struct mapi_sortkey *k, size_t n,
			       const char *scope, const char *token,
			       size_t *start, struct sb_error *err)
{
	*start = 0;
	if (!token || !*token)
		return SB_OK;
	size_t tlen = strlen(token);
	if (tlen > 1024)
		return bad_token(err);
	size_t plen = 0;
	unsigned char *plain = sb_base64_decode(token, tlen, &plen);
	if (!plain)
		return bad_token(err);
	enum sb_status st = SB_OK;
	/* v1|scope|key|id: scope may not contain '|'; id may not either. */
	char *p = (char *)plain;
	size_t slen = strlen(scope);
	if (plen != strlen(p) || strncmp(p, "v1|", 3) != 0 ||
	    strncmp(p + 3, scope, slen) != 0 || p[3 + slen] != '|') {
		st = bad_token(err);
		goto out;
	}
	char *keys = p + 3 + slen + 1;
	char *bar = strchr(keys, '|');
	if (!bar) {
		st = bad_token(err);
		goto out;
	}
	*bar = '\0';
	char *end = NULL;
	errno = 0;
	long long key = strtoll(keys, &end, 10);
	if (errno || end == keys || *end) {
		st = bad_token(err);
		goto out;
	}
	struct mapi_sortkey last = {.key = key, .id = bar + 1};
	/* First row strictly after `last` (binary search). */
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_key(&k[mid], &last) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*start = lo;
out:
	free(plain);
	return st;
}

enum sb_status mapi_page_emit(const struct mapi_sortkey *k, size_t n,
			      size_t start, const struct sb_call *call,
			      struct sb_result *r, const char *scope,
			      enum sb_status (*row)(void *ctx, size_t index,
						    struct sb_result *r,
						    struct sb_error *err),
			      void *ctx, struct sb_error *err)
{
	int64_t size = sb_call_page_size(call);
	if (size < 1)
		size = 100;
	size_t end = start;
	for (size_t i = start; i < n && (int64_t)(i - start) < size; i++) {
		enum sb_status st = row(ctx, k[i].index, r, err);
		if (st == SB_ERR_NOT_FOUND) {
			/* Removed while we listed: skip it. */
			sb_error_clear(err);
			end = i + 1;
			continue;
		}
		if (st != SB_OK)
			return st;
		end = i + 1;
	}
	if (end < n && end > start) {
		char *tok = mapi_page_token(scope, &k[end - 1]);
		if (!tok)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		enum sb_status st = sb_result_next_page(r, tok);
		free(tok);
		if (st != SB_OK)
			return sb_error_set(err, st, NULL,
					    "cannot set the next page token");
	}
	return SB_OK;
}
