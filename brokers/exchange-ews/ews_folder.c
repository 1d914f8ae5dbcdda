/* exchange-ews broker — Folder (List, Load, Create) and folder references
 * (an Id, a well-known id or a display name). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/pagetoken.h>
#include <svcbroker/schema.h>

#include "ews.h"

#define FOLDER_NAME_MAX 255
#define FIND_PAGE 1000	  /* folders per FindFolder request */
#define FIND_PAGES_MAX 10 /* requests per listing */

/* DistinguishedFolderIdNameType values a Folder input may name. */
static const char *const well_known[] = {"inbox",
					 "drafts",
					 "sentitems",
					 "deleteditems",
					 "outbox",
					 "junkemail",
					 "calendar",
					 "tasks",
					 "contacts",
					 "notes",
					 "journal",
					 "msgfolderroot",
					 "root",
					 "searchfolders",
					 "voicemail",
					 "conversationhistory",
					 "archiveinbox",
					 "archivemsgfolderroot",
					 "archivedeleteditems",
					 "archiveroot",
					 "recoverableitemsroot",
					 "recoverableitemsdeletions",
					 NULL};
/* The well-known mail folders Folder.List shows first, in this order. */
static const char *const list_first[] = {
    "inbox",  "drafts",	   "sentitems", "deleteditems",
    "outbox", "junkemail", NULL};

static const char *well_known_name(const char *s)
{
	for (size_t i = 0; well_known[i]; i++)
		if (strcasecmp(well_known[i], s) == 0)
			return well_known[i];
	return NULL;
}

/* An EWS folder id: base64 (standard, or URL-safe as REST gives it) of
 * Exchange's id layout: a compression byte (0 or 1), the id's storage
 * type (a small number), then the moniker's length and the rest: at
 * least 8 bytes.  A name such as "Quarterly-Reports-2024" is made of the
 * same characters, but it does not decode to that layout. */
static bool looks_like_id(const char *s)
{
	size_t n = strlen(s);
	if (n < 20 || n > 1024)
		return false;
	char b64[1032];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!isalnum(c) && c != '+' && c != '/' && c != '=')
			return false;
		b64[k++] = (char)c;
	}
	if (!memchr(b64, '=', k))
		while (k % 4)
			b64[k++] = '=';
	size_t len = 0;
	unsigned char *raw = sb_base64_decode(b64, k, &len);
	if (!raw)
		return false;
	bool id = len >= 8 && raw[0] <= 1 && raw[1] <= 0x0f;
	free(raw);
	return id;
}

static void write_shape(struct sb_xml_w *w)
{
	static const char *const fields[] = {
	    "folder:DisplayName", "folder:ParentFolderId", "folder:TotalCount",
	    "folder:UnreadCount", "folder:FolderClass",	   NULL};
	sb_xml_w_open(w, "m:FolderShape");
	sb_xml_w_leaf(w, "t:BaseShape", "IdOnly");
	sb_xml_w_open(w, "t:AdditionalProperties");
	for (size_t i = 0; fields[i]; i++) {
		sb_xml_w_open(w, "t:FieldURI");
		sb_xml_w_attr(w, "FieldURI", fields[i]);
		sb_xml_w_close(w);
	}
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

static void write_distinguished(struct ews_op *op, const char *id)
{
	sb_xml_w_open(&op->w, "t:DistinguishedFolderId");
	sb_xml_w_attr(&op->w, "Id", id);
	ews_op_folder_mailbox(op);
	sb_xml_w_close(&op->w);
}

/* ---- reading folders ------------------------------------------------------
 */

struct folder {
	char *id;
	char *name;
	char *parent;
	char *cls;
	int64_t total, unread;
	bool has_total, has_unread;
	int rank; /* position in list_first, or 100 */
};

static void folder_clear(struct folder *f)
{
	free(f->id);
	free(f->name);
	free(f->parent);
	free(f->cls);
	memset(f, 0, sizeof(*f));
}

static char *text_dup(const xmlNode *parent, const char *local)
{
	xmlNode *c = sb_xml_child(parent, SB_NS_EWS_TYPES, local);
	if (!c)
		return NULL;
	struct sb_error err;
	char *t = sb_xml_text(c, 64 * 1024, &err);
	return t;
}

static bool folder_read(const xmlNode *x, struct folder *f)
{
	memset(f, 0, sizeof(*f));
	xmlNode *fid = sb_xml_child(x, SB_NS_EWS_TYPES, "FolderId");
	const char *id = sb_xml_attr(fid, NULL, "Id");
	if (!id || !*id)
		return false;
	f->id = strdup(id);
	const char *pid = sb_xml_attr(
	    sb_xml_child(x, SB_NS_EWS_TYPES, "ParentFolderId"), NULL, "Id");
	if (pid && *pid)
		f->parent = strdup(pid);
	f->name = text_dup(x, "DisplayName");
	f->cls = text_dup(x, "FolderClass");
	f->has_total = sb_xml_int64(
	    sb_xml_child(x, SB_NS_EWS_TYPES, "TotalCount"), &f->total);
	f->has_unread = sb_xml_int64(
	    sb_xml_child(x, SB_NS_EWS_TYPES, "UnreadCount"), &f->unread);
	f->rank = 100;
	if (!f->id) {
		folder_clear(f);
		return false;
	}
	return true;
}

static enum sb_status folder_row(struct sb_result *r, const struct folder *f)
{
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_clean_text(r, "Id", f->id);
	if (st == SB_OK)
		st = sb_result_clean_text(r, "Name", f->name ? f->name : "");
	if (st == SB_OK && f->parent)
		st = sb_result_clean_text(r, "Parent", f->parent);
	if (st == SB_OK && f->has_total && f->total >= 0)
		st = sb_result_int(r, "TotalCount", f->total);
	if (st == SB_OK && f->has_unread && f->unread >= 0)
		st = sb_result_int(r, "UnreadCount", f->unread);
	return st;
}

/* The folder elements of a FindFolder or GetFolder answer message. */
static xmlNode *folders_of(const xmlNode *msg, bool find)
{
	if (find)
		return sb_xml_child(
		    sb_xml_child(msg, SB_NS_EWS_MESSAGES, "RootFolder"),
		    SB_NS_EWS_TYPES, "Folders");
	return sb_xml_child(msg, SB_NS_EWS_MESSAGES, "Folders");
}

struct folder_list {
	struct folder *v;
	size_t n, cap;
};

static void list_free(struct folder_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		folder_clear(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static bool list_add(struct folder_list *l, struct folder *f)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct folder *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return false;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *f;
	memset(f, 0, sizeof(*f));
	return true;
}

/* Every folder below msgfolderroot (FindFolder Deep, paged by the
 * server), mail folders only when mail_only. */
static enum sb_status find_all(struct ews *e, const struct sb_call *call,
			       const char *mailbox, bool mail_only,
			       struct folder_list *out, struct sb_error *err)
{
	enum sb_status st = SB_OK;
	int64_t offset = 0;
	for (int page = 0; page < FIND_PAGES_MAX; page++) {
		struct ews_op op;
		char num[32];
		ews_op_init(&op, e, call, 0);
		op.mailbox = mailbox;
		sb_xml_w_open(&op.w, "m:FindFolder");
		sb_xml_w_attr(&op.w, "Traversal", "Deep");
		write_shape(&op.w);
		sb_xml_w_open(&op.w, "m:IndexedPageFolderView");
		snprintf(num, sizeof(num), "%d", FIND_PAGE);
		sb_xml_w_attr(&op.w, "MaxEntriesReturned", num);
		snprintf(num, sizeof(num), "%lld", (long long)offset);
		sb_xml_w_attr(&op.w, "Offset", num);
		sb_xml_w_attr(&op.w, "BasePoint", "Beginning");
		sb_xml_w_close(&op.w);
		sb_xml_w_open(&op.w, "m:ParentFolderIds");
		write_distinguished(&op, "msgfolderroot");
		sb_xml_w_close(&op.w);
		sb_xml_w_close(&op.w);
		st = ews_op_run(&op, err);
		xmlNode *m = st == SB_OK ? ews_op_first(&op) : NULL;
		if (st == SB_OK)
			st = ews_message_status(m, err);
		if (st != SB_OK) {
			ews_op_free(&op);
			return st;
		}
		/* a success without RootFolder is a malformed answer, not a
		 * mailbox without folders */
		if (!sb_xml_child(m, SB_NS_EWS_MESSAGES, "RootFolder")) {
			ews_op_free(&op);
			return sb_error_set(err, SB_ERR_UPSTREAM,
					    "invalid_response",
					    "EWS answered FindFolder without "
					    "RootFolder");
		}
		size_t got = 0;
		for (xmlNode *x = sb_xml_first_element(folders_of(m, true)); x;
		     x = sb_xml_next_element(x)) {
			got++;
			if (mail_only &&
			    !sb_xml_is(x, SB_NS_EWS_TYPES, "Folder"))
				continue;
			struct folder f;
			if (!folder_read(x, &f))
				continue; /* one odd folder never fails it */
			if (mail_only && f.cls && *f.cls &&
			    strcmp(f.cls, "IPF.Note") != 0 &&
			    strncmp(f.cls, "IPF.Note.", 9) != 0) {
				folder_clear(&f);
				continue;
			}
			if (!list_add(out, &f)) {
				folder_clear(&f);
				ews_op_free(&op);
				return sb_error_set(err, SB_ERR_INTERNAL, NULL,
						    "out of memory");
			}
		}
		xmlNode *root =
		    sb_xml_child(m, SB_NS_EWS_MESSAGES, "RootFolder");
		const char *last =
		    sb_xml_attr(root, NULL, "IncludesLastItemInRange");
		const char *next =
		    sb_xml_attr(root, NULL, "IndexedPagingOffset");
		int64_t noff = 0;
		bool more = last && strcmp(last, "false") == 0 && got > 0;
		if (more && next && sb_parse_int64(next, &noff) &&
		    noff > offset)
			offset = noff;
		else
			offset += (int64_t)got;
		ews_op_free(&op);
		if (!more)
			return SB_OK;
	}
	ews_host(e)->log(ews_host(e), SB_LOG_WARN,
			 "Folder listing cut at %d folders",
			 FIND_PAGE * FIND_PAGES_MAX);
	return SB_OK;
}

enum sb_status ews_folder_ref(struct ews_op *op, const char *folder,
			      const char *def, struct sb_error *err)
{
	if (!folder || !*folder)
		folder = def ? def : "inbox";
	const char *wk = well_known_name(folder);
	if (wk) {
		write_distinguished(op, wk);
		return SB_OK;
	}
	if (looks_like_id(folder)) {
		sb_xml_w_open(&op->w, "t:FolderId");
		sb_xml_w_attr(&op->w, "Id", folder);
		sb_xml_w_close(&op->w);
		return SB_OK;
	}
	if (strlen(folder) > FOLDER_NAME_MAX)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Folder: longer than %d bytes",
				    FOLDER_NAME_MAX);
	/* a display name: find it */
	struct folder_list l = {0};
	enum sb_status st =
	    find_all(op->e, op->call, op->mailbox, false, &l, err);
	if (st != SB_OK) {
		list_free(&l);
		return st;
	}
	size_t hits = 0, at = 0;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].name && strcmp(l.v[i].name, folder) == 0) {
			hits++;
			at = i;
		}
	if (hits == 0) /* Exchange compares names without case */
		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].name &&
			    strcasecmp(l.v[i].name, folder) == 0) {
				hits++;
				at = i;
			}
	char shown[300];
	sb_text_quotable(folder, 200, shown, sizeof(shown));
	if (hits == 0) {
		list_free(&l);
		return sb_error_set(err, SB_ERR_NOT_FOUND,
				    "ErrorFolderNotFound",
				    "Folder: no folder named \"%s\" (give a "
				    "folder Id, a well-known id such as inbox, "
				    "or an existing folder's name)",
				    shown);
	}
	if (hits > 1) {
		list_free(&l);
		return sb_error_set(err, SB_ERR_CONFLICT, "ambiguous_folder",
				    "Folder: %zu folders are named \"%s\"; "
				    "give the folder's Id",
				    hits, shown);
	}
	sb_xml_w_open(&op->w, "t:FolderId");
	sb_xml_w_attr(&op->w, "Id", l.v[at].id);
	sb_xml_w_close(&op->w);
	list_free(&l);
	return SB_OK;
}

/* ---- Folder.List ----------------------------------------------------------
 */

static int folder_cmp(const void *a, const void *b)
{
	const struct folder *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	int c = strcasecmp(x->name ? x->name : "", y->name ? y->name : "");
	if (c)
		return c;
	c = strcmp(x->name ? x->name : "", y->name ? y->name : "");
	return c ? c : strcmp(x->id, y->id);
}

/* The ids of the well-known mail folders (one GetFolder of all of them;
 * a folder the mailbox lacks is skipped). */
static enum sb_status rank_well_known(struct ews *e, const struct sb_call *call,
				      const char *mailbox,
				      struct folder_list *l,
				      struct sb_error *err)
{
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	sb_xml_w_open(&op.w, "m:GetFolder");
	sb_xml_w_open(&op.w, "m:FolderShape");
	sb_xml_w_leaf(&op.w, "t:BaseShape", "IdOnly");
	sb_xml_w_close(&op.w);
	sb_xml_w_open(&op.w, "m:FolderIds");
	for (size_t i = 0; list_first[i]; i++)
		write_distinguished(&op, list_first[i]);
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	enum sb_status st = ews_op_run(&op, err);
	if (st != SB_OK) {
		ews_op_free(&op);
		return st;
	}
	size_t i = 0;
	for (xmlNode *m = ews_op_first(&op); m && list_first[i];
	     m = ews_op_next(m), i++) {
		struct sb_error merr;
		if (ews_message_status(m, &merr) != SB_OK)
			continue;
		xmlNode *x = sb_xml_first_element(folders_of(m, false));
		const char *id = sb_xml_attr(
		    sb_xml_child(x, SB_NS_EWS_TYPES, "FolderId"), NULL, "Id");
		if (!id)
			continue;
		for (size_t k = 0; k < l->n; k++)
			if (strcmp(l->v[k].id, id) == 0)
				l->v[k].rank = (int)i;
	}
	ews_op_free(&op);
	return SB_OK;
}

/* A row's sort key as a page position: "rank\0name\0id"; 0 when it
 * does not fit in n. */
static size_t key_encode(const struct folder *f, char *out, size_t n)
{
	const char *name = f->name ? f->name : "";
	int k = snprintf(out, n, "%d", f->rank);
	size_t nl = strlen(name), il = strlen(f->id);
	if (k < 0 || (size_t)k + 2 + nl + il > n)
		return 0;
	size_t at = (size_t)k + 1;
	memcpy(out + at, name, nl + 1);
	at += nl + 1;
	memcpy(out + at, f->id, il);
	return at + il;
}

/* Back from key_encode: the strings point into buf (len + 1 bytes). */
static bool key_decode(const char *data, size_t len, char *buf,
		       struct folder *key)
{
	if (!data || !len || len > SB_PAGE_TOKEN_POS_MAX)
		return false;
	memcpy(buf, data, len);
	buf[len] = '\0';
	const char *name = memchr(buf, '\0', len);
	if (!name)
		return false;
	name++;
	const char *id = memchr(name, '\0', len - (size_t)(name - buf));
	if (!id)
		return false;
	id++;
	int64_t rank;
	if (!sb_parse_int64(buf, &rank) || rank < 0 || rank > 100)
		return false;
	key->rank = (int)rank;
	key->name = (char *)name;
	key->id = (char *)id;
	return true;
}

static enum sb_status folder_list(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op probe;
	ews_op_init(&probe, e, call, 0);
	enum sb_status st = ews_op_mailbox(&probe, err);
	const char *mailbox = probe.mailbox;
	ews_op_free(&probe);
	if (st != SB_OK)
		return st;

	/* the listing is recomputed for every page: the token holds the
	 * last row's sort key (rank, name, id), the next page starts after
	 * it, so a folder made or removed meanwhile moves nothing */
	const char *bind[] = {"Folder.List", mailbox};
	struct folder key = {0};
	bool have_key = false;
	char kbuf[SB_PAGE_TOKEN_POS_MAX + 1];
	const char *tok = sb_call_page_token(call);
	if (tok) {
		struct sb_buf pos;
		sb_buf_init(&pos, SB_PAGE_TOKEN_POS_MAX);
		st = sb_page_token_read(tok, bind, 2, &pos, err);
		if (st == SB_OK && !key_decode(pos.data, pos.len, kbuf, &key))
			st = sb_error_set(err, SB_ERR_INVALID_INPUT,
					  SB_PAGE_TOKEN_CODE,
					  "PageToken: no position");
		sb_buf_free(&pos);
		if (st != SB_OK)
			return st;
		have_key = true;
	}
	struct folder_list l = {0};
	st = find_all(e, call, mailbox, true, &l, err);
	if (st == SB_OK)
		st = rank_well_known(e, call, mailbox, &l, err);
	if (st != SB_OK) {
		list_free(&l);
		return st;
	}
	qsort(l.v, l.n, sizeof(*l.v), folder_cmp);
	int64_t size = sb_call_page_size(call);
	size_t i = 0;
	while (have_key && i < l.n && folder_cmp(&l.v[i], &key) <= 0)
		i++;
	int64_t shown = 0;
	for (; i < l.n && shown < size && st == SB_OK; i++, shown++)
		st = folder_row(r, &l.v[i]);
	if (st == SB_OK && i < l.n && i > 0) {
		char pos[SB_PAGE_TOKEN_POS_MAX];
		size_t len = key_encode(&l.v[i - 1], pos, sizeof(pos));
		char *next = len ? sb_page_token_new(bind, 2, pos, len) : NULL;
		if (!next)
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "cannot make a page token");
		else
			st = sb_result_next_page(r, next);
		free(next);
	}
	list_free(&l);
	return st;
}

/* ---- Folder.Load and Folder.Create --------------------------------------- */

/* GetFolder of one folder reference (or of id when folder is NULL) and
 * its row. */
static enum sb_status load_one(struct ews *e, const struct sb_call *call,
			       const char *mailbox, const char *folder,
			       const char *id, struct sb_result *r,
			       struct sb_error *err)
{
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	sb_xml_w_open(&op.w, "m:GetFolder");
	write_shape(&op.w);
	sb_xml_w_open(&op.w, "m:FolderIds");
	enum sb_status st = SB_OK;
	if (id) {
		sb_xml_w_open(&op.w, "t:FolderId");
		sb_xml_w_attr(&op.w, "Id", id);
		sb_xml_w_close(&op.w);
	} else {
		st = ews_folder_ref(&op, folder, "inbox", err);
	}
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	if (st == SB_OK)
		st = ews_op_run(&op, err);
	xmlNode *m = st == SB_OK ? ews_op_first(&op) : NULL;
	if (st == SB_OK)
		st = ews_message_status(m, err);
	if (st == SB_OK) {
		struct folder f;
		xmlNode *x = sb_xml_first_element(folders_of(m, false));
		if (!x || !folder_read(x, &f)) {
			st = sb_error_set(err, SB_ERR_UPSTREAM,
					  "invalid_response",
					  "GetFolder answered without a "
					  "folder");
		} else {
			st = folder_row(r, &f);
			folder_clear(&f);
		}
	}
	ews_op_free(&op);
	return st;
}

static enum sb_status folder_load(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op probe;
	ews_op_init(&probe, e, call, 0);
	enum sb_status st = ews_op_mailbox(&probe, err);
	const char *mailbox = probe.mailbox;
	ews_op_free(&probe);
	if (st != SB_OK)
		return st;
	return load_one(e, call, mailbox, sb_call_str(call, "Folder", NULL),
			NULL, r, err);
}

static enum sb_status folder_create(void *state, const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	const char *name = sb_call_str(call, "Name", NULL);
	const char *parent = sb_call_str(call, "Parent", NULL);
	if (!name || !*name || strlen(name) > FOLDER_NAME_MAX)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Name: 1 to %d bytes", FOLDER_NAME_MAX);
	if (well_known_name(name))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Name: \"%s\" is a well-known folder id; "
				    "choose another name",
				    name);
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK) {
		sb_xml_w_open(&op.w, "m:CreateFolder");
		sb_xml_w_open(&op.w, "m:ParentFolderId");
		st = ews_folder_ref(&op, parent, "msgfolderroot", err);
		sb_xml_w_close(&op.w);
		sb_xml_w_open(&op.w, "m:Folders");
		sb_xml_w_open(&op.w, "t:Folder");
		sb_xml_w_leaf(&op.w, "t:FolderClass", "IPF.Note");
		sb_xml_w_leaf(&op.w, "t:DisplayName", name);
		sb_xml_w_close(&op.w);
		sb_xml_w_close(&op.w);
		sb_xml_w_close(&op.w);
	}
	if (st == SB_OK)
		st = ews_op_run(&op, err);
	xmlNode *m = st == SB_OK ? ews_op_first(&op) : NULL;
	if (st == SB_OK)
		st = ews_message_status(m, err);
	char *id = NULL;
	if (st == SB_OK) {
		xmlNode *x = sb_xml_first_element(folders_of(m, false));
		const char *v = sb_xml_attr(
		    sb_xml_child(x, SB_NS_EWS_TYPES, "FolderId"), NULL, "Id");
		if (!v || !*v || !(id = strdup(v)))
			st = sb_error_set(err, SB_ERR_UPSTREAM,
					  "invalid_response",
					  "CreateFolder answered without the "
					  "new folder's Id");
	}
	const char *mailbox = op.mailbox;
	ews_op_free(&op);
	if (st == SB_OK)
		st = load_one(e, call, mailbox, NULL, id, r, err);
	free(id);
	return st;
}

/* ---- the table --------------------------------------------------------------
 */

static const struct sb_param folder_list_in[] = {SB_PARAM_MAILBOX,
						 SB_PARAM_END};
static const struct sb_param folder_load_in[] = {
    {.name = "Folder",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .max_size = 1024,
     .doc = "The folder: its Id, a well-known id (inbox, drafts, "
	    "sentitems, deleteditems, outbox, junkemail, msgfolderroot, "
	    "...) or its name (an ambiguous name answers 409)."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const struct sb_param folder_create_in[] = {
    {.name = "Name",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .max_size = FOLDER_NAME_MAX,
     .doc = "Name of the new folder."},
    {.name = "Parent",
     .type = SB_TYPE_TEXT,
     .max_size = 1024,
     .doc = "Folder to create it in (Id, well-known id or name); default: "
	    "the top of the mailbox (msgfolderroot)."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const char *const folder_ret[] = {"Id",	       "Name",	      "Parent",
					 "TotalCount", "UnreadCount", NULL};

const struct sb_method ews_folder_methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = folder_list,
     .doc = "List the mail folders of the mailbox with their item and "
	    "unread counts: the well-known ones first (inbox, drafts, "
	    "sentitems, deleteditems, outbox, junkemail), then the others "
	    "by name.",
     .inputs = folder_list_in,
     .returns = folder_ret},
    {.name = "Load",
     .kind = SB_KIND_READ,
     .handler = folder_load,
     .doc = "Load one folder with its item and unread counts.",
     .inputs = folder_load_in,
     .returns = folder_ret},
    {.name = "Create",
     .kind = SB_KIND_CREATE,
     .handler = folder_create,
     .doc = "Create a mail folder, at the top of the mailbox unless Parent "
	    "says where; a name taken there answers 409.",
     .inputs = folder_create_in,
     .returns = folder_ret},
    SB_METHOD_END,
};
