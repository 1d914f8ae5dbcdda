/* exchange-ews broker — RoomList.List (GetRoomLists) and Room.List
 * (GetRooms), and the paging over a recomputed answer that they share
 * with Availability and MeetingTimeSuggestion (ews_avail.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/pagetoken.h>
#include <svcbroker/schema.h>

#include "ews.h"

/* ---- paging over a recomputed answer ------------------------------------ */

uint64_t ews_row_key(uint64_t h, const char *s)
{
	if (!h)
		h = 1469598103934665603ull;
	for (const char *p = s ? s : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ '\n') * 1099511628211ull;
	return h ? h : 1;
}

enum sb_status ews_page_read(const struct sb_call *call,
			     const char *const *bind, size_t nbind,
			     struct ews_page *pg, struct sb_error *err)
{
	pg->offset = 0;
	pg->last = 0;
	const char *tok = sb_call_page_token(call);
	if (!tok)
		return SB_OK;
	struct sb_buf pos;
	sb_buf_init(&pos, SB_PAGE_TOKEN_POS_MAX);
	enum sb_status st = sb_page_token_read(tok, bind, nbind, &pos, err);
	char num[32] = "";
	const char *colon = pos.data ? memchr(pos.data, ':', pos.len) : NULL;
	if (colon && (size_t)(colon - pos.data) < sizeof(num)) {
		memcpy(num, pos.data, (size_t)(colon - pos.data));
		char *end = NULL;
		pg->last = strtoull(colon + 1, &end, 16);
		if (!end || *end)
			num[0] = '\0';
	}
	if (st == SB_OK &&
	    (!num[0] || !sb_parse_int64(num, &pg->offset) || pg->offset < 0))
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, SB_PAGE_TOKEN_CODE,
				  "PageToken: no position");
	sb_buf_free(&pos);
	return st;
}

size_t ews_page_first(const struct ews_page *pg, const uint64_t *keys, size_t n)
{
	/* where the last row shown was: offset - 1 */
	size_t at =
	    pg->offset > 0
		? (uint64_t)(pg->offset - 1) < n ? (size_t)(pg->offset - 1) : n
		: 0;
	if (pg->last && pg->offset > 0) {
		/* the row of that key nearest to its old place (rows before
		 * it may have come or gone; equal rows, such as two equal
		 * busy periods, are told apart by their place) */
		for (size_t d = 0; d <= n; d++) {
			if (at + d < n && keys[at + d] == pg->last)
				return at + d + 1;
			if (d && d <= at && keys[at - d] == pg->last)
				return at - d + 1;
			if (at + d >= n && d > at)
				break;
		}
		/* the last row shown is gone: the next one moved up into its
		 * place */
		return at;
	}
	return (uint64_t)pg->offset > n ? n : (size_t)pg->offset;
}

enum sb_status ews_page_next(struct sb_result *r, const char *const *bind,
			     size_t nbind, size_t next, uint64_t last_key,
			     struct sb_error *err)
{
	char pos[64];
	snprintf(pos, sizeof(pos), "%lld:%llx", (long long)next,
		 (unsigned long long)last_key);
	char *tok = sb_page_token_new(bind, nbind, pos, strlen(pos));
	enum sb_status st;
	if (!tok)
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
				  "cannot make a page token");
	else
		st = sb_result_next_page(r, tok);
	free(tok);
	return st;
}

/* ---- RoomList and Room --------------------------------------------------- */

#define ROOMS_MAX 100000

struct room_row {
	char name[256];
	char email[320];
	uint64_t key;
};

/* The rows of a GetRoomLists (t:Address items) or GetRooms (t:Room/t:Id)
 * answer: every entry with an SMTP address, in the server's order. */
static enum sb_status rooms_rows(const struct sb_call *call,
				 struct sb_result *r, xmlNode *list,
				 const char *item, const char *const *bind,
				 size_t nbind, const struct ews_page *pg,
				 struct sb_error *err)
{
	size_t n = 0, cap = 0;
	struct room_row *rows = NULL;
	enum sb_status st = SB_OK;
	for (xmlNode *x = sb_xml_child(list, SB_NS_EWS_TYPES, item); x;
	     x = sb_xml_next(x)) {
		xmlNode *a = strcmp(item, "Room") == 0
				 ? sb_xml_child(x, SB_NS_EWS_TYPES, "Id")
				 : x;
		struct room_row row;
		memset(&row, 0, sizeof(row));
		if (!ews_mailbox_smtp(a, row.email, sizeof(row.email)))
			continue; /* no SMTP address: nothing to call it by */
		ews_child_text(a, "Name", row.name, sizeof(row.name));
		row.key = ews_row_key(ews_row_key(0, row.email), row.name);
		if (n == cap) {
			if (cap >= ROOMS_MAX) {
				st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
						  "EWS answered more than %d "
						  "entries",
						  ROOMS_MAX);
				break;
			}
			size_t nc = cap ? cap * 2 : 16;
			struct room_row *p = realloc(rows, nc * sizeof(*p));
			if (!p) {
				st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
						  "out of memory");
				break;
			}
			rows = p;
			cap = nc;
		}
		rows[n++] = row;
	}
	uint64_t *keys = st == SB_OK && n ? malloc(n * sizeof(*keys)) : NULL;
	if (st == SB_OK && n && !keys)
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
	for (size_t i = 0; st == SB_OK && i < n; i++)
		keys[i] = rows[i].key;
	size_t i = st == SB_OK ? ews_page_first(pg, keys, n) : 0;
	int64_t size = sb_call_page_size(call), shown = 0;
	for (; st == SB_OK && i < n && shown < size; i++, shown++) {
		st = sb_result_row(r);
		if (st == SB_OK && rows[i].name[0])
			st = sb_result_clean_text(r, "Name", rows[i].name);
		if (st == SB_OK)
			st = sb_result_str(r, "Email", rows[i].email);
	}
	if (st == SB_OK && i < n && shown)
		st = ews_page_next(r, bind, nbind, i, rows[i - 1].key, err);
	free(keys);
	free(rows);
	return st;
}

/* Run the op and check the answer's own ResponseClass (GetRoomLists and
 * GetRooms answer with one response message: the response element). */
static enum sb_status rooms_run(struct ews_op *op, struct sb_error *err)
{
	enum sb_status st = ews_op_run(op, err);
	if (st == SB_OK)
		st = ews_message_status(op->response, err);
	return st;
}

static enum sb_status roomlist_list(void *state, const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op op;
	struct ews_page pg;
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	const char *bind[] = {"RoomList.List", op.mailbox};
	if (st == SB_OK)
		st = ews_page_read(call, bind, 2, &pg, err);
	if (st == SB_OK) {
		sb_xml_w_open(&op.w, "m:GetRoomLists");
		sb_xml_w_close(&op.w);
		st = rooms_run(&op, err);
	}
	if (st == SB_OK)
		st = rooms_rows(
		    call, r,
		    sb_xml_child(op.response, SB_NS_EWS_MESSAGES, "RoomLists"),
		    "Address", bind, 2, &pg, err);
	ews_op_free(&op);
	return st;
}

static enum sb_status room_list(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	const char *list = sb_call_str(call, "RoomList", NULL);
	if (!list || !sb_email_valid(list))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "RoomList: the room list's address is "
				    "required");
	struct ews_op op;
	struct ews_page pg;
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	const char *bind[] = {"Room.List", op.mailbox, list};
	if (st == SB_OK)
		st = ews_page_read(call, bind, 3, &pg, err);
	if (st == SB_OK) {
		sb_xml_w_open(&op.w, "m:GetRooms");
		sb_xml_w_open(&op.w, "m:RoomList");
		sb_xml_w_leaf(&op.w, "t:EmailAddress", list);
		sb_xml_w_close(&op.w);
		sb_xml_w_close(&op.w);
		st = rooms_run(&op, err);
		/* Exchange's answer for an address that is no room list */
		if (st == SB_ERR_NOT_FOUND && err &&
		    strcmp(err->code, "ErrorNameResolutionNoResults") == 0)
			sb_error_set(err, SB_ERR_NOT_FOUND,
				     "ErrorNameResolutionNoResults",
				     "RoomList: no room list has the address "
				     "%s",
				     list);
	}
	if (st == SB_OK)
		st = rooms_rows(
		    call, r,
		    sb_xml_child(op.response, SB_NS_EWS_MESSAGES, "Rooms"),
		    "Room", bind, 3, &pg, err);
	ews_op_free(&op);
	return st;
}

const struct sb_property ews_roomlist_properties[] = {
    {.name = "Name", .type = SB_TYPE_TEXT, .doc = "The list's display name."},
    {.name = "Email",
     .type = SB_TYPE_EMAIL,
     .doc = "The list's address: the RoomList input of Room.List."},
    SB_PROPERTY_END,
};

const struct sb_property ews_room_properties[] = {
    {.name = "Name", .type = SB_TYPE_TEXT, .doc = "The room's display name."},
    {.name = "Email",
     .type = SB_TYPE_EMAIL,
     .doc = "The room mailbox's address: invite it, or ask its "
	    "Availability."},
    SB_PROPERTY_END,
};

static const struct sb_param roomlist_in[] = {
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const struct sb_param room_in[] = {
    {.name = "RoomList",
     .type = SB_TYPE_EMAIL,
     .flags = SB_REQUIRED,
     .doc = "The room list's address (a RoomList row's Email)."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const char *const room_ret[] = {"Name", "Email", NULL};

const struct sb_method ews_roomlist_methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = roomlist_list,
     .doc = "The organization's room lists (GetRoomLists), in the "
	    "server's order.",
     .inputs = roomlist_in,
     .returns = room_ret},
    SB_METHOD_END,
};

const struct sb_method ews_room_methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = room_list,
     .doc = "The rooms of one room list (GetRooms), in the server's "
	    "order.",
     .inputs = room_in,
     .returns = room_ret},
    SB_METHOD_END,
};
