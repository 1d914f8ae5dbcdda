/* mapi-stub: cursor paging for list methods.
 *
 * Rows are sorted by (key, id).  A page token names the list it belongs to
 * (scope) and the last row returned, so the next page starts after that
 * row even when items were added or removed meanwhile: no row is returned
 * twice.  The token is the SDK's (<svcbroker/pagetoken.h>): bound to the
 * scope, its position the row's key and id, any change refused with
 * ErrorInvalidPageToken. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <svcbroker/call.h>
#include <svcbroker/pagetoken.h>
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

/* The position of a token: the row's key (8 bytes, big-endian) and id. */
char *mapi_page_token(const char *scope, const struct mapi_sortkey *k)
{
	size_t idlen = strlen(k->id);
	if (idlen > SB_PAGE_TOKEN_POS_MAX - 8)
		return NULL;
	unsigned char pos[SB_PAGE_TOKEN_POS_MAX];
	uint64_t key = (uint64_t)k->key;
	for (int i = 0; i < 8; i++)
		pos[i] = (unsigned char)(key >> (56 - 8 * i));
	memcpy(pos + 8, k->id, idlen);
	return sb_page_token_new(&scope, 1, pos, 8 + idlen);
}

enum sb_status mapi_page_start(const struct mapi_sortkey *k, size_t n,
			       const char *scope, const char *token,
			       size_t *start, struct sb_error *err)
{
	*start = 0;
	if (!token || !*token)
		return SB_OK;
	struct sb_buf pos;
	sb_buf_init(&pos, SB_PAGE_TOKEN_POS_MAX + 1);
	enum sb_status st = sb_page_token_read(token, &scope, 1, &pos, err);
	if (st != SB_OK) {
		sb_buf_free(&pos);
		return st;
	}
	/* Only this process made it (the tag says so): a position that does
	 * not parse is a bug, but is still answered as a bad token. */
	if (pos.len < 8 || memchr(pos.data + 8, '\0', pos.len - 8)) {
		sb_buf_free(&pos);
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    SB_PAGE_TOKEN_CODE,
				    "PageToken holds no row position");
	}
	uint64_t key = 0;
	for (int i = 0; i < 8; i++)
		key = (key << 8) | (unsigned char)pos.data[i];
	struct mapi_sortkey last = {.key = (int64_t)key, .id = pos.data + 8};
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
	sb_buf_free(&pos);
	return SB_OK;
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

enum sb_status mapi_page_sorted(struct mapi_sortkey *k, size_t n,
				const struct sb_call *call, struct sb_result *r,
				const char *scope,
				enum sb_status (*row)(void *ctx, size_t index,
						      struct sb_result *r,
						      struct sb_error *err),
				void *ctx, struct sb_error *err)
{
	mapi_sort(k, n);
	size_t start;
	enum sb_status st =
	    mapi_page_start(k, n, scope, sb_call_page_token(call), &start, err);
	if (st == SB_OK)
		st = mapi_page_emit(k, n, start, call, r, scope, row, ctx, err);
	return st;
}

enum sb_status mapi_window_read(const struct sb_call *call, int64_t *ws,
				int64_t *we, struct sb_error *err)
{
	*ws = INT64_MIN;
	*we = INT64_MAX;
	const char *v;
	if ((v = sb_call_str(call, "WindowStart", NULL)) &&
	    !sb_datetime_parse(v, ws))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowStart: not a date-time");
	if ((v = sb_call_str(call, "WindowEnd", NULL)) &&
	    !sb_datetime_parse(v, we))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "WindowEnd: not a date-time");
	return SB_OK;
}
